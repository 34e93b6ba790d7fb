"""sentilstm.report.builders: the HTML training / cross-validation / tuning reports, their PNGs, and `train --report`.

The reports are checked as files a person opens: every section is there, every plot is an embedded PNG
(and the same PNG in the _plots folder), nothing is fetched from outside the file, user text is escaped,
and writing is atomic. One test opens a report in headless Chromium and checks it renders to a non-blank page.
"""

from __future__ import annotations

import base64
import math
import os
import re
import shutil
import subprocess
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from helpers import TINY, invoke_cli, make_negation_data
from sentilstm import SentimentClassifier
from sentilstm.estimators.baselines import NBSVM
from sentilstm.estimators.blend import predictor
from sentilstm.estimators.evaluation import Predictions
from sentilstm.report.builders import (
    Plot,
    Report,
    Section,
    cv_report,
    plots_folder_for,
    training_report,
    tune_report,
)
from sentilstm.report.formatting import format_number, report_path_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TRAINING_SECTIONS = [
    "overview",
    "learning-curves",
    "gradient-norms",
    "evaluation",
    "errors",
    "data",
    "model",
    "configuration",
    "versions",
]
SCRIPT = "<script>alert('boom')</script> not good at all"


# ----- helpers ---------------------------------------------------------------------------------------
def section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def check_self_contained(path: Path) -> str:
    """The page at `path` loads nothing from outside itself, and every <img> is a PNG whose bytes are also in
    the _plots folder beside it; returns the HTML."""
    html = path.read_text(encoding="utf-8")
    assert re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.I) is None  # no remote resources
    assert "<link" not in html and "@import" not in html and "url(" not in html and "<script" not in html.lower()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    folder = plots_folder_for(path)
    files = {p.read_bytes() for p in folder.glob("*.png")}
    assert len(files) == len(images) == len(list(folder.iterdir()))
    for src in images:
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"))
        assert png.startswith(PNG_MAGIC) and png in files
    return html


def fake_predictions(labels: list[Any], texts: list[str], seed: int = 0) -> Predictions:
    """Labelled texts with made-up, mostly right probabilities; the first two are confidently wrong."""
    rng = np.random.default_rng(seed)
    k, n = len(labels), len(texts)
    targets = np.arange(n) % k
    logits = rng.normal(size=(n, k)) + 2.5 * np.eye(k)[targets]
    for i in (0, 1):  # wrong with ~0.999 confidence
        logits[i] = 0.0
        logits[i, (targets[i] + 1) % k] = 8.0
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return Predictions(texts, targets, probabilities, labels)


@pytest.fixture(scope="module")
def three_class() -> SentimentClassifier:
    """A tiny model on labels -1/0/1 (0: texts whose sentiment word is replaced by 'okay')."""
    texts, labels = make_negation_data(600, seed=1)
    for i in range(0, len(texts), 3):
        texts[i], labels[i] = texts[i].replace("not ", "") + " okay", 0
    return SentimentClassifier(**{**TINY, "epochs": 3}).fit(texts, labels)


# ----- training report -------------------------------------------------------------------------------
def test_training_report_has_every_section_and_plot(trained_clf: SentimentClassifier, tmp_path: Path) -> None:
    test_texts = [SCRIPT, "x" * 1000] + make_negation_data(200, seed=5)[0]
    test = fake_predictions(trained_clf.label_map_.labels, test_texts)
    report = training_report(trained_clf, test=test, source="<b>reviews</b>.csv")
    path = report.write(tmp_path / "m.report.html")
    html = check_self_contained(path)
    assert section_ids(html) == TRAINING_SECTIONS
    for plot in (
        "learning_curves",
        "learning_rate",
        "gradient_norms",
        "test_confusion",
        "test_roc",
        "test_precision_recall",
        "test_calibration",
        "validation_confusion",
        "validation_roc",
        "class_balance",
        "lengths",
    ):
        assert (tmp_path / "m.report_plots" / f"{plot}.png").is_file(), plot
    assert html.index("Test set") < html.index("Validation set")  # the test set comes first
    assert [h.name for h in report.headlines] == ["Test", "Validation"]
    assert "Layer (type)" in html and "Total params" in html  # describe()'s summary
    assert "macro F1" in html and "ROC-AUC" in html and "weighted F1" in html
    # user strings are escaped, long texts cut
    assert "&lt;script&gt;alert(&#x27;boom&#x27;)&lt;/script&gt;" in html and "<b>reviews" not in html
    assert "x" * 299 + "…" in html and "x" * 300 not in html


