"""Inputs and outputs of the cluster engines: a file, a folder, a glob or a list of them -> concrete files and one
format, on the local disk or any filesystem pyarrow knows (s3://, gs://, hdfs://, abfs://...).

    files, fmt = resolve_inputs("s3://bucket/tweets/*.parquet")  # ['s3://bucket/tweets/a.parquet', ...], 'parquet'
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from sentilstm.data.tables import table_format
from sentilstm.errors import DataError

InputFormat = Literal["csv", "tsv", "jsonl", "parquet"]
OutputFormat = Literal["csv", "jsonl", "parquet"]
GLOB_CHARACTERS = "*?["


def is_remote(path: str) -> bool:
    """True for a URI with a scheme other than file:// (s3://bucket/key, gs://...)."""
    return "://" in path and not path.startswith("file://")


def local(path: str) -> str:
    return path[len("file://") :] if path.startswith("file://") else path


def filesystem(path: str) -> tuple[Any, str]:
    """(pyarrow FileSystem, path inside it) for a local path or a URI; a URI pyarrow cannot open is a DataError."""
    import pyarrow.fs as pafs

    if not is_remote(path):
        return pafs.LocalFileSystem(), os.path.abspath(local(path))
    try:
        return pafs.FileSystem.from_uri(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot open {path!r}: {_first_line(exc)}; check the URI and the credentials") from None


def resolve_inputs(
    paths: str | Path | Sequence[str | Path], input_format: InputFormat | None = None
) -> tuple[list[str], InputFormat]:
    """Concrete files for `paths` (each a file, a folder read recursively, or a glob) and their one format.

    Files whose name starts with "." or "_" inside a folder (Spark's _SUCCESS, .crc checksums) are skipped.
    The format comes from the extensions (.csv, .tsv, .jsonl, .parquet, optionally .gz) unless `input_format` is given.
    """
    items = [str(paths)] if isinstance(paths, (str, Path)) else [str(p) for p in paths]
    if not items:
        raise DataError("no input given; pass a file, a folder, a glob such as 'tweets/*.csv', or a list of them")
    files: list[str] = []
    for item in items:
        found = _expand(item)
        if not found:
            what = "no files match" if any(c in item for c in GLOB_CHARACTERS) else "no such file or folder:"
            raise DataError(f"{what} {item!r}; check the path (quote a glob so the shell leaves it alone)")
        files += found
    if input_format is not None:
        if input_format not in ("csv", "tsv", "jsonl", "parquet"):
            raise DataError(f"input format must be one of ['csv', 'jsonl', 'parquet', 'tsv'], got {input_format!r}")
        return files, input_format
    formats = {table_format(PurePosixPath(f))[0] for f in files}
    if len(formats) > 1:
        raise DataError(
            f"the inputs mix formats {sorted(formats)}; score one format at a time or name it with --input-format"
        )
    fmt = formats.pop()
    if fmt == "fasttext":
        raise DataError("Ray reads csv, tsv, jsonl or parquet files, not fastText's; score them with --engine local")
    return files, fmt


def output_format(output: str, given: str | None) -> OutputFormat:
    """The format to write: `given`, else the output's extension (scored.csv/ -> csv), else parquet."""
    if given is None:
        suffix = PurePosixPath(output.rstrip("/")).suffix.lower()
        if not suffix:
            return "parquet"
        given = table_format(PurePosixPath(output.rstrip("/")))[0]
    if given not in ("csv", "jsonl", "parquet"):
        raise DataError(
            f"the cluster engines write csv, jsonl or parquet files, got {given!r}; "
            "name the output scored.csv, scored.jsonl or scored.parquet (or pass --output-format)"
        )
    return given  # type: ignore[return-value]  # one of OutputFormat: checked just above


def check_new_output(output: str) -> None:
    """The output folder must not exist yet (a rerun never mixes its files with an earlier run's)."""
    fs, inner = filesystem(output)
    try:
        info = fs.get_file_info(inner)
    except OSError as exc:
        raise DataError(f"cannot check --output {output!r}: {_first_line(exc)}") from None
    if info.type.name != "NotFound":
        raise DataError(f"--output {output!r} already exists; remove it or choose a new folder name")
    if not is_remote(output) and not Path(inner).parent.is_dir():
        raise DataError(f"cannot write {output!r}: folder {str(Path(inner).parent)!r} does not exist")


def _expand(item: str) -> list[str]:
    wildcard = any(c in item for c in GLOB_CHARACTERS)
    if not is_remote(item):
        path = local(item)
        if wildcard:
            return sorted(os.path.abspath(p) for p in glob.glob(path, recursive=True) if os.path.isfile(p))
        if os.path.isdir(path):
            return sorted(
                str(p.resolve()) for p in Path(path).rglob("*") if p.is_file() and _visible(p.relative_to(path).parts)
            )
        return [os.path.abspath(path)] if os.path.isfile(path) else []
    scheme = item.split("://", 1)[0] + "://"
    base = item[: min(item.find(c) for c in GLOB_CHARACTERS if c in item)].rsplit("/", 1)[0] if wildcard else item
    fs, inner = filesystem(base)
    import pyarrow.fs as pafs

    try:
        info = fs.get_file_info(inner)
        if info.type == pafs.FileType.File and not wildcard:
            return [item]
        if info.type != pafs.FileType.Directory:
            return []
        listing = fs.get_file_info(pafs.FileSelector(inner, recursive=True))
    except OSError as exc:
        raise DataError(f"cannot list {item!r}: {_first_line(exc)}; check the URI and the credentials") from None
    pattern = inner + item[len(base) :] if wildcard else None
    found = []
    for entry in listing:
        relative = entry.path[len(inner) :].lstrip("/").split("/")
        if entry.type != pafs.FileType.File:
            continue
        if (pattern is not None and fnmatch.fnmatchcase(entry.path, pattern)) or (
            pattern is None and _visible(relative)
        ):
            found.append(scheme + entry.path)
    return sorted(found)


def _visible(parts: Sequence[str]) -> bool:
    return not any(part.startswith((".", "_")) for part in parts)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
