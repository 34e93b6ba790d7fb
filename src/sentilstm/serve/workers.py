"""Several uvicorn worker processes on one port, each with its own SO_REUSEPORT listening socket (Linux), and the
supervisor that keeps them serving.

    serve_workers(env, host="0.0.0.0", port=8000, workers=2, options={"log_level": "warning"})

Why a socket per worker: with one shared listening socket, whichever worker wakes first accepts every connection
waiting (asyncio and uvloop accept up to the backlog per wake-up). 32 keep-alive clients connecting together all
landed on one of two workers in bench/http_latency.py, halving throughput. With one socket per worker the kernel
spreads connections over the workers by hashing each connection.

Why not uvicorn's own supervisor: since 0.30 `uvicorn.run(..., workers=N)` pings its workers over a pipe and
replaces the dead ones, but its workers share one socket (above), it stops the whole server when any worker exits
with its start-up failure code, and its `Process` class changed signature between releases. This supervisor
keeps its design (a ping over a pipe per worker) and adds:

- readiness: a worker counts as serving once its uvicorn server has started (an event it sets), not after a
  guessed number of seconds, which misjudged slow starts on a loaded machine;
- liveness: the worker's event loop answers the ping, not a side thread, so a worker whose loop is stuck (a
  blocking call in a route) fails it and is replaced after `health_timeout` seconds;
- a slot whose worker dies twice before it is ready is parked and tried again later (30 s, doubling up to
  10 min) while the healthy workers keep serving, and the log says so; the server gives up (status 1) only when
  no worker is serving and every slot has failed to start;
- shutdown: SIGINT/SIGTERM are passed on; each worker cancels its work in flight at once (`GracefulServer`)
  and has STOP_TIMEOUT seconds to exit before it is killed.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from sentilstm.serve.deadlines import cancel_all

log = logging.getLogger(__name__)
FACTORY = "sentilstm.serve.app:app_from_env"
SLOT_ENV = "SENTILSTM_WORKER_SLOT"  # a worker's slot, 0 to workers - 1 (its replacements keep it)
STOP_TIMEOUT = 15.0  # seconds a worker has to exit after SIGTERM before it is killed
HEALTH_INTERVAL = 5.0  # seconds between two pings of a serving worker
HEALTH_TIMEOUT = 30.0  # a serving worker whose event loop leaves a ping unanswered this long is replaced
RETRY_FIRST, RETRY_MAX = 30.0, 600.0  # back-off of a slot whose worker failed twice while starting
TICK = 0.2  # seconds between two looks at the workers


class GracefulServer(uvicorn.Server):
    """uvicorn's Server that cancels the work of the requests in flight as soon as shutdown starts (they answer
    503 at their next check instead of holding the shutdown for minutes), sets `ready` once it serves, and
    answers pings on `pings` from its event loop."""

    def __init__(self, config: uvicorn.Config, *, ready: Any = None, pings: Any = None) -> None:
        super().__init__(config)
        self.ready, self.pings = ready, pings

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.pings is not None:
            loop = asyncio.get_running_loop()
            threading.Thread(target=_answer_pings, args=(self.pings, loop), daemon=True, name="sentilstm-pong").start()
        if self.started and self.ready is not None:
            self.ready.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        cancel_all()
        await super().shutdown(sockets)


async def _pong() -> None:
    """Runs on the worker's event loop: a stuck loop never runs it, so its ping goes unanswered."""


def _answer_pings(pings: Any, loop: asyncio.AbstractEventLoop) -> None:
    try:
        while pings.recv() is not None:
            asyncio.run_coroutine_threadsafe(_pong(), loop).result()
            pings.send(True)
    except (EOFError, OSError, RuntimeError):  # the supervisor is gone, or the loop closed
        return


def reuse_port_supported() -> bool:
    """True where SO_REUSEPORT balances connections across listening sockets (Linux 3.9+)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket that shares `host:port` with this user's other such sockets."""
    family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def _exit_with_parent(parent: int) -> None:
    """Stop this worker (gracefully, SIGTERM) once the supervisor is gone, e.g. killed with SIGKILL."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(
    app: str, env: dict[str, str], host: str, port: int, options: dict[str, Any], parent: int, ready: Any, pings: Any
) -> None:  # runs in the child
    os.environ.update(env)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    sock = reuse_port_socket(host, port)
    GracefulServer(uvicorn.Config(app, factory=True, **options), ready=ready, pings=pings).run(sockets=[sock])


@dataclass
class _Slot:
    """One worker's place: its current process, and how its starts went."""

    number: int
    process: Any = None  # multiprocessing.Process, or None while parked
    ready: Any = None  # multiprocessing.Event set by the worker once it serves
    pings: Any = None  # the supervisor's end of the ping pipe
    serving: bool = False
    failures: int = 0  # deaths before ready, in a row
    retry_at: float | None = None  # when a parked slot tries again
    backoff: float = RETRY_FIRST
    ping_sent: float | None = None
    last_pong: float = field(default_factory=time.monotonic)


