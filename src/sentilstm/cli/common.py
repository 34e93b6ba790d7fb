"""What every command shares: the Typer app, one-line errors (`friendly`), logging, progress bars, printed
reports, the machinery of options (those of config `Literal` types, the --set help, declared options), reading the
training tables, checked outputs and MLflow. The options themselves are in `options.py`."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import math
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table as RichTable
from rich.text import Text

from sentilstm.errors import SentilstmError

if TYPE_CHECKING:
    from sentilstm.data.tables import Table
    from sentilstm.estimators.evaluation import EvaluationReport
    from sentilstm.report.tracking import Tracker
    from sentilstm.training.progress import ProgressBar

app = typer.Typer(no_args_is_help=True, help="Train, evaluate and use LSTM sentiment classifiers.")
# markup=False: paths, texts and labels are user data, and "[b]" or "[/x]" in them must print as they are
console = Console(stderr=True, markup=False)
out = Console(markup=False)


def _print_version(asked: bool) -> None:
    if asked:
        from sentilstm._version import __version__

        out.print(f"sentilstm {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Train, evaluate and use LSTM sentiment classifiers."""


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_time=False, show_path=False)],
        force=True,
    )


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors into one line on stderr and exit code 2 (no traceback). Every number given on the command
    line is checked first: finite (no nan or inf) and within 64 bits; each command and the library check ranges."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            check_numbers(command, kwargs)
            return command(*args, **kwargs)
        except SentilstmError as exc:
            print_error(str(exc))
        except OSError as exc:  # what no writer mapped (OutputError is a SentilstmError): still one line
            where = f" ({exc.filename})" if exc.filename else ""
            print_error(f"{exc.strerror or exc}{where}; check the path, its permissions and the free disk space")
        except MemoryError:
            print_error(
                "ran out of memory; use smaller sizes (--hidden-size, --embedding-dim, --batch-size, --vocab-size) "
                "or less data"
            )
        except KeyboardInterrupt:
            console.print("interrupted")
            raise typer.Exit(130) from None
        raise typer.Exit(2)

    return wrapper


def print_error(message: str) -> None:
    console.print(Text.assemble(("error:", "red"), f" {message}"), highlight=False, soft_wrap=True)


def check_numbers(command: Callable[..., Any], values: dict[str, Any]) -> None:
    """nan, inf and integers beyond 64 bits fail for every option, naming it; ranges are each option's own."""
    from sentilstm.errors import ConfigError

    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{option_name(command, name)} must be a finite number, got {value}")
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            raise ConfigError(f"{option_name(command, name)} must be a whole number of at most 19 digits, got {value}")


def option_name(command: Callable[..., Any], name: str) -> str:
    """The option as the user types it (--learning-rate, --C) for a parameter name (learning_rate, c)."""
    hint = typing.get_type_hints(command, include_extras=True).get(name)
    for info in getattr(hint, "__metadata__", ()):
        # in Annotated[..., typer.Option("--out")] typer keeps the first name in `default`
        names = [getattr(info, "default", None), *(getattr(info, "param_decls", None) or ())]
        declared = [d for d in names if isinstance(d, str) and d.startswith("--")]
        if declared:
            return declared[0]
        if isinstance(info, typer.models.ArgumentInfo):
            return name.upper()
    return "--" + name.replace("_", "-")


def progress_bar() -> ProgressBar:
    """The training progress bar, on this console (`sentilstm.training.progress`, imported when training starts)."""
    from sentilstm.training.progress import ProgressBar

    return ProgressBar(console)


def print_predictor(clf: Any, *, trained: bool = True) -> None:
    """Which part of a model made the scores above (network, linear model or their blend); after training, for a
    blend, the network's own test scores beside them."""
    from sentilstm.estimators.blend import network_dropped, predictor

    out.print(f"predictions by: {predictor(clf)}")
    alone = (getattr(clf, "metrics_", None) or {}).get("test_network")
    if alone and trained:
        out.print(f"test, network alone: accuracy {alone['accuracy']:.4f}, macro F1 {alone['macro_f1']:.4f}")
    if network_dropped(clf):
        console.print(
            "warning: the network adds nothing on the validation split, so these are the linear model's predictions "
            "alone; train longer or larger, or use --blend none to see the network's own scores"
        )


