"""Model selection: `sentilstm cv` and `sentilstm tune`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import JustifyMethod
from rich.table import Table as RichTable
from rich.text import Text

from sentilstm.cli.common import (
    announce_report,
    app,
    check_out_paths,
    console,
    friendly,
    make_tracker,
    out,
    print_predictor,
    print_report,
    progress_bar,
    settings_help,
    setup_logging,
    training_tables,
)
from sentilstm.cli.options import (
    SHARED_FLAGS_EXCLUDE,
    DatasetOpt,
    DatasetPathOpt,
    EncodingOpt,
    LabelColumnOpt,
    MlflowExperimentOpt,
    MlflowOpt,
    MlflowUriOpt,
    NoReportOpt,
    TextColumnOpt,
    TrainingDataArg,
    VerboseOpt,
    flagged_fields,
    given_flags,
    parse_assignments,
    read_params,
    read_settings,
    shared_flags,
)

if TYPE_CHECKING:
    from sentilstm.selection.crossval import CVResult, Estimator, FoldResult
    from sentilstm.selection.tuning import Metric, TuneResult
    from sentilstm.training.progress import ProgressBar

# ----- cv's own options -------------------------------------------------------------------------------------------
CV_SET_HELP = settings_help(
    "Model/training parameter KEY=VALUE, repeatable, e.g. --set epochs=5 --set cell=gru "
    "(SentimentClassifier's or the baseline's names; 'none' for None).",
    flagged=flagged_fields(SHARED_FLAGS_EXCLUDE),
)
LabelledDataArg = Annotated[
    Path | None, typer.Argument(help="Labelled table: CSV, TSV, JSONL or Parquet, optionally .gz.")
]
FoldsOpt = Annotated[int, typer.Option(help="Stratified folds K (every class needs K or more texts).")]
RepeatsOpt = Annotated[int, typer.Option(help="Repeat the K folds with a new shuffle this many times (R*K models).")]
JobsOpt = Annotated[
    int, typer.Option(help="Folds trained at once, each in its own process; CPU threads are shared out.")
]
EstimatorOpt = Annotated[str, typer.Option(help="lstm (SentimentClassifier) or a linear baseline: nbsvm or tfidf_lr.")]
CvSetOpt = Annotated[list[str] | None, typer.Option("--set", help=CV_SET_HELP)]
CvParamsOpt = Annotated[
    Path | None, typer.Option("--params", help="JSON or YAML file of parameters {name: value}; --set overrides it.")
]
CvSeedOpt = Annotated[
    int, typer.Option(help="Seed of the fold shuffle (repeat r uses seed + r); the model's seed is --set seed=N.")
]
CvJsonOpt = Annotated[
    Path | None, typer.Option("--json", help="Also write every fold's metrics and the summary as JSON here.")
]
CvReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Where to write the HTML report (default: NAME.cv.report.html, NAME being DATA's or the dataset's name).",
    ),
]


@app.command()
@friendly
@shared_flags(panel="Model and training (lstm)")
def cv(
    ctx: typer.Context,
    data: LabelledDataArg = None,
    folds: FoldsOpt = 5,
    repeats: RepeatsOpt = 1,
    jobs: JobsOpt = 1,
    estimator: EstimatorOpt = "lstm",
    settings: CvSetOpt = None,
    params_file: CvParamsOpt = None,
    seed: CvSeedOpt = 0,
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    encoding: EncodingOpt = "utf-8",
    json_path: CvJsonOpt = None,
    report_to: CvReportOpt = None,
    no_report: NoReportOpt = False,
    use_mlflow: MlflowOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    mlflow_experiment: MlflowExperimentOpt = "sentilstm",
    verbose: VerboseOpt = True,
    **flags: Any,
) -> None:
    """Cross-validate: stratified K-fold, each fold's metrics, mean ± std, and the out-of-fold confusion matrix."""
    from sentilstm.data.splits import labels_of  # pandas: not for --help

    setup_logging(verbose)
    from sentilstm.data.tables import check_encoding
    from sentilstm.selection.crossval import check_options
    from sentilstm.workflows import cv_to_file

    name = dataset or (data.name.split(".")[0] if data is not None else "cv")
    report_path = None if no_report else report_to or Path(f"{name}.cv.report.html")
    inputs = {
        "DATA": data,
        "--params": params_file,
        "--embeddings": flags["embeddings"],
        "--pretrained-encoder": flags["pretrained_encoder"],
    }
    check_out_paths(inputs, json=json_path, report=report_path)
    check_encoding(encoding)
    kind = cast("Estimator", estimator)  # check_options checks it is one, before any data is read
    params = read_params(params_file) if params_file is not None else {}
    params.update(parse_assignments(settings or [], kind))
    params.update(given_flags(ctx, flags, params))
    check_options(estimator=kind, params=params, folds=folds, repeats=repeats, seed=seed, jobs=jobs)
    columns = {"text_column": text_column, "label_column": label_column, "encoding": encoding}
    train_table, val_table, _, _ = training_tables(data, dataset, dataset_path, None, None, **columns)
    texts, labels = train_table.texts, labels_of(train_table)
    if val_table is not None:  # a named dataset's validation split: the folds make their own held-out parts
        console.print(f"adding the {len(val_table)} validation texts to the cross-validated data")
        texts, labels = texts + val_table.texts, labels + labels_of(val_table)
    console.print(
        f"{folds}-fold cross-validation{f' x {repeats}' if repeats > 1 else ''} of {estimator} on "
        f"{len(texts)} texts from {train_table.source}"
    )
    tracker = make_tracker(ctx, use_mlflow, mlflow_uri, mlflow_experiment)  # --mlflow; a no-op otherwise
    bar = progress_bar() if jobs == 1 and estimator == "lstm" else None
    with bar.progress if bar is not None else contextlib.nullcontext():
        run = cv_to_file(
            texts,
            labels,
            params=params,
            estimator=kind,
            folds=folds,
            repeats=repeats,
            seed=seed,
            jobs=jobs,
            json_path=json_path,
            report=report_path,
            on_fold=_fold_printer(bar, folds, repeats),
            tracker=tracker,
            source=train_table.source,
            callback_factory=(lambda repeat, fold: bar.callback) if bar is not None else None,
        )
    _print_folds(run.result)
    print_report(run.result.predictions.report(), "out-of-fold predictions" + (" (repeat 1)" if repeats > 1 else ""))
    _warn_if_dropped(run.result)
    announce_report(report_path, run.report_path, run.report_error)