class Supervisor:
    """Starts, watches and replaces the workers of `serve_workers` (see the module docstring)."""

    def __init__(
        self,
        app: str,
        env: dict[str, str],
        host: str,
        port: int,
        workers: int,
        options: dict[str, Any],
        health_timeout: float,
    ) -> None:
        self.app, self.env, self.host, self.port, self.options = app, env, host, port, options
        self.health_timeout = health_timeout
        self.context = multiprocessing.get_context("spawn")
        self.slots = [_Slot(i) for i in range(workers)]

    def start(self, slot: _Slot) -> None:
        slot.ready, slot.serving, slot.retry_at, slot.ping_sent = self.context.Event(), False, None, None
        slot.pings, child_end = self.context.Pipe()
        env = {**self.env, SLOT_ENV: str(slot.number)}
        slot.process = self.context.Process(
            target=_worker,
            name=f"sentilstm-serve-worker-{slot.number}",
            args=(self.app, env, self.host, self.port, self.options, os.getpid(), slot.ready, child_end),
        )
        slot.process.start()
        child_end.close()

    def serving(self) -> int:
        return sum(slot.serving for slot in self.slots)

    def watch(self, slot: _Slot, now: float) -> None:
        """One look at `slot`: start it when due, notice it ready, dead or stuck."""
        process = slot.process
        if process is None:
            if slot.retry_at is not None and now >= slot.retry_at:
                log.info("trying slot %d again", slot.number)
                self.start(slot)
            return
        if not process.is_alive():
            self.died(slot, now)
        elif not slot.serving and slot.ready.is_set():
            slot.serving, slot.failures, slot.backoff, slot.last_pong = True, 0, RETRY_FIRST, now
            log.info(
                "worker %d ready (slot %d; %d of %d serving)", process.pid, slot.number, self.serving(), len(self.slots)
            )
        elif slot.serving and not self.healthy(slot, now):
            log.error(
                "worker %d (slot %d) did not answer a health check in %g s; replacing it",
                process.pid,
                slot.number,
                self.health_timeout,
            )
            process.kill()
            process.join()
            self.start(slot)

    def died(self, slot: _Slot, now: float) -> None:
        process = slot.process
        process.join()
        if slot.serving:
            log.warning(
                "worker %d (slot %d) exited with status %s; starting a new one",
                process.pid,
                slot.number,
                process.exitcode,
            )
            slot.failures = 0
            self.start(slot)
            return
        slot.failures += 1
        if slot.failures < 2:
            log.warning(
                "worker %d (slot %d) exited with status %s before it was ready; trying once more",
                process.pid,
                slot.number,
                process.exitcode,
            )
            self.start(slot)
            return
        slot.process, slot.retry_at = None, now + slot.backoff
        log.error(
            "slot %d failed twice while starting (status %s); serving with %d of %d workers; trying it again in %d s",
            slot.number,
            process.exitcode,
            self.serving(),
            len(self.slots),
            slot.backoff,
        )
        slot.backoff = min(slot.backoff * 2, RETRY_MAX)

    def healthy(self, slot: _Slot, now: float) -> bool:
        """Ping a serving worker every HEALTH_INTERVAL s without waiting; False once one went unanswered too long."""
        try:
            if slot.ping_sent is None:
                if now - slot.last_pong >= HEALTH_INTERVAL:
                    slot.pings.send(now)
                    slot.ping_sent = now
                return True
            if slot.pings.poll(0):
                slot.pings.recv()
                slot.ping_sent, slot.last_pong = None, now
                return True
        except (EOFError, OSError):  # the worker is exiting: `is_alive` says so on the next look
            return True
        return now - slot.ping_sent < self.health_timeout

    def given_up(self) -> bool:
        """True when no worker serves or may still become ready, and every slot failed to start."""
        return all(slot.process is None for slot in self.slots)

    def stop(self) -> None:
        running = [slot.process for slot in self.slots if slot.process is not None]
        for process in running:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # uvicorn cancels the work in flight and exits
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("worker %d did not stop within %g s; killing it", process.pid, STOP_TIMEOUT)
                process.kill()
                process.join()


def serve_workers(
    env: dict[str, str],
    *,
    host: str,
    port: int,
    workers: int,
    options: dict[str, Any],
    app: str = FACTORY,
    health_timeout: float = HEALTH_TIMEOUT,
) -> int:
    """Run `workers` processes serving the app factory `app` on host:port until SIGINT/SIGTERM; returns the exit
    status (0 when stopped by a signal, 1 when no worker could start).

    `env` holds the SENTILSTM_SERVE_* settings the workers read; `options` are uvicorn.Config keywords.
    Port 0 picks a free port once, here, so every worker listens on the same one.
    """
    placeholder = reuse_port_socket(
        host, port
    )  # holds the port (a bound socket that never listens gets no connections)
    port = placeholder.getsockname()[1]
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    supervisor = Supervisor(app, env, host, port, workers, options, health_timeout)
    status = 0
    log.info("serving on http://%s:%d with %d workers", host, port, workers)
    try:
        for slot in supervisor.slots:
            supervisor.start(slot)
        while not stopping.wait(TICK):
            now = time.monotonic()
            for slot in supervisor.slots:
                if not stopping.is_set():
                    supervisor.watch(slot, now)
            if supervisor.given_up():
                log.error("no worker could start; stopping (see the errors above)")
                status = 1
                break
    finally:
        supervisor.stop()
        placeholder.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


__all__ = ["FACTORY", "GracefulServer", "SLOT_ENV", "reuse_port_socket", "reuse_port_supported", "serve_workers"]
