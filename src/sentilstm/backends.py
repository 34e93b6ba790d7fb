"""Where a loaded classifier's network runs: eager PyTorch, or ONNX Runtime in fp32 or dynamic int8.

    clf = load_for_serving("model.sentilstm", backend="onnx-int8", threads=1)
    clf.predict_proba(["what a film"])  # tokenizer and linear blend as always; the BiLSTM runs in ONNX Runtime

Only the network changes backend: text normalisation, the tokenizer and any linear blend stay as they are,
and `explain` keeps the PyTorch model (gradients). On this 2-core CPU ONNX Runtime int8 ran a BiLSTM-128
~2.3x faster than eager fp32 per core (../shared/PERF_NOTES.md section 3), and one single-threaded worker
per core beats one two-threaded worker, hence `threads`.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sentilstm.batching import sorted_batches
from sentilstm.classifier import Classifier, SentimentClassifier, load_model
from sentilstm.config import MAX_THREADS, check_choice, check_integer
from sentilstm.errors import ArtifactError

log = logging.getLogger(__name__)
Backend = Literal["torch", "onnx", "onnx-int8"]
METADATA_KEY = "sentilstm"  # the ONNX metadata_props entry holding the JSON description of the graph
ONNX_INPUTS = ("ids", "lengths")  # int64 (batch, seq_len) right-padded with 0; int64 (batch,)
ONNX_OUTPUTS = ("logits", "probabilities")  # float32 (batch, num_classes); probabilities = softmax(logits)


def sibling_path(model_path: str | Path, quantize: Literal["int8"] | None = None) -> Path:
    """Where `sentilstm export` writes a model's ONNX file by default: model.onnx or model.int8.onnx."""
    return Path(model_path).with_suffix(".int8.onnx" if quantize == "int8" else ".onnx")


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes: ties an exported graph to the exact model file it came from."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def graph_metadata(model: Any) -> dict[str, Any]:
    """The JSON description `export_onnx` stores in an ONNX model's metadata_props ({} when absent)."""
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    return {}


