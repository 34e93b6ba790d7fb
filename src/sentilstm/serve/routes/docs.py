"""GET /docs (Swagger UI) and /redoc (ReDoc) with their scripts served from this app, so they work offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN: on a server without internet access (or a laptop on a
train) /docs stays blank. The files come from the `fastapi-offline` package (Swagger UI 5, which reads the
OpenAPI 3.1 documents FastAPI writes).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)
ASSET_PREFIX = "/docs/assets"
ASSETS = {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"}


def _asset_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title="sentilstm API",
        swagger_js_url=f"{root}{ASSET_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSET_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSET_PREFIX}/favicon.png",
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title="sentilstm API",
        redoc_js_url=f"{root}{ASSET_PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSET_PREFIX}/favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSET_PREFIX + "/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, f"no documentation asset {name!r}; there are {sorted(ASSETS)}")
    return FileResponse(_asset_dir() / name, headers={"Cache-Control": "public, max-age=86400"})
