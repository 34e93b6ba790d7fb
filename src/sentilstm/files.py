"""Atomic file writes: everything sentilstm writes goes to a temporary name beside the target, then is
renamed into place, so an interrupted or failed run never leaves a half-written file.

    handle, temporary = temporary_beside(Path("model.sentilstm"))
    ...write to handle...; os.replace(temporary, "model.sentilstm")
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_beside(path: Path, *, directory: bool = False) -> tuple[int | None, Path]:
    """A new temporary file (open handle, path) or folder (None, path) in `path`'s folder, with the
    permissions a normal new file would get (mkstemp alone makes it private to the owner)."""
    prefix, parent = f".{path.name}.", path.parent
    if directory:
        return None, Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=parent)
    os.fchmod(handle, 0o666 & ~_umask())
    return handle, Path(name)
