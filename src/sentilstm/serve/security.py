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
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sentilstm.errors import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI

CSRF_HEADER = "X-Sentilstm-CSRF"  # any value; a page on another site cannot set it without a CORS preflight
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")  # names a DNS-rebinding page can never have
WILDCARD_BINDS = ("0.0.0.0", "::", "")  # every interface: the server's public name is unknown
MIN_KEY_CHARS = 16  # 16 random characters are ~95 bits; a word a person picks is not
MAX_CLIENTS = 100_000  # rate-limit buckets kept (~200 bytes each); the least recently seen go first
# The page's routes that hold no data, open so that the page can load and ask for the key.
OPEN_PAGE = re.compile(r"/|/static/[^/]+|/docs|/redoc|/docs/assets/[^/]+|/openapi\.json")
READ_POSTS = frozenset({"/predict", "/explain"})  # POSTs that change nothing: the read key may send them
# Content types a cross-site HTML form or a no-cors fetch may send without a preflight (the Fetch standard's
# CORS-safelisted ones, plus none at all): such a POST must carry the CSRF header (or a key header).
SIMPLE_BODIES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain", ""})
# OWASP's CSV-injection rule: a cell starting with one of these is a formula to Excel, LibreOffice or Sheets.
# The full-width forms are read as formulas by Excel in East Asian locales.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
ORIGIN = re.compile(r"https?://([a-z0-9_.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?")  # as a browser sends it in Origin
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # "-0.5", "+3e2": a number, not a formula
Access = Literal["open", "read", "full"]
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


