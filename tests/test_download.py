"""sentilstm.data.download: the dataset cache, resumable and retried transfers, checksums, against a real HTTP server.

The helpers at the top (a scriptable loopback mirror and builders of small archives in each dataset's
official format) are imported by test_datasets.py. Nothing here leaves 127.0.0.1, and the retry back-off
is recorded instead of slept (fixture `backoff`), so the whole module runs in a few seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import logging
import os
import random
import re
import socket
import tarfile
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sentilstm.data import datasets, download
from sentilstm.data.datasets import is_cached, load_dataset
from sentilstm.data.download import RemoteFile, cache_dir, fetch
from sentilstm.errors import DataError

# ----- a loopback mirror ---------------------------------------------------------------------------------
MIRROR_BASE = "/mirror"
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@dataclass(frozen=True)
class Request:
    path: str  # below the mirror's base, e.g. "SST-2.zip"
    range: str | None  # the Range header, e.g. "bytes=100-"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mirror: Mirror

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early (on purpose, in these tests) is not an error worth printing


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # the http.server API names it so
        self.server.mirror.respond(self)


class Mirror:
    """A dataset mirror on 127.0.0.1 (HTTP/1.0, a port of its own) whose misbehaviour each test scripts.

    `files` maps paths below the mirror base to their bytes; per path, `cut` lists how many bytes each
    successive response sends before the connection is dropped (with the full Content-Length announced),
    `errors` lists HTTP statuses to answer before the file is served, `stall` counts responses that hang
    until `release` is set. `ignore_range` answers every request 200 with the whole body; `corrupt` paths
    are served with one byte flipped. Every request is recorded in `requests`.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[Request] = []
        self.cut: dict[str, list[int]] = {}
        self.errors: dict[str, list[int]] = {}
        self.stall: dict[str, int] = {}
        self.corrupt: set[str] = set()
        self.ignore_range = False
        self.delay = 0.0
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.mirror = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{MIRROR_BASE}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def served(self, path: str) -> bytes:
        body = self.files[path]
        if path in self.corrupt:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
        return body

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def respond(self, handler: _Handler) -> None:
        raw = urllib.parse.unquote(urllib.parse.urlsplit(handler.path).path)
        path = raw.removeprefix(MIRROR_BASE + "/")
        asked = handler.headers.get("Range")
        with self._lock:
            self.requests.append(Request(path, asked))
            status = self.errors[path].pop(0) if self.errors.get(path) else None
            cut = self.cut[path].pop(0) if self.cut.get(path) else None
            stall = self.stall.get(path, 0) > 0
            if stall:
                self.stall[path] -= 1
        if stall:
            self.release.wait(10)
        if self.delay:
            time.sleep(self.delay)
        if status is not None:
            handler.send_error(status)
            return
        if not raw.startswith(MIRROR_BASE + "/") or path not in self.files:
            handler.send_error(404)
            return
        body = self.served(path)
        start = 0
        if asked is not None and not self.ignore_range:
            match = re.fullmatch(r"bytes=(\d+)-", asked)
            if match is None:
                handler.send_error(400, "only Range: bytes=N- is supported here")
                return
            start = int(match[1])
            if start >= len(body):
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{len(body)}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
        payload = body[start:]
        handler.send_response(206 if asked is not None and not self.ignore_range else 200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Accept-Ranges", "none" if self.ignore_range else "bytes")
        if asked is not None and not self.ignore_range:
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        handler.end_headers()
        handler.wfile.write(payload if cut is None else payload[:cut])  # HTTP/1.0: the connection closes after this
        handler.wfile.flush()


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    """A running loopback mirror that SENTILSTM_MIRROR points at (with a trailing slash)."""
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    server = Mirror()
    monkeypatch.setenv("SENTILSTM_MIRROR", server.url)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits fetch() asked for, recorded instead of slept."""
    waits: list[float] = []

    class Clock:
        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            waits.append(seconds)

    monkeypatch.setattr(download, "time", Clock())
    return waits


@pytest.fixture
def cache(_private_dataset_cache: Path) -> Path:
    """The test's private SENTILSTM_CACHE folder (see conftest.py)."""
    return _private_dataset_cache


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_entries(root: Path) -> list[str]:
    """Every file below `root`, relative, except the lock files beside downloads."""
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.name.endswith(".lock")
    )


