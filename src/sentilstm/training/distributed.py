"""Data-parallel training across processes: PyTorch DDP in workers started by torchrun.

    sentilstm train data.csv --nproc-per-node 2                 # this module launches torchrun itself
    torchrun --nproc-per-node 2 -m sentilstm train data.csv     # the same by hand (several machines: add --nnodes ...)

Every worker runs the whole `train` command. `training.fit` opens the process group from torchrun's
environment (`WORLD_SIZE`, `RANK`, `LOCAL_RANK`, ...; gloo on CPU, NCCL on CUDA), builds the same global batches
on every rank and trains on its `shard` of each; only rank 0 (`is_main_process`) writes files. The rank
helpers read the environment, so they answer before the group exists and after it is closed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from sentilstm.config import check_integer
from sentilstm.errors import ConfigError
from sentilstm.system.threads import max_processes

log = logging.getLogger(__name__)

TIMEOUT_VARIABLE = "SENTILSTM_DIST_TIMEOUT"  # seconds a rank waits for the others in a collective
DEFAULT_TIMEOUT_S = 600.0  # ranks meet after preprocessing (tokenizer, augmentation): the slowest may lag minutes
UNSUPPORTED_SAMPLING = ("smote",)  # interpolates within a batch: a rank's shard is not the batch


def world_size() -> int:
    """Processes in the job (torchrun's WORLD_SIZE; 1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank in the job, 0 outside torchrun."""
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """This process's rank on its machine (picks its GPU)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def local_world_size() -> int:
    """Processes of the job on this machine."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))


def is_main_process() -> bool:
    """True on rank 0, the one process that writes models, checkpoints, reports and MLflow runs."""
    return rank() == 0


def launched() -> bool:
    """True inside a torchrun worker of a job with more than one process."""
    return world_size() > 1


def active() -> bool:
    """True while a process group of more than one process is open: collectives must run on every rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def check_supported(sampling: str) -> None:
    """Raise ConfigError for training options that cannot be split across ranks."""
    if sampling in UNSUPPORTED_SAMPLING:
        raise ConfigError(
            f"sampling={sampling!r} interpolates between the examples of one whole batch, which no rank holds in "
            "distributed training; use sampling='oversample' or 'balanced_batches', or train in one process"
        )


def worker_device(device: torch.device) -> torch.device:
    """The device of this worker: CUDA jobs use one GPU per local rank (cuda:LOCAL_RANK), CPU stays CPU."""
    if device.type != "cuda" or not launched():
        return device
    if local_rank() >= torch.cuda.device_count():
        raise ConfigError(
            f"local rank {local_rank()} has no GPU: this machine has {torch.cuda.device_count()}; "
            "start at most that many processes per node (--nproc-per-node)"
        )
    return torch.device("cuda", local_rank())


def default_threads() -> int:
    """Intra-op threads per worker on CPU: the machine's cores shared out between its processes."""
    from sentilstm.system.threads import cpu_budget

    return max(1, cpu_budget().usable // max(1, local_world_size()))


def timeout_seconds() -> float:
    """How long a rank waits for the others ($SENTILSTM_DIST_TIMEOUT, default 600 s) before failing."""
    value = os.environ.get(TIMEOUT_VARIABLE, "")
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"{TIMEOUT_VARIABLE} must be a number of seconds > 0, got {value!r}")
    return seconds


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[bool]:
    """Open the job's process group for the block when torchrun started several processes; yields `active()`.

    A group that is already open (the caller manages it) is used as it is and left open.
    """
    if not launched() or (dist.is_available() and dist.is_initialized()):
        yield active()
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)  # "cuda" without an index now means this rank's GPU, in every library
    dist.init_process_group(backend, timeout=dt.timedelta(seconds=timeout_seconds()))
    log.info("rank %d of %d (%s, local rank %d, device %s)", rank(), world_size(), backend, local_rank(), device)
    try:
        yield True
    finally:
        dist.destroy_process_group()


def shard(batch: np.ndarray, rank_: int | None = None, world: int | None = None) -> np.ndarray:
    """This rank's rows of a global batch: every world-th row from its rank on.

    Batches are sorted by length, so striding gives each rank a similar share of tokens; the ranks' shards
    are disjoint and together are the batch. A shard is empty when the batch has fewer rows than ranks.
    """
    rank_, world = rank() if rank_ is None else rank_, world_size() if world is None else world
    return batch[rank_::world]


def all_sum(values: Sequence[float], device: torch.device) -> list[float]:
    """Element-wise sum over the ranks (float64); the values themselves outside a process group."""
    if not active():
        return list(values)
    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_rows(index: np.ndarray, rows: np.ndarray, total: int) -> np.ndarray:
    """Reassemble an array of `total` rows that the ranks computed in parts (`rows` = full[index]) on every rank."""
    if not active():
        return rows
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, (index, rows))
    full = np.empty((total, *rows.shape[1:]), dtype=rows.dtype)
    for part_index, part_rows in parts:
        full[part_index] = part_rows
    return full


