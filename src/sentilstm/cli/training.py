"""`sentilstm train` (one process, or several under torchrun) and `sentilstm baseline`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from sentilstm.cli.common import (
    announce_report,
    app,
    check_out_paths,
    console,
    friendly,
    make_tracker,
    options_from,
    out,
    print_predictor,
    print_report,
    progress_bar,
    setup_logging,
    training_tables,
)
from sentilstm.cli.options import (
    DatasetOpt,
    DatasetPathOpt,
    EncodingOpt,
    LabelColumnOpt,
    MlflowExperimentOpt,
    MlflowOpt,
    MlflowUriOpt,
    NoReportOpt,
    OutOpt,
    TextColumnOpt,
    TrainingDataArg,
    VerboseOpt,
    flag_names,
    flag_parameter,
    given_flags,
    model_options,
    read_settings,
    training_options,
    was_given,
)

if TYPE_CHECKING:
    from sentilstm.estimators.classifier import SentimentClassifier

# ----- train's own options (its model and training flags are in options.py) ---------------------------------------
ValidationOpt = Annotated[Path | None, typer.Option(help="Validation table; default: a stratified hold-out of DATA.")]
TestOpt = Annotated[Path | None, typer.Option(help="Test table, scored once after training and saved in the model.")]
ResumeOpt = Annotated[bool, typer.Option(help="Continue an interrupted run from OUT.ckpt (same data and options).")]
MetricsJsonOpt = Annotated[Path | None, typer.Option(help="Also write validation/test metrics as JSON here.")]
ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Where to write the HTML training report (its PNG plots go in a _plots folder beside it); default: "
        "beside --out, e.g. model.report.html.",
    ),
]
DISTRIBUTED = "Distributed training"  # the --help heading of the launch options
NprocPerNodeOpt = Annotated[
    int | None,
    typer.Option(
        help="Train data-parallel (PyTorch DDP) in this many processes per machine, launched through torchrun; "
        "--batch-size stays the global batch. On CUDA one GPU per process (NCCL), on CPU the cores are shared out "
        "(gloo).",
        rich_help_panel=DISTRIBUTED,
    ),
]
NnodesOpt = Annotated[
    str,
    typer.Option(
        help="Machines in the job, N or MIN:MAX (each runs this command with the same rendezvous options).",
        rich_help_panel=DISTRIBUTED,
    ),
]
NodeRankOpt = Annotated[
    int | None, typer.Option(help="This machine's index, for --rdzv-backend static.", rich_help_panel=DISTRIBUTED)
]
RdzvEndpointOpt = Annotated[
    str | None,
    typer.Option(help="HOST:PORT every machine can reach, for --nnodes > 1.", rich_help_panel=DISTRIBUTED),
]
RdzvIdOpt = Annotated[str | None, typer.Option(help="Job id, the same on every machine.", rich_help_panel=DISTRIBUTED)]
RdzvBackendOpt = Annotated[
    str | None,
    typer.Option(help="torchrun rendezvous backend: c10d (default) or static.", rich_help_panel=DISTRIBUTED),
]
DistTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        help="Seconds a process waits for the others before failing (default 600; env SENTILSTM_DIST_TIMEOUT).",
        rich_help_panel=DISTRIBUTED,
    ),
]


def _input_options(
    data: TrainingDataArg = None,
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    validation: ValidationOpt = None,
    test: TestOpt = None,
    out_path: OutOpt = Path("model.sentilstm"),
    resume: ResumeOpt = False,
    encoding: EncodingOpt = "utf-8",
) -> None:
    """The data `train` reads and where it writes the model."""


def _output_options(
    metrics_json: MetricsJsonOpt = None,
    report_to: ReportOpt = None,
    no_report: NoReportOpt = False,
    use_mlflow: MlflowOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    mlflow_experiment: MlflowExperimentOpt = "sentilstm",
    nproc_per_node: NprocPerNodeOpt = None,
    nnodes: NnodesOpt = "1",
    node_rank: NodeRankOpt = None,
    rdzv_endpoint: RdzvEndpointOpt = None,
    rdzv_id: RdzvIdOpt = None,
    rdzv_backend: RdzvBackendOpt = None,
    dist_timeout: DistTimeoutOpt = None,
    verbose: VerboseOpt = True,
) -> None:
    """Metrics, report, tracking and distributed launch."""


@app.command()
@friendly
@options_from(_input_options, model_options, training_options, _output_options)
def train(ctx: typer.Context, **options: Any) -> None:
    """Train a classifier on a labelled table and save it as one file."""
    from sentilstm.data.splits import check_test_labels  # pandas: not for --help
    from sentilstm.report.formatting import report_path_for
    from sentilstm.training import distributed

    o = SimpleNamespace(**options)
    report_path = None if o.no_report else o.report_to or report_path_for(o.out_path)
    named = ("validation", "test", "unlabeled", "embeddings", "pretrained_encoder")
    inputs = {"DATA": o.data, "--params": o.params_file, **{f"--{n.replace('_', '-')}": getattr(o, n) for n in named}}
    outputs = {"out": o.out_path, "metrics_json": o.metrics_json, "report": report_path}
    if o.nproc_per_node is not None:  # this process only starts the workers (each runs this command without these)
        check_out_paths(inputs, **outputs)
        _launch_training(
            ctx,
            distributed.LaunchOptions(
                o.nproc_per_node, o.nnodes, o.node_rank, o.rdzv_endpoint, o.rdzv_id, o.rdzv_backend, o.dist_timeout
            ),
            o.sampling,
            o.device,
        )
        return
    main_process = distributed.is_main_process()  # under torchrun only rank 0 prints, tracks and writes files
    setup_logging(o.verbose and main_process)
    from sentilstm.data.tables import check_encoding, read_table
    from sentilstm.workflows import train_to_file

    check_out_paths(inputs, **outputs)
    check_encoding(o.encoding)
    # every setting, and whether the network fits in memory, before any data is read
    clf = _classifier(ctx, o).check_params()
    train_table, val_table, test_table, unlabeled_texts = training_tables(
        o.data,
        o.dataset,
        o.dataset_path,
        o.validation,
        o.test,
        text_column=o.text_column,
        label_column=o.label_column,
        encoding=o.encoding,
    )
    check_test_labels(train_table, val_table, test_table, name="--test")
    if o.unlabeled is not None:
        unlabeled_texts = read_table(
            o.unlabeled, text_column=o.text_column, need_label=False, encoding=o.encoding
        ).texts
    tracker = make_tracker(ctx, o.use_mlflow, o.mlflow_uri, o.mlflow_experiment) if main_process else None
    if main_process:
        console.print(
            f"training on {len(train_table)} texts from {train_table.source}"
            + (f" in {distributed.world_size()} processes" if distributed.launched() else "")
        )
    bar = progress_bar() if main_process else None
    with bar.progress if bar is not None else contextlib.nullcontext():
        run = train_to_file(
            clf,
            train_table,
            o.out_path,
            validation=val_table,
            test=test_table,
            unlabeled=unlabeled_texts,
            resume=o.resume,
            metrics_json=o.metrics_json,
            report=report_path or False,
            callback=bar.callback if bar is not None else None,
            tracker=tracker,
        )
    if not main_process:  # another rank of a distributed run: it trained its shards and writes and prints nothing
        return
    if run.validation is not None and clf.history_ is not None:
        print_report(run.validation, f"validation (best epoch {clf.history_.best_epoch})")
    if run.test is not None and test_table is not None:  # a test report exactly when there is a test table
        print_report(run.test, f"test: {test_table.source}")
    print_predictor(clf)
    announce_report(report_path, run.report_path, run.report_error)
    out.print(f"saved {o.out_path}")


# ----- pretrain ------------------------------------------------------------------------------------------------
EncoderOutOpt = Annotated[Path, typer.Option("--out", help="Where to save the encoder (for --pretrained-encoder).")]


def _pretrain_inputs(
    data: Annotated[Path | None, typer.Argument(help="A table of texts (labels, if any, are not used).")] = None,
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    out_path: EncoderOutOpt = Path("encoder.sentilstm"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted pretraining from OUT.ckpt.")] = False,
    encoding: EncodingOpt = "utf-8",
    verbose: VerboseOpt = True,
) -> None:
    """The texts `pretrain` reads and where it writes the encoder."""


# train's flags that say nothing about a language model (the classifier's head, loss, blend, ...)
NOT_FOR_PRETRAINING = frozenset(
    "pooling epochs learning_rate head_l2 schedule patience monitor class_weight loss focal_gamma sampling embeddings "
    "pretrain_embeddings freeze_embeddings distill ensemble pretrained_encoder adversarial blend augment "
    "augment_copies augment_alpha augment_synonyms augment_translator".split()
)


@app.command()
@friendly
@options_from(_pretrain_inputs, model_options, training_options, exclude=NOT_FOR_PRETRAINING)
def pretrain(ctx: typer.Context, **options: Any) -> None:
    """Pretrain an encoder as a language model on texts (DATA, a dataset's training and unlabelled texts, --unlabeled),
    for train, cv and tune --pretrained-encoder. Only text, network and pretrain settings matter here."""
    from sentilstm.data.tables import check_encoding, read_table
    from sentilstm.errors import DataError

    o = SimpleNamespace(**options)
    setup_logging(o.verbose)
    check_out_paths({"DATA": o.data, "--unlabeled": o.unlabeled, "--params": o.params_file}, out=o.out_path)
    check_encoding(o.encoding)
    clf = _classifier(ctx, o, exclude=NOT_FOR_PRETRAINING)
    clf.set_params(pretrain=clf.pretrain or "lm").check_params()
    texts: list[str] = []
    if o.dataset is not None:
        table, _, _, unlabeled = training_tables(None, o.dataset, o.dataset_path, None, None, encoding=o.encoding)
        texts += table.texts + list(unlabeled or [])
    for path in (o.data, o.unlabeled):
        if path is not None:
            texts += read_table(path, text_column=o.text_column, need_label=False, encoding=o.encoding).texts
    if not texts:
        raise DataError("give the texts to pretrain on: DATA, --dataset NAME or --unlabeled FILE")
    console.print(f"pretraining a language model on {len(texts):,} texts")
    record = clf.pretrain_encoder(texts, o.out_path, checkpoint=Path(f"{o.out_path}.ckpt"), resume=o.resume)
    perplexity = record["validation_perplexity"]
    out.print(f"saved {o.out_path} (validation perplexity {perplexity:,.1f})" if perplexity else f"saved {o.out_path}")


def _classifier(ctx: typer.Context, o: SimpleNamespace, exclude: frozenset[str] = frozenset()) -> SentimentClassifier:
    """The SentimentClassifier that `train`'s options describe (but the flags in `exclude`, which the command does
    not have): its flags, then --params, then --set."""
    from sentilstm.estimators.classifier import SentimentClassifier

    flags = dict(flag_parameter(name, getattr(o, name)) for name in flag_names(exclude))
    settings = read_settings(o.params_file, o.settings)
    given_flags(ctx, vars(o), settings)  # a flag given and also set by --params/--set is an error
    return SentimentClassifier(**{**flags, **settings})  # the flags' defaults yield to the settings


LAUNCH_OPTIONS = {"nproc_per_node", "nnodes", "node_rank", "rdzv_endpoint", "rdzv_id", "rdzv_backend", "dist_timeout"}


def _launch_training(ctx: typer.Context, options: Any, sampling: str, device: str) -> None:
    """Run this `train` command, minus the launch options, in torchrun workers; exit with the job's code."""
    from sentilstm.system.device import resolve_device
    from sentilstm.training import distributed

    distributed.check_supported(sampling)
    options.validate(resolve_device(device))
    result = distributed.launch(_worker_command(ctx, exclude=LAUNCH_OPTIONS), options)
    if result.failure:
        console.print(Text.assemble(("error:", "red"), f" {result.failure}"), highlight=False, soft_wrap=True)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _worker_command(ctx: typer.Context, exclude: set[str]) -> list[str]:
    """The command line that reproduces this command's parsed arguments, without the parameters in `exclude`."""
    args = [ctx.info_name or "train"]
    for param in ctx.command.params:  # duck-typed: typer ships its own copy of click's classes
        value = ctx.params.get(param.name or "")
        if param.name in exclude or value is None or not was_given(ctx, param.name or ""):
            continue  # a default stays a default: --set epochs=3 must not meet an explicit --epochs 10 in the workers
        if param.param_type_name == "argument":
            args.append(str(value))
        elif getattr(param, "is_flag", False):
            if param.secondary_opts:
                args.append(param.opts[0] if value else param.secondary_opts[0])
            elif value:
                args.append(param.opts[0])
        else:
            args += [
                arg
                for item in (value if getattr(param, "multiple", False) else [value])
                for arg in (param.opts[0], str(item))
            ]
    return args


