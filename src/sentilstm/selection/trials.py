"""One trial of a hyperparameter search and the record the study keeps of it: the objective (draw a configuration,
train it, score it, prune it early from per-epoch or per-fold scores), the rule that ends a worker's loop, the
log line of each finished trial, and the table of all trials. `sentilstm.selection.tuning` runs the study.

    objective = Objective(SentimentClassifier, texts, labels, space, base, "macro_f1", None, None)
    study.optimize(objective, callbacks=[StopRule(target=20)]); trials_table(study)
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from sentilstm.data.labels import Label
from sentilstm.errors import SentilstmError
from sentilstm.estimators.classifier import SentimentClassifier
from sentilstm.selection.space import SearchSpace
from sentilstm.training.loop import EpochStats, TrainingCallback

if TYPE_CHECKING:  # optuna is imported when a search runs, so `import sentilstm` stays fast
    import optuna

    from sentilstm.selection.crossval import FoldResult

log = logging.getLogger(__name__)
FAILURES_IN_A_ROW = 5  # a run whose first 5 trials all raise an error stops: a setting is wrong, not a combination
# a bad combination of options, or one too big for the device, ends its trial (as pruned), not the search
TRIAL_ERRORS = (SentilstmError, MemoryError, torch.cuda.OutOfMemoryError)
WORKER = (
    f"{socket.gethostname()}:{os.getpid()}"  # recorded on each trial: who ran it, when several workers share a study
)


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """A tidy table of a study's trials; the parameters are classifier arguments, not Optuna's names."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "seconds": trial.duration.total_seconds() if trial.duration else None,
                "steps": len(trial.intermediate_values),  # epochs (or folds) scored; a pruned trial stopped there
                "error": trial.user_attrs.get("error"),
                "worker": trial.user_attrs.get("worker"),
                **trial.user_attrs.get("params", trial.params),
            }
        )
    return pd.DataFrame(
        rows, columns=None if rows else ["number", "state", "value", "seconds", "steps", "error", "worker"]
    )


def jsonable(value: Any) -> Any:
    """`value` as JSON gives it back (tuples -> lists, anything else -> str): what a study's attributes can hold."""
    return json.loads(json.dumps(value, default=str))


class PruneOnEpoch(TrainingCallback):
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
class Objective:
    """One trial: draw a configuration, train it, return the validation (or mean cross-validated) score."""

    estimator: type[SentimentClassifier]  # what a held-out trial trains: `tune` passes the class it retrains with
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
        trial.set_user_attr("params", jsonable(drawn))
        trial.set_user_attr("worker", WORKER)
        params = {**self.base, **drawn}
        try:
            folds = self.cv_folds
            value = self._cross_validated(trial, params, folds) if folds else self._held_out(trial, params)
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
        clf = self.estimator(**params)
        clf.fit(self.texts, self.labels, validation=self.validation, callback=PruneOnEpoch(trial, self.metric))
        assert clf.history_ is not None  # fit sets it; only a model loaded from an old file may lack one
        trial.set_user_attr("best_epoch", clf.history_.best_epoch)
        return float(getattr(clf.validation_report_, self.metric))

    def _cross_validated(self, trial: optuna.Trial, params: dict[str, Any], folds: int) -> float:
        import optuna

        from sentilstm.selection.crossval import cross_validate

        scores: list[float] = []

        def on_fold(fold: FoldResult) -> None:  # prune on the running mean, one step per finished fold
            scores.append(float(getattr(fold.report, self.metric)))
            running = sum(scores) / len(scores)
            trial.report(running, len(scores))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {len(scores)} (mean {self.metric} {running:.4f})")

        result = cross_validate(
            self.texts,
            self.labels,
            params=params,
            folds=folds,
            seed=int(params.get("seed", 0)),
            jobs=1,
            on_fold=on_fold,
        )
        return float(result.mean(self.metric))


class StopRule:
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
        if finished_trials(study) >= self.target or self.hopeless:
            study.stop()

    @property
    def hopeless(self) -> bool:
        """Every trial of this run so far raised an error: a setting, not a sampled combination, is wrong."""
        return self.succeeded == 0 and self.errors_in_a_row >= FAILURES_IN_A_ROW


def finished_trials(study: optuna.Study) -> int:
    """How many of the study's trials count towards its target: complete or pruned (not failed, not running)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def log_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial, metric: str) -> None:
    """One line per finished trial: its state, time, score (and the best so far) or error, and its parameters."""
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


__all__ = [
    "FAILURES_IN_A_ROW",
    "TRIAL_ERRORS",
    "WORKER",
    "Objective",
    "PruneOnEpoch",
    "StopRule",
    "finished_trials",
    "jsonable",
    "log_trial",
    "trials_table",
]
