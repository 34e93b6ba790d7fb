"""Training checkpoints: written after every epoch (atomically), read back and checked before a resumed fit.

    save_checkpoint(CheckpointSpec("run.ckpt", payload), state)        # weights, best weights, optimiser, RNG, history
    tensors, payload = read_checkpoint("run.ckpt"); restore_checkpoint((tensors, payload), net, optimizer, ...)

A checkpoint holds everything needed to continue bit-for-bit: weights, best weights, optimiser and schedule state,
the torch RNG, history, plus an opaque payload from the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sentilstm.artifact.format import read_file, write_file
from sentilstm.artifact.schema import check_tensors, same_structure
from sentilstm.config import TrainConfig, check_type
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.system.files import writing
from sentilstm.training.optim import make_optimizer, make_scheduler, scheduler_state
from sentilstm.training.records import History, TrainableNetwork


@dataclass
class CheckpointSpec:
    """Where to checkpoint, whether to resume from it, and what the caller needs stored to rebuild itself."""

    path: Path
    payload: dict[str, Any] = field(default_factory=dict)


def read_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Tensors and payload of a training checkpoint (for resuming), its training state checked: what
    `save_checkpoint` wrote is there, of its types. The caller's payload is the caller's to check, and with it the
    network: see `check_resume_state` (`SentimentClassifier` does both when it resumes)."""
    tensors, payload = read_file(path, kind="checkpoint")
    try:
        _training_state(tensors, payload)
    except (ArtifactError, ConfigError) as exc:
        raise resume_error(path, exc) from None
    return tensors, payload


def resume_error(path: str | Path, problem: Exception) -> ArtifactError:
    """The one-line error for a checkpoint that cannot be resumed from."""
    return ArtifactError(
        f"{str(path)!r} cannot be used to resume: {problem}; it is damaged, edited or from another "
        "sentilstm version: start again without --resume"
    )


def _training_state(tensors: dict[str, Tensor], payload: dict[str, Any]) -> dict[str, Any]:
    """The "training" part `save_checkpoint` writes, each field of its type, and its tensors' names and random state."""
    training = payload.get("training")
    if not isinstance(training, dict):
        raise ArtifactError(f"training must be an object, got {type(training).__name__}")
    for key, kind in (
        ("history", History),
        ("bad_epochs", int),
        ("fingerprint", str),
        ("param_groups", list),
        ("scheduler", dict),
    ):
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
        raise ArtifactError(
            f"the CUDA random states must be named rng.cuda.0 .. rng.cuda.{len(cuda_names) - 1}, got {cuda_names[:5]}"
        )
    return training


def cuda_rng_states(tensors: dict[str, Tensor]) -> list[Tensor]:
    """A checkpoint's CUDA random states in device order (rng.cuda.2 before rng.cuda.10)."""
    count = sum(name.startswith("rng.cuda.") for name in tensors)
    return [tensors[f"rng.cuda.{i}"] for i in range(count)]


def check_resume_state(
    tensors: dict[str, Tensor], payload: dict[str, Any], model: nn.Module, config: TrainConfig
) -> None:
    """Raise ArtifactError unless a checkpoint's weights, optimiser and schedule state fit `model` (on the meta
    device it costs nothing) trained with `config`, so `restore_checkpoint` loads them without a shape or key error."""
    training = payload["training"]  # read_checkpoint checked its fields
    optimizer = make_optimizer(model, config)
    scheduler = scheduler_state(make_scheduler(optimizer, config, total_steps=1))  # adds keys to the groups
    same_structure(
        "training.param_groups", training["param_groups"], optimizer.state_dict()["param_groups"], finite=True
    )
    same_structure("training.scheduler", training["scheduler"], scheduler, finite=False)
    shapes = {name: (tuple(t.shape), t.dtype) for name, t in model.state_dict().items()}
    expected = {f"model.{name}": shape for name, shape in shapes.items()}
    if any(name.startswith("best.") for name in tensors):
        expected.update({f"best.{name}": shape for name, shape in shapes.items()})
    expected.update(optimizer_shapes(tensors, optimizer))
    expected.update(
        {name: (tuple(tensors[name].shape), tensors[name].dtype) for name in tensors if name.startswith("rng.")}
    )  # read_checkpoint checked them
    check_tensors(expected, tensors, exact=True, finite=False)


