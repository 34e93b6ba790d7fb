"""The web page at `/` and the file scoring behind it: upload a table, score it in chunks, chart it, download it.

    app.include_router(pages.router)  # GET /, /static/*, POST /score/columns, POST /score, GET /score/<token>.csv

The page itself (static/index.html, app.js, charts.js, style.css) talks to the JSON API (/predict, /explain,
/feedback, /trends, /model) and to the routes here. Scoring streams the upload through
`sentilstm.estimators.scoring.score_frame` chunk by chunk in a worker thread, counting labels and label shares per
time period in the same pass, so memory stays flat whatever the file size. Uploads and scored files live for an
hour in the server's private folder (`page_files.FileStore`, made by the app's lifespan or the server).
Reading the timestamps and charting labels over time is `timeline.py`'s part.

Bounded work. An upload is unpacked while it is written (gzip stops at --max-decompressed-bytes) and its rows are
counted before anything is scored (--max-upload-rows); scoring checks the request's token between chunks, so it
stops when the client leaves, the deadline passes or the server stops (`deadlines.py`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from starlette.datastructures import UploadFile

from sentilstm.data.tables import infer_columns, is_missing, iter_frames
from sentilstm.data.writer import TableWriter
from sentilstm.errors import DataError
from sentilstm.estimators.scoring import probability_column, score_frame
from sentilstm.serve.csv_formulas import neutralise_formulas
from sentilstm.serve.deadlines import run_in_thread, work_token
from sentilstm.serve.limits import OPTIONS, LimitExceeded
from sentilstm.serve.page_files import (  # noqa: F401 - KEEP_FILES, KEEP_SECONDS, FileStore: re-exported
    KEEP_FILES,
    KEEP_SECONDS,
    PREDICT_HINT,
    FileStore,
    StoredFile,
    file_size,
    unpacked_too_large,
)
from sentilstm.serve.timeline import Interval, LabelSeries, guess_timestamp_column, parse_timestamps

log = logging.getLogger(__name__)
router = APIRouter(tags=["page"])

STATIC_DIR = Path(__file__).parent / "static"
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",  # the page's behaviour
    "charts.js": "text/javascript; charset=utf-8",  # label colours and the SVG charts
    "style.css": "text/css; charset=utf-8",
}
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # the page is for files a person picks; bigger ones belong to `sentilstm predict`
CHUNK_ROWS = 5_000  # rows scored at a time: bounds memory, and a chunk of short texts scores in well under a second
MULTIPART_BODY = {  # the forms are parsed by hand (to refuse oversized uploads before reading them): document them
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV, TSV, JSONL or Parquet, optionally .gz",
                        },
                        "upload": {
                            "type": "string",
                            "description": "token from POST /score/columns, instead of sending the file again",
                        },
                        "text_column": {
                            "type": "string",
                            "description": "column holding the texts; inferred like the CLI when absent",
                        },
                        "timestamp_column": {
                            "type": "string",
                            "description": "column with dates/times: adds sentiment over time",
                        },
                        "interval": {"type": "string", "enum": list(get_args(Interval)), "default": "auto"},
                    },
                }
            }
        },
    }
}


# ----- the page and its assets ---------------------------------------------------------------------------------
def _asset_version() -> str:
    """A short hash of the assets, put in their URLs so browsers may cache them for good."""
    digest = hashlib.sha256()
    for name in ASSETS:
        digest.update((STATIC_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


def _cached(request: Request, body: bytes, media_type: str, cache_control: str) -> Response:
    etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def upload_limit(request: Request) -> int:
    """MAX_UPLOAD_BYTES, or the app's own multipart limit (`max_upload_bytes` in its settings) when lower."""
    settings = getattr(request.app.state, "settings", None)
    return min(MAX_UPLOAD_BYTES, getattr(settings, "max_upload_bytes", None) or MAX_UPLOAD_BYTES)


@router.get("/", include_in_schema=False)
def index(request: Request) -> Response:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    html = html.replace("{{version}}", _asset_version()).replace("{{max_upload_bytes}}", str(upload_limit(request)))
    return _cached(request, html.encode("utf-8"), "text/html; charset=utf-8", "no-cache")


@router.get("/static/{name}", include_in_schema=False)
def asset(name: str, request: Request, v: str | None = None) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, f"no static file {name!r}; the page has {sorted(ASSETS)}")
    body = (STATIC_DIR / name).read_bytes()
    forever = v is not None and v == _asset_version()  # versioned URL from index.html: the content never changes
    return _cached(request, body, ASSETS[name], "public, max-age=31536000, immutable" if forever else "no-cache")


# ----- uploads and scored files on disk -------------------------------------------------------------------------
def file_store(request: Request) -> FileStore:
    """The app's FileStore (`app.state.page_files`), set by the lifespan of `build_app`'s app."""
    store = getattr(request.app.state, "page_files", None)
    if store is None:
        raise RuntimeError(
            "the page's routes need the FileStore that build_app's lifespan sets up: include "
            "pages.router only in an app made by sentilstm.serve.build_app"
        )
    return store