class OnnxNetwork:
    """Token-id arrays -> class probabilities with an ONNX Runtime session over a graph from `export_onnx`.

    Texts are sorted by length and cut into batches within a padded-token budget, so padding stays low
    and short texts share batches; results come back in input order, rows summing to 1 (float64).
    The default budget is small: for the IMDB BiLSTM-128 in int8 on one thread, 1,024 tokens per batch ran
    1.4x faster than 16,384 (1,150 vs 800 reviews/s; 15,000 vs 11,000 tweets/s) as each batch's activations
    stay in cache; with two threads 2,048-4,096 tokens was best (bench/serving_throughput.py, ../shared/PERF_NOTES.md).
    """

    def __init__(
        self, model: bytes | str | Path, *, threads: int | None = None, max_tokens: int | None = None, max_batch: int = 256,
    ) -> None:
        import onnxruntime as ort

        if threads is not None:
            check_integer("threads", threads, low=1, high=MAX_THREADS)  # more than any machine has
        else:  # ONNX Runtime's own choice (a thread per core) collapses when other processes use the cores
            from sentilstm.threads import free_threads

            threads = free_threads("ONNX Runtime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.metadata: dict[str, Any] = json.loads(self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, "{}"))
        names = tuple(i.name for i in self.session.get_inputs())
        if names != ONNX_INPUTS:
            raise ArtifactError(f"the ONNX graph takes inputs {names}, expected {ONNX_INPUTS}; re-export it with `sentilstm export`")
        self.threads, self.max_batch = threads, max_batch
        self.max_tokens = max_tokens or (1024 if threads == 1 else 4096)

    def __call__(self, ids: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (n, num_classes) for token-id arrays (each non-empty, unpadded)."""
        if not len(ids):
            raise ValueError("OnnxNetwork needs at least one sequence")
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        out: np.ndarray | None = None
        for index in sorted_batches(lengths, max_tokens=self.max_tokens, max_batch=self.max_batch):
            tokens, batch_lengths = pad_batch(ids, index, lengths)
            probabilities = self.session.run(["probabilities"], {"ids": tokens, "lengths": batch_lengths})[0]
            if out is None:
                out = np.empty((len(ids), probabilities.shape[1]), dtype=np.float64)
            out[index] = probabilities
        assert out is not None
        return out / out.sum(axis=1, keepdims=True)

    def logits(self, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Raw logits for one already padded batch (int64 ids (batch, seq_len), int64 lengths (batch,))."""
        return self.session.run(["logits"], {"ids": tokens, "lengths": lengths})[0]


def pad_batch(ids: Sequence[np.ndarray], index: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad the selected sequences with 0 -> (ids (batch, max_len), lengths (batch,)), both int64."""
    batch_lengths = lengths[index]
    width = int(batch_lengths.max())
    padded = np.zeros((len(index), width), dtype=np.int64)
    padded[np.arange(width)[None, :] < batch_lengths[:, None]] = np.concatenate([ids[i] for i in index])
    return padded, batch_lengths


def load_for_serving(path: str | Path, backend: Backend = "torch", *, threads: int | None = None,
                     device: str | None = None) -> Classifier:
    """Load a model file for prediction with its network on `backend`: "torch", "onnx" (fp32) or "onnx-int8".

        clf = load_for_serving("model.sentilstm", backend="onnx-int8", threads=1); clf.predict(["great"])

    Returns what `load_model` returns (same predict_proba/predict/classes_/label_map_/explain/metrics_ surface).
    For the ONNX backends the graph is a sibling file written by `sentilstm export` (model.onnx, model.int8.onnx)
    when one exists and was exported from this very file (its SHA-256 is in the graph's metadata); otherwise it
    is exported in memory, which takes a few seconds. `threads` sets ONNX Runtime's intra-op threads, or torch's
    for "torch" (default: the library's choice; use 1 per worker process, one process per core). `device` is where
    the torch network runs (None: 'auto', CUDA when available, else CPU), never the device it was trained on.
    A linear baseline has no network: it runs on numpy/scipy whatever the backend.
    """
    check_choice("backend", backend, Backend)
    if threads is not None:
        check_integer("threads", threads, low=1, high=MAX_THREADS)  # torch dies at exit on ~10^5 threads
    clf = load_model(path, device=device)
    if not isinstance(clf, SentimentClassifier):
        if backend != "torch":
            log.info("%s is a linear %s baseline without a network; it runs on numpy/scipy, backend %r changes nothing",
                     path, type(clf).__name__, backend)
        return clf
    if backend == "torch":
        if threads is not None:
            from sentilstm.threads import fix_threads

            fix_threads(threads)
        return clf
    quantize: Literal["int8"] | None = "int8" if backend == "onnx-int8" else None
    clf.network_runner_ = OnnxNetwork(_graph_for(path, clf, quantize), threads=threads)
    return clf


def _graph_for(path: str | Path, clf: SentimentClassifier, quantize: Literal["int8"] | None) -> bytes | Path:
    """The sibling graph file when it was exported from this model file, else the graph exported in memory."""
    from sentilstm.export import onnx_graph

    sibling = sibling_path(path, quantize)
    digest = file_digest(path)
    if sibling.is_file():
        import onnx

        try:
            metadata = graph_metadata(onnx.load(str(sibling), load_external_data=False))
        except Exception as exc:  # noqa: BLE001 - a damaged sibling is only a missed shortcut
            log.warning("ignoring %s: it cannot be read as ONNX (%s)", sibling, exc)
            metadata = {}
        if metadata.get("source_sha256") == digest and metadata.get("quantize") == quantize:
            log.info("using %s", sibling)
            return sibling
        if metadata:
            log.info("ignoring %s: it was exported from another version of %s", sibling, path)
    log.info("exporting %s to ONNX%s in memory", path, " int8" if quantize else "")
    return onnx_graph(clf, quantize=quantize, source_sha256=digest)


__all__ = ["Backend", "OnnxNetwork", "load_for_serving", "sibling_path"]