def broadcast(value: Any) -> Any:
    """Rank 0's `value` on every rank (any picklable object): decisions taken once, identically everywhere."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def same_everywhere(value: Any) -> bool:
    """True when every rank holds an equal (pickled) `value`; for checks that inputs were built identically."""
    if not active():
        return True
    return broadcast(pickle.dumps(value)) == pickle.dumps(value)


@dataclass
class LaunchOptions:
    """How `launch` starts the workers: processes per machine and, for several machines, the rendezvous."""

    nproc_per_node: int
    nnodes: str = "1"  # "N" or "MIN:MAX" machines
    node_rank: int | None = None  # this machine's index, for the static rendezvous (torchrun's default backend)
    rdzv_endpoint: str | None = None  # host:port that every machine can reach
    rdzv_id: str | None = None  # one job id shared by the machines
    rdzv_backend: str | None = None  # "c10d" (default with an endpoint) or "static"
    timeout_s: float | None = None  # seconds a rank waits for the others, passed as $SENTILSTM_DIST_TIMEOUT

    def validate(self, device: torch.device | None = None) -> None:
        """Raise ConfigError for values torchrun cannot use, or more CUDA processes than GPUs on `device`'s machine."""
        check_integer("--nproc-per-node", self.nproc_per_node, low=1, high=max_processes())
        if device is not None and device.type == "cuda" and self.nproc_per_node > torch.cuda.device_count():
            raise ConfigError(
                f"--nproc-per-node {self.nproc_per_node} asks for one GPU per process, but this machine "
                f"has {torch.cuda.device_count()}; use at most that many, or --device cpu"
            )
        if launched():
            raise ConfigError(
                f"--nproc-per-node was given inside a torchrun worker (WORLD_SIZE={world_size()}); "
                "drop it, or drop torchrun and let sentilstm start the processes"
            )
        most_nodes = self._most_nodes()
        single = most_nodes == 1
        if self.node_rank is not None:
            check_integer("--node-rank", self.node_rank, low=0, high=most_nodes - 1)
        if not single and not self.rdzv_endpoint:
            raise ConfigError(
                f"--nnodes {self.nnodes} needs --rdzv-endpoint HOST:PORT, an address every machine "
                "can reach (usually the first machine's), and the same --rdzv-id on each machine"
            )
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ConfigError(f"--dist-timeout must be a number of seconds > 0, got {self.timeout_s!r}")

    def _most_nodes(self) -> int:
        """The largest machine count `nnodes` allows ("N" or "MIN:MAX"), or ConfigError for anything else."""
        parts = str(self.nnodes).split(":")
        if (
            len(parts) not in (1, 2)
            or not all(p.isascii() and p.isdigit() and len(p) <= 6 for p in parts)
            or int(parts[0]) < 1
            or int(parts[0]) > int(parts[-1])
        ):
            raise ConfigError(
                f"--nnodes must be a machine count N or a range MIN:MAX such as 2 or 1:4, got {self.nnodes!r}"
            )
        return int(parts[-1])

    def torchrun_args(self) -> list[str]:
        """torchrun's own options for these settings."""
        args = ["--nproc-per-node", str(self.nproc_per_node), "--max-restarts", "0"]
        if self.nnodes in ("1", "1:1") and not self.rdzv_endpoint:
            return ["--standalone", "--nnodes", "1", *args]
        args += ["--nnodes", self.nnodes]
        if self.rdzv_endpoint:
            args += ["--rdzv-endpoint", self.rdzv_endpoint, "--rdzv-backend", self.rdzv_backend or "c10d"]
        elif self.rdzv_backend:
            args += ["--rdzv-backend", self.rdzv_backend]
        if self.rdzv_id:
            args += ["--rdzv-id", self.rdzv_id]
        if self.node_rank is not None:
            args += ["--node-rank", str(self.node_rank)]
        return args


@dataclass
class LaunchResult:
    """How a launched job ended: exit code 0, or the first failed rank's code and a one-line account."""

    exit_code: int
    failure: str | None = None


def launch(command: list[str], options: LaunchOptions) -> LaunchResult:
    """Run `python -m sentilstm COMMAND...` in `options.nproc_per_node` processes per machine via torchrun.

        launch(["train", "data.csv", "--batch-size", "64"], LaunchOptions(nproc_per_node=2))

    Each CPU worker gets cores // processes intra-op threads unless OMP_NUM_THREADS is set. A rank that fails
    ends the job (torchrun stops the others); the result names it instead of torchrun's multi-line report.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    options.validate()
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // options.nproc_per_node)))
    if options.timeout_s is not None:
        os.environ[TIMEOUT_VARIABLE] = str(options.timeout_s)
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # its INFO/ERROR lines repeat ours
    args = parse_args([*options.torchrun_args(), "--module", "sentilstm"])
    # set after parsing: torchrun's argparse would take `--monitor` for an abbreviation of its --monitor-interval
    args.training_script_args = list(command)
    try:
        run(args)
    except ChildFailedError as exc:
        failed_rank, failure = exc.get_first_failure()
        code = failure.exitcode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}; its error is printed above"
        return LaunchResult(code if code > 0 else 1, f"distributed training failed: rank {failed_rank} {how}")
    return LaunchResult(0)


__all__ = [
    "LaunchOptions",
    "LaunchResult",
    "active",
    "all_sum",
    "broadcast",
    "check_supported",
    "default_threads",
    "gather_rows",
    "is_main_process",
    "launch",
    "launched",
    "local_rank",
    "local_world_size",
    "process_group",
    "rank",
    "same_everywhere",
    "shard",
    "timeout_seconds",
    "world_size",
    "worker_device",
]
