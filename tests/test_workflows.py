"""sentilstm.workflows: whole runs from Python (train, baseline, cv, tune to files), what the CLI verbs call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import TINY, make_negation_data
from sentilstm import NBSVM, SentimentClassifier, load_model
from sentilstm.data.tables import Table
from sentilstm.errors import ConfigError, DataError
from sentilstm.report.tracking import Tracker
from sentilstm.workflows import baseline_to_file, cv_to_file, train_to_file, tune_to_file

SPACE: dict[str, Any] = {"extend_default": False, "dropout": {"type": "categorical", "choices": [0.1, 0.3]}}


def table(n: int, seed: int, source: str, labels: tuple[Any, Any] = (-1, 1), dropped: int = 0) -> Table:
    texts, targets = make_negation_data(n, seed=seed, labels=labels)
    return Table(texts, targets, "text", "label", dropped=dropped, source=source)


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


class Recorder(Tracker):
    """A tracker that remembers what it was given."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.metrics: list[dict[str, Any]] = []
        self.artifacts: list[Path] = []

    def log_params(self, params: Any) -> None:
        self.params.update(params)

    def log_metrics(self, metrics: Any, prefix: str = "", step: int | None = None) -> None:
        self.metrics.append(dict(metrics))

    def log_artifact(self, path: Any, artifact_path: str | None = None) -> None:
        self.artifacts.append(Path(path))


def test_train_to_file_writes_model_metrics_and_report(tmp_path: Path) -> None:
    out, tracker = tmp_path / "model.sentilstm", Recorder()
    run = train_to_file(
        SentimentClassifier(**TINY),
        table(160, 0, "train.csv", dropped=3),
        out,
        test=table(60, 1, "test.csv"),
        metrics_json=tmp_path / "metrics.json",
        tracker=tracker,
    )
    assert {"model.sentilstm", "model.report.html", "metrics.json"} <= files_in(tmp_path)
    assert not Path(f"{out}.ckpt").exists()
    assert run.out == out and run.report_path == tmp_path / "model.report.html" and run.report_error is None
    assert run.validation is not None and run.test is not None and run.test.num_examples == 60
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test"]["accuracy"] == pytest.approx(run.test.accuracy) and saved["data"]["dropped_rows"] == 3
    assert load_model(out).metrics_["test"]["num_examples"] == 60
    assert {"best_epoch", "test", "validation"} <= set().union(*tracker.metrics)
    assert out in tracker.artifacts and tracker.params["data"]["test"] == "test.csv (60 rows)"


def test_train_to_file_report_failure_keeps_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sentilstm.report import builders

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no fonts")

    monkeypatch.setattr(builders, "training_report", broken)
    run = train_to_file(SentimentClassifier(**TINY), table(120, 0, "train.csv"), tmp_path / "m.sentilstm")
    assert run.report_path is None and run.report_error == "RuntimeError: no fonts"
    assert files_in(tmp_path) == {"m.sentilstm"}


@pytest.mark.parametrize(
    "case, error, match",
    [
        ("bad_param", ConfigError, "epochs must be >= 1"),
        ("missing_folder", DataError, "does not exist"),
        ("unseen_test_label", DataError, "were not seen in training"),
        ("out_is_the_report", DataError, "give them different paths"),
    ],
)
def test_train_to_file_bad_input_writes_nothing(case: str, error: type[Exception], match: str, tmp_path: Path) -> None:
    params, out, options = dict(TINY), tmp_path / "m.sentilstm", {}
    if case == "bad_param":
        params["epochs"] = 0
    elif case == "missing_folder":
        out = tmp_path / "no" / "m.sentilstm"
    elif case == "unseen_test_label":
        options["test"] = table(40, 1, "test.csv", labels=("neg", "pos"))
    else:
        options["report"] = out
    with pytest.raises(error, match=match):
        train_to_file(SentimentClassifier(**params), table(120, 0, "train.csv"), out, **options)
    assert files_in(tmp_path) == set()


def test_baseline_to_file(tmp_path: Path) -> None:
    out = tmp_path / "b.sentilstm"
    run = baseline_to_file(
        NBSVM(min_df=1),
        table(160, 0, "train.csv"),
        out,
        validation=table(40, 2, "val.csv"),
        test=table(60, 1, "test.csv"),
        metrics_json=tmp_path / "b.json",
    )
    assert files_in(tmp_path) == {"b.sentilstm", "b.json"}  # no report unless asked for
    assert run.report_path is None and run.validation is None and run.test is not None
    metrics = json.loads((tmp_path / "b.json").read_text())
    assert set(metrics) == {"train_seconds", "test", "sources"} and metrics["test"]["num_examples"] == 60
    assert load_model(out).predict(["not bad at all"]).shape == (1,)


def test_baseline_to_file_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        baseline_to_file(NBSVM(C=-1.0), table(100, 0, "train.csv"), tmp_path / "b.sentilstm")
    with pytest.raises(DataError, match="is a folder"):
        baseline_to_file(NBSVM(), table(100, 0, "train.csv"), tmp_path)
    assert files_in(tmp_path) == set()


def test_cv_to_file(tmp_path: Path) -> None:
    texts, labels = make_negation_data(120, seed=0)
    folds: list[Any] = []
    tracker = Recorder()
    run = cv_to_file(
        texts,
        labels,
        estimator="nbsvm",
        params={"min_df": 1},
        folds=3,
        json_path=tmp_path / "cv.json",
        report=tmp_path / "cv.html",
        on_fold=folds.append,
        tracker=tracker,
        source="negation",
    )
    assert len(folds) == 3 and len(run.result.folds) == 3
    assert run.report_path == tmp_path / "cv.html" and run.report_path.is_file()
    assert json.loads((tmp_path / "cv.json").read_text())["estimator"] == "nbsvm"
    assert tracker.params["data"] == "negation (120 rows)" and any("macro_f1_mean" in m for m in tracker.metrics)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"folds": 1}, "folds must be"),
        ({"params": {"epoch": 2}}, "did you mean"),
        ({"estimator": "svm"}, "estimator must be one of"),
    ],
)
def test_cv_to_file_bad_input(options: dict[str, Any], match: str, tmp_path: Path) -> None:
    texts, labels = make_negation_data(60, seed=0)
    with pytest.raises(ConfigError, match=match):
        cv_to_file(texts, labels, json_path=tmp_path / "cv.json", report=tmp_path / "cv.html", **options)
    assert files_in(tmp_path) == set()


def test_tune_to_file(tmp_path: Path) -> None:
    texts, labels = make_negation_data(200, seed=1)
    run = tune_to_file(
        texts,
        labels,
        trials=2,
        space=SPACE,
        base_params={**TINY, "epochs": 1},
        out=tmp_path / "best.sentilstm",
        report=False,
    )
    assert run.result.best_params and run.result.model_path == tmp_path / "best.sentilstm"
    assert {"best.sentilstm", "best.trials.csv", "best.study.db"} <= files_in(tmp_path)
    assert run.report_path is None and run.report_error is None


def test_tune_to_file_bad_input(tmp_path: Path) -> None:
    texts, labels = make_negation_data(60, seed=1)
    with pytest.raises(ConfigError):
        tune_to_file(
            texts,
            labels,
            trials=1,
            space={"extend_default": False, "dropout": {"type": "nope"}},
            out=tmp_path / "m.sentilstm",
        )
    with pytest.raises(DataError, match="does not exist"):
        tune_to_file(texts, labels, trials=1, out=tmp_path / "no" / "m.sentilstm")
    assert files_in(tmp_path) == set()