def test_report_for_a_loaded_model_uses_the_saved_metrics(trained_model_path: Path, tmp_path: Path) -> None:
    clf = SentimentClassifier.load(trained_model_path)
    report = training_report(clf)
    html = check_self_contained(report.write(tmp_path / "loaded.report.html"))
    assert section_ids(html) == [s for s in TRAINING_SECTIONS if s != "errors"]  # no predictions, no error list
    names = {p.name for p in report.plots()}
    assert "validation_confusion" in names and "validation_roc" not in names
    assert "a model file does not keep" in html


def test_multiclass_report(three_class: SentimentClassifier, tmp_path: Path) -> None:
    texts, labels = make_negation_data(90, seed=9)
    labels = [0 if i % 3 == 0 else label for i, label in enumerate(labels)]
    test = three_class.score_labelled(texts, labels)
    assert test.probabilities.shape == (90, 3)
    report = training_report(three_class, test=test)
    html = check_self_contained(report.write(tmp_path / "three.report.html"))
    assert section_ids(html) == TRAINING_SECTIONS
    per_class = html[html.index("Per class") :]
    for label in ("-1", "0", "1", "macro avg", "weighted avg"):
        assert f"<td>{label}</td>" in per_class


def test_baseline_report(tmp_path: Path) -> None:
    texts, labels = make_negation_data(300, seed=2)
    clf = NBSVM().fit(texts, labels)
    test = clf.score_labelled(texts[:60], labels[:60])
    html = check_self_contained(training_report(clf, test=test).write(tmp_path / "b.html"))
    assert section_ids(html) == ["overview", "evaluation", "errors", "model", "configuration", "versions"]
    assert "nbsvm linear baseline" in html
    bare = training_report(clf)  # no history, no predictions, no data profile
    assert [s.id for s in bare.sections] == ["overview", "model", "configuration", "versions"]
    assert bare.write(tmp_path / "bare.html").is_file() and not list(plots_folder_for(tmp_path / "bare.html").iterdir())


def test_plots_are_deterministic(trained_clf: SentimentClassifier) -> None:
    from sentilstm.report import plots

    predictions = trained_clf.validation_predictions_
    for draw in (
        lambda: plots.learning_curves_figure(trained_clf.history_),
        lambda: plots.calibration_figure(predictions),
        lambda: plots.roc_figure(predictions),
    ):
        assert plots.to_png(draw()) == plots.to_png(draw())


def test_rewrite_replaces_the_plots_folder(tmp_path: Path) -> None:
    path = tmp_path / "m.report.html"
    small_report("old").write(path)
    small_report("new").write(path)
    assert [p.name for p in plots_folder_for(path).iterdir()] == ["new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.report.html", "m.report_plots"]  # no temporaries left
    assert oct(plots_folder_for(path).stat().st_mode & 0o777) == oct(0o777 & ~current_umask())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_report_path_for_and_plots_folder() -> None:
    assert report_path_for(Path("out/model.sentilstm")) == Path("out/model.report.html")
    assert report_path_for("model") == Path("model.report.html")
    assert plots_folder_for(Path("out/model.report.html")) == Path("out/model.report_plots")


# ----- atomic write ----------------------------------------------------------------------------------
def small_report(*names: str) -> Report:
    return Report(
        "small", sections=[Section("plots", "Plots", [Plot(name, PNG_MAGIC + name.encode()) for name in names])]
    )


