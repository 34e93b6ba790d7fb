"""The training loop: fit -> run_epoch -> train_step, with bucketing, early stopping and checkpoints.

    history = fit(net, train, validation, TrainConfig(epochs=5), checkpoint=CheckpointSpec("run.ckpt"))

Knows tensors, class ids and metrics; nothing about text or label values. A checkpoint is written after
every epoch (atomically) and holds everything needed to continue bit-for-bit: weights, best weights,
optimiser and schedule state, the torch RNG, history, plus an opaque payload from the caller.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from sentilstm.training import distributed
from sentilstm.artifact.format import read_file, write_file
from sentilstm.training.batching import balanced_batches, bucketed_batches, collate, resample
from sentilstm.config import TrainConfig, check_type
from sentilstm.errors import ArtifactError, ConfigError, DataError, TrainingError
from sentilstm.estimators.evaluation import evaluate_probabilities
from sentilstm.system.files import writing
from sentilstm.estimators.inference import predict_probabilities
from sentilstm.system.device import autocast, resolve_device, resolve_precision
from sentilstm.artifact.schema import check_tensors, same_structure
from sentilstm.system.threads import ThreadGovernor, thread_governor

log = logging.getLogger(__name__)


@dataclass
class EncodedSplit:
    """Token ids per text (unpadded) and class ids."""

    ids: list[np.ndarray]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.targets.astype(np.int64).tobytes())
        for row in self.ids:
            digest.update(row.astype(np.int64).tobytes())
            digest.update(b"|")
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(**{**data, "epochs": [EpochStats(**e) for e in data["epochs"]]})


class TrainingCallback:
    """Hooks for progress display; the default does nothing. The CLI draws a progress bar with them."""

    def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None: ...

    def on_step(self, epoch: int, step: int, loss: float) -> None: ...

    def on_epoch_end(self, stats: EpochStats, improved: bool) -> None: ...


@dataclass
class CheckpointSpec:
    """Where to checkpoint, whether to resume from it, and what the caller needs stored to rebuild itself."""

    path: Path
    payload: dict[str, Any] = field(default_factory=dict)


def read_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Tensors and payload of a training checkpoint (for resuming), its training state checked: what `_save` wrote
    is there, of its types. The caller's payload is the caller's to check, and with it the network: see
    `check_resume_state` (`SentimentClassifier` does both when it resumes)."""
    tensors, payload = read_file(path, kind="checkpoint")
    try:
        _training_state(tensors, payload)
    except (ArtifactError, ConfigError) as exc:
        raise resume_error(path, exc) from None
    return tensors, payload


def resume_error(path: str | Path, problem: Exception) -> ArtifactError:
    """The one-line error for a checkpoint that cannot be resumed from."""
    return ArtifactError(f"{str(path)!r} cannot be used to resume: {problem}; it is damaged, edited or from another "
                         "sentilstm version: start again without --resume")


def _training_state(tensors: dict[str, Tensor], payload: dict[str, Any]) -> dict[str, Any]:
    """The "training" part `_save` writes, each field of its type, and its tensors' names and random state."""
    training = payload.get("training")
    if not isinstance(training, dict):
        raise ArtifactError(f"training must be an object, got {type(training).__name__}")
    for key, kind in (("history", History), ("bad_epochs", int), ("fingerprint", str), ("param_groups", list),
                      ("scheduler", dict)):
        if key not in training:
            raise ArtifactError(f"the file has no 'training.{key}'")
        check_type(f"training.{key}", training[key], kind, finite=False)
    kinds = ("model.", "best.", "optimizer.", "rng.cuda.")
    unexpected = sorted(name for name in tensors if name != "rng.torch" and not name.startswith(kinds))
    if unexpected:
        raise ArtifactError(f"the file holds unexpected tensor(s) {unexpected[:5]}")
    rng, size = tensors.get("rng.torch"), tuple(torch.get_rng_state().shape)
    if rng is None or rng.dtype != torch.uint8 or tuple(rng.shape) != size:
        raise ArtifactError(f"tensor rng.torch must be torch's random state ({size[0]} bytes, uint8)")
    for name in (n for n in tensors if n.startswith("rng.cuda.")):
        if tensors[name].dtype != torch.uint8 or tensors[name].dim() != 1:
            raise ArtifactError(f"tensor {name} must be a CUDA random state (1-D, uint8)")
    cuda_names = sorted(n for n in tensors if n.startswith("rng.cuda."))
    if sorted(cuda_names) != sorted(f"rng.cuda.{i}" for i in range(len(cuda_names))):
        raise ArtifactError(f"the CUDA random states must be named rng.cuda.0 .. rng.cuda.{len(cuda_names) - 1}, "
                            f"got {cuda_names[:5]}")
    return training


