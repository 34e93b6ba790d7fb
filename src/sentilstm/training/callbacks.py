"""The training loop's callbacks: what happens around an epoch and a step, as in Keras and skorch.

    class PrintLoss(TrainingCallback):
        def on_epoch_end(self, stats, improved): print(stats.epoch, stats.val_loss)
    clf.fit(X, y, callbacks=[PrintLoss()])

Hook points, in the order the loop calls them (every hook of every callback, callbacks in list order):

    on_train_begin(state)                      once, after a checkpoint is restored, before the first epoch
      on_epoch_begin(epoch)                    before the epoch's batches are drawn
      on_epoch_start(epoch, num_epochs, num_batches)
        on_after_backward(step)                each step: gradients computed, before clipping and the optimiser step
        on_step(epoch, step, loss)             each step: after the optimiser (and a per-step schedule) stepped
      on_validation(stats)                     the epoch's statistics, validation scored, before any decision
      on_epoch_scored(stats, score)            the monitored score (higher is better), added to state.history
      on_epoch_end(stats, improved)            the epoch decided (improved: its weights are the best so far)
    on_train_end(state)                        after the last epoch (or an early stop)

`state` (a `LoopState`) is the loop's: the model, optimiser, scheduler, config and history, and the early-stopping
bookkeeping. The built-in callbacks are `EmbeddingFreezing`, `GradientNormTracking`, `EarlyStopping`,
`PlateauSchedule` (before the caller's callbacks) and `Checkpointing` (after them), which `default_callbacks` makes.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sentilstm.config import TrainConfig
from sentilstm.errors import ConfigError
from sentilstm.training import distributed
from sentilstm.training.checkpoint import CheckpointSpec, save_checkpoint
from sentilstm.training.optim import embedding_tables, first_layer_parameters
from sentilstm.training.records import EpochStats, History, TrainableNetwork

log = logging.getLogger(__name__)


@dataclass
class LoopState:
    """What the training loop's callbacks may read and change."""

    model: TrainableNetwork
    optimizer: torch.optim.Optimizer
    scheduler: Any
    config: TrainConfig
    history: History
    fingerprint: str = ""  # of the training split, stored in checkpoints
    best_state: dict[str, Tensor] | None = None  # the best epoch's weights (on the CPU)
    bad_epochs: int = 0  # epochs since the last improvement
    improved: bool = False  # whether the current epoch improved on the best score
    epoch: int = 0


class TrainingCallback:
    """Hooks around the training loop's epochs and steps; each does nothing unless overridden (see the module's
    docstring for when each is called). The CLI draws its progress bar with `on_epoch_start`, `on_step` and
    `on_epoch_end`; built-in callbacks keep the `state` `on_train_begin` gives them."""

    def on_train_begin(self, state: LoopState) -> None: ...

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None: ...

    def on_after_backward(self, step: int) -> None: ...

    def on_step(self, epoch: int, step: int, loss: float) -> None: ...

    def on_validation(self, stats: EpochStats) -> None: ...

    def on_epoch_scored(self, stats: EpochStats, score: float) -> None: ...

    def on_epoch_end(self, stats: EpochStats, improved: bool) -> None: ...

    def on_train_end(self, state: LoopState) -> None: ...


HOOKS = tuple(name for name in vars(TrainingCallback) if name.startswith("on_"))


class CallbackList(TrainingCallback):
    """Several callbacks called as one, in order."""

    def __init__(self, callbacks: list[TrainingCallback]) -> None:
        for callback in callbacks:
            if not isinstance(callback, TrainingCallback):
                raise ConfigError(
                    f"a training callback must subclass sentilstm.TrainingCallback, got {type(callback).__name__}"
                )
        self.callbacks = list(callbacks)
        for name in HOOKS:
            setattr(self, name, self._caller([getattr(c, name) for c in self.callbacks]))

    @staticmethod
    def _caller(methods: list[Any]) -> Any:
        def call(*args: Any) -> None:
            for method in methods:
                method(*args)

        return call


