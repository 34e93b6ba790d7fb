"""Using a saved model: `evaluate`, `predict`, `export`, `explain`, `describe`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable
from rich.text import Text

from sentilstm.cli.common import (
    app,
    check_out_paths,
    console,
    friendly,
    out,
    print_predictor,
    print_report,
    setup_logging,
)
from sentilstm.cli.options import (
    AnyModelArg,
    DeviceOpt,
    EncodingOpt,
    LabelColumnOpt,
    ModelArg,
    TextColumnOpt,
    VerboseOpt,
)
from sentilstm.data.splits import labels_of
from sentilstm.system.files import write_json

if TYPE_CHECKING:
    from sentilstm.explanations.methods import ExplainMethod
    from sentilstm.onnx.backends import Backend
    from sentilstm.onnx.export import Format, Quantize
    from sentilstm.scale.paths import OutputFormat


@app.command()
@friendly
def evaluate(
    model: ModelArg,
    data: Annotated[Path, typer.Argument(help="Labelled table to score.")],
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    encoding: EncodingOpt = "utf-8",
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Score a model on a labelled table: accuracy, F1, ROC-AUC, per-class metrics, confusion matrix."""
    setup_logging(verbose)
    from sentilstm.data.tables import check_encoding, read_table
    from sentilstm.estimators.classifier import load_model

    check_out_paths({"MODEL": model, "DATA": data}, json=json_path)
    check_encoding(encoding)
    clf = load_model(model, device=device)
    table = read_table(data, text_column=text_column, label_column=label_column, encoding=encoding)
    report = clf.evaluate(table.texts, labels_of(table))
    print_report(report, f"{data}")
    print_predictor(clf, trained=False)
    write_json(report.to_dict(), json_path)


# ----- predict's options (str, not Path, for --input/--output: with --engine ray these may be URIs, s3://b/k, which
# Path would turn into s3:/b/k)
TextsArg = Annotated[list[str] | None, typer.Argument(help="Texts to classify (or use --input).")]
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
    """Classify texts given on the command line, or score a table with --input/--output (streamed here, or on Ray)."""
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
    _check_engine(engine, ray_options, bool(texts), device)
    paths = _table_paths(bool(texts), input_path, output_path)
    check_encoding(encoding)
    texts = [clean_text(text) for text in texts or []]  # undecodable argument bytes print as U+FFFD, not a crash
    network = cast("Backend", backend)  # load_for_serving checks it is one
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
    """Each text's label and probabilities: a table, or one JSON object per line."""
    probabilities = clf.predict_proba(texts)
    predicted = clf.labels_from(probabilities).tolist()  # the classifier's own decision, without a second pass
    labels = clf.label_map_.labels
    if as_json:
        for text, label, row in zip(texts, predicted, probabilities):
            print(
                json.dumps(
                    {"text": text, "label": label, "probabilities": dict(zip(map(str, labels), row.round(6).tolist()))},
                    ensure_ascii=False,
                )
            )
        return
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


ExportFormatOpt = Annotated[
    str, typer.Option("--format", help="onnx (for ONNX Runtime; dynamic batch and sequence axes) or torchscript.")
]
QuantizeOpt = Annotated[str | None, typer.Option(help="int8: ONNX Runtime dynamic int8 quantization (ONNX only).")]
ExportOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Where to write it (default: beside MODEL as MODEL.onnx, MODEL.int8.onnx or MODEL.pt, where `predict "
        "--backend` finds it).",
    ),
]


