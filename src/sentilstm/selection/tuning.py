"""Hyperparameter search with Optuna: a search space over the classifier's options, pruning from per-epoch
validation scores, a persistent (resumable, shareable) study, and the best configuration retrained at the end.

    result = tune(texts, labels, trials=30, out="model.sentilstm")  # study in model.study.db; re-run to resume
    result.best_params, result.best_value, result.trials_table(); SentimentClassifier.load(result.model_path)
    tune(texts, labels, trials=30, space={"cell": "gru", "dropout": {"type": "float", "low": 0.2, "high": 0.6}})

`trials` is the number of finished (complete or pruned) trials the study should hold, not how many more to
run: re-running the same call after an interruption runs only the missing ones, and several processes or
machines given one database URL (`storage="postgresql://..."`) share the work and stop together. A trial
whose configuration raises an error (a bad combination, out of memory) is recorded as pruned, with the error
in its `error` attribute, so the sampler steers away from it; an interrupted trial is recorded as failed and
does not count. A trial left running by a killed worker is failed after two missed heartbeats (2 minutes) and
queued once more with the same parameters.

This module opens, runs and resumes the study and retrains the best configuration; what one trial does (train,
score, prune) and the study's table of trials are `sentilstm.selection.trials`'s.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from sentilstm.config import MAX_SEED, check_choice, check_integer
from sentilstm.data.databases import with_installed_driver
from sentilstm.data.labels import Label, check_labels, check_texts
from sentilstm.errors import ConfigError
from sentilstm.estimators.classifier import SentimentClassifier
from sentilstm.selection.space import DEFAULT_SPACE, SearchSpace, check_param_name, check_param_value
from sentilstm.selection.trials import Objective, StopRule, finished_trials, jsonable, log_trial, trials_table
from sentilstm.system.files import write_atomically, writing

if TYPE_CHECKING:  # optuna is imported when a search runs, so `import sentilstm` stays fast
    import optuna

log = logging.getLogger(__name__)
Metric = Literal["macro_f1", "accuracy", "weighted_f1", "loss"]
HEARTBEAT_SECONDS = 60  # a running trial writes a heartbeat this often; a dead worker's trial is found by its silence
GRACE_SECONDS = 120  # two missed heartbeats: the trial is failed and queued once more with the same parameters
# what Optuna calls after each trial (the study and the finished trial), e.g. to log its score
TrialCallback = Callable[["optuna.Study", "optuna.trial.FrozenTrial"], None]
PASSWORD = r"(://[^:/@]*:)[^/]*@"  # user:PASSWORD@ in a URL; a literal @ or / in a password must be %-escaped


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ***, for logs, messages and model files."""
    return re.sub(PASSWORD, r"\1***@", url)


def _open_storage(storage: str | optuna.storages.BaseStorage | None, out: Path | None) -> tuple[Any, str | None]:
    """(Optuna storage or None for in-memory, printable URL): a heartbeat-enabled RDBStorage for a URL."""
    import optuna

    if storage is None and out is not None:
        storage = f"sqlite:///{study_path(out)}"
    if storage is None or not isinstance(storage, str):
        return storage, redact_url(
            str(getattr(storage, "url", type(storage).__name__))
        ) if storage is not None else None
    try:
        from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry

        retry_key = "heartbeat_stale_trial_callback"
    except ImportError:  # optuna < 4.9
        from optuna.storages import RetryFailedTrialCallback as Retry

        retry_key = "failed_trial_callback"
    # sqlite: wait for the file lock instead of failing when several workers write at once
    engine = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # max_retry=1: a trial whose worker died twice (e.g. killed for memory) is not tried a third time
                retry: dict[str, Any] = {retry_key: Retry(max_retry=1)}  # the keyword is the installed optuna's
                return optuna.storages.RDBStorage(
                    with_installed_driver(storage),
                    engine_kwargs=engine,
                    heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=GRACE_SECONDS,
                    **retry,
                ), redact_url(storage)
        except Exception as exc:  # noqa: BLE001 - sqlalchemy, driver or optuna errors: all become one ConfigError
            if attempt < 2 and _creation_race(exc):
                log.info("another worker is creating the tables of %s; trying again", redact_url(storage))
                time.sleep(0.5 + attempt)
                continue
            message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            password = re.search(PASSWORD, storage)
            if password:
                message = message.replace(password.group(0)[len(password.group(1)) : -1] or "\0", "***")
            raise ConfigError(
                f"cannot open the study storage {redact_url(storage)!r} ({type(exc).__name__}: {message}); give a "
                "SQLAlchemy URL such as sqlite:///study.db or postgresql://user:password@host/db, with the database "
                "reachable and its driver installed"
            ) from None
    raise AssertionError("unreachable")


