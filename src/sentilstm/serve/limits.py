"""Request limits: body size (413, checked before anything is parsed), texts per request / characters per text and
an explanation's size (422 in FastAPI's validation format), an upload's rows and unpacked size (413, `LimitExceeded`),
each message naming the limit and the option that sets it. The deadline per request is in `deadlines.py`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentilstm.errors import SentilstmError

OPTIONS = {
    "max_texts": "--max-texts",
    "max_chars": "--max-chars",
    "max_body_bytes": "--max-body-bytes",
    "max_upload_bytes": "--max-upload-bytes",
    "max_explain_chars": "--max-explain-chars",
    "max_explain_words": "--max-explain-words",
    "max_explain_samples": "--max-explain-samples",
    "max_upload_rows": "--max-upload-rows",
    "max_decompressed_bytes": "--max-decompressed-bytes",
    "request_timeout": "--request-timeout",
}


class LimitExceeded(SentilstmError):
    """An upload needs more than a server limit allows (rows, unpacked bytes): a 413 with this one-line message,
    which names what was given, the limit and its option."""


class BodyTooLarge(HTTPException):
    """413; raised while the body streams in, so FastAPI passes it on as it is."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


class InFlight:
    """How many POST requests to `paths` are in progress, first byte in to last byte out (the micro-batcher
    waits for those that have not reached it yet)."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = frozenset(paths)
        self.count = 0


class BodySizeLimit:
    """ASGI middleware: refuse a body over the limit from its Content-Length before reading it, and stop a
    body without one (chunked) as soon as it passes the limit. Multipart bodies (file uploads) have their own.

    It also keeps the `in_flight` count: one middleware layer instead of two on the latency-critical path.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, in_flight: InFlight | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight is None or scope["method"] != "POST" or scope["path"] not in self.in_flight.paths:
            await self._limited(scope, receive, send)
            return
        self.in_flight.count += 1
        try:
            await self._limited(scope, receive, send)
        finally:
            self.in_flight.count -= 1

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        length: int | None = None
        multipart = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"content-type":
                multipart = value[:19].lower() == b"multipart/form-data"
        limit, option = (
            (self.max_upload_bytes, "max_upload_bytes") if multipart else (self.max_body_bytes, "max_body_bytes")
        )
        if length is not None and length > limit:
            await _send_413(send, f"the request body has {length} bytes; the limit is {limit} ({OPTIONS[option]})")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(
                        f"the request body has more than {limit} bytes; the limit is {limit} ({OPTIONS[option]})"
                    )
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as exc:  # read outside a route (FastAPI's handlers turn it into a 413 inside one)
            if started:
                raise
            await _send_413(send, str(exc.detail))


async def _send_413(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def invalid(loc: Sequence[Any], message: str, kind: str = "value_error", given: Any = None) -> RequestValidationError:
    """A 422 in FastAPI's format: {"detail": [{"type", "loc", "msg", "input"}]}."""
    return RequestValidationError([{"type": kind, "loc": tuple(loc), "msg": message, "input": given}])


def check_texts(
    texts: Sequence[str], loc: Sequence[Any], *, max_texts: int, max_chars: int, item_loc: Sequence[Any] = ()
) -> None:
    """422 when `texts` (found at `loc` in the body) are too many or one is too long.

    `loc` of a single text ("body", "text") names it as such; for a list, item i is `(*loc, i, *item_loc)`.
    """
    single = len(loc) == 2 and loc[-1] == "text"
    name = ".".join(str(part) for part in loc[1:])
    if not single and len(texts) > max_texts:
        raise invalid(
            loc,
            f"{name} has {len(texts)} items; the limit is {max_texts} ({OPTIONS['max_texts']})",
            "too_long",
            len(texts),
        )
    errors = []
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            where = tuple(loc) if single else (*loc, i, *item_loc)
            label = name if single else f"{name}[{i}]" + "".join(f".{part}" for part in item_loc)
            errors.append(
                {
                    "type": "too_long",
                    "loc": where,
                    "input": len(text),
                    "msg": f"{label} has {len(text)} characters; the limit is {max_chars} ({OPTIONS['max_chars']})",
                }
            )
            if len(errors) == 10:  # enough to see the pattern
                break
    if errors:
        raise RequestValidationError(errors)


def check_explanation(text: str, num_samples: int, *, max_chars: int, max_words: int, max_samples: int) -> None:
    """422 when an explanation would be too costly: lime and kernel_shap re-predict `num_samples` perturbed copies
    of the text, so their cost grows with words x samples (kernel_shap's final solve with words squared)."""
    from sentilstm.explanations.methods import word_spans

    errors = []
    if len(text) > max_chars:
        errors.append(
            {
                "type": "too_long",
                "loc": ("body", "text"),
                "input": len(text),
                "msg": f"text has {len(text)} characters; explanations take up to {max_chars} "
                f"({OPTIONS['max_explain_chars']})",
            }
        )
    elif len(words := word_spans(text)) > max_words:  # counted only once the length is known to be sane
        errors.append(
            {
                "type": "too_long",
                "loc": ("body", "text"),
                "input": len(words),
                "msg": f"text has {len(words)} words; explanations take up to {max_words} "
                f"({OPTIONS['max_explain_words']})",
            }
        )
    if num_samples > max_samples:
        errors.append(
            {
                "type": "less_than_equal",
                "loc": ("body", "num_samples"),
                "input": num_samples,
                "msg": f"num_samples is {num_samples}; the limit is {max_samples} ({OPTIONS['max_explain_samples']})",
            }
        )
    if errors:
        raise RequestValidationError(errors)


__all__ = [
    "BodySizeLimit",
    "BodyTooLarge",
    "InFlight",
    "LimitExceeded",
    "OPTIONS",
    "check_explanation",
    "check_texts",
    "invalid",
]