def print_report(report: EvaluationReport, title: str) -> None:
    """Metrics, per-class table and confusion matrix of an EvaluationReport."""
    summary = RichTable(title=title, show_header=True)
    for name in ("examples", "accuracy", "macro F1", "weighted F1", "ROC-AUC", "loss"):
        summary.add_column(name, justify="right")
    auc = "n/a" if report.roc_auc is None else f"{report.roc_auc:.4f}"
    summary.add_row(
        str(report.num_examples),
        f"{report.accuracy:.4f}",
        f"{report.macro_f1:.4f}",
        f"{report.weighted_f1:.4f}",
        auc,
        f"{report.loss:.4f}",
    )
    out.print(summary)
    per_class = RichTable(title="per class")
    for name in ("label", "precision", "recall", "F1", "support"):
        per_class.add_column(name, justify="right")
    for label, metrics in report.per_class.items():
        per_class.add_row(
            label, f"{metrics.precision:.4f}", f"{metrics.recall:.4f}", f"{metrics.f1:.4f}", str(metrics.support)
        )
    out.print(per_class)
    from sentilstm.estimators.evaluation import MAX_MATRIX_CLASSES

    if len(report.labels) > MAX_MATRIX_CLASSES:  # K x K cells would be unreadable (and slow to draw)
        out.print(confusions_table(report))
        return
    matrix = RichTable(title="confusion matrix (rows: true, columns: predicted)")
    matrix.add_column("true \\ pred")
    for label in report.labels:
        matrix.add_column(str(label), justify="right")
    for label, row in zip(report.labels, report.confusion_matrix):
        matrix.add_row(str(label), *map(str, row))
    out.print(matrix)


def confusions_table(report: EvaluationReport, k: int = 20) -> RichTable:
    """The most frequent errors, for a confusion matrix too large to print."""
    from sentilstm.estimators.evaluation import top_confusions

    table = RichTable(
        title=f"most frequent confusions ({len(report.labels)} classes; every count is in the JSON metrics)"
    )
    for name in ("true", "predicted", "texts", "share of true"):
        table.add_column(name, justify="right")
    for true, predicted, count, share in top_confusions(report.confusion_matrix, report.labels, k):
        table.add_row(str(true), str(predicted), str(count), f"{share:.1%}")
    return table


def literal_option(kind: Any, field: str, lead: str) -> Any:
    """A Typer option taking one of a config `Literal` type's values (or a registry's names, `config.Choices`): its
    help is `lead` and then those values ("Recurrent cell: lstm or gru.", a registry entry's help beside its name),
    and a bad one fails while the command line is parsed, with the library's own one-line error (`cell must be one
    of ['lstm', 'gru'], got 'rnn'`)."""
    from sentilstm.config import allowed_values, check_choice, described_values
    from sentilstm.errors import ConfigError

    def parse(value: str) -> str:
        try:
            check_choice(field, value, kind)
        except ConfigError as exc:
            print_error(str(exc))
            raise typer.Exit(2) from None
        return value

    values = [str(value) for value in allowed_values(kind) or []]
    return typer.Option(
        parser=parse, metavar="[" + "|".join(values) + "]", help=f"{lead} {_listed(described_values(kind))}."
    )


def _listed(values: list[Any]) -> str:
    """'a, b or c'."""
    words = [str(value) for value in values]
    return f"{', '.join(words[:-1])} or {words[-1]}" if len(words) > 1 else words[0]


def settings_help(lead: str, flagged: Iterable[str] = ()) -> str:
    """The help of --set: `lead`, then each config field that has no named flag (`flagged`) with its help from
    `config.FIELD_HELP` and the values of its Literal type, so that the list can never go stale."""
    from sentilstm.config import (
        DERIVED_MODEL_FIELDS,
        FIELD_HELP,
        BlendConfig,
        ModelConfig,
        TextConfig,
        TrainConfig,
        described_values,
    )

    named = []
    for config in (TextConfig, ModelConfig, TrainConfig, BlendConfig):
        hints = typing.get_type_hints(config, include_extras=True)
        for item in dataclasses.fields(config):
            if item.name in flagged or (config is ModelConfig and item.name in DERIVED_MODEL_FIELDS):
                continue
            hint = hints[item.name]
            members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
            choices = [v for m in members for v in described_values(m)]
            text = FIELD_HELP.get(item.name, "")
            named.append(
                f"{item.name}: {text} {_listed(choices)}." if text.endswith(":") and choices else f"{item.name}: {text}"
            )
    return f"{lead} Settings without a flag here: {' '.join(named)}"