def cuda_rng_states(tensors: dict[str, Tensor]) -> list[Tensor]:
    """A checkpoint's CUDA random states in device order (rng.cuda.2 before rng.cuda.10)."""
    count = sum(name.startswith("rng.cuda.") for name in tensors)
    return [tensors[f"rng.cuda.{i}"] for i in range(count)]


def check_resume_state(tensors: dict[str, Tensor], payload: dict[str, Any], model: nn.Module,
                       config: TrainConfig) -> None:
    """Raise ArtifactError unless a checkpoint's weights, optimiser and schedule state fit `model` (on the meta
    device it costs nothing) trained with `config`, so `_restore` loads them without a shape or key error."""
    training = payload["training"]  # read_checkpoint checked its fields
    optimizer = _make_optimizer(model, config)
    scheduler = _scheduler_state(_make_scheduler(optimizer, config, total_steps=1))  # adds keys to the groups
    same_structure("training.param_groups", training["param_groups"], optimizer.state_dict()["param_groups"],
                   finite=True)
    same_structure("training.scheduler", training["scheduler"], scheduler, finite=False)
    shapes = {name: (tuple(t.shape), t.dtype) for name, t in model.state_dict().items()}
    expected = {f"model.{name}": shape for name, shape in shapes.items()}
    if any(name.startswith("best.") for name in tensors):
        expected.update({f"best.{name}": shape for name, shape in shapes.items()})
    parameters = [p for group in optimizer.param_groups for p in group["params"]]  # as the state numbers them
    state: dict[str, set[str]] = {}
    for name in (n for n in tensors if n.startswith("optimizer.")):
        index, _, key = name.removeprefix("optimizer.").partition(".")
        if not index.isdigit() or int(index) >= len(parameters) or key not in ("step", "exp_avg", "exp_avg_sq"):
            raise ArtifactError(f"tensor {name} names no optimiser state of this network")
        state.setdefault(index, set()).add(key)
        expected[name] = ((), torch.float32) if key == "step" else (tuple(parameters[int(index)].shape), torch.float32)
    if any(keys != {"step", "exp_avg", "exp_avg_sq"} for keys in state.values()):
        raise ArtifactError("the optimiser state lacks step, exp_avg or exp_avg_sq of some parameter")
    expected.update({name: (tuple(tensors[name].shape), tensors[name].dtype) for name in tensors
                     if name.startswith("rng.")})  # read_checkpoint checked them
    check_tensors(expected, tensors, exact=True, finite=False)


def fit(
    model: nn.Module,
    train: EncodedSplit,
    validation: EncodedSplit,
    config: TrainConfig,
    *,
    labels: list[Any],
    class_weights: Tensor | None = None,
    checkpoint: CheckpointSpec | None = None,
    resume: tuple[dict[str, Tensor], dict[str, Any]] | None = None,
    callback: TrainingCallback | None = None,
) -> History:
    """Train `model` in place, keep the best validation weights, and return the History.

    Under torchrun with several processes (WORLD_SIZE > 1) this is data-parallel (see `sentilstm.training.distributed`):
    every rank builds the same global batches of `config.batch_size` texts and trains on its shard of each
    through DistributedDataParallel, the validation split is scored in shards and gathered, and only rank 0
    writes the checkpoint. The result equals a one-process run with the same batch size (up to float rounding,
    and with dropout drawing other masks), so `batch_size` is the global batch size whatever the process count.
    """
    config.validate()
    device = distributed.worker_device(resolve_device(config.device))
    with distributed.process_group(device) as parallel:
        if parallel:
            distributed.check_supported(config.sampling)
        governor = None
        if device.type == "cpu":  # N processes on one machine share its cores
            governor = thread_governor(config.num_threads, max_threads=distributed.default_threads() if parallel else None)
        elif config.num_threads:
            torch.set_num_threads(config.num_threads)
        return _fit(model, train, validation, config, labels, class_weights, checkpoint, resume,
                    callback or TrainingCallback(), device, parallel, governor)


