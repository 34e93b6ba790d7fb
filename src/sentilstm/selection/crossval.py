"""Stratified K-fold cross-validation of a `SentimentClassifier` or a linear baseline -> `CVResult`.

    result = cross_validate(texts, labels, params={"epochs": 5}, folds=5, jobs=5)
    result.summary()["macro_f1"]      # (mean, std) over the folds; result.mean("macro_f1") for an objective
    result.predictions.report()       # out-of-fold: every text scored once, by a model that never saw it

Each fold trains a fresh model on K-1 parts (the LSTM holds out its own validation split from those for
early stopping, as in `fit`) and scores the remaining part with `predict_proba`. With `jobs > 1` the folds
run in separate processes; the results are the same as with `jobs=1`.
"""

from __future__ import annotations

import concurrent.futures as futures
import difflib
import json
import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.model_selection import StratifiedKFold

from sentilstm.config import MAX_SEED, check_choice, check_integer
from sentilstm.data.labels import Label, LabelMap, check_labels, check_texts
from sentilstm.errors import ConfigError, DataError
from sentilstm.estimators.baselines import BASELINES, make_baseline
from sentilstm.estimators.blend import network_dropped, predictor
from sentilstm.estimators.evaluation import EvaluationReport, Predictions, evaluate_probabilities
from sentilstm.system.threads import cpu_budget
from sentilstm.training.loop import History, TrainingCallback

log = logging.getLogger(__name__)
Estimator = Literal["lstm", "nbsvm", "tfidf_lr"]
SUMMARY_METRICS = ("accuracy", "macro_f1", "weighted_f1", "roc_auc", "loss")
MAX_REPEATS = 100  # repeated K-fold: 10 repeats already pin a mean to a tenth of one fold's spread


