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
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import logging
import math
import os
import re
import socket
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import torch

from sentilstm.data.databases import with_installed_driver
from sentilstm.estimators.classifier import Blend, DERIVED_MODEL_FIELDS, SentimentClassifier
from sentilstm.config import MAX_SEED, ModelConfig, TextConfig, TrainConfig, check_choice, check_integer
from sentilstm.data.labels import Label, check_labels, check_texts
from sentilstm.errors import ConfigError, SentilstmError
from sentilstm.system.files import write_atomically, writing
from sentilstm.training.loop import EpochStats, TrainingCallback

if TYPE_CHECKING:  # optuna is imported when a search runs, so `import sentilstm` stays fast
    import optuna

log = logging.getLogger(__name__)
Metric = Literal["macro_f1", "accuracy", "weighted_f1", "loss"]
HEARTBEAT_SECONDS = 60  # a running trial writes a heartbeat this often; a dead worker's trial is found by its silence
GRACE_SECONDS = 120  # two missed heartbeats: the trial is failed and queued once more with the same parameters
FAILURES_IN_A_ROW = 5  # a run whose first 5 trials all raise an error stops: a setting is wrong, not a combination
# a bad combination of options, or one too big for the device, ends its trial (as pruned), not the search
TRIAL_ERRORS = (SentilstmError, MemoryError, torch.cuda.OutOfMemoryError)
PASSWORD = r"(://[^:/@]*:)[^/]*@"  # user:PASSWORD@ in a URL; a literal @ or / in a password must be %-escaped
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # recorded on each trial: who ran it, when several workers share a study
SPEC_FORMS = (
    "a fixed value, {'type': 'categorical', 'choices': [...]}, {'type': 'int', 'low': 1, 'high': 4, 'step': 1, "
    "'log': false}, {'type': 'float', 'low': 0.0001, 'high': 0.01, 'log': true}, {'type': 'fixed', 'value': ...} "
    "or {'type': 'conditional', 'on': PARAM, 'cases': {VALUE: spec}}"
)
SPEC_KEYS = {
    "fixed": {"value"}, "categorical": {"choices"}, "int": {"low", "high", "step", "log"},
    "float": {"low", "high", "step", "log"}, "conditional": {"on", "cases"},
}

# Every architecture, text and training option that matters for an LSTM sentiment model, over ranges that
# are sensible from a few thousand to a few hundred thousand texts. A key of a user's space file replaces
# the entry here; `"extend_default": false` in the file starts from an empty space instead.
DEFAULT_SPACE: dict[str, Any] = {
    "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
    "bidirectional": {"type": "categorical", "choices": [True, False]},
    "num_layers": {"type": "int", "low": 1, "high": 2},  # a third layer has not paid off for sentiment
    "hidden_size": {"type": "categorical", "choices": [64, 128, 256]},
    "embedding_dim": {"type": "categorical", "choices": [64, 128, 200]},
    "dropout": {"type": "float", "low": 0.1, "high": 0.5},
    "pooling": {"type": "categorical", "choices": ["last", "mean", "max", "attention", "concat"]},
    "conv_channels": {"type": "categorical", "choices": [0, 64, 128]},  # 0: no Conv1D n-gram front
    "learning_rate": {"type": "float", "low": 3e-4, "high": 5e-3, "log": True},
    "weight_decay": {"type": "float", "low": 1e-5, "high": 0.1, "log": True},
    "batch_size": {"type": "categorical", "choices": [32, 64, 128]},
    "max_length": {"type": "categorical", "choices": [None, 64, 128, 256]},  # None: 95th percentile of lengths
    "tokenizer": {"type": "categorical", "choices": ["word", "bpe", "unigram"]},
    # a word vocabulary and a subword vocabulary of the same size are very different models
    "vocab_size": {"type": "conditional", "on": "tokenizer", "cases": {
        "word": {"type": "categorical", "choices": [10_000, 30_000, 60_000]},
        "bpe": {"type": "categorical", "choices": [4_000, 8_000, 16_000]},
        "unigram": {"type": "categorical", "choices": [4_000, 8_000, 16_000]},
    }},
    "class_weight": {"type": "categorical", "choices": [None, "balanced"]},
}


