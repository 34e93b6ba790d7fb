"""Export a trained network to ONNX (fp32 or dynamic int8) or TorchScript, checked against PyTorch.

    report = export_onnx(clf, "model.onnx", quantize="int8")  # ExportReport: size, max |Δlogit|, agreement
    # serving it: sentilstm.onnx.backends.load_for_serving("model.sentilstm", backend="onnx-int8")

The graph takes padded ids and lengths, never packed sequences (packed LSTMs export badly: pytorch#62240,
USER_ASKS.md item 10), with dynamic batch and sequence axes:
    inputs  ids int64 (batch, seq_len) right-padded with 0, lengths int64 (batch,) each >= 1
    outputs logits float32 (batch, num_classes), probabilities float32 (batch, num_classes) = softmax(logits)
A bidirectional layer becomes one ONNX LSTM/GRU op whose `sequence_lens` give the backward direction the
network's per-length reversal (see sentilstm.onnx.fused_rnn), so padding never changes a prediction, as in PyTorch.
Only the network is exported: tokenizer, label map and any linear blend stay in the .sentilstm file (the
graph's metadata_props["sentilstm"] repeats labels and configs, so the file describes itself).
int8 is ONNX Runtime dynamic quantization (int8 weights per tensor, activations quantized per call) of the LSTM,
MatMul/Gemm and the embedding Gather: on IMDB it kept 90.42% test accuracy (99.88% agreement with fp32) and ran
the network ~2x faster than fp32; per-channel weights were no better. ORT has no int8 GRU kernel, so a GRU
stays fp32 around int8 linear layers.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import logging
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from sentilstm.artifact.format import library_versions
from sentilstm.config import check_choice
from sentilstm.errors import ArtifactError, ConfigError, OutputError
from sentilstm.estimators.classifier import SentimentClassifier
from sentilstm.network.ensemble import EnsembleNet, average_probabilities, members
from sentilstm.network.model import SentimentNet
from sentilstm.onnx.fused_rnn import FusedNetwork
from sentilstm.onnx.graph import METADATA_KEY, ONNX_INPUTS, ONNX_OUTPUTS, file_digest, pad_batch, sibling_path
from sentilstm.onnx.runner import OnnxNetwork
from sentilstm.system.files import as_path, check_outputs, write_atomically

log = logging.getLogger(__name__)
Format = Literal["onnx", "torchscript"]
Quantize = Literal["int8"]
DEFAULT_OPSET = 17  # the legacy TorchScript-based exporter's well-trodden opset; ORT 1.18+ runs it fully
FP32_TOLERANCE = 1e-3  # max |Δlogit| an fp32 export may show against PyTorch (seen: ~1e-6)


@dataclass
class ExportReport:
    """What `export_onnx`/`export_torchscript` wrote and how closely it matches the PyTorch model."""

    path: str
    format: Format
    quantize: Quantize | None
    size_bytes: int
    max_abs_diff: float  # max |logit - PyTorch fp32 logit| over every checked text
    argmax_agreement: float  # share of checked texts whose predicted class matches PyTorch's
    checked_shapes: list[tuple[int, int]]  # (batch, seq_len) of each checked batch
    seconds: float
    opset: int | None = None
    operators: dict[str, int] = field(default_factory=dict)  # op type -> count in the exported graph

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        texts = sum(batch for batch, _ in self.checked_shapes)
        return (
            f"{self.path}: {self.format}{' int8' if self.quantize else ''}, {self.size_bytes / 1e6:.2f} MB, "
            "max |Δlogit| "
            f"{self.max_abs_diff:.2e} vs PyTorch, argmax agreement {self.argmax_agreement:.4f} on {texts} texts in "
            f"{len(self.checked_shapes)} batches, {self.seconds:.1f}s"
        )


class _Exported(nn.Module):
    """The network with softmax attached: (ids, lengths) -> (logits, probabilities); an ensemble's members run side
    by side in the one graph, and its "logits" are the log of their mean probabilities (`average_probabilities`)."""

    def __init__(self, net: SentimentNet | EnsembleNet, fuse_directions: bool = False) -> None:
        super().__init__()
        self.config = net.config
        # ONNX: a bidirectional net's directions become one LSTM/GRU op per layer (see sentilstm.onnx.fused_rnn)
        self.bodies = nn.ModuleList(
            FusedNetwork(member) if fuse_directions and member.backward_rnns is not None else member
            for member in members(net)
        )

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        logits = average_probabilities([body(ids, lengths) for body in self.bodies])  # (batch, num_classes)
        return logits, torch.softmax(logits, dim=-1)


def _network(clf: Any, fuse_directions: bool = False) -> _Exported:
    """A CPU fp32 eval-mode copy of the classifier's network, wrapped for export (the original is untouched)."""
    if not isinstance(clf, SentimentClassifier):
        raise ConfigError(
            f"only an LSTM/GRU SentimentClassifier can be exported, got a {type(clf).__name__}; "
            "a linear baseline has no network (it already runs on numpy/scipy)"
        )
    clf._check_fitted()
    return _Exported(copy.deepcopy(clf.model_).to("cpu").float().eval(), fuse_directions).eval()