def _warn_if_dropped(result: CVResult) -> None:
    """A warning line when some folds' blends gave the network weight 0 (their scores are the linear model's)."""
    dropped = result.dropped_network()
    if dropped:
        from sentilstm.estimators.blend import dropped_network_warning

        console.print(f"warning: {dropped_network_warning(len(dropped), len(result.folds))}")


def _fold_printer(bar: ProgressBar | None, folds: int, repeats: int) -> Callable[[FoldResult], None]:
    """cv's `on_fold`: drop the finished fold's epoch bars and print its scores."""

    def on_fold(fold: FoldResult) -> None:
        if bar is not None:
            for task in list(bar.progress.task_ids):
                bar.progress.remove_task(task)
        where = f"repeat {fold.repeat + 1}/{repeats} " if repeats > 1 else ""
        console.print(
            f"{where}fold {fold.fold + 1}/{folds}: accuracy {fold.report.accuracy:.4f}, "
            f"macro F1 {fold.report.macro_f1:.4f} ({fold.seconds:.1f}s); predictions by {fold.predictor}"
        )

    return on_fold


def _print_folds(result: CVResult) -> None:
    """One row per fold of a CVResult, then mean ± std over the folds."""
    table = RichTable(title=f"{result.num_folds}-fold cross-validation of {result.estimator}")
    metrics = ("accuracy", "macro_f1", "weighted_f1", "roc_auc", "loss")
    for name in ("repeat", "fold", "accuracy", "macro F1", "weighted F1", "ROC-AUC", "loss", "seconds"):
        table.add_column(name, justify="right")
    for fold in result.folds:
        values = [getattr(fold.report, m) for m in metrics]
        table.add_row(
            str(fold.repeat + 1),
            str(fold.fold + 1),
            *("n/a" if v is None else f"{v:.4f}" for v in values),
            f"{fold.seconds:.1f}",
        )
    summary = result.summary()
    cells = [f"{summary[m][0]:.4f} ± {summary[m][1]:.4f}" if m in summary else "n/a" for m in metrics]
    seconds = [fold.seconds for fold in result.folds]
    mean = sum(seconds) / len(seconds)
    spread = (sum((s - mean) ** 2 for s in seconds) / len(seconds)) ** 0.5
    table.add_section()
    table.add_row("mean ± std", "", *cells, f"{mean:.1f} ± {spread:.1f}")
    out.print(table)


