"""The one-file format for models and training checkpoints: a safetensors file whose header carries JSON.

Nothing is ever unpickled: tensors come from safetensors, everything else (configs, tokenizer, label map,
metrics, versions) is JSON. A SHA-256 over every header field and every tensor (`content_sha256`) catches a
flipped bit or an edit anywhere, labels and vocabulary included; files are written to a temporary name and
renamed, so a failed save leaves no partial file. A checksum proves integrity, not intent: what the payload
declares is checked against the tensors by `sentilstm.artifact.schema` before anything is built from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import struct
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as save_tensors

from sentilstm.artifact import hub
from sentilstm.errors import ArtifactError, OutputError
from sentilstm.system.files import as_path, atomic_output

log = logging.getLogger(__name__)

FORMAT = "sentilstm"
# bump when a reader of the previous version could misread a new file. Adding CONTENT_DIGEST did not need one:
# older readers ignore the field and still verify WEIGHTS_DIGEST, so they read new files exactly as before.
FORMAT_VERSION = 1
Kind = Literal["model", "checkpoint", "encoder"]
WEIGHTS_DIGEST = "sha256"  # SHA-256 of the tensors only: all that files written before CONTENT_DIGEST carry
CONTENT_DIGEST = "content_sha256"  # SHA-256 of every other header field (payload, kind, ...) and every tensor


def library_versions() -> dict[str, str]:
    import numpy
    import tokenizers

    from sentilstm._version import __version__

    return {
        "sentilstm": __version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def _tensor_bytes(tensor: torch.Tensor) -> np.ndarray:
    """The tensor's bytes as a flat uint8 array (a view when it is contiguous and on the CPU)."""
    return tensor.detach().reshape(-1).contiguous().cpu().view(torch.uint8).numpy()


def _weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(_tensor_bytes(tensors[name]).data)  # .data: the array's buffer (typed as one)
    return digest.hexdigest()