def scratch_folders(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.tmp")]


def with_checksum(monkeypatch: pytest.MonkeyPatch, name: str, **checksums: str | None) -> None:
    """Give dataset `name`'s (single) file other published checksums, e.g. those of a test archive."""
    info = datasets.DATASETS[name]
    (remote,) = info.files
    monkeypatch.setitem(
        datasets.DATASETS, name, dataclasses.replace(info, files=(dataclasses.replace(remote, **checksums),))
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----- small archives in each official format ------------------------------------------------------------
# IMDB: aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt (rating 7-10 positive, 1-4 negative), train/unsup/<id>_0.txt.
IMDB_REVIEWS: dict[tuple[str, str], list[str]] = {
    ("train", "pos"): [
        "A wonderful film.<br /><br />The café scene alone is worth it.",
        "Great cast, great story, great ending.",
    ],
    ("train", "neg"): ["Dull and far too long.<br />I left before the end.", "An awful script with a naïve plot."],
    ("test", "pos"): ["Superb direction and a moving score.", "I loved every minute – truly brilliant."],
    ("test", "neg"): [
        "Boring, predictable and badly acted.",
        "The worst film I have seen this year.<br /><br />Avoid.",
    ],
}
IMDB_UNSUP = [
    "An unlabelled review about a film.",
    "Another one, with an umlaut: Müller.",
    "A third <br /> unlabelled review.",
]


def imdb_expected() -> dict[str, dict[str, str]]:
    """{"train"/"test": {text: "negative"/"positive"}} of IMDB_REVIEWS."""
    names = {"pos": "positive", "neg": "negative"}
    out: dict[str, dict[str, str]] = {"train": {}, "test": {}}
    for (split, polarity), texts in IMDB_REVIEWS.items():
        out[split].update({text: names[polarity] for text in texts})
    return out


def imdb_members() -> dict[str, bytes]:
    """Member path -> content of a small aclImdb_v1.tar.gz, with the official extra files beside the reviews."""
    members = {
        "aclImdb/README": b"Large Movie Review Dataset v1.0\n",
        "aclImdb/imdb.vocab": b"the\nand\n",
        "aclImdb/train/labeledBow.feat": b"0 0:9\n",
        "aclImdb/train/urls_pos.txt": b"http://www.imdb.com/title/tt0453418/usercomments\n",
    }
    for (split, polarity), texts in IMDB_REVIEWS.items():
        for number, text in enumerate(texts):
            rating = 10 - number if polarity == "pos" else 1 + number
            members[f"aclImdb/{split}/{polarity}/{number}_{rating}.txt"] = text.encode()
    for number, text in enumerate(IMDB_UNSUP):
        members[f"aclImdb/train/unsup/{number}_0.txt"] = text.encode()
    return members


def imdb_tarball(members: dict[str, bytes] | None = None, *, level: int = 9) -> bytes:
    """A gzipped tar of `members` (default imdb_members()); level 0 stores the tar bytes uncompressed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, content in (members if members is not None else imdb_members()).items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(content), 1_300_000_000
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(buffer.getvalue(), compresslevel=level, mtime=0)


# GLUE SST-2: lower-cased phrases that end in a space, TSV without quoting (one holds a bare "), test unlabelled.
SST2_TRAIN = [
    ("hide new secretions from the parental units ", 0),
    ("contains no wit , only labored gags ", 0),
    ("that loves its characters and communicates something rather beautiful ", 1),
    ('the " director is a bare quote away from greatness ', 1),
    ("demonstrates that the director can still turn out a small film ", 1),
    ("the plot is nothing but boilerplate clichés ", 0),
]
SST2_DEV = [
    ("it 's a charming and often affecting journey . ", 1),
    ("unflinchingly bleak and desperate ", 0),
    ('a " lone quote in a thoroughly enjoyable film . ', 1),
    ("the acting is wooden and the story drags . ", 0),
]
SST2_TEST = ["uneasy mishmash of styles and genres .", "this film 's relationship to actual tension is the same ."]


def sst2_files() -> dict[str, bytes]:
    """The three TSVs of SST-2.zip, by member name."""

    def table(header: str, rows: list[tuple[Any, ...]]) -> bytes:
        return (header + "\n" + "".join("\t".join(map(str, row)) + "\n" for row in rows)).encode()

    return {
        "SST-2/train.tsv": table("sentence\tlabel", SST2_TRAIN),
        "SST-2/dev.tsv": table("sentence\tlabel", SST2_DEV),
        "SST-2/test.tsv": table("index\tsentence", list(enumerate(SST2_TEST))),
    }


def sst2_zip(files: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(zipfile.ZipInfo("SST-2/original/README.txt", (2019, 1, 1, 0, 0, 0)), "the original SST files\n")
        for name, content in (files if files is not None else sst2_files()).items():
            bundle.writestr(zipfile.ZipInfo(name, (2019, 1, 1, 0, 0, 0)), content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


# AfriSenti Subtask A: `ID\ttweet\tlabel`, no quoting (one tweet holds a bare "), tone marks, @user and emoji.
AFRISENTI_ROWS: dict[str, list[tuple[str, str]]] = {
    "train": [
        ("Ọ dị mma nke ukwuu 😂", "positive"),
        ("@user Chineke nna kezi mgbe ole???", "negative"),
        ('@user "ọ bụ eziokwu', "neutral"),
        ("Ihe a adịghị mma ma ọlị", "negative"),
        ("Daalụ nne m, ị mere nke ọma", "positive"),
        ("Anyị ga-ahụ echi", "neutral"),
        ("Ọnọdụ a jọrọ njọ", "negative"),
        ("Obi dị m ụtọ taa", "positive"),
        ("Ọ bụ Mọnde ọzọ", "neutral"),
    ],
    "dev": [("Ezigbo ihe ka ọ bụ", "positive"), ("Ọ dịghị mma", "negative"), ("Ọ ga-adị", "neutral")],
    "test": [("ọ dị ezigbo mma", "positive"), ("ihe ọjọọ", "negative"), ('"ka ọ dị', "neutral")],
}


def afrisenti_tsv(lang: str, split: str) -> bytes:
    rows = AFRISENTI_ROWS[split]
    lines = [f"{lang}_{split}_{i:05d}\t{tweet}\t{label}\n" for i, (tweet, label) in enumerate(rows)]
    return ("ID\ttweet\tlabel\n" + "".join(lines)).encode()


def afrisenti_files(lang: str) -> dict[str, bytes]:
    """Mirror path -> bytes of the three official TSVs of `lang`."""
    return {f"SubtaskA/{split}/{lang}_{split}.tsv": afrisenti_tsv(lang, split) for split in ("train", "dev", "test")}


def serve_imdb(mirror: Mirror, monkeypatch: pytest.MonkeyPatch, tarball: bytes | None = None) -> bytes:
    """Put an IMDB tarball on the mirror and make it the registry's published one; return its bytes."""
    data = tarball if tarball is not None else imdb_tarball()
    mirror.files["aclImdb_v1.tar.gz"] = data
    with_checksum(monkeypatch, "imdb", md5=md5(data))
    return data


def serve_sst2(mirror: Mirror, monkeypatch: pytest.MonkeyPatch, archive: bytes | None = None) -> bytes:
    data = archive if archive is not None else sst2_zip()
    mirror.files["SST-2.zip"] = data
    with_checksum(monkeypatch, "sst2", md5=md5(data))
    return data


# ----- fetch: transfers ----------------------------------------------------------------------------------
PAYLOAD = random.Random(0).randbytes(3 * download.CHUNK_BYTES + 12345)  # several read chunks
REMOTE = RemoteFile("https://example.invalid/data/blob.bin", "test/blob.bin", "data/blob.bin", md5=md5(PAYLOAD))


def test_fetch_downloads_into_the_cache(mirror: Mirror, cache: Path) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    path = fetch(REMOTE)
    assert path == cache / "test" / "blob.bin"
    assert path.read_bytes() == PAYLOAD
    assert mirror.requests == [Request("data/blob.bin", None)]
    assert cache_entries(cache) == ["test/blob.bin"]


def test_fetch_again_makes_no_request(mirror: Mirror) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    first = fetch(REMOTE)
    second = fetch(REMOTE)
    assert first == second and second.read_bytes() == PAYLOAD
    assert len(mirror.requests) == 1


def test_interrupted_transfer_resumes_with_a_range_request(mirror: Mirror, cache: Path, backoff: list[float]) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    mirror.cut["data/blob.bin"] = [1_500_000]
    path = fetch(REMOTE)
    assert path.read_bytes() == PAYLOAD
    assert mirror.requests == [Request("data/blob.bin", None), Request("data/blob.bin", "bytes=1500000-")]
    assert backoff == [0.5]
    assert cache_entries(cache) == ["test/blob.bin"]  # no .part left


def test_transfer_interrupted_twice_resumes_from_each_partial_size(mirror: Mirror, backoff: list[float]) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    mirror.cut["data/blob.bin"] = [1000, 2_000_000]
    assert fetch(REMOTE).read_bytes() == PAYLOAD
    assert [r.range for r in mirror.requests] == [None, "bytes=1000-", "bytes=2001000-"]
    assert backoff == [0.5, 1.0]  # exponential back-off


def test_server_ignoring_range_still_gives_the_right_file(mirror: Mirror) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    mirror.cut["data/blob.bin"] = [700_000]
    mirror.ignore_range = True  # the retry's 200 restarts the file instead of appending the whole body
    assert fetch(REMOTE).read_bytes() == PAYLOAD
    assert [r.range for r in mirror.requests] == [None, "bytes=700000-"]


def test_complete_partial_file_is_finished_without_a_body(mirror: Mirror, cache: Path) -> None:
    """A run killed after the last byte but before the rename: the Range request gets 416, the .part is verified."""
    mirror.files["data/blob.bin"] = PAYLOAD
    (cache / "test").mkdir()
    (cache / "test" / "blob.bin.part").write_bytes(PAYLOAD)
    assert fetch(REMOTE).read_bytes() == PAYLOAD
    assert mirror.requests == [Request("data/blob.bin", f"bytes={len(PAYLOAD)}-")]
    assert cache_entries(cache) == ["test/blob.bin"]


def test_damaged_partial_file_fails_its_checksum_then_the_next_run_starts_over(mirror: Mirror, cache: Path) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    (cache / "test").mkdir()
    (cache / "test" / "blob.bin.part").write_bytes(b"not the start of the file")
    with pytest.raises(DataError, match="fails its checksum.*was deleted"):
        fetch(REMOTE)
    assert cache_entries(cache) == []
    assert fetch(REMOTE).read_bytes() == PAYLOAD
    assert [r.range for r in mirror.requests] == ["bytes=25-", None]


def test_503_then_success_is_retried(mirror: Mirror, backoff: list[float]) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    mirror.errors["data/blob.bin"] = [503]
    assert fetch(REMOTE).read_bytes() == PAYLOAD
    assert mirror.requests == [Request("data/blob.bin", None)] * 2
    assert backoff == [0.5]


def test_persistent_503_gives_up_after_the_retries(mirror: Mirror, cache: Path, backoff: list[float]) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    mirror.errors["data/blob.bin"] = [503] * 10
    with pytest.raises(DataError, match=r"failed after 3 attempts \(HTTPError: Service Unavailable\)") as error:
        fetch(REMOTE, retries=3)
    assert mirror.url + "data/blob.bin" in str(error.value) and "SENTILSTM_MIRROR" in str(error.value)
    assert "--dataset-path DIR" in str(error.value)  # or no network at all: a local copy
    assert len(mirror.requests) == 3 and backoff == [0.5, 1.0]
    assert cache_entries(cache) == []


def test_exhausted_retries_keep_the_partial_file_for_the_next_run(
    mirror: Mirror, cache: Path, backoff: list[float]
) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    mirror.cut["data/blob.bin"] = [100_000] * 4
    with pytest.raises(DataError, match="failed after 4 attempts.*resume from 400000 bytes"):
        fetch(REMOTE)
    assert (cache / "test" / "blob.bin.part").stat().st_size == 400_000
    assert not (cache / "test" / "blob.bin").exists()
    assert backoff == [0.5, 1.0, 2.0]
    assert fetch(REMOTE).read_bytes() == PAYLOAD  # the server recovered: the next run resumes
    assert mirror.requests[-1] == Request("data/blob.bin", "bytes=400000-")


@pytest.mark.parametrize("status", [404, 403])
def test_client_error_fails_at_once_naming_the_url_and_the_mirror_variable(
    mirror: Mirror, cache: Path, status: int, backoff: list[float]
) -> None:
    mirror.errors["data/blob.bin"] = [status]
    with pytest.raises(DataError, match=f"HTTP {status}") as error:
        fetch(REMOTE)
    message = str(error.value)
    assert f"{mirror.url}data/blob.bin" in message and "SENTILSTM_MIRROR" in message and "data/blob.bin" in message
    assert len(mirror.requests) == 1 and backoff == []
    assert cache_entries(cache) == []


def test_corrupted_transfer_fails_its_checksum_and_is_deleted(mirror: Mirror, cache: Path) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    mirror.corrupt.add("data/blob.bin")
    with pytest.raises(
        DataError, match=f"downloaded from {re.escape(mirror.url)}data/blob.bin fails its checksum"
    ) as error:
        fetch(REMOTE)
    assert REMOTE.md5 in str(error.value) and "was deleted" in str(error.value)
    assert cache_entries(cache) == []
    assert len(mirror.requests) == 1  # a checksum failure is not retried: the server would send the same bytes


def test_unreachable_server_is_retried_then_fails(
    monkeypatch: pytest.MonkeyPatch, cache: Path, backoff: list[float]
) -> None:
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SENTILSTM_MIRROR", f"http://127.0.0.1:{closed_port()}/m")
    with pytest.raises(
        DataError, match=r"downloading http://127\.0\.0\.1:\d+/m/data/blob\.bin failed after 2 attempts"
    ):
        fetch(REMOTE, retries=2)
    assert backoff == [0.5]
    assert cache_entries(cache) == []


def test_stalled_response_times_out_and_is_retried(mirror: Mirror, backoff: list[float]) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    mirror.stall["data/blob.bin"] = 1
    started = time.perf_counter()
    assert fetch(REMOTE, timeout=0.3).read_bytes() == PAYLOAD
    assert time.perf_counter() - started < 5
    assert len(mirror.requests) == 2 and backoff == [0.5]


def test_concurrent_fetches_of_one_file_download_it_once(mirror: Mirror) -> None:
    mirror.files["data/blob.bin"] = PAYLOAD
    mirror.delay = 0.3  # both callers are inside fetch() while the first transfer is under way
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(fetch(REMOTE).read_bytes())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results == [PAYLOAD, PAYLOAD]
    assert len(mirror.requests) == 1


def test_official_url_without_a_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    assert REMOTE.source_url() == "https://example.invalid/data/blob.bin"
    monkeypatch.setenv("SENTILSTM_MIRROR", "  ")
    assert REMOTE.source_url() == "https://example.invalid/data/blob.bin"
    monkeypatch.setenv("SENTILSTM_MIRROR", "http://host/base///")
    assert REMOTE.source_url() == "http://host/base/data/blob.bin"


def test_registry_mirror_paths_follow_the_official_layout() -> None:
    assert [f.mirror_path for f in datasets.DATASETS["imdb"].files] == ["aclImdb_v1.tar.gz"]
    assert [f.mirror_path for f in datasets.DATASETS["sst2"].files] == ["SST-2.zip"]
    assert [f.mirror_path for f in datasets.DATASETS["afrisenti-yo"].files] == [
        "SubtaskA/train/yo_train.tsv",
        "SubtaskA/dev/yo_dev.tsv",
        "SubtaskA/test/yo_test.tsv",
    ]
    for info in datasets.list_datasets():
        for remote in info.files:
            assert remote.url.endswith("/" + remote.mirror_path)


# ----- the cache folder ----------------------------------------------------------------------------------
def test_cache_dir_honours_sentilstm_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SENTILSTM_CACHE", str(tmp_path / "a" / "b"))
    assert cache_dir() == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()


def test_cache_dir_expands_the_home_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SENTILSTM_CACHE", "~/datasets")
    assert cache_dir() == tmp_path / "datasets"


def test_cache_dir_defaults_to_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SENTILSTM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "sentilstm"
    assert (tmp_path / "xdg" / "sentilstm").is_dir()


def test_cache_dir_falls_back_to_home_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SENTILSTM_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "sentilstm"


def test_unusable_cache_dir_is_a_data_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("SENTILSTM_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(DataError, match="cannot create the dataset cache.*SENTILSTM_CACHE"):
        cache_dir()


def test_downloads_go_to_sentilstm_cache(mirror: Mirror, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SENTILSTM_CACHE", str(tmp_path / "my-cache"))
    mirror.files.update(afrisenti_files("yo"))
    splits = load_dataset("afrisenti-yo")
    assert splits.source == str(tmp_path / "my-cache")
    assert cache_entries(tmp_path / "my-cache") == [
        "afrisenti/yo_dev.tsv",
        "afrisenti/yo_test.tsv",
        "afrisenti/yo_train.tsv",
        "checksums.json",
    ]
    assert (tmp_path / "my-cache" / "afrisenti" / "yo_dev.tsv").read_bytes() == afrisenti_tsv("yo", "dev")


# ----- datasets through the mirror -----------------------------------------------------------------------
def test_load_downloads_then_reads_the_cache_without_requests(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    serve_imdb(mirror, monkeypatch)
    assert not is_cached("imdb")
    first = load_dataset("imdb")
    assert mirror.paths() == ["aclImdb_v1.tar.gz"]
    assert is_cached("imdb") and not is_cached("sst2")
    second = load_dataset("imdb", download=False)
    assert len(mirror.requests) == 1
    assert (second.train.texts, second.train.labels, second.unlabeled) == (
        first.train.texts,
        first.train.labels,
        first.unlabeled,
    )
    assert scratch_folders(cache) == []


def test_interrupted_dataset_download_resumes(mirror: Mirror, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    data = serve_sst2(mirror, monkeypatch)
    mirror.cut["SST-2.zip"] = [len(data) // 3]
    splits = load_dataset("sst2")
    assert len(splits.train) == len(SST2_TRAIN)
    assert mirror.requests == [Request("SST-2.zip", None), Request("SST-2.zip", f"bytes={len(data) // 3}-")]
    assert (cache / "sst2" / "SST-2.zip").read_bytes() == data


def test_404_names_the_url_and_leaves_nothing(mirror: Mirror, cache: Path) -> None:
    with pytest.raises(DataError, match="HTTP 404") as error:
        load_dataset("sst2")
    assert f"{mirror.url}SST-2.zip" in str(error.value) and "SENTILSTM_MIRROR" in str(error.value)
    assert "--dataset-path DIR" in str(error.value)
    assert cache_entries(cache) == [] and not is_cached("sst2")


def test_corrupted_archive_fails_its_checksum_and_leaves_nothing(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    data = serve_imdb(mirror, monkeypatch)
    mirror.corrupt.add("aclImdb_v1.tar.gz")
    with pytest.raises(DataError, match="fails its checksum") as error:
        load_dataset("imdb")
    assert md5(data) in str(error.value)
    assert cache_entries(cache) == [] and scratch_folders(cache) == []
    assert not is_cached("imdb")


def test_truncated_archive_matching_its_checksum_cannot_be_prepared(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    """A registry checksum that matches a damaged file: preparing fails cleanly, nothing half-prepared remains."""
    data = imdb_tarball()
    serve_imdb(mirror, monkeypatch, data[: len(data) // 2])
    with pytest.raises(DataError, match="cannot be unpacked.*truncated or damaged"):
        load_dataset("imdb")
    assert cache_entries(cache) == ["imdb/aclImdb_v1.tar.gz"]
    assert scratch_folders(cache) == [] and not (cache / "imdb" / "prepared").exists()
    assert not is_cached("imdb")


def test_corrupted_sst2_zip_is_rejected_by_its_checksum(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    serve_sst2(mirror, monkeypatch)
    mirror.corrupt.add("SST-2.zip")
    with pytest.raises(DataError, match="fails its checksum"):
        load_dataset("sst2")
    assert cache_entries(cache) == []


def test_published_sha256_rejects_a_file_that_is_not_the_official_one(mirror: Mirror, cache: Path) -> None:
    mirror.files.update(afrisenti_files("ig"))
    with pytest.raises(DataError, match="fails its checksum") as error:
        load_dataset("afrisenti-ig")
    assert datasets.AFRISENTI_SHA256["ig_train"] in str(error.value)
    assert mirror.paths() == ["SubtaskA/train/ig_train.tsv"]
    assert cache_entries(cache) == []  # no file, no .part, and nothing recorded in checksums.json
    assert not is_cached("afrisenti-ig")


def test_first_download_records_checksums_and_warns(
    mirror: Mirror, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mirror.files.update(afrisenti_files("yo"))
    caplog.set_level(logging.WARNING, logger="sentilstm.data.download")
    load_dataset("afrisenti-yo")
    recorded = json.loads((cache / "checksums.json").read_text())
    assert recorded == {
        f"afrisenti/yo_{split}.tsv": sha256(afrisenti_tsv("yo", split)) for split in ("train", "dev", "test")
    }
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "sentilstm.data.download"
    ]
    assert len(warnings) == 3
    assert all(str(cache / "checksums.json") in message for message in warnings)
    assert any(
        "afrisenti/yo_train.tsv" in message and recorded["afrisenti/yo_train.tsv"] in message for message in warnings
    )
    caplog.clear()
    load_dataset("afrisenti-yo")  # verified against the record: no new warning
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_recorded_checksums_of_several_datasets_are_kept(mirror: Mirror, cache: Path) -> None:
    mirror.files.update(afrisenti_files("yo") | afrisenti_files("ha"))
    load_dataset("afrisenti-yo")
    load_dataset("afrisenti-ha")
    assert len(json.loads((cache / "checksums.json").read_text())) == 6


def test_tampered_cached_file_is_detected_on_the_next_load(mirror: Mirror, cache: Path) -> None:
    mirror.files.update(afrisenti_files("yo"))
    load_dataset("afrisenti-yo")
    cached = cache / "afrisenti" / "yo_dev.tsv"
    with open(cached, "ab") as handle:
        handle.write(b"yo_dev_99999\tinjected tweet\tpositive\n")
    with pytest.raises(DataError, match=r"fails its checksum \(recorded at first download SHA256") as error:
        load_dataset("afrisenti-yo")
    assert str(cached) in str(error.value)
    assert len(mirror.requests) == 3  # detected from the cache, nothing downloaded
    cached.unlink()  # what the message says to do
    splits = load_dataset("afrisenti-yo")
    assert len(splits.validation) == len(AFRISENTI_ROWS["dev"])
    assert mirror.paths()[-1] == "SubtaskA/dev/yo_dev.tsv"


def test_changed_upstream_file_fails_the_recorded_checksum(mirror: Mirror, cache: Path) -> None:
    mirror.files.update(afrisenti_files("yo"))
    load_dataset("afrisenti-yo")
    (cache / "afrisenti" / "yo_test.tsv").unlink()
    mirror.files["SubtaskA/test/yo_test.tsv"] += b"yo_test_99999\tnew tweet\tneutral\n"
    with pytest.raises(DataError, match="fails its checksum"):
        load_dataset("afrisenti-yo")
    assert not (cache / "afrisenti" / "yo_test.tsv").exists()
    assert not (cache / "afrisenti" / "yo_test.tsv.part").exists()


def test_damaged_checksum_record_is_a_data_error_for_cached_files(mirror: Mirror, cache: Path) -> None:
    mirror.files.update(afrisenti_files("yo"))
    load_dataset("afrisenti-yo")
    (cache / "checksums.json").write_text("{not json")
    with pytest.raises(DataError, match="checksums.json.*damaged; delete it"):
        load_dataset("afrisenti-yo")


def test_damaged_checksum_record_during_a_download_is_a_data_error(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    mirror.files.update(afrisenti_files("yo"))
    serve_sst2(mirror, monkeypatch)
    (cache / "checksums.json").write_text("{not json")
    with pytest.raises(DataError, match="checksums.json.*damaged; delete it"):
        load_dataset("afrisenti-yo")
    # a file with a published checksum never reads the record, so it still downloads and verifies
    assert len(load_dataset("sst2").train) > 0


def test_without_download_an_uncached_dataset_is_an_error(mirror: Mirror) -> None:
    mirror.files.update(afrisenti_files("yo"))
    with pytest.raises(DataError, match="not in the cache.*`sentilstm datasets download afrisenti-yo`"):
        load_dataset("afrisenti-yo", download=False)
    assert mirror.requests == []


def test_without_download_a_prepared_dataset_makes_no_request(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    serve_imdb(mirror, monkeypatch)
    load_dataset("imdb")
    (cache / "imdb" / "aclImdb_v1.tar.gz").unlink()  # e.g. to save 80 MB once the tables are prepared
    assert is_cached("imdb")
    with contextlib.suppress(DataError):  # loading offline or refusing are both fine; downloading is not
        load_dataset("imdb", download=False)
    assert len(mirror.requests) == 1, "download=False must never download"


def test_downloaded_files_keep_normal_permissions(mirror: Mirror, cache: Path) -> None:
    mirror.files.update(afrisenti_files("yo"))
    load_dataset("afrisenti-yo")
    mask = os.umask(0)
    os.umask(mask)
    for name in ("checksums.json", "afrisenti/yo_train.tsv"):
        assert (cache / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
