"""Bounded time per request: a deadline, cancellation when the client leaves, and when the server stops.

    app.add_middleware(RequestDeadline, seconds=60, unwatched=("/predict",))
    token = work_token(request)                        # in a route: the request's cancellation token
    await run_in_thread(score_upload, ..., check=token.check)   # long work checks it between chunks

A thread cannot be killed, so long work (file scoring, explanations) calls `token.check()` between chunks and
stops there with `Cancelled`. The middleware cancels the token, and the route's task, when

- the deadline passes before the answer starts: the client gets a 504 naming `--request-timeout`;
- the client disconnects after sending its request (watched on every route but the cheap micro-batched ones,
  which finish in milliseconds anyway): nothing is answered, the work stops;
- the server starts shutting down (`cancel_all`, called by `workers.GracefulServer`): running work answers 503
  at its next check, so a SIGTERM never waits behind a 350 s explanation.

Work still queued for a thread when its request is cancelled never starts: `run_in_thread` and the explain
executor drop it (their futures are cancelled before a thread picks them up).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
T = TypeVar("T")
SHUTTING_DOWN = "the server is shutting down; send the request again (to another server or once it is back)"
_LIVE: set[WorkToken] = set()  # tokens of the requests in progress in this process: `cancel_all` stops them


class Cancelled(Exception):
    """Raised by `WorkToken.check` in the thread doing a request's work once the request is cancelled."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class WorkToken:
    """A request's cancellation flag, safe to check from any thread."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self.status = 503
        self.detail = ""

    def cancel(self, status: int, detail: str) -> None:
        """Ask the work to stop; the first reason given wins."""
        if not self._cancelled.is_set():
            self.status, self.detail = status, detail
            self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise `Cancelled` once the request has been cancelled; long work calls this between chunks."""
        if self._cancelled.is_set():
            raise Cancelled(self.status, self.detail)


def cancel_all(detail: str = SHUTTING_DOWN) -> int:
    """Cancel the work of every request in progress in this process (503 with `detail`); returns how many."""
    tokens = list(_LIVE)
    for token in tokens:
        token.cancel(503, detail)
    if tokens:
        log.info("cancelled the work of %d request(s) in progress: %s", len(tokens), detail)
    return len(tokens)


def work_token(request: Request) -> WorkToken:
    """The request's token, set by `RequestDeadline` (a fresh, never-cancelled one when the middleware is absent)."""
    token = request.scope.get("state", {}).get("work_token")
    return token if isinstance(token, WorkToken) else WorkToken()


async def run_in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` on the event loop's default thread pool; cancelling the caller returns at once
    (a queued call is dropped, a running one finishes on its own, or stops at its token's next check)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(function, *args, **kwargs))


class RequestDeadline:
    """ASGI middleware: a `WorkToken` per HTTP request (`request.state.work_token`), cancelled at the deadline,
    when the client disconnects, or by `cancel_all`; see the module docstring."""

    def __init__(self, app: ASGIApp, *, seconds: float, unwatched: Collection[str] = ()) -> None:
        self.app = app
        self.seconds = seconds
        self.unwatched = frozenset(unwatched)  # paths whose disconnects are not watched (cheap, latency-critical)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = WorkToken()
        scope.setdefault("state", {})["work_token"] = token
        _LIVE.add(token)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        why: list[str] = []  # "deadline" or "disconnect", once this middleware has cancelled the task
        started = completed = finished = False
        gone = asyncio.Event()  # the client has disconnected
        watcher: asyncio.Task[None] | None = None
        watch = scope["path"] not in self.unwatched

        def stop(reason: str, status: int, detail: str) -> None:
            if not why and not finished:
                why.append(reason)
                token.cancel(status, detail)
                task.cancel()

        def expire() -> None:
            if not started:
                stop(
                    "deadline",
                    504,
                    f"the request took longer than {self.seconds:g} s (--request-timeout); "
                    "send less work (fewer rows, a shorter text, fewer num_samples) or ask for a "
                    "longer --request-timeout",
                )

        def left() -> None:
            gone.set()
            if not completed:  # uvicorn also reports a disconnect once the answer is complete: nothing to stop
                token.cancel(499, "the client disconnected")  # before the log line, so the line is already true
                log.info("%s %s: the client disconnected; its work is cancelled", scope["method"], scope["path"])

        async def watch_disconnect() -> None:  # owns `receive` once the body is in: only a disconnect can come
            while (await receive())["type"] != "http.disconnect":
                pass
            left()
            if not completed:
                stop("disconnect", 499, "the client disconnected")

        async def guarded_receive() -> Message:
            nonlocal watcher
            if watcher is not None:  # the watcher reads the connection now; pass its news on
                await gone.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.disconnect":  # gone before its request was read: the app stops by itself
                left()
            elif watch and not message.get("more_body", False):
                watcher = loop.create_task(watch_disconnect())
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started, completed
            if message["type"] == "http.response.start":
                started = True
                timer.cancel()
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                completed = True
            await send(message)

        timer = loop.call_later(self.seconds, expire)
        try:
            await self.app(scope, guarded_receive, watched_send)
        except asyncio.CancelledError:
            if not why and started:  # cancelled by uvicorn's shutdown after the answer began: nothing to add
                token.cancel(503, SHUTTING_DOWN)
                raise
            await _answer_cancelled(scope, send, task, token, why[0] if why else None, started)
        finally:
            finished = True
            timer.cancel()
            if watcher is not None:
                watcher.cancel()
            _LIVE.discard(token)


async def _answer_cancelled(
    scope: Scope, send: Send, task: asyncio.Task[Any], token: WorkToken, why: str | None, started: bool
) -> None:
    """The answer of a request whose task was cancelled: by the shutdown (`why` None) 503, past its deadline
    504 (unless its answer had begun), after its client left none."""
    if why is None:  # cancelled from outside: uvicorn gave up waiting for it while stopping
        token.cancel(503, SHUTTING_DOWN)
        log.warning("%s %s: cut short by the shutdown", scope["method"], scope["path"])
        await _send_json(send, 503, SHUTTING_DOWN)  # a clear answer rather than uvicorn's bare 500
        return  # the task ends here anyway: nothing waits on it any more
    _uncancel(task)
    if why == "deadline" and not started:
        log.warning("%s %s: %s", scope["method"], scope["path"], token.detail)
        await _send_json(send, 504, token.detail)


def _uncancel(task: asyncio.Task[Any]) -> None:
    """Undo this middleware's own `task.cancel()` once handled (Python 3.11+ counts cancellations)."""
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = ["Cancelled", "RequestDeadline", "SHUTTING_DOWN", "WorkToken", "cancel_all", "run_in_thread", "work_token"]
