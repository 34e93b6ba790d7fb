"""The one-file format for models and training checkpoints: a safetensors file whose header carries JSON.

Nothing is ever unpickled: tensors come from safetensors, everything else (configs, tokenizer, label map,
metrics, versions) is JSON. A SHA-256 of the tensor bytes catches corruption that keeps the layout
intact; files are written to a temporary name and renamed, so a failed save leaves no partial file.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import safe_open
from safetensors.torch import save as save_tensors

from sentilstm.errors import ArtifactError
from sentilstm.files import temporary_beside

FORMAT = "sentilstm"
FORMAT_VERSION = 1  # bump when a reader of the previous version could misread a new file
Kind = Literal["model", "checkpoint"]


def library_versions() -> dict[str, str]:
    import numpy
    import tokenizers

    from sentilstm import __version__

    return {
        "sentilstm": __version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].detach().reshape(-1).contiguous().cpu().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def write_file(path: str | Path, tensors: dict[str, torch.Tensor], payload: dict[str, Any], kind: Kind) -> None:
    """Atomically write tensors plus a JSON payload to `path`."""
    path = Path(path)
    tensors = {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "kind": kind,
        "sha256": _digest(tensors),
        "payload": json.dumps(payload, ensure_ascii=False, allow_nan=True),
    }
    data = save_tensors(tensors, metadata=header)
    if path.parent and not path.parent.exists():
        raise ArtifactError(f"cannot save to {str(path)!r}: folder {str(path.parent)!r} does not exist; create it first")
    handle, temporary = temporary_beside(path)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_file(path: str | Path, kind: Kind) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read and verify a file written by `write_file`; raise ArtifactError naming the problem and the fix."""
    path = Path(path)
    what = "model" if kind == "model" else "checkpoint"
    if not path.exists():
        hint = "train one with `sentilstm train ... --out FILE`" if kind == "model" else "start without --resume"
        raise ArtifactError(f"{what} file {str(path)!r} does not exist; check the path or {hint}")
    if path.is_dir():
        raise ArtifactError(f"{str(path)!r} is a folder, not a sentilstm {what} file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header = handle.metadata() or {}
            if header.get("format") != FORMAT:
                raise ArtifactError(f"{str(path)!r} is a safetensors file but not a sentilstm {what}")
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except ArtifactError:
        raise
    except Exception as exc:  # safetensors raises its own error types for foreign, truncated or damaged files
        raise ArtifactError(
            f"{str(path)!r} is not a readable sentilstm {what} (it is truncated, damaged or another kind of file: "
            f"{str(exc).splitlines()[0][:120]}); re-create it with `sentilstm train`"
        ) from None
    try:
        version = int(header.get("format_version", ""))
    except ValueError:
        raise ArtifactError(f"{str(path)!r} is damaged (its format version is not a number); re-create it") from None
    if version > FORMAT_VERSION:
        raise ArtifactError(
            f"{str(path)!r} uses sentilstm file format {version}, this version reads up to {FORMAT_VERSION}; "
            "upgrade with `pip install -U sentilstm`"
        )
    if header.get("kind") != kind:
        raise ArtifactError(f"{str(path)!r} is a sentilstm {header.get('kind')}, not a {what}")
    if header.get("sha256") != _digest(tensors):
        raise ArtifactError(f"{str(path)!r} is damaged (its weights fail the checksum); re-create or re-copy it")
    try:
        payload = json.loads(header["payload"])
    except (KeyError, json.JSONDecodeError):
        raise ArtifactError(f"{str(path)!r} is damaged (its JSON header cannot be read); re-create it") from None
    return tensors, payload