# ----- baseline's own options ------------------------------------------------------------------------------------
BaselineKindOpt = Annotated[
    str, typer.Option(help="nbsvm (NB-weighted word 1-3-grams) or tfidf_lr (word + char TF-IDF, logistic regression).")
]
BaselineTestOpt = Annotated[Path | None, typer.Option(help="Test table, scored after training and saved in the model.")]
BaselineCOpt = Annotated[
    float | None, typer.Option("--C", help="Inverse regularisation strength (default 0.1 nbsvm, 4 tfidf_lr).")
]
BaselineSamplingOpt = Annotated[
    str,
    typer.Option(
        help="none, oversample, undersample or smote (synthetic minority rows, Chawla et al. 2002) to equal classes."
    ),
]
BaselineReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Also write an HTML report here (with --test: its curves and errors), PNG plots in a _plots folder "
        "beside it.",
    ),
]


@app.command()
@friendly
def baseline(
    data: TrainingDataArg = None,
    kind: BaselineKindOpt = "nbsvm",
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    test: BaselineTestOpt = None,
    out_path: OutOpt = Path("baseline.sentilstm"),
    c: BaselineCOpt = None,
    min_df: Annotated[int, typer.Option(help="Keep n-grams seen in at least this many texts.")] = 2,
    class_weight: Annotated[str | None, typer.Option(help="'balanced' weighs classes by inverse frequency.")] = None,
    sampling: BaselineSamplingOpt = "none",
    encoding: EncodingOpt = "utf-8",
    metrics_json: Annotated[Path | None, typer.Option(help="Also write the test metrics as JSON here.")] = None,
    report_path: BaselineReportOpt = None,
    verbose: VerboseOpt = True,
) -> None:
    """Train a linear baseline (NBSVM or TF-IDF + logistic regression): the bar an LSTM has to clear."""
    from sentilstm.data.splits import check_test_labels  # pandas: not for --help

    setup_logging(verbose)
    from sentilstm.data.tables import check_encoding
    from sentilstm.estimators.baselines import make_baseline
    from sentilstm.workflows import baseline_to_file

    check_out_paths({"DATA": data, "--test": test}, out=out_path, metrics_json=metrics_json, report=report_path)
    check_encoding(encoding)
    params: dict[str, Any] = {"min_df": min_df, "class_weight": class_weight, "sampling": sampling}
    if c is not None:
        params["C"] = c
    clf = make_baseline(kind, **params).check_params()  # bad options fail before any data is read
    train_table, val_table, test_table, _ = training_tables(
        data, dataset, dataset_path, None, test, text_column=text_column, label_column=label_column, encoding=encoding
    )
    check_test_labels(train_table, val_table, test_table, name="--test")
    if val_table is not None:  # a linear model needs no early stopping: train on train + validation
        console.print(f"adding the {len(val_table)} validation texts to training (a baseline has no early stopping)")
    total = len(train_table) + (len(val_table) if val_table is not None else 0)
    console.print(f"training {kind} on {total} texts from {train_table.source}")
    run = baseline_to_file(
        clf, train_table, out_path, validation=val_table, test=test_table, metrics_json=metrics_json, report=report_path
    )
    console.print(f"trained in {clf.metrics_['train_seconds']:.1f}s")
    if run.test is not None and test_table is not None:  # a test report exactly when there is a test table
        print_report(run.test, f"test: {test_table.source}")
    announce_report(report_path, run.report_path, run.report_error)
    out.print(f"saved {out_path}")
