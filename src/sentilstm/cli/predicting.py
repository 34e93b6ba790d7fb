"""`predict`: classify texts given as arguments or on stdin (`-`, streamed to stdout), or score a table with
--input/--output, here in chunks or on a Ray cluster."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable
from rich.text import Text

from sentilstm.cli.common import app, check_out_paths, console, friendly, out, setup_logging
from sentilstm.cli.options import DeviceOpt, EncodingOpt, ModelArg, TextColumnOpt, VerboseOpt

if TYPE_CHECKING:
    from sentilstm.onnx.backends import Backend
    from sentilstm.scale.paths import OutputFormat


TextsArg = Annotated[
    list[str] | None, typer.Argument(help="Texts to classify; - reads them from stdin, one per line (or use --input).")
]
InputOpt = Annotated[
    str | None,
    typer.Option(
        "--input",
        help="Table to score, streamed in chunks. With --engine ray: a file, folder or quoted glob, local or s3://, "
        "gs://, hdfs://...",
    ),
]
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        help="Scored table (CSV/TSV/JSONL/Parquet). With --engine ray: a new folder of part files, format from its "
        "extension (scored.csv/, scored.parquet/) or --output-format, else Parquet.",
    ),
]
ChunkRowsOpt = Annotated[int, typer.Option(help="Rows per chunk when streaming --input.")]
PredictBackendOpt = Annotated[
    str,
    typer.Option(
        help="Where the network runs: torch, onnx (ONNX Runtime fp32) or onnx-int8 (dynamic int8, fastest on CPU). "
        "Uses MODEL.onnx / MODEL.int8.onnx from `sentilstm export` when present, else exports in memory."
    ),
]
PredictThreadsOpt = Annotated[
    int | None,
    typer.Option(
        help="Intra-op threads of the backend (default: the usable CPUs other processes leave free, re-measured "
        "while scoring with torch; 1 per actor with --engine ray)."
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        help="local (this process, streaming) or ray (a Ray Data actor pool; needs `pip install 'sentilstm[ray]'`)."
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        help="--engine ray: the cluster to join (auto, ray://head:10001); default: start a local Ray instance."
    ),
]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option(
        help="--engine ray: scoring actors (default: one per --threads CPUs, or per --num-gpus GPUs, of the cluster)."
    ),
]
RayBatchSizeOpt = Annotated[int | None, typer.Option(help="--engine ray: rows per actor call (default 4096).")]
NumGpusOpt = Annotated[float | None, typer.Option(help="--engine ray: GPUs per actor (torch backend); default 0.")]
OutputFormatOpt = Annotated[
    str | None,
    typer.Option(
        help="--engine ray: csv, jsonl or parquet part files (default: from --output's extension, else parquet)."
    ),
]


@app.command()
@friendly
def predict(
    model: ModelArg,
    texts: TextsArg = None,
    input_path: InputOpt = None,
    output_path: OutputOpt = None,
    text_column: TextColumnOpt = None,
    chunk_rows: ChunkRowsOpt = 10_000,
    encoding: EncodingOpt = "utf-8",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per text.")] = False,
    backend: PredictBackendOpt = "torch",
    threads: PredictThreadsOpt = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    concurrency: ConcurrencyOpt = None,
    batch_size: RayBatchSizeOpt = None,
    num_gpus: NumGpusOpt = None,
    output_format: OutputFormatOpt = None,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Classify texts given on the command line or, with -, one per line of stdin (JSON lines or CSV to stdout, as
    they come); or score a table with --input/--output (streamed here, or on Ray)."""
    setup_logging(verbose)
    from sentilstm.data.tables import check_encoding
    from sentilstm.onnx.backends import load_for_serving
    from sentilstm.text.normalize import clean_text

    ray_options = {
        "--ray-address": ray_address,
        "--concurrency": concurrency,
        "--batch-size": batch_size,
        "--num-gpus": num_gpus,
        "--output-format": output_format,
    }
    network = cast("Backend", backend)  # load_for_serving checks it is one
    if texts == ["-"]:  # one text per line of stdin, scored to stdout as they come
        given = {**ray_options, "--input": input_path, "--output": output_path, "--text-column": text_column}
        others = [name for name, value in given.items() if value is not None and name != "--output-format"]
        others += ["--engine"] if engine != "local" else []
        _predict_stream(model, network, threads, device, output_format, encoding, others)
        return
    _check_engine(engine, ray_options, bool(texts), device)
    paths = _table_paths(bool(texts), input_path, output_path)
    check_encoding(encoding)
    texts = [clean_text(text) for text in texts or []]  # undecodable argument bytes print as U+FFFD, not a crash
    if paths is None:  # texts given on the command line (the local engine)
        _print_predictions(load_for_serving(model, network, threads=threads, device=device), texts, as_json)
    elif engine == "ray":
        _predict_on_ray(
            model,
            *paths,
            text_column=text_column,
            encoding=encoding,
            backend=network,
            threads=threads,
            address=ray_address,
            concurrency=concurrency,
            batch_size=batch_size,
            num_gpus=num_gpus,
            output_format=cast("OutputFormat | None", output_format),  # ray_score checks it is one
            verbose=verbose,
        )
    else:
        check_out_paths({"MODEL": model, "--input": paths[0]}, output=Path(paths[1]))
        clf = load_for_serving(model, network, threads=threads, device=device)
        _score_table(clf, *paths, text_column=text_column, chunk_rows=chunk_rows, encoding=encoding)