def _fit(
    model: nn.Module,
    train: EncodedSplit,
    validation: EncodedSplit,
    config: TrainConfig,
    labels: list[Any],
    class_weights: Tensor | None,
    checkpoint: CheckpointSpec | None,
    resume: tuple[dict[str, Tensor], dict[str, Any]] | None,
    callback: TrainingCallback,
    device: torch.device,
    parallel: bool,
    governor: ThreadGovernor | None,
) -> History:
    """The epoch loop of `fit`, inside its (possibly absent) process group."""
    precision = resolve_precision(config.precision, device)
    model.to(device)
    lengths = np.fromiter((len(x) for x in train.ids), dtype=np.int64, count=len(train))
    steps_per_epoch = len(epoch_batches(train.targets, lengths, config, np.random.default_rng(0)))
    optimizer = _make_optimizer(model, config)
    scheduler = _make_scheduler(optimizer, config, steps_per_epoch * config.epochs)
    weights = class_weights.to(device) if class_weights is not None else None
    loss_fn = FocalLoss(config.focal_gamma, weights) if config.loss == "focal" else nn.CrossEntropyLoss(weight=weights)
    fingerprint = train.fingerprint()
    if parallel and not distributed.same_everywhere((fingerprint, validation.fingerprint())):
        raise DataError(f"rank {distributed.rank()} encoded other training or validation data than rank 0; every "
                        "process must read the same files with the same options (and the same sentilstm version)")
    history, best_state, bad_epochs = History(monitor=config.monitor), None, 0
    if resume is not None:
        history, best_state, bad_epochs = _restore(resume, model, optimizer, scheduler, fingerprint, device)
        log.info("resumed after epoch %d of %d", len(history.epochs), config.epochs)
    else:
        torch.manual_seed(config.seed + distributed.rank())  # rank 0 as in one process; other ranks' dropout differs
    log.info(
        "training on %d texts (%d validation), %d batches/epoch, device %s, %s%s", len(train), len(validation),
        steps_per_epoch, device, precision, f", {distributed.world_size()} processes" if parallel else "",
    )
    replica: DataParallelReplica | None = None
    for epoch in range(len(history.epochs) + 1, config.epochs + 1):
        if history.stopped_early:
            break
        _freeze_embeddings(model, config.freeze_embeddings == -1 or epoch <= config.freeze_embeddings)
        if parallel and (replica is None or not replica.matches(model)):
            replica = DataParallelReplica(model, device)  # DDP syncs the parameters that were trainable when built
        batches = global_batches(train.targets, lengths, config, epoch)  # the same on every rank
        callback.on_epoch_start(epoch, config.epochs, len(batches))
        started = time.perf_counter()
        norms = GradientNorms()
        train_loss = run_epoch(model, optimizer, scheduler, loss_fn, train, batches, config, device, precision,
                               lambda step, loss: callback.on_step(epoch, step, loss), norms,
                               replica=replica.module if replica is not None else None, governor=governor)
        seconds = time.perf_counter() - started
        report = evaluate_probabilities(validation.targets, _validation_probabilities(model, validation, device,
                                                                                      precision, len(labels)), labels)
        stats = EpochStats(
            epoch, train_loss, report.loss, report.accuracy, report.macro_f1, report.weighted_f1,
            optimizer.param_groups[0]["lr"], seconds, len(train) / seconds, norms.means(), len(batches),
        )
        norms.warn(epoch)
        score = -report.loss if config.monitor == "loss" else getattr(report, config.monitor)
        score = distributed.broadcast(score)  # ranks score the same gathered predictions; rank 0's decision rules
        improved = score > history.best_score
        history.epochs.append(stats)
        if improved:
            history.best_epoch, history.best_score, bad_epochs = epoch, score, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        else:
            bad_epochs += 1
            history.stopped_early = bad_epochs >= config.patience and epoch < config.epochs
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(score)
        log.info(
            "epoch %d/%d: train loss %.4f, val loss %.4f, val acc %.4f, val macro-F1 %.4f, %.0f texts/s%s",
            epoch, config.epochs, train_loss, report.loss, report.accuracy, report.macro_f1, stats.samples_per_second,
            " (best)" if improved else "",
        )
        callback.on_epoch_end(stats, improved)
        if checkpoint is not None and distributed.is_main_process():
            _save(checkpoint, model, optimizer, scheduler, history, best_state, bad_epochs, fingerprint)
    _freeze_embeddings(model, False)
    if best_state is not None:
        model.load_state_dict(best_state)
    if history.stopped_early:
        log.info("stopped early; kept the weights of epoch %d", history.best_epoch)
    return history


class DataParallelReplica:
    """`model` wrapped in DistributedDataParallel, with the set of trainable parameters it was built for.

    DDP all-reduces only the parameters that required gradients when it was constructed, so freezing or
    unfreezing the embedding layer between epochs needs a new wrapper (cheap: one broadcast of the weights).
    """

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.trainable = _trainable(model)
        self.module = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    def matches(self, model: nn.Module) -> bool:
        return _trainable(model) == self.trainable


def _trainable(model: nn.Module) -> tuple[bool, ...]:
    return tuple(p.requires_grad for p in model.parameters())


