"""Texts read from a stream one per line, in batches, in constant memory (`sentilstm predict MODEL -`).

    for texts in line_batches(sys.stdin.buffer, max_batch=256):   # each a list of at most 256 decoded lines
        ...

A batch ends when it is full or when no more input is ready right now, so that a pipeline fed slowly (`tail -f`)
gets each line's answer as soon as it arrives, and one fed fast gets full batches. Every line gives one text (an
empty line an empty text), so outputs line up with inputs; a line longer than `max_line_bytes` is a DataError
rather than unbounded memory.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterator
from typing import BinaryIO

from sentilstm.errors import DataError
from sentilstm.text.normalize import clean_text

READ_BYTES = 1 << 16
MAX_LINE_BYTES = 10 << 20  # 10 MB: longer than any text worth classifying, and a bound on memory


def line_batches(
    stream: BinaryIO, *, max_batch: int = 256, encoding: str = "utf-8", max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[list[str]]:
    """Lists of at most `max_batch` lines of `stream` (newline and a trailing CR removed, bad bytes as U+FFFD)."""
    fd = stream.fileno()
    pending, number = b"", 0
    lines: list[bytes] = []
    while True:
        if lines and (len(lines) >= max_batch or not _ready(fd)):
            yield [_decode(line, encoding) for line in lines[:max_batch]]
            lines = lines[max_batch:]
            continue
        chunk = os.read(fd, READ_BYTES)
        if not chunk:
            break
        *complete, pending = (pending + chunk).split(b"\n")
        number += len(complete)
        lines.extend(complete)
        if len(pending) > max_line_bytes:
            raise DataError(
                f"line {number + 1} of the input is longer than {max_line_bytes:,} bytes; split it, or score the "
                "file with --input/--output"
            )
    if pending:
        lines.append(pending)
    for start in range(0, len(lines), max_batch):
        yield [_decode(line, encoding) for line in lines[start : start + max_batch]]


def _ready(fd: int) -> bool:
    """Whether `fd` has input (or its end) to read without waiting."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):  # not selectable (a regular file on some systems): reading will not wait long
        return True


def _decode(line: bytes, encoding: str) -> str:
    return clean_text(line.removesuffix(b"\r").decode(encoding, errors="replace"))


__all__ = ["MAX_LINE_BYTES", "line_batches"]
