"""Cross-validation (src/sentilstm/crossval.py and `sentilstm cv`): the folds partition the data and keep the
class balance, out-of-fold predictions score every text once, the summary is numpy's mean/std over the folds,
parallel folds equal serial ones, and every user error is a typed, one-line error."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import TINY, invoke_cli, make_negation_data
from sentilstm import CVResult, FoldResult, cross_validate
from sentilstm.cli.options import parse_assignments, read_params
from sentilstm.errors import ConfigError, DataError
from sentilstm.estimators.evaluation import Predictions
from sentilstm.selection.crossval import SUMMARY_METRICS
from sentilstm.training.loop import TrainingCallback


@pytest.fixture(scope="module")
def data() -> tuple[list[str], list[int]]:
    return make_negation_data(240, seed=0)


@pytest.fixture(scope="module")
def result(data: tuple[list[str], list[int]]) -> CVResult:
    """4-fold CV of a tiny LSTM, shared by the tests that only read it."""
    return cross_validate(*data, params=TINY, folds=4)


# ----- splits and predictions ------------------------------------------------------------------------
def test_folds_partition_the_data_and_keep_the_class_balance(
    result: CVResult, data: tuple[list[str], list[int]]
) -> None:
    texts, labels = data
    assert [(f.repeat, f.fold) for f in result.folds] == [(0, k) for k in range(4)]
    held_out = np.concatenate([f.test_index for f in result.folds])
    assert sorted(held_out.tolist()) == list(range(len(texts)))  # disjoint and complete
    share = Counter(labels)
    for fold in result.folds:
        assert fold.num_train + fold.num_test == len(texts)
        assert fold.num_test == len(fold.test_index) == fold.report.num_examples
        counts = Counter(labels[i] for i in fold.test_index)
        for label, total in share.items():  # stratified: each part holds its share of every class, +-1
            assert abs(counts[label] - total / 4) <= 1
        assert fold.history is not None and len(fold.history.epochs) == TINY["epochs"]


def test_out_of_fold_predictions_score_every_text_once(result: CVResult, data: tuple[list[str], list[int]]) -> None:
    texts, labels = data
    predictions = result.predictions
    assert predictions.texts == texts and result.labels == [-1, 1]
    assert predictions.labels[predictions.targets[0]] == labels[0]
    assert predictions.probabilities.shape == (len(texts), 2)
    np.testing.assert_allclose(predictions.probabilities.sum(axis=1), 1.0, atol=1e-6)  # no row left unscored
    for fold in result.folds:  # the out-of-fold rows of a fold are exactly that fold's held-out scores
        index = fold.test_index
        sub = Predictions(
            [texts[i] for i in index], predictions.targets[index], predictions.probabilities[index], result.labels
        )
        assert sub.report().macro_f1 == pytest.approx(fold.report.macro_f1)
        assert sub.report().loss == pytest.approx(fold.report.loss)
    assert result.predictions.report().num_examples == len(texts)


def test_summary_is_numpy_mean_and_std_over_folds(result: CVResult) -> None:
    summary = result.summary()
    assert set(summary) == set(SUMMARY_METRICS)
    for metric in SUMMARY_METRICS:
        values = [getattr(f.report, metric) for f in result.folds]
        assert summary[metric] == pytest.approx((np.mean(values), np.std(values)))
        assert result.mean(metric) == pytest.approx(np.mean(values))
    with pytest.raises(ConfigError, match="metric must be one of"):
        result.mean("f1")


def test_to_dict_is_json(result: CVResult) -> None:
    payload = json.loads(json.dumps(result.to_dict()))  # no default=: every value is plain JSON
    assert payload["num_folds"] == 4 and payload["estimator"] == "lstm" and len(payload["folds"]) == 4
    assert payload["summary"]["macro_f1"]["mean"] == pytest.approx(result.mean("macro_f1"))
    assert payload["out_of_fold"]["num_examples"] == 240 and payload["params"]["hidden_size"] == TINY["hidden_size"]


def test_repeats_reshuffle_the_folds(data: tuple[list[str], list[int]]) -> None:
    result = cross_validate(*data, params={**TINY, "epochs": 1}, folds=3, repeats=2, seed=7)
    assert [(f.repeat, f.fold) for f in result.folds] == [(r, k) for r in range(2) for k in range(3)]
    first = {frozenset(f.test_index) for f in result.folds if f.repeat == 0}
    second = {frozenset(f.test_index) for f in result.folds if f.repeat == 1}
    assert first != second and all(len(set().union(*parts)) == 240 for parts in (first, second))
    assert result.to_dict()["repeats"] == 2 and len(result.summary()) == len(SUMMARY_METRICS)


def test_parallel_folds_equal_serial_ones(data: tuple[list[str], list[int]]) -> None:
    texts, labels = data[0][:150], data[1][:150]
    serial = cross_validate(texts, labels, params=TINY, folds=3)
    seen: list[tuple[int, int]] = []
    parallel = cross_validate(
        texts, labels, params=TINY, folds=3, jobs=2, on_fold=lambda f: seen.append((f.repeat, f.fold))
    )
    assert sorted(seen) == [(0, 0), (0, 1), (0, 2)]  # on_fold ran here, once per fold
    assert [(f.repeat, f.fold) for f in parallel.folds] == [(0, 0), (0, 1), (0, 2)]
    for a, b in zip(serial.folds, parallel.folds):
        assert a.test_index == b.test_index
        for metric in SUMMARY_METRICS:
            assert getattr(a.report, metric) == pytest.approx(getattr(b.report, metric), abs=1e-6)
        assert [e.val_loss for e in a.history.epochs] == pytest.approx([e.val_loss for e in b.history.epochs], abs=1e-6)
    np.testing.assert_allclose(serial.predictions.probabilities, parallel.predictions.probabilities, atol=1e-6)


def test_a_failure_ends_the_folds_still_training(data: tuple[list[str], list[int]]) -> None:
    """3 folds on 2 workers: when the first fold's result raises (here in on_fold), the third is mid-training; it
    is terminated, not left running in the background (nor waited for at the interpreter's exit)."""
    import multiprocessing

    def fail(fold: FoldResult) -> None:
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        cross_validate(*data, params={**TINY, "epochs": 10, "patience": 10}, folds=3, jobs=2, on_fold=fail)
    assert multiprocessing.active_children() == []


def test_callbacks_see_every_fold(data: tuple[list[str], list[int]]) -> None:
    asked: list[tuple[int, int]] = []
    epochs: list[int] = []
    finished: list[FoldResult] = []

    class Count(TrainingCallback):
        def on_epoch_end(self, stats: Any, improved: bool) -> None:
            epochs.append(stats.epoch)

    def factory(repeat: int, fold: int) -> TrainingCallback:
        asked.append((repeat, fold))
        return Count()

    cross_validate(*data, params={**TINY, "epochs": 1}, folds=2, callback_factory=factory, on_fold=finished.append)
    assert asked == [(0, 0), (0, 1)] and len(epochs) == 2 and [f.fold for f in finished] == [0, 1]


@pytest.mark.parametrize("kind", ["nbsvm", "tfidf_lr"])
def test_baselines_cross_validate(kind: str, data: tuple[list[str], list[int]]) -> None:
    result = cross_validate(*data, estimator=kind, params={"min_df": 1}, folds=3)
    assert result.estimator == kind and len(result.folds) == 3
    assert all(f.history is None for f in result.folds)
    assert result.predictions.report().num_examples == 240 and 0.0 <= result.mean("accuracy") <= 1.0
    with pytest.raises(ConfigError, match="'ngram' is not a parameter of the nbsvm baseline; did you mean 'ngrams'"):
        cross_validate(*data, estimator="nbsvm", params={"ngram": (1, 2)})


def test_string_labels_and_three_classes() -> None:
    texts, labels = make_negation_data(90, seed=1, labels=("neg", "pos"))
    texts += [f"it was okay {i}" for i in range(12)]
    labels += ["neutral"] * 12
    result = cross_validate(texts, labels, estimator="tfidf_lr", params={"min_df": 1}, folds=3)
    assert result.labels == ["neg", "neutral", "pos"] and result.predictions.probabilities.shape == (102, 3)


# ----- errors ----------------------------------------------------------------------------------------
def test_a_class_smaller_than_folds_is_a_data_error(data: tuple[list[str], list[int]]) -> None:
    texts, labels = data[0][:40] + ["odd one", "odd two"], data[1][:40] + [0, 0]
    with pytest.raises(DataError, match=r"class 0 has 2 example\(s\), fewer than folds=5.*use 2 folds or fewer"):
        cross_validate(texts, labels, params=TINY, folds=5)
    with pytest.raises(DataError, match="add examples of it"):
        cross_validate(texts[:-1], labels[:-1], params=TINY, folds=2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"folds": 1}, "folds must be a whole number >= 2, got 1"),
        ({"repeats": 0}, "repeats must be a whole number between 1 and 100, got 0"),
        ({"jobs": 0}, "jobs must be a whole number >= 1, got 0"),
        ({"estimator": "svm"}, "estimator must be one of"),
        (
            {"params": {"hiden_size": 8}},
            "'hiden_size' is not a parameter of SentimentClassifier; did you mean 'hidden_size'",
        ),
        ({"jobs": 2, "callback_factory": lambda r, k: None}, "callback_factory runs in this process only"),
    ],
)
def test_bad_options_are_config_errors(
    options: dict[str, Any], message: str, data: tuple[list[str], list[int]]
) -> None:
    with pytest.raises(ConfigError, match=message):
        cross_validate(*data, **options)