class EmbeddingFreezing(TrainingCallback):
    """Keep the embedding layer fixed for the first `TrainConfig.freeze_embeddings` epochs (-1: always), and the
    whole pretrained encoder (embeddings and first recurrent layer) for the first `TrainConfig.freeze_encoder`
    epochs (ULMFiT's gradual unfreezing: the new layers learn before they disturb what pretraining found); then
    fine-tune them; all is trainable again when training ends."""

    def on_train_begin(self, state: LoopState) -> None:
        self.state = state

    def on_epoch_begin(self, epoch: int) -> None:
        after, encoder = self.state.config.freeze_embeddings, self.state.config.freeze_encoder
        freeze_embeddings(self.state.model, after == -1 or epoch <= after or epoch <= encoder)
        freeze_first_layer(self.state.model, epoch <= encoder)

    def on_train_end(self, state: LoopState) -> None:
        freeze_embeddings(state.model, False)
        freeze_first_layer(state.model, False)


def freeze_embeddings(model: TrainableNetwork, frozen: bool) -> None:
    """Freeze or unfreeze the embedding layer: the word table and, with subwords, the character n-gram table."""
    changed = [t for t in embedding_tables(model) if t.weight.requires_grad == frozen]
    for table in changed:
        table.weight.requires_grad_(not frozen)
    if changed:
        log.info("embedding layer %s", "frozen" if frozen else "trainable (fine-tuning)")


def freeze_first_layer(model: TrainableNetwork, frozen: bool) -> None:
    """Freeze or unfreeze the first recurrent layer (both directions), the part of the encoder pretraining trains."""
    changed = [p for p in first_layer_parameters(model) if p.requires_grad == frozen]
    for weight in changed:
        weight.requires_grad_(not frozen)
    if changed:
        log.info("first recurrent layer %s", "frozen" if frozen else "trainable (fine-tuning)")


class GradientNorms:
    """Per-layer gradient norms, averaged over an epoch's steps (every EVERY-th): the evidence for vanishing or
    exploding gradients, the failure LSTMs exist to fix. Sums stay on the device; one sync per epoch."""

    EVERY = 8  # measured on a BiLSTM-128, 30k vocabulary: norms on every step cost 2-5% of training time

    VANISHING = 1e-6  # a layer whose mean gradient norm is below this is not learning
    EXPLODING = 1e2  # typical pre-clipping norms here are 0.01-10; far above that, clipping hides a problem

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.steps = 0

    def add(self, model: TrainableNetwork) -> None:
        squares: dict[str, Tensor] = {}
        for name, parameter in model.named_parameters():
            if parameter.grad is not None:
                layer = _layer_name(name)
                squares[layer] = squares.get(layer, 0) + parameter.grad.detach().float().pow(2).sum()
        for layer, square in squares.items():
            self.sums[layer] = self.sums.get(layer, 0) + square.sqrt()
        self.steps += 1

    def means(self) -> dict[str, float]:
        return {layer: float(total) / max(self.steps, 1) for layer, total in self.sums.items()}

    def warn(self, epoch: int) -> None:
        for layer, norm in self.means().items():
            if norm < self.VANISHING:
                log.warning(
                    "epoch %d: the gradient of %s vanished (mean norm %.1e); it has stopped learning: raise "
                    "the learning rate, shorten max_length, or use a GRU",
                    epoch,
                    layer,
                    norm,
                )
            elif norm > self.EXPLODING:
                log.warning(
                    "epoch %d: the gradient of %s exploded (mean norm %.1e before clipping); lower the "
                    "learning rate or max_grad_norm",
                    epoch,
                    layer,
                    norm,
                )


