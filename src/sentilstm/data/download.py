"""Fetching dataset files into the cache: resumable, retried, checksummed, atomic.

    path = fetch(RemoteFile("https://host/SST-2.zip", "sst2/SST-2.zip", md5="9f81..."))

- Cache: `$SENTILSTM_CACHE`, else `$XDG_CACHE_HOME/sentilstm`, else `~/.cache/sentilstm`.
- Mirror: with `$SENTILSTM_MIRROR=https://my.host/base`, a file is fetched from `<base>/<mirror_path>`
  (the official URL's path below its project root, e.g. `aclImdb_v1.tar.gz`), for air-gapped sites.
- A transfer is written to `<file>.part`; an interrupted one resumes with an HTTP Range request (or
  restarts if the server ignores ranges), with up to `retries` attempts and back-off. Only a complete,
  verified file is renamed into place.
- Checksums: a published MD5/SHA-256 in the registry is checked; for a file without one, its SHA-256 is
  recorded in `<cache>/checksums.json` on first download and every later use is verified against it.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sentilstm.errors import DataError
from sentilstm.system.files import temporary_beside

log = logging.getLogger(__name__)
CACHE_ENV = "SENTILSTM_CACHE"
MIRROR_ENV = "SENTILSTM_MIRROR"
LOCAL_COPY = "read a local copy of the dataset instead (--dataset-path DIR, load_dataset(name, path=DIR))"
CHUNK_BYTES = 1 << 20
RECORDED = "checksums.json"


class ChecksumError(DataError):
    """A file's bytes do not match the checksum the registry publishes or recorded."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"{str(path)!r} fails its checksum ({detail}); it is corrupted or was changed: delete it and run "
            "`sentilstm datasets download` again"
        )
        self.detail = detail


@dataclass(frozen=True)
class RemoteFile:
    url: str  # the official location
    filename: str  # where it lives in the cache, e.g. "imdb/aclImdb_v1.tar.gz"
    mirror_path: str  # its path below a mirror's base URL
    md5: str | None = None  # published checksums; None: recorded on first download (trust on first use)
    sha256: str | None = None

    def source_url(self) -> str:
        mirror = os.environ.get(MIRROR_ENV, "").strip()
        return f"{mirror.rstrip('/')}/{self.mirror_path}" if mirror else self.url


