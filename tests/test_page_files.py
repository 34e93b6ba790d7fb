"""The web page's files on disk (`sentilstm.serve.page_files`): a private folder per server that nobody else can
plant files in, notes that never point outside it, and leftovers of a killed server swept by the next one.

The attacks are the ones from the hardening issue: a local user pre-creates the shared folder the server used to
pick (`$TMPDIR/sentilstm-page-$USER`) and plants a note pointing at a file the server can read (it was served
back, or deleted by the sweep).
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from helpers import TINY, make_negation_data
from sentilstm import SentimentClassifier
from sentilstm.cli import app as cli_app
from sentilstm.errors import ConfigError
from sentilstm.serve import pages
from sentilstm.serve.app import create_app

PAGE_HEADERS = {"X-Sentilstm-CSRF": "1"}  # what the web page sends with its uploads (the CSRF guard)

PLANTED = "A" * 32  # a well-formed token the attacker picked


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = make_negation_data(300, seed=0)
    return SentimentClassifier(**TINY).fit(texts, labels).save(tmp_path_factory.mktemp("model") / "tiny.sentilstm")


def csv_upload(rows: int = 3, name: str = "r.csv") -> dict[str, Any]:
    return {"file": (name, pd.DataFrame({"text": ["good film"] * rows}).to_csv(index=False).encode(), "text/csv")}


def private(folder: Path) -> bool:
    info = folder.lstat()
    return stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.geteuid()


def test_a_planted_folder_and_note_are_never_served(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's reproduction: the shared folder pre-created by another user, a note pointing at a secret."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv("SENTILSTM_PAGE_FILES", raising=False)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    planted = temp / f"sentilstm-page-{getpass.getuser()}"
    planted.mkdir(mode=0o777)
    (planted / f"{PLANTED}.scored.json").write_text(json.dumps({"file": str(secret), "name": "x.csv"}))

    app = create_app(model_path, feedback_url=f"sqlite:///{tmp_path / 'f.db'}")
    with TestClient(app, headers=PAGE_HEADERS) as client:
        stolen = client.get(f"/score/{PLANTED}.csv")
        assert stolen.status_code == 404 and "root:x" not in stolen.text
        scored = client.post("/score", files=csv_upload())
        assert scored.status_code == 200, scored.text
        folder = app.state.page_files.folder
        assert folder != planted and folder.parent == temp and private(folder)
    assert secret.exists() and planted.exists()  # nothing of the attacker's was touched either


def test_planted_notes_and_links_never_reach_outside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    store = pages.FileStore(folder, keep=1)
    absolute, dotted, linked, odd = "A" * 32, "B" * 32, "C" * 32, "D" * 32
    (folder / f"{absolute}.scored.json").write_text(json.dumps({"file": str(victim), "suffix": ".csv", "name": "a"}))
    (folder / f"{dotted}.scored.json").write_text(
        json.dumps({"file": "../victim.txt", "suffix": "/../../victim.txt", "name": "b"})
    )
    (folder / f"{linked}.scored.csv").symlink_to(victim)
    (folder / f"{linked}.scored.json").write_text(
        json.dumps({"file": f"{linked}.scored.csv", "suffix": ".csv", "name": "c"})
    )
    (folder / f"{odd}.scored.json").symlink_to(victim)  # a note that is itself a link
    for token in (absolute, dotted, linked, odd):
        assert store.get("scored", token) is None, token

    token, path = store.reserve("scored", ".csv")  # a real file: the sweep (keep=1) removes the planted ones
    path.write_text("text\ngood\n")
    store.add("scored", token, path, "new.csv")
    assert victim.read_text() == "keep me"
    assert store.get("scored", token) is not None


def test_every_server_has_its_own_private_folder_removed_when_it_stops(model_path: Path, tmp_path: Path) -> None:
    apps = [create_app(model_path, feedback_url=f"sqlite:///{tmp_path / f'f{i}.db'}") for i in range(2)]
    with TestClient(apps[0], headers=PAGE_HEADERS) as first, TestClient(apps[1], headers=PAGE_HEADERS) as second:
        for client in (first, second):
            assert client.post("/score", files=csv_upload()).status_code == 200
        folders = [app.state.page_files.folder for app in apps]
        assert folders[0] != folders[1] and all(private(folder) for folder in folders)
        assert all(any(folder.iterdir()) for folder in folders)
    assert not any(folder.exists() for folder in folders)


def test_a_configured_upload_dir_must_be_ours_and_not_writable_by_others(model_path: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ConfigError, match=r"writable by other users.*chmod go-w"):
        with TestClient(create_app(model_path, feedback_url=f"sqlite:///{tmp_path / 'f.db'}", upload_dir=shared)):
            pass
    result = CliRunner().invoke(
        cli_app,
        [
            "serve",
            str(model_path),
            "--upload-dir",
            str(shared),
            "--quiet",
            "--feedback-db",
            f"sqlite:///{tmp_path / 'f.db'}",
        ],
    )
    assert result.exit_code == 2 and result.stderr.strip().count("\n") == 0, result.output
    assert result.stderr.startswith("error: --upload-dir") and "chmod go-w" in result.stderr

    mine = tmp_path / "mine"  # made when missing, then used for a private folder of the server's own
    app = create_app(model_path, feedback_url=f"sqlite:///{tmp_path / 'f.db'}", upload_dir=mine)
    with TestClient(app, headers=PAGE_HEADERS) as client:
        assert client.post("/score", files=csv_upload()).status_code == 200
        assert app.state.page_files.folder.parent == mine and private(app.state.page_files.folder)
    assert mine.is_dir() and not any(mine.iterdir())


KILLED_SERVER = """
import sys, time
from pathlib import Path
from sentilstm.serve.page_files import PageFolder
folder = PageFolder.create(sys.argv[1])
(folder.path / ".TOKEN.upload.csv.tmp").write_bytes(b"text\\nhalf an upl")  # an upload cut off by the kill
print(folder.path, flush=True)
time.sleep(600)
"""


def test_leftovers_of_a_killed_server_are_swept_by_the_next_one(tmp_path: Path) -> None:
    from sentilstm.serve.page_files import PageFolder

    script = tmp_path / "server.py"
    script.write_text(textwrap.dedent(KILLED_SERVER))
    parent = tmp_path / "uploads"
    parent.mkdir(mode=0o700)
    servers = [
        subprocess.Popen([sys.executable, str(script), str(parent)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        killed, alive = (Path(server.stdout.readline().strip()) for server in servers)
        assert killed.is_dir() and alive.is_dir()
        servers[0].send_signal(signal.SIGKILL)
        servers[0].wait(30)
        folder = PageFolder.create(parent)  # the next run
        try:
            assert not killed.exists()  # the dead server's folder, its .tmp included, is gone
            assert alive.is_dir() and (alive / ".TOKEN.upload.csv.tmp").exists()  # a live server's is not touched
        finally:
            folder.close()
        assert not folder.path.exists()
    finally:
        for server in servers:
            server.kill()
            server.wait(30)