def _example(net: _Exported) -> tuple[Tensor, Tensor]:
    """Trace inputs: batch 3 x 11 steps, uneven lengths (a private generator: the caller's torch RNG is untouched)."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(2, max(3, net.config.embedding_rows), (3, 11), generator=generator)
    if net.config.ngram_rows:  # with character n-grams: 4 n-gram rows per token, some left empty
        grams = torch.randint(0, net.config.ngram_rows, (3, 11, 4), generator=generator)
        ids = torch.cat([ids[..., None], grams], dim=-1)
    lengths = torch.tensor([11, 6, 2])
    ids[1, 6:], ids[2, 2:] = 0, 0
    return ids, lengths


def _metadata(clf: SentimentClassifier, quantize: Quantize | None, source_sha256: str | None) -> dict[str, Any]:
    return {
        "format_version": 1,
        "labels": clf.label_map_.to_list(),
        "inputs": {
            "ids": "int64 (batch, seq_len, 1 + ngrams): word id then n-gram rows, right-padded with 0"
            if clf.model_.config.ngram_rows
            else "int64 (batch, seq_len), right-padded with 0",
            "lengths": "int64 (batch,), >= 1",
        },
        "outputs": {"logits": "float32 (batch, num_classes)", "probabilities": "float32 softmax(logits)"},
        "text_config": dataclasses.asdict(clf.pipeline_.config),
        "model_config": dataclasses.asdict(clf.model_.config),
        "quantize": quantize,
        "source_sha256": source_sha256,
        "blend": "the linear blend is not in this graph; load the .sentilstm file for it"
        if getattr(clf, "blend_model_", None) is not None
        else None,
        "versions": library_versions(),
    }


def onnx_graph(
    clf: Any,
    *,
    quantize: Quantize | None = None,
    opset: int = DEFAULT_OPSET,
    source_sha256: str | None = None,
) -> bytes:
    """The classifier's network as a serialised ONNX model (fp32, or ORT dynamic int8), metadata included."""
    import onnx

    if quantize is not None:
        check_choice("quantize", quantize, Quantize)
    net = _network(clf, fuse_directions=True)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and RNN batch-size notes
        torch.onnx.export(
            net,
            _example(net),
            buffer,  # type: ignore[arg-type]  # the TorchScript exporter takes file objects too
            dynamo=False,
            opset_version=opset,
            do_constant_folding=True,
            input_names=list(ONNX_INPUTS),
            output_names=list(ONNX_OUTPUTS),
            dynamic_axes={
                "ids": {0: "batch", 1: "sequence", 2: "ngrams"}
                if net.config.ngram_rows
                else {0: "batch", 1: "sequence"},
                "lengths": {0: "batch"},
                "logits": {0: "batch"},
                "probabilities": {0: "batch"},
            },
        )
    model = onnx.load_from_string(buffer.getvalue())
    if quantize == "int8":
        model = _quantize_int8(model)
    model.producer_name, model.doc_string = "sentilstm", "sentiment network: (ids, lengths) -> (logits, probabilities)"
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = (
        METADATA_KEY,
        json.dumps(_metadata(clf, quantize, source_sha256), ensure_ascii=False, default=str),
    )
    return model.SerializeToString()