def test_parse_assignments_coerces_to_the_default_type() -> None:
    params = parse_assignments(
        [
            "epochs=3",
            "learning_rate=1e-3",
            "bidirectional=false",
            "cell=gru",
            "max_length=64",
            "blend=none",
            "class_weight=balanced",
            "num-threads=2",
            'class_weight={"-1": 2}',
        ],
        "lstm",
    )
    assert params == {
        "epochs": 3,
        "learning_rate": 1e-3,
        "bidirectional": False,
        "cell": "gru",
        "max_length": 64,
        "blend": None,
        "class_weight": {"-1": 2},
        "num_threads": 2,
    }
    assert parse_assignments(["ngrams=1,2", "C=0.5"], "nbsvm") == {"ngrams": (1, 2), "C": 0.5}


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("epochs=2.5", r"--set epochs=2.5: epochs takes int \(default 10\), got '2.5'"),
        ("bidirectional=maybe", "bidirectional takes true or false"),
        ("epochs", "--set expects KEY=VALUE"),
        ("hidden=8", "did you mean 'hidden_size'"),
    ],
)
def test_parse_assignments_errors(assignment: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_assignments([assignment], "lstm")
    assert "\n" not in str(caught.value)


def test_read_params(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"epochs": 2}))
    (tmp_path / "p.yaml").write_text("epochs: 3\ncell: gru\n")
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert read_params(tmp_path / "p.json") == {"epochs": 2}
    assert read_params(tmp_path / "p.yaml") == {"epochs": 3, "cell": "gru"}
    with pytest.raises(ConfigError, match="must hold one mapping"):
        read_params(tmp_path / "bad.json")
    with pytest.raises(DataError, match="does not exist"):
        read_params(tmp_path / "missing.json")


