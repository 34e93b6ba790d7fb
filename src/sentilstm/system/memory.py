"""Will a network fit in memory? Estimated from its config before a single weight is allocated.

    check_fits(ModelConfig(embedding_rows=30_000, hidden_size=200_000), batch_size=64, sequence_length=200)
    # ConfigError: ... has 1,360,... parameters and needs at least 21.8 TB to train, but 23.4 GB ... is available

A typo such as `--hidden-size 200000` would otherwise ask the allocator for hundreds of gigabytes and die with
a traceback (or get the process killed) minutes into a run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from sentilstm.config import ModelConfig
from sentilstm.errors import ConfigError

log = logging.getLogger(__name__)

# Training keeps four float32 copies of every weight: the weights, their gradients and AdamW's two moments.
TRAINING_BYTES_PER_PARAMETER = 16
# What an RNN layer keeps per token and direction for the backward pass: its gates, cell and hidden states
# (about 8 x hidden_size floats for an LSTM), plus the embedding vector.
STATE_FLOATS_PER_HIDDEN_UNIT = 8


def parameter_count(config: ModelConfig) -> int:
    """The network's exact parameter count, from a copy built on the meta device (no memory is allocated)."""
    from sentilstm.network.ensemble import make_network

    with torch.device("meta"):
        net = make_network(config)
    return sum(p.numel() for p in net.parameters())


def training_bytes(config: ModelConfig, *, batch_size: int, sequence_length: int) -> tuple[int, int]:
    """(parameters, bytes) that training needs at least: weights, gradients and optimiser state, plus the
    activations of one batch of `batch_size` texts of `sequence_length` tokens."""
    parameters = parameter_count(config)
    directions = 2 if config.bidirectional else 1
    per_token = (
        config.embedding_dim + config.num_layers * directions * STATE_FLOATS_PER_HIDDEN_UNIT * config.hidden_size
    )
    activations = 4 * batch_size * sequence_length * per_token
    return parameters, TRAINING_BYTES_PER_PARAMETER * parameters + activations


def available_bytes(device: torch.device) -> int | None:
    """Memory this process may still take on `device` (free GPU memory; RAM: MemAvailable, capped by a cgroup
    limit), or None where it cannot be told."""
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return None
    if device.type != "cpu":
        return None
    known = [value for value in (_meminfo_available(), _cgroup_room()) if value is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """The cgroup (v2, else v1) memory limit minus current usage: a container's real ceiling."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:  # "max", or v1's near-2^63 "no limit"
            return max(int(limit) - usage, 0)
    return None


def check_fits(
    config: ModelConfig, *, batch_size: int, sequence_length: int, device: torch.device | str = "cpu"
) -> int:
    """Raise ConfigError, with the numbers, if training this network cannot fit in the memory of `device`;
    returns the parameter count."""
    device = torch.device(device)
    parameters, needed = training_bytes(config, batch_size=batch_size, sequence_length=sequence_length)
    room = available_bytes(device)
    log.debug("network: %d parameters, at least %d bytes to train; %s bytes available", parameters, needed, room)
    if room is not None and needed > room:
        vocabulary = f", vocabulary {config.embedding_rows:,}" if config.embedding_rows > 2 else ""
        counted = "" if vocabulary else " before any vocabulary"
        raise ConfigError(
            f"this network (embedding_dim {config.embedding_dim}, hidden_size {config.hidden_size}, num_layers "
            f"{config.num_layers}{vocabulary}) has {parameters:,} parameters{counted} and needs at least "
            f"{format_bytes(needed)} to train, but {format_bytes(room)} of {device.type} memory is available; choose "
            "smaller sizes (hidden_size, embedding_dim, num_layers, vocab_size, batch_size)"
        )
    return parameters


def format_bytes(size: float) -> str:
    """1234567 -> '1.2 MB'."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size / 1e3:,.1f} kB"
