"""The FastAPI application: routes, limits, error handling, and the model loaded once per worker in the lifespan.

    app = create_app("model.sentilstm", max_texts=500)                  # then: uvicorn.run(app)
    uvicorn sentilstm.serve.app:app_from_env --factory --workers 2      # settings from SENTILSTM_SERVE_* variables

Errors. A bad request is a 4xx, never a 500: 413 for a body over the limit, 422 (FastAPI's validation format)
for malformed JSON, a wrong schema, too many or too long texts; anything unexpected is logged with its traceback
and answered with a 500 that says nothing about the internals. The guards of `security.py` (keys, Host allow-list,
CSRF header, rate limit) answer 400, 401, 403 or 429 before any route runs. Work cut short answers 504 (past
--request-timeout) or 503 (the server is stopping); see `deadlines.py`.
"""

from __future__ import annotations

import gc
import logging
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sentilstm._version import __version__
from sentilstm.serve import pages, security
from sentilstm.serve.deadlines import Cancelled, RequestDeadline
from sentilstm.serve.feedback import FeedbackStore
from sentilstm.serve.limits import BodySizeLimit, InFlight
from sentilstm.serve.page_files import FOLDER_ENV, FileStore, PageFolder
from sentilstm.serve.routes import ROUTERS
from sentilstm.serve.schemas import clean_text
from sentilstm.serve.service import ModelService
from sentilstm.serve.settings import Backend, ServeSettings

log = logging.getLogger(__name__)
DESCRIPTION = """Sentiment of texts with a trained sentilstm model: labels as in the training data, a probability
per label, per-word explanations, and a feedback monitor that stores scored texts and charts them over time.

Limits (this server): {max_texts} texts per request, {max_chars} characters per text, {max_body_bytes} bytes per
request body."""
BATCHED_PATHS = ("/predict", "/feedback")  # requests that go through the micro-batcher
LIMIT_KEYWORDS = {"max_texts": ("maxItems", "array"), "max_explain_samples": ("maximum", "integer")}  # else maxLength
PARSE_ERROR = "There was an error parsing the body"  # FastAPI's 400 for a body json.loads cannot even start on