def _creation_race(exc: Exception) -> bool:
    """Whether another worker was creating the same new database's tables at the same moment (worth a retry)."""
    import sqlalchemy.exc

    message = str(exc).lower()
    return isinstance(exc, sqlalchemy.exc.IntegrityError) or (
        isinstance(exc, sqlalchemy.exc.DBAPIError)
        and any(w in message for w in ("locked", "already exists", "duplicate"))
    )


def study_path(out: str | Path) -> Path:
    """The default SQLite study file beside a model file: runs/model.sentilstm -> runs/model.study.db."""
    return Path(out).with_suffix(".study.db")


def trials_path(out: str | Path) -> Path:
    """The trials table beside a model file: runs/model.sentilstm -> runs/model.trials.csv."""
    return Path(out).with_suffix(".trials.csv")


@dataclass
class TuneResult:
    """What `tune` found: the study, the best configuration and score, the trials, and the retrained model."""

    study: optuna.Study
    metric: str
    direction: str  # "maximize", or "minimize" for loss
    best_params: dict[str, Any]  # the searched (and space-fixed) parameters of the best trial; {} if none completed
    best_value: float  # nan when no trial completed
    trials: pd.DataFrame  # study.trials_dataframe() when the search ended
    model: SentimentClassifier | None  # the best configuration retrained, or None (retrain=False)
    model_path: Path | None
    storage: str | None = None  # the study's database URL, password redacted; None: in memory

    def trials_table(self) -> pd.DataFrame:
        """One row per trial: number, state, value, seconds, steps, error, worker, then the parameters."""
        return trials_table(self.study)

    def to_dict(self) -> dict[str, Any]:
        counts = self.trials_table()["state"].value_counts().to_dict() if len(self.study.trials) else {}
        table = self.trials_table().astype(object).where(lambda df: df.notna(), None)
        return jsonable(
            {
                "study_name": self.study.study_name,
                "storage": self.storage,
                "metric": self.metric,
                "direction": self.direction,
                "best_params": self.best_params,
                "best_value": None if math.isnan(self.best_value) else self.best_value,
                "counts": counts,
                "model_path": str(self.model_path) if self.model_path else None,
                "trials": table.to_dict(orient="records"),
            }
        )


def _open_study(
    storage: Any,
    name: str,
    space: SearchSpace,
    setup: dict[str, Any],
    seed: int,
    pruner: optuna.pruners.BasePruner | None,
    where: str,
) -> optuna.Study:
    """Create or load the study; a loaded one must have been made with the same space, metric and objective."""
    import optuna

    # Median rule rather than Hyperband: trials end at different epochs (early stopping), it needs no
    # resource bounds, and it is sound with the 20-100 trials of a typical search. It waits for 5 finished
    # trials and never judges the first epoch (warm-up makes epoch-1 scores noisy).
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    direction: Literal["minimize", "maximize"] = "minimize" if setup["metric"] == "loss" else "maximize"
    study = optuna.create_study(
        storage=storage, study_name=name, direction=direction, pruner=pruner, load_if_exists=True
    )
    stored = study.user_attrs.get("sentilstm")
    current = jsonable({**setup, "space": space.to_dict()})
    if stored is None:
        study.set_user_attr("sentilstm", current)
    else:
        for key, what in (("metric", "metric"), ("cv_folds", "cv_folds"), ("space", "search space")):
            if stored.get(key) != current[key]:
                raise ConfigError(
                    f"study {name!r} in {where} was made with another {what} ({stored.get(key)!r}); "
                    f"resume it with the same one, or give a new --study-name for this {what}"
                )
        if stored.get("base_params") != current["base_params"]:
            log.warning(
                "study %r was made with fixed parameters %s, this run uses %s; their scores may not compare",
                name,
                stored.get("base_params"),
                current["base_params"],
            )
    # seeded by how far the study got: a fresh run is reproducible, a resumed one does not redraw old trials
    # (workers started together on one study should get different seeds, or their first random trials coincide)
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    return study