# ----- tune's own options -----------------------------------------------------------------------------------------
TUNE_SET_HELP = settings_help(
    "Fixed parameter KEY=VALUE, repeatable, e.g. --set epochs=5 --set num_threads=4; a searched "
    "one leaves the search. blend applies to the final model only.",
    flagged=flagged_fields(SHARED_FLAGS_EXCLUDE),
)
TrialsOpt = Annotated[
    int,
    typer.Option(
        help="Finished (complete or pruned) trials the study should hold: re-running resumes to this total; 0 runs "
        "none and only retrains the best."
    ),
]
TimeoutOpt = Annotated[float | None, typer.Option(help="Start no new trial after this many seconds.")]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        help="Study database, any SQLAlchemy URL (e.g. postgresql://user:pw@host/db); workers given the same URL "
        "share the study. Default: sqlite beside --out (model.study.db)."
    ),
]
StudyNameOpt = Annotated[
    str | None, typer.Option(help="Study name in the storage (default: DATA's file name or the dataset's name).")
]
SpaceOpt = Annotated[
    Path | None,
    typer.Option(
        help="YAML or JSON search space {name: spec or fixed value}, replacing or extending the default one "
        "('extend_default: false' starts empty)."
    ),
]
MetricOpt = Annotated[
    str, typer.Option(help="Validation metric to optimise: macro_f1, accuracy, weighted_f1, or loss (minimised).")
]
CvFoldsOpt = Annotated[
    int | None, typer.Option(help="Score each trial by the mean of K-fold cross-validation (small datasets).")
]
TuneSetOpt = Annotated[list[str] | None, typer.Option("--set", help=TUNE_SET_HELP)]
TuneParamsOpt = Annotated[
    Path | None,
    typer.Option("--params", help="JSON or YAML file of fixed parameters {name: value}; --set overrides it."),
]
TuneOutOpt = Annotated[
    Path,
    typer.Option(
        "--out", help="Where to save the retrained best model; the trials table goes beside it (model.trials.csv)."
    ),
]
TuneSeedOpt = Annotated[
    int,
    typer.Option(
        help="Sampler seed, and every model's unless --set seed=N; give each worker of a shared study its own."
    ),
]
RetrainOpt = Annotated[
    bool,
    typer.Option(
        "--retrain/--no-retrain",
        help="Retrain and save the best configuration at the end (--no-retrain for worker processes).",
    ),
]
TuneValidationOpt = Annotated[
    Path | None,
    typer.Option(help="Validation table for every trial; default: each trial's stratified hold-out of DATA."),
]
TuneReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Where to write the HTML report: trials, search history, parameter importances, and the retrained "
        "model's evaluation (default: beside --out, model.report.html).",
    ),
]


