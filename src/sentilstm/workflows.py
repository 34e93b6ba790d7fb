"""Whole runs as one call each: train (or fit a baseline, cross-validate, tune), score the test split, assemble the
metrics once, save the model, write the JSON metrics and the HTML report, and log it all to a tracker. The command
line's verbs are these functions plus parsing and printing; notebooks and `bench/` call them directly.

    from sentilstm import SentimentClassifier, read_table, train_to_file
    run = train_to_file(SentimentClassifier(epochs=3), read_table("train.csv"), "model.sentilstm",
                        test=read_table("test.csv"))
    run.test.macro_f1, run.report_path   # the model, its metrics and its report are on disk

Every output is checked before any work (writable, not an input, not each other); a report that fails to render
never costs the trained model or its scores: the run's `report_error` then says why it is missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentilstm.data.labels import Label
from sentilstm.data.splits import check_test_labels, labels_of
from sentilstm.data.tables import Table
from sentilstm.estimators.blend import mix
from sentilstm.estimators.ensembles import remove_checkpoints
from sentilstm.estimators.evaluation import EvaluationReport, Predictions, evaluate_probabilities
from sentilstm.report.formatting import report_path_for
from sentilstm.report.tracking import Tracker, chain
from sentilstm.selection.crossval import CVResult, Estimator, FoldResult, cross_validate
from sentilstm.system.files import check_outputs, write_json, writing
from sentilstm.training.loop import TrainingCallback

if TYPE_CHECKING:  # optuna and the search are imported when a search runs, so `import sentilstm` stays fast
    import optuna

    from sentilstm.selection.tuning import Metric, SearchSpace, TrialCallback, TuneResult

ReportPath = str | Path | bool | None  # True: beside the model (model.report.html); False/None: no report
CV_SCORES = ("accuracy", "macro_f1", "weighted_f1", "roc_auc", "loss")  # the headline numbers logged per fold


@dataclass
class TrainRun:
    """What `train_to_file` / `baseline_to_file` did: the fitted model, its scores and the files written."""

    model: Any
    out: Path | None  # None on a non-main rank of a distributed run (it writes nothing)
    validation: EvaluationReport | None  # the early-stopping split's report (None for a baseline)
    test: EvaluationReport | None
    report_path: Path | None
    report_error: str | None  # why the report asked for was not written (the model and metrics still were)
    metrics_json: Path | None

    @property
    def metrics(self) -> dict[str, Any]:
        return getattr(self.model, "metrics_", None) or {}


@dataclass
class CVRun:
    """What `cv_to_file` did: the cross-validation result and the files written."""

    result: CVResult
    json_path: Path | None
    report_path: Path | None
    report_error: str | None


@dataclass
class TuneRun:
    """What `tune_to_file` did: the study's result (best parameters, trials, retrained model) and the report."""

    result: TuneResult
    report_path: Path | None
    report_error: str | None