@dataclass
class FoldResult:
    """One fold's scores on its held-out part. `repeat` and `fold` count from 0."""

    repeat: int
    fold: int
    report: EvaluationReport  # metrics of the held-out part
    history: History | None  # the LSTM's epochs; None for a baseline
    seconds: float  # training + scoring
    num_train: int
    num_test: int
    test_index: list[int] = field(default_factory=list, repr=False)  # held-out rows (positions in the input)
    predictor: str = "the network alone"  # what made the fold model's predictions (`estimators.blend.predictor`)
    network_dropped: bool = False  # its blend gave the network weight 0: the scores are the linear model's

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; leaves out `test_index` (seed and folds rebuild the split)."""
        return {
            "repeat": self.repeat,
            "fold": self.fold,
            "seconds": self.seconds,
            "num_train": self.num_train,
            "num_test": self.num_test,
            "report": self.report.to_dict(),
            "history": self.history.to_dict() if self.history is not None else None,
            "predictor": self.predictor,
        }


@dataclass
class CVResult:
    """Every fold's result in (repeat, fold) order, plus the out-of-fold predictions of repeat 0."""

    folds: list[FoldResult]
    labels: list[Any]
    estimator: str
    params: dict[str, Any]
    num_folds: int
    repeats: int
    seed: int
    predictions: Predictions  # repeat 0: every text scored exactly once by a model that never saw it

    def summary(self) -> dict[str, tuple[float, float]]:
        """metric -> (mean, std) over all folds (numpy's population std, ddof=0); ROC-AUC skips undefined folds."""
        result: dict[str, tuple[float, float]] = {}
        for metric in SUMMARY_METRICS:
            values = [getattr(f.report, metric) for f in self.folds if getattr(f.report, metric) is not None]
            if values:
                result[metric] = (float(np.mean(values)), float(np.std(values)))
        return result

    def dropped_network(self) -> list[FoldResult]:
        """The folds whose blend gave the network weight 0 (their scores are the linear model's alone)."""
        return [f for f in self.folds if f.network_dropped]

    def mean(self, metric: str) -> float:
        """Mean of one metric over all folds (e.g. a tuning objective); NaN when no fold defines it."""
        if metric not in SUMMARY_METRICS:
            raise ConfigError(f"metric must be one of {list(SUMMARY_METRICS)}, got {metric!r}")
        return self.summary().get(metric, (math.nan, math.nan))[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: settings, summary, every fold, and the out-of-fold report of repeat 0."""
        return {
            "estimator": self.estimator,
            "params": json.loads(json.dumps(self.params, default=str)),
            "num_folds": self.num_folds,
            "repeats": self.repeats,
            "seed": self.seed,
            "labels": list(self.labels),
            "summary": {name: {"mean": mean, "std": std} for name, (mean, std) in self.summary().items()},
            "folds": [f.to_dict() for f in self.folds],
            "out_of_fold": self.predictions.report().to_dict(),
        }


@dataclass
class _FoldTask:
    repeat: int
    fold: int
    train_index: np.ndarray
    test_index: np.ndarray


@dataclass
class _FoldContext:
    """What every fold needs besides its indices; sent once to each worker process."""

    texts: list[str]
    labels: list[Label]
    label_names: list[Any]
    estimator: str
    params: dict[str, Any]


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[Label],
    *,
    params: dict[str, Any] | None = None,
    estimator: Estimator = "lstm",
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    jobs: int = 1,
    on_fold: Callable[[FoldResult], None] | None = None,
    callback_factory: Callable[[int, int], TrainingCallback | None] | None = None,
) -> CVResult:
    """Stratified K-fold cross-validation, optionally repeated with new shuffles and run in parallel.

    `params` are `SentimentClassifier` keyword arguments (or the baseline's for "nbsvm"/"tfidf_lr"); the
    model seed stays `params["seed"]`, while the split of repeat r is shuffled with `seed + r`. `jobs > 1`
    trains folds in that many spawned processes, sharing the CPU cores out among them unless
    `params["num_threads"]` is set. `on_fold` is called in this process as each fold finishes;
    `callback_factory(repeat, fold)` gives the LSTM's training callback for a fold (jobs=1 only).

        cross_validate(texts, labels, params={"hidden_size": 64}, folds=5, repeats=2).summary()
    """
    params = dict(params or {})
    check_options(
        estimator=estimator,
        params=params,
        folds=folds,
        repeats=repeats,
        seed=seed,
        jobs=jobs,
        callback_factory=callback_factory,
    )
    texts, labels = check_texts(texts, "texts"), check_labels(labels, "labels")
    if len(texts) != len(labels):
        raise DataError(f"got {len(texts)} texts but {len(labels)} labels; they must match")
    label_map = LabelMap.fit(labels)
    targets = label_map.encode(labels)
    _check_class_counts(targets, label_map, folds)
    tasks = [
        _FoldTask(repeat, fold, train_index, test_index)
        for repeat in range(repeats)
        for fold, (train_index, test_index) in enumerate(
            StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + repeat).split(
                np.zeros(len(targets)), targets
            )
        )
    ]
    context = _FoldContext(texts, labels, label_map.labels, estimator, params)
    if jobs == 1:
        outcomes = []
        for task in tasks:
            callback = callback_factory(task.repeat, task.fold) if callback_factory and estimator == "lstm" else None
            outcomes.append(_run_fold(context, task, callback))
            _report(outcomes[-1][0], folds, on_fold)
    else:
        outcomes = _run_in_processes(context, tasks, jobs, folds, on_fold)
    probabilities = np.zeros((len(texts), len(label_map)))
    for fold, fold_probabilities in outcomes:
        if fold.repeat == 0:
            probabilities[fold.test_index] = fold_probabilities
    return CVResult(
        folds=[fold for fold, _ in outcomes],
        labels=label_map.labels,
        estimator=estimator,
        params=params,
        num_folds=folds,
        repeats=repeats,
        seed=seed,
        predictions=Predictions(texts, targets, probabilities, label_map.labels),
    )


def check_options(
    *,
    estimator: Estimator,
    params: dict[str, Any],
    folds: int,
    repeats: int = 1,
    seed: int = 0,
    jobs: int = 1,
    callback_factory: Callable[[int, int], TrainingCallback | None] | None = None,
) -> None:
    """Raise ConfigError for a bad cross-validation option or an unknown parameter, before any training."""
    check_choice("estimator", estimator, Estimator)
    check_integer("folds", folds, low=2)
    check_integer("repeats", repeats, low=1, high=MAX_REPEATS)
    check_integer("jobs", jobs, low=1)
    check_integer("seed", seed, low=0, high=MAX_SEED - repeats + 1)  # repeat r shuffles with seed + r (32 bits)
    if callback_factory is not None and jobs > 1:
        raise ConfigError(
            f"callback_factory runs in this process only, so it needs jobs=1, got jobs={jobs}; "
            "use on_fold to follow parallel folds"
        )
    check_names(estimator, params, default_params(estimator))
    if estimator in BASELINES:
        make_baseline(estimator, **params).check_params()


def default_params(estimator: Estimator) -> dict[str, Any]:
    """Every parameter of the estimator with its default value."""
    check_choice("estimator", estimator, Estimator)
    if estimator == "lstm":
        from sentilstm.estimators.classifier import SentimentClassifier

        return SentimentClassifier().get_params()
    return make_baseline(estimator).get_params()


# ----- private helpers ---------------------------------------------------------------------------
_CONTEXT: _FoldContext | None = None  # a worker process's data, set once by _init_worker


def check_names(estimator: str, names: Iterable[str], known: dict[str, Any]) -> None:
    """ConfigError for the first name that is not a parameter of the estimator, with the closest ones."""
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=3)
            hint = f"did you mean {' or '.join(map(repr, close))}?" if close else f"known: {', '.join(sorted(known))}"
            owner = "SentimentClassifier" if estimator == "lstm" else f"the {estimator} baseline"
            raise ConfigError(f"{name!r} is not a parameter of {owner}; {hint}")


def _check_class_counts(targets: np.ndarray, label_map: LabelMap, folds: int) -> None:
    counts = np.bincount(targets, minlength=len(label_map))
    smallest = int(counts.argmin())
    count, label = int(counts[smallest]), label_map.labels[smallest]
    if count < folds:
        fix = f"use {count} folds or fewer (--folds {count}) or add examples" if count >= 2 else "add examples of it"
        raise DataError(
            f"class {label!r} has {count} example(s), fewer than folds={folds}: stratified K-fold puts "
            f"every class in every held-out part; {fix}"
        )


def _run_fold(
    context: _FoldContext, task: _FoldTask, callback: TrainingCallback | None
) -> tuple[FoldResult, np.ndarray]:
    """Train a fresh model on the fold's training part, score its held-out part -> (result, probabilities)."""
    started = time.perf_counter()
    train_texts = [context.texts[i] for i in task.train_index]
    train_labels = [context.labels[i] for i in task.train_index]
    test_texts = [context.texts[i] for i in task.test_index]
    history = None
    if context.estimator == "lstm":
        from sentilstm.estimators.classifier import SentimentClassifier

        model: Any = SentimentClassifier(**context.params).fit(train_texts, train_labels, callback=callback)
        history = model.history_
    else:
        model = make_baseline(context.estimator, **context.params).fit(train_texts, train_labels)
    # every class is in every training part, so the fold model's classes are the data's, in the same order
    assert list(model.label_map_.labels) == list(context.label_names), (model.label_map_.labels, context.label_names)
    probabilities = model.predict_proba(test_texts)
    targets = model.label_map_.encode([context.labels[i] for i in task.test_index])
    report = evaluate_probabilities(targets, probabilities, context.label_names)
    result = FoldResult(
        repeat=task.repeat,
        fold=task.fold,
        report=report,
        history=history,
        seconds=time.perf_counter() - started,
        num_train=len(train_texts),
        num_test=len(test_texts),
        test_index=task.test_index.tolist(),
        predictor=predictor(model),
        network_dropped=network_dropped(model),
    )
    return result, probabilities


def _report(result: FoldResult, folds: int, on_fold: Callable[[FoldResult], None] | None) -> None:
    log.debug(
        "repeat %d fold %d/%d: macro F1 %.4f, accuracy %.4f in %.1fs",
        result.repeat + 1,
        result.fold + 1,
        folds,
        result.report.macro_f1,
        result.report.accuracy,
        result.seconds,
    )
    if on_fold is not None:
        on_fold(result)


def _init_worker(context: _FoldContext, threads: int) -> None:
    """Runs once in each worker process: keep the data, and take a fair share of the CPU threads."""
    global _CONTEXT
    from sentilstm.system.threads import fix_threads

    _CONTEXT = context
    fix_threads(threads)


def _worker_fold(task: _FoldTask) -> tuple[FoldResult, np.ndarray]:
    assert _CONTEXT is not None, "_init_worker did not run"
    return _run_fold(_CONTEXT, task, None)


def _run_in_processes(
    context: _FoldContext,
    tasks: list[_FoldTask],
    jobs: int,
    folds: int,
    on_fold: Callable[[FoldResult], None] | None,
) -> list[tuple[FoldResult, np.ndarray]]:
    """Folds in `jobs` spawned processes (safe with CUDA and OpenMP); results in (repeat, fold) order."""
    workers = min(jobs, len(tasks))
    cpus = cpu_budget().usable
    # OpenMP pools that share cores slow each other down many times over (see the note on TINY in tests/helpers.py)
    threads = context.params.get("num_threads") or max(1, cpus // workers)
    done: dict[tuple[int, int], tuple[FoldResult, np.ndarray]] = {}
    spawn = multiprocessing.get_context("spawn")
    pool = futures.ProcessPoolExecutor(workers, mp_context=spawn, initializer=_init_worker, initargs=(context, threads))
    before = {process.pid for process in multiprocessing.active_children()}
    try:
        pending = [pool.submit(_worker_fold, task) for task in tasks]
        for future in futures.as_completed(pending):
            result, probabilities = future.result()
            done[(result.repeat, result.fold)] = (result, probabilities)
            _report(result, folds, on_fold)
    except BaseException:
        # one fold failed (or Ctrl-C): end the folds still training, or they would run on in the background and the
        # interpreter's exit would wait for them
        _stop_pool(pool, before)
        raise
    pool.shutdown(wait=True)
    return [done[(task.repeat, task.fold)] for task in tasks]


def _stop_pool(pool: futures.ProcessPoolExecutor, before: set[int | None]) -> None:
    """End a pool's workers now. Python < 3.14 has no public terminate_workers(), and shutdown() forgets the
    processes and the manager thread, so both are taken first. The manager thread reaps the workers once it sees
    the pool broken; it is waited for, so no worker is left half-reaped (alive in `active_children()`) after this."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    for process in processes:
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    if manager is not None:
        manager.join(timeout=30)
    _terminate(processes)
    # a worker the pool was still starting when it broke is not in `_processes`: end every child started since,
    # again until none is left (bounded: a pool starts at most its worker count)
    for _ in range(len(processes) + 2):
        started = [p for p in multiprocessing.active_children() if p.pid not in before]
        if not started:
            break
        _terminate(started)


def _terminate(processes: list[Any]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


__all__ = ["CVResult", "Estimator", "FoldResult", "check_options", "cross_validate", "default_params", "check_names"]
