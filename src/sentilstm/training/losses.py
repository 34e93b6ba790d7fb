"""The losses the training loop minimises: cross-entropy or focal, mixed with a teacher's soft targets when
distilling, a rank's share of a global batch under DDP, and SMOTE in the hidden space.

    loss_fn = make_loss(TrainConfig(loss="focal"), class_weights, device)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sentilstm.config import TrainConfig


def make_loss(config: TrainConfig, class_weights: Tensor | None, device: torch.device) -> LossFunction:
    """The loss `config.loss` names, with the class weights (on `device`)."""
    weights = class_weights.to(device) if class_weights is not None else None
    return FocalLoss(config.focal_gamma, weights) if config.loss == "focal" else nn.CrossEntropyLoss(weight=weights)


def interpolate_minority(representations: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """SMOTE in the hidden space: add synthetic rows until every class in the batch is as large as the largest.

    Each synthetic row is r_i + u * (r_j - r_i), u ~ U(0, 1), for two random texts i, j of the same class, so it
    lies between two different real examples of that class; gradients flow into both. Classes with fewer than two
    texts in the batch are left as they are (there is nothing to interpolate between). Uses torch's seeded RNG.
    """
    counts = torch.bincount(targets)
    largest = int(counts.max())
    rows, labels = [representations], [targets]
    for c in torch.nonzero((counts >= 2) & (counts < largest)).flatten().tolist():
        members = torch.nonzero(targets == c).flatten()
        need = largest - len(members)
        first = torch.randint(len(members), (need,), device=targets.device)
        offset = torch.randint(1, len(members), (need,), device=targets.device)  # a different text of the class
        i, j = members[first], members[(first + offset) % len(members)]
        u = torch.rand(need, 1, device=representations.device, dtype=representations.dtype)
        rows.append(representations[i] + u * (representations[j] - representations[i]))  # (need, pooled_size)
        labels.append(targets.new_full((need,), c))
    return torch.cat(rows), torch.cat(labels)


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_true)^gamma, so confidently right
    examples count less; class weights and the weighted mean follow nn.CrossEntropyLoss."""

    weight: Tensor | None  # a buffer (moves with .to()), declared as nn.CrossEntropyLoss declares its own

    def __init__(self, gamma: float, weight: Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        loss = self.per_example(logits, targets)
        w = self.weight[targets] if self.weight is not None else torch.ones_like(loss)
        return loss.sum() / w.sum()

    def per_example(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Each example's class-weighted focal loss, (batch,): the numerators of the weighted mean."""
        log_p = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None]).squeeze(1)  # (batch,)
        loss = -((1 - log_p.exp()) ** self.gamma) * log_p
        return self.weight[targets] * loss if self.weight is not None else loss


# the losses `make_loss` builds; `example_losses` and the loop's DDP share rely on their `weight`
LossFunction = FocalLoss | nn.CrossEntropyLoss


def example_losses(loss_fn: LossFunction, logits: Tensor, targets: Tensor) -> Tensor:
    """Per-example losses times their class weights, (batch,), for `loss_fn` (cross-entropy or FocalLoss);
    the batch loss is their sum over the batch's summed class weights (what `loss_fn` itself returns)."""
    if isinstance(loss_fn, FocalLoss):
        return loss_fn.per_example(logits, targets)
    return F.cross_entropy(logits, targets, weight=loss_fn.weight, reduction="none")


def soft_target_losses(logits: Tensor, teacher: Tensor, temperature: float) -> Tensor:
    """Knowledge distillation (Hinton et al. 2015), per example (batch,): T^2 * KL(teacher_T || student_T), where
    both distributions are softened by `temperature` (the teacher's probabilities p as p^(1/T), renormalised, which
    is its logits divided by T). T^2 keeps the gradients' scale as T changes."""
    log_student = torch.log_softmax(logits / temperature, dim=-1)
    log_teacher = torch.log_softmax(torch.log(teacher.clamp(min=1e-12)) / temperature, dim=-1)
    return temperature**2 * (log_teacher.exp() * (log_teacher - log_student)).sum(dim=-1)


def mixed_losses(hard: Tensor, logits: Tensor, teacher: Tensor | None, config: TrainConfig) -> Tensor:
    """`hard` (the labels' loss, a batch mean or per example) mixed with the teacher's soft-target loss of the same
    shape by `config.distill_weight`; `hard` alone without a teacher."""
    if teacher is None:
        return hard
    soft = soft_target_losses(logits, teacher, config.distill_temperature)
    weight = config.distill_weight
    return (1 - weight) * hard + weight * (soft if hard.dim() else soft.mean())


@dataclass
class BatchShare:
    """This rank's part of a global batch, for a loss whose DDP-averaged gradient is the whole batch's.

    DDP averages gradients over the ranks, so each rank's loss is world * sum(w_i * loss_i over its rows) /
    sum(w_i over the global batch): the average is then exactly the weighted mean over the global batch, even
    when the batch does not split evenly. `keep` is 0 for a stand-in row (a rank whose shard is empty still
    runs a step, since every rank must join every gradient all-reduce).
    """

    keep: Tensor  # (rows,) 1.0 for the rank's rows, 0.0 for a stand-in
    denominator: float  # sum of the class weights (or count) of the global batch
    world: int


__all__ = [
    "BatchShare",
    "FocalLoss",
    "LossFunction",
    "example_losses",
    "interpolate_minority",
    "make_loss",
    "mixed_losses",
    "soft_target_losses",
]