def _validation_probabilities(
    model: nn.Module, validation: EncodedSplit, device: torch.device, precision: str, num_classes: int
) -> np.ndarray:
    """Probabilities for the whole validation split; with several ranks each scores every world-th text and all
    ranks receive every row, so they compute the same metrics and take the same early-stopping decision."""
    if not distributed.active():
        return predict_probabilities(model, validation.ids, device=device, precision=precision)
    index = distributed.shard(np.arange(len(validation)))
    rows = np.zeros((0, num_classes))
    if len(index):
        rows = predict_probabilities(model, [validation.ids[i] for i in index], device=device, precision=precision)
    return distributed.gather_rows(index, rows, len(validation))


def epoch_batches(targets: np.ndarray, lengths: np.ndarray, config: TrainConfig, rng: np.random.Generator) -> list[np.ndarray]:
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


def interpolate_minority(representations: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """SMOTE in the hidden space: add synthetic rows until every class in the batch is as large as the largest.

    Each synthetic row is r_i + u * (r_j - r_i), u ~ U(0, 1), for two random texts i, j of the same class, so it
    lies between two different real examples of that class; gradients flow into both. Classes with fewer than two texts in
    the batch are left as they are (there is nothing to interpolate between). Uses torch's seeded RNG.
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


class GradientNorms:
    """Per-layer gradient norms, averaged over an epoch's steps (every EVERY-th): the evidence for vanishing or
    exploding gradients, the failure LSTMs exist to fix. Sums stay on the device; one sync per epoch."""

    EVERY = 8  # measured on a BiLSTM-128, 30k vocabulary: norms on every step cost 2-5% of training time

    VANISHING = 1e-6  # a layer whose mean gradient norm is below this is not learning
    EXPLODING = 1e2  # typical pre-clipping norms here are 0.01-10; far above that, clipping hides a problem

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.steps = 0

    def add(self, model: nn.Module) -> None:
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
                log.warning("epoch %d: the gradient of %s vanished (mean norm %.1e); it has stopped learning: raise "
                            "the learning rate, shorten max_length, or use a GRU", epoch, layer, norm)
            elif norm > self.EXPLODING:
                log.warning("epoch %d: the gradient of %s exploded (mean norm %.1e before clipping); lower the "
                            "learning rate or max_grad_norm", epoch, layer, norm)


def _layer_name(parameter: str) -> str:
    """"forward_rnns.0.weight_hh_l0" -> "forward_rnns.0", "head.weight" -> "head": the module owning it."""
    parts = parameter.split(".")[:-1]
    return ".".join(parts[:2] if len(parts) > 1 and parts[1].isdigit() else parts[:1]) or parameter


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_true)^gamma, so confidently right
    examples count less; class weights and the weighted mean follow nn.CrossEntropyLoss."""

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


def example_losses(loss_fn: nn.Module, logits: Tensor, targets: Tensor) -> Tensor:
    """Per-example losses times their class weights, (batch,), for `loss_fn` (cross-entropy or FocalLoss);
    the batch loss is their sum over the batch's summed class weights (what `loss_fn` itself returns)."""
    if isinstance(loss_fn, FocalLoss):
        return loss_fn.per_example(logits, targets)
    return F.cross_entropy(logits, targets, weight=loss_fn.weight, reduction="none")


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


def _freeze_embeddings(model: nn.Module, frozen: bool) -> None:
    embedding = getattr(model, "embedding", None)
    if isinstance(embedding, nn.Embedding) and embedding.weight.requires_grad == frozen:
        embedding.weight.requires_grad_(not frozen)
        log.info("embedding layer %s", "frozen" if frozen else "trainable (fine-tuning)")


def run_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    loss_fn: nn.Module,
    data: EncodedSplit,
    batches: list[np.ndarray],
    config: TrainConfig,
    device: torch.device,
    precision: str,
    on_step: Callable[[int, float], None],
    norms: GradientNorms | None = None,
    *,
    replica: nn.Module | None = None,
    governor: ThreadGovernor | None = None,
) -> float:
    """One pass over `batches`; returns the mean training loss (weighted by batch size).

    With a DDP `replica` (several ranks), `batches` are the global batches: this rank trains on its shard of
    each, and the returned loss is the mean over every rank's examples. A `governor` is told each step's
    padded tokens and time, and may change torch's CPU threads between steps.
    """
    model.train()
    total, count = 0.0, 0
    world = distributed.world_size() if replica is not None else 1
    weights = loss_fn.weight.detach().cpu().double().numpy() if getattr(loss_fn, "weight", None) is not None else None
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
        sampled = norms if step % GradientNorms.EVERY == 1 else None  # every 8th step: a full pass costs 2-5%
        started = time.perf_counter()
        loss = train_step(model, optimizer, loss_fn, ids, lengths, targets, config, device, precision, sampled,
                          replica=replica, share=share)
        if governor is not None:  # train_step's loss is a Python float: the step has finished
            governor.record(ids.numel(), time.perf_counter() - started)
        if step_scheduler:
            scheduler.step()
        total += loss * len(batch) / world  # summed over the ranks: the global batch's loss (see BatchShare)
        count += len(batch)
        on_step(step, loss)
    return distributed.all_sum([total], device)[0] / max(count, 1) if replica is not None else total / max(count, 1)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    ids: Tensor,
    lengths: Tensor,
    targets: Tensor,
    config: TrainConfig,
    device: torch.device,
    precision: str,
    norms: GradientNorms | None = None,
    *,
    replica: nn.Module | None = None,
    share: BatchShare | None = None,
) -> float:
    """Forward, loss, backward, (record gradient norms,) clip, step; returns the batch loss.

    With a DDP `replica` the forward and backward run through it (gradients are all-reduced during backward),
    and `share` scales this rank's loss so that the averaged gradient is the global batch's; the returned
    value is then this rank's estimate of the global batch loss.
    """
    forward = replica if replica is not None else model
    with autocast(device, precision):
        if config.sampling == "smote":
            representations, targets = interpolate_minority(model.represent(ids, lengths), targets)
            logits = model.classify(representations)
        else:
            logits = forward(ids, lengths)  # (batch, num_classes)
    if share is None:
        loss = loss_fn(logits.float(), targets)
    else:
        loss = (example_losses(loss_fn, logits.float(), targets) * share.keep).sum() * (share.world / share.denominator)
    if config.head_l2 > 0:
        loss = loss + config.head_l2 * model.head.weight.float().pow(2).sum()  # on every rank: DDP averages it to 1x
    if not torch.isfinite(loss):
        raise TrainingError(f"training loss became {loss.item()}; lower the learning rate or the weight decay, use "
                            "precision='fp32', or check pretrained vectors for NaN")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if norms is not None:
        norms.add(model)
    if config.max_grad_norm > 0:
        nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    return float(loss.item())


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]  # biases: decay only hurts
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