def test_failed_write_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = small_report("a", "b", "c", "d")
    calls = {"n": 0}
    original = Path.write_bytes

    def failing(self: Path, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    with pytest.raises(OSError, match="disk full"):
        report.write(tmp_path / "m.report.html")
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.report.html"
    small_report("old").write(path)
    before = path.read_bytes()
    original = os.replace

    def failing(source: Any, target: Any) -> None:
        if Path(target) == path:  # the last step: the HTML's rename
            raise OSError("rename failed")
        original(source, target)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="rename failed"):
        small_report("new", "newer").write(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.report.html", "m.report_plots"]
    assert [p.name for p in plots_folder_for(path).iterdir()] == ["old.png"]


# ----- cross-validation and tuning ---------------------------------------------------------------------
def fake_cv_result(clf: SentimentClassifier, texts: list[str], labels: list[Any], folds: int = 3) -> Any:
    """A CVResult-like object: folds of `clf`'s predictions on `texts`, the out-of-fold predictions, summary()."""
    predictions = clf.score_labelled(texts, labels)
    parts = np.array_split(np.arange(len(texts)), folds)
    results = []
    for fold, index in enumerate(parts):
        part = Predictions(
            [texts[i] for i in index], predictions.targets[index], predictions.probabilities[index], predictions.labels
        )
        results.append(
            types.SimpleNamespace(
                repeat=0,
                fold=fold,
                report=part.report(),
                history=clf.history_ if fold else None,
                seconds=1.5 + fold,
                num_train=len(texts) - len(index),
                num_test=len(index),
                predictor=predictor(clf),
                network_dropped=False,
            )
        )

    def summary() -> dict[str, tuple[float, float]]:
        metrics = ("accuracy", "macro_f1", "weighted_f1", "roc_auc", "loss")
        values = {m: [getattr(f.report, m) for f in results] for m in metrics}
        return {m: (float(np.mean(v)), float(np.std(v))) for m, v in values.items()}

    return types.SimpleNamespace(
        folds=results,
        labels=predictions.labels,
        estimator="lstm",
        params={**TINY, "epochs": 3},
        num_folds=folds,
        repeats=1,
        seed=0,
        predictions=predictions,
        summary=summary,
        dropped_network=lambda: [f for f in results if f.network_dropped],
    )


def test_cv_report(
    trained_clf: SentimentClassifier, held_out_data: tuple[list[str], list[int]], tmp_path: Path
) -> None:
    texts, labels = held_out_data
    result = fake_cv_result(trained_clf, texts[:300], labels[:300])
    report = cv_report(result)
    html = check_self_contained(report.write(tmp_path / "cv.report.html"))
    assert section_ids(html) == [
        "overview",
        "folds",
        "learning-curves",
        "evaluation",
        "errors",
        "configuration",
        "versions",
    ]
    assert {"fold_metrics", "fold_curves", "out_of_fold_confusion", "out_of_fold_roc", "out_of_fold_calibration"} <= {
        p.name for p in report.plots()
    }
    mean, std = result.summary()["macro_f1"]
    assert f"{mean:.4f}" in html and f"{std:.4f}" in html
    assert "fold 3" in html and "Out-of-fold" in html


def quadratic_study(trials: int, prune_every: int = 0) -> optuna.Study:
    """A real Optuna study of a cheap function of two parameters, some trials pruned."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0), study_name="<study>"
    )

    def objective(trial: optuna.Trial) -> float:
        x, width = trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True), trial.suggest_int("hidden_size", 8, 64)
        value = 1 - (math.log10(x) + 2.5) ** 2 / 10 + width / 1000
        trial.report(value - 0.1, 0)
        if prune_every and trial.number % prune_every == prune_every - 1:
            raise optuna.TrialPruned()
        return value

    study.optimize(objective, n_trials=trials)
    return study


def fake_tune_result(study: optuna.Study, model: Any = None) -> Any:
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return types.SimpleNamespace(
        study=study,
        metric="macro_f1",
        direction="maximize",
        best_params=study.best_params if complete else {},
        best_value=study.best_value if complete else math.nan,
        trials=study.trials_dataframe(),
        model=model,
        model_path=Path("best.sentilstm") if model is not None else None,
    )


def test_tune_report(trained_clf: SentimentClassifier, tmp_path: Path) -> None:
    result = fake_tune_result(quadratic_study(12, prune_every=4), model=trained_clf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Optuna's experimental-feature warnings are kept out of the user's console
        report = tune_report(result)
    html = check_self_contained(report.write(tmp_path / "tune.report.html"))
    assert section_ids(html) == ["tuning", "search", "trials", *TRAINING_SECTIONS]
    assert {"optimization_history", "param_importances", "learning_curves"} <= {p.name for p in report.plots()}
    assert html.count("<td>pruned</td>") == 3 and html.count('<tr class="best">') == 1
    assert "&lt;study&gt;" in html
    trials = html[html.index('id="trials"') : html.index('id="overview"')]
    best = str(result.study.best_trial.number)
    assert re.search(rf'<tr class="best"><td class=num>{best}</td>', trials)  # best first
    # the retrained model: who predicts and its own validation score, which the best trial's value need not equal
    validation = format_number(trained_clf.metrics_["validation"]["macro_f1"])
    assert f"{predictor(trained_clf)}; validation macro_f1 {validation}" in html
    # 9 completed trials (3 of 12 pruned): importances are drawn, with a warning that they mean little yet
    assert "Too few trials" in html and "come from 9 completed trials" in html
    enough = tune_report(fake_tune_result(quadratic_study(10)))
    assert "param_importances" in {p.name for p in enough.plots()} and "Too few trials" not in enough.to_html()


def test_tune_report_degrades_without_enough_trials(tmp_path: Path) -> None:
    one = tune_report(fake_tune_result(quadratic_study(1)))
    html = check_self_contained(one.write(tmp_path / "one.html"))
    assert "No parameter importances" in html and "at least 2 completed trials" in html
    assert section_ids(html) == ["tuning", "search", "trials", "versions"]
    none = tune_report(fake_tune_result(quadratic_study(2, prune_every=1)))  # every trial pruned
    assert "No trial completed" in none.to_html() and none.write(tmp_path / "none.html").is_file()


# ----- command line ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def csv_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("data")
    texts, labels = make_negation_data(400, seed=3)
    rows = ["text,label"] + [f"{t},{y}" for t, y in zip(texts, labels)] + [",1"]  # one row without text: dropped
    (folder / "train.csv").write_text("\n".join(rows) + "\n")
    texts, labels = make_negation_data(100, seed=4)
    (folder / "test.csv").write_text("\n".join(["text,label"] + [f"{t},{y}" for t, y in zip(texts, labels)]) + "\n")
    return {"train": folder / "train.csv", "test": folder / "test.csv"}


SMALL = [
    "--embedding-dim",
    "16",
    "--hidden-size",
    "16",
    "--epochs",
    "2",
    "--min-frequency",
    "1",
    "--threads",
    "1",
    "--blend",
    "none",
    "--quiet",
]


def invoke(*args: Any) -> Any:
    """`sentilstm ARGS...` (`helpers.invoke_cli`), which must succeed."""
    result = invoke_cli(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_cli_train_writes_the_report_beside_the_model(csv_data: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "m.sentilstm"
    result = invoke("train", csv_data["train"], "--test", csv_data["test"], "--out", model, *SMALL)
    assert f"report: {tmp_path / 'm.report.html'}" in result.stdout
    html = check_self_contained(tmp_path / "m.report.html")
    assert "test_roc" in {p.stem for p in (tmp_path / "m.report_plots").iterdir()}
    assert "1 (empty text or missing label)" in html  # the dropped CSV row
    assert SentimentClassifier.load(model).metrics_["data"]["dropped_rows"] == 1


def test_cli_train_report_options(csv_data: dict[str, Path], tmp_path: Path) -> None:
    invoke("train", csv_data["train"], "--out", tmp_path / "a.sentilstm", "--no-report", *SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sentilstm"]
    (tmp_path / "reports").mkdir()
    result = invoke(
        "train",
        csv_data["train"],
        "--out",
        tmp_path / "b.sentilstm",
        "--report",
        tmp_path / "reports" / "b.html",
        *SMALL,
    )
    assert "report:" in result.stdout and (tmp_path / "reports" / "b.html").is_file()
    assert (tmp_path / "reports" / "b_plots" / "learning_curves.png").is_file()


def test_cli_baseline_writes_a_report_when_asked(csv_data: dict[str, Path], tmp_path: Path) -> None:
    invoke("baseline", csv_data["train"], "--out", tmp_path / "plain.sentilstm", "--quiet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.sentilstm"]  # opt-in for baselines
    result = invoke(
        "baseline",
        csv_data["train"],
        "--test",
        csv_data["test"],
        "--out",
        tmp_path / "nb.sentilstm",
        "--report",
        tmp_path / "nb.report.html",
        "--quiet",
    )
    assert f"report: {tmp_path / 'nb.report.html'}" in result.stdout
    check_self_contained(tmp_path / "nb.report.html")
    assert (tmp_path / "nb.report_plots" / "test_precision_recall.png").is_file()


def test_cli_report_failure_keeps_the_model(
    csv_data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("renderer broke")

    monkeypatch.setattr("sentilstm.report.builders.training_report", broken)
    result = invoke("train", csv_data["train"], "--out", tmp_path / "m.sentilstm", *SMALL)
    assert "no report written" in result.stderr and "renderer broke" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.sentilstm"]


# ----- a real browser ----------------------------------------------------------------------------------
def test_report_renders_in_headless_chromium(trained_clf: SentimentClassifier, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("headless Chromium is not installed (apt install chromium)")
    from PIL import Image

    path = training_report(trained_clf).write(tmp_path / "m.report.html")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1280,3000",
            path.resolve().as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file(), "chromium wrote no screenshot"
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (3000, 1280)
    assert pixels.std() > 20  # text, cards and plots, not a blank or single-colour page
    assert len(np.unique(pixels)) > 100


def test_tune_report_reads_a_tidy_trials_table() -> None:
    """`TuneResult.trials_table()` (classifier parameter names, seconds, errors) is preferred over Optuna's frame."""
    import pandas as pd

    study = quadratic_study(4)
    table = pd.DataFrame(
        [
            {
                "number": 0,
                "state": "COMPLETE",
                "value": 0.8,
                "seconds": 2.0,
                "steps": 3,
                "error": None,
                "worker": None,
                "hidden_size": 32,
                "epochs": 5,
            },
            {
                "number": 1,
                "state": "FAIL",
                "value": None,
                "seconds": 0.5,
                "steps": 0,
                "error": "<oom>",
                "worker": None,
                "hidden_size": 64,
                "epochs": 5,
            },
            {
                "number": 2,
                "state": "COMPLETE",
                "value": 0.9,
                "seconds": 2.5,
                "steps": 3,
                "error": None,
                "worker": None,
                "hidden_size": 16,
                "epochs": 5,
            },
        ]
    )
    result = fake_tune_result(study)
    result.trials_table = lambda: table
    html = tune_report(result).to_html()
    trials = html[html.index('id="trials"') :]
    assert "<th>hidden_\u200bsize</th>" in trials and "<th>epochs</th>" not in trials  # only what varied
    assert "&lt;oom&gt;" in trials and "<td>fail</td>" in trials
    assert (
        trials.index("<td class=num>2</td>")
        < trials.index("<td class=num>0</td>")
        < trials.index("<td class=num>1</td>")
    )


# ----- many classes (issue 14, item 7) ---------------------------------------------------------------------------
def _many_class_predictions(k: int, n: int, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), targets] += 2
    return Predictions(
        ["t"] * n, targets, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), [f"c{i}" for i in range(k)]
    )