# ----- command line ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def table(data: tuple[list[str], list[int]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cv") / "train.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(*data)))
    return path


def test_cli_prints_folds_summary_and_confusion_matrix(table: Path, tmp_path: Path) -> None:
    params, out = tmp_path / "tiny.json", tmp_path / "cv.json"
    params.write_text(json.dumps(TINY))
    result = invoke_cli("cv", table, "--folds", 3, "--params", params, "--set", "epochs=1", "--json", out)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "3-fold cross-validation of lstm on 240 texts" in result.stderr and "fold 3/3: accuracy" in result.stderr
    assert "mean ± std" in result.stdout and "confusion matrix" in result.stdout and "out-of-fold" in result.stdout
    assert len(re.findall(r"^│\s+1 │\s+[123] │", result.stdout, flags=re.M)) == 3  # one row per fold
    payload = json.loads(out.read_text())
    assert len(payload["folds"]) == 3 and payload["params"]["epochs"] == 1 and payload["params"]["hidden_size"] == 16
    assert all(len(f["history"]["epochs"]) == 1 for f in payload["folds"])


def test_cli_baseline_with_repeats(table: Path) -> None:
    result = invoke_cli(
        "cv", table, "--estimator", "nbsvm", "--folds", 2, "--repeats", 2, "--set", "min_df=1", "--quiet"
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert "repeat 2/2 fold 2/2" in result.stderr and "(repeat 1)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--folds", "1"], "folds must be a whole number >= 2"),
        (["--set", "hidden_size=big"], "hidden_size takes int (default 128), got 'big'"),
        (["--set", "nosuch=1"], "'nosuch' is not a parameter of SentimentClassifier"),
        (["--estimator", "svm"], "estimator must be one of"),
        (["--folds", "500", "--set", "epochs=1"], "fewer than folds=500"),
        (["--params", "missing.json"], "does not exist"),
    ],
)
def test_cli_errors_are_one_line(args: list[str], message: str, table: Path) -> None:
    result = invoke_cli("cv", table, *args)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_cli_writes_the_cv_report_by_default_and_not_with_no_report(table: Path, tmp_path: Path) -> None:
    result = invoke_cli("cv", table, "--estimator", "nbsvm", "--folds", 2, "--set", "min_df=1", "--quiet")
    assert result.exit_code == 0, (result.output, result.exception)
    report = Path("train.cv.report.html")  # NAME.cv.report.html in the working directory (a scratch one in tests)
    assert f"report: {report}" in result.stdout and report.is_file()
    assert "Cross-validation report" in report.read_text() and Path("train.cv.report_plots/fold_metrics.png").is_file()
    chosen = tmp_path / "mine.html"
    result = invoke_cli(
        "cv", table, "--estimator", "nbsvm", "--folds", 2, "--set", "min_df=1", "--report", chosen, "--quiet"
    )
    assert result.exit_code == 0 and chosen.is_file()
    report.unlink()
    result = invoke_cli(
        "cv", table, "--estimator", "nbsvm", "--folds", 2, "--set", "min_df=1", "--no-report", "--quiet"
    )
    assert result.exit_code == 0 and not report.exists() and "report:" not in result.stdout