def _make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int) -> Any:
    if config.schedule == "one_cycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate, total_steps=total_steps)
    if config.schedule == "plateau":  # stepped per epoch with the monitored score (negated loss is maximised)
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=0)
    warmup = max(1, int(total_steps * config.warmup_fraction))
    decay = config.schedule == "linear"

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup)) if decay else 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _scheduler_state(scheduler: Any) -> dict[str, Any]:
    return {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}


def _save(
    spec: CheckpointSpec,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    history: History,
    best_state: dict[str, Tensor] | None,
    bad_epochs: int,
    fingerprint: str,
) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in (best_state or {}).items()})
    optimizer_state = optimizer.state_dict()
    tensors.update(
        {f"optimizer.{index}.{key}": value for index, state in optimizer_state["state"].items() for key, value in state.items()}
    )
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    training = {
        "history": history.to_dict(),
        "bad_epochs": bad_epochs,
        "fingerprint": fingerprint,
        "param_groups": optimizer_state["param_groups"],
        "scheduler": _scheduler_state(scheduler),
    }
    with writing(spec.path):  # a full disk mid-training: one line naming the checkpoint, not a traceback
        write_file(spec.path, tensors, {**spec.payload, "training": json.loads(json.dumps(training))}, kind="checkpoint")


def _restore(
    checkpoint: tuple[dict[str, Tensor], dict[str, Any]],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    fingerprint: str,
    device: torch.device,
) -> tuple[History, dict[str, Tensor] | None, int]:
    tensors, payload = checkpoint
    training = payload["training"]
    if training["fingerprint"] != fingerprint:
        raise ArtifactError(
            "the checkpoint was made from different training data or settings; resume with the same data and "
            "options, or start again without --resume"
        )
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None
    state: dict[int, dict[str, Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value.to(device) if key != "step" else value
    optimizer.load_state_dict({"state": state, "param_groups": training["param_groups"]})
    scheduler.load_state_dict({**scheduler.state_dict(), **training["scheduler"]})
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = cuda_rng_states(tensors)
    if cuda_states and torch.cuda.is_available():  # as many as this machine has GPUs, device by device
        torch.cuda.set_rng_state_all(cuda_states[:torch.cuda.device_count()])
    return History.from_dict(training["history"]), best, int(training["bad_epochs"])