# ----- settings: checked and normalised in ServeSettings.__post_init__ --------------------------------------------
def check_key(name: str, key: str | None) -> None:
    """ConfigError when `key` is too short or not a plain token; the message never repeats the key."""
    if key is None:
        return
    if not isinstance(key, str) or not all(0x21 <= ord(c) <= 0x7E for c in key):
        raise ConfigError(
            f"{name} may hold only printable ASCII without spaces (it travels in an HTTP header); "
            "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(
            f"{name} has {len(key)} characters; use at least {MIN_KEY_CHARS} random ones, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )


def check_keys(api_key: str | None, read_key: str | None) -> None:
    check_key("api_key", api_key)
    check_key("read_key", read_key)
    if read_key is not None and api_key is None:
        raise ConfigError(
            "read_key needs api_key as well (--api-key / SENTILSTM_API_KEY): the read key cannot "
            "store feedback or score files, so without a full key nobody could"
        )
    if read_key is not None and hmac.compare_digest(read_key.encode(), (api_key or "").encode()):
        raise ConfigError("read_key must differ from api_key; generate a second key for readers")


def normalise_host(host: str) -> str:
    """`host` as the allow-list compares it: lower case, no trailing dot; ConfigError unless a bare name."""
    name = host.strip().lower().rstrip(".")
    if name in ("*", "::1") or (name.startswith("*.") and _is_name(name[2:])) or _is_name(name):
        return name
    raise ConfigError(
        f"allowed host {host!r} must be a host name or address such as api.example.com, "
        "*.example.com or 10.0.0.5 (no scheme, port or path); '*' accepts any"
    )


def _is_name(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return bool(re.fullmatch(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*", name))


def normalise_hosts(hosts: Iterable[str]) -> tuple[str, ...]:
    """The allow-list, deduplicated; () (any host) when it holds '*'."""
    names = tuple(dict.fromkeys(normalise_host(host) for host in hosts))
    return () if "*" in names else names


def serve_allowed_hosts(bind_host: str, given: Iterable[str]) -> tuple[str, ...]:
    """What `sentilstm serve --host BIND [--allowed-host NAME ...]` accepts in the Host header.

    The names given, the bind address unless it is every interface, and the loopback names (which a DNS-rebinding
    page never has); () (any) when bound to every interface with no name given, or when a name is '*'.
    """
    given = list(given)
    if "*" in (host.strip() for host in given):
        return ()
    wildcard = bind_host.strip() in WILDCARD_BINDS
    if wildcard and not given:
        return ()
    return normalise_hosts([*given, *([] if wildcard else [bind_host]), *LOOPBACK_HOSTS])


def normalise_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """Origins as browsers send them (scheme://host[:port], lower case, no trailing slash); ConfigError otherwise."""
    result = []
    for origin in origins:
        value = origin.strip().rstrip("/").lower()
        if value != "*" and not ORIGIN.fullmatch(value):
            raise ConfigError(
                f"cors origin {origin!r} must be scheme://host[:port] as browsers send it, e.g. "
                "https://app.example.com or http://localhost:3000 (no path); '*' allows any site"
            )
        result.append(value)
    return tuple(dict.fromkeys(result))


def check_rate_limit(rate_limit: int | None) -> None:
    if rate_limit is not None and (isinstance(rate_limit, bool) or not isinstance(rate_limit, int) or rate_limit < 1):
        raise ConfigError(
            f"rate_limit must be a whole number of requests a minute >= 1, got {rate_limit!r}; "
            "leave it out for no limit"
        )


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


# ----- the pieces of the guard ----------------------------------------------------------------------------------
def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """True when the Host header value `host` (port and all) names one of `allowed`; () allows any."""
    if not allowed:
        return True
    name = _host_name(host)
    return bool(name) and any(
        name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])) for pattern in allowed
    )


def client_key(scope: Scope) -> str:
    """Who to count a request against: the client's IPv4 address, or its IPv6 /64 (one customer's network)."""
    client = scope.get("client")
    if not client:
        return "unknown"
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:  # a Unix socket path or a test client's name
        return str(client[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimiter:
    """A token bucket per client: `per_minute` tokens, refilled continuously; a request takes one.

    A full bucket holds one minute's worth, so a quiet client may burst that many at once. Memory stays bounded:
    past `max_clients` the least recently seen client is forgotten (and starts again with a full bucket).
    """

    def __init__(
        self, per_minute: int, *, clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when counted)

    def __len__(self) -> int:
        return len(self.buckets)

    def wait(self, client: str) -> float:
        """0.0 when `client` may go now (a token is taken), else the seconds until it may."""
        now = self.clock()
        tokens, then = self.buckets.pop(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - then) * self.per_minute / 60)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) * 60 / self.per_minute
        self.buckets[client] = (tokens, now)
        while len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        return wait


class KeyRing:
    """The configured keys as SHA-256 digests, compared in constant time (equal-length digests leak nothing)."""

    def __init__(self, api_key: str | None, read_key: str | None) -> None:
        self.full = _digest(api_key) if api_key else None
        self.read = _digest(read_key) if read_key else None

    def access(self, given: str) -> Access | None:
        """'full' or 'read' for a known key, None for any other."""
        digest = _digest(given)
        full = self.full is not None and hmac.compare_digest(digest, self.full)
        read = self.read is not None and hmac.compare_digest(digest, self.read)
        return "full" if full else "read" if read else None


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def needed_access(method: str, path: str) -> Access:
    """What a request needs: 'open' (anyone), 'read' (either key) or 'full' (the API key)."""
    if path == "/health":
        return "open"
    if method in ("GET", "HEAD"):
        return "open" if OPEN_PAGE.fullmatch(path) else "read"
    if method == "OPTIONS" or (method == "POST" and path in READ_POSTS):
        return "read"
    return "full"


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
        key = _given_key(headers)
        return (
            self._host_refusal(headers.get(b"host", b"").decode("latin-1"), path)
            or self._rate_refusal(scope, path)
            or self._key_refusal(method, path, key)
            or _csrf_refusal(method, path, key, headers)
        )

    def _host_refusal(self, host: str, path: str) -> Refusal | None:
        if path == "/health" or host_allowed(host, self.allowed_hosts):  # probes use the pod's address: /health is open
            return None
        name = _host_name(host) if re.fullmatch(r"[a-z0-9_.:-]{1,100}", _host_name(host)) else "NAME"
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


def _host_name(host: str) -> str:
    """The name in a Host header value, without port, brackets or trailing dot: "[::1]:8000" -> "::1"."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name.rstrip(".")


def _given_key(headers: dict[bytes, bytes]) -> str | None:
    """The key in 'Authorization: Bearer KEY' or else 'X-API-Key: KEY'; None when neither is sent."""
    authorization = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


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


# ----- scored CSV downloads ---------------------------------------------------------------------------------------
def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (and column names) are safe to open in a spreadsheet.

    A cell a spreadsheet would run as a formula gets a leading apostrophe ("=HYPERLINK(...)" -> "'=HYPERLINK(...)");
    numbers, and text that is a plain number ("-0.5"), are left as they are. A carriage return inside a cell
    becomes a line feed: Python's CSV writer (3.11) does not quote a lone one, so "ok\r=cmd()" would otherwise
    be read back as two rows, the second starting with a formula.
    """
    safe = frame.copy(deep=False)
    safe.columns = [_safe_cell(name) if isinstance(name, str) else name for name in frame.columns]
    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        if not (pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype)):
            continue
        risky = np.fromiter(
            (isinstance(v, str) and (_is_formula(v) or "\r" in v) for v in values), dtype=bool, count=len(values)
        )
        if risky.any():
            fixed = values.copy()
            fixed[risky] = [_safe_cell(v) for v in values[risky]]
            safe.isetitem(i, fixed)
    return safe


def _is_formula(cell: str) -> bool:
    return cell.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(cell)


def _safe_cell(cell: str) -> str:
    return ("'" if _is_formula(cell) else "") + cell.replace("\r\n", "\n").replace("\r", "\n")


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
