"""What is inside a model file: layers with output shapes and parameter counts, like Keras' `model.summary()`.

    summary = describe(sentilstm.load_model("model.sentilstm"), sequence_length=64)
    print(summary.to_text()); summary.to_dict()

Output shapes come from one forward pass of a dummy text of `sequence_length` tokens (batch of 1) with
hooks on every layer, so they are what the model really produces, not what a formula expects.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from sentilstm.config import check_integer
from sentilstm.errors import ConfigError
from sentilstm.estimators.blend import predictor
from sentilstm.network.ensemble import EnsembleNet
from sentilstm.network.model import SentimentNet
from sentilstm.report.notebook import box, html_table

TEST_METRICS = ("accuracy", "macro_f1", "weighted_f1")
MAX_SEQUENCE_LENGTH = 100_000  # tokens of the dummy text; longer texts' shapes follow the same pattern

__all__ = ["LayerSummary", "ModelSummary", "describe", "summary_html"]


@dataclasses.dataclass
class LayerSummary:
    name: str  # attribute path inside the network ("forward_rnns.0"), or a baseline's block name
    kind: str  # the module's class ("LSTM", "Embedding") or "n-gram features"
    output_shape: list[int] | None  # batch of 1; None when the layer did not run (e.g. dropout in eval)
    parameters: int
    trainable: int


@dataclasses.dataclass
class ModelSummary:
    """Architecture, preprocessing, labels and saved metrics of a trained classifier."""

    estimator: str
    layers: list[LayerSummary]
    total_parameters: int
    trainable_parameters: int
    size_bytes: int  # of the weights in memory
    sequence_length: int | None
    settings: dict[str, Any]  # text normalisation, tokenizer, architecture
    labels: list[Any]
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def _repr_html_(self) -> str:
        return summary_html(self)

    def to_text(self) -> str:
        """A fixed-width table in the style of Keras' summary, then settings, labels and test metrics."""
        rows = [
            (f"{layer.name} ({layer.kind})", _shape(layer.output_shape), f"{layer.parameters:,}")
            for layer in self.layers
        ]
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(("Layer (type)", "Output shape", "Param #"))
        ]
        rule = "-" * (sum(widths) + 4)
        line = f"{{:<{widths[0]}}}  {{:<{widths[1]}}}  {{:>{widths[2]}}}"
        shape_note = f" for a text of {self.sequence_length} tokens" if self.sequence_length else ""
        lines = [f"{self.estimator}{shape_note}", rule, line.format("Layer (type)", "Output shape", "Param #"), rule]
        lines += [line.format(*r) for r in rows]
        lines += [
            rule,
            f"Total params: {self.total_parameters:,} ({_size(self.size_bytes)})",
            f"Trainable params: {self.trainable_parameters:,}",
            f"Non-trainable params: {self.total_parameters - self.trainable_parameters:,}",
            rule,
        ]
        lines += [f"{key}: {_flat(value)}" for key, value in self.settings.items()]
        lines.append(f"labels: {self.labels}")
        test = self.metrics.get("test")
        if test:
            lines.append("test: " + ", ".join(f"{k} {test[k]:.4f}" for k in TEST_METRICS if k in test))
        return "\n".join(lines)


def summary_html(summary: ModelSummary) -> str:
    """The summary as notebook HTML: layers, totals, settings, labels and the saved test metrics."""
    shape_note = f" (output shapes for a text of {summary.sequence_length} tokens)" if summary.sequence_length else ""
    layers = [(f"{x.name} ({x.kind})", _shape(x.output_shape), x.parameters, x.trainable) for x in summary.layers]
    totals: list[tuple[str, Any]] = [("total parameters", summary.total_parameters)]
    totals.append(("trainable", summary.trainable_parameters))
    totals.append(("weights in memory", _size(summary.size_bytes)))
    settings = [(key, _flat(value)) for key, value in summary.settings.items()] + [("labels", str(summary.labels))]
    test = summary.metrics.get("test") or {}
    parts = [
        html_table(["layer (type)", "output shape", "parameters", "trainable"], layers),
        html_table(["", ""], totals),
        html_table(["setting", "value"], settings),
    ]
    if test:
        parts.append(html_table(["test metric", "value"], [(k, test[k]) for k in TEST_METRICS if k in test]))
    return box(*parts, title=summary.estimator + shape_note)