def tune(
    texts: Iterable[str],
    labels: Iterable[Label],
    *,
    trials: int = 20,
    timeout: float | None = None,
    space: SearchSpace | Mapping[str, Any] | str | Path | None = None,
    base_params: Mapping[str, Any] | None = None,
    metric: Metric = "macro_f1",
    cv_folds: int | None = None,
    validation: tuple[Iterable[str], Iterable[Label]] | None = None,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    out: str | Path | None = None,
    retrain: bool = True,
    seed: int = 0,
    pruner: optuna.pruners.BasePruner | None = None,
    callback: TrialCallback | None = None,
) -> TuneResult:
    """Search hyperparameters with Optuna, then retrain and save the best configuration.

    Args:
        trials: finished (complete or pruned) trials the study should hold; re-running resumes to it, and
            0 runs none (e.g. to retrain the best of a study other workers filled). Interrupted trials don't count.
        timeout: stop starting new trials after this many seconds.
        space: a `SearchSpace` used as is, or a mapping / YAML or JSON file of entries over `DEFAULT_SPACE`.
        base_params: fixed classifier arguments (epochs, num_threads, ...); a key of the space becomes fixed.
            `blend` applies to the retrained model only: trials train the network alone (blend=None), since
            the linear blend would add the same n-gram model to every trial and blur their differences.
        metric: the validation metric to optimise ("loss" is minimised); also early stopping's monitor.
        cv_folds: objective = mean score over K folds (`sentilstm.selection.crossval`), for small datasets.
        validation: a validation set instead of each trial's stratified hold-out.
        storage: a SQLAlchemy URL (any worker given it shares the study) or an Optuna storage; default:
            SQLite beside `out` (`model.study.db`), or in memory without `out`.
        study_name: default: `out`'s stem, else "sentilstm".
        out: where to save the retrained model; the trials table goes beside it (`model.trials.csv`).
        retrain: False for worker processes; the last step (`trials=0`) retrains.
        seed: the sampler's seed and, unless base_params sets one, every model's.
        pruner: default `MedianPruner(n_startup_trials=5, n_warmup_steps=2)` on per-epoch validation scores.
        callback: called with (study, trial) after every trial, as Optuna's callbacks are.

    Usage: `tune(texts, labels, trials=30, out="model.sentilstm").best_params`
    """
    import optuna

    texts, labels = check_texts(texts, "texts"), check_labels(labels, "labels")
    validation, user = _checked_options(trials, seed, timeout, metric, cv_folds, validation, base_params)
    search = space if isinstance(space, SearchSpace) else SearchSpace.load(space)
    search = search.updated({k: v for k, v in user.items() if k in search.specs})  # fixed by the user
    search = search.updated(_fixed_by_encoder(user, search))
    base = {
        "seed": seed,
        **({"monitor": metric} if metric in ("macro_f1", "accuracy", "loss") else {}),
        **{k: v for k, v in user.items() if k not in search.specs},
        "blend": None,
    }
    out = Path(out) if out is not None else None
    storage, where = _open_storage(storage, out)
    name = study_name or (out.stem if out is not None else "sentilstm")
    setup = {"metric": metric, "cv_folds": cv_folds, "base_params": {k: v for k, v in base.items() if k != "blend"}}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trials are logged here, without Optuna's tracebacks
    try:
        study = _open_study(storage, name, search, setup, seed, pruner, where or "memory")
        done = finished_trials(study)
        log.info("study %r in %s holds %d finished trials; target %d", name, where or "memory", done, trials)
        if done < trials:
            stop = StopRule(trials)
            callbacks: list[TrialCallback] = [stop, partial(log_trial, metric=metric)]
            callbacks += [callback] if callback else []  # the caller's, after the stop rule and the log line
            objective = Objective(SentimentClassifier, texts, labels, search, base, metric, cv_folds, validation)
            study.optimize(objective, timeout=timeout, callbacks=callbacks)
            if stop.errors_in_a_row and not stop.succeeded:
                raise ConfigError(
                    f"the {stop.errors_in_a_row} trials of this run all failed, the first with: {stop.first_error}"
                )
    finally:
        optuna.logging.set_verbosity(verbosity)
    return _result(study, texts, labels, search, base, user, metric, validation, out, retrain, where)