def cache_dir() -> Path:
    """The folder datasets are downloaded and prepared in (created on demand)."""
    if os.environ.get(CACHE_ENV):
        root = Path(os.environ[CACHE_ENV]).expanduser()
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sentilstm"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the dataset cache {str(root)!r} ({exc.strerror}); set {CACHE_ENV} to a writable folder"
        ) from None
    return root


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`.lock, so two processes never download the same file together."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent downloads of one file are the user's risk
        yield
        return
    with open(path.with_name(f".{path.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def verify(path: Path, remote: RemoteFile, root: Path) -> None:
    """Check `path` against the published checksum, or the one recorded at its first download."""
    if remote.md5:
        algorithm, expected, origin = "md5", remote.md5, "published"
    elif remote.sha256:
        algorithm, expected, origin = "sha256", remote.sha256, "published"
    else:
        recorded = _recorded(root).get(remote.filename)
        if recorded is None:
            _record(root, remote.filename, file_digest(path, "sha256"))
            return
        algorithm, expected, origin = "sha256", recorded, "recorded at first download"
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(path, f"{origin} {algorithm.upper()} {expected}, got {actual}")


def _recorded(root: Path) -> dict[str, str]:
    try:
        return json.loads((root / RECORDED).read_text())
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"{str(root / RECORDED)!r} is damaged; delete it (checksums are recorded again)") from None


def _record(root: Path, filename: str, sha256: str) -> None:
    recorded = _recorded(root) | {filename: sha256}
    handle, temporary = temporary_beside(root / RECORDED)
    with os.fdopen(handle, "w") as out:
        json.dump(recorded, out, indent=1, sort_keys=True)
    os.replace(temporary, root / RECORDED)
    log.warning(
        "%s has no published checksum: recorded its SHA-256 %s in %s; later uses are verified against it",
        filename,
        sha256,
        root / RECORDED,
    )


def fetch(remote: RemoteFile, *, retries: int = 4, timeout: float = 60.0, progress: bool = True) -> Path:
    """The cached, verified copy of `remote`, downloading (or resuming) it first when needed."""
    if retries < 1:
        raise DataError(f"retries must be at least 1, got {retries}")
    root = cache_dir()
    path = root / remote.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        if not path.exists():
            partial = path.with_name(path.name + ".part")
            url = remote.source_url()
            for attempt in range(1, retries + 1):
                try:
                    _transfer(url, partial, timeout, progress)
                    break
                except (
                    urllib.error.URLError,
                    http.client.HTTPException,
                    ConnectionError,
                    TimeoutError,
                    OSError,
                ) as exc:
                    if isinstance(exc, urllib.error.HTTPError):
                        exc.close()  # release the socket now, not at garbage collection
                    if isinstance(exc, urllib.error.HTTPError) and exc.code not in (408, 429, 500, 502, 503, 504):
                        raise DataError(
                            f"downloading {url} failed: HTTP {exc.code} {exc.reason}; check the URL, point "
                            f"{MIRROR_ENV} at a mirror holding {remote.mirror_path}, or {LOCAL_COPY}"
                        ) from None
                    if attempt == retries:
                        raise DataError(
                            f"downloading {url} failed after {retries} attempts ({_reason(exc)}); "
                            "run the command again "
                            f"to resume from {partial.stat().st_size if partial.exists() else 0} bytes, "
                            f"set {MIRROR_ENV}, or {LOCAL_COPY}"
                        ) from None
                    wait = min(30.0, 0.5 * 2 ** (attempt - 1))
                    log.warning("download of %s interrupted (%s); retrying in %.1fs", url, _reason(exc), wait)
                    time.sleep(wait)
            try:
                verify(partial, remote, root)
            except ChecksumError as exc:
                partial.unlink(missing_ok=True)  # a corrupted transfer cannot be resumed; the next run starts over
                raise DataError(
                    f"the file downloaded from {url} fails its checksum ({exc.detail}) and was deleted; make sure "
                    "the server holds the official file, then run again"
                ) from None
            os.replace(partial, path)
            log.info("downloaded %s -> %s", url, path)
        else:
            verify(path, remote, root)
    return path


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"


def _transfer(url: str, partial: Path, timeout: float, progress: bool) -> None:
    """Append the rest of `url` to `partial`, resuming with a Range request when it already holds bytes."""
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(
        url, headers={"User-Agent": "sentilstm", **({"Range": f"bytes={offset}-"} if offset else {})}
    )
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # range not satisfiable: the partial file is already complete
            exc.close()
            return
        raise
    with response:
        if offset and response.status != 206:  # the server ignored the range: start over
            offset = 0
        length = response.headers.get("Content-Length")
        expected = offset + int(length) if length is not None else None
        received = offset
        with (
            open(partial, "ab" if offset else "wb") as out,
            _progress_bar(partial.name.removesuffix(".part"), expected, received, progress) as advance,
        ):
            while block := response.read(CHUNK_BYTES):
                out.write(block)
                received += len(block)
                advance(len(block))
    if expected is not None and received < expected:
        raise http.client.IncompleteRead(b"", expected - received)


@contextlib.contextmanager
def _progress_bar(name: str, total: int | None, done: int, enabled: bool) -> Iterator[Callable[[int], object]]:
    """A rich progress bar on stderr when it is a terminal; otherwise silent (logs say what happened)."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        TextColumn(name),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(name, total=total, completed=done)
        yield lambda n: bar.update(task, advance=n)