def train_to_file(
    model: Any,
    train: Table,
    out: str | Path,
    *,
    validation: Table | None = None,
    test: Table | None = None,
    unlabeled: Sequence[str] | None = None,
    resume: bool = False,
    metrics_json: str | Path | None = None,
    report: ReportPath = True,
    callback: TrainingCallback | None = None,
    tracker: Tracker | None = None,
) -> TrainRun:
    """Fit a `SentimentClassifier` on `train`, score `test` once, save to `out` and write the metrics and report.

    `validation` None: `fit` holds out a stratified part of `train`. `unlabeled`: texts for `pretrain_embeddings`.
    `resume` continues from `out.ckpt` (removed once the model is saved). Under torchrun every rank trains and only
    rank 0 writes, scores and logs. Raises DataError/ConfigError/OutputError before training for bad input.

        train_to_file(SentimentClassifier(epochs=5), read_table("train.csv"), "model.sentilstm",
                      test=read_table("test.csv"))
    """
    from sentilstm.training import distributed

    out, metrics_json = Path(out), _optional_path(metrics_json)
    report_path = _report_path(report, out)
    _check_outputs(out=out, metrics_json=metrics_json, report=report_path, tables=(train, validation, test))
    model.check_params()
    check_test_labels(train, validation, test)
    checkpoint = Path(f"{out}.ckpt")
    fit_options: dict[str, Any] = dict(
        validation=None if validation is None else (validation.texts, validation.labels),
        checkpoint_path=checkpoint,
        resume=resume,
        unlabeled=list(unlabeled) if unlabeled is not None and _reads_unlabeled(model) else None,
    )
    if not distributed.is_main_process():  # another rank of a distributed run: train its shards, write nothing
        model.fit(train.texts, train.labels, **fit_options)
        return TrainRun(model, None, None, None, None, None, None)
    tracker = tracker or Tracker()
    splits = {"train": train, "validation": validation, "test": test}  # validation None: a hold-out of train
    tracker.log_params(
        {
            **model.get_params(),
            "data": {name: t if t is None else f"{t.source} ({len(t)} rows)" for name, t in splits.items()},
        }
    )
    model.fit(train.texts, train.labels, callback=chain(callback, tracker.callback()), **fit_options)
    dropped = train.dropped + (validation.dropped if validation is not None else 0)
    run = _finish(
        model,
        out,
        train,
        test,
        metrics_json,
        report_path,
        title=f"Training report: {out.name}",
        dropped_rows=dropped,
        checkpoint=checkpoint,
    )
    run.validation = model.validation_report_
    # final scores, then the files once all are written (the report embeds its plots)
    tracker.log_metrics(
        {
            "best_epoch": model.history_.best_epoch,
            **{k: v for k, v in model.metrics_.items() if k in ("validation", "test")},
        }
    )
    _log_files(tracker, out, run.report_path, metrics_json)
    return run


def baseline_to_file(
    model: Any,
    train: Table,
    out: str | Path,
    *,
    validation: Table | None = None,
    test: Table | None = None,
    metrics_json: str | Path | None = None,
    report: ReportPath = None,
) -> TrainRun:
    """Fit a linear baseline (`NBSVM`, `TfidfLogisticRegression`) on `train` + `validation` (it has no early
    stopping), score `test` once, save to `out` and write the metrics and report (none by default).

        baseline_to_file(NBSVM(), read_table("train.csv"), "baseline.sentilstm", test=read_table("test.csv"))
    """
    out, metrics_json = Path(out), _optional_path(metrics_json)
    report_path = _report_path(report, out)
    _check_outputs(out=out, metrics_json=metrics_json, report=report_path, tables=(train, validation, test))
    model.check_params()
    check_test_labels(train, validation, test)
    texts = train.texts + (validation.texts if validation is not None else [])
    labels = labels_of(train) + (labels_of(validation) if validation is not None else [])
    started = time.perf_counter()
    model.fit(texts, labels)
    return _finish(
        model,
        out,
        train,
        test,
        metrics_json,
        report_path,
        title=f"Baseline report: {out.name}",
        train_seconds=round(time.perf_counter() - started, 2),
    )


def cv_to_file(
    texts: Sequence[str],
    labels: Sequence[Label],
    *,
    params: dict[str, Any] | None = None,
    estimator: Estimator = "lstm",
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    jobs: int = 1,
    json_path: str | Path | None = None,
    report: str | Path | None = None,
    on_fold: Callable[[FoldResult], None] | None = None,
    callback_factory: Callable[[int, int], TrainingCallback | None] | None = None,
    tracker: Tracker | None = None,
    source: str | None = None,
) -> CVRun:
    """`cross_validate`, then write every fold's metrics as JSON (`json_path`) and the HTML report (`report`), and
    log the parameters, each fold's scores and the mean/std to `tracker`. `source` names the data in the tracker.

        cv_to_file(texts, labels, params={"epochs": 3}, folds=5, report="cv.report.html").result.summary()
    """
    from sentilstm.selection.crossval import check_options

    params = dict(params or {})
    json_path, report_path = _optional_path(json_path), _optional_path(report)
    check_outputs({"json_path": json_path, "report": report_path})
    check_options(
        estimator=estimator,
        params=params,
        folds=folds,
        repeats=repeats,
        seed=seed,
        jobs=jobs,
        callback_factory=callback_factory,
    )
    tracker = tracker or Tracker()
    tracker.log_params(
        {
            **params,
            "estimator": estimator,
            "folds": folds,
            "repeats": repeats,
            "cv_seed": seed,
            "data": f"{source or 'texts'} ({len(texts)} rows)",
        }
    )

    def fold_done(fold: FoldResult) -> None:
        step = fold.repeat * folds + fold.fold + 1
        tracker.log_metrics(
            {k: v for k, v in fold.report.to_dict().items() if k in CV_SCORES}, prefix="fold", step=step
        )
        if on_fold is not None:
            on_fold(fold)

    result = cross_validate(
        texts,
        labels,
        params=params,
        estimator=estimator,
        folds=folds,
        repeats=repeats,
        seed=seed,
        jobs=jobs,
        on_fold=fold_done,
        callback_factory=callback_factory,
    )
    write_json(result.to_dict(), json_path)
    written, error = _write_report(lambda: _builders().cv_report(result), report_path)
    tracker.log_metrics(
        {
            f"{metric}_{part}": value
            for metric, pair in result.summary().items()
            for part, value in zip(("mean", "std"), pair)
        }
    )
    _log_files(tracker, written, json_path)
    return CVRun(result, json_path, written, error)


