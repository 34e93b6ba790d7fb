"""The HTTP parser `sentilstm serve` runs: uvicorn's httptools protocol with a bound on a request's head.

uvicorn's httptools parser keeps reading a request line or a header until it ends, however long: a client that
sends a 20 MB header, or 20,000 small ones, makes the server hold all of it before any route or middleware sees
the request. Here the bytes received while the head is still open are counted, and past `MAX_HEAD_BYTES` the
connection gets a one-line 431 and is closed (what arrives meanwhile is dropped, never parsed or kept). (uvicorn's
h11 parser has the same bound built in; it is slower.)
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# a request line plus headers; browsers send ~1-2 KB, large cookies ~16 KB, and nginx refuses past 32 KB by default
MAX_HEAD_BYTES = 64 * 1024
LINGER_S = 1.0


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools' protocol that answers 431 and closes once a request's head grows past MAX_HEAD_BYTES."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = True  # between a message's first byte and the end of its headers
        self._head_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._head_open:
            self._head_bytes += len(data)
        super().data_received(data)
        # counted after parsing, so a chunk that ends the head and carries part of the body is not refused
        if self._head_open and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse()

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open, self._head_bytes = True, 0

    def _refuse(self) -> None:
        self._refused = True
        detail = (
            f"the request line and headers exceed {MAX_HEAD_BYTES:,} bytes; send fewer or shorter headers "
            "(a long query belongs in a POST body)"
        )
        body = json.dumps({"detail": detail}).encode()
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
        )
        self.transport.write(head + body)
        # a lingering close, as nginx does: what the client still sends is read and dropped for a moment, so the
        # 431 reaches it instead of a reset; the connection closes after LINGER_S whatever the client does
        self.loop.call_later(LINGER_S, self.transport.close)


def http_options() -> dict[str, Any]:
    """uvicorn.Config keywords for the bounded parser."""
    return {"http": BoundedHttpToolsProtocol}


__all__ = ["MAX_HEAD_BYTES", "BoundedHttpToolsProtocol", "http_options"]