def _param_names() -> list[str]:
    return sorted(SentimentClassifier().get_params())


def _check_name(name: Any, what: str) -> None:
    """Raise ConfigError unless `name` is a SentimentClassifier parameter, suggesting the closest one."""
    known = _param_names()
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{what} {name!r} is not a SentimentClassifier parameter{hint} "
                          "(the names are those of SentimentClassifier().get_params())")


def _case_key(value: Any) -> str:
    """How a parent's value names a case of a conditional spec: strings as they are, others as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _check_value(name: str, value: Any) -> None:
    """Raise ConfigError unless the classifier accepts `value` for `name` (as far as its configs can tell)."""
    for cls in (TextConfig, ModelConfig, TrainConfig):
        derived = DERIVED_MODEL_FIELDS if cls is ModelConfig else ()
        if name in {f.name for f in dataclasses.fields(cls)} and name not in derived:
            try:
                cls(**{name: value}).validate()
            except TypeError:
                raise ConfigError(f"{name} got {value!r}, a value of the wrong type") from None
            return
    if name == "blend" and value is not None:
        check_choice("blend", value, Blend)


@dataclass
class SearchSpace:
    """Parameter name -> spec: a fixed value or a dict such as {"type": "int", "low": 1, "high": 2}.

    Every name is a `SentimentClassifier` parameter; see `DEFAULT_SPACE` and `SPEC_FORMS`. A conditional spec
    draws from `cases[str(value of "on")]` (parameter named "NAME.VALUE" in Optuna), or leaves the
    library default when the parent's value has no case.
    """

    specs: dict[str, Any]

    def __post_init__(self) -> None:
        checked = {}
        for name, spec in self.specs.items():
            _check_name(name, "search space key")
            checked[name] = self._checked(name, spec)
        self.specs = checked

    def _checked(self, name: str, spec: Any, nested: bool = False) -> Any:
        """`spec` validated and normalised (case keys as strings); ConfigError naming `name` otherwise."""
        def fail(problem: str) -> ConfigError:
            return ConfigError(f"search space key {name!r}: {problem}; allowed forms: {SPEC_FORMS}")

        if not isinstance(spec, Mapping):
            return self._checked(name, {"type": "fixed", "value": spec}, nested)
        kind = spec.get("type")
        if kind not in SPEC_KEYS or (nested and kind == "conditional"):
            allowed = [k for k in SPEC_KEYS if not (nested and k == "conditional")]
            raise fail(f"'type' must be one of {allowed}, got {kind!r} (a dict value is fixed with "
                       "{'type': 'fixed', 'value': {...}})")
        extra = set(spec) - SPEC_KEYS[kind] - {"type"}
        missing = SPEC_KEYS[kind] - {"step", "log"} - set(spec)
        if extra or missing:
            raise fail(f"a {kind} spec has {'unknown keys ' + str(sorted(extra)) if extra else ''}"
                       f"{' and ' if extra and missing else ''}{'no ' + str(sorted(missing)) if missing else ''}")
        spec = dict(spec)
        try:
            if kind == "fixed":
                _check_value(name, spec["value"])
            elif kind == "categorical":
                choices = spec["choices"]
                if not isinstance(choices, list) or not choices:
                    raise fail(f"choices must be a non-empty list, got {choices!r}")
                for choice in choices:
                    if not (choice is None or isinstance(choice, (bool, int, float, str))):
                        raise fail(f"choices must be numbers, strings, booleans or null, got {choice!r}")
                    _check_value(name, choice)
            elif kind in ("int", "float"):
                number = int if kind == "int" else (int, float)
                low, high, step, use_log = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)
                if not all(isinstance(v, number) and not isinstance(v, bool) for v in (low, high)) or low > high:
                    raise fail(f"low and high must be {kind} numbers with low <= high, got {low!r} and {high!r}")
                if not isinstance(use_log, bool) or (use_log and (low <= 0 or step not in (None, 1))):
                    raise fail("log must be true or false; a log range needs low > 0 and no step")
                if step is not None and (not isinstance(step, number) or isinstance(step, bool) or step <= 0):
                    raise fail(f"step must be a positive {kind} number, got {step!r}")
                _check_value(name, low)
                _check_value(name, high)
            else:
                parent = self.specs.get(spec["on"])
                parent_kind = parent.get("type", "fixed") if isinstance(parent, Mapping) else "fixed"
                if spec["on"] == name or spec["on"] not in self.specs or parent_kind not in ("categorical", "fixed"):
                    raise fail(f"'on' must name another categorical or fixed parameter of the space, got {spec['on']!r}")
                if not isinstance(spec["cases"], Mapping) or not spec["cases"]:
                    raise fail(f"cases must map values of {spec['on']!r} to specs, got {spec['cases']!r}")
                spec["cases"] = {_case_key(k): self._checked(name, v, nested=True) for k, v in spec["cases"].items()}
        except ConfigError as exc:
            if str(exc).startswith("search space key"):
                raise
            raise ConfigError(f"search space key {name!r}: {exc}") from None
        return spec

    @classmethod
    def default(cls) -> SearchSpace:
        """The library's default space (`DEFAULT_SPACE`)."""
        return cls(copy.deepcopy(DEFAULT_SPACE))

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any] | None = None) -> SearchSpace:
        """The default space with the entries of a YAML/JSON file or mapping replacing or extending it.

        `"extend_default": false` in the source starts from an empty space instead of the default one.
        """
        if source is None:
            return cls.default()
        overrides = dict(source) if isinstance(source, Mapping) else _read_space_file(Path(source))
        extend = overrides.pop("extend_default", True)
        if not isinstance(extend, bool):
            raise ConfigError(f"extend_default must be true or false, got {extend!r}")
        return cls({**(copy.deepcopy(DEFAULT_SPACE) if extend else {}), **overrides})

    def updated(self, overrides: Mapping[str, Any]) -> SearchSpace:
        """A copy with `overrides` replacing or adding entries (a plain value fixes the parameter)."""
        return SearchSpace({**copy.deepcopy(self.specs), **overrides})

    @property
    def searched(self) -> list[str]:
        """Names of the parameters that are drawn, not fixed."""
        return [n for n, s in self.specs.items() if s["type"] != "fixed"]

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Draw one configuration: classifier keyword arguments, in the space's order."""
        params: dict[str, Any] = {}
        for name, spec in self.specs.items():
            if spec["type"] != "conditional":
                params[name] = _draw(trial, name, spec)
        for name, spec in self.specs.items():
            case = _case_key(params[spec["on"]]) if spec["type"] == "conditional" else None
            if case is not None and case in spec["cases"]:
                params[name] = _draw(trial, f"{name}.{case}", spec["cases"][case])
        return {name: params[name] for name in self.specs if name in params}

    def decode(self, optuna_params: Mapping[str, Any]) -> dict[str, Any]:
        """Classifier keyword arguments from a trial's Optuna parameters (as `suggest` drew them)."""
        import optuna

        return self.suggest(optuna.trial.FixedTrial(dict(optuna_params)))

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.specs)