def create_app(
    model_path: str | Path,
    *,
    backend: Backend = "torch",
    threads: int | None = None,
    max_texts: int = 1000,
    max_chars: int = 20_000,
    max_body_bytes: int = 2_000_000,
    max_upload_bytes: int = 64 * 1024 * 1024,
    feedback_url: str | None = None,
    batch_max: int = 64,
    batch_wait_ms: float = 1.0,
    api_key: str | None = None,
    read_key: str | None = None,
    allowed_hosts: tuple[str, ...] = (),
    cors_origins: tuple[str, ...] = (),
    rate_limit: int | None = None,
    raw_csv: bool = False,
    request_timeout: float = 60.0,
    max_explain_chars: int = 5_000,
    max_explain_words: int = 1000,
    max_explain_samples: int = 2000,
    max_upload_rows: int = 200_000,
    max_decompressed_bytes: int = 256 * 1024 * 1024,
    upload_dir: str | Path | None = None,
) -> FastAPI:
    """The HTTP API for the model file `model_path` (see `ServeSettings` for every option).

        uvicorn.run(create_app("model.sentilstm", feedback_url="postgresql://localhost/feedback"))

    The model loads when the app starts (its lifespan), once per worker process. `feedback_url` is any
    SQLAlchemy URL; by default a SQLite file beside the model (model.sentilstm -> model.feedback.db).
    The guards (api_key ... raw_csv) are off by default; `sentilstm.serve.security` says what each does.
    """
    return build_app(
        ServeSettings(
            str(model_path),
            backend=backend,
            threads=threads,
            max_texts=max_texts,
            max_chars=max_chars,
            max_body_bytes=max_body_bytes,
            max_upload_bytes=max_upload_bytes,
            feedback_url=feedback_url,
            batch_max=batch_max,
            batch_wait_ms=batch_wait_ms,
            api_key=api_key,
            read_key=read_key,
            allowed_hosts=tuple(allowed_hosts),
            cors_origins=tuple(cors_origins),
            rate_limit=rate_limit,
            raw_csv=raw_csv,
            request_timeout=request_timeout,
            max_explain_chars=max_explain_chars,
            max_explain_samples=max_explain_samples,
            max_explain_words=max_explain_words,
            max_upload_rows=max_upload_rows,
            max_decompressed_bytes=max_decompressed_bytes,
            upload_dir=None if upload_dir is None else str(upload_dir),
        )
    )


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory sentilstm.serve.app:app_from_env`: settings from SENTILSTM_SERVE_* variables,
    and the page folder of the server whose worker this is from SENTILSTM_SERVE_PAGE_FOLDER."""
    return build_app(ServeSettings.from_env(), page_folder=os.environ.get(FOLDER_ENV) or None)


def build_app(settings: ServeSettings, *, classifier: Any = None, page_folder: str | Path | None = None) -> FastAPI:
    """The app for `settings`; `app.state` holds `settings`, and once started `service`, `feedback` and
    `page_files` (the web page's FileStore).

    `classifier`: an already loaded model to serve instead of loading `settings.model_path` at startup.
    `page_folder`: the private folder of the server this app is part of (`page_files.PageFolder`, checked, never
    removed here); by default the app makes its own under `settings.upload_dir` and removes it when it stops.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # on the event loop's own thread, which also runs lone requests: torch's thread setting is per thread
        # once a thread has used it, and nothing is being served yet anyway
        service = ModelService.load(settings, classifier)
        store = FeedbackStore(settings.database_url())
        app.state.model_description = service.describe()
        app.state.service, app.state.feedback = service, store
        service.batcher.pending = lambda: in_flight.count
        await service.start()
        # Everything loaded so far (torch, sklearn, the model: millions of objects) lives as long as the worker.
        # Left in the collector's oldest generation, each full collection walks all of it: about 170 ms, once a
        # second or so under load, every request in flight stalled (p99 of 180 ms at 32 clients). Frozen, it
        # is never scanned again; collections only see objects created while serving.
        gc.collect()
        gc.freeze()
        log.info("serving %s (%s) with feedback in %s", settings.model_name, settings.backend, store.safe_url)
        try:
            yield
        finally:
            gc.unfreeze()  # an app started and stopped inside a longer-lived process (tests) leaves nothing frozen
            await service.stop()
            store.close()

    lifespan = _with_page_files(lifespan, settings, page_folder)
    app = FastAPI(
        title="sentilstm",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,  # routes/docs.py
        description=DESCRIPTION.format(
            max_texts=settings.max_texts, max_chars=settings.max_chars, max_body_bytes=settings.max_body_bytes
        ),
    )
    app.state.settings = settings
    in_flight = InFlight(BATCHED_PATHS)
    app.add_middleware(
        BodySizeLimit,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        in_flight=in_flight,
    )
    app.add_middleware(RequestDeadline, seconds=settings.request_timeout, unwatched=BATCHED_PATHS)
    app.add_exception_handler(Cancelled, _cancelled)
    security.install(app, settings)  # added last, so its guards run first (refusals before any deadline or route)
    # starlette types every handler as taking Exception: it cannot tie an exception class to its handler's type
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(pages.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = security.with_guards(with_limits(schema, settings), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
    return app


def _with_page_files(lifespan: Any, settings: ServeSettings, page_folder: str | Path | None) -> Any:
    """`lifespan` inside the web page's folder: `page_folder` (the server's), or one made for this app and removed
    when it stops; `app.state.page_files` is its FileStore."""

    @asynccontextmanager
    async def wrapped(app: FastAPI) -> AsyncIterator[None]:
        own_folder: PageFolder | None = None
        try:
            if page_folder is None:
                own_folder = PageFolder.create(settings.upload_dir)
                app.state.page_files = FileStore(own_folder.path)
            else:
                app.state.page_files = FileStore(page_folder)
            async with lifespan(app):
                yield
        finally:
            if own_folder is not None:
                own_folder.close()

    return wrapped


def with_limits(schema: Any, settings: ServeSettings) -> Any:
    """The OpenAPI document with each `x-limit` marker replaced by this server's maxItems / maxLength / maximum."""
    if isinstance(schema, list):
        return [with_limits(item, settings) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: with_limits(value, settings) for key, value in schema.items() if key != "x-limit"}
    limit = schema.get("x-limit")
    if limit is not None:
        keyword, kind = LIMIT_KEYWORDS.get(limit, ("maxLength", "string"))
        targets = [branch for branch in result.get("anyOf", []) if branch.get("type") == kind] or [result]
        for target in targets:
            target[keyword] = getattr(settings, limit)
    return result


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, made safe to encode: the echoed input may hold NaN, lone surrogates or undecodable bytes."""
    return JSONResponse(status_code=422, content={"detail": json_safe(exc.errors())})


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's answer, except that a body it cannot decode at all (bad UTF-8, nesting too deep) is a 422 too."""
    if exc.status_code == 400 and exc.detail == PARSE_ERROR:
        cause = exc.__cause__
        reason = f"{type(cause).__name__}: {str(cause)[:200]}" if cause is not None else "unreadable"
        return JSONResponse(
            status_code=422,
            content={
                "detail": json_safe(
                    [
                        {
                            "type": "json_invalid",
                            "loc": ["body"],
                            "msg": f"the body is not valid JSON ({reason})",
                            "input": None,
                        }
                    ]
                )
            },
        )
    if exc.status_code in (204, 304):
        return await http_exception_handler(request, exc)
    return JSONResponse(
        status_code=exc.status_code, content={"detail": json_safe(exc.detail)}, headers=getattr(exc, "headers", None)
    )


def json_safe(value: Any) -> Any:
    """`value` as strict JSON can hold it: NaN/infinity -> None, bytes and odd strings -> clean text, the rest ->
    str."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bytes):
        return clean_text(value.decode("utf-8", "replace"))
    if isinstance(value, dict):
        return {json_safe(str(key)): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return clean_text(str(value))


async def _cancelled(request: Request, exc: Exception) -> JSONResponse:
    """Work that stopped at a check of its request's token: 503 (the server is stopping) or 504 (its deadline)."""
    assert isinstance(exc, Cancelled)
    return JSONResponse(status_code=exc.status, content={"detail": exc.detail})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": "internal server error; the server's log has the details"})


__all__ = ["app_from_env", "build_app", "create_app", "json_safe", "with_limits"]
