"""Experiment tracking: a run's parameters, per-epoch metrics, reports and files in MLflow.

    with MlflowTracker("file:///tmp/mlruns", experiment="imdb") as tracker:   # ends FAILED if the block raises
        clf.fit(texts, labels, callback=tracker.callback()); tracker.log_params(clf.get_params())
        tracker.log_metrics(clf.validation_report_.to_dict(), "validation")
        tracker.log_artifact(clf.save("m.sentilstm"))

MLflow is optional (`pip install 'sentilstm[mlflow]'`) and imported only when a tracker is made. No server is
needed: the default store is a local `mlruns/` folder (a `file:` URI); any other tracking URI (`sqlite:///mlflow.db`,
`http://host:5000`, `databricks`) is passed to MLflow as it is. `Tracker` is the same interface doing nothing, so a
command can log unconditionally and let `--no-mlflow` decide.
"""

from __future__ import annotations

import logging
import numbers
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlparse

from sentilstm.errors import ConfigError, SentilstmError
from sentilstm.training.loop import EpochStats, TrainingCallback

log = logging.getLogger(__name__)

RunStatus = Literal["FINISHED", "FAILED", "KILLED"]
DEFAULT_EXPERIMENT = "sentilstm"
# Limits of MLflow's log_batch API (mlflow.utils.validation): at most 100 params/tags and 1000 metrics per request.
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
# Current stores accept 6000-character param values, but MLflow < 2 servers and Databricks stop at 500;
# a longer value (a stop-word list, a class_weight dict) is cut so that logging works against any of them.
MAX_PARAM_LENGTH = 500
MAX_TAG_LENGTH = 5000
MAX_KEY_LENGTH = 250
# Recent MLflow 3.x (3.17 here) refuses a filesystem store ("maintenance mode") unless this is set; we set it
# while a `file:` run talks to its store (the default `mlruns/` and the tests use one; sqlite:/// needs no opt-in).
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"
INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT: the exit code of a command stopped with Ctrl-C


