"""Using a saved model: `evaluate`, `predict`, `export`, `explain`, `describe`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable
from rich.text import Text

from sentilstm.cli.common import (
    DeviceOpt,
    EncodingOpt,
    LabelColumnOpt,
    TextColumnOpt,
    VerboseOpt,
    app,
    check_out_paths,
    console,
    friendly,
    out,
    print_report,
    setup_logging,
    write_json,
)


@app.command()
@friendly
def evaluate(
    model: Annotated[Path, typer.Argument(help="A model file written by `sentilstm train`.")],
    data: Annotated[Path, typer.Argument(help="Labelled table to score.")],
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    encoding: EncodingOpt = "utf-8",
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the report as JSON here.")] = None,
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
    report = clf.evaluate(table.texts, table.labels)
    print_report(report, f"{data}")
    write_json(report.to_dict(), json_path)


@app.command()
@friendly
def predict(
    model: Annotated[Path, typer.Argument(help="A model file written by `sentilstm train`.")],
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to classify (or use --input).")] = None,
    # str, not Path: with --engine ray these may be URIs (s3://b/k), which Path would turn into s3:/b/k
    input_path: Annotated[
        Optional[str],
        typer.Option(
            "--input",
            help="Table to score, streamed in chunks. With --engine ray: a file, folder or quoted glob, local or s3://, gs://, hdfs://...",
        ),
    ] = None,
    output_path: Annotated[
        Optional[str],
        typer.Option(
            "--output",
            help="Scored table (CSV/TSV/JSONL/Parquet). With --engine ray: a new folder of part files, format from its extension (scored.csv/, scored.parquet/) or --output-format, else Parquet.",
        ),
    ] = None,
    text_column: TextColumnOpt = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk when streaming --input.")] = 10_000,
    encoding: EncodingOpt = "utf-8",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per text.")] = False,
    backend: Annotated[
        str,
        typer.Option(
            help="Where the network runs: torch, onnx (ONNX Runtime fp32) or onnx-int8 (dynamic int8, fastest on CPU). Uses MODEL.onnx / MODEL.int8.onnx from `sentilstm export` when present, else exports in memory."
        ),
    ] = "torch",
    threads: Annotated[
        Optional[int],
        typer.Option(
            help="Intra-op threads of the backend (default: the usable CPUs other processes leave free, re-measured while scoring with torch; 1 per actor with --engine ray)."
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="local (this process, streaming) or ray (a Ray Data actor pool; needs `pip install 'sentilstm[ray]'`)."
        ),
    ] = "local",
    ray_address: Annotated[
        Optional[str],
        typer.Option(
            help="--engine ray: the cluster to join (auto, ray://head:10001); default: start a local Ray instance."
        ),
    ] = None,
    concurrency: Annotated[
        Optional[int],
        typer.Option(
            help="--engine ray: scoring actors (default: one per --threads CPUs, or per --num-gpus GPUs, of the cluster)."
        ),
    ] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="--engine ray: rows per actor call (default 4096).")] = None,
    num_gpus: Annotated[
        Optional[float], typer.Option(help="--engine ray: GPUs per actor (torch backend); default 0.")
    ] = None,
    output_format: Annotated[
        Optional[str],
        typer.Option(
            help="--engine ray: csv, jsonl or parquet part files (default: from --output's extension, else parquet)."
        ),
    ] = None,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Classify texts given on the command line, or score a table with --input/--output (streamed here, or on Ray)."""
    setup_logging(verbose)
    from sentilstm.errors import ConfigError, DataError
    from sentilstm.estimators.scoring import score_file
    from sentilstm.onnx.backends import load_for_serving

    if engine not in ("local", "ray"):
        raise ConfigError(f"--engine must be one of ['local', 'ray'], got {engine!r}")
    ray_options = {
        "--ray-address": ray_address,
        "--concurrency": concurrency,
        "--batch-size": batch_size,
        "--num-gpus": num_gpus,
        "--output-format": output_format,
    }
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
    if bool(texts) == (input_path is not None):
        raise DataError("give texts to classify, or --input FILE with --output FILE (not both)")
    if input_path is not None and output_path is None:
        raise DataError("--input needs --output FILE for the scored rows")
    from sentilstm.data.tables import check_encoding
    from sentilstm.text.normalize import clean_text

    check_encoding(encoding)
    texts = [clean_text(text) for text in texts or []]  # undecodable argument bytes print as U+FFFD, not a crash
    if engine == "ray":
        _predict_on_ray(
            model,
            input_path,
            output_path,
            text_column=text_column,
            encoding=encoding,
            backend=backend,
            threads=threads,
            address=ray_address,
            concurrency=concurrency,
            batch_size=batch_size,
            num_gpus=num_gpus,
            output_format=output_format,
            verbose=verbose,
        )
        return
    if input_path is not None:
        check_out_paths({"MODEL": model, "--input": input_path}, output=Path(output_path))
    clf = load_for_serving(model, backend, threads=threads, device=device)  # type: ignore[arg-type] - checked inside
    if input_path is not None:
        with Progress(
            TextColumn("scoring"), MofNCompleteColumn(), TextColumn("rows"), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("score", total=None)
            summary = score_file(
                clf,
                input_path,
                output_path,
                text_column=text_column,
                chunk_rows=chunk_rows,
                encoding=encoding,
                on_chunk=lambda n: bar.update(task, advance=n),
            )
        console.print(f"scored {summary.rows} rows in {summary.seconds:.1f}s -> {summary.output}")
        return
    probabilities = clf.predict_proba(texts)
    predicted = clf.predict(texts).tolist()  # the classifier's own decision (argmax of predict_proba)
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


def _predict_on_ray(
    model: Path,
    input_path: str,
    output_path: str,
    *,
    text_column: str | None,
    encoding: str,
    backend: str,
    threads: int | None,
    address: str | None,
    concurrency: int | None,
    batch_size: int | None,
    num_gpus: float | None,
    output_format: str | None,
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


@app.command()
@friendly
def export(
    model: Annotated[Path, typer.Argument(help="A model file written by `sentilstm train`.")],
    export_format: Annotated[
        str, typer.Option("--format", help="onnx (for ONNX Runtime; dynamic batch and sequence axes) or torchscript.")
    ] = "onnx",
    quantize: Annotated[
        Optional[str], typer.Option(help="int8: ONNX Runtime dynamic int8 quantization (ONNX only).")
    ] = None,
    out_path: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            help="Where to write it (default: beside MODEL as MODEL.onnx, MODEL.int8.onnx or MODEL.pt, where `predict --backend` finds it).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the export report as JSON.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Export the network to ONNX (optionally int8) or TorchScript and check it against PyTorch: size, max |Δlogit|, argmax agreement."""
    setup_logging(verbose)
    from sentilstm.onnx.export import export_model

    check_out_paths({"MODEL": model}, out=out_path)
    report = export_model(model, export_format, quantize=quantize, out=out_path)  # type: ignore[arg-type] - checked inside
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    texts = sum(batch for batch, _ in report.checked_shapes)
    out.print(
        f"wrote {report.path} ({report.format}{' int8' if report.quantize else ''}, {report.size_bytes / 1e6:.2f} MB) in {report.seconds:.1f}s",
        soft_wrap=True,
    )
    out.print(
        f"max |logit difference| vs PyTorch: {report.max_abs_diff:.3g}; argmax agreement: {report.argmax_agreement:.4f} "
        f"({texts} texts in {len(report.checked_shapes)} batches, 1 to {max(n for _, n in report.checked_shapes)} tokens)"
    )


@app.command()
@friendly
def explain(
    model: Annotated[Path, typer.Argument(help="A model file written by train or baseline.")],
    texts: Annotated[list[str], typer.Argument(help="Texts to explain.")],
    method: Annotated[
        str,
        typer.Option(
            help="auto (integrated gradients for a network alone; kernel SHAP for a blended model or a baseline, so the whole prediction is explained), attention, integrated_gradients, lime or kernel_shap."
        ),
    ] = "auto",
    label: Annotated[Optional[str], typer.Option(help="Explain this label instead of the predicted one.")] = None,
    samples: Annotated[
        int, typer.Option(help="Perturbed texts for lime, and for kernel_shap beyond 11 words (exact below).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the perturbations (lime, kernel_shap).")] = 0,
    top: Annotated[int, typer.Option(help="How many of the strongest words to list per text.")] = 5,
    html_path: Annotated[
        Optional[Path], typer.Option("--html", help="Also write one highlighted HTML page with every text here.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per text instead of coloured text.")
    ] = False,
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
    check_integer("--top", top, low=1)
    check_out_paths({"MODEL": model}, html=html_path)
    texts = [clean_text(text) for text in texts]  # undecodable argument bytes print as U+FFFD, not a crash
    clf = load_model(model, device=device)
    attributions = [explain_text(clf, text, method, num_samples=samples, seed=seed) for text in texts]
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


@app.command()
@friendly
def describe(
    model: Annotated[Path, typer.Argument(help="A model file written by train or baseline.")],
    length: Annotated[
        Optional[int], typer.Option(help="Text length (tokens) for the output shapes; default: the model's max_length.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Print a model's layers, output shapes and parameter counts (like Keras' summary), settings, labels and metrics."""
    from sentilstm.estimators.classifier import load_model
    from sentilstm.report.summary import describe as summarize

    summary = summarize(load_model(model, device="cpu"), sequence_length=length)
    out.print(json.dumps(summary.to_dict(), indent=2, default=str) if as_json else summary.to_text(), soft_wrap=True)