def _quantize_int8(model: Any) -> Any:
    """ONNX Runtime dynamic int8: int8 weights (per tensor), uint8/int8 activations quantised at run time. Weights
    use 7 of the 8 bits (`reduce_range`): on x86 CPUs without VNNI (AVX2, AVX-512 before Cascade Lake) ORT's uint8 x
    int8 kernels sum pairs of products in int16, which saturates with full-range weights (a bidirectional GRU's
    probabilities moved by 0.22 on an AVX2 AMD EPYC; 7-bit weights cannot overflow), and a file exported on one
    machine may be served on another."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def not_preprocessing_advice(record: logging.LogRecord) -> bool:  # ORT logs it to the root logger on every call
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    with tempfile.TemporaryDirectory(prefix="sentilstm-int8-") as folder:
        target = Path(folder) / "int8.onnx"
        root.addFilter(not_preprocessing_advice)
        try:
            quantize_dynamic(
                model,
                target,
                weight_type=QuantType.QInt8,
                per_channel=False,
                reduce_range=True,
                op_types_to_quantize=["LSTM", "MatMul", "Gemm", "Gather", "Conv"],
            )
        finally:
            root.removeFilter(not_preprocessing_advice)
        return onnx.load(str(target))


def check_batches(
    clf: SentimentClassifier, texts: Sequence[str] | None = None, seed: int = 0
) -> list[tuple[Tensor, Tensor]]:
    """Padded (ids, lengths) batches to compare an export against PyTorch: batch 1 at one token and at
    max_length, mixed short and long texts in one batch, and larger batches of Zipf-distributed token ids
    (a word tokenizer numbers its vocabulary by frequency); plus `texts` encoded, 64 per batch, when given."""
    rng = np.random.default_rng(seed)
    vocab, max_length = clf.model_.config.embedding_rows, clf.pipeline_.max_length
    ranks = np.arange(2, max(3, vocab))
    weights = 1.0 / ranks
    weights /= weights.sum()

    ngram_rows = clf.model_.config.ngram_rows

    def text(length: int) -> np.ndarray:
        words = rng.choice(ranks, size=length, p=weights).astype(np.int64)
        if not ngram_rows:
            return words
        grams = rng.integers(1, ngram_rows, (length, 1 + int(rng.integers(0, 12))))  # 0 to 11 n-grams a token
        grams[rng.random(grams.shape) < 0.2] = 0  # padding among them too
        grams[:, 0] = words
        return grams

    shapes: list[list[Any]] = [
        [1],
        [max_length],
        [max_length, 1, max(1, max_length // 2), 3],
        list(rng.integers(1, 40, 16)),
        list(np.clip(rng.lognormal(np.log(max(2, max_length // 3)), 0.6, 37).astype(int), 1, max_length)),
    ]
    sequences = [[text(int(n)) for n in lengths] for lengths in shapes]
    if texts:
        encoded = clf.pipeline_.encode(list(texts))
        sequences += [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    batches = []
    for group in sequences:
        lengths = np.fromiter((len(x) for x in group), dtype=np.int64, count=len(group))
        padded, batch_lengths = pad_batch(group, np.arange(len(group)), lengths)
        batches.append((torch.from_numpy(padded), torch.from_numpy(batch_lengths)))
    return batches


def _compare(reference: nn.Module, run: Any, batches: list[tuple[Tensor, Tensor]]) -> tuple[float, float]:
    """(max |Δlogit|, argmax agreement) of `run(ids, lengths) -> logits (numpy)` against the PyTorch model."""
    worst, agree, total = 0.0, 0, 0
    with torch.inference_mode():
        for ids, lengths in batches:
            expected = reference(ids, lengths)[0].numpy()
            got = run(ids, lengths)
            if got.shape != expected.shape:
                raise ArtifactError(
                    f"the export returned shape {got.shape} for a batch of shape {tuple(ids.shape)}, "
                    f"PyTorch {expected.shape}; its axes are not dynamic"
                )
            worst = max(worst, float(np.abs(got - expected).max()))
            agree += int((got.argmax(1) == expected.argmax(1)).sum())
            total += len(expected)
    return worst, agree / total


def export_onnx(
    clf: Any,
    path: str | Path,
    *,
    quantize: Quantize | None = None,
    opset: int = DEFAULT_OPSET,
    texts: Sequence[str] | None = None,
    source: str | Path | None = None,
) -> ExportReport:
    """Write the classifier's network as ONNX (fp32, or `quantize="int8"`) to `path` atomically, and check it.

        export_onnx(clf, "model.int8.onnx", quantize="int8").max_abs_diff

    The check runs the graph in ONNX Runtime, before the file is written, on `check_batches` (batch 1 to 37, 1 to
    max_length tokens, plus `texts` when given) against PyTorch fp32. `source`: the .sentilstm file the classifier
    came from; its SHA-256 goes in the metadata so `load_for_serving` reuses this file when it sits beside that
    model.
    """
    import onnx

    started = time.perf_counter()
    path = as_path(path, "the ONNX file to write", OutputError)
    check_outputs({"path": path}, {"source": source})  # fail before the export's seconds of work
    data = onnx_graph(clf, quantize=quantize, opset=opset, source_sha256=file_digest(source) if source else None)
    runner = OnnxNetwork(data, threads=1)  # the very bytes the file will hold
    batches = check_batches(clf, texts)
    worst, agreement = _compare(_network(clf), lambda i, n: runner.logits(i.numpy(), n.numpy()), batches)
    if quantize is None and worst > FP32_TOLERANCE:
        raise ArtifactError(
            f"the ONNX graph's logits differ from PyTorch's by up to {worst:.3g} (allowed {FP32_TOLERANCE}); "
            "this is a sentilstm export bug, please report it with the model's settings"
        )
    write_atomically(path, data)
    operators = Counter(node.op_type for node in onnx.load_from_string(data).graph.node)
    report = ExportReport(
        str(path),
        "onnx",
        quantize,
        len(data),
        worst,
        agreement,
        [(b[0].shape[0], b[0].shape[1]) for b in batches],
        time.perf_counter() - started,
        opset,
        dict(sorted(operators.items())),
    )
    log.info("%s", report.summary())
    return report


def export_torchscript(clf: Any, path: str | Path, *, texts: Sequence[str] | None = None) -> ExportReport:
    """Write the network as a traced TorchScript module, (ids, lengths) -> (logits, probabilities), and check it.

        torch.jit.load("model.pt")(ids, lengths)  # metadata in the file's extra file "sentilstm.json"

    Tracing records the inference path (the reversal is a gather), with batch and sequence sizes kept symbolic;
    the check runs the saved file on other batch sizes and lengths than the trace's. TorchScript is deprecated
    in PyTorch 2.x and no faster than eager here (PERF_NOTES section 3); ONNX is the serving format.
    """
    started = time.perf_counter()
    net = _network(clf)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript deprecation notes
        traced = torch.jit.trace(net, _example(net), check_trace=False)
        buffer = io.BytesIO()
        extra = {"sentilstm.json": json.dumps(_metadata(clf, None, None), ensure_ascii=False, default=str)}
        torch.jit.save(traced, buffer, _extra_files=extra)
    data = buffer.getvalue()
    path = Path(path)
    write_atomically(path, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(path))
    batches = check_batches(clf, texts)
    worst, agreement = _compare(net, lambda i, n: loaded(i, n)[0].numpy(), batches)
    report = ExportReport(
        str(path),
        "torchscript",
        None,
        len(data),
        worst,
        agreement,
        [(b[0].shape[0], b[0].shape[1]) for b in batches],
        time.perf_counter() - started,
    )
    log.info("%s", report.summary())
    return report


def export_model(
    model_path: str | Path,
    format: Format = "onnx",
    *,
    quantize: Quantize | None = None,
    out: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
) -> ExportReport:
    """Export a .sentilstm file: ONNX beside it (model.onnx / model.int8.onnx, found by `load_for_serving`) or
    TorchScript (model.pt), unless `out` says where. Raises ConfigError for a baseline or int8 TorchScript."""
    from sentilstm.estimators.classifier import load_model

    check_choice("format", format, Format)
    if quantize is not None:
        check_choice("quantize", quantize, Quantize)
    if format == "torchscript" and quantize is not None:
        raise ConfigError(
            "--quantize int8 applies to ONNX only (torch's dynamic int8 LSTM was 2x slower here); "
            "use --format onnx --quantize int8, or TorchScript without --quantize"
        )
    default = Path(model_path).with_suffix(".pt") if format == "torchscript" else sibling_path(model_path, quantize)
    target = Path(out) if out is not None else default
    check_outputs({"out": target}, {"the model": model_path})  # model.pt exported as TorchScript would overwrite itself
    clf = load_model(model_path, device="cpu")
    if format == "torchscript":
        return export_torchscript(clf, target)
    return export_onnx(clf, target, quantize=quantize, opset=opset, source=model_path)


__all__ = ["ExportReport", "check_batches", "export_model", "export_onnx", "export_torchscript", "onnx_graph"]
