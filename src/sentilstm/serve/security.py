"""Guards a served model can turn on: API keys, a Host allow-list, CORS, a CSRF header, a per-client rate limit,
and scored CSV downloads that spreadsheets cannot run as formulas.

    settings = ServeSettings("model.sentilstm", api_key=os.environ["SENTILSTM_API_KEY"], rate_limit=600)
    app = build_app(settings)   # build_app calls install(app, settings)

Each request meets them in this order: CORS (only with `cors_origins`; it answers preflights and labels every
answer, refusals included, so a page on an allowed origin can read them), then the Host header (400), the rate
limit (429 with Retry-After), the key (401 when missing or unknown, 403 when a read-only key asks to write) and
the CSRF header (403). Refusals are one-line JSON `{"detail": ...}` answers sent before the body is read.

What needs what:
- open to all: GET /health, and the parts of the page that hold no data (GET /, /static/*, /docs, /redoc,
  /docs/assets/*, /openapi.json), so the page can load and ask for the key;
- the read key (or the full key): every other GET, and POST /predict and /explain, which change nothing;
- the full key: everything else: POST /feedback (stores texts), POST /score/columns and /score (store uploads).

The pieces live beside this module: `keys.py` (the keys and what each route needs), `hosts.py` (the Host
allow-list and CORS origins), `rate_limit.py` (the token buckets) and `csv_formulas.py` (safe CSV downloads);
this module puts them together as one middleware and documents them in the OpenAPI schema.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Protocol

from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sentilstm.serve.csv_formulas import neutralise_formulas
from sentilstm.serve.hosts import host_allowed, host_name, serve_allowed_hosts
from sentilstm.serve.keys import KeyRing, given_key, needed_access
from sentilstm.serve.rate_limit import RateLimiter, client_key

if TYPE_CHECKING:
    from fastapi import FastAPI

CSRF_HEADER = "X-Sentilstm-CSRF"  # any value; a page on another site cannot set it without a CORS preflight
# Content types a cross-site HTML form or a no-cors fetch may send without a preflight (the Fetch standard's
# CORS-safelisted ones, plus none at all): such a POST must carry the CSRF header (or a key header).
SIMPLE_BODIES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain", ""})
Refusal = tuple[int, str, dict[str, str]]  # status, one-line message, extra headers


class Guards(Protocol):
    """The settings the guards read (`ServeSettings` has them, checked and normalised in its __post_init__)."""

    @property
    def api_key(self) -> str | None: ...
    @property
    def read_key(self) -> str | None: ...
    @property
    def allowed_hosts(self) -> tuple[str, ...]: ...
    @property
    def cors_origins(self) -> tuple[str, ...]: ...
    @property
    def rate_limit(self) -> int | None: ...
    @property
    def raw_csv(self) -> bool: ...


# ----- what the start-up message and GET /model show ----------------------------------------------------
def security_state(settings: Guards) -> dict[str, Any]:
    """The guards in force, for GET /model: whether keys are set (never the keys), hosts, origins, limits."""
    return {
        "api_key": settings.api_key is not None,
        "read_key": settings.read_key is not None,
        "allowed_hosts": list(settings.allowed_hosts) or ["*"],
        "cors_origins": list(settings.cors_origins),
        "csrf_header": CSRF_HEADER,
        "rate_limit": settings.rate_limit,
        "raw_csv": settings.raw_csv,
    }


def describe_guards(settings: Guards) -> str:
    """One line for the start-up message, e.g. "API key required (and a read key); Host: localhost, ...; CORS off"."""
    keys = (
        ("API key required" + (" (and a read-only key)" if settings.read_key else ""))
        if settings.api_key
        else "no API key (anyone who reaches the port may use it)"
    )
    hosts = ", ".join(settings.allowed_hosts) if settings.allowed_hosts else "any"
    cors = ", ".join(settings.cors_origins) if settings.cors_origins else "off"
    rate = f"{settings.rate_limit} requests a minute per client and worker" if settings.rate_limit else "off"
    csv = "raw" if settings.raw_csv else "formulas neutralised"
    return f"{keys}; Host header: {hosts}; CORS: {cors}; rate limit: {rate}; scored CSVs: {csv}"


# ----- the middleware ----------------------------------------------------------------------------------------
class RequestGuard:
    """ASGI middleware: the Host allow-list, the rate limit, the keys and the CSRF header, in that order."""

    def __init__(self, app: ASGIApp, *, settings: Guards) -> None:
        self.app = app
        self.allowed_hosts = settings.allowed_hosts
        self.limiter = RateLimiter(settings.rate_limit) if settings.rate_limit else None
        self.rate_limit = settings.rate_limit
        self.keys = KeyRing(settings.api_key, settings.read_key) if settings.api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail, headers = refusal
        await JSONResponse({"detail": detail}, status_code=status, headers=headers)(scope, receive, send)

    def _refusal(self, scope: Scope) -> Refusal | None:
        """(status, message, headers) when the request must be refused, else None."""
        method, path = scope["method"], _route_path(scope)
        headers = {
            name: value
            for name, value in scope["headers"]
            if name in (b"host", b"authorization", b"x-api-key", b"content-type", b"x-sentilstm-csrf")
        }
        key = given_key(headers)
        return (
            self._host_refusal(headers.get(b"host", b"").decode("latin-1"), path)
            or self._rate_refusal(scope, path)
            or self._key_refusal(method, path, key)
            or _csrf_refusal(method, path, key, headers)
        )

    def _host_refusal(self, host: str, path: str) -> Refusal | None:
        if path == "/health" or host_allowed(host, self.allowed_hosts):  # probes use the pod's address: /health is open
            return None
        name = host_name(host) if re.fullmatch(r"[a-z0-9_.:-]{1,100}", host_name(host)) else "NAME"
        return (
            400,
            (
                f"the Host header {host[:100] or '(none)'!r} is not a name this server answers to (it accepts "
                f"{', '.join(self.allowed_hosts)}); if that is this server's name, start it with "
                f"--allowed-host {name}"
            ),
            {},
        )

    def _rate_refusal(self, scope: Scope, path: str) -> Refusal | None:
        if self.limiter is None or path == "/health":
            return None
        client = client_key(scope)
        wait = self.limiter.wait(client)
        if wait <= 0:
            return None
        seconds = max(1, math.ceil(wait))
        return (
            429,
            (
                f"too many requests from {client}: this server allows {self.rate_limit} a minute per client "
                f"(--rate-limit); retry in {seconds} s"
            ),
            {"Retry-After": str(seconds)},
        )

    def _key_refusal(self, method: str, path: str, key: str | None) -> Refusal | None:
        needed = needed_access(method, path)
        if self.keys is None or needed == "open":
            return None
        if key is None:
            return (
                401,
                (
                    "this server needs an API key: send the header 'Authorization: Bearer KEY' (or "
                    "'X-API-Key: KEY'); whoever runs it has the key (sentilstm serve --api-key, or "
                    "SENTILSTM_API_KEY)"
                ),
                {"WWW-Authenticate": 'Bearer realm="sentilstm"'},
            )
        access = self.keys.access(key)
        if access is None:
            return (
                401,
                (
                    "the API key sent is not one this server accepts; check it (keys are case-sensitive) "
                    "or ask whoever runs the server"
                ),
                {"WWW-Authenticate": 'Bearer realm="sentilstm", error="invalid_token"'},
            )
        if needed == "full" and access == "read":
            return (
                403,
                (
                    f"the read-only key cannot {method} {path}: it covers GET routes, /predict and /explain; "
                    "storing feedback and scoring files need the full API key"
                ),
                {"WWW-Authenticate": 'Bearer realm="sentilstm", error="insufficient_scope"'},
            )
        return None


def _csrf_refusal(method: str, path: str, key: str | None, headers: dict[bytes, bytes]) -> Refusal | None:
    """403 for a POST a page on another site could have sent: a simple body without the CSRF header or a key."""
    if method in ("GET", "HEAD", "OPTIONS") or headers.get(b"x-sentilstm-csrf") or key is not None:
        return None
    media = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
    if media not in SIMPLE_BODIES:
        return None  # JSON and other types make a browser ask first (a CORS preflight), which other sites fail
    kind = f"a {media} body" if media else "a body without a Content-Type"
    return (
        403,
        (
            f"{method} {path} with {kind} needs the header '{CSRF_HEADER}: 1' (any value), which a page on "
            "another site cannot send; the web page sends it; from a script add it "
            f"(curl -H '{CSRF_HEADER}: 1'), or send JSON with Content-Type: application/json"
        ),
        {},
    )


def _route_path(scope: Scope) -> str:
    """The path the app routes on, without a `root_path` the server was mounted under."""
    path, root = scope["path"], scope.get("root_path", "")
    return (path[len(root) :] or "/") if root and path.startswith(root) else path


def install(app: FastAPI, settings: Guards) -> None:
    """Add the guards `settings` asks for to `app` (after its other middleware, so they run first)."""
    app.add_middleware(RequestGuard, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", CSRF_HEADER],
            expose_headers=["Retry-After", "WWW-Authenticate"],
            max_age=600,
        )


# ----- the OpenAPI document ---------------------------------------------------------------------------------------
def with_guards(schema: dict[str, Any], settings: Guards) -> dict[str, Any]:
    """The OpenAPI document with the keys as security schemes (so /docs has an Authorize button), the CSRF
    header on the form routes, and the refusals each operation may give."""
    if settings.api_key:
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "the API key (or the read-only key)"},
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if settings.api_key and needed_access(method.upper(), path) != "open":
                operation["security"] = [{"bearer": []}, {"apiKeyHeader": []}]
                responses["401"] = {"description": "no API key, or one this server does not accept"}
                if needed_access(method.upper(), path) == "full":
                    responses["403"] = {"description": "the read-only key cannot do this"}
            if settings.rate_limit and path != "/health":
                responses["429"] = {"description": "over --rate-limit; the Retry-After header says when to retry"}
            if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
                operation.setdefault("parameters", []).append(
                    {
                        "name": CSRF_HEADER,
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "default": "1"},
                        "description": "any value: proves the request does not come from a form on another site",
                    }
                )
                responses.setdefault("403", {"description": f"the {CSRF_HEADER} header is missing"})
    return schema


__all__ = [
    "CSRF_HEADER",
    "Guards",
    "KeyRing",
    "RateLimiter",
    "RequestGuard",
    "client_key",
    "describe_guards",
    "host_allowed",
    "install",
    "needed_access",
    "neutralise_formulas",
    "security_state",
    "serve_allowed_hosts",
    "with_guards",
]
