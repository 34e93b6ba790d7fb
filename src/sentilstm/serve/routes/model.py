"""GET /health and GET /model."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

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
    """Labels (as in the training data), backend, parameters, saved metrics, versions, a layer summary, and the
    server's limits and guards (whether keys are required, never the keys)."""
    limits = {"max_texts": settings.max_texts, "max_chars": settings.max_chars, "max_body_bytes": settings.max_body_bytes}
    return JSONResponse({**request.app.state.model_description, "limits": limits, "security": security_state(settings)})