class Tracker:
    """Experiment tracking that records nothing: the interface `MlflowTracker` implements, for runs without it.

    tracker = MlflowTracker(uri) if wanted else Tracker()
    """

    run_id: str | None = None
    tracking_uri: str | None = None
    status: RunStatus | None = None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record hyperparameters and settings (nested dicts are flattened to "outer.inner")."""

    def log_metrics(self, metrics: Mapping[str, Any], prefix: str = "", step: int | None = None) -> None:
        """Record the numbers in `metrics` (nested dicts such as an EvaluationReport's become "prefix/outer/inner")."""

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Store a file, or a folder with its contents, with the run."""

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Attach searchable labels to the run."""

    def callback(self) -> TrainingCallback | None:
        """A training callback that records every epoch's statistics, or None when nothing is recorded."""
        return None


class MlflowTracker(Tracker):
    """One MLflow run, started on `with` (or `start()`) and ended on leaving it.

    The run ends FINISHED, FAILED when an exception escapes the block, KILLED on Ctrl-C (KeyboardInterrupt, or a
    command's exit code 130). It uses its own `MlflowClient`: no global MLflow state is read or left behind, so
    nothing stays active after an error. `tracking_uri` None means $MLFLOW_TRACKING_URI, else `./mlruns`; a plain
    path is a local file store.

        with MlflowTracker(experiment="imdb", run_name="bilstm") as tracker: clf.fit(X, y, callback=tracker.callback())
    """

    tracking_uri: str  # resolved in __init__

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str = DEFAULT_EXPERIMENT,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        _import_mlflow()  # a missing MLflow fails here, before any training
        if not isinstance(experiment, str) or not experiment.strip():
            raise ConfigError(f"the MLflow experiment must be a non-empty name, got {experiment!r}")
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.experiment = experiment
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.run_id: str | None = None
        self.status: RunStatus | None = None
        self._client: Any = None

    # ----- the run's life ------------------------------------------------------------------------
    def __enter__(self) -> MlflowTracker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end(run_status(exc))

    def start(self) -> MlflowTracker:
        """Create the experiment if needed and start the run; MLflow's errors become one-line ConfigErrors."""
        if self.run_id is not None:
            raise RuntimeError(
                f"MLflow run {self.run_id} was already started; make a new MlflowTracker for another run"
            )
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            with _file_store_allowed(self.tracking_uri):
                self._client = MlflowClient(self.tracking_uri)
                experiment_id = self._experiment_id()
                run = self._client.create_run(experiment_id, run_name=self.run_name, tags=_run_tags(self.tags))
        except (MlflowException, OSError) as exc:
            raise ConfigError(
                f"could not start an MLflow run in experiment {self.experiment!r} at {self.tracking_uri}: "
                f"{_first_line(exc)}"
            ) from exc
        self.run_id = run.info.run_id
        log.info("MLflow run %s in experiment %r at %s", self.run_id, self.experiment, self.tracking_uri)
        return self

    def end(self, status: RunStatus = "FINISHED") -> None:
        """Mark the run FINISHED, FAILED or KILLED. Never raises: a store that fails now is logged as a warning,
        so ending a run cannot hide the error that ended it."""
        if self.run_id is None or self.status is not None:
            return
        self.status = status
        try:
            with _file_store_allowed(self.tracking_uri):
                self._client.set_terminated(self.run_id, status)
        except Exception as exc:  # noqa: BLE001 - cleanup must not mask the outcome
            log.warning(
                "could not mark MLflow run %s as %s (%s); it may show as RUNNING", self.run_id, status, _first_line(exc)
            )

    # ----- logging -------------------------------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters as strings (MLflow's type), nested dicts flattened to "outer.inner", long values cut
        to MAX_PARAM_LENGTH characters. A key logged again must keep its value (MLflow's rule)."""
        from mlflow.entities import Param

        flat = flatten(params, ".")
        entries = [Param(key_name(key), _clip(_as_text(value), MAX_PARAM_LENGTH)) for key, value in flat.items()]
        for start in range(0, len(entries), PARAMS_PER_BATCH):
            self._log_batch(params=entries[start : start + PARAMS_PER_BATCH])

    def log_metrics(self, metrics: Mapping[str, Any], prefix: str = "", step: int | None = None) -> None:
        """Record every number in `metrics` under "prefix/name" (nested dicts: "prefix/outer/inner"); None,
        booleans, text and lists (a confusion matrix, the labels) are skipped."""
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        flat = flatten({prefix: dict(metrics)} if prefix else metrics, "/")
        entries = [
            Metric(key_name(key), float(value), timestamp, step or 0)
            for key, value in flat.items()
            if _is_number(value)
        ]
        for start in range(0, len(entries), METRICS_PER_BATCH):
            self._log_batch(metrics=entries[start : start + METRICS_PER_BATCH])

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Store a file, or a folder under its own name, in the run's artifacts (under `artifact_path` if given)."""
        path = Path(path)
        client = self._active_client()
        with _file_store_allowed(self.tracking_uri), self._store_errors(f"store {path.name!r} in"):
            if path.is_dir():
                client.log_artifacts(self.run_id, str(path), artifact_path=_join(artifact_path, path.name))
            elif path.is_file():
                client.log_artifact(self.run_id, str(path), artifact_path=artifact_path)
            else:
                raise FileNotFoundError(f"cannot log {str(path)!r} to MLflow: no such file or folder")

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Attach tags (values as strings) to the run."""
        from mlflow.entities import RunTag

        entries = [RunTag(key_name(key), _clip(_as_text(value), MAX_TAG_LENGTH)) for key, value in tags.items()]
        for start in range(0, len(entries), PARAMS_PER_BATCH):
            self._log_batch(tags=entries[start : start + PARAMS_PER_BATCH])

    def callback(self) -> TrainingCallback:
        """A training callback logging each epoch's losses, validation scores, learning rate, speed and per-layer
        gradient norms ("grad_norm/<layer>") with step = epoch number."""
        return _EpochMetrics(self)

    def _log_batch(self, **entries: list[Any]) -> None:
        client = self._active_client()
        with _file_store_allowed(self.tracking_uri), self._store_errors("log to"):
            client.log_batch(self.run_id, **entries)

    @contextmanager
    def _store_errors(self, action: str) -> Iterator[None]:
        """A store or server failure (gone, full, refusing) as one line naming the URI, not an MLflow traceback."""
        try:
            yield
        except (SentilstmError, FileNotFoundError):
            raise
        except Exception as exc:  # noqa: BLE001 - MlflowException, requests' ConnectionError, OSError...
            raise ConfigError(
                f"could not {action} MLflow run {self.run_id} at {self.tracking_uri}: {_first_line(exc)}; "
                "check that the tracking store is reachable (--mlflow-uri)"
            ) from None

    def _active_client(self) -> Any:
        if self.run_id is None or self.status is not None:
            state = "has ended" if self.status else "has not started"
            raise RuntimeError(
                f"the MLflow run {state}; log inside `with MlflowTracker(...) as tracker:` or after start()"
            )
        return self._client

    def _experiment_id(self) -> str:
        """The experiment's id, creating it on first use (tolerating a parallel run creating it too)."""
        from mlflow.exceptions import MlflowException

        experiment = self._client.get_experiment_by_name(self.experiment)
        if experiment is None:
            try:
                return self._client.create_experiment(self.experiment)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                experiment = self._client.get_experiment_by_name(self.experiment)
        if experiment.lifecycle_stage != "active":
            raise ConfigError(
                f"MLflow experiment {self.experiment!r} at {self.tracking_uri} is deleted; restore it "
                f"(mlflow experiments restore --experiment-id {experiment.experiment_id}) or name another experiment"
            )
        return experiment.experiment_id


class _EpochMetrics(TrainingCallback):
    """Logs an EpochStats per epoch. A store that fails mid-training costs a warning, not the training run."""

    def __init__(self, tracker: MlflowTracker) -> None:
        self.tracker = tracker
        self.failed = False

    def on_epoch_end(self, stats: EpochStats, improved: bool) -> None:
        metrics = {
            "train_loss": stats.train_loss,
            "val_loss": stats.val_loss,
            "val_accuracy": stats.val_accuracy,
            "val_macro_f1": stats.val_macro_f1,
            "val_weighted_f1": stats.val_weighted_f1,
            "learning_rate": stats.learning_rate,
            "samples_per_second": stats.samples_per_second,
            "epoch_seconds": stats.seconds,
            "grad_norm": stats.gradient_norms,
        }
        try:
            self.tracker.log_metrics(metrics, step=stats.epoch)
        except Exception as exc:  # noqa: BLE001 - hours of training outweigh one epoch's metrics
            if not self.failed:
                log.warning("could not log epoch %d to MLflow (%s); training goes on", stats.epoch, _first_line(exc))
            self.failed = True


class _Chain(TrainingCallback):
    def __init__(self, callbacks: list[TrainingCallback]) -> None:
        self.callbacks = callbacks

    def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
        for callback in self.callbacks:
            callback.on_epoch_start(epoch, num_epochs, num_batches)

    def on_step(self, epoch: int, step: int, loss: float) -> None:
        for callback in self.callbacks:
            callback.on_step(epoch, step, loss)

    def on_epoch_end(self, stats: EpochStats, improved: bool) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(stats, improved)


def chain(*callbacks: TrainingCallback | None) -> TrainingCallback:
    """One callback calling each given one in order (None entries are skipped), e.g. a progress bar and a tracker.

    clf.fit(X, y, callback=chain(bar.callback, tracker.callback()))
    """
    return _Chain([c for c in callbacks if c is not None])


def run_status(exc: BaseException | None) -> RunStatus:
    """How a run ends after `exc` escaped it: KILLED for Ctrl-C (KeyboardInterrupt or exit code 130), FINISHED for no
    exception or a zero exit code (SystemExit, or a CLI framework's Exit with `exit_code`), FAILED otherwise."""
    if exc is None:
        return "FINISHED"
    if isinstance(exc, KeyboardInterrupt):
        return "KILLED"
    if isinstance(exc, SystemExit):
        code = exc.code
    elif hasattr(exc, "exit_code"):  # click/typer's Exit: how a command that caught its own error ends
        code = exc.exit_code
    else:
        return "FAILED"
    if code in (0, None):
        return "FINISHED"
    return "KILLED" if code == INTERRUPTED_EXIT_CODE else "FAILED"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The tracking URI to use: `uri`; else $MLFLOW_TRACKING_URI; else `./mlruns` (absolute `file:` URI). A plain path
    becomes a `file:` URI; anything with a scheme (sqlite:, http:, databricks) is returned as it is."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or "mlruns"
    if len(urlparse(uri).scheme) <= 1 and uri != "databricks":  # no scheme, or a Windows drive ("C:\\runs")
        return Path(uri).expanduser().resolve().as_uri()
    return uri


def key_name(name: Any) -> str:
    """`name` as a valid MLflow param/metric/tag key: characters other than letters, digits, "_", "-", ".", " " and
    "/" become "_" (":" too: Windows refuses it), and no "/"-separated part may be empty, "." or ".." (stores keep
    keys as paths): "per_class/très bien?/f1" -> "per_class/très bien_/f1"."""
    cleaned = re.sub(r"[^\w.\- /]", "_", str(name)[:MAX_KEY_LENGTH])
    return "/".join("_" if part.strip() in ("", ".", "..") else part for part in cleaned.split("/"))


def flatten(data: Mapping[str, Any], separator: str) -> dict[str, Any]:
    """{"a": {"b": 1}, "c": 2} -> {"a<sep>b": 1, "c": 2}; an empty dict stays a value."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            flat.update({f"{key}{separator}{inner}": v for inner, v in flatten(value, separator).items()})
        else:
            flat[str(key)] = value
    return flat


def _import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise ConfigError("--mlflow needs MLflow: pip install 'sentilstm[mlflow]'") from None
    return mlflow


@contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """Let recent MLflow open a `file:` store (it refuses unless MLFLOW_ALLOW_FILE_STORE is set); a value the user
    set is kept, and ours is removed afterwards."""
    if urlparse(uri).scheme != "file" or ALLOW_FILE_STORE in os.environ:
        yield
        return
    os.environ[ALLOW_FILE_STORE] = "true"
    try:
        yield
    finally:
        os.environ.pop(ALLOW_FILE_STORE, None)


def _run_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """MLflow's usual run tags (user, source, git commit) as its fluent API adds them, then ours."""
    from sentilstm._version import __version__

    ours = {
        key_name(k): _clip(_as_text(v), MAX_TAG_LENGTH) for k, v in {"sentilstm.version": __version__, **tags}.items()
    }
    try:
        from mlflow.tracking.context.registry import resolve_tags
    except ImportError:  # an internal module; without it the run just lacks user/source tags
        return ours
    return resolve_tags(ours)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(*parts: str | None) -> str:
    return "/".join(p.strip("/") for p in parts if p)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


__all__ = [
    "DEFAULT_EXPERIMENT",
    "MlflowTracker",
    "RunStatus",
    "Tracker",
    "chain",
    "flatten",
    "key_name",
    "resolve_tracking_uri",
    "run_status",
]