def tune_to_file(
    texts: Sequence[str],
    labels: Sequence[Label],
    *,
    out: str | Path = "model.sentilstm",
    space: SearchSpace | Mapping[str, Any] | str | Path | None = None,
    base_params: dict[str, Any] | None = None,
    trials: int = 20,
    timeout: float | None = None,
    metric: Metric = "macro_f1",
    cv_folds: int | None = None,
    validation: tuple[Sequence[str], Sequence[Label]] | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    retrain: bool = True,
    seed: int = 0,
    report: ReportPath = True,
    tracker: Tracker | None = None,
    source: str | None = None,
) -> TuneRun:
    """`tune` (Optuna search; the study and the trials table beside `out`, the best configuration retrained into
    `out`), then the HTML report (`report`: True beside `out`) and the tracker's parameters, trials and files.

        tune_to_file(texts, labels, trials=10, base_params={"epochs": 3}, out="best.sentilstm").result.best_params
    """
    from sentilstm.selection.tuning import SearchSpace, study_path, trials_path, tune

    out = Path(out)
    report_path = _report_path(report, out)
    check_outputs(
        {
            "out": out,
            "report": report_path,
            "trials_table": trials_path(out),
            "study": study_path(out) if storage is None else None,
        }
    )
    space = space if isinstance(space, SearchSpace) else SearchSpace.load(space)
    base = dict(base_params or {})
    tracker = tracker or Tracker()
    tracker.log_params(
        {
            "space": space.to_dict(),
            "fixed": base,
            "metric": metric,
            "cv_folds": cv_folds,
            "trials": trials,
            "seed": seed,
            "data": f"{source or 'texts'} ({len(texts)} rows)",
        }
    )
    result = tune(
        texts,
        labels,
        trials=trials,
        timeout=timeout,
        space=space,
        base_params=base,
        metric=metric,
        cv_folds=cv_folds,
        validation=validation,
        storage=storage,
        study_name=study_name,
        out=out,
        retrain=retrain,
        seed=seed,
        callback=_trial_scores(tracker),
    )
    written, error = _write_report(lambda: _builders().tune_report(result), report_path)
    if result.best_params:
        tracker.log_params({f"best.{key}": value for key, value in result.best_params.items()})
        tracker.log_metrics({f"best_{metric}": result.best_value})
    table = trials_path(out) if len(result.study.trials) else None
    _log_files(tracker, *(p for p in (result.model_path, written, table) if p is not None and Path(p).exists()))
    return TuneRun(result, written, error)


