"""Writing files safely: everything sentilstm writes goes to a temporary name beside the target, then is renamed
into place, so an interrupted or failed run never leaves a half-written file; a write that fails for a reason
of the file system (no permission, read-only, disk full, name too long...) becomes one `OutputError` naming
the path and the fix; and no output may be (the same file as) one of the command's inputs.

    with atomic_output(Path("scores.json")) as stream:   # or write_atomically(path, data)
        stream.write(data)                                 # renamed to scores.json only if this succeeds
    check_outputs({"--out": out}, {"DATA": data})          # before any work: refuses `--out DATA`

Temporary names are `.NAME.PID-HOST.RANDOM.tmp`. The ones a killed run left behind (its process is gone, or
the file is older than STALE_SECONDS) are swept the next time something is written beside NAME.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal, overload

from sentilstm.errors import DataError, OutputError, SentilstmError

log = logging.getLogger(__name__)

STALE_SECONDS = 24 * 3600  # a temporary file untouched this long is left over, whoever made it
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]
_RANDOM = r"[a-z0-9_]{8}"  # tempfile's random part
_FIXES = {  # errno -> how to get past it
    errno.EACCES: "choose a folder you may write to, or change its permissions",
    errno.EPERM: "choose a folder you may write to, or change its permissions",
    errno.EROFS: "the file system is read-only; write somewhere else",
    errno.ENOSPC: "the disk is full; free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up; free some space or write somewhere else",
    errno.EFBIG: "the file is too large for this file system; write somewhere else",
    errno.EISDIR: "it is a folder; give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder; fix the path",
    errno.ENOENT: "its folder does not exist; create it first",
    errno.ENAMETOOLONG: "the name is too long for this file system; choose a shorter one",
    errno.EEXIST: "something is in the way; remove it or choose another name",
    errno.ENOTEMPTY: "a non-empty folder is in the way; remove it or choose another name",
}


def as_path(value: Any, what: str, error: type[SentilstmError]) -> Path:
    """`value` as a Path, or `error` saying what was given: None, a number or a name with a NUL is no file."""
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if "\x00" not in str(path):
            return path
    raise error(f"{what} must be a file path (a str or pathlib.Path), got {value!r:.80}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_error(path: str | Path, error: OSError) -> OutputError:
    """One line naming the path, what the system said and the fix; `errno` is kept for callers."""
    reason = error.strerror or str(error) or type(error).__name__
    fix = _FIXES.get(error.errno or 0, "check the path and the disk")
    failure = OutputError(f"cannot write {str(path)!r}: {reason}; {fix}")
    failure.errno = error.errno
    return failure


@overload
def temporary_beside(path: Path, *, directory: Literal[False] = False) -> tuple[int, Path]: ...
@overload
def temporary_beside(path: Path, *, directory: Literal[True]) -> tuple[None, Path]: ...
def temporary_beside(path: Path, *, directory: bool = False) -> tuple[int | None, Path]:
    """A new temporary file (open handle, path) or folder (None, path) in `path`'s folder, with the
    permissions a normal new file would get (mkstemp alone makes it private to the owner).

    Stale temporaries of the same target are swept first; a folder that cannot be written raises OutputError.
    """
    path = Path(path)
    sweep_temporaries(path)
    prefix, parent = f".{path.name}.{os.getpid()}-{_HOST}.", path.parent
    try:
        if directory:
            return None, Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=parent)
        os.fchmod(handle, 0o666 & ~_umask())
    except OSError as exc:
        raise output_error(path, exc) from None
    return handle, Path(name)


@contextmanager
def atomic_output(path: str | Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """A stream to a temporary file beside `path`, renamed to `path` when the block ends without an error.

    On any failure the temporary file is removed and `path` is left as it was; OSError becomes OutputError.
    """
    path = as_path(path, "the file to write", OutputError)
    handle, temporary = temporary_beside(path)
    try:
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            yield stream
        os.replace(temporary, path)
    except SentilstmError:
        temporary.unlink(missing_ok=True)
        raise
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise output_error(path, exc) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(path: str | Path, data: bytes | str) -> Path:
    """Write `data` (str as UTF-8) to `path` atomically; see `atomic_output`."""
    with atomic_output(path) as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


def write_json(data: Any, path: str | Path | None) -> None:
    """Write `data` as indented JSON to `path` atomically (nothing when `path` is None); what JSON cannot hold is
    written as its str()."""
    import json

    if path is not None:
        write_atomically(path, json.dumps(data, indent=2, default=str))


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn an OSError raised while writing `path` (by code that writes atomically itself) into OutputError."""
    try:
        yield
    except SentilstmError:
        raise
    except OSError as exc:
        raise output_error(path, exc) from None


def sweep_temporaries(path: str | Path, *, now: float | None = None) -> list[Path]:
    """Remove the temporaries of `path` that a killed run left behind; returns what was removed.

    Only entries named like ours (`.NAME.PID-HOST.RANDOM.tmp`, or the older `.NAME.RANDOM.tmp`) and owned by this
    user are candidates; one is removed when its process, on this host, is gone, or when it has not been touched
    for STALE_SECONDS. Anything else, however similar, is never touched.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    ours = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)-([0-9a-f]{{8}})\.)?{_RANDOM}\.tmp")
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed  # a missing or unreadable folder: the write that follows reports it
    for entry in entries:
        match = ours.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if info.st_uid != os.geteuid() or entry.is_symlink():
                continue
            owner, host = match.groups()
            gone = owner is not None and host == _HOST and not _running(int(owner))
            if not gone and now - info.st_mtime < STALE_SECONDS:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue  # removed by someone else meanwhile, or not ours to remove
        removed.append(Path(entry.path))
    if removed:
        log.info("removed %d temporary file(s) left beside %s by an interrupted run", len(removed), path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process: alive
    return True


def check_outputs(outputs: Mapping[str, str | Path | None], inputs: Mapping[str, str | Path | None] = {}) -> None:
    """Refuse, before any work, an output that would destroy an input or cannot be written.

    `outputs` and `inputs` map an option name ("--out", "DATA") to a path (None: not given). An output may not be
    the same file as an input (compared after resolving symlinks and `./x` spellings, and by inode for hard
    links), nor the same as another output, nor a folder; its folder must exist and take a new file.
    """
    given_inputs = {name: Path(p) for name, p in inputs.items() if p is not None}
    seen: dict[Path, str] = {}
    for option, value in outputs.items():
        if value is None:
            continue
        path = Path(value)
        resolved = path.resolve()
        for name, source in given_inputs.items():
            if _same_file(resolved, source):
                raise DataError(
                    f"{option} {str(path)!r} is the input file given as {name}; writing it would destroy that "
                    "input: choose another output path"
                )
        if resolved in seen:
            raise DataError(f"{option} and {seen[resolved]} are both {str(path)!r}; give them different paths")
        seen[resolved] = option
        if path.is_dir():
            raise DataError(f"{option} {str(path)!r} is a folder; give a file name, e.g. {str(path / 'out')!r}")
        if not resolved.parent.is_dir():
            raise DataError(f"{option} {str(path)!r}: folder {str(path.parent)!r} does not exist; create it first")
        handle, probe = temporary_beside(path)  # the folder takes a new file (raises OutputError if not)
        os.close(handle)
        probe.unlink(missing_ok=True)


def _same_file(resolved: Path, source: Path) -> bool:
    if resolved == source.resolve():
        return True
    try:
        return resolved.exists() and source.exists() and os.path.samefile(resolved, source)
    except OSError:
        return False