def describe(clf: Any, sequence_length: int | None = None) -> ModelSummary:
    """Summarise a trained `SentimentClassifier` or linear baseline (see the module docstring)."""
    from sentilstm.estimators.baselines import LinearBaseline

    if isinstance(clf, LinearBaseline):
        return _describe_baseline(clf)
    if not hasattr(clf, "model_"):
        raise ConfigError("describe() needs a trained classifier: fit it or load one with sentilstm.load_model")
    net: SentimentNet | EnsembleNet = clf.model_
    length = sequence_length if sequence_length is not None else clf.pipeline_.config.max_length or 64
    if isinstance(length, int) and length < 1:
        raise ConfigError(f"sequence_length must be >= 1, got {length}")
    check_integer("sequence_length", length, 1, MAX_SEQUENCE_LENGTH)  # the dummy text is allocated: bound it
    layers = _traced_layers(net, length)
    text = clf.pipeline_.config
    settings = {
        "normalisation": {
            k: v
            for k, v in dataclasses.asdict(text).items()
            if k not in ("tokenizer", "vocab_size", "min_frequency", "max_length", "truncation")
        },
        "tokenizer": f"{text.tokenizer}, {clf.pipeline_.tokenizer.vocab_size:,} entries, "
        f"max_length {text.max_length} ({text.truncation})",
        "architecture": dataclasses.asdict(net.config),
    }
    settings["predictions by"] = predictor(clf)
    partner = getattr(clf, "blend_model_", None)
    if partner is not None:
        balancing = (f", class_weight {partner.class_weight}" if partner.class_weight else "") + (
            f", sampling {partner.sampling}" if partner.sampling != "none" else ""
        )
        settings["blend"] = (
            f"{clf.blend_weight_:.2f} x network + {1 - clf.blend_weight_:.2f} x {partner.kind}{balancing}"
        )
    pretrained = (getattr(clf, "metrics_", None) or {}).get("pretraining")
    if pretrained:
        perplexity = pretrained.get("validation_perplexity")
        settings["pretrained"] = (
            f"language model, {len(pretrained['epochs'])} epoch(s) over {pretrained['texts']:,} texts"
            + (f", validation perplexity {perplexity:,.1f}" if perplexity is not None else "")
        )
    distilled = (getattr(clf, "metrics_", None) or {}).get("distillation")
    if distilled:
        settings["distilled"] = (
            f"from {distilled['teacher']} (temperature {distilled['temperature']:g}, weight {distilled['weight']:g})"
        )
    total = sum(p.numel() for p in net.parameters())
    return ModelSummary(
        estimator=f"SentimentNet ({net.config.cell.upper()})"
        if net.config.members == 1
        else f"EnsembleNet ({net.config.members} x SentimentNet {net.config.cell.upper()})",
        layers=layers,
        total_parameters=total,
        trainable_parameters=sum(p.numel() for p in net.parameters() if p.requires_grad),
        size_bytes=sum(p.numel() * p.element_size() for p in net.parameters()),
        sequence_length=length,
        settings=settings,
        labels=_plain(clf.classes_),
        metrics=getattr(clf, "metrics_", {}),
    )


def _traced_layers(net: nn.Module, length: int) -> list[LayerSummary]:
    """Every module that owns parameters or is a leaf, in the order it runs, with its output shape."""
    shapes: dict[str, list[int]] = {}
    order: list[str] = []
    handles = []
    for name, module in net.named_modules():
        if not name:
            continue

        def hook(module: nn.Module, inputs: Any, output: Any, name: str = name) -> None:
            tensor = output[0] if isinstance(output, tuple) else output
            if name not in shapes and isinstance(tensor, torch.Tensor):
                shapes[name] = list(tensor.shape)
                order.append(name)

        handles.append(module.register_forward_hook(hook))
    was_training = net.training
    net.eval()
    try:
        device = next(net.parameters()).device
        with torch.no_grad():
            ngrams = getattr(getattr(net, "config", None), "ngram_rows", 0)
            shape = (1, length, 2) if ngrams else (1, length)  # a word id (and an n-gram) per token
            net(torch.ones(shape, dtype=torch.long, device=device), torch.tensor([length], device=device))
    finally:
        for handle in handles:
            handle.remove()
        net.train(was_training)
    modules = dict(net.named_modules())
    names = order + [n for n, m in modules.items() if n and n not in shapes and not list(m.children())]
    layers = []
    for name in names:
        module = modules[name]
        if list(module.children()) and not list(module.parameters(recurse=False)):
            continue  # a container: its children are listed
        own = list(module.parameters(recurse=not list(module.children())))
        layers.append(
            LayerSummary(
                name,
                type(module).__name__,
                shapes.get(name),
                sum(p.numel() for p in own),
                sum(p.numel() for p in own if p.requires_grad),
            )
        )
    return layers


def _describe_baseline(clf: Any) -> ModelSummary:
    clf._check_fitted()
    layers = [
        LayerSummary(
            f"features{i}", f"{f.analyzer} {f.ngram_range[0]}-{f.ngram_range[1]}-grams", [1, len(f.terms)], 0, 0
        )
        for i, f in enumerate(clf.features_)
    ]
    weights = clf.coef_.size + clf.intercept_.size
    layers.append(LayerSummary("linear", type(clf).__name__, [1, len(clf.classes_)], weights, weights))
    return ModelSummary(
        estimator=type(clf).__name__,
        layers=layers,
        total_parameters=weights,
        trainable_parameters=weights,
        size_bytes=clf.coef_.nbytes + clf.intercept_.nbytes,
        sequence_length=None,
        settings={"parameters": clf.get_params()},
        labels=_plain(clf.classes_),
        metrics=getattr(clf, "metrics_", {}),
    )


def _plain(labels: Any) -> list[Any]:
    """numpy scalars -> Python values, so labels print as -1 rather than np.int64(-1)."""
    return [label.item() if hasattr(label, "item") else label for label in labels]


def _flat(value: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value)


def _shape(shape: list[int] | None) -> str:
    return "-" if shape is None else "(" + ", ".join(str(s) for s in shape) + ")"


def _size(size: int) -> str:
    return f"{size / 2**20:.2f} MB" if size >= 2**20 else f"{size / 2**10:.1f} KB"
