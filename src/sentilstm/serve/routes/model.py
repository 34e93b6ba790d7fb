"""GET /health and GET /model."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sentilstm.serve import pages
from sentilstm.serve.deps import ServiceDep, SettingsDep
from sentilstm.serve.schemas import HealthResponse, ModelResponse
from sentilstm.serve.security import security_state

router = APIRouter(tags=["model"])


@router.get("/health", response_model=HealthResponse)
async def health(service: ServiceDep) -> JSONResponse:
    """The worker is up and its model loaded."""
    return JSONResponse(service.health())


@router.get("/model", response_model=ModelResponse)
async def model(request: Request, settings: SettingsDep) -> JSONResponse:
    """Labels (as in the training data), backend, parameters, saved metrics, versions, a layer summary, this
    server's `limits` (each the `sentilstm serve` option of the same name) and its guards (whether keys are
    required, never the keys)."""
    limits = {
        "max_texts": settings.max_texts,
        "max_chars": settings.max_chars,
        "max_body_bytes": settings.max_body_bytes,
        "max_upload_bytes": pages.upload_limit(request),
        "max_decompressed_bytes": settings.max_decompressed_bytes,
        "max_upload_rows": settings.max_upload_rows,
        "max_explain_chars": settings.explain_text_chars,
        "max_explain_words": settings.max_explain_words,
        "max_explain_samples": settings.max_explain_samples,
        "request_timeout": settings.request_timeout,
    }
    return JSONResponse({**request.app.state.model_description, "limits": limits, "security": security_state(settings)})