def test_top_confusions_and_most_confused_classes() -> None:
    from sentilstm.estimators.evaluation import most_confused_classes, top_confusions

    matrix = [[5, 3, 0], [1, 4, 0], [0, 6, 2]]
    assert top_confusions(matrix, ["a", "b", "c"], 2) == [("c", "b", 6, 0.75), ("a", "b", 3, 0.375)]
    assert most_confused_classes(matrix, 2) == [1, 2]  # b: 3 + 6 predicted wrongly as b, 1 missed; c: 6


def test_micro_precision_recall_is_close_to_the_exact_average_precision() -> None:
    from sklearn.metrics import average_precision_score

    predictions = _many_class_predictions(60, 1500)
    positive = (predictions.targets[:, None] == np.arange(60)[None, :]).ravel()
    exact = average_precision_score(positive, predictions.probabilities.ravel())
    from sentilstm.report import plots

    precision, recall, ap = plots.micro_precision_recall(predictions.targets, predictions.probabilities)
    assert abs(ap - exact) < 0.01 and recall[-1] == 1.0 and np.all((precision >= 0) & (precision <= 1))


def test_beyond_fifty_classes_the_confusion_matrix_is_summarised_and_the_per_class_table_complete() -> None:
    from sentilstm.report.sections import ScoredSet, evaluation_section

    predictions = _many_class_predictions(120, 1200)
    section = evaluation_section([ScoredSet("test", "Test", predictions.report(), predictions, "")])
    html = Report("r", sections=[section]).to_html()
    assert "Most frequent confusions" in html and "The 20 of 120 classes most involved in errors" in html
    assert all(f"<td>c{i}</td>" in html for i in range(120))  # every class keeps its row of metrics


