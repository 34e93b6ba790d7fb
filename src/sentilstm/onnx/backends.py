"""Where a loaded classifier's network runs: eager PyTorch, or ONNX Runtime in fp32 or dynamic int8.

    clf = load_for_serving("model.sentilstm", backend="onnx-int8", threads=1)
    clf.predict_proba(["what a film"])  # tokenizer and linear blend as always; the BiLSTM runs in ONNX Runtime

Only the network changes backend: text normalisation, the tokenizer and any linear blend stay as they are,
and `explain` keeps the PyTorch model (gradients). On this 2-core CPU ONNX Runtime int8 ran a BiLSTM-128
~2.3x faster than eager fp32 per core (../shared/PERF_NOTES.md section 3), and one single-threaded worker
per core beats one two-threaded worker, hence `threads`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from sentilstm.config import MAX_THREADS, check_choice, check_integer
from sentilstm.estimators.classifier import Classifier, SentimentClassifier, load_model
from sentilstm.onnx.export import onnx_graph
from sentilstm.onnx.graph import file_digest, graph_metadata, sibling_path
from sentilstm.onnx.runner import OnnxNetwork

log = logging.getLogger(__name__)
Backend = Literal["torch", "onnx", "onnx-int8"]


def load_for_serving(
    path: str | Path, backend: Backend = "torch", *, threads: int | None = None, device: str | None = None
) -> Classifier:
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
            log.info(
                "%s is a linear %s baseline without a network; it runs on numpy/scipy, backend %r changes nothing",
                path,
                type(clf).__name__,
                backend,
            )
        return clf
    if backend == "torch":
        if threads is not None:
            from sentilstm.system.threads import fix_threads

            fix_threads(threads)
        return clf
    quantize: Literal["int8"] | None = "int8" if backend == "onnx-int8" else None
    return clf.run_network_with(OnnxNetwork(graph_for(path, clf, quantize), threads=threads))


def graph_for(path: str | Path, clf: SentimentClassifier, quantize: Literal["int8"] | None) -> bytes | Path:
    """The sibling graph file when it was exported from this model file, else the graph exported in memory."""
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


__all__ = ["Backend", "graph_for", "load_for_serving"]