def content_digest(fields: dict[str, str], tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of every header field but CONTENT_DIGEST itself and of every tensor's name, dtype, shape and bytes.

    Each piece is preceded by its length, so no two different files can feed the hash the same byte stream.
    """
    digest = hashlib.sha256(b"sentilstm content digest 1\0")

    def feed(piece: bytes | np.ndarray) -> None:
        if isinstance(piece, np.ndarray):
            digest.update(struct.pack("<Q", piece.nbytes))
            digest.update(piece.data)
        else:
            digest.update(struct.pack("<Q", len(piece)))
            digest.update(piece)

    for key in sorted(k for k in fields if k != CONTENT_DIGEST):
        feed(key.encode())
        feed(fields[key].encode("utf-8", "surrogatepass"))
    for name in sorted(tensors):
        tensor = tensors[name]
        feed(name.encode())
        feed(f"{tensor.dtype} {list(tensor.shape)}".encode())
        feed(_tensor_bytes(tensor))
    return digest.hexdigest()


def write_file(path: str | Path, tensors: dict[str, torch.Tensor], payload: dict[str, Any], kind: Kind) -> None:
    """Atomically write tensors plus a JSON payload to `path`."""
    path = as_path(path, f"the {kind} file to write", OutputError)
    tensors = {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "kind": kind,
        WEIGHTS_DIGEST: _weights_digest(tensors),
        "payload": json.dumps(payload, ensure_ascii=False, allow_nan=True),
    }
    header[CONTENT_DIGEST] = content_digest(header, tensors)
    data = save_tensors(tensors, metadata=header)
    if path.parent and not path.parent.exists():
        raise ArtifactError(
            f"cannot save to {str(path)!r}: folder {str(path.parent)!r} does not exist; create it first"
        )
    with atomic_output(path) as out:  # a full or read-only disk is one OutputError naming the path
        out.write(data)
        out.flush()
        os.fsync(out.fileno())  # on disk before the rename makes it the model


def parse_json(text: Any, what: str) -> Any:
    """`json.loads(text)`, with every way it can fail (deep nesting included) an ArtifactError about `what`."""
    if not isinstance(text, str):
        raise ArtifactError(f"{what} must be a string of JSON, got {type(text).__name__}")
    try:
        return json.loads(text)
    except RecursionError:  # json's C parser recurses once per [ or {
        raise ArtifactError(f"{what} is nested too deeply to be anything sentilstm writes") from None
    except ValueError as exc:  # JSONDecodeError, or a number of more than 4,300 digits
        raise ArtifactError(f"{what} is not valid JSON ({str(exc).splitlines()[0][:80]})") from None


def json_kind(value: Any) -> str:
    """What JSON calls the type of a parsed value: "array", "string", "number", "boolean", "null", "object"."""
    kinds = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", dict: "object"}
    return kinds.get(type(value), "null")


def read_file(path: str | Path, kind: Kind) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read and verify a file written by `write_file`; raise ArtifactError naming the problem and the fix.

    The payload is returned as a dict whose contents are unchecked: see `sentilstm.artifact.schema`. A model or
    encoder path `hf://USER/REPO` is downloaded from the Hugging Face Hub first (cached; `sentilstm.artifact.hub`).
    """
    what = kind
    path = as_path(hub.local_path(path) if kind != "checkpoint" else path, f"the {what} file", ArtifactError)
    if not path.exists():
        hint = {
            "model": "train one with `sentilstm train ... --out FILE`",
            "encoder": "make one with `sentilstm pretrain ... --out FILE`",
        }.get(kind, "start without --resume")
        raise ArtifactError(f"{what} file {str(path)!r} does not exist; check the path or {hint}")
    if path.is_dir():
        raise ArtifactError(f"{str(path)!r} is a folder, not a sentilstm {what} file")
    if not path.is_file():  # a FIFO would block the read below, a device never end
        raise ArtifactError(f"{str(path)!r} is not a regular file, so not a sentilstm {what} file")
    unreadable = (
        f"{str(path)!r} is not a readable sentilstm {what} (it is truncated, damaged or another kind of "
        "file: {}); re-create it with `sentilstm train`"
    )
    with path.open("rb") as handle:  # safetensors checks this too; here no byte past the file is ever asked for
        start = handle.read(8)
    size = path.stat().st_size
    if len(start) < 8 or struct.unpack("<Q", start)[0] > size - 8:
        raise ArtifactError(unreadable.format("its header length points past the end of the file"))
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header = handle.metadata() or {}
            if header.get("format") != FORMAT:
                raise ArtifactError(f"{str(path)!r} is a safetensors file but not a sentilstm {what}")
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except ArtifactError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for foreign, truncated or damaged files
        raise ArtifactError(unreadable.format(str(exc).splitlines()[0][:120])) from None
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
        raise ArtifactError(
            f"{str(path)!r} is a sentilstm {header.get('kind')}, not {'an' if kind == 'encoder' else 'a'} {what}"
        )
    _verify(path, header, tensors)
    try:
        payload = parse_json(header.get("payload", ""), "its payload")
    except ArtifactError as exc:
        raise ArtifactError(f"{str(path)!r} is damaged ({exc}); re-create it") from None
    if not isinstance(payload, dict):
        raise ArtifactError(
            f"{str(path)!r} is damaged (its payload is a JSON {json_kind(payload)}, not a JSON object); re-create it"
        )
    return tensors, payload


def _verify(path: Path, header: dict[str, str], tensors: dict[str, torch.Tensor]) -> None:
    """Check the file's checksum: the full one, or for files written before it existed, the weights' alone."""
    if CONTENT_DIGEST in header:
        if header[CONTENT_DIGEST] != content_digest(header, tensors):
            raise ArtifactError(
                f"{str(path)!r} is damaged or was edited (its contents fail the checksum); "
                "re-create it or copy it again"
            )
        return
    if header.get(WEIGHTS_DIGEST) != _weights_digest(tensors):
        raise ArtifactError(f"{str(path)!r} is damaged (its weights fail the checksum); re-create or re-copy it")
    log.warning(
        "%s carries only a weights checksum (an older sentilstm wrote it): its labels, vocabulary and "
        "settings cannot be verified; load it and save it again to add a full checksum",
        path,
    )
