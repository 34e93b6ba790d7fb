"""Typed dependencies of the routes: the worker's model service, feedback store and settings.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
request that the latency budget of /predict cannot spare.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sentilstm.serve.feedback import FeedbackStore
from sentilstm.serve.service import ModelService
from sentilstm.serve.settings import ServeSettings


async def get_service(request: Request) -> ModelService:
    return request.app.state.service


async def get_store(request: Request) -> FeedbackStore:
    return request.app.state.feedback


async def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


ServiceDep = Annotated[ModelService, Depends(get_service)]
StoreDep = Annotated[FeedbackStore, Depends(get_store)]
SettingsDep = Annotated[ServeSettings, Depends(get_settings)]

__all__ = ["ServiceDep", "SettingsDep", "StoreDep", "get_service", "get_settings", "get_store"]
