"""OpenAPI documentation of the error answers the routes give (FastAPI documents 422 by itself)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorResponse(BaseModel):
    detail: str


TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "The request body is over --max-body-bytes"},
}