def _predict_stream(
    model: Path, backend: Backend, threads: int | None, device: str, fmt: str | None, encoding: str, others: list[str]
) -> None:
    """`predict MODEL -`: texts from stdin, one per line, in batches as they arrive; JSON lines (or CSV) to stdout."""
    from sentilstm.data.streams import line_batches
    from sentilstm.data.tables import check_encoding
    from sentilstm.errors import ConfigError
    from sentilstm.estimators.scoring import score_stream
    from sentilstm.onnx.backends import load_for_serving

    if others:
        raise ConfigError(f"{', '.join(others)} cannot be used with '-' (texts from stdin, predictions to stdout)")
    if fmt not in (None, "jsonl", "csv"):
        raise ConfigError(f"--output-format with '-' must be jsonl or csv, got {fmt!r}")
    check_encoding(encoding)
    clf = load_for_serving(model, backend, threads=threads, device=device)
    try:
        score_stream(
            clf, line_batches(sys.stdin.buffer, encoding=encoding), sys.stdout, "csv" if fmt == "csv" else "jsonl"
        )
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _check_engine(engine: str, ray_options: dict[str, Any], texts: bool, device: str) -> None:
    """Raise ConfigError or DataError for an unknown --engine or an option that does not apply to the one given."""
    from sentilstm.errors import ConfigError, DataError

    if engine not in ("local", "ray"):
        raise ConfigError(f"--engine must be one of ['local', 'ray'], got {engine!r}")
    if engine == "local" and any(v is not None for v in ray_options.values()):
        given = [name for name, value in ray_options.items() if value is not None]
        raise ConfigError(
            f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only with --engine ray; "
            "add --engine ray or leave them out"
        )
    if engine == "ray" and texts:
        raise DataError("--engine ray scores tables: give --input FILES and --output FOLDER, not texts")
    if engine == "ray" and device != "auto":
        raise ConfigError(f"--device {device} applies to the local engine; with --engine ray give --num-gpus instead")


def _table_paths(texts: bool, input_path: str | None, output_path: str | None) -> tuple[str, str] | None:
    """(--input, --output) when a table is to be scored, None for texts given on the command line."""
    from sentilstm.errors import DataError

    if texts == (input_path is not None):
        raise DataError("give texts to classify, or --input FILE with --output FILE (not both)")
    if input_path is None:
        return None
    if output_path is None:
        raise DataError("--input needs --output FILE for the scored rows")
    return input_path, output_path


def _print_predictions(clf: Any, texts: list[str], as_json: bool) -> None:
    """Each text's label and probabilities: a table, or one JSON object per line (as `predict -` writes them)."""
    if as_json:
        from sentilstm.estimators.scoring import score_stream

        score_stream(clf, [texts], sys.stdout)
        return
    probabilities = clf.predict_proba(texts)
    predicted = clf.labels_from(probabilities).tolist()  # the classifier's own decision, without a second pass
    labels = clf.label_map_.labels
    table = RichTable(show_header=True)
    table.add_column("text", overflow="fold")
    table.add_column("label")
    for label in labels:
        table.add_column(f"p({label})", justify="right")
    for text, label, row in zip(texts, predicted, probabilities):
        table.add_row(Text(text[:200]), Text(str(label)), *(f"{p:.4f}" for p in row))
    out.print(table)


def _score_table(clf: Any, input_path: str, output_path: str, **options: Any) -> None:
    """`predict --input --output` on the local engine: stream the table through the model, with a row counter."""
    from sentilstm.estimators.scoring import score_file

    with Progress(
        TextColumn("scoring"),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,  # the summary line below says what a file or pipe needs to know
    ) as bar:
        task = bar.add_task("score", total=None)
        summary = score_file(clf, input_path, output_path, on_chunk=lambda n: bar.update(task, advance=n), **options)
    console.print(f"scored {summary.rows} rows in {summary.seconds:.1f}s -> {summary.output}")


def _predict_on_ray(
    model: Path,
    input_path: str,
    output_path: str,
    *,
    text_column: str | None,
    encoding: str,
    backend: Backend,
    threads: int | None,
    address: str | None,
    concurrency: int | None,
    batch_size: int | None,
    num_gpus: float | None,
    output_format: OutputFormat | None,
    verbose: bool,
) -> None:
    """`predict --engine ray`: join or start Ray, score with an actor pool, write a new folder of part files."""
    from sentilstm.errors import ConfigError
    from sentilstm.scale import ray_data

    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ConfigError(
            f"--engine ray reads UTF-8 only, got --encoding {encoding!r}; convert the files "
            "(iconv -f ... -t utf-8) or use the local engine"
        )
    ray = ray_data.import_ray()
    joined = ray.is_initialized()  # called from Python with Ray already up (tests, notebooks): leave it running
    if not verbose:  # Ray Data logs each execution plan at INFO; its progress bars stay
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        summary = ray_data.ray_score(
            input_path,
            output_path,
            model,
            output_format=output_format,
            text_column=text_column,
            address=address,
            backend=backend,
            threads=threads or 1,
            concurrency=concurrency,
            batch_size=batch_size or ray_data.DEFAULT_BATCH_SIZE,
            num_gpus=num_gpus or 0,
        )
    finally:
        if not joined:
            ray.shutdown()
    console.print(
        f"scored {summary.rows} rows in {summary.seconds:.1f}s -> {summary.output}/ "
        f"({summary.files} {summary.format} file{'s' if summary.files != 1 else ''})",
        soft_wrap=True,
    )
