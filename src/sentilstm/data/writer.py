"""Writing tables chunk by chunk (CSV, TSV, JSONL, Parquet, optionally gzipped) under a temporary name, renamed
into place only when complete: what `predict --output` and the web page's scored downloads write."""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path
from typing import Any

import pandas as pd

from sentilstm.data.tables import table_format
from sentilstm.errors import DataError, OutputError
from sentilstm.system.files import as_path, temporary_beside, writing


class TableWriter:
    """Writes DataFrame chunks to CSV/TSV/JSONL/Parquet (optionally .gz) under a temporary name; `close`
    renames it into place, `abort` removes it, so a failed run never leaves a half-written file. A write the
    file system refuses (full disk, read-only...) raises OutputError naming the path."""

    def __init__(self, path: str | Path) -> None:
        self.path = as_path(path, "the table to write", OutputError)
        self.format, self.gzipped = table_format(self.path)
        if not self.path.parent.exists():
            raise DataError(f"cannot write {str(self.path)!r}: folder {str(self.path.parent)!r} does not exist")
        if self.path.is_dir():
            raise DataError(f"cannot write {str(self.path)!r}: it is a folder; give a file name")
        handle, self._temporary = temporary_beside(self.path)
        self._raw: Any = os.fdopen(handle, "wb")
        self._stream: Any = gzip.GzipFile(fileobj=self._raw, mode="wb") if self.gzipped else self._raw
        self._parquet: Any = None
        self._rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        with writing(self.path):
            self._write(frame)
        self._rows += len(frame)

    def _write(self, frame: pd.DataFrame) -> None:
        if self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = self._parquet.schema if self._parquet is not None else None
            try:
                table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise DataError(
                    f"a column changes type between chunks ({str(exc).splitlines()[0][:120]}); Parquet needs one type "
                    "per column: write CSV or JSONL, or make that column's values consistent"
                ) from None
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._stream, table.schema)
            self._parquet.write_table(table)
        elif self.format == "jsonl":
            text = frame.to_json(orient="records", lines=True, force_ascii=False)
            self._stream.write(text.encode("utf-8") + (b"" if text.endswith("\n") else b"\n"))
        elif self.format == "csv":
            # the csv module quotes a cell holding "\n" but not one holding a lone "\r" (before Python 3.13), which
            # every reader takes for a line break: a chunk with such a cell quotes all its text cells
            lone_cr = any(
                frame[c].astype(str).str.contains("\r", regex=False).any()
                for c in frame.columns
                if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])
            )
            quoting = csv.QUOTE_NONNUMERIC if lone_cr else csv.QUOTE_MINIMAL
            self._stream.write(frame.to_csv(index=False, header=self._rows == 0, quoting=quoting).encode("utf-8"))
        else:  # TSV is read without quoting, so cells must not hold tabs or line breaks: they become spaces
            cells = frame.astype(object).where(frame.notna(), "").astype(str)
            cells = cells.replace(r"[\t\r\n]", " ", regex=True)
            lines = ["\t".join(map(str, frame.columns))] if self._rows == 0 else []
            lines += ["\t".join(row) for row in cells.itertuples(index=False, name=None)]
            self._stream.write(("\n".join(lines) + "\n").encode("utf-8"))

    def close(self) -> Path:
        with writing(self.path):
            if self._parquet is not None:
                self._parquet.close()
            if self._stream is not self._raw:
                self._stream.close()
            self._raw.close()
            os.replace(self._temporary, self.path)
        return self.path

    def abort(self) -> None:
        try:
            for closable in (self._parquet, self._stream, self._raw):
                try:
                    if closable is not None:
                        closable.close()
                except Exception:  # noqa: BLE001 - already failing; the temporary file is removed below either way
                    pass
        finally:
            self._temporary.unlink(missing_ok=True)
