"""Shared fixtures: synthetic negation data and one small classifier trained once per session.

`make_negation_data` lives in `tests/helpers.py` (importable as `from helpers import make_negation_data`,
pytest puts this folder on sys.path) so test modules can build data of any size themselves.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import TINY, make_negation_data
from sentilstm import SentimentClassifier


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    """Run the session's tiny models on one intra-op thread (see helpers.TINY), with no thread governor changing it
    (tests of `sentilstm.system.threads` undo this locally), then restore torch's setting."""
    from sentilstm.system import threads

    before = torch.get_num_threads()
    threads.fix_threads(1)
    yield
    threads._fixed, threads._shared = None, None
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _private_dataset_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the user's dataset cache or follows a mirror set in the environment."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("SENTILSTM_CACHE", str(cache))
    monkeypatch.delenv("SENTILSTM_MIRROR", raising=False)
    return cache


@pytest.fixture(autouse=True)
def _scratch_working_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own empty folder, so files a command writes by default (cv reports, ./mlruns) never
    land in the repository."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def tiny_params() -> dict[str, Any]:
    """Keyword arguments for a SentimentClassifier that trains in about a second."""
    return dict(TINY)


@pytest.fixture
def bf16_anywhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """bf16 code paths run even on a CPU without native bf16, where sentilstm itself trains in fp32 instead: bf16 is
    declared supported and oneDNN is switched off, so PyTorch's own (slow, emulated) bf16 LSTM kernels run."""
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        yield
        return
    monkeypatch.setattr("sentilstm.system.device.bf16_supported", lambda device: True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's note on TF32 for Intel GPUs, when the flags change
        with torch.backends.mkldnn.flags(enabled=False):
            yield


@pytest.fixture
def negation_data() -> tuple[list[str], list[int]]:
    """400 synthetic training texts with labels -1/1 whose sentiment depends on 'not'."""
    return make_negation_data(400, seed=0)


@pytest.fixture(scope="session")
def held_out_data() -> tuple[list[str], list[int]]:
    """500 texts from a different seed than `trained_clf`'s training data, labels -1/1."""
    return make_negation_data(500, seed=12345)


@pytest.fixture(scope="session")
def trained_clf() -> SentimentClassifier:
    """A BiLSTM with attention trained on 2,000 negation texts (labels -1/1) in a few seconds.

    Treat it as read-only: it is shared by every test of the session.
    """
    texts, labels = make_negation_data(2000, seed=0)
    clf = SentimentClassifier(
        embedding_dim=32,
        hidden_size=32,
        epochs=10,
        learning_rate=5e-3,
        patience=3,
        min_frequency=1,
        num_threads=1,
        seed=0,
    )
    return clf.fit(texts, labels)


@pytest.fixture(scope="session")
def trained_model_path(trained_clf: SentimentClassifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`trained_clf` saved to a one-file model; read-only, shared by the session."""
    return trained_clf.save(tmp_path_factory.mktemp("model") / "negation.sentilstm")


# ----- a throwaway PostgreSQL server (feedback store, shared tuning studies) ------------------------------------
def _binary(name: str) -> str | None:
    """`name` on PATH, else in Debian's versioned folder (/usr/lib/postgresql/15/bin)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for this session on 127.0.0.1, trust authentication; skipped where none can start."""
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install sentilstm[postgres])")
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    # not pytest's tmp_path: that folder is private to root, and the server runs as the postgres user
    folder = Path(tempfile.mkdtemp(prefix="sentilstm-pg-"))
    if os.geteuid() == 0:  # postgres refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    started = False
    try:
        steps = [
            [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            [
                *as_user,
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(folder / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-h 127.0.0.1 -p {port} -k {folder} -F",
                "start",
            ],
        ]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
                pytest.skip(f"PostgreSQL did not start: {(result.stderr or result.stdout or log).strip()[-300:]}")
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60
            )
        shutil.rmtree(folder, ignore_errors=True)
