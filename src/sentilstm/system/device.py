"""Device and numeric-precision choices, kept in one place so models and loops stay device-agnostic."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator

import torch

from sentilstm.errors import ConfigError

log = logging.getLogger(__name__)


DEVICE_TYPES = ("cpu", "cuda", "mps")  # where sentilstm trains and predicts


def parse_device(device: str) -> torch.device | None:
    """The torch device `device` names, None for 'auto'; ConfigError for anything else. Availability is not checked
    (a file may record the GPU it was trained on): `resolve_device` does that."""
    if device == "auto":
        return None
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):  # TypeError: not a string
        parsed = None
    if parsed is None or parsed.type not in DEVICE_TYPES:
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (or 'mps' on a Mac), got {device!r}")
    return parsed


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else must be a valid, available torch device."""
    parsed = parse_device(device)
    if parsed is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise ConfigError(
            f"device {device!r} was asked for but this machine has {count} CUDA GPU{'s' * (count > 1)} "
            f"(cuda:0 to cuda:{count - 1}); use one of those, 'auto' or 'cpu'"
        )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r} was asked for but Apple's MPS is not available here; use 'auto' or 'cpu'")
    return parsed


def bf16_supported(device: torch.device) -> bool:
    """True where bf16 math is native (AVX512-BF16/AMX CPUs, Ampere+ GPUs); elsewhere it is emulated and slow."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where supported natively, else 'fp32'. An explicit 'bf16' on a CPU without native bf16 runs
    in fp32 with a warning: PyTorch's oneDNN LSTM refuses bf16 there ("could not create a primitive descriptor") and
    emulated bf16 math is ~10x slower than fp32 (measured on an AVX2 AMD EPYC). On a GPU it is honoured."""
    if precision == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    if precision == "bf16" and not bf16_supported(device):
        if device.type == "cpu":
            _warn_once(
                "bf16 was asked for but this CPU has no native bf16 (AVX512-BF16 or AMX): running in fp32, which is "
                "faster here (use --precision auto to pick bf16 only where it is native)"
            )
            return "fp32"
        _warn_once(f"bf16 was asked for but {device} has no native bf16 support; expect it to be slower than fp32")
    return precision


@functools.cache
def _warn_once(message: str) -> None:
    """Each precision warning once per process: prediction resolves the precision on every call."""
    log.warning(message)


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16 autocast on CPU or CUDA when precision == 'bf16'; a no-op for fp32."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        yield
