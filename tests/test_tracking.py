"""Tests of `sentilstm.report.tracking` and `sentilstm train --mlflow`: runs go to a local MLflow file store under
tmp_path (no server) and are read back with `MlflowClient`, as a user would.

The contract: parameters, one metric point per epoch (step = epoch) including per-layer gradient norms, final
scores and the model file reach the store; a run ends FINISHED, FAILED when an error escapes, KILLED on Ctrl-C, and
never stays active; without MLflow installed, asking for it is a one-line ConfigError.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import typer

from helpers import TINY, invoke_cli, make_negation_data
from sentilstm import ConfigError, SentimentClassifier
from sentilstm.report.tracking import (
    ALLOW_FILE_STORE,
    MlflowTracker,
    Tracker,
    chain,
    key_name,
    resolve_tracking_uri,
    run_status,
)
from sentilstm.training.loop import EpochStats, TrainingCallback

needs_mlflow = pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="MLflow is not installed")
CLI_TINY = [
    "--embedding-dim",
    "16",
    "--hidden-size",
    "16",
    "--epochs",
    "2",
    "--threads",
    "1",
    "--blend",
    "none",
    "--min-frequency",
    "1",
]
EPOCH_METRICS = ("train_loss", "val_loss", "val_accuracy", "val_macro_f1", "learning_rate", "samples_per_second")


@pytest.fixture(autouse=True)
def _no_mlflow_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither a tracking URI nor the file-store opt-in from the developer's shell leaks into a test."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(ALLOW_FILE_STORE, raising=False)


def store_uri(folder: Path) -> str:
    return (folder / "mlruns").resolve().as_uri()


def client(uri: str) -> Any:
    """An MlflowClient for a file store (recent MLflow opens one only when MLFLOW_ALLOW_FILE_STORE is set)."""
    from mlflow.tracking import MlflowClient

    with mock.patch.dict(os.environ, {ALLOW_FILE_STORE: "true"}):
        store = MlflowClient(uri)
        store.search_experiments()  # opens (and caches) the store while the opt-in is set
    return store


def steps(store: Any, run_id: str, metric: str) -> list[int]:
    return sorted(m.step for m in store.get_metric_history(run_id, metric))


def artifacts(store: Any, run_id: str) -> set[str]:
    return {a.path for a in store.list_artifacts(run_id)}


# ----- one tiny training logged from Python, shared by the tests that read it --------------------------
@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """2 epochs on 200 negation texts, tracked into a file store; {uri, run_id, model, client}."""
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip("MLflow is not installed")
    folder = tmp_path_factory.mktemp("tracked")
    texts, labels = make_negation_data(200, seed=0)
    clf = SentimentClassifier(**TINY)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv(ALLOW_FILE_STORE, raising=False)
        with MlflowTracker(store_uri(folder), experiment="tests", run_name="tiny") as tracker:
            tracker.log_params({**clf.get_params(), "data": {"rows": 200, "source": "synthetic"}, "long": "x" * 900})
            clf.fit(texts, labels, callback=chain(TrainingCallback(), tracker.callback()))
            tracker.log_metrics(clf.validation_report_.to_dict(), prefix="validation")
            model = clf.save(folder / "negation.sentilstm")
            tracker.log_artifact(model)
        file_store_opt_in_left = ALLOW_FILE_STORE in os.environ
    yield {
        "uri": tracker.tracking_uri,
        "run_id": tracker.run_id,
        "model": model,
        "client": client(tracker.tracking_uri),
        "opt_in_left": file_store_opt_in_left,
    }


def test_run_finishes_with_params_flattened_and_clipped(tracked: dict[str, Any]) -> None:
    run = tracked["client"].get_run(tracked["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny"
    params = run.data.params
    assert params["hidden_size"] == "16" and params["epochs"] == "2" and params["blend"] == "None"
    assert params["data.rows"] == "200" and params["data.source"] == "synthetic"
    assert len(params["long"]) == 500 and params["long"].endswith("...")
    assert run.data.tags["sentilstm.version"] and not tracked["opt_in_left"]  # the file-store opt-in was undone


def test_every_epoch_metric_has_one_point_per_epoch(tracked: dict[str, Any]) -> None:
    for metric in EPOCH_METRICS:
        assert steps(tracked["client"], tracked["run_id"], metric) == [1, 2], metric


def test_gradient_norms_are_logged_per_layer(tracked: dict[str, Any]) -> None:
    metrics = tracked["client"].get_run(tracked["run_id"]).data.metrics
    norms = {name: value for name, value in metrics.items() if name.startswith("grad_norm/")}
    assert {"grad_norm/head", "grad_norm/embedding", "grad_norm/forward_rnns.0"} <= set(norms)
    assert all(value > 0 for value in norms.values())
    assert steps(tracked["client"], tracked["run_id"], "grad_norm/head") == [1, 2]


def test_final_scores_and_model_file_are_logged(tracked: dict[str, Any]) -> None:
    metrics = tracked["client"].get_run(tracked["run_id"]).data.metrics
    assert 0 <= metrics["validation/accuracy"] <= 1 and "validation/macro_f1" in metrics
    assert {"validation/per_class/-1/f1", "validation/per_class/1/recall"} <= set(metrics)
    assert "validation/confusion_matrix" not in metrics  # lists are not metrics
    assert tracked["model"].name in artifacts(tracked["client"], tracked["run_id"])


# ----- run life cycle ------------------------------------------------------------------------------------
@needs_mlflow
@pytest.mark.parametrize(("error", "status"), [(RuntimeError("boom"), "FAILED"), (KeyboardInterrupt(), "KILLED")])
def test_a_run_that_raises_ends_failed_or_killed(tmp_path: Path, error: BaseException, status: str) -> None:
    import mlflow

    with pytest.raises(type(error)):
        with MlflowTracker(store_uri(tmp_path)) as tracker:
            tracker.log_metrics({"loss": 1.0})
            raise error
    assert tracker.status == status
    assert client(tracker.tracking_uri).get_run(tracker.run_id).info.status == status
    assert mlflow.active_run() is None and ALLOW_FILE_STORE not in os.environ
    with pytest.raises(RuntimeError, match="has ended"):
        tracker.log_metrics({"loss": 2.0})


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (None, "FINISHED"),
        (typer.Exit(0), "FINISHED"),
        (typer.Exit(2), "FAILED"),
        (typer.Exit(130), "KILLED"),
        (SystemExit(0), "FINISHED"),
        (SystemExit(1), "FAILED"),
        (KeyboardInterrupt(), "KILLED"),
        (ValueError(), "FAILED"),
    ],
)
def test_run_status_follows_the_exit(exc: BaseException | None, status: str) -> None:
    assert run_status(exc) == status


@needs_mlflow
def test_params_are_sent_in_batches_of_the_api_limit(tmp_path: Path) -> None:
    with MlflowTracker(store_uri(tmp_path)) as tracker:
        tracker.log_params({f"p{i}": i for i in range(250)})  # MLflow takes 100 params per request
        tracker.set_tags({"dataset": "synthetic"})
    run = client(tracker.tracking_uri).get_run(tracker.run_id)
    assert len(run.data.params) == 250 and run.data.params["p249"] == "249" and run.data.tags["dataset"] == "synthetic"


@needs_mlflow
def test_a_folder_artifact_keeps_its_name(tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "curve.png").write_bytes(b"png")
    with MlflowTracker(store_uri(tmp_path)) as tracker:
        tracker.log_artifact(tmp_path / "plots")
        with pytest.raises(FileNotFoundError, match="missing.txt"):
            tracker.log_artifact(tmp_path / "missing.txt")
    store = client(tracker.tracking_uri)
    assert "plots" in artifacts(store, tracker.run_id)
    assert [a.path for a in store.list_artifacts(tracker.run_id, "plots")] == ["plots/curve.png"]


@needs_mlflow
def test_a_failing_store_mid_training_costs_a_warning_not_the_training(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with MlflowTracker(store_uri(tmp_path)) as tracker:
        pass
    stats = EpochStats(1, 0.7, 0.6, 0.5, 0.5, 0.5, 1e-3, 1.0, 100.0, {"head": 0.1})
    callback = tracker.callback()  # its run has ended: every log call fails
    callback.on_epoch_end(stats, True)
    callback.on_epoch_end(stats, False)
    warnings = [r for r in caplog.records if "could not log epoch" in r.getMessage()]
    assert len(warnings) == 1  # once, not every epoch


@needs_mlflow
def test_a_deleted_experiment_is_a_config_error(tmp_path: Path) -> None:
    uri = store_uri(tmp_path)
    with MlflowTracker(uri, experiment="old"):
        pass
    store = client(uri)
    store.delete_experiment(store.get_experiment_by_name("old").experiment_id)
    with pytest.raises(ConfigError, match="'old'.*is deleted; restore it"):
        MlflowTracker(uri, experiment="old").start()


def test_missing_mlflow_is_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    with pytest.raises(ConfigError, match=r"^--mlflow needs MLflow: pip install 'sentilstm\[mlflow\]'$"):
        MlflowTracker()


# ----- helpers -------------------------------------------------------------------------------------------
def test_tracking_uri_defaults_to_a_local_mlruns_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri() == (tmp_path / "mlruns").resolve().as_uri()
    assert resolve_tracking_uri("runs/here") == (tmp_path / "runs" / "here").resolve().as_uri()
    for uri in ("sqlite:///mlflow.db", "http://host:5000", "file:///tmp/mlruns", "databricks"):
        assert resolve_tracking_uri(uri) == uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert resolve_tracking_uri() == "http://tracking:5000"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("grad_norm/forward_rnns.0", "grad_norm/forward_rnns.0"),
        ("per_class/très bien?/f1", "per_class/très bien_/f1"),
        ("a:b", "a_b"),
        ("../x", "_/x"),
        ("a//b/", "a/_/b/_"),
        ("test/per_class/./f1", "test/per_class/_/f1"),
        ("", "_"),
    ],
)
def test_key_names_are_valid_mlflow_keys(name: str, key: str) -> None:
    assert key_name(name) == key


def test_chain_calls_each_callback_in_order_and_skips_none() -> None:
    calls: list[tuple[str, str]] = []

    class Recorder(TrainingCallback):
        def __init__(self, name: str) -> None:
            self.name = name

        def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
            calls.append((self.name, "start"))

        def on_step(self, epoch: int, step: int, loss: float) -> None:
            calls.append((self.name, "step"))

        def on_epoch_end(self, stats: EpochStats, improved: bool) -> None:
            calls.append((self.name, "end"))

    chained = chain(Recorder("bar"), None, Recorder("tracker"), Tracker().callback())
    chained.on_epoch_start(1, 2, 3)
    chained.on_step(1, 1, 0.5)
    chained.on_epoch_end(EpochStats(1, 0.7, 0.6, 0.5, 0.5, 0.5, 1e-3, 1.0, 100.0), True)
    assert calls == [
        ("bar", "start"),
        ("tracker", "start"),
        ("bar", "step"),
        ("tracker", "step"),
        ("bar", "end"),
        ("tracker", "end"),
    ]


# ----- the command line ----------------------------------------------------------------------------------
@pytest.fixture
def table(tmp_path: Path) -> Path:
    texts, labels = make_negation_data(200, seed=0)
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])
    return path


@needs_mlflow
def test_cli_train_logs_a_finished_run_with_the_model_report_and_metrics(table: Path, tmp_path: Path) -> None:
    uri = store_uri(tmp_path)
    out = tmp_path / "model.sentilstm"
    result = invoke_cli(
        "train",
        table,
        "--mlflow-uri",
        uri,
        "--mlflow-experiment",
        "cli",
        "--out",
        out,
        "--metrics-json",
        tmp_path / "metrics.json",
        *CLI_TINY,
    )
    assert result.exit_code == 0, (result.output, result.exception)
    store = client(uri)
    [run] = store.search_runs([store.get_experiment_by_name("cli").experiment_id])
    assert run.info.status == "FINISHED"
    assert f"MLflow run {run.info.run_id} (FINISHED)" in result.stderr and uri in result.stderr
    assert run.data.params["hidden_size"] == "16" and run.data.params["data.train"].endswith("(200 rows)")
    assert run.data.params["data.validation"] == "None" and run.data.tags["sentilstm.command"] == "train"
    assert steps(store, run.info.run_id, "val_macro_f1") == [1, 2]
    assert run.data.metrics["best_epoch"] in (1, 2) and "validation/accuracy" in run.data.metrics
    logged = artifacts(store, run.info.run_id)
    assert {"model.sentilstm", "model.report.html", "metrics.json"} <= logged


@needs_mlflow
def test_cli_error_after_the_run_started_ends_it_failed(table: Path, tmp_path: Path) -> None:
    uri = store_uri(tmp_path)
    # a bad option (--cell transformer) now fails before the run starts; a validation label the training data lacks
    # is found by fit, after it started
    validation = tmp_path / "validation.csv"
    validation.write_text("text,label\nnot good at all,7\nfine,7\n")
    result = invoke_cli(
        "train", table, "--mlflow-uri", uri, "--validation", validation, "--out", tmp_path / "m.sentilstm", *CLI_TINY
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: labels [7] were not seen in training; this model knows [-1, 1]"
    ]
    store = client(uri)
    [run] = store.search_runs([store.get_experiment_by_name("sentilstm").experiment_id])
    assert run.info.status == "FAILED" and "(FAILED)" in result.stderr


@needs_mlflow
def test_cli_ctrl_c_ends_the_run_killed(table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: Any, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(SentimentClassifier, "fit", interrupted)
    uri = store_uri(tmp_path)
    result = invoke_cli("train", table, "--mlflow-uri", uri, "--out", tmp_path / "m.sentilstm", *CLI_TINY)
    assert result.exit_code == 130 and "interrupted" in result.stderr
    store = client(uri)
    [run] = store.search_runs([store.get_experiment_by_name("sentilstm").experiment_id])
    assert run.info.status == "KILLED"


def test_cli_mlflow_without_mlflow_installed_is_a_user_error(
    table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    result = invoke_cli("train", table, "--mlflow", "--out", tmp_path / "m.sentilstm", *CLI_TINY)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "error: --mlflow needs MLflow: pip install 'sentilstm[mlflow]'" in result.stderr
    assert not (tmp_path / "m.sentilstm").exists()


def test_cli_without_the_flag_tracks_nothing(table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # would fail if anything tried to use MLflow
    result = invoke_cli("train", table, "--out", tmp_path / "m.sentilstm", "--no-report", *CLI_TINY)
    assert result.exit_code == 0, (result.output, result.exception)
    assert not (tmp_path / "mlruns").exists() and "MLflow" not in result.stderr


@needs_mlflow
def test_cli_cv_logs_each_fold_the_summary_and_the_report(table: Path, tmp_path: Path) -> None:
    uri = store_uri(tmp_path)
    result = invoke_cli(
        "cv",
        table,
        "--folds",
        2,
        "--estimator",
        "nbsvm",
        "--set",
        "min_df=1",
        "--mlflow-uri",
        uri,
        "--report",
        tmp_path / "cv.html",
        "--quiet",
    )
    assert result.exit_code == 0, (result.output, result.exception)
    store = client(uri)
    [run] = store.search_runs([store.get_experiment_by_name("sentilstm").experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["sentilstm.command"] == "cv"
    assert steps(store, run.info.run_id, "fold/macro_f1") == [1, 2]
    assert {"macro_f1_mean", "macro_f1_std"} <= set(run.data.metrics) and run.data.params["folds"] == "2"
    assert "cv.html" in artifacts(store, run.info.run_id)


@needs_mlflow
def test_cli_tune_logs_every_trial_the_best_and_the_files(table: Path, tmp_path: Path) -> None:
    uri = store_uri(tmp_path)
    space = tmp_path / "space.json"
    space.write_text('{"extend_default": false, "dropout": {"type": "categorical", "choices": [0.1, 0.3]}}')
    settings = [arg for k, v in TINY.items() for arg in ("--set", f"{k}={'none' if v is None else v}")]
    result = invoke_cli(
        "tune",
        table,
        "--trials",
        2,
        "--space",
        space,
        *settings,
        "--out",
        tmp_path / "best.sentilstm",
        "--mlflow-uri",
        uri,
        "--quiet",
    )
    assert result.exit_code == 0, (result.output, result.exception)
    store = client(uri)
    [run] = store.search_runs([store.get_experiment_by_name("sentilstm").experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["sentilstm.command"] == "tune"
    assert steps(store, run.info.run_id, "trial_value") == [0, 1]
    assert "best.dropout" in run.data.params and "best_macro_f1" in run.data.metrics
    assert {"best.sentilstm", "best.report.html", "best.trials.csv"} <= artifacts(store, run.info.run_id)


@needs_mlflow
def test_a_store_that_fails_mid_run_is_a_one_line_config_error(tmp_path: Path) -> None:
    with MlflowTracker(store_uri(tmp_path)) as tracker:
        with mock.patch.object(tracker._active_client(), "log_batch", side_effect=OSError("connection reset by peer")):
            with pytest.raises(
                ConfigError, match=r"could not log to MLflow run \w+ at file:.*connection reset by peer; check"
            ):
                tracker.log_metrics({"accuracy": 0.9})
        with mock.patch.object(tracker._active_client(), "log_artifact", side_effect=RuntimeError("HTTP 503")):
            (tmp_path / "model.sentilstm").write_text("x")
            with pytest.raises(ConfigError, match="could not store 'model.sentilstm' in MLflow run"):
                tracker.log_artifact(tmp_path / "model.sentilstm")