def _too_large(size: int, limit: int) -> HTTPException:
    return HTTPException(
        413, f"the upload is {file_size(size)}; the page scores files up to {file_size(limit)}: {PREDICT_HINT}"
    )


async def _form(request: Request) -> Any:
    """The multipart form, refused with 413 before it is read when Content-Length says it is too big."""
    length, limit = request.headers.get("content-length", ""), upload_limit(request)
    if length.isdigit() and int(length) > limit + 64 * 1024:  # 64 KB for the other fields and multipart headers
        raise _too_large(int(length), limit)
    return await request.form(max_files=1, max_fields=8)


async def _save_upload(form: Any, request: Request, store: FileStore) -> StoredFile:
    """Write the form's `file` to the store, unpacked, in a thread (413 past a limit, 422 for a file the library
    cannot read), then check its rows; its extension must be one the library reads."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, "send the table as the multipart field 'file' (CSV, TSV, JSONL or Parquet)")
    name = Path(upload.filename or "upload").name
    settings, check = request.app.state.settings, work_token(request).check

    def save() -> StoredFile:
        upload.file.seek(0)
        return store.save_upload(
            upload.file,
            name,
            max_bytes=upload_limit(request),
            max_decompressed_bytes=settings.max_decompressed_bytes,
            check=check,
        )

    try:
        stored = await run_in_thread(save)
    except LimitExceeded as exc:
        raise HTTPException(413, str(exc)) from None
    except DataError as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        await _reading(stored, check_rows, stored, settings.max_upload_rows, settings.max_decompressed_bytes, check)
    except BaseException:
        store.discard("upload", stored.token)
        raise
    return stored


async def _reading(stored: StoredFile, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)` in a thread, its errors about `stored` turned into 413 or 422 answers."""
    try:
        return await run_in_thread(function, *args, **kwargs)
    except LimitExceeded as exc:
        raise HTTPException(413, str(exc).replace(str(stored.path), stored.name)) from None
    except READ_ERRORS as exc:
        raise _user_error(exc, stored) from None


def _user_error(exc: Exception, stored: StoredFile) -> HTTPException:
    """422 with the library's one-line message, naming the user's file instead of the temporary one."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not isinstance(exc, DataError):
        log.warning("scoring %s failed", stored.name, exc_info=exc)
        message = f"could not read {stored.name!r}: {type(exc).__name__}: {message}"
    message = message.replace(str(stored.path), stored.name).replace("--text-column", "text_column")
    return HTTPException(422, message)


READ_ERRORS = (DataError, ValueError, TypeError, KeyError, OSError, EOFError)  # a bad file, never a server fault


def too_many_rows(name: str, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"{name!r} has more than {limit:,} rows; the limit is {limit:,} ({OPTIONS['max_upload_rows']}): {PREDICT_HINT}"
    )


def check_rows(
    stored: StoredFile, max_rows: int, max_decompressed_bytes: int, check: Callable[[], None] = lambda: None
) -> None:
    """LimitExceeded when the upload has more than `max_rows` rows (a Parquet file: or unpacks past the limit).

    Cheap for most files: the line breaks counted while the upload was written bound its rows, and Parquet says
    its rows and size in its footer. Only a file with more line breaks than allowed rows (texts with line breaks
    in them) is parsed, without scoring, until its rows are counted or pass the limit.
    """
    bound = stored.rows_at_most
    if stored.path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            footer = pq.read_metadata(stored.path)
        except (pa.ArrowException, OSError):
            footer = None  # not Parquet after all: reading it below says so
        if footer is not None:
            unpacked = sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups))
            if unpacked > max_decompressed_bytes:
                raise unpacked_too_large(stored.name, max_decompressed_bytes)
            bound = footer.num_rows
    if bound is not None and bound <= max_rows:
        return
    rows = 0
    for frame in iter_frames(stored.path, chunk_rows=CHUNK_ROWS):
        check()
        rows += len(frame)
        if rows > max_rows:
            raise too_many_rows(stored.name, max_rows)


# ----- reading and scoring ----------------------------------------------------------------------------------------
def inspect_file(stored: StoredFile) -> dict[str, Any]:
    """The file's columns, guesses for the text and timestamp columns, and its first rows."""
    frame = next(iter_frames(stored.path, chunk_rows=200), None)
    if frame is None or frame.empty:
        raise DataError(f"{stored.name!r} has a header but no rows to score")
    columns = [str(c) for c in frame.columns]
    try:
        text_column: str | None = infer_columns(frame, None, None, need_label=False)[0]
    except DataError:
        text_column = None
    preview = [[None if is_missing(v) else str(v)[:160] for v in row] for row in frame.head(5).itertuples(index=False)]
    return {
        "columns": columns,
        "text_column": text_column,
        "timestamp_column": guess_timestamp_column(frame, text_column),
        "preview": preview,
    }