def _fixed_by_encoder(user: dict[str, Any], search: SearchSpace) -> dict[str, Any]:
    """The settings the user's pretrained encoder fixes (its text settings, embedding size, cell, width, directions,
    no convolution front) as fixed entries of the space, so that every trial can start from it; a setting the user
    gave stays theirs (a trial then says if it does not fit the encoder)."""
    path = user.get("pretrained_encoder")
    if not path:
        return {}
    from sentilstm.estimators.pretraining import ENCODER_FIELDS, read_encoder

    encoder = read_encoder(path)
    fixed: dict[str, Any] = dataclasses.asdict(encoder.pipeline.config)
    fixed.update({name: getattr(encoder.model_config, name) for name in ENCODER_FIELDS}, conv_channels=0)
    drawn = sorted(name for name in fixed if name in search.searched)
    if drawn:
        log.info("the pretrained encoder fixes %s: they are not searched", ", ".join(drawn))
    return {name: value for name, value in fixed.items() if name not in user}


def _checked_options(
    trials: int,
    seed: int,
    timeout: float | None,
    metric: str,
    cv_folds: int | None,
    validation: tuple[Iterable[str], Iterable[Label]] | None,
    base_params: Mapping[str, Any] | None,
) -> tuple[tuple[list[str], list[Label]] | None, dict[str, Any]]:
    """`tune`'s options checked before any work: the validation set as lists, and the user's base parameters."""
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 0:
        raise ConfigError(
            f"trials must be a whole number >= 0 (the finished trials the study should hold), got {trials!r}"
        )
    check_integer("seed", seed, 0, MAX_SEED)  # Optuna's sampler takes 32 bits
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    check_choice("metric", metric, Metric)
    if cv_folds is not None and (not isinstance(cv_folds, int) or isinstance(cv_folds, bool) or cv_folds < 2):
        raise ConfigError(f"cv_folds must be a whole number >= 2, got {cv_folds!r}")
    if cv_folds and validation is not None:
        raise ConfigError("give either cv_folds (cross-validation) or a validation set, not both")
    if validation is not None:  # as lists once: every trial and the retraining read it (an iterator only once)
        validation = (check_texts(validation[0], "validation texts"), check_labels(validation[1], "validation labels"))
    user = dict(base_params or {})
    for name, value in user.items():
        check_param_name(name, "base parameter")
        try:
            check_param_value(name, value)
        except ConfigError as exc:
            raise ConfigError(f"base parameter {name!r}: {exc}") from None
    return validation, user


def _result(
    study: optuna.Study,
    texts: list[str],
    labels: list[Label],
    space: SearchSpace,
    base: dict[str, Any],
    user: dict[str, Any],
    metric: str,
    validation: tuple[list[str], list[Label]] | None,
    out: Path | None,
    retrain: bool,
    where: str | None,
) -> TuneResult:
    """Best configuration, trials table, and (with `retrain`) the best configuration trained and saved."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = study.best_trial if complete else None
    best_params: dict[str, Any] = {}
    if best is not None:  # as trained; decoded from Optuna's names for a trial added by hand
        best_params = best.user_attrs["params"] if "params" in best.user_attrs else space.decode(best.params)
    result = TuneResult(
        study,
        metric,
        study.direction.name.lower(),
        best_params,
        best.value if best is not None and best.value is not None else math.nan,
        study.trials_dataframe(),
        None,
        None,
        where,
    )
    if out is not None and study.trials:
        _write_csv(result.trials_table(), trials_path(out))
    if not retrain:
        return result
    if best is None:
        raise ConfigError(
            f"study {study.study_name!r} has no completed trial to retrain ({len(study.trials)} trials, "
            "all pruned or failed); run more trials, or check the errors in the trials table"
        )
    params = {**base, "blend": user.get("blend", "auto"), **best_params}
    log.info("retraining trial %d's configuration (%s %.4f) on %d texts", best.number, metric, best.value, len(texts))
    model = SentimentClassifier(**params).fit(texts, labels, validation=validation)
    model.metrics_["tuning"] = {
        "study": study.study_name,
        "storage": where,
        "metric": metric,
        "direction": result.direction,
        "best_value": best.value,
        "best_trial": best.number,
        "n_trials": finished_trials(study),
        "params": jsonable(best_params),
    }
    result.model = model
    if out is not None:
        with writing(out):
            result.model_path = model.save(out)
    return result


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    write_atomically(path, table.to_csv(index=False))


__all__ = [
    "DEFAULT_SPACE",
    "SearchSpace",
    "TuneResult",
    "tune",
    "trials_table",
    "redact_url",
    "study_path",
    "trials_path",
]
