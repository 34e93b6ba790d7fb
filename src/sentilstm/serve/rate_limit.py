"""The per-client rate limit: a token bucket per client address (an IPv6 client counts by its /64 network),
in bounded memory.

    limiter = RateLimiter(per_minute=600)
    wait = limiter.wait(client_key(scope))   # 0.0: go now; else the seconds until a token is free
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import Scope

from sentilstm.errors import ConfigError

MAX_CLIENTS = 100_000  # rate-limit buckets kept (~200 bytes each); the least recently seen go first


def check_rate_limit(rate_limit: int | None) -> None:
    if rate_limit is not None and (isinstance(rate_limit, bool) or not isinstance(rate_limit, int) or rate_limit < 1):
        raise ConfigError(
            f"rate_limit must be a whole number of requests a minute >= 1, got {rate_limit!r}; "
            "leave it out for no limit"
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


__all__ = ["MAX_CLIENTS", "RateLimiter", "check_rate_limit", "client_key"]