# help= and no docstring: `sentilstm --help` shows a docstring's line breaks, and this line is too long
@app.command(
    help="Export the network to ONNX (optionally int8) or TorchScript and check it against PyTorch: size, "
    "max |Δlogit|, argmax agreement."
)
@friendly
def export(
    model: ModelArg,
    export_format: ExportFormatOpt = "onnx",
    quantize: QuantizeOpt = None,
    out_path: ExportOutOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the export report as JSON.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    setup_logging(verbose)
    from sentilstm.onnx.export import export_model

    check_out_paths({"MODEL": model}, out=out_path)
    # export_model checks that the format and the quantization are among these
    report = export_model(
        model, cast("Format", export_format), quantize=cast("Quantize | None", quantize), out=out_path
    )
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    texts = sum(batch for batch, _ in report.checked_shapes)
    out.print(
        f"wrote {report.path} ({report.format}{' int8' if report.quantize else ''}, "
        f"{report.size_bytes / 1e6:.2f} MB) in {report.seconds:.1f}s",
        soft_wrap=True,
    )
    out.print(
        f"max |logit difference| vs PyTorch: {report.max_abs_diff:.3g}; "
        f"argmax agreement: {report.argmax_agreement:.4f} ({texts} texts in {len(report.checked_shapes)} batches, "
        f"1 to {max(n for _, n in report.checked_shapes)} tokens)"
    )


MethodOpt = Annotated[
    str,
    typer.Option(
        help="auto (integrated gradients for a network alone; kernel SHAP for a blended model or a baseline, so the "
        "whole prediction is explained), attention, integrated_gradients, lime or kernel_shap."
    ),
]
SamplesOpt = Annotated[
    int, typer.Option(help="Perturbed texts for lime, and for kernel_shap beyond 11 words (exact below).")
]
HtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="Also write one highlighted HTML page with every text here.")
]
ExplainJsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object per text instead of coloured text.")
]


@app.command()
@friendly
def explain(
    model: AnyModelArg,
    texts: Annotated[list[str], typer.Argument(help="Texts to explain.")],
    method: MethodOpt = "auto",
    label: Annotated[str | None, typer.Option(help="Explain this label instead of the predicted one.")] = None,
    samples: SamplesOpt = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the perturbations (lime, kernel_shap).")] = 0,
    top: Annotated[int, typer.Option(help="How many of the strongest words to list per text.")] = 5,
    html_path: HtmlOpt = None,
    as_json: ExplainJsonOpt = False,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Show which words made the model choose its label: words coloured by attribution, top words, optional HTML."""
    setup_logging(verbose)
    from sentilstm.config import check_integer
    from sentilstm.estimators.classifier import load_model
    from sentilstm.explanations.methods import check_method
    from sentilstm.explanations.methods import explain as explain_text
    from sentilstm.explanations.result import write_html
    from sentilstm.system.files import writing
    from sentilstm.text.normalize import clean_text

    check_method(method)
    kind = cast("ExplainMethod", method)  # checked just above
    check_integer("--top", top, low=1)
    check_out_paths({"MODEL": model}, html=html_path)
    texts = [clean_text(text) for text in texts]  # undecodable argument bytes print as U+FFFD, not a crash
    clf = load_model(model, device=device)
    attributions = [explain_text(clf, text, kind, num_samples=samples, seed=seed) for text in texts]
    attributions[0].label_index(label)  # an unknown --label fails before anything is printed
    if html_path is not None:
        with writing(html_path):
            write_html(attributions, html_path, label=label)
    if as_json:
        for attribution in attributions:
            print(json.dumps(attribution.to_dict(), ensure_ascii=False))
    else:
        for number, attribution in enumerate(attributions, start=1):
            column = attribution.label_index(label)
            shown = attribution.labels[column]
            probabilities = "  ".join(
                f"p({name})={p:.3f}" for name, p in zip(attribution.labels, attribution.probabilities)
            )
            out.print(
                Text.assemble(
                    (f"[{number}] ", "bold"),
                    f"predicted {attribution.predicted_label}  ",
                    probabilities,
                    f"  ({attribution.method}, colours explain {shown})",
                ),
                soft_wrap=True,
            )
            out.print(attribution.to_rich(label), soft_wrap=True)
            strongest = ", ".join(f"{word} {score:+.3f}" for word, score in attribution.top(top, label))
            out.print(Text(f"top words for {shown}: {strongest}"), soft_wrap=True)
            for note in attribution.notes:
                out.print(Text(f"note: {note}", style="yellow"), soft_wrap=True)
    if html_path is not None:
        console.print(f"wrote {html_path}")


LengthOpt = Annotated[
    int | None, typer.Option(help="Text length (tokens) for the output shapes; default: the model's max_length.")
]


# help= and no docstring: `sentilstm --help` shows a docstring's line breaks, and this line is too long
@app.command(
    help="Print a model's layers, output shapes and parameter counts (like Keras' summary), settings, labels and "
    "metrics."
)
@friendly
def describe(
    model: AnyModelArg,
    length: LengthOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    from sentilstm.estimators.classifier import load_model
    from sentilstm.report.summary import describe as summarize

    summary = summarize(load_model(model, device="cpu"), sequence_length=length)
    out.print(json.dumps(summary.to_dict(), indent=2, default=str) if as_json else summary.to_text(), soft_wrap=True)
