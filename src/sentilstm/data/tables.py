"""Reading labelled tables (CSV, TSV, JSONL, Parquet, optionally gzipped): formats, column inference, chunks.

table = read_table("reviews.csv", text_column="text", label_column="label")   # labels: see data/labels.py
"""

from __future__ import annotations

import codecs
import csv
import gzip
import html
import io
import json
import logging
import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Literal

import numpy as np
import pandas as pd

from sentilstm.data import fasttext
from sentilstm.data.labels import Label, canonical_label
from sentilstm.errors import DataError
from sentilstm.system.files import as_path
from sentilstm.text.normalize import clean_text

log = logging.getLogger(__name__)

TableFormat = Literal["csv", "tsv", "jsonl", "parquet", "fasttext"]
FORMATS: dict[str, TableFormat] = {
    ".ft": "fasttext",  # fastText's own: `__label__pos the text` per line (labels optional where none are needed)
    ".txt": "fasttext",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
TEXT_NAMES = ("text", "review", "tweet", "sentence", "content", "comment", "body", "message", "document")
LABEL_NAMES = ("label", "labels", "sentiment", "polarity", "class", "target", "y")

CELL_BUDGET = 1_000_000  # rows x columns of one chunk: a table 10^6 columns wide is read a row or two at a time
MAX_INFER_COLUMNS = 100  # wider tables must name their text/label columns (or use the usual names)

csv.field_size_limit(2**31 - 1)  # a 1 MB review must not stop the parser (the default limit is 128 KB)


class _ReplacementCounter:
    """A codec error handler that decodes bad bytes as U+FFFD and counts how many it met."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, error: UnicodeError) -> tuple[str, int]:
        if not isinstance(error, (UnicodeDecodeError, UnicodeEncodeError, UnicodeTranslateError)):
            raise error  # no position to resume at (codecs passes one of those three)
        self.count += error.end - error.start
        return "\ufffd", error.end


_replacements = _ReplacementCounter()
codecs.register_error("sentilstm-replace", _replacements)


@dataclass
class Table:
    """Texts with optional labels, read from a file; `dropped` counts unusable rows."""

    texts: list[str]
    labels: list[Label] | None
    text_column: str
    label_column: str | None
    dropped: int = 0
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def to_frame(self) -> pd.DataFrame:
        """The table as a pandas DataFrame: its text column, and its label column when it has labels."""
        labelled = self.labels is not None and self.label_column is not None
        return pd.DataFrame({self.text_column: self.texts} | ({self.label_column: self.labels} if labelled else {}))

    def _repr_html_(self) -> str:  # a notebook shows the first rows
        source = html.escape(self.source or "a table")
        return f"<p>{len(self):,} rows from {source}</p>" + str(self.to_frame().head(10)._repr_html_())


def table_format(path: PurePath) -> tuple[TableFormat, bool]:
    """(format, gzipped) from a file name such as `reviews.tsv.gz`."""
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    ext = suffixes[-2] if gzipped and len(suffixes) > 1 else (suffixes[-1] if suffixes and not gzipped else "")
    if ext not in FORMATS:
        raise DataError(
            f"cannot tell the format of {str(path)!r} from its extension {''.join(path.suffixes) or '(none)'!r}; "
            f"use one of {sorted(FORMATS)} (optionally followed by .gz)"
        )
    return FORMATS[ext], gzipped


def _check_file(path: str | Path) -> Path:
    path = as_path(path, "a data file", DataError)
    if not path.exists():
        raise DataError(f"data file {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder; give a CSV, TSV, JSONL or Parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"data file {str(path)!r} is empty; it needs a header row and at least one row")
    return path


def check_encoding(encoding: str) -> None:
    """Raise DataError unless `encoding` names a text codec Python knows ('utf-8', 'latin-1', 'cp1252'...)."""
    try:
        known = isinstance(encoding, str) and codecs.lookup(encoding)._is_text_encoding
    except (LookupError, ValueError):  # UnicodeEncodeError for a name with undecodable bytes, ValueError for a NUL
        known = False
    if not known:
        raise DataError(
            f"encoding {encoding!r} is not a text encoding Python knows; use one such as 'utf-8', "
            "'latin-1', 'cp1252' or 'utf-16'"
        )


def table_columns(path: str | Path, *, encoding: str = "utf-8", quoting: bool | None = None) -> list[str]:
    """The column names of a table without reading its rows: the header row of a CSV/TSV, the keys of a JSONL
    file's first object, the fields of a Parquet schema."""
    path = _check_file(path)
    check_encoding(encoding)
    fmt, gzipped = table_format(path)
    try:
        if fmt == "parquet":
            return _parquet_file(path, gzipped).schema_arrow.names
        if fmt == "fasttext":
            return list(fasttext.COLUMNS)
        with _text_stream(path, gzipped, encoding) as handle:
            if fmt == "jsonl":
                number, line = next(((n, line) for n, line in enumerate(handle, start=1) if line.strip()), (0, ""))
                row = _json_line(line, path, number) if line else {}
                return [str(key) for key in row] if isinstance(row, dict) else []
            if fmt == "tsv" and not (quoting or False):
                return handle.readline().rstrip("\r\n").split("\t")
            return next(csv.reader(handle, delimiter="," if fmt == "csv" else "\t"), [])
    except UnicodeError as exc:  # a codec that fails before any error handler runs (utf-16 without its BOM)
        raise _decode_error(path, encoding, exc) from None
    except (csv.Error, json.JSONDecodeError, OSError, EOFError) as exc:
        raise DataError(f"could not read the header of {str(path)!r}: {_first_line(exc)}") from exc


def _decode_error(path: Path, encoding: str, exc: UnicodeError) -> DataError:
    return DataError(
        f"{str(path)!r} cannot be read as {encoding} ({_first_line(exc)}); pass the file's real "
        "encoding, e.g. utf-8, latin-1 or cp1252"
    )


def _text_stream(path: Path, gzipped: bool, encoding: str) -> io.TextIOWrapper:
    raw = gzip.open(path, "rb") if gzipped else open(path, "rb")
    return io.TextIOWrapper(raw, encoding=encoding, errors="sentilstm-replace", newline="")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def iter_frames(
    path: str | Path,
    *,
    chunk_rows: int | None = None,
    encoding: str = "utf-8",
    quoting: bool | None = None,
    columns: Sequence[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield the file as DataFrames of at most `chunk_rows` rows (all of it at once when None).

    Bad bytes are decoded as U+FFFD and counted in a warning; TSV is read without quote handling
    (AfriSenti and GLUE TSVs hold bare quotes) unless `quoting=True`. `columns`: read only these (every other
    column is skipped unparsed); chunks of a wide table hold fewer rows, at most CELL_BUDGET cells.
    """
    path = _check_file(path)
    check_encoding(encoding)
    fmt, gzipped = table_format(path)
    if chunk_rows is not None:
        width = len(columns) if columns is not None else len(table_columns(path, encoding=encoding, quoting=quoting))
        chunk_rows = max(1, min(chunk_rows, CELL_BUDGET // max(width, 1)))
    start = _replacements.count
    try:
        if fmt == "parquet":
            yield from _iter_parquet(path, gzipped, chunk_rows, columns)
            return
        with _text_stream(path, gzipped, encoding) as handle:
            if fmt == "jsonl":
                yield from _iter_jsonl(handle, chunk_rows, path, columns)
            elif fmt == "fasttext":
                yield from fasttext.iter_frames(handle, chunk_rows, path, columns)
            else:
                use_quotes = fmt == "csv" if quoting is None else quoting
                reader = pd.read_csv(
                    handle,
                    sep="," if fmt == "csv" else "\t",
                    quoting=csv.QUOTE_MINIMAL if use_quotes else csv.QUOTE_NONE,
                    chunksize=chunk_rows,
                    usecols=list(columns) if columns is not None else None,
                    dtype=str,
                    keep_default_na=False,
                    na_values=[""],
                    skip_blank_lines=False,  # a one-column file's blank text is a row, not a blank line
                    engine="c" if use_quotes else "python",
                    on_bad_lines="warn" if use_quotes else _bad_line_skipper(path),
                )
                yield from ([reader] if chunk_rows is None else reader)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, json.JSONDecodeError, OSError, EOFError) as exc:
        raise DataError(
            f"could not read {str(path)!r} as {fmt}{' (gzip)' if gzipped else ''}: {_first_line(exc)}"
        ) from exc
    except UnicodeError as exc:
        raise _decode_error(path, encoding, exc) from None
    except ValueError as exc:  # pandas: the chosen columns are not all in the file
        if columns is None or "usecols" not in str(exc).lower():
            raise
        raise DataError(
            f"{str(path)!r} lacks some of the columns {list(columns)} (the first row names "
            "them); check the column names"
        ) from exc
    finally:
        bad = _replacements.count - start
        if bad:
            log.warning(
                "%s: %d byte(s) were not valid %s and were replaced by U+FFFD; pass the file's real encoding "
                "(e.g. encoding='latin-1') if that is wrong",
                path,
                bad,
                encoding,
            )


def _bad_line_skipper(path: Path) -> Any:
    """on_bad_lines for the python engine: skip the row and say so."""

    def skip(line: list[str]) -> None:
        log.warning("%s: skipped a malformed row with %d fields: %.80r", path, len(line), "\t".join(line))
        return None

    return skip


def _parquet_file(path: Path, gzipped: bool) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(gzip.open(path, "rb") if gzipped else path)
    except pa.ArrowException as exc:
        raise DataError(f"could not read {str(path)!r} as Parquet: {exc}") from exc


def _iter_parquet(
    path: Path, gzipped: bool, chunk_rows: int | None, columns: Sequence[str] | None
) -> Iterator[pd.DataFrame]:
    import pyarrow as pa

    parquet = _parquet_file(path, gzipped)
    try:
        if columns is not None and (missing := [c for c in columns if c not in parquet.schema_arrow.names]):
            raise DataError(
                f"{str(path)!r} has no column {missing[0]!r}; it has {column_list(parquet.schema_arrow.names)}"
            )
        if chunk_rows is None:  # all of it: one frame, however many row groups
            yield parquet.read(columns=columns).to_pandas()
            return
        batches = parquet.iter_batches(batch_size=chunk_rows, columns=columns)
        first = next(batches, None)
        yield first.to_pandas() if first is not None else parquet.schema_arrow.empty_table().to_pandas()
        for batch in batches:
            yield batch.to_pandas()
    except pa.ArrowException as exc:
        raise DataError(f"could not read {str(path)!r} as Parquet: {exc}") from exc


def _json_line(line: str, path: Path, number: int) -> Any:
    """One JSONL line parsed, or a DataError naming the line: bad JSON, deep nesting, a number of 4,300+ digits."""
    try:
        return json.loads(line)
    except RecursionError:  # json's C parser recurses once per [ or {
        raise DataError(f"{str(path)!r} line {number} is nested too deeply to read; fix or remove that line") from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else _first_line(exc)[:80]
        raise DataError(f"{str(path)!r} line {number} is not valid JSON ({reason}); fix or remove that line") from None


def _iter_jsonl(
    handle: io.TextIOBase, chunk_rows: int | None, path: Path, columns: Sequence[str] | None
) -> Iterator[pd.DataFrame]:
    rows: list[dict[str, Any]] = []
    cells = 0
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        row = _json_line(line, path, number)
        if not isinstance(row, dict):
            raise DataError(f'{str(path)!r} line {number} is not a JSON object; each line must be {{"text": ...}}')
        if columns is not None:
            row = {key: row[key] for key in columns if key in row}
        if "\\u" in line:  # an escape may spell a lone surrogate or NUL, which no UTF-8 file or tokenizer takes
            row = {key: clean_text(value) if isinstance(value, str) else value for key, value in row.items()}
        rows.append(row)
        cells += len(row)
        if chunk_rows and (len(rows) >= chunk_rows or cells >= CELL_BUDGET):
            yield pd.DataFrame(rows)
            rows, cells = [], 0
    if rows or not chunk_rows:
        yield pd.DataFrame(rows, columns=list(columns) if columns is not None and not rows else None)


def column_list(columns: Sequence[Any], limit: int = 20) -> str:
    """Columns for an error message: all of them, or the first `limit` and how many there are."""
    shown = [str(c) for c in columns[:limit]]
    return str(shown) if len(columns) <= limit else f"{len(columns):,} columns {str(shown)[:-1]}, ...]"


def _pick(columns: Sequence[str], wanted: str | None, names: Sequence[str], role: str) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise DataError(f"{role} column {wanted!r} not found; the file has columns {column_list(columns)}")
        return wanted
    lowered = {str(c).lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def infer_columns(
    frame: pd.DataFrame, text_column: str | None, label_column: str | None, need_label: bool, python: bool = False
) -> tuple[str, str | None]:
    """Choose the text and label columns by name, or fail listing the columns (and the command line's options to
    name them, or with `python` the keyword arguments)."""
    text_fix, label_fix = ("text_column=", "label_column=") if python else ("--text-column", "--label-column")
    columns = [str(c) for c in frame.columns]
    text = _pick(columns, text_column, TEXT_NAMES, "text")
    label = _pick(columns, label_column, LABEL_NAMES, "label")
    if text is None:
        rest = [c for c in columns if c != label and pd.api.types.is_string_dtype(frame[c])]
        if len(rest) != 1:
            raise DataError(
                f"cannot tell which column holds the text among {column_list(columns)}; name it with {text_fix}"
            )
        text = rest[0]
    if label is None and need_label:
        rest = [c for c in columns if c != text]
        if len(rest) != 1:
            raise DataError(
                f"cannot tell which column holds the label among {column_list(columns)}; name it with {label_fix}"
            )
        label = rest[0]
    if label == text:
        raise DataError(f"text and label columns are both {text!r}; name them with {text_fix}/{label_fix}")
    return text, label


def needed_columns(
    columns: Sequence[str],
    text_column: str | None,
    label_column: str | None,
    need_label: bool,
    source: str,
) -> list[str] | None:
    """The columns to read, chosen from the header alone (names given or usual ones), so a table's other columns,
    however many, are never parsed; None when choosing needs the values too (a narrow table: read it all)."""
    text = _pick(columns, text_column, TEXT_NAMES, "text")
    label = _pick(columns, label_column, LABEL_NAMES, "label")
    if text is not None and label is None and need_label and len(columns) == 2:
        label = next(c for c in columns if c != text)
    if text is not None and (label is not None or not need_label):
        return [c for c in (text, label) if c is not None]
    if len(columns) <= MAX_INFER_COLUMNS:
        return None
    role, option = ("text", "--text-column") if text is None else ("label", "--label-column")
    raise DataError(
        f"{source}: cannot tell which column holds the {role} among {column_list(columns)}; name it with {option}"
    )


def _value_kind(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, numbers.Number):
        return "number"
    return "nested value" if isinstance(value, (dict, list, tuple, np.ndarray)) else type(value).__name__


def check_column_values(values: Sequence[Any], column: str, source: str, role: str, first_row: int = 0) -> None:
    """Raise DataError unless a column's present values are of one plain kind: every text a string; labels all
    strings, all numbers or all true/false. A mixed or nested column (JSONL, Parquet) is named with the rows at
    fault (counted from `first_row` + 1), rather than silently turned into strings."""
    first: dict[str, int] = {}  # kind -> first row holding it
    for row, value in enumerate(values):
        if not is_missing(value):
            first.setdefault(_value_kind(value), row)
    allowed = ("string",) if role == "text" else ("string", "number", "boolean")
    for kind, row in first.items():
        if kind not in allowed:
            raise DataError(
                f"{source}: {role} column {column!r} holds a {kind} at row {first_row + row + 1} "
                f"({str(values[row])[:60]}); {role}s must be {' or '.join(allowed)}s: fix that column"
            )
    if len(first) > 1:
        (kind, row), (other, second) = sorted(first.items(), key=lambda item: item[1])[:2]
        raise DataError(
            f"{source}: {role} column {column!r} mixes {kind}s (row {first_row + row + 1}: {values[row]!r}) "
            f"and {other}s (row {first_row + second + 1}: {values[second]!r}); give every {role} the same "
            "kind: fix that column"
        )


def is_missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def frame_to_table(
    frame: pd.DataFrame,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    need_label: bool = True,
    source: str = "<frame>",
    python: bool = False,
) -> Table:
    """Pick columns, drop rows with empty text or missing label (counted in a warning), canonicalise labels.
    `python`: errors name the keyword arguments (text_column=) rather than the command line's options."""
    text_name, label_name = infer_columns(frame, text_column, label_column, need_label, python)
    texts = frame[text_name].tolist()
    check_column_values(texts, text_name, source, "text")
    labels: list[Any] | None = None
    if label_name is not None:
        labels = frame[label_name].tolist()
        check_column_values(labels, label_name, source, "label")
    keep = [not is_missing(t) for t in texts]
    empty_texts = keep.count(False)
    missing_labels = 0
    if labels is not None:
        for i, value in enumerate(labels):
            if keep[i] and is_missing(value):
                keep[i] = False
                missing_labels += 1
    if empty_texts or missing_labels:
        log.warning(
            "%s: dropped %d of %d rows (%d with empty text in %r, %d with a missing label in %r)",
            source,
            empty_texts + missing_labels,
            len(texts),
            empty_texts,
            text_name,
            missing_labels,
            label_name,
        )
    kept_texts = [t for t, k in zip(texts, keep) if k]
    if not kept_texts:
        raise DataError(f"{source}: no usable rows (every row had an empty text or a missing label)")
    kept_labels = [canonical_label(v) for v, k in zip(labels, keep) if k] if labels is not None else None
    if kept_labels is not None and len({type(v) for v in kept_labels}) > 1:
        kept_labels = [str(v) for v in kept_labels]  # strings "pos" and "1" (1 once canonical): compare as strings
    return Table(kept_texts, kept_labels, text_name, label_name, empty_texts + missing_labels, source)


def read_table(
    path: str | Path,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    need_label: bool = True,
    encoding: str = "utf-8",
    quoting: bool | None = None,
) -> Table:
    """Read a labelled table; the text and label columns are inferred when not given and unambiguous.

    Example: `read_table("ig_train.tsv", text_column="tweet")`.
    """
    columns = needed_columns(
        table_columns(path, encoding=encoding, quoting=quoting), text_column, label_column, need_label, str(path)
    )
    frame = next(iter_frames(path, encoding=encoding, quoting=quoting, columns=columns), None)
    if frame is None or frame.empty:
        raise DataError(f"data file {str(path)!r} has a header but no rows")
    return frame_to_table(
        frame, text_column=text_column, label_column=label_column, need_label=need_label, source=str(path)
    )