def _layer_name(parameter: str) -> str:
    """ "forward_rnns.0.weight_hh_l0" -> "forward_rnns.0", "head.weight" -> "head": the module owning it."""
    parts = parameter.split(".")[:-1]
    return ".".join(parts[:2] if len(parts) > 1 and parts[1].isdigit() else parts[:1]) or parameter


class GradientNormTracking(TrainingCallback):
    """Each epoch's per-layer gradient norms (every `GradientNorms.EVERY`-th step) into `EpochStats.gradient_norms`,
    with a warning for a layer whose gradient vanished or exploded."""

    def on_train_begin(self, state: LoopState) -> None:
        self.state = state

    def on_epoch_begin(self, epoch: int) -> None:
        self.norms = GradientNorms()

    def on_after_backward(self, step: int) -> None:
        if step % GradientNorms.EVERY == 1:  # every 8th step: a full pass costs 2-5%
            self.norms.add(self.state.model)

    def on_validation(self, stats: EpochStats) -> None:
        stats.gradient_norms = self.norms.means()
        self.norms.warn(stats.epoch)


class EarlyStopping(TrainingCallback):
    """Keep the weights of the best-scoring epoch, stop after `TrainConfig.patience` epochs without improvement,
    and restore the best weights when training ends."""

    def on_train_begin(self, state: LoopState) -> None:
        self.state = state

    def on_epoch_scored(self, stats: EpochStats, score: float) -> None:
        state, history = self.state, self.state.history
        state.improved = score > history.best_score
        if state.improved:
            history.best_epoch, history.best_score, state.bad_epochs = stats.epoch, score, 0
            state.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in state.model.state_dict().items()})
        else:
            state.bad_epochs += 1
            history.stopped_early = state.bad_epochs >= state.config.patience and stats.epoch < state.config.epochs

    def on_train_end(self, state: LoopState) -> None:
        if state.best_state is not None:
            state.model.load_state_dict(state.best_state)
        if state.history.stopped_early:
            log.info("stopped early; kept the weights of epoch %d", state.history.best_epoch)


class PlateauSchedule(TrainingCallback):
    """Halve the learning rate when the monitored score stops improving (`TrainConfig.schedule="plateau"`)."""

    def on_train_begin(self, state: LoopState) -> None:
        self.state = state

    def on_epoch_scored(self, stats: EpochStats, score: float) -> None:
        if isinstance(self.state.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.state.scheduler.step(score)


class Checkpointing(TrainingCallback):
    """Write a checkpoint after every epoch (rank 0 alone under torchrun), from which `fit(..., resume=...)`
    continues."""

    def __init__(self, spec: CheckpointSpec) -> None:
        self.spec = spec

    def on_train_begin(self, state: LoopState) -> None:
        self.state = state

    def on_epoch_end(self, stats: EpochStats, improved: bool) -> None:
        if distributed.is_main_process():
            state = self.state
            save_checkpoint(
                self.spec,
                state.model,
                state.optimizer,
                state.scheduler,
                state.history,
                state.best_state,
                state.bad_epochs,
                state.fingerprint,
            )


def default_callbacks(checkpoint: CheckpointSpec | None, user: list[TrainingCallback]) -> CallbackList:
    """The built-in callbacks around the caller's: freezing, gradient norms, early stopping and the plateau schedule
    first, then `user`'s, then checkpointing (so a checkpoint holds what every callback did to the epoch)."""
    built_in: list[TrainingCallback] = [EmbeddingFreezing(), GradientNormTracking(), EarlyStopping(), PlateauSchedule()]
    return CallbackList([*built_in, *user, *([Checkpointing(checkpoint)] if checkpoint is not None else [])])


__all__ = [
    "CallbackList",
    "Checkpointing",
    "EarlyStopping",
    "EmbeddingFreezing",
    "GradientNormTracking",
    "GradientNorms",
    "LoopState",
    "PlateauSchedule",
    "TrainingCallback",
    "default_callbacks",
    "freeze_embeddings",
    "freeze_first_layer",
]
