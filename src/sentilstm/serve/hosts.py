"""The Host allow-list and the CORS origins: checking and normalising the names a server is started with, and
whether a request's Host header names one of them (a page on another site that rebinds its DNS name to this
server's address sends its own name, so it is refused).

    allowed = serve_allowed_hosts("127.0.0.1", ["api.example.com"])   # plus the bind address and loopback names
    host_allowed("api.example.com:8000", allowed)                     # True
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from sentilstm.errors import ConfigError

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")  # names a DNS-rebinding page can never have
WILDCARD_BINDS = ("0.0.0.0", "::", "")  # every interface: the server's public name is unknown
ORIGIN = re.compile(r"https?://([a-z0-9_.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?")  # as a browser sends it in Origin


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


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """True when the Host header value `host` (port and all) names one of `allowed`; () allows any."""
    if not allowed:
        return True
    name = host_name(host)
    return bool(name) and any(
        name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])) for pattern in allowed
    )


def host_name(host: str) -> str:
    """The name in a Host header value, without port, brackets or trailing dot: "[::1]:8000" -> "::1"."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name.rstrip(".")


__all__ = ["host_allowed", "host_name", "normalise_host", "normalise_hosts", "normalise_origins", "serve_allowed_hosts"]
