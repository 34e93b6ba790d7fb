"""Running an exported graph: `OnnxNetwork` maps token-id arrays to class probabilities in ONNX Runtime."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentilstm.config import MAX_THREADS, check_integer
from sentilstm.errors import ArtifactError
from sentilstm.onnx.graph import METADATA_KEY, ONNX_INPUTS, pad_batch
from sentilstm.training.batching import sorted_batches


class OnnxNetwork:
    """Token-id arrays -> class probabilities with an ONNX Runtime session over a graph from `export_onnx`.

    Texts are sorted by length and cut into batches within a padded-token budget, so padding stays low
    and short texts share batches; results come back in input order, rows summing to 1 (float64).
    The default budget is small: for the IMDB BiLSTM-128 in int8 on one thread, 1,024 tokens per batch ran
    1.4x faster than 16,384 (1,150 vs 800 reviews/s; 15,000 vs 11,000 tweets/s) as each batch's activations
    stay in cache; with two threads 2,048-4,096 tokens was best (bench/serving_throughput.py, ../shared/PERF_NOTES.md).
    """

    def __init__(
        self,
        model: bytes | str | Path,
        *,
        threads: int | None = None,
        max_tokens: int | None = None,
        max_batch: int = 256,
    ) -> None:
        import onnxruntime as ort

        if threads is not None:
            check_integer("threads", threads, low=1, high=MAX_THREADS)  # more than any machine has
        else:  # ONNX Runtime's own choice (a thread per core) collapses when other processes use the cores
            from sentilstm.system.threads import free_threads

            threads = free_threads("ONNX Runtime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        source = model if isinstance(model, bytes) else str(model)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.metadata: dict[str, Any] = json.loads(
            self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, "{}")
        )
        names = tuple(i.name for i in self.session.get_inputs())
        if names != ONNX_INPUTS:
            raise ArtifactError(
                f"the ONNX graph takes inputs {names}, expected {ONNX_INPUTS}; re-export it with `sentilstm export`"
            )
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


__all__ = ["OnnxNetwork"]
