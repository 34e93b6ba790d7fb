"""`DataProfile`: what the training data looked like to the model (class balance, lengths, unknown tokens).

profile = DataProfile.build(train_ids, train_targets, val_ids, val_targets, labels=[-1, 0, 1],
                            max_length=60, raw_lengths=lengths_before_truncation)
profile.to_dict()   # JSON, saved in the model file's metrics under "data" and shown in the report
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sentilstm.text.subwords import word_ids
from sentilstm.text.tokenizers import UNK_ID

LENGTH_PERCENTILES = (5, 25, 50, 75, 95, 99)
HISTOGRAM_BINS = 30


@dataclass
class DataProfile:
    """Counts per class, token-length distribution and unknown-token rates of the training/validation splits."""

    labels: list[Any]
    train_counts: list[int]
    validation_counts: list[int]
    max_length: int
    length_percentiles: dict[str, int]  # of the training texts before truncation ("p50": 23, ...)
    length_histogram: dict[str, list[float]]  # {"edges": [...], "counts": [...]}, before truncation
    truncated_fraction: float  # share of training texts longer than max_length
    train_unknown_rate: float  # share of training tokens that are [UNK]
    validation_unknown_rate: float
    validation_texts_with_unknown: float  # share of validation texts with at least one [UNK]
    vocab_size: int
    dropped_rows: int = 0  # unusable rows of the input table (empty text, missing label), set by the caller
    augmented_rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        train_ids: list[np.ndarray],
        train_targets: np.ndarray,
        val_ids: list[np.ndarray],
        val_targets: np.ndarray,
        *,
        labels: list[Any],
        max_length: int,
        vocab_size: int,
        raw_lengths: np.ndarray | None = None,
        augmented_rows: int = 0,
    ) -> DataProfile:
        """`raw_lengths`: token counts before truncation (default: the truncated ids' lengths)."""
        train_ids, val_ids = [word_ids(x) for x in train_ids], [word_ids(x) for x in val_ids]  # n-gram columns off
        lengths = np.asarray(raw_lengths if raw_lengths is not None else [len(x) for x in train_ids], dtype=np.int64)
        if len(lengths) == 0:
            lengths = np.zeros(1, dtype=np.int64)
        counts, edges = np.histogram(
            lengths, bins=min(HISTOGRAM_BINS, max(1, int(lengths.max()) - int(lengths.min()) + 1))
        )
        return cls(
            labels=list(labels),
            train_counts=np.bincount(train_targets, minlength=len(labels)).astype(int).tolist(),
            validation_counts=np.bincount(val_targets, minlength=len(labels)).astype(int).tolist(),
            max_length=int(max_length),
            length_percentiles={f"p{p}": int(np.percentile(lengths, p)) for p in LENGTH_PERCENTILES},
            length_histogram={"edges": edges.round(2).tolist(), "counts": counts.astype(int).tolist()},
            truncated_fraction=float((lengths > max_length).mean()),
            train_unknown_rate=_unknown_rate(train_ids),
            validation_unknown_rate=_unknown_rate(val_ids),
            validation_texts_with_unknown=float(np.mean([bool((x == UNK_ID).any()) for x in val_ids]))
            if val_ids
            else 0.0,
            vocab_size=int(vocab_size),
            augmented_rows=int(augmented_rows),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataProfile:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _unknown_rate(ids: list[np.ndarray]) -> float:
    total = sum(len(x) for x in ids)
    return float(sum(int((x == UNK_ID).sum()) for x in ids) / total) if total else 0.0
