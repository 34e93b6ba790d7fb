"""`sentilstm serve`: check everything a user can get wrong, then hand over to uvicorn (one or more workers).

    run(ServeSettings("model.sentilstm"), host="127.0.0.1", port=8000, workers=2)

Workers are separate processes, each loading the model once (uvicorn imports `app_from_env`, which reads
the settings from SENTILSTM_SERVE_* variables). On a 2-core machine two single-threaded workers serve
1.6-5.6x what one two-threaded worker does (PERF_NOTES section 3): use one worker per core.

This process makes the web page's private folder (`page_files.PageFolder`) before anything else, hands it to
its workers, holds its lock while they serve, and removes it when the server stops. SIGTERM stops the server
with status 0 once the work in flight has been cancelled (`workers.GracefulServer`).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable

from sentilstm.config import check_integer
from sentilstm.errors import ConfigError
from sentilstm.serve.feedback import FeedbackStore
from sentilstm.serve.page_files import FOLDER_ENV, PageFolder
from sentilstm.serve.protocol import http_options
from sentilstm.serve.service import load_classifier
from sentilstm.serve.settings import ServeSettings
from sentilstm.serve.workers import FACTORY, GracefulServer, reuse_port_supported, serve_workers
from sentilstm.system.threads import max_processes

log = logging.getLogger(__name__)


def check_port(host: str, port: int) -> None:
    """ConfigError unless this process could listen on host:port now (the common mistake: a server already there)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be between 0 and 65535, got {port}")
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(
            f"host {host!r} cannot be resolved ({exc.strerror}); use an address such as 127.0.0.1 "
            "(this machine only) or 0.0.0.0 (every interface)"
        ) from None
    with socket.socket(family, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT leftovers are fine
        try:
            sock.bind(address)
        except OSError as exc:
            reason = "it is already in use" if exc.errno == 98 else exc.strerror
            raise ConfigError(
                f"cannot listen on {host}:{port}: {reason}; choose another --port or stop the program that holds it"
            ) from None


def run(
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    access_log: bool = False,
    log_level: str = "info",
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Check the model, the feedback database and the port, then serve until Ctrl-C; returns the exit status.

    `on_ready(feedback_url)` runs once the checks have passed (the URL with any password hidden). Several
    workers get a listening socket each (SO_REUSEPORT, see `workers.py`) where the system supports it.
    """
    import uvicorn

    from sentilstm.serve.app import build_app

    check_integer("workers", workers, low=1, high=max_processes())
    folder = PageFolder.create(settings.upload_dir)  # a bad --upload-dir fails here, before the model loads
    try:
        classifier = load_classifier(
            settings.model_path, settings.backend, settings.threads or 1, settings.device
        )  # a bad model or device fails here
        store = FeedbackStore(settings.database_url())  # a bad URL fails here; the table exists before workers race
        store.close()
        check_port(host, port)
        if on_ready is not None:
            on_ready(store.safe_url)
        options = dict(
            host=host,
            port=port,
            access_log=access_log,
            log_level=log_level,
            timeout_graceful_shutdown=10,
            **http_options(),
        )
        if workers == 1:  # serve in this process, with the model already loaded
            app = build_app(settings, classifier=classifier, page_folder=folder.path)
            return _serve_here(GracefulServer(uvicorn.Config(app, **options)))
        del classifier
        gc.collect()
        env = {**settings.to_env(), FOLDER_ENV: str(folder.path)}  # what the workers read
        if reuse_port_supported():
            del options["host"], options["port"]
            return serve_workers(env, host=host, port=port, workers=workers, options=options)
        os.environ.update(env)  # uvicorn's spawned workers inherit it
        uvicorn.run(FACTORY, factory=True, workers=workers, **options)
        return 0
    finally:
        folder.close()


def _serve_here(server: GracefulServer) -> int:
    """Run `server` in this process; 0 once stopped by a signal, 1 when it could not start.

    uvicorn raises a signal it stopped on again once it is done; SIGTERM's default action would kill this process
    before it removes the page folder (and report -15), so SIGTERM is a no-op here meanwhile.
    """
    if threading.current_thread() is not threading.main_thread():  # no signals there: uvicorn leaves them alone
        server.run()
        return 0 if server.started else 1
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0 if server.started else 1


__all__ = ["FACTORY", "check_port", "run"]
