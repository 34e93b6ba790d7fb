"""Several uvicorn worker processes on one port, each with its own SO_REUSEPORT listening socket (Linux).

    serve_workers(env, host="0.0.0.0", port=8000, workers=2, options={"log_level": "warning"})

Why not `uvicorn.run(..., workers=N)`: its workers share one listening socket, and whichever wakes first
accepts every connection waiting (asyncio and uvloop accept up to the backlog per wake-up). 32 keep-alive
clients connecting together all landed on one of two workers in bench/http_latency.py, halving throughput.
With one socket per worker the kernel spreads connections over the workers by hashing each connection.

The parent only supervises: it forwards Ctrl-C/SIGTERM, restarts a worker that dies, and gives up when a
worker cannot start (a crash within `STARTUP_GRACE` seconds twice in a row).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

log = logging.getLogger(__name__)
FACTORY = "sentilstm.serve.app:app_from_env"
STARTUP_GRACE = 10.0  # seconds: a worker dying sooner than this is a startup failure, not a crash to restart
STOP_TIMEOUT = 15.0   # seconds to wait for graceful worker exits before killing them


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


def _worker(app: str, env: dict[str, str], host: str, port: int, options: dict[str, Any], parent: int) -> None:  # child
    import uvicorn

    os.environ.update(env)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    sock = reuse_port_socket(host, port)
    config = uvicorn.Config(app, factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(env: dict[str, str], *, host: str, port: int, workers: int, options: dict[str, Any],
                  app: str = FACTORY) -> int:
    """Run `workers` processes serving the app factory `app` on host:port until SIGINT/SIGTERM; returns the exit status.

    `env` holds the SENTILSTM_SERVE_* settings the workers read; `options` are uvicorn.Config keywords.
    Port 0 picks a free port once, here, so every worker listens on the same one.
    """
    placeholder = reuse_port_socket(host, port)  # holds the port (a bound socket that never listens gets no connections)
    port = placeholder.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start() -> tuple[multiprocessing.process.BaseProcess, float]:
        process = context.Process(target=_worker, args=(app, env, host, port, options, os.getpid()), name="sentilstm-serve-worker")
        process.start()
        return process, time.monotonic()

    processes = [start() for _ in range(workers)]
    early_deaths = [0] * workers
    status = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for i, (process, started) in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                early = time.monotonic() - started < STARTUP_GRACE
                early_deaths[i] = early_deaths[i] + 1 if early else 0
                if early_deaths[i] >= 2:
                    log.error("worker %d exited with status %s twice while starting; stopping", process.pid, process.exitcode)
                    stopping, status = True, 1
                    break
                log.warning("worker %d exited with status %s; starting a new one", process.pid, process.exitcode)
                processes[i] = start()
    finally:
        for process, _ in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # uvicorn finishes the requests in flight, then exits
        deadline = time.monotonic() + STOP_TIMEOUT
        for process, _ in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        placeholder.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


__all__ = ["FACTORY", "reuse_port_socket", "reuse_port_supported", "serve_workers"]
