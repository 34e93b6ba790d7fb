"""The web page's files on disk: one private folder per server, and the uploads and scored CSVs kept in it.

    folder = PageFolder.create("/srv/uploads")      # the server (the supervisor with --workers): fresh, 0700, locked
    store = FileStore(folder.path)                  # each worker process: checks the folder is private, uses it
    stored = store.save_upload(handle, "reviews.csv.gz", max_bytes=..., max_decompressed_bytes=...)
    folder.close()                                  # the server stops: the folder and everything in it are removed

Why so careful. The page used to keep its files in one fixed folder, `$TMPDIR/sentilstm-page-$USER`, created when
missing and trusted as found, with JSON notes naming the file behind each token. Another local user could create
that folder first and plant a note naming any file the server can read: `GET /score/<token>.csv` served it back
and the sweep deleted it. Now:

- the folder is made by `tempfile.mkdtemp` (a fresh random name, mode 0700) under a parent that belongs to us or
  root and that other users cannot write to, unless it is sticky like /tmp: nobody else can put anything in it;
- a file's path is derived from its token, kind and one of the known suffixes, never read from a note; a note
  holds only the user's file name and that suffix; links, folders and files of other users are refused;
- a server holds an exclusive lock (flock) on `.lock` in its folder as long as it runs, its pid written in it.
  The next server removes the folders under the same parent whose lock is free and whose pid was written: their
  server is gone (killed, crashed), and the half-written `.tmp` files it left go with them. Two servers never
  share a folder; the worker processes of one server do (a token handed out by one is found by the others).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sentilstm.data.tables import table_format
from sentilstm.errors import ConfigError, DataError
from sentilstm.serve.limits import OPTIONS, LimitExceeded

try:
    import fcntl
except ImportError:  # Windows: no flock; mkdtemp's fresh names still keep servers apart, nothing is swept
    fcntl = None  # type: ignore[assignment]  # a module or None: checked before each use

log = logging.getLogger(__name__)
PREFIX = "sentilstm-page-"  # per-server folders: sentilstm-page-<random>
LOCK = ".lock"  # held (flock) by the folder's server while it runs; holds its pid
FOLDER_ENV = "SENTILSTM_SERVE_PAGE_FOLDER"  # the folder the supervisor made, handed to its worker processes
SUFFIXES = {"upload": (".csv", ".tsv", ".jsonl", ".parquet"), "scored": (".csv",)}  # uploads are stored unpacked
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24)
KEEP_FILES = 8  # uploads and scored files kept (each kind), newest first
KEEP_SECONDS = 3600  # ... and for how long
COPY_BYTES = 1 << 20  # an upload is copied (and unpacked) this much at a time
PREDICT_HINT = "split it, or score it with `sentilstm predict MODEL --input FILE --output SCORED`"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def file_size(size: float) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.1f} KB"


def unpacked_too_large(name: str, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"{name!r} unpacks to more than {file_size(limit)}; the limit is {file_size(limit)} "
        f"({OPTIONS['max_decompressed_bytes']}): {PREDICT_HINT}"
    )


def _uid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _foreign(info: os.stat_result) -> bool:
    """True when the file or folder belongs to another user."""
    uid = _uid()
    return uid is not None and info.st_uid != uid


# ----- the folder ------------------------------------------------------------------------------------------------
def check_parent(folder: str | Path | None) -> Path:
    """Where per-server folders go: `folder` (made 0700 when missing), else the system's temporary folder.

    ConfigError unless it is a folder of ours (or root's) that other users cannot write to, or a sticky one
    such as /tmp, where they cannot remove or rename what is ours.
    """
    what = f"--upload-dir {str(folder)!r}" if folder is not None else f"the temporary folder {tempfile.gettempdir()!r}"
    path = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    try:
        if folder is not None and not os.path.lexists(path):
            path.mkdir(mode=0o700, parents=True)
        path = Path(os.path.realpath(path))
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"{what} cannot be used: {exc.strerror}; choose a folder you can write to") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{what} is not a folder; give a folder for the web page's uploads")
    if _foreign(info) and info.st_uid != 0:
        raise ConfigError(
            f"{what} belongs to another user (uid {info.st_uid}), who could replace the server's "
            "files; use a folder of your own"
        )
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise ConfigError(
            f"{what} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}), who could "
            f"replace the server's files; run `chmod go-w {path}` or choose another folder"
        )
    return path


def check_private(folder: str | Path) -> Path:
    """`folder` when it is a real folder of ours that nobody else may enter (mode 0700); ConfigError otherwise."""
    path = Path(folder)
    try:
        info = path.lstat()
    except OSError as exc:
        raise ConfigError(f"the web page's folder {str(path)!r} cannot be used: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        problem = "is a symbolic link" if stat.S_ISLNK(info.st_mode) else "is not a folder"
    elif _foreign(info):
        problem = f"belongs to another user (uid {info.st_uid})"
    elif _uid() is not None and info.st_mode & 0o077:
        problem = f"may be entered by other users (mode {stat.S_IMODE(info.st_mode):o})"
    else:
        return path
    raise ConfigError(
        f"the web page's folder {str(path)!r} {problem}; it must be a private folder of this server's "
        "(`chmod 700` it, or leave it to the server: give --upload-dir a parent folder instead)"
    )


class PageFolder:
    """The private folder of one server's page files, locked while the server runs (see the module docstring)."""

    def __init__(self, path: Path, lock: int | None) -> None:
        self.path = path
        self._lock = lock

    @classmethod
    def create(cls, parent: str | Path | None = None) -> PageFolder:
        """A fresh folder under `parent` (default: the temporary folder), after removing abandoned ones there."""
        base = check_parent(parent)
        swept = sweep_abandoned(base)
        if swept:
            log.info("removed %d folder(s) of servers that are gone from %s", swept, base)
        try:
            path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
        except OSError as exc:
            raise ConfigError(
                f"cannot create the web page's folder in {str(base)!r}: {exc.strerror}; choose another --upload-dir"
            ) from None
        return cls(path, _hold_lock(path))

    def close(self) -> None:
        """Remove the folder and everything in it, then let go of the lock; safe to call twice."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> PageFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _hold_lock(folder: Path) -> int | None:
    """Lock `folder`'s `.lock` for this process's lifetime and write our pid in it; the descriptor holds the lock."""
    if fcntl is None:
        return None
    handle = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    fcntl.flock(handle, fcntl.LOCK_EX)  # blocks only while a sweeper peeks at this brand-new folder
    os.write(handle, f"{os.getpid()}\n".encode())
    return handle


def sweep_abandoned(parent: Path) -> int:
    """Remove the page folders under `parent` whose server is gone (their lock free, a pid written); how many."""
    if fcntl is None:
        return 0
    removed = 0
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and not _foreign(info) and not info.st_mode & 0o077 and _abandoned(entry.path):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


def _abandoned(folder: str) -> bool:
    try:
        handle = os.open(os.path.join(folder, LOCK), os.O_RDONLY | _NOFOLLOW)
    except OSError:  # no lock: not one of ours, or one being made this very moment
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its server is running
        os.close(handle)
        return False
    try:
        return bool(os.read(handle, 32).strip())  # a pid: its server held the lock and is gone
    finally:
        os.close(handle)


# ----- the files in it ---------------------------------------------------------------------------------------------
@dataclass
class StoredFile:
    token: str
    path: Path
    name: str  # the user's file name, for messages and the download's name
    size: int
    created: float
    rows_at_most: int | None = None  # an upper bound on the rows, counted while the upload was written


class FileStore:
    """Uploads and scored CSVs under unguessable tokens in one private folder: the newest `keep` of each kind,
    for `seconds` seconds. Everything lives on disk, so the worker processes of one server share it."""

    def __init__(self, folder: str | Path, keep: int = KEEP_FILES, seconds: float = KEEP_SECONDS) -> None:
        self.folder = check_private(folder)
        self.keep, self.seconds = keep, seconds

    def path(self, kind: str, token: str, suffix: str) -> Path:
        """Where the file of `kind` under `token` lives: derived, never read from anywhere."""
        if suffix not in SUFFIXES[kind] or not TOKEN.fullmatch(token):
            raise ValueError(f"no {kind} file can end in {suffix!r} or have the token {token!r}")
        return self.folder / f"{token}.{kind}{suffix}"

    def reserve(self, kind: str, suffix: str) -> tuple[str, Path]:
        """A fresh token and the path to write its file to (registered later with `add`)."""
        token = secrets.token_urlsafe(24)
        return token, self.path(kind, token, suffix)

    def add(self, kind: str, token: str, path: Path, name: str, rows_at_most: int | None = None) -> StoredFile:
        """Register the file written to `path` (from `reserve`) under `token`, with the user's file `name`."""
        suffix = path.name.removeprefix(f"{token}.{kind}")
        if path != self.path(kind, token, suffix):
            raise ValueError(f"{path} is not where {kind} {token} lives")
        note = self._note(kind, token)
        temporary = note.with_name(f".{note.name}.tmp")
        temporary.write_text(json.dumps({"suffix": suffix, "name": name}), encoding="utf-8")
        os.replace(temporary, note)  # other workers see a whole note or none
        self._sweep(kind)
        return StoredFile(token, path, name, path.stat().st_size, time.time(), rows_at_most)

    def get(self, kind: str, token: str) -> StoredFile | None:
        """The file stored under `token`; None when unknown, expired, removed, or anything but what we wrote."""
        if kind not in SUFFIXES or not TOKEN.fullmatch(token):
            return None
        try:
            created, text = _read_own(self._note(kind, token))
            if time.time() - created > self.seconds:
                self._remove(kind, token)
                return None
            meta = json.loads(text)
            name, path = str(meta["name"]), self.path(kind, token, meta["suffix"])
            info = path.lstat()
        except (OSError, ValueError, KeyError, TypeError):  # swept meanwhile, a torn or foreign note, a bad suffix
            return None
        if not stat.S_ISREG(info.st_mode) or _foreign(info):
            return None
        return StoredFile(token, path, Path(name).name, info.st_size, created)

    def discard(self, kind: str, token: str) -> None:
        self._remove(kind, token)

    def save_upload(
        self,
        source: BinaryIO,
        name: str,
        *,
        max_bytes: int,
        max_decompressed_bytes: int,
        check: Callable[[], None] = lambda: None,
    ) -> StoredFile:
        """Copy `source` (the user's file `name`) into the store, unpacking gzip on the way.

        LimitExceeded past `max_bytes` as sent or `max_decompressed_bytes` unpacked (a bomb stops at the limit);
        DataError for an extension the library cannot read or broken gzip. `check` runs between chunks.
        """
        fmt, gzipped = table_format(Path(name))
        token, path = self.reserve("upload", f".{fmt}")
        temporary = path.with_name(f".{path.name}.tmp")
        unpack = Gunzip(name, max_decompressed_bytes) if gzipped else None
        sent = breaks = 0
        try:
            with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600), "wb") as out:
                while chunk := source.read(COPY_BYTES):
                    check()
                    sent += len(chunk)
                    if sent > max_bytes:
                        raise LimitExceeded(
                            f"the file is too large; the page scores files up to {file_size(max_bytes)}: {PREDICT_HINT}"
                        )
                    for piece in unpack.feed(chunk) if unpack is not None else (chunk,):
                        out.write(piece)
                        breaks += piece.count(b"\n") + piece.count(b"\r")  # pandas also ends rows at a lone \r
                if unpack is not None:
                    unpack.finish()
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return self.add("upload", token, path, Path(name).name, None if fmt == "parquet" else breaks + 1)

    def _note(self, kind: str, token: str) -> Path:
        return self.folder / f"{token}.{kind}.json"

    def _remove(self, kind: str, token: str) -> None:
        for suffix in SUFFIXES[kind]:
            self.path(kind, token, suffix).unlink(missing_ok=True)  # a planted link is removed, not followed
        self._note(kind, token).unlink(missing_ok=True)

    def _sweep(self, kind: str) -> None:
        """Remove the files of `kind` past the newest `keep`, and anything older than `seconds`: expired files,
        and those a worker killed mid-write left without a note (`.tmp` files included)."""
        cutoff = time.time() - self.seconds
        notes = []
        for entry in os.scandir(self.folder):
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed by another worker meanwhile
                continue
            token = entry.name[:32]
            if entry.name == f"{token}.{kind}.json" and TOKEN.fullmatch(token):
                notes.append((info.st_mtime, token))
            elif entry.name != LOCK and info.st_mtime < cutoff and not stat.S_ISDIR(info.st_mode):
                Path(entry.path).unlink(missing_ok=True)
        notes.sort(reverse=True)
        for i, (created, token) in enumerate(notes):
            if i >= self.keep or created < cutoff:
                self._remove(kind, token)


