"""`sentilstm serve`: the HTTP API and web page of a model."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from sentilstm.cli.common import app, console, friendly, setup_logging
from sentilstm.cli.options import AnyModelArg, DeviceOpt, VerboseOpt

if TYPE_CHECKING:
    from sentilstm.onnx.backends import Backend
    from sentilstm.serve.settings import ServeSettings

HostOpt = Annotated[str, typer.Option(help="Address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 for all.")]
WorkersOpt = Annotated[
    int, typer.Option(help="Worker processes, each with its own copy of the model: one per CPU core.")
]
BackendOpt = Annotated[
    str,
    typer.Option(help="Where the network runs: torch, onnx or onnx-int8 (fastest on CPU; see `sentilstm export`)."),
]
ThreadsOpt = Annotated[
    int | None, typer.Option(help="CPU threads per worker (default 1; scale with --workers instead).")
]
FeedbackDbOpt = Annotated[
    str | None,
    typer.Option(
        help="SQLAlchemy URL of the feedback database, e.g. postgresql://user:pw@host/db (default: sqlite beside "
        "MODEL, model.feedback.db)."
    ),
]
MaxBodyBytesOpt = Annotated[int, typer.Option(help="Largest JSON request body in bytes (larger: 413).")]
BatchMaxOpt = Annotated[int, typer.Option(help="Most texts in one model call when concurrent requests are batched.")]
BatchWaitOpt = Annotated[
    float,
    typer.Option(help="Under load, how long a batch may wait for more requests (an idle server never waits)."),
]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        envvar="SENTILSTM_API_KEY",
        show_default=False,
        help="Require this key (header 'Authorization: Bearer KEY' or 'X-API-Key: KEY') on every route but /health "
        "and the page itself, which asks for it. Prefer the environment variable: `ps` shows command lines.",
    ),
]
ReadKeyOpt = Annotated[
    str | None,
    typer.Option(
        envvar="SENTILSTM_READ_KEY",
        show_default=False,
        help="A second key that may only read: GET routes, /predict and /explain; not storing feedback or scoring "
        "files. Needs --api-key.",
    ),
]
AllowedHostOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="A Host header name to answer, against DNS rebinding (repeatable; '*' for any). Default: the --host "
        "address and localhost; with --host 0.0.0.0, any name."
    ),
]
CorsOriginOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="Let pages from this origin call the API from a browser, e.g. https://app.example.com (repeatable; '*' "
        "for any). Default: CORS off."
    ),
]
RateLimitOpt = Annotated[
    int | None,
    typer.Option(
        help="Requests a minute per client address (then 429 with Retry-After); each worker counts its own. "
        "Default: no limit."
    ),
]
RawCsvOpt = Annotated[
    bool,
    typer.Option(
        "--raw-csv",
        help="Scored CSV downloads keep cells starting with = + - @ as they are (default: a leading ' so "
        "spreadsheets do not run them as formulas).",
    ),
]
RequestTimeoutOpt = Annotated[
    float,
    typer.Option(help="Seconds a request may take before its answer starts (else 504); its work stops at once."),
]
MaxExplainCharsOpt = Annotated[
    int,
    typer.Option(help="Most characters in one /explain text (lime and kernel_shap cost grows with words x samples)."),
]
MaxExplainWordsOpt = Annotated[
    int, typer.Option(help="Most words in one /explain text (kernel_shap's final solve grows with words squared).")
]
MaxExplainSamplesOpt = Annotated[int, typer.Option(help="Most num_samples in one /explain request.")]
MaxUploadRowsOpt = Annotated[
    int, typer.Option(help="Most rows in a table scored on the web page (more: 413, before any is scored).")
]
MaxDecompressedOpt = Annotated[
    int, typer.Option(help="Most bytes a .gz upload may unpack to (stopped while it unpacks).")
]
UploadDirOpt = Annotated[
    Path | None,
    typer.Option(
        help="Folder in which the server makes its private folder for the web page's uploads (removed when it "
        "stops); yours, not writable by others. Default: the temporary folder."
    ),
]
AccessLogOpt = Annotated[
    bool, typer.Option("--access-log/--no-access-log", help="Log every request (costs throughput).")
]


# help= and no docstring: `sentilstm --help` shows a docstring's line breaks, and this line is too long
@app.command(
    help="Serve a model over HTTP: /predict, /explain, /model, /health, /feedback and /trends, a web page at /, "
    "API docs at /docs."
)
@friendly
def serve(
    model: AnyModelArg,
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: WorkersOpt = 1,
    backend: BackendOpt = "torch",
    threads: ThreadsOpt = None,
    feedback_db: FeedbackDbOpt = None,
    max_texts: Annotated[int, typer.Option(help="Most texts in one request.")] = 1000,
    max_chars: Annotated[int, typer.Option(help="Most characters in one text.")] = 20_000,
    max_body_bytes: MaxBodyBytesOpt = 2_000_000,
    batch_max: BatchMaxOpt = 64,
    batch_wait_ms: BatchWaitOpt = 1.0,
    api_key: ApiKeyOpt = None,
    read_key: ReadKeyOpt = None,
    allowed_host: AllowedHostOpt = None,
    cors_origin: CorsOriginOpt = None,
    rate_limit: RateLimitOpt = None,
    raw_csv: RawCsvOpt = False,
    request_timeout: RequestTimeoutOpt = 60.0,
    max_explain_chars: MaxExplainCharsOpt = 5_000,
    max_explain_words: MaxExplainWordsOpt = 1000,
    max_explain_samples: MaxExplainSamplesOpt = 2000,
    max_upload_rows: MaxUploadRowsOpt = 200_000,
    max_decompressed_bytes: MaxDecompressedOpt = 256 * 1024 * 1024,
    upload_dir: UploadDirOpt = None,
    access_log: AccessLogOpt = False,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = True,
) -> None:
    setup_logging(verbose)
    from sentilstm.serve.security import serve_allowed_hosts
    from sentilstm.serve.server import run
    from sentilstm.serve.settings import ServeSettings

    settings = ServeSettings(
        str(model),
        backend=cast("Backend", backend),  # ServeSettings checks it is one
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
    status = run(
        settings,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info" if verbose else "warning",
        on_ready=functools.partial(_announce, settings, model, host, port, workers),
    )
    if status:
        raise typer.Exit(status)


def _announce(settings: ServeSettings, model: Path, host: str, port: int, workers: int, feedback: str) -> None:
    """What is served where, and its guards: once the model, the database and the port have been checked."""
    from sentilstm.serve.security import describe_guards

    console.print(
        f"serving {model} ({settings.backend}) on http://{host}:{port} with {workers} "
        f"worker{'s' if workers > 1 else ''}: web page /, API docs /docs; feedback in {feedback}; Ctrl-C stops",
        soft_wrap=True,
    )
    console.print(f"guards: {describe_guards(settings)}", soft_wrap=True)
