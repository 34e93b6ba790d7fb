"""What the training loop reads and returns: encoded splits, per-epoch statistics, the History, and the network
protocol the loop trains.

    history = fit(net, EncodedSplit(ids, targets), EncodedSplit(val_ids, val_targets), TrainConfig(), labels=[0, 1])
    history.epochs[-1].val_macro_f1, history.best_epoch
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from torch import Tensor, nn


@runtime_checkable
class TrainableNetwork(Protocol):
    """What the training loop trains (`SentimentNet` is one): a module mapping padded token ids and lengths to logits,
    in two halves (`represent` then `classify`, so SMOTE can interpolate between representations), with an
    `embedding` layer (frozen and thawed by `EmbeddingFreezing`) and a linear `head` (`TrainConfig.head_l2`)."""

    embedding: nn.Embedding
    head: nn.Linear
    training: bool

    def __call__(self, ids: Tensor, lengths: Tensor) -> Tensor: ...  # (batch, num_classes) logits

    def represent(self, ids: Tensor, lengths: Tensor) -> Tensor: ...  # (batch, pooled_size)

    def classify(self, representation: Tensor) -> Tensor: ...  # (batch, num_classes)

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def named_parameters(self, *args: Any, **kwargs: Any) -> Iterator[tuple[str, nn.Parameter]]: ...

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any: ...

    def to(self, *args: Any, **kwargs: Any) -> Any: ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...


@dataclass
class EncodedSplit:
    """Token ids per text (unpadded) and class ids; `teacher`: a teacher's probabilities (n, classes) to distil;
    `unlabeled`: token ids of texts without labels (virtual adversarial training's unlabelled batches)."""

    ids: list[np.ndarray]
    targets: np.ndarray
    teacher: np.ndarray | None = None
    unlabeled: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.targets.astype(np.int64).tobytes())
        for row in self.ids:
            digest.update(row.astype(np.int64).tobytes())
            digest.update(b"|")
        if self.teacher is not None:
            digest.update(self.teacher.astype(np.float64).tobytes())
        for row in self.unlabeled or []:
            digest.update(row.astype(np.int64).tobytes())
            digest.update(b"u")
        return digest.hexdigest()[:16]


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    val_macro_f1: float
    val_weighted_f1: float
    learning_rate: float
    seconds: float
    samples_per_second: float
    # mean L2 norm of each layer's gradient over the epoch (every 8th step), before clipping ("head", "forward_rnns.0")
    gradient_norms: dict[str, float] = field(default_factory=dict)
    steps: int = 0  # optimiser steps (global batches) this epoch; the same for any number of processes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class History:
    """Per-epoch statistics and which epoch's weights were kept."""

    monitor: str
    epochs: list[EpochStats] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -math.inf
    stopped_early: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "epochs": [e.to_dict() for e in self.epochs]}

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-epoch lists by name, as Keras' `History.history`: loss, val_loss, val_accuracy, val_macro_f1,
        val_weighted_f1, learning_rate, seconds (`pd.DataFrame(clf.history_.history).plot()`)."""
        names = {"loss": "train_loss", "val_loss": "val_loss", "val_accuracy": "val_accuracy"}
        names |= {"val_macro_f1": "val_macro_f1", "val_weighted_f1": "val_weighted_f1"}
        names |= {"learning_rate": "learning_rate", "seconds": "seconds"}
        return {key: [float(getattr(e, field)) for e in self.epochs] for key, field in names.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(**{**data, "epochs": [EpochStats(**e) for e in data["epochs"]]})


__all__ = ["EncodedSplit", "EpochStats", "History", "TrainableNetwork"]
