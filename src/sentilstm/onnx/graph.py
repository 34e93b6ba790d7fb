"""The contract between an exported graph and what runs it: input and output names, the JSON metadata stored in
the graph, the file an export writes beside its model, and how a batch is padded.

    ids     int64 (batch, seq_len), right-padded with 0      logits         float32 (batch, num_classes)
    lengths int64 (batch,)                                   probabilities  softmax(logits)
A model with character n-grams (TextConfig.char_ngrams) takes ids (batch, seq_len, 1 + K): each token's word id,
then its n-gram rows, 0-padded (sentilstm.text.subwords).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

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


def pad_batch(ids: Sequence[np.ndarray], index: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad the selected sequences with 0 -> (ids (batch, max_len[, 1 + K]), lengths (batch,)), both int64."""
    from sentilstm.training.batching import pad_rows

    batch_lengths = lengths[index]
    return pad_rows(ids, index, int(batch_lengths.max())), batch_lengths


__all__ = ["METADATA_KEY", "ONNX_INPUTS", "ONNX_OUTPUTS", "file_digest", "graph_metadata", "pad_batch", "sibling_path"]