@app.command()
@friendly
@shared_flags(panel="Fixed model and training settings")
def tune(
    ctx: typer.Context,
    data: TrainingDataArg = None,
    trials: TrialsOpt = 20,
    timeout: TimeoutOpt = None,
    storage: StorageOpt = None,
    study_name: StudyNameOpt = None,
    space: SpaceOpt = None,
    metric: MetricOpt = "macro_f1",
    cv_folds: CvFoldsOpt = None,
    settings: TuneSetOpt = None,
    params_file: TuneParamsOpt = None,
    out_path: TuneOutOpt = Path("model.sentilstm"),
    seed: TuneSeedOpt = 0,
    retrain: RetrainOpt = True,
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    validation: TuneValidationOpt = None,
    encoding: EncodingOpt = "utf-8",
    report_to: TuneReportOpt = None,
    no_report: NoReportOpt = False,
    use_mlflow: MlflowOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    mlflow_experiment: MlflowExperimentOpt = "sentilstm",
    verbose: VerboseOpt = True,
    **flags: Any,
) -> None:
    """Search hyperparameters with Optuna (pruning, resumable study), then retrain and save the best model."""
    from sentilstm.data.splits import labels_of  # pandas: not for --help

    setup_logging(verbose)
    from sentilstm.data.tables import check_encoding
    from sentilstm.report.formatting import report_path_for
    from sentilstm.selection.tuning import SearchSpace, study_path, trials_path
    from sentilstm.workflows import tune_to_file

    report_path = None if no_report else report_to or report_path_for(out_path)
    inputs = {"DATA": data, "--validation": validation, "--space": space, "--params": params_file}
    check_out_paths(
        {**inputs, "--embeddings": flags["embeddings"], "--pretrained-encoder": flags["pretrained_encoder"]},
        out=out_path,
        report=report_path,
        trials_table=trials_path(out_path),
        study=study_path(out_path) if storage is None else None,
    )
    check_encoding(encoding)
    base = read_settings(params_file, settings)
    base.update(given_flags(ctx, flags, base))
    search_space = SearchSpace.load(space)  # a bad space file fails before any data is read
    columns = {"text_column": text_column, "label_column": label_column, "encoding": encoding}
    train_table, val_table, _, _ = training_tables(data, dataset, dataset_path, validation, None, **columns)
    tracker = make_tracker(ctx, use_mlflow, mlflow_uri, mlflow_experiment)  # --mlflow; a no-op otherwise
    try:
        run = tune_to_file(
            train_table.texts,
            labels_of(train_table),
            trials=trials,
            timeout=timeout,
            space=search_space,
            base_params=base,
            metric=cast("Metric", metric),  # tune checks it is one
            cv_folds=cv_folds,
            validation=(val_table.texts, labels_of(val_table)) if val_table is not None else None,
            storage=storage,
            study_name=study_name or dataset or (data.name.split(".")[0] if data is not None else None),
            out=out_path,
            retrain=retrain,
            seed=seed,
            report=report_path or False,
            tracker=tracker,
            source=train_table.source,
        )
    except KeyboardInterrupt:
        console.print("interrupted; run the same command again to continue the study (finished trials are kept)")
        raise typer.Exit(130) from None
    _print_tuned(run.result, trials_path(out_path), retrain)
    announce_report(report_path, run.report_path, run.report_error)


def _print_tuned(result: TuneResult, trials_table: Path, retrain: bool) -> None:
    """The trials and the best parameters, where the study, trials table and model are, or what to run next."""
    _print_trials(result)
    out.print(f"study {result.study.study_name!r} in {result.storage}")
    if len(result.study.trials):
        out.print(f"trials table: {trials_table}")
    if result.model_path is not None:
        out.print(f"saved the best configuration, retrained: {result.model_path}")
        if result.model is not None:
            print_predictor(result.model, trained=False)  # warns when the blend dropped the retrained network
    elif not retrain:
        out.print("no model retrained (--no-retrain); when the workers are done, run this command with --trials 0")


def _print_trials(result: TuneResult) -> None:
    """The trials (number, state, value, the parameters that varied, seconds), then the best parameters."""
    table = result.trials_table()
    bookkeeping = {"number", "state", "value", "seconds", "steps", "error", "worker"}
    params = [
        c for c in table.columns if c not in bookkeeping and (len(table) < 2 or table[c].astype(str).nunique() > 1)
    ]
    view = RichTable(title=f"trials of {result.study.study_name!r} ({result.metric}, {result.direction})")
    columns: list[tuple[str, JustifyMethod]] = [
        ("trial", "right"),
        ("state", "left"),
        (result.metric, "right"),
        ("params", "left"),
        ("seconds", "right"),
    ]
    for column, justify in columns:
        view.add_column(column, justify=justify, overflow="fold")
    for row in table.astype(object).where(table.notna(), None).to_dict(orient="records"):
        value = "" if row["value"] is None else f"{row['value']:.4f}"
        note = f" [{row['error']}]" if row["error"] else ""
        seconds = "" if row["seconds"] is None else f"{row['seconds']:.1f}"
        view.add_row(
            str(row["number"]),
            row["state"].lower(),
            value,
            Text(" ".join(f"{p}={_short(row[p])}" for p in params) + note),
            seconds,
        )
    out.print(view)
    if result.best_params:
        best = RichTable(title=f"best: trial {result.study.best_trial.number}, {result.metric} {result.best_value:.4f}")
        best.add_column("parameter")
        best.add_column("value")
        for key, value in result.best_params.items():
            best.add_row(key, repr(value))
        out.print(best)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