# ----- private helpers ---------------------------------------------------------------------------
def _finish(
    model: Any,
    out: Path,
    train: Table,
    test: Table | None,
    metrics_json: Path | None,
    report_path: Path | None,
    *,
    title: str,
    dropped_rows: int | None = None,
    train_seconds: float | None = None,
    checkpoint: Path | None = None,
) -> TrainRun:
    """Score the test split once, complete `metrics_`, save (then drop the checkpoint), write the report and JSON."""
    test_predictions, network_alone = _score_test(model, test) if test is not None else (None, None)
    test_report = test_predictions.report() if test_predictions is not None else None
    _complete_metrics(model, test_report, dropped_rows=dropped_rows, train_seconds=train_seconds)
    if network_alone is not None:  # what the blend adds, in the open
        model.metrics_["test_network"] = network_alone.to_dict()
    model.metrics_["sources"] = {  # file names only (a model card shows them; a path would tell where it ran)
        "train": Path(str(train.source)).name,
        **({"test": Path(str(test.source)).name} if test is not None else {}),
    }
    with writing(out):
        model.save(out)
    if checkpoint is not None:
        remove_checkpoints(checkpoint)  # an ensemble's members' too
    written, error = _write_report(
        lambda: _builders().training_report(model, title=title, test=test_predictions, source=train.source), report_path
    )
    write_json(model.metrics_, metrics_json)
    return TrainRun(model, out, None, test_report, written, error, metrics_json)


def _score_test(model: Any, test: Table) -> tuple[Predictions, EvaluationReport | None]:
    """The test split scored once, and for a blended model also the network's own scores: its probabilities are
    computed once and blended here, as `predict_proba` would, rather than run through the network twice."""
    if getattr(model, "blend_model_", None) is None:
        return model.score_labelled(test.texts, test.labels), None
    labels = model.label_map_.labels
    targets, network = model.label_map_.encode(test.labels), model._network_proba(test.texts)
    blended = mix(model.blend_weight_, network, model.blend_model_.predict_proba(test.texts))
    return Predictions(test.texts, targets, blended, labels), evaluate_probabilities(targets, network, labels)


def _complete_metrics(
    model: Any, test: EvaluationReport | None, *, dropped_rows: int | None, train_seconds: float | None
) -> None:
    """The one place `metrics_` gets what `fit` cannot know: the training time of a baseline (its fit keeps no
    metrics), the rows dropped while reading the tables, and the test scores."""
    if train_seconds is not None:
        model.metrics_ = {"train_seconds": train_seconds}
    if dropped_rows is not None:
        model.metrics_["data"]["dropped_rows"] = dropped_rows
    if test is not None:
        model.metrics_["test"] = test.to_dict()


def _check_outputs(*, tables: Sequence[Table | None], **outputs: Path | None) -> None:
    """Before any work: each output writable, none an input table nor another output."""
    inputs = {f"table {t.source}": t.source for t in tables if t is not None and Path(str(t.source)).is_file()}
    check_outputs(outputs, inputs)


def _trial_scores(tracker: Tracker) -> TrialCallback:
    """An Optuna callback logging each finished trial's score to `tracker` (step: the trial's number)."""

    def log_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.value is not None:
            tracker.log_metrics({"trial_value": trial.value}, step=trial.number)

    return log_trial


def _report_path(report: ReportPath, out: Path) -> Path | None:
    if report is True:
        return report_path_for(out)
    return None if report is None or report is False else Path(report)


def _reads_unlabeled(model: Any) -> bool:
    """Whether a fit uses unlabelled texts (in-domain vectors, distillation's transfer set, pretraining, VAT)."""
    return bool(model.pretrain_embeddings or model.distill or model.pretrain or model.adversarial == "vat")


def _optional_path(path: str | Path | None) -> Path | None:
    return None if path is None else Path(path)


def _builders() -> Any:
    """The report builders, imported when a report is written: its plots need matplotlib (the [report] extra), and a
    missing extra costs the report (`_write_report` says why), never the run."""
    from sentilstm.report import builders

    return builders


def _write_report(build: Callable[[], Any], path: Path | None) -> tuple[Path | None, str | None]:
    """(path written, None), or (None, why) when rendering failed: a report never costs a finished run."""
    if path is None:
        return None, None
    try:
        build().write(path)
    except Exception as exc:  # noqa: BLE001 - plotting has many failure modes; none may lose a finished run
        return None, f"{type(exc).__name__}: {exc}"
    return path, None


def _log_files(tracker: Tracker, *paths: Path | str | None) -> None:
    for path in paths:
        if path is not None:
            tracker.log_artifact(path)


__all__ = ["TrainRun", "CVRun", "TuneRun", "train_to_file", "baseline_to_file", "cv_to_file", "tune_to_file"]