def optimizer_shapes(tensors: dict[str, Tensor], optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The (shape, dtype) each "optimizer.INDEX.KEY" tensor of a checkpoint must have to be `optimizer`'s AdamW state;
    ArtifactError for a name that is none, or a parameter whose state is incomplete."""
    parameters = [p for group in optimizer.param_groups for p in group["params"]]  # as the state numbers them
    expected: dict[str, Any] = {}
    state: dict[str, set[str]] = {}
    for name in (n for n in tensors if n.startswith("optimizer.")):
        index, _, key = name.removeprefix("optimizer.").partition(".")
        if not index.isdigit() or int(index) >= len(parameters) or key not in ("step", "exp_avg", "exp_avg_sq"):
            raise ArtifactError(f"tensor {name} names no optimiser state of this network")
        state.setdefault(index, set()).add(key)
        expected[name] = ((), torch.float32) if key == "step" else (tuple(parameters[int(index)].shape), torch.float32)
    if any(keys != {"step", "exp_avg", "exp_avg_sq"} for keys in state.values()):
        raise ArtifactError("the optimiser state lacks step, exp_avg or exp_avg_sq of some parameter")
    return expected


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
    """An optimiser's per-parameter state as checkpoint tensors "optimizer.INDEX.KEY"."""
    state = optimizer.state_dict()["state"]
    return {f"optimizer.{index}.{key}": value for index, values in state.items() for key, value in values.items()}


def load_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], param_groups: list[Any], device: torch.device
) -> None:
    """Restore what `optimizer_tensors` saved (and the saved `param_groups`) into `optimizer`, state on `device`."""
    state: dict[int, dict[str, Tensor]] = {}
    for name in (n for n in tensors if n.startswith("optimizer.")):
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = tensors[name] if key == "step" else tensors[name].to(device)
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})


def save_checkpoint(
    spec: CheckpointSpec,
    model: TrainableNetwork,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    history: History,
    best_state: dict[str, Tensor] | None,
    bad_epochs: int,
    fingerprint: str,
) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in (best_state or {}).items()})
    tensors.update(optimizer_tensors(optimizer))
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    training = {
        "history": history.to_dict(),
        "bad_epochs": bad_epochs,
        "fingerprint": fingerprint,
        "param_groups": optimizer.state_dict()["param_groups"],
        "scheduler": scheduler_state(scheduler),
    }
    with writing(spec.path):  # a full disk mid-training: one line naming the checkpoint, not a traceback
        write_file(
            spec.path, tensors, {**spec.payload, "training": json.loads(json.dumps(training))}, kind="checkpoint"
        )


def restore_checkpoint(
    checkpoint: tuple[dict[str, Tensor], dict[str, Any]],
    model: TrainableNetwork,
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
    load_optimizer(optimizer, tensors, training["param_groups"], device)
    scheduler.load_state_dict({**scheduler.state_dict(), **training["scheduler"]})
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = cuda_rng_states(tensors)
    if cuda_states and torch.cuda.is_available():  # as many as this machine has GPUs, device by device
        torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])
    return History.from_dict(training["history"]), best, int(training["bad_epochs"])


__all__ = [
    "CheckpointSpec",
    "check_resume_state",
    "cuda_rng_states",
    "load_optimizer",
    "optimizer_shapes",
    "optimizer_tensors",
    "read_checkpoint",
    "restore_checkpoint",
    "resume_error",
    "save_checkpoint",
]
