"""Streaming batch scoring of a file: read in chunks, predict, write label + probabilities per row.

summary = score_file(clf, "big.csv", "scored.csv")  # memory stays flat whatever the file size
score_stream(clf, line_batches(sys.stdin.buffer), sys.stdout)   # `sentilstm predict MODEL -`: JSON lines or CSV
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import pandas as pd

from sentilstm.data.tables import check_column_values, infer_columns, is_missing, iter_frames, table_columns
from sentilstm.data.writer import TableWriter
from sentilstm.errors import DataError
from sentilstm.estimators.classifier import SentimentClassifier
from sentilstm.system.files import check_outputs

log = logging.getLogger(__name__)
MAX_COPIED_COLUMNS = 10_000  # wider tables would make every chunk a few rows of millions of cells


@dataclass
class ScoreSummary:
    rows: int
    empty_texts: int
    seconds: float
    output: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probability_column(label: Any) -> str:
    return f"prob_{label}"


def score_frame(clf: SentimentClassifier, frame: pd.DataFrame, text_column: str) -> tuple[pd.DataFrame, int]:
    """The frame plus `predicted_label` and one `prob_<label>` column per class; empty texts score as ''."""
    raw = frame[text_column].tolist()
    empty = sum(is_missing(t) for t in raw)
    texts = ["" if is_missing(t) else str(t) for t in raw]
    probabilities = clf.predict_proba(texts)
    out = frame.copy()
    out["predicted_label"] = clf.label_map_.decode(probabilities.argmax(axis=1))
    for i, label in enumerate(clf.label_map_.labels):
        out[probability_column(label)] = probabilities[:, i].round(6)
    return out, empty


def score_file(
    clf: SentimentClassifier,
    input_path: str | Path,
    output_path: str | Path,
    *,
    text_column: str | None = None,
    chunk_rows: int = 10_000,
    encoding: str = "utf-8",
    on_chunk: Callable[[int], None] | None = None,
) -> ScoreSummary:
    """Score `input_path` chunk by chunk into `output_path` (format from its extension), atomically.

    Every input column is copied to the output, so a table may have at most MAX_COPIED_COLUMNS of them.
    """
    check_outputs({"output": output_path}, {"input": input_path})
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise DataError(f"chunk_rows must be a whole number >= 1, got {chunk_rows!r}")
    width = len(table_columns(input_path, encoding=encoding))
    if width > MAX_COPIED_COLUMNS:
        raise DataError(
            f"{str(input_path)!r} has {width:,} columns; scoring copies every column to the output and "
            f"takes at most {MAX_COPIED_COLUMNS:,}: keep the columns you need (e.g. the text and an id) "
            "in a new file and score that"
        )
    started, rows, empty = time.perf_counter(), 0, 0
    writer: TableWriter | None = None
    try:
        writer = TableWriter(output_path)
        column: str | None = None
        columns: list[str] = []
        for frame in iter_frames(input_path, chunk_rows=chunk_rows, encoding=encoding):
            if column is None:
                column = infer_columns(frame, text_column, None, need_label=False)[0]
                columns = list(frame.columns)
            if frame.empty:
                continue
            if list(frame.columns) != columns:  # JSONL rows may order or omit keys differently
                extra = [c for c in frame.columns if c not in columns]
                if extra:
                    log.warning("columns %s appear only after the first chunk and are not written", extra)
                frame = frame.reindex(columns=columns)
            check_column_values(frame[column].tolist(), column, str(input_path), "text", first_row=rows)
            scored, chunk_empty = score_frame(clf, frame, column)
            writer.write(scored)
            rows, empty = rows + len(frame), empty + chunk_empty
            if on_chunk:
                on_chunk(len(frame))
        if rows == 0:
            raise DataError(f"{str(input_path)!r} has no rows to score")
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if empty:
        log.warning("%d row(s) had an empty text; they were scored as an empty string", empty)
    return ScoreSummary(rows, empty, time.perf_counter() - started, str(output_path))


def score_stream(clf: Any, batches: Iterable[list[str]], sink: TextIO, fmt: Literal["jsonl", "csv"] = "jsonl") -> int:
    """Score each batch of texts as it comes and write it to `sink` at once (flushed), one row per text: JSON lines
    `{"text", "label", "probabilities"}`, or CSV `text,predicted_label,prob_<label>...` under one header row. Memory
    holds one batch; returns the number of texts scored."""
    if fmt not in ("jsonl", "csv"):
        raise DataError(f"a stream is written as jsonl or csv, got {fmt!r}")
    labels = clf.label_map_.labels
    writer = csv.writer(sink, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(["text", "predicted_label", *map(probability_column, labels)])
    count = 0
    for texts in batches:
        probabilities = clf.predict_proba(texts)
        for text, label, row in zip(texts, clf.labels_from(probabilities).tolist(), probabilities.round(6).tolist()):
            if fmt == "csv":
                writer.writerow([text, label, *row])
            else:
                record = {"text": text, "label": label, "probabilities": dict(zip(map(str, labels), row))}
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        sink.flush()
        count += len(texts)
    return count
