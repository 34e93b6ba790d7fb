"""At home in a notebook: fit's progress (on where someone watches, off in tests), rich HTML views of reports,
explanations, summaries and classifiers, a Keras-style `summary()` and `history_.history`."""

from __future__ import annotations

import html
import re
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from helpers import TINY, make_negation_data
from sentilstm import SentimentClassifier
from sentilstm.estimators.blend import predictor
from sentilstm.training import progress

TEXTS, LABELS = make_negation_data(160, seed=51)
BAR = "\u2501"  # the heavy line rich draws a progress bar with


@pytest.fixture(scope="module")
def clf() -> SentimentClassifier:
    return SentimentClassifier(**{**TINY, "epochs": 2, "patience": 5}).fit(TEXTS, LABELS)


def test_fit_shows_a_progress_bar_when_asked_and_is_quiet_in_tests(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    SentimentClassifier(**{**TINY, "epochs": 1}).fit(TEXTS, LABELS)  # verbose=None: nobody is watching a test
    assert BAR not in capfd.readouterr().err  # (log lines may show: other tests configure logging)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # what a terminal gives rich
    monkeypatch.setenv("COLUMNS", "160")
    SentimentClassifier(**{**TINY, "epochs": 2, "patience": 5}).fit(TEXTS, LABELS, verbose=True)
    err = capfd.readouterr().err
    assert BAR in err and "epoch 1/2" in err and "epoch 2/2" in err and "val loss" in err and "macro-F1" in err
    SentimentClassifier(**{**TINY, "epochs": 1}).fit(TEXTS, LABELS, verbose=False)
    assert BAR not in capfd.readouterr().err


def test_someone_watching_is_a_notebook_a_prompt_or_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not progress.interactive()  # pytest: captured output, no prompt
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert progress.interactive()
    fake.get_ipython = lambda: None  # type: ignore[attr-defined]  # IPython imported, no shell running
    assert not progress.interactive()
    monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)
    assert progress.interactive()


def test_history_reads_like_keras(clf: SentimentClassifier) -> None:
    assert clf.history_ is not None
    history = clf.history_.history
    assert set(history) >= {"loss", "val_loss", "val_accuracy", "val_macro_f1", "learning_rate"}
    assert all(len(values) == len(clf.history_.epochs) == 2 for values in history.values())
    assert history["val_loss"][0] == clf.history_.epochs[0].val_loss
    assert list(pd.DataFrame(history).columns)[:2] == ["loss", "val_loss"]


def test_evaluation_report_renders_metrics_and_the_confusion_matrix(clf: SentimentClassifier) -> None:
    report = clf.evaluate(TEXTS, LABELS)
    page = report._repr_html_()
    assert f"{report.accuracy:.4f}" in page and "confusion matrix" in page and "predicted -1" in page
    matrix_cells = [f'<td class="n">{count:,}</td>' for row in report.confusion_matrix for count in row]
    assert all(c in page for c in matrix_cells)


def test_an_explanation_renders_its_words_coloured_and_escaped(clf: SentimentClassifier) -> None:
    text = "not <b>good</b> & fine"
    page = clf.explain(text, method="attention")._repr_html_()
    assert html.escape("<b>") in page and "<b>good" not in page  # the user's text never becomes markup
    assert 'class="w"' in page and "background" in page and ".sentilstm-explanation .w" in page


def test_summary_prints_like_keras_and_the_classifier_renders(
    clf: SentimentClassifier, capsys: pytest.CaptureFixture[str]
) -> None:
    assert clf.summary() is None
    printed = capsys.readouterr().out
    assert "Layer (type)" in printed and "Total params:" in printed and "labels: [-1, 1]" in printed
    page = clf._repr_html_()
    assert "predictions by" in page and html.escape(predictor(clf)) in page
    assert "forward_rnns" in page and "total parameters" in page and "validation" in page
    unfitted: Any = SentimentClassifier(hidden_size=32)._repr_html_()
    assert "hidden_size" in unfitted and "32" in unfitted  # scikit-learn's view of the parameters


def test_a_notebook_session_shows_progress_and_rich_results(tmp_path: Any) -> None:
    """A real Jupyter kernel (nbclient) runs what a notebook user would: fit on a DataFrame with the default
    verbose, then evaluate, predict_proba and the classifier itself as the cells' results."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    tests = str(Path(__file__).parent)
    setup = [
        "import sys",
        f"sys.path.insert(0, {tests!r})",
        "import pandas as pd",
        "from helpers import TINY, make_negation_data",
        "from sentilstm import SentimentClassifier",
        "texts, labels = make_negation_data(160, seed=5)",
        "frame = pd.DataFrame({'review': texts, 'sentiment': labels})",
    ]
    cells = [
        "\n".join(setup),
        "clf = SentimentClassifier(**{**TINY, 'epochs': 2, 'patience': 5}).fit(frame)",
        "clf.evaluate(frame)",
        "clf.predict_proba(frame['review'].head(3))",
        "clf",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    fit, evaluated, proba, shown = (cell["outputs"] for cell in notebook.cells[1:])
    kinds = [set(out.get("data", {})) for out in fit]
    assert any("application/vnd.jupyter.widget-view+json" in k for k in kinds)  # the live progress bar
    logged = re.sub(r"\x1b\[[0-9;]*m", "", "".join(out["data"].get("text/plain", "") for out in fit if "data" in out))
    assert "epoch 1/2" in logged and "val macro-F1" in logged  # the log lines of each stage and epoch
    assert "confusion matrix" in evaluated[0]["data"]["text/html"]
    assert "<table" in proba[0]["data"]["text/html"] and "-1" in proba[0]["data"]["text/html"]
    assert "predictions by" in shown[0]["data"]["text/html"]
