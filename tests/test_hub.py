"""The Hugging Face Hub: a model card from the model file alone, `push_to_hub` against a loopback server speaking
the Hub's upload API (the requests huggingface_hub makes: create the repository, validate the card's YAML,
pre-upload, one commit), and `load_model("hf://...")` from a pre-populated cache with HF_HUB_OFFLINE=1. The real
Hub (authentication, large-file storage) is not exercised: there is no network here."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import TINY, error_line, invoke_cli, make_negation_data
from sentilstm import SentimentClassifier, load_model
from sentilstm.artifact.hub import parse_hub_path
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.estimators.baselines import make_baseline
from sentilstm.estimators.display import push_to_hub

TEXTS, LABELS = make_negation_data(160, seed=61)


class FakeHub:
    """The Hub endpoints an upload calls, on 127.0.0.1; keeps what it was sent."""

    def __init__(self) -> None:
        self.repos: list[dict[str, Any]] = []
        self.commits: list[tuple[str, list[dict[str, Any]]]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None: ...

            def _send(self, code: int, value: dict[str, Any]) -> None:
                data = json.dumps(value).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/api/repos/create":
                    hub.repos.append(json.loads(body))
                    return self._send(200, {"url": f"{hub.url}/{hub.repos[-1]['organization']}/repo"})
                if self.path == "/api/validate-yaml":
                    return self._send(200, {"errors": [], "warnings": []})
                if "/preupload/" in self.path:
                    files = [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                        for f in json.loads(body)["files"]
                    ]
                    return self._send(200, {"files": files})
                if "/commit/" in self.path:
                    hub.commits.append((self.path, [json.loads(line) for line in body.splitlines() if line.strip()]))
                    return self._send(200, {"commitUrl": f"{hub.url}/me/repo/commit/abc123", "commitOid": "abc123"})
                return self._send(404, {"error": f"no {self.path} here"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def files(self) -> dict[str, bytes]:
        """The last commit's files, decoded."""
        return {
            line["value"]["path"]: base64.b64decode(line["value"]["content"])
            for line in self.commits[-1][1]
            if line["key"] == "file"
        }


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub()
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def clf() -> SentimentClassifier:
    return SentimentClassifier(**{**TINY, "epochs": 2, "hidden_size": 12}).fit(TEXTS, LABELS)


def test_the_card_says_what_the_model_file_knows(clf: SentimentClassifier) -> None:
    card = clf.card("me/negation")
    assert card.startswith("---\nlibrary_name: sentilstm\npipeline_tag: text-classification\n")
    assert "# negation" in card and "`-1`, `1`" in card and "**Predictions by:**" in card
    validation = clf.metrics_["validation"]
    assert f"| accuracy | {validation['accuracy']:.4f} |" in card and "the validation split" in card
    assert '"hidden_size": 12' in card  # the recipe: what differs from the defaults
    assert 'load_model("hf://me/negation")' in card and "## Intended use and limits" in card
    train = sum(clf.metrics_["data"]["train_counts"])
    assert str(train) in card.split("## Training data")[1]


def test_the_card_of_a_trained_file_names_its_test_set(tmp_path: Path) -> None:
    table = tmp_path / "reviews.csv"
    table.write_text("text,label\n" + "".join(f'"{t}",{y}\n' for t, y in zip(TEXTS, LABELS)))
    model = tmp_path / "m.sentilstm"
    assert invoke_cli("baseline", table, "--test", table, "--out", model).exit_code == 0
    result = invoke_cli("card", model)
    assert result.exit_code == 0 and "Measured on `reviews.csv` (160 texts), never seen in training" in result.stdout
    assert str(tmp_path) not in result.stdout  # file names, never the paths of the machine it was trained on


def test_push_to_hub_uploads_the_model_and_its_card_in_one_commit(
    clf: SentimentClassifier, hub: FakeHub, tmp_path: Path
) -> None:
    url = push_to_hub(clf, "me/repo", token="hf_test", endpoint=hub.url)
    assert url == f"{hub.url}/me/repo/commit/abc123" and hub.repos == [{"name": "repo", "organization": "me"}]
    assert len(hub.commits) == 1 and hub.commits[0][0] == "/api/models/me/repo/commit/main"
    files = hub.files()
    assert set(files) == {"model.sentilstm", "README.md"}
    assert files["README.md"].decode() == clf.card("me/repo")
    uploaded = tmp_path / "uploaded.sentilstm"
    uploaded.write_bytes(files["model.sentilstm"])
    np.testing.assert_allclose(load_model(uploaded).predict_proba(TEXTS[:5]), clf.predict_proba(TEXTS[:5]))
    push_to_hub(make_baseline("nbsvm").fit(TEXTS, LABELS), "me/repo", token="hf_test", endpoint=hub.url)
    assert "NBSVM" in hub.files()["README.md"].decode()  # a linear baseline too


def test_an_upload_that_fails_is_one_clear_error(clf: SentimentClassifier) -> None:
    with pytest.raises(ArtifactError, match="could not upload to 'me/repo'"):
        push_to_hub(clf, "me/repo", token="hf_test", endpoint="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(ConfigError, match="is not a Hub model path"):
        push_to_hub(clf, "no slash", token="hf_test", endpoint="http://127.0.0.1:9")


@pytest.mark.parametrize(
    "path, parsed",
    [
        ("hf://me/repo", ("me/repo", None, "model.sentilstm")),
        ("hf:/me/repo", ("me/repo", None, "model.sentilstm")),  # what a Path makes of it
        ("hf://me/repo@v1.0", ("me/repo", "v1.0", "model.sentilstm")),
        ("hf://me/repo/igbo.sentilstm", ("me/repo", None, "igbo.sentilstm")),
    ],
)
def test_hub_paths(path: str, parsed: tuple[Any, ...]) -> None:
    assert parse_hub_path(path) == parsed


def _cache_with(model: Path, cache: Path, repo: str = "me/repo") -> None:
    """A Hugging Face cache holding `model` as the repository's model.sentilstm at main, as a download leaves it."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    (folder / "snapshots" / commit).mkdir(parents=True)
    (folder / "snapshots" / commit / "model.sentilstm").write_bytes(model.read_bytes())


def test_load_model_reads_a_hub_path_from_the_cache_offline(clf: SentimentClassifier, tmp_path: Path) -> None:
    model = clf.save(tmp_path / "model.sentilstm")
    _cache_with(model, tmp_path / "cache")
    script = (
        "import json, sys\nfrom sentilstm import load_model\n"
        "clf = load_model('hf://me/repo')\nprint(json.dumps(clf.predict_proba(sys.argv[1:]).tolist()))\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script, *TEXTS[:3]], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(json.loads(done.stdout), clf.predict_proba(TEXTS[:3]), rtol=1e-5)
    cli = [
        sys.executable,
        "-c",
        "from sentilstm.cli import main; main()",
        "predict",
        "hf://me/repo",
        TEXTS[0],
        "--json",
    ]
    done = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and json.loads(done.stdout)["text"] == TEXTS[0], done.stderr
    missing = [*cli[:3], "predict", "hf://me/other", "good"]
    done = subprocess.run(missing, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2 and "is not in the local Hugging Face cache" in done.stderr, done.stderr


def test_a_bad_hub_path_is_a_one_line_error() -> None:
    assert "is not a Hub model path" in error_line(invoke_cli("describe", "hf://just-a-name"))