def _read_own(path: Path) -> tuple[float, str]:
    """(modification time, text) of a regular file of ours, read without following a link; OSError otherwise."""
    handle = os.open(path, os.O_RDONLY | _NOFOLLOW)
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode) or _foreign(info) or info.st_size > 64 * 1024:
            raise OSError(f"{path.name} is not a note this server wrote")
        return info.st_mtime, os.read(handle, 64 * 1024).decode("utf-8")
    finally:
        os.close(handle)


class Gunzip:
    """Streaming gzip decompression (every member, as `gzip` reads them) that never yields more than `limit` bytes.

    Output is produced at most COPY_BYTES at a time, so a bomb costs neither memory nor more work than the limit.
    """

    def __init__(self, name: str, limit: int) -> None:
        self.name, self.limit = name, limit
        self.produced = 0
        self._member: zlib._Decompress | None = zlib.decompressobj(wbits=31)
        self._seen = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The bytes `data` unpacks to (LimitExceeded once past the limit; DataError if it is not gzip)."""
        self._seen = True
        while data:
            if self._member is None:  # a member ended: zero padding may follow, or another member
                data = data.lstrip(b"\x00")
                if not data:
                    return
                self._member = zlib.decompressobj(wbits=31)
            room = min(self.limit - self.produced + 1, COPY_BYTES)  # one byte past the limit tells it was passed
            try:
                piece = self._member.decompress(data, room)
            except zlib.error as exc:
                raise DataError(
                    f"{self.name!r} is not a gzip file ({exc}); send it as it is, without .gz, "
                    "or compress it again with gzip"
                ) from None
            self.produced += len(piece)
            if self.produced > self.limit:
                raise unpacked_too_large(self.name, self.limit)
            if piece:
                yield piece
            if self._member.eof:
                data, self._member = self._member.unused_data, None
            else:
                data = self._member.unconsumed_tail

    def finish(self) -> None:
        """DataError when the data ended in the middle of a member."""
        if self._seen and self._member is not None:
            raise DataError(
                f"{self.name!r} is not a complete gzip file: it ends in the middle of the compressed "
                "data; send it again"
            )


__all__ = [
    "FOLDER_ENV",
    "FileStore",
    "Gunzip",
    "PageFolder",
    "StoredFile",
    "check_parent",
    "check_private",
    "file_size",
    "sweep_abandoned",
    "unpacked_too_large",
]