def _draw(trial: optuna.trial.BaseTrial, name: str, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "fixed":
        return copy.deepcopy(spec["value"])
    if kind == "categorical":
        return trial.suggest_categorical(name, spec["choices"])
    suggest = trial.suggest_int if kind == "int" else trial.suggest_float
    return suggest(name, spec["low"], spec["high"], step=spec.get("step") or (1 if kind == "int" else None),
                   log=spec.get("log", False))


def _read_space_file(path: Path) -> dict[str, Any]:
    """A search space mapping from a .json file, or YAML (which also reads JSON) from anything else."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"search space file {str(path)!r} does not exist; give a YAML or JSON file")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        where = str(exc).splitlines()[-1].strip() if isinstance(exc, yaml.YAMLError) else str(exc)
        raise ConfigError(f"search space file {str(path)!r} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
                          f"{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"search space file {str(path)!r} must hold a mapping name -> spec, got {type(data).__name__}")
    return data


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ***, for logs, messages and model files."""
    return re.sub(PASSWORD, r"\1***@", url)


def _open_storage(storage: str | optuna.storages.BaseStorage | None, out: Path | None) -> tuple[Any, str | None]:
    """(Optuna storage or None for in-memory, printable URL): a heartbeat-enabled RDBStorage for a URL."""
    import optuna

    if storage is None and out is not None:
        storage = f"sqlite:///{study_path(out)}"
    if storage is None or not isinstance(storage, str):
        return storage, redact_url(str(getattr(storage, "url", type(storage).__name__))) if storage is not None else None
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
                return optuna.storages.RDBStorage(
                    with_installed_driver(storage), engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                    **{retry_key: Retry(max_retry=1)},
                ), redact_url(storage)
        except Exception as exc:  # sqlalchemy's ArgumentError/OperationalError, a missing driver, ...
            if attempt < 2 and _creation_race(exc):
                log.info("another worker is creating the tables of %s; trying again", redact_url(storage))
                time.sleep(0.5 + attempt)
                continue
            message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            password = re.search(PASSWORD, storage)
            if password:
                message = message.replace(password.group(0)[len(password.group(1)):-1] or "\0", "***")
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
        isinstance(exc, sqlalchemy.exc.DBAPIError) and any(w in message for w in ("locked", "already exists", "duplicate"))
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
        return _jsonable({
            "study_name": self.study.study_name, "storage": self.storage, "metric": self.metric,
            "direction": self.direction, "best_params": self.best_params,
            "best_value": None if math.isnan(self.best_value) else self.best_value,
            "counts": counts, "model_path": str(self.model_path) if self.model_path else None,
            "trials": table.to_dict(orient="records"),
        })


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """A tidy table of a study's trials; the parameters are classifier arguments, not Optuna's names."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        rows.append({
            "number": trial.number, "state": trial.state.name, "value": trial.value,
            "seconds": trial.duration.total_seconds() if trial.duration else None,
            "steps": len(trial.intermediate_values),  # epochs (or folds) scored; a pruned trial stopped there
            "error": trial.user_attrs.get("error"), "worker": trial.user_attrs.get("worker"),
            **trial.user_attrs.get("params", trial.params),
        })
    return pd.DataFrame(rows, columns=None if rows else ["number", "state", "value", "seconds", "steps", "error", "worker"])


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class _PruneOnEpoch(TrainingCallback):
    """Reports each epoch's validation score to the trial and stops training when the pruner says so."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric

    def on_epoch_end(self, stats: EpochStats, improved: bool) -> None:
        import optuna

        value = getattr(stats, f"val_{self.metric}")
        self.trial.report(value, stats.epoch)
        if self.trial.should_prune():  # propagates out of fit(); no checkpoint is written without checkpoint_path
            raise optuna.TrialPruned(f"pruned after epoch {stats.epoch} (validation {self.metric} {value:.4f})")


@dataclass
class _Objective:
    """One trial: draw a configuration, train it, return the validation (or mean cross-validated) score."""

    texts: list[str]
    labels: list[Label]
    space: SearchSpace
    base: dict[str, Any]
    metric: str
    cv_folds: int | None
    validation: tuple[Iterable[str], Iterable[Label]] | None

    def __call__(self, trial: optuna.Trial) -> float:
        import optuna

        drawn = self.space.suggest(trial)
        trial.set_user_attr("params", _jsonable(drawn))
        trial.set_user_attr("worker", WORKER)
        params = {**self.base, **drawn}
        try:
            value = self._cross_validated(trial, params) if self.cv_folds else self._held_out(trial, params)
        except KeyboardInterrupt:  # the trial ends FAIL, does not count, and the search stops
            trial.set_user_attr("error", "interrupted")
            raise
        except TRIAL_ERRORS as exc:
            value, message = math.nan, f"{type(exc).__name__}: {exc}"
        else:
            message = f"the validation {self.metric} is NaN (training diverged)"
        if math.isnan(value):
            # Pruned, not failed: TPE ranks a pruned trial without scores below every other trial and
            # steers away from its region, while it ignores failed ones and would keep drawing the bad combination.
            trial.set_user_attr("error", message[:500])
            raise optuna.TrialPruned(message)
        return value

    def _held_out(self, trial: optuna.Trial, params: dict[str, Any]) -> float:
        clf = SentimentClassifier(**params)
        clf.fit(self.texts, self.labels, validation=self.validation, callback=_PruneOnEpoch(trial, self.metric))
        trial.set_user_attr("best_epoch", clf.history_.best_epoch)
        return float(getattr(clf.validation_report_, self.metric))

    def _cross_validated(self, trial: optuna.Trial, params: dict[str, Any]) -> float:
        import optuna

        from sentilstm.selection.crossval import cross_validate

        scores: list[float] = []

        def on_fold(fold: Any) -> None:  # prune on the running mean, one step per finished fold
            scores.append(float(getattr(fold.report, self.metric)))
            running = sum(scores) / len(scores)
            trial.report(running, len(scores))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {len(scores)} (mean {self.metric} {running:.4f})")

        result = cross_validate(self.texts, self.labels, params=params, folds=self.cv_folds,
                                seed=int(params.get("seed", 0)), jobs=1, on_fold=on_fold)
        return float(result.mean(self.metric))


class _StopRule:
    """Ends this worker's loop once the study holds `target` finished trials, or when nothing works."""

    def __init__(self, target: int) -> None:
        self.target, self.errors_in_a_row, self.succeeded = target, 0, 0
        self.first_error: str | None = None

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        error = trial.user_attrs.get("error")
        if error:
            self.errors_in_a_row += 1
            self.first_error = self.first_error or error
        else:
            self.errors_in_a_row, self.succeeded = 0, self.succeeded + 1
        if _finished(study) >= self.target or self.hopeless:
            study.stop()

    @property
    def hopeless(self) -> bool:
        """Every trial of this run so far raised an error: a setting, not a sampled combination, is wrong."""
        return self.succeeded == 0 and self.errors_in_a_row >= FAILURES_IN_A_ROW


def _finished(study: optuna.Study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _log_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial, metric: str) -> None:
    seconds = trial.duration.total_seconds() if trial.duration else 0.0
    params = " ".join(f"{k}={v}" for k, v in trial.user_attrs.get("params", trial.params).items())
    if trial.value is not None:
        outcome = f"{metric} {trial.value:.4f}"
        try:
            outcome += f" (best {study.best_value:.4f}, trial {study.best_trial.number})"
        except ValueError:
            pass
    else:
        outcome = trial.user_attrs.get("error") or f"pruned after {len(trial.intermediate_values)} steps"
    log.info("trial %d %s in %.1fs: %s | %s", trial.number, trial.state.name.lower(), seconds, outcome, params)


def _open_study(storage: Any, name: str, space: SearchSpace, setup: dict[str, Any], seed: int,
                pruner: optuna.pruners.BasePruner | None, where: str) -> optuna.Study:
    """Create or load the study; a loaded one must have been made with the same space, metric and objective."""
    import optuna

    # Median rule rather than Hyperband: trials end at different epochs (early stopping), it needs no
    # resource bounds, and it is sound with the 20-100 trials of a typical search. It waits for 5 finished
    # trials and never judges the first epoch (warm-up makes epoch-1 scores noisy).
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    direction = "minimize" if setup["metric"] == "loss" else "maximize"
    study = optuna.create_study(storage=storage, study_name=name, direction=direction, pruner=pruner, load_if_exists=True)
    stored = study.user_attrs.get("sentilstm")
    current = _jsonable({**setup, "space": space.to_dict()})
    if stored is None:
        study.set_user_attr("sentilstm", current)
    else:
        for key, what in (("metric", "metric"), ("cv_folds", "cv_folds"), ("space", "search space")):
            if stored.get(key) != current[key]:
                raise ConfigError(f"study {name!r} in {where} was made with another {what} ({stored.get(key)!r}); "
                                  f"resume it with the same one, or give a new --study-name for this {what}")
        if stored.get("base_params") != current["base_params"]:
            log.warning("study %r was made with fixed parameters %s, this run uses %s; their scores may not compare",
                        name, stored.get("base_params"), current["base_params"])
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
    callback: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
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
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 0:
        raise ConfigError(f"trials must be a whole number >= 0 (the finished trials the study should hold), got {trials!r}")
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
        _check_name(name, "base parameter")
        try:
            _check_value(name, value)
        except ConfigError as exc:
            raise ConfigError(f"base parameter {name!r}: {exc}") from None
    search = space if isinstance(space, SearchSpace) else SearchSpace.load(space)
    search = search.updated({k: v for k, v in user.items() if k in search.specs})  # fixed by the user
    base = {"seed": seed, **({"monitor": metric} if metric in ("macro_f1", "accuracy", "loss") else {}),
            **{k: v for k, v in user.items() if k not in search.specs}, "blend": None}
    out = Path(out) if out is not None else None
    storage, where = _open_storage(storage, out)
    name = study_name or (out.stem if out is not None else "sentilstm")
    setup = {"metric": metric, "cv_folds": cv_folds, "base_params": {k: v for k, v in base.items() if k != "blend"}}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # trials are logged here, without Optuna's tracebacks
    try:
        study = _open_study(storage, name, search, setup, seed, pruner, where or "memory")
        done = _finished(study)
        log.info("study %r in %s holds %d finished trials; target %d", name, where or "memory", done, trials)
        if done < trials:
            stop = _StopRule(trials)
            callbacks = [stop, lambda s, t: _log_trial(s, t, metric), *([callback] if callback else [])]
            objective = _Objective(texts, labels, search, base, metric, cv_folds, validation)
            study.optimize(objective, timeout=timeout, callbacks=callbacks)
            if stop.errors_in_a_row and not stop.succeeded:
                raise ConfigError(f"the {stop.errors_in_a_row} trials of this run all failed, the first with: "
                                  f"{stop.first_error}")
    finally:
        optuna.logging.set_verbosity(verbosity)
    return _result(study, texts, labels, search, base, user, metric, validation, out, retrain, where)


def _result(study: optuna.Study, texts: list[str], labels: list[Label], space: SearchSpace, base: dict[str, Any],
            user: dict[str, Any], metric: str, validation: Any, out: Path | None, retrain: bool,
            where: str | None) -> TuneResult:
    """Best configuration, trials table, and (with `retrain`) the best configuration trained and saved."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = study.best_trial if complete else None
    best_params = {}
    if best is not None:  # as trained; decoded from Optuna's names for a trial added by hand
        best_params = best.user_attrs["params"] if "params" in best.user_attrs else space.decode(best.params)
    result = TuneResult(study, metric, study.direction.name.lower(), best_params,
                        best.value if best else math.nan, study.trials_dataframe(), None, None, where)
    if out is not None and study.trials:
        _write_csv(result.trials_table(), trials_path(out))
    if not retrain:
        return result
    if best is None:
        raise ConfigError(f"study {study.study_name!r} has no completed trial to retrain ({len(study.trials)} trials, "
                          "all pruned or failed); run more trials, or check the errors in the trials table")
    params = {**base, "blend": user.get("blend", "auto"), **best_params}
    log.info("retraining trial %d's configuration (%s %.4f) on %d texts", best.number, metric, best.value, len(texts))
    model = SentimentClassifier(**params).fit(texts, labels, validation=validation)
    model.metrics_["tuning"] = {
        "study": study.study_name, "storage": where, "metric": metric, "direction": result.direction,
        "best_value": best.value, "best_trial": best.number, "n_trials": _finished(study), "params": _jsonable(best_params),
    }
    result.model = model
    if out is not None:
        with writing(out):
            result.model_path = model.save(out)
    return result


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    write_atomically(path, table.to_csv(index=False))


__all__ = ["DEFAULT_SPACE", "SearchSpace", "TuneResult", "tune", "trials_table", "redact_url", "study_path", "trials_path"]
