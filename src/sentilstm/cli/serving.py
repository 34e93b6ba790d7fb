"""`sentilstm serve`: the HTTP API and web page of a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from sentilstm.cli.common import (
    DeviceOpt,
    VerboseOpt,
    app,
    console,
    friendly,
    setup_logging,
)


@app.command()
@friendly
def serve(
    model: Annotated[Path, typer.Argument(help="A model file written by train or baseline.")],
    host: Annotated[
        str, typer.Option(help="Address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 for all.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes, each with its own copy of the model: one per CPU core.")
    ] = 1,
    backend: Annotated[
        str,
        typer.Option(help="Where the network runs: torch, onnx or onnx-int8 (fastest on CPU; see `sentilstm export`)."),
    ] = "torch",
    threads: Annotated[
        Optional[int], typer.Option(help="CPU threads per worker (default 1; scale with --workers instead).")
    ] = None,
    feedback_db: Annotated[
        Optional[str],
        typer.Option(
            help="SQLAlchemy URL of the feedback database, e.g. postgresql://user:pw@host/db (default: sqlite beside MODEL, model.feedback.db)."
        ),
    ] = None,
    max_texts: Annotated[int, typer.Option(help="Most texts in one request.")] = 1000,
    max_chars: Annotated[int, typer.Option(help="Most characters in one text.")] = 20_000,
    max_body_bytes: Annotated[int, typer.Option(help="Largest JSON request body in bytes (larger: 413).")] = 2_000_000,
    batch_max: Annotated[
        int, typer.Option(help="Most texts in one model call when concurrent requests are batched.")
    ] = 64,
    batch_wait_ms: Annotated[
        float,
        typer.Option(help="Under load, how long a batch may wait for more requests (an idle server never waits)."),
    ] = 1.0,
    api_key: Annotated[
        Optional[str],
        typer.Option(
            envvar="SENTILSTM_API_KEY",
            show_default=False,
            help="Require this key (header 'Authorization: Bearer KEY' or 'X-API-Key: KEY') on every route but /health and the page itself, which asks for it. Prefer the environment variable: `ps` shows command lines.",
        ),
    ] = None,
    read_key: Annotated[
        Optional[str],
        typer.Option(
            envvar="SENTILSTM_READ_KEY",
            show_default=False,
            help="A second key that may only read: GET routes, /predict and /explain; not storing feedback or scoring files. Needs --api-key.",
        ),
    ] = None,
    allowed_host: Annotated[
        Optional[list[str]],
        typer.Option(
            help="A Host header name to answer, against DNS rebinding (repeatable; '*' for any). Default: the --host address and localhost; with --host 0.0.0.0, any name."
        ),
    ] = None,
    cors_origin: Annotated[
        Optional[list[str]],
        typer.Option(
            help="Let pages from this origin call the API from a browser, e.g. https://app.example.com (repeatable; '*' for any). Default: CORS off."
        ),
    ] = None,
    rate_limit: Annotated[
        Optional[int],
        typer.Option(
            help="Requests a minute per client address (then 429 with Retry-After); each worker counts its own. Default: no limit."
        ),
    ] = None,
    raw_csv: Annotated[
        bool,
        typer.Option(
            "--raw-csv",
            help="Scored CSV downloads keep cells starting with = + - @ as they are (default: a leading ' so spreadsheets do not run them as formulas).",
        ),
    ] = False,
    request_timeout: Annotated[
        float,
        typer.Option(help="Seconds a request may take before its answer starts (else 504); its work stops at once."),
    ] = 60.0,
    max_explain_chars: Annotated[
        int,
        typer.Option(
            help="Most characters in one /explain text (lime and kernel_shap cost grows with words x samples)."
        ),
    ] = 5_000,
    max_explain_words: Annotated[
        int, typer.Option(help="Most words in one /explain text (kernel_shap's final solve grows with words squared).")
    ] = 1000,
    max_explain_samples: Annotated[int, typer.Option(help="Most num_samples in one /explain request.")] = 2000,
    max_upload_rows: Annotated[
        int, typer.Option(help="Most rows in a table scored on the web page (more: 413, before any is scored).")
    ] = 200_000,
    max_decompressed_bytes: Annotated[
        int, typer.Option(help="Most bytes a .gz upload may unpack to (stopped while it unpacks).")
    ] = 256 * 1024 * 1024,
    upload_dir: Annotated[
        Optional[Path],
        typer.Option(
            help="Folder in which the server makes its private folder for the web page's uploads (removed when it stops); yours, not writable by others. Default: the temporary folder."
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request (costs throughput).")
    ] = False,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = True,
) -> None:
    """Serve a model over HTTP: /predict, /explain, /model, /health, /feedback and /trends, a web page at /, API docs at /docs."""
    setup_logging(verbose)
    from sentilstm.serve.security import describe_guards, serve_allowed_hosts
    from sentilstm.serve.server import run
    from sentilstm.serve.settings import ServeSettings

    settings = ServeSettings(
        str(model),
        backend=backend,
        threads=threads,
        feedback_url=feedback_db,
        max_texts=max_texts,
        max_chars=max_chars,
        max_body_bytes=max_body_bytes,
        batch_max=batch_max,
        batch_wait_ms=batch_wait_ms,
        device=device,
        api_key=api_key,
        read_key=read_key,
        allowed_hosts=serve_allowed_hosts(host, allowed_host or []),
        cors_origins=tuple(cors_origin or ()),
        rate_limit=rate_limit,
        raw_csv=raw_csv,
        request_timeout=request_timeout,
        max_explain_chars=max_explain_chars,
        max_explain_samples=max_explain_samples,
        max_explain_words=max_explain_words,
        max_upload_rows=max_upload_rows,
        max_decompressed_bytes=max_decompressed_bytes,
        upload_dir=None if upload_dir is None else str(upload_dir),
    )

    def announce(feedback: str) -> None:  # once the model, the database and the port have been checked
        console.print(
            f"serving {model} ({backend}) on http://{host}:{port} with {workers} worker{'s' if workers > 1 else ''}: "
            f"web page /, API docs /docs; feedback in {feedback}; Ctrl-C stops",
            soft_wrap=True,
        )
        console.print(f"guards: {describe_guards(settings)}", soft_wrap=True)

    status = run(
        settings,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info" if verbose else "warning",
        on_ready=announce,
    )
    if status:
        raise typer.Exit(status)
