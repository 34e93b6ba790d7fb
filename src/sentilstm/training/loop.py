"""The training loop: fit -> run_epoch -> train_step, driven by callbacks, with bucketing and data parallelism.

    history = fit(net, train, validation, TrainConfig(epochs=5), labels=[0, 1], callbacks=[MyCallback()])

Knows tensors, class ids and metrics; nothing about text or label values. Early stopping, checkpoints (after every
epoch, atomically), embedding freezing, gradient norms and the plateau schedule are callbacks
(`sentilstm.training.callbacks`, which lists the hook points); the network is a `TrainableNetwork`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from sentilstm.config import TrainConfig
from sentilstm.errors import DataError, TrainingError
from sentilstm.estimators.evaluation import evaluate_probabilities
from sentilstm.estimators.inference import predict_probabilities
from sentilstm.system.device import autocast, resolve_device, resolve_precision
from sentilstm.system.threads import ThreadGovernor, thread_governor
from sentilstm.training import distributed
from sentilstm.training.adversarial import adversarial_loss, embedded_for_adversary, unlabeled_batches, unlabeled_loss
from sentilstm.training.batching import balanced_batches, bucketed_batches, collate, resample
from sentilstm.training.callbacks import (
    CallbackList,
    GradientNorms,
    LoopState,
    TrainingCallback,
    default_callbacks,
)
from sentilstm.training.checkpoint import (
    CheckpointSpec,
    check_resume_state,
    cuda_rng_states,
    read_checkpoint,
    restore_checkpoint,
    resume_error,
)
from sentilstm.training.losses import (
    BatchShare,
    FocalLoss,
    LossFunction,
    example_losses,
    interpolate_minority,
    make_loss,
    mixed_losses,
)
from sentilstm.training.optim import make_optimizer, make_scheduler
from sentilstm.training.records import EncodedSplit, EpochStats, History, TrainableNetwork

log = logging.getLogger(__name__)


def fit(
    model: TrainableNetwork,
    train: EncodedSplit,
    validation: EncodedSplit,
    config: TrainConfig,
    *,
    labels: list[Any],
    class_weights: Tensor | None = None,
    checkpoint: CheckpointSpec | None = None,
    resume: tuple[dict[str, Tensor], dict[str, Any]] | None = None,
    callback: TrainingCallback | None = None,
    callbacks: list[TrainingCallback] | None = None,
) -> History:
    """Train `model` in place, keep the best validation weights, and return the History.

    `callbacks` (and `callback`, called first) run between the built-in ones and checkpointing; see
    `sentilstm.training.callbacks` for the hooks and their order.

    Under torchrun with several processes (WORLD_SIZE > 1) this is data-parallel (see `sentilstm.training.distributed`):
    every rank builds the same global batches of `config.batch_size` texts and trains on its shard of each
    through DistributedDataParallel, the validation split is scored in shards and gathered, and only rank 0
    writes the checkpoint. The result equals a one-process run with the same batch size (up to float rounding,
    and with dropout drawing other masks), so `batch_size` is the global batch size whatever the process count.
    """
    config.validate()
    hooks = default_callbacks(checkpoint, [*([callback] if callback is not None else []), *(callbacks or [])])
    device = distributed.worker_device(resolve_device(config.device))
    with distributed.process_group(device) as parallel:
        if parallel:
            distributed.check_supported(config.sampling)
        governor = None
        if device.type == "cpu":  # N processes on one machine share its cores
            governor = thread_governor(
                config.num_threads, max_threads=distributed.default_threads() if parallel else None
            )
        elif config.num_threads:
            torch.set_num_threads(config.num_threads)
        return _fit(model, train, validation, config, labels, class_weights, resume, hooks, device, parallel, governor)


def _fit(
    model: TrainableNetwork,
    train: EncodedSplit,
    validation: EncodedSplit,
    config: TrainConfig,
    labels: list[Any],
    class_weights: Tensor | None,
    resume: tuple[dict[str, Tensor], dict[str, Any]] | None,
    hooks: CallbackList,
    device: torch.device,
    parallel: bool,
    governor: ThreadGovernor | None,
) -> History:
    """The epoch loop of `fit`, inside its (possibly absent) process group."""
    precision = resolve_precision(config.precision, device)
    model.to(device)
    lengths = np.fromiter((len(x) for x in train.ids), dtype=np.int64, count=len(train))
    steps_per_epoch = len(epoch_batches(train.targets, lengths, config, np.random.default_rng(0)))
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch * config.epochs)
    loss_fn = make_loss(config, class_weights, device)
    state = LoopState(model, optimizer, scheduler, config, History(monitor=config.monitor), train.fingerprint())
    if parallel and not distributed.same_everywhere((state.fingerprint, validation.fingerprint())):
        raise DataError(
            f"rank {distributed.rank()} encoded other training or validation data than rank 0; every "
            "process must read the same files with the same options (and the same sentilstm version)"
        )
    if resume is not None:
        state.history, state.best_state, state.bad_epochs = restore_checkpoint(
            resume, model, optimizer, scheduler, state.fingerprint, device
        )
        log.info("resumed after epoch %d of %d", len(state.history.epochs), config.epochs)
    else:
        torch.manual_seed(config.seed + distributed.rank())  # rank 0 as in one process; other ranks' dropout differs
    log.info(
        "training on %d texts (%d validation), %d batches/epoch, device %s, %s%s",
        len(train),
        len(validation),
        steps_per_epoch,
        device,
        precision,
        f", {distributed.world_size()} processes" if parallel else "",
    )
    hooks.on_train_begin(state)
    epoch_run = _EpochRun(
        state, hooks, train, validation, lengths, labels, loss_fn, device, precision, parallel, governor
    )
    for epoch in range(len(state.history.epochs) + 1, config.epochs + 1):
        if state.history.stopped_early:
            break
        epoch_run(epoch)
    hooks.on_train_end(state)
    return state.history


class _EpochRun:
    """One epoch of `fit`: callbacks, the training pass, validation, the decision."""

    def __init__(
        self,
        state: LoopState,
        hooks: CallbackList,
        train: EncodedSplit,
        validation: EncodedSplit,
        lengths: np.ndarray,
        labels: list[Any],
        loss_fn: LossFunction,
        device: torch.device,
        precision: str,
        parallel: bool,
        governor: ThreadGovernor | None,
    ) -> None:
        self.state, self.hooks, self.train, self.validation, self.lengths = state, hooks, train, validation, lengths
        self.labels, self.loss_fn, self.device, self.precision = labels, loss_fn, device, precision
        self.parallel, self.governor = parallel, governor
        self.replica: DataParallelReplica | None = None

    def __call__(self, epoch: int) -> EpochStats:
        state, hooks, config, model = self.state, self.hooks, self.state.config, self.state.model
        state.epoch = epoch
        hooks.on_epoch_begin(epoch)
        if self.parallel and (self.replica is None or not self.replica.matches(model)):
            self.replica = DataParallelReplica(model, self.device)  # DDP syncs the parameters trainable when built
        batches = global_batches(self.train.targets, self.lengths, config, epoch)  # the same on every rank
        hooks.on_epoch_start(epoch, config.epochs, len(batches))
        extra = self.train.unlabeled if config.adversarial == "vat" else None
        beside = unlabeled_batches(extra, len(batches), config, epoch) if extra else None
        started = time.perf_counter()
        result = run_epoch(
            model,
            state.optimizer,
            state.scheduler,
            self.loss_fn,
            self.train,
            batches,
            config,
            self.device,
            self.precision,
            lambda step, loss: hooks.on_step(epoch, step, loss),
            hooks.on_after_backward,
            replica=self.replica.module if self.replica is not None else None,
            governor=self.governor,
            unlabeled=beside,
        )
        seconds = time.perf_counter() - started
        probabilities = _validation_probabilities(model, self.validation, self.device, self.precision, len(self.labels))
        report = evaluate_probabilities(self.validation.targets, probabilities, self.labels)
        stats = EpochStats(
            epoch,
            result["loss"],
            report.loss,
            report.accuracy,
            report.macro_f1,
            report.weighted_f1,
            state.optimizer.param_groups[0]["lr"],
            seconds,
            len(self.train) / seconds,
            {},
            len(batches),
        )
        hooks.on_validation(stats)
        score = -report.loss if config.monitor == "loss" else getattr(report, config.monitor)
        score = distributed.broadcast(score)  # ranks score the same gathered predictions; rank 0's decision rules
        state.history.epochs.append(stats)
        hooks.on_epoch_scored(stats, score)
        log.info(
            "epoch %d/%d: train loss %.4f, val loss %.4f, val acc %.4f, val macro-F1 %.4f, %.0f texts/s%s",
            epoch,
            config.epochs,
            stats.train_loss,
            report.loss,
            report.accuracy,
            report.macro_f1,
            stats.samples_per_second,
            " (best)" if state.improved else "",
        )
        hooks.on_epoch_end(stats, state.improved)
        return stats


class DataParallelReplica:
    """`model` wrapped in DistributedDataParallel, with the set of trainable parameters it was built for.

    DDP all-reduces only the parameters that required gradients when it was constructed, so freezing or
    unfreezing the embedding layer between epochs needs a new wrapper (cheap: one broadcast of the weights).
    """

    def __init__(self, model: TrainableNetwork, device: torch.device) -> None:
        self.trainable = _trainable(model)
        self.module = DistributedDataParallel(
            cast(nn.Module, model), device_ids=[device] if device.type == "cuda" else None
        )

    def matches(self, model: TrainableNetwork) -> bool:
        return _trainable(model) == self.trainable


def _trainable(model: TrainableNetwork) -> tuple[bool, ...]:
    return tuple(p.requires_grad for p in model.parameters())


def _validation_probabilities(
    model: TrainableNetwork, validation: EncodedSplit, device: torch.device, precision: str, num_classes: int
) -> np.ndarray:
    """Probabilities for the whole validation split; with several ranks each scores every world-th text and all
    ranks receive every row, so they compute the same metrics and take the same early-stopping decision."""
    if not distributed.active():
        return predict_probabilities(cast(nn.Module, model), validation.ids, device=device, precision=precision)
    index = distributed.shard(np.arange(len(validation)))
    rows = np.zeros((0, num_classes))
    if len(index):
        rows = predict_probabilities(
            cast(nn.Module, model), [validation.ids[i] for i in index], device=device, precision=precision
        )
    return distributed.gather_rows(index, rows, len(validation))


def epoch_batches(
    targets: np.ndarray, lengths: np.ndarray, config: TrainConfig, rng: np.random.Generator
) -> list[np.ndarray]:
    """The training batches of one epoch (indices into the split), as `config.sampling` asks."""
    if config.sampling == "balanced_batches":
        return balanced_batches(targets, lengths, config.batch_size, config.bucket_pool, rng)
    chosen = resample(targets, config.sampling if config.sampling in ("oversample", "undersample") else "none", rng)
    return [chosen[b] for b in bucketed_batches(lengths[chosen], config.batch_size, config.bucket_pool, rng)]


def global_batches(targets: np.ndarray, lengths: np.ndarray, config: TrainConfig, epoch: int) -> list[np.ndarray]:
    """Epoch `epoch`'s batches of `config.batch_size` texts, reshuffled each epoch from (seed, epoch) alone: so a
    resumed run continues the same order, and every rank of a distributed run draws the same batches (each then
    trains on `distributed.shard(batch)`, and the shards of a step together are the one-process batch)."""
    return epoch_batches(targets, lengths, config, np.random.default_rng([config.seed, epoch]))


def run_epoch(
    model: TrainableNetwork,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    loss_fn: LossFunction,
    data: EncodedSplit,
    batches: list[np.ndarray],
    config: TrainConfig,
    device: torch.device,
    precision: str,
    on_step: Callable[[int, float], None],
    after_backward: Callable[[int], None] | None = None,
    *,
    replica: nn.Module | None = None,
    governor: ThreadGovernor | None = None,
    unlabeled: list[np.ndarray] | None = None,
) -> dict[str, float]:
    """One pass over `batches`: {"loss": the mean training loss (weighted by batch size), "steps": optimiser steps}.

    `on_step(step, loss)` follows each step, `after_backward(step)` each backward pass (before clipping). With a DDP
    `replica` (several ranks), `batches` are the global batches: this rank trains on its shard of each, and the
    loss is the mean over every rank's examples. A `governor` is told each step's padded tokens and time, and may
    change torch's CPU threads between steps. `unlabeled`: a batch of `data.unlabeled` beside each step's (VAT).
    """
    model.train()
    total, count = 0.0, 0
    world = distributed.world_size() if replica is not None else 1
    weights = loss_fn.weight.detach().cpu().double().numpy() if loss_fn.weight is not None else None
    step_scheduler = not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    for step, batch in enumerate(batches, start=1):
        index, share = batch, None
        if replica is not None:
            index = distributed.shard(batch)
            keep = torch.ones(len(index), device=device)
            if not len(index):
                index, keep = batch[:1], torch.zeros(1, device=device)
            denominator = float(weights[data.targets[batch]].sum()) if weights is not None else float(len(batch))
            share = BatchShare(keep, denominator, world)
        ids, lengths = collate(data.ids, index, device)
        targets = torch.from_numpy(data.targets[index]).to(device)
        teacher = torch.from_numpy(data.teacher[index]).float().to(device) if data.teacher is not None else None
        started = time.perf_counter()
        loss = train_step(
            model,
            optimizer,
            loss_fn,
            ids,
            lengths,
            targets,
            config,
            device,
            precision,
            functools.partial(after_backward, step) if after_backward is not None else None,
            replica=replica,
            share=share,
            teacher=teacher,
            unlabeled=collate(data.unlabeled, unlabeled[step - 1], device) if unlabeled and data.unlabeled else None,
        )["loss"]
        if governor is not None:  # train_step's loss is a Python float: the step has finished
            governor.record(ids.numel(), time.perf_counter() - started)
        if step_scheduler:
            scheduler.step()
        total += loss * len(batch) / world  # summed over the ranks: the global batch's loss (see BatchShare)
        count += len(batch)
        on_step(step, loss)
    mean = distributed.all_sum([total], device)[0] / max(count, 1) if replica is not None else total / max(count, 1)
    return {"loss": mean, "steps": len(batches)}


def train_step(
    model: TrainableNetwork,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFunction,
    ids: Tensor,
    lengths: Tensor,
    targets: Tensor,
    config: TrainConfig,
    device: torch.device,
    precision: str,
    after_backward: Callable[[], None] | None = None,
    *,
    replica: nn.Module | None = None,
    share: BatchShare | None = None,
    teacher: Tensor | None = None,
    unlabeled: tuple[Tensor, Tensor] | None = None,
) -> dict[str, float]:
    """Forward, loss, backward, `after_backward()` (gradient norms), clip, step; returns {"loss": the batch loss}.

    With `teacher` (its probabilities for the batch, (batch, classes)) the loss mixes the labels' loss with the
    soft-target loss of distillation (`losses.mixed_losses`). With `config.adversarial` the adversarial term of
    `sentilstm.training.adversarial` is added, and VAT's on the `unlabeled` batch (ids, lengths) when given.

    With a DDP `replica` the forward and backward run through it (gradients are all-reduced during backward),
    and `share` scales this rank's loss so that the averaged gradient is the global batch's; the returned
    value is then this rank's estimate of the global batch loss.
    """
    forward = replica if replica is not None else model
    embedded = None
    with autocast(device, precision):
        if config.sampling == "smote":
            representations, targets = interpolate_minority(model.represent(ids, lengths), targets)
            logits = model.classify(representations)
        elif config.adversarial is not None:  # the embeddings are kept: the adversarial term perturbs them
            embedded = embedded_for_adversary(model, ids)
            logits = model.forward_embedded(embedded, lengths)  # type: ignore[attr-defined]
        else:
            logits = forward(ids, lengths)  # (batch, num_classes)
    if share is None:
        loss = mixed_losses(loss_fn(logits.float(), targets), logits.float(), teacher, config)
    else:
        each = mixed_losses(example_losses(loss_fn, logits.float(), targets), logits.float(), teacher, config)
        loss = (each * share.keep).sum() * (share.world / share.denominator)
    if embedded is not None:
        with autocast(device, precision):
            loss = loss + adversarial_loss(model, embedded, lengths, logits, targets, loss_fn, config)
            if unlabeled is not None:  # (ids, lengths) of unlabelled texts: VAT's term on them too
                loss = loss + unlabeled_loss(model, *unlabeled, config)
    if config.head_l2 > 0:
        loss = loss + config.head_l2 * model.head.weight.float().pow(2).sum()  # on every rank: DDP averages it to 1x
    if not torch.isfinite(loss):
        raise TrainingError(
            f"training loss became {loss.item()}; lower the learning rate or the weight decay, use "
            "precision='fp32', or check pretrained vectors for NaN"
        )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if after_backward is not None:
        after_backward()
    if config.max_grad_norm > 0:
        nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    return {"loss": float(loss.item())}


__all__ = [
    "BatchShare",
    "CheckpointSpec",
    "EncodedSplit",
    "EpochStats",
    "FocalLoss",
    "GradientNorms",
    "History",
    "LoopState",
    "TrainableNetwork",
    "TrainingCallback",
    "check_resume_state",
    "cuda_rng_states",
    "epoch_batches",
    "example_losses",
    "fit",
    "global_batches",
    "interpolate_minority",
    "read_checkpoint",
    "resume_error",
    "run_epoch",
    "train_step",
]
