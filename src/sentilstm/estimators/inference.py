"""Batched, length-sorted prediction for any model that maps (ids, lengths) to logits."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from sentilstm.system.device import autocast
from sentilstm.system.threads import ThreadGovernor
from sentilstm.training.batching import collate, sorted_batches


def predict_probabilities(
    model: nn.Module,
    ids: Sequence[np.ndarray],
    *,
    device: torch.device,
    precision: str = "fp32",
    max_tokens: int = 16_384,
    governor: ThreadGovernor | None = None,
) -> np.ndarray:
    """Class probabilities (n, num_classes) in input order; rows sum to 1 in float64.

    A `governor` (CPU) is told each batch's padded tokens and time, and may change torch's threads between batches.
    """
    if not len(ids):
        raise ValueError("predict_probabilities needs at least one sequence")
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    batches = sorted_batches(lengths, max_tokens=max_tokens)
    out: np.ndarray | None = None
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast(device, precision):
            for index in batches:
                started = time.perf_counter()
                tokens, batch_lengths = collate(ids, index, device)
                probabilities = torch.softmax(model(tokens, batch_lengths).float(), dim=-1).cpu().numpy()
                if governor is not None:
                    governor.record(tokens.numel(), time.perf_counter() - started)
                if out is None:
                    out = np.empty((len(ids), probabilities.shape[1]), dtype=np.float64)
                out[index] = probabilities
    finally:
        model.train(was_training)
    assert out is not None
    return out / out.sum(axis=1, keepdims=True)