def training_tables(
    data: Path | None,
    dataset: str | None,
    dataset_path: Path | None,
    validation: Path | None,
    test: Path | None,
    **options: Any,
) -> tuple[Table, Table | None, Table | None, list[str]]:
    """(train, validation or None, test or None, unlabelled texts) from DATA or a named dataset, plus overrides."""
    from sentilstm.data.datasets import load_dataset
    from sentilstm.data.tables import read_table
    from sentilstm.errors import DataError

    unlabeled: list[str] = []
    val_table: Table | None = None
    test_table: Table | None = None
    if data is not None and dataset is None:
        if dataset_path is not None:
            raise DataError("--dataset-path needs --dataset NAME, the dataset it holds")
        train_table = read_table(data, **options)
    elif dataset is not None and data is None:
        splits = load_dataset(dataset, path=dataset_path)
        train_table, val_table, test_table = splits.train, splits.validation, splits.test
        unlabeled = splits.unlabeled or []
    else:
        raise DataError("give either a DATA file or --dataset NAME (not both, not neither)")
    if validation is not None:
        val_table = read_table(validation, **options)
    if test is not None:
        test_table = read_table(test, **options)
    return train_table, val_table, test_table, unlabeled


def check_out_paths(inputs: dict[str, Any] | None = None, **paths: Path | None) -> None:
    """Before any work: every output (keyword: option name) writable, none of them an input (MODEL, DATA...)."""
    from sentilstm.system.files import check_outputs

    check_outputs({f"--{option.replace('_', '-')}": path for option, path in paths.items()}, inputs or {})


def make_tracker(ctx: typer.Context, use_mlflow: bool | None, uri: str | None, experiment: str) -> Tracker:
    """The command's MLflow run (a no-op Tracker without --mlflow), started now and ended with the command:
    FINISHED, FAILED on an error, KILLED on Ctrl-C; its id and URI are printed last. For train, cv, tune:

        tracker = make_tracker(ctx, use_mlflow, mlflow_uri, mlflow_experiment); tracker.log_params(...)
        fit(..., callback=chain(bar.callback, tracker.callback())); tracker.log_metrics(...); tracker.log_artifact(...)
    """
    from sentilstm.report.tracking import MlflowTracker, Tracker

    if not (use_mlflow if use_mlflow is not None else uri is not None):
        return Tracker()
    tracker = MlflowTracker(uri, experiment, tags={"sentilstm.command": ctx.info_name})

    def say_where() -> None:
        if tracker.run_id:
            console.print(
                f"MLflow run {tracker.run_id} ({tracker.status}) in experiment {experiment!r}: {tracker.tracking_uri}",
                soft_wrap=True,
            )

    # registered before the run so that it runs after the run has ended (the context unwinds last in, first out)
    ctx.call_on_close(say_where)
    return ctx.with_resource(tracker)


def announce_report(asked: Path | None, written: Path | None, error: str | None) -> None:
    """Say where a workflow wrote its report, or warn why the report asked for is missing (the run still counts)."""
    if written is not None:
        out.print(f"report: {written}")
    elif asked is not None and error is not None:
        console.print(f"warning: no report written to {asked} ({error})")


def options_from(
    *declarations: Callable[..., Any],
    exclude: Iterable[str] = (),
    panel: str | None = None,
    helps: dict[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command `f(ctx, ..., **options)` the options that `declarations` declare in their signatures (functions
    that only declare Typer options, in --help order), but those in `exclude`, under the --help heading `panel` and
    with the help texts in `helps` (by parameter name) instead of theirs: each option stays one typed line with its
    help, and a command with sixty options stays a short function."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind is not p.VAR_KEYWORD]
        declared = [
            p
            for d in declarations
            for p in inspect.signature(d, eval_str=True).parameters.values()
            if p.name not in exclude
        ]
        declared = [p.replace(annotation=_restyled(p.annotation, panel, (helps or {}).get(p.name))) for p in declared]
        params = own + declared
        command.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def _restyled(annotation: Any, panel: str | None, help_text: str | None) -> Any:
    """Annotated[T, typer.Option(...)] shown under the --help heading `panel` and with `help_text` (when given)."""
    import copy

    base, *infos = typing.get_args(annotation)
    changed = [copy.copy(info) for info in infos]
    for info in changed:
        if panel is not None:
            info.rich_help_panel = panel
        if help_text is not None:
            info.help = help_text
    annotated: Any = Annotated  # subscripted at run time with metadata built here: no static type to check
    arguments = (base, *changed)
    return annotated[arguments]