def test_the_model_section_says_how_the_crossfit_partner_was_chosen() -> None:
    from sentilstm.report.sections import model_section

    texts, labels = make_negation_data(300, seed=3)
    recipe = {**TINY, "epochs": 1, "learning_rate": 1e-4, "blend": "auto"}
    clf = SentimentClassifier(**recipe).fit(texts, labels)
    html = "".join(str(block) for block in model_section(clf, clf.metrics_).blocks)
    assert "The partner is the candidate with the best macro f1 of its 5-fold out-of-fold predictions" in html
    for candidate in ("nbsvm", "nbsvm[class_weight=balanced]", "tfidf_lr", "tfidf_lr[class_weight=balanced]"):
        assert f"<td>{candidate}</td>" in html


@pytest.mark.parametrize(
    ("names", "columns"),
    [
        (["hidden_size", "dropout", "pooling", "learning_rate", "weight_decay", "batch_size"], 10),  # one each
        (None, 5),  # the whole default space: 15 parameters share one "configuration" column
    ],
)
def test_tune_report_trials_table_fits_a_1400_px_window(names: list[str] | None, columns: int, tmp_path: Path) -> None:
    """Two trials in which every searched parameter differs: no sideways scrolling at 1400 px (a 2-trial tune of
    six parameters overflowed by 16 px, the default space's 15 by 805)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("headless Chromium is not installed (apt install chromium)")
    from sentilstm.selection.space import DEFAULT_SPACE

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    extra = {
        "vocab_size": [10_000, 60_000],
        "max_length": [None, 256],
        "dropout": [0.1234, 0.4321],
        "num_layers": [1, 2],
    }
    extra |= {"learning_rate": [0.0003456, 0.004567], "weight_decay": [0.00001234, 0.08765]}
    choices = {name: extra.get(name) or DEFAULT_SPACE[name]["choices"] for name in names or DEFAULT_SPACE}
    for end in (0, -1):  # the first and the last choice of every parameter: all of them vary
        study.enqueue_trial({name: options[end] for name, options in choices.items()})

    def objective(trial: optuna.Trial) -> float:
        for name, options in choices.items():
            trial.suggest_categorical(name, options)
        return 0.5 + trial.number / 100

    study.optimize(objective, n_trials=2)
    page = tune_report(fake_tune_result(study)).write(tmp_path / "tune.report.html")
    probe = page.with_name("probe.html")  # the report plus a script that records the trials table's overflow
    probe.write_text(
        page.read_text().replace(
            "</body>",
            "<script>const s=document.querySelector('#trials .scroll');"
            "document.body.dataset.overflow=String(s.scrollWidth-s.clientWidth);"
            "document.body.dataset.columns=String(s.querySelectorAll('th').length);</script></body>",
        )
    )
    command = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900", "--dump-dom"]
    done = subprocess.run(
        [*command, probe.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    found = re.search(r'data-overflow="(-?\d+)" data-columns="(\d+)"', done.stdout)
    assert found, done.stderr[-500:]
    assert int(found.group(2)) == columns
    assert int(found.group(1)) <= 0, f"the trials table is {found.group(1)} px wider than its box"
