"""A lean install: what an optional extra's missing package does. Each case runs in a fresh Python where the
package cannot be found (as if never installed): sentilstm's import of it fails with one line naming the
`pip install 'sentilstm[...]'` to run (exit 2 from the command line), the rest keeps working, and other code's
imports of the same package fail as they always do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_negation_data
from sentilstm.errors import ConfigError
from sentilstm.system.extras import EXTRAS, MissingExtraError, missing_extra

HIDE = """
import sys
from importlib.abc import MetaPathFinder

HIDDEN = {hidden!r}


class Hide(MetaPathFinder):
    def __init__(self, inner):
        self.inner = inner

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN or not hasattr(self.inner, "find_spec"):
            return None
        return self.inner.find_spec(name, path, target)

    def invalidate_caches(self):
        getattr(self.inner, "invalidate_caches", lambda: None)()


sys.meta_path[:] = [Hide(finder) for finder in sys.meta_path]
"""


def run_without(hidden: set[str], code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    script = HIDE.format(hidden=sorted(hidden)) + code
    env = {**os.environ, "COLUMNS": "400"}  # one error per line, unwrapped
    command = [sys.executable, "-c", script, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


CLI = "import sys\nsys.argv = ['sentilstm', *sys.argv[1:]]\nfrom sentilstm.cli import main\nmain()\n"


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = make_negation_data(120, seed=71)
    path = tmp_path_factory.mktemp("extras") / "reviews.csv"
    path.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)))
    return path


def test_every_extra_error_names_its_install() -> None:
    error = missing_extra("optuna.samplers")
    assert isinstance(error, MissingExtraError) and isinstance(error, ConfigError) and isinstance(error, ImportError)
    assert str(error) == (
        "hyperparameter search (sentilstm tune): the optuna package is not installed; pip install 'sentilstm[tune]'"
    )
    assert missing_extra("numpy") is None and set(extra for extra, _ in EXTRAS.values()) >= {
        "serve",
        "onnx",
        "tune",
        "report",
        "explain",
        "embeddings",
    }


def test_training_without_the_report_extra_still_trains_and_says_what_to_install(table: Path) -> None:
    out = table.parent / "lean.sentilstm"
    done = run_without({"matplotlib"}, CLI, "train", str(table), "--out", str(out), "--epochs", "1", cwd=table.parent)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and not out.with_suffix(".report.html").exists()
    assert "pip install 'sentilstm[report]'" in done.stderr + done.stdout
    predicted = run_without(
        {"matplotlib", "optuna", "fastapi", "onnx", "captum", "gensim"}, CLI, "predict", str(out), "good"
    )
    assert predicted.returncode == 0 and "label" in predicted.stdout, predicted.stderr


def test_the_default_trains_without_gensim_and_says_the_unlabelled_texts_went_unused(table: Path) -> None:
    out = table.parent / "default.sentilstm"
    args = ["train", str(table), "--unlabeled", str(table), "--out", str(out), "--epochs", "1", "--no-report"]
    done = run_without({"gensim"}, CLI, *args)
    assert done.returncode == 0 and out.is_file(), done.stderr
    assert "120 unlabelled texts are not used" in done.stderr and "pip install 'sentilstm[embeddings]'" in done.stderr


@pytest.mark.parametrize(
    "hidden, args, extra",
    [
        ({"optuna"}, ["tune", "{table}", "--trials", "1"], "tune"),
        ({"fastapi"}, ["serve", "{model}"], "serve"),
        ({"onnx", "onnxscript", "onnxruntime"}, ["export", "{model}", "--out", "{folder}/m.onnx"], "onnx"),
        ({"captum"}, ["explain", "{model}", "not good", "--method", "integrated_gradients"], "explain"),
        (
            {"gensim"},
            ["train", "{table}", "--pretrain-embeddings", "word2vec", "--out", "{folder}/w.sentilstm"],
            "embeddings",
        ),
    ],
)
def test_a_missing_extra_is_one_line_and_exit_2(table: Path, hidden: set[str], args: list[str], extra: str) -> None:
    model = table.parent / "model.sentilstm"
    if not model.exists():
        trained = run_without(set(), CLI, "train", str(table), "--out", str(model), "--epochs", "1", "--no-report")
        assert trained.returncode == 0, trained.stderr
    filled = [a.format(table=table, model=model, folder=table.parent) for a in args]
    done = run_without(hidden, CLI, *filled)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert errors[0].endswith(f"pip install 'sentilstm[{extra}]'")


def test_only_sentilstms_imports_get_the_hint() -> None:
    code = (
        "import importlib.util\nimport sentilstm\n"
        "assert importlib.util.find_spec('optuna') is None  # probing for it still finds nothing\n"
        "try:\n    import optuna\nexcept ImportError as exc:\n    print(type(exc).__name__)\n"
        "from sentilstm.system.extras import MissingExtraError\n"
        "try:\n    from sentilstm.selection.tuning import tune\n    tune(['a'] * 4, [0, 1] * 2, trials=1)\n"
        "except MissingExtraError as exc:\n    print('hint:', exc)\n"
    )
    done = run_without({"optuna"}, code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ModuleNotFoundError" and lines[1].endswith("pip install 'sentilstm[tune]'")
