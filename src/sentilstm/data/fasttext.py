"""fastText's file format (`.ft`, `.txt`): one text per line after its label as `__label__NAME`; a line without a
label is a text without one (what fastText's `predict` reads). Read as a table with columns "text" and "label".

    __label__positive I loved this film
    __label__negative dull and far too long
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sentilstm.errors import DataError

LABEL = "__label__"
COLUMNS = ["text", "label"]


def iter_frames(
    handle: io.TextIOBase, chunk_rows: int | None, path: Path, columns: Sequence[str] | None
) -> Iterator[pd.DataFrame]:
    """fastText's format: one text per line, after its label as `__label__NAME` (a line without one has no label);
    columns "text" and "label". A line with two labels is an error: sentilstm learns one label per text."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(handle, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        label, text = None, line
        if line.startswith(LABEL):
            first, _, text = line.partition(" ")
            label = first[len(LABEL) :]
            if text.lstrip().startswith(LABEL):
                raise DataError(
                    f"{str(path)!r} line {number} has more than one __label__; sentilstm learns one label per text, "
                    "so keep one per line"
                )
        rows.append({"text": text.strip(), "label": label or None})
        if chunk_rows and len(rows) >= chunk_rows:
            yield pd.DataFrame(rows, columns=list(columns or COLUMNS))
            rows = []
    if rows or not chunk_rows:
        yield pd.DataFrame(rows, columns=COLUMNS)[list(columns or COLUMNS)]


__all__ = ["COLUMNS", "LABEL", "iter_frames"]