def score_upload(
    clf: Any,
    stored: StoredFile,
    output: Path,
    *,
    text_column: str | None,
    timestamp_column: str | None,
    interval: Interval,
    max_rows: int | None = None,
    check: Callable[[], None] = lambda: None,
    raw_csv: bool = False,
) -> dict[str, Any]:
    """Score `stored` into the CSV `output` chunk by chunk; label counts and the time series in the same pass.

    `check` runs before each chunk (it raises to stop the work); past `max_rows` rows: LimitExceeded. Text cells a
    spreadsheet would run as a formula ("=HYPERLINK(...)") get a leading apostrophe unless `raw_csv`.
    """
    started = time.perf_counter()
    labels = list(clf.label_map_.labels)
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros(len(labels), dtype=np.int64)
    series = LabelSeries(len(labels)) if timestamp_column else None
    rows = empty = unparsable = 0
    column: str | None = None
    columns: list[str] = []
    writer = TableWriter(output)
    try:
        for frame in iter_frames(stored.path, chunk_rows=CHUNK_ROWS):
            check()
            if max_rows is not None and rows + len(frame) > max_rows:
                raise too_many_rows(stored.name, max_rows)
            if column is None:
                column = infer_columns(frame, text_column, None, need_label=False)[0]
                columns = list(frame.columns)
                if timestamp_column and timestamp_column not in columns:
                    raise DataError(
                        f"timestamp column {timestamp_column!r} not found; the file has columns "
                        f"{[str(c) for c in columns]}"
                    )
            if frame.empty:
                continue
            if list(frame.columns) != columns:  # JSONL rows may order or omit keys differently
                frame = frame.reindex(columns=columns)
            scored, chunk_empty = score_frame(clf, frame, column)
            writer.write(scored if raw_csv else neutralise_formulas(scored))
            label_ids = np.fromiter((index[v] for v in scored["predicted_label"]), dtype=np.int64, count=len(scored))
            counts += np.bincount(label_ids, minlength=len(labels))
            rows, empty = rows + len(frame), empty + chunk_empty
            if series is not None:
                stamps = parse_timestamps(frame[timestamp_column])
                unparsable += int(stamps.isna().sum())
                probabilities = scored[[probability_column(label) for label in labels]].to_numpy(dtype=np.float64)
                series.add(stamps, label_ids, probabilities)
        if rows == 0:
            raise DataError(f"{stored.name!r} has a header but no rows to score")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return {
        "rows": rows,
        "empty_texts": empty,
        "text_column": column,
        "timestamp_column": timestamp_column,
        "labels": labels,
        "label_counts": {str(label): int(n) for label, n in zip(labels, counts)},
        "series": series.to_dict(interval, labels) if series is not None else None,
        "unparsable_timestamps": unparsable,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise HTTPException(422, f"{name} must be a plain form field, not a file")
    return value.strip() or None if value is not None else None


@router.post("/score/columns", openapi_extra=MULTIPART_BODY)
async def score_columns(request: Request) -> dict[str, Any]:
    """Upload a table: its columns, guessed text and timestamp columns, first rows, and an `upload` token for
    POST /score (so the file is sent once)."""
    store = file_store(request)
    stored = await _save_upload(await _form(request), request, store)
    info = await _reading(stored, inspect_file, stored)
    return {"upload": stored.token, "filename": stored.name, "size": stored.size, **info}


@router.post("/score", openapi_extra=MULTIPART_BODY)
async def score(request: Request) -> dict[str, Any]:
    """Score a table (the multipart `file`, or the `upload` token of POST /score/columns) with the served model:
    rows, label counts, label shares over time when `timestamp_column` is given, and a `download` URL for the
    scored CSV (the file's columns plus predicted_label and prob_<label>)."""
    store = file_store(request)
    form = await _form(request)
    interval = _field(form, "interval") or "auto"
    if interval not in get_args(Interval):
        raise HTTPException(422, f"interval must be one of {list(get_args(Interval))}, got {interval!r}")
    token = _field(form, "upload")
    if token is not None:
        stored = store.get("upload", token)
        if stored is None:
            raise HTTPException(404, "that upload has expired or is unknown; choose the file again")
    else:
        stored = await _save_upload(form, request, store)
    result_token, output = store.reserve("scored", ".csv")
    result = await _reading(
        stored,
        score_upload,
        request.app.state.service.classifier,
        stored,
        output,
        text_column=_field(form, "text_column"),
        timestamp_column=_field(form, "timestamp_column"),
        interval=interval,
        max_rows=request.app.state.settings.max_upload_rows,
        check=work_token(request).check,
        raw_csv=request.app.state.settings.raw_csv,
    )
    store.add("scored", result_token, output, f"{Path(stored.name.removesuffix('.gz')).stem}.scored.csv")
    return {**result, "filename": stored.name, "download": f"/score/{result_token}.csv"}


@router.get("/score/{token}.csv", include_in_schema=False)
def download(token: str, request: Request) -> FileResponse:
    stored = file_store(request).get("scored", token)
    if stored is None:
        raise HTTPException(
            404,
            "no scored file under that link; it has expired (files are kept for an hour) "
            "or was never made: score the file again",
        )
    return FileResponse(stored.path, media_type="text/csv; charset=utf-8", filename=stored.name)
