"""API keys: the checks on the keys a server starts with, which key a request sent, whether it is the full key or
the read-only one (compared in constant time), and which key each route needs.

    keys = KeyRing(api_key, read_key)
    keys.access(given_key(headers)) in ("full", "read")   # None: not a key this server accepts
    needed_access("POST", "/feedback")                    # 'full'

What needs what: GET /health and the parts of the page that hold no data are open; every other GET, and POST
/predict and /explain (which change nothing), need either key; everything else needs the full key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal

from sentilstm.errors import ConfigError

MIN_KEY_CHARS = 16  # 16 random characters are ~95 bits; a word a person picks is not
# The page's routes that hold no data, open so that the page can load and ask for the key.
OPEN_PAGE = re.compile(r"/|/static/[^/]+|/docs|/redoc|/docs/assets/[^/]+|/openapi\.json")
READ_POSTS = frozenset({"/predict", "/explain"})  # POSTs that change nothing: the read key may send them
Access = Literal["open", "read", "full"]


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


def given_key(headers: dict[bytes, bytes]) -> str | None:
    """The key in 'Authorization: Bearer KEY' or else 'X-API-Key: KEY'; None when neither is sent."""
    authorization = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


__all__ = ["Access", "KeyRing", "check_key", "check_keys", "given_key", "needed_access"]
