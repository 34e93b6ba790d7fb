"""Using a saved model: `evaluate`, `export`, `explain`, `describe` (`predict`: predicting.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
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
from sentilstm.system.files import write_json

if TYPE_CHECKING:
    from sentilstm.explanations.methods import ExplainMethod
    from sentilstm.onnx.export import Format, Quantize


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
    from sentilstm.data.splits import labels_of  # pandas: not for --help

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


RepoIdOpt = Annotated[
    str | None, typer.Option("--repo-id", help="The Hub repository it will live in (USER/REPO), for its snippets.")
]


@app.command()
@friendly
def card(model: AnyModelArg, repo_id: RepoIdOpt = None) -> None:
    """Print a model card (Markdown, the Hub's README.md): labels, scores, training data, recipe, use and limits."""
    from sentilstm.estimators.classifier import load_model
    from sentilstm.estimators.display import card as model_card

    print(model_card(load_model(model, device="cpu"), repo_id), end="")


@app.command()
@friendly
def push(
    model: AnyModelArg,
    repo_id: Annotated[str, typer.Argument(help="The Hub repository, USER/REPO (created if absent).")],
    private: Annotated[bool, typer.Option(help="Create the repository private.")] = False,
) -> None:
    """Upload a model file and its model card to the Hugging Face Hub in one commit (token: HF_TOKEN or
    `hf auth login`); then `load_model("hf://USER/REPO")` or `sentilstm predict hf://USER/REPO TEXT`."""
    from sentilstm.estimators.classifier import load_model
    from sentilstm.estimators.display import push_to_hub

    console.print(f"uploaded: {push_to_hub(load_model(model, device='cpu'), repo_id, private=private or None)}")
