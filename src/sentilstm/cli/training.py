"""`sentilstm train` (one process, or several under torchrun) and `sentilstm baseline`."""

from __future__ import annotations

import contextlib
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Optional

import typer
from rich.text import Text

from sentilstm.cli.common import (
    DatasetOpt,
    DatasetPathOpt,
    EncodingOpt,
    LabelColumnOpt,
    MlflowExperimentOpt,
    MlflowOpt,
    MlflowUriOpt,
    NoReportOpt,
    ProgressBar,
    TextColumnOpt,
    VerboseOpt,
    announce_report,
    app,
    check_out_paths,
    check_test_labels,
    console,
    friendly,
    literal_option,
    make_tracker,
    options_from,
    out,
    print_report,
    settings_help,
    setup_logging,
    training_tables,
)
from sentilstm.config import (
    FIELD_HELP,
    Cell,
    Loss,
    ModelConfig,
    Monitor,
    Pooling,
    Precision,
    Sampling,
    Schedule,
    TextConfig,
    TokenizerKind,
    TrainConfig,
)

T, M, R = TextConfig(), ModelConfig(), TrainConfig()  # the defaults of every option that is a config field


def _input_options(
    data: Annotated[
        Optional[Path], typer.Argument(help="Training table: CSV, TSV, JSONL or Parquet, optionally .gz.")
    ] = None,
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    validation: Annotated[
        Optional[Path], typer.Option(help="Validation table; default: a stratified hold-out of DATA.")
    ] = None,
    test: Annotated[
        Optional[Path], typer.Option(help="Test table, scored once after training and saved in the model.")
    ] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the model file.")] = Path("model.sentilstm"),
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run from OUT.ckpt (same data and options).")
    ] = False,
    encoding: EncodingOpt = "utf-8",
) -> None:
    """The data `train` reads and where it writes the model."""


def _model_options(
    cell: Annotated[str, literal_option(Cell, "cell", FIELD_HELP["cell"])] = M.cell,
    bidirectional: Annotated[
        bool, typer.Option("--bidirectional/--unidirectional", help=FIELD_HELP["bidirectional"])
    ] = M.bidirectional,
    pooling: Annotated[str, literal_option(Pooling, "pooling", FIELD_HELP["pooling"])] = M.pooling,
    embedding_dim: Annotated[int, typer.Option(help=FIELD_HELP["embedding_dim"])] = M.embedding_dim,
    hidden_size: Annotated[int, typer.Option(help=FIELD_HELP["hidden_size"])] = M.hidden_size,
    num_layers: Annotated[int, typer.Option(help=FIELD_HELP["num_layers"])] = M.num_layers,
    dropout: Annotated[float, typer.Option(help=FIELD_HELP["dropout"])] = M.dropout,
    embedding_dropout: Annotated[float, typer.Option(help=FIELD_HELP["embedding_dropout"])] = M.embedding_dropout,
    output_dropout: Annotated[float, typer.Option(help=FIELD_HELP["output_dropout"])] = M.output_dropout,
    weight_drop: Annotated[float, typer.Option(help=FIELD_HELP["weight_drop"])] = M.weight_drop,
    conv_channels: Annotated[int, typer.Option(help=FIELD_HELP["conv_channels"])] = M.conv_channels,
    tokenizer: Annotated[str, literal_option(TokenizerKind, "tokenizer", FIELD_HELP["tokenizer"])] = T.tokenizer,
    vocab_size: Annotated[Optional[int], typer.Option(help=FIELD_HELP["vocab_size"])] = T.vocab_size,
    min_frequency: Annotated[int, typer.Option(help=FIELD_HELP["min_frequency"])] = T.min_frequency,
    max_length: Annotated[Optional[int], typer.Option(help=FIELD_HELP["max_length"])] = T.max_length,
    stopwords: Annotated[Optional[str], typer.Option(help=FIELD_HELP["stopwords"])] = T.stopwords,
    stemmer: Annotated[Optional[str], typer.Option(help=FIELD_HELP["stemmer"])] = T.stemmer,
) -> None:
    """The network and the text pipeline."""


def _training_options(
    epochs: Annotated[int, typer.Option(help=FIELD_HELP["epochs"])] = R.epochs,
    batch_size: Annotated[
        int,
        typer.Option(
            help="Texts per optimiser step; with --nproc-per-node the global batch, split between the processes."
        ),
    ] = R.batch_size,
    learning_rate: Annotated[float, typer.Option(help=FIELD_HELP["learning_rate"])] = R.learning_rate,
    weight_decay: Annotated[float, typer.Option(help=FIELD_HELP["weight_decay"])] = R.weight_decay,
    head_l2: Annotated[float, typer.Option(help=FIELD_HELP["head_l2"])] = R.head_l2,
    schedule: Annotated[str, literal_option(Schedule, "schedule", FIELD_HELP["schedule"])] = R.schedule,
    patience: Annotated[int, typer.Option(help=FIELD_HELP["patience"])] = R.patience,
    monitor: Annotated[str, literal_option(Monitor, "monitor", FIELD_HELP["monitor"])] = R.monitor,
    class_weight: Annotated[Optional[str], typer.Option(help=FIELD_HELP["class_weight"])] = R.class_weight,
    loss: Annotated[str, literal_option(Loss, "loss", FIELD_HELP["loss"])] = R.loss,
    focal_gamma: Annotated[float, typer.Option(help=FIELD_HELP["focal_gamma"])] = R.focal_gamma,
    sampling: Annotated[str, literal_option(Sampling, "sampling", FIELD_HELP["sampling"])] = R.sampling,
    seed: Annotated[int, typer.Option(help=FIELD_HELP["seed"])] = R.seed,
    precision: Annotated[str, literal_option(Precision, "precision", FIELD_HELP["precision"])] = R.precision,
    device: Annotated[str, typer.Option(help=FIELD_HELP["device"])] = R.device,
    threads: Annotated[
        Optional[int],
        typer.Option(
            help="Torch CPU threads (default: the usable CPUs other processes leave free, re-measured while training; per process with --nproc-per-node: cores // processes)."
        ),
    ] = R.num_threads,
    embeddings: Annotated[
        Optional[Path],
        typer.Option(help="Pretrained word vectors: GloVe, word2vec (.txt/.bin), fastText (.vec/.bin); .gz ok."),
    ] = None,
    pretrain_embeddings: Annotated[
        Optional[str],
        typer.Option(help="Train word2vec or fasttext vectors on the training (+ --unlabeled) texts first."),
    ] = None,
    unlabeled: Annotated[
        Optional[Path],
        typer.Option(help="Unlabelled texts for --pretrain-embeddings (a named dataset's are used automatically)."),
    ] = None,
    freeze_embeddings: Annotated[int, typer.Option(help=FIELD_HELP["freeze_embeddings"])] = R.freeze_embeddings,
    blend: Annotated[
        str, typer.Option(help="Blend with a linear n-gram model: auto (best on validation), nbsvm, tfidf_lr or none.")
    ] = "auto",
    augment: Annotated[
        Optional[str],
        typer.Option(
            help="Augment the training split: eda, or any of synonym,insert,swap,delete,backtranslate (comma-separated)."
        ),
    ] = None,
    augment_copies: Annotated[int, typer.Option(help="Augmented copies per text and operation.")] = 1,
    augment_alpha: Annotated[
        float, typer.Option(help="Share of a text's words each edit changes (EDA's alpha).")
    ] = 0.1,
    augment_synonyms: Annotated[
        str,
        typer.Option(
            help="Synonyms for synonym/insert: neighbours (nearest words in embedding space, any language) or wordnet (English, installed locally)."
        ),
    ] = "neighbours",
    augment_translator: Annotated[
        Optional[str],
        typer.Option(
            help="Hugging Face models for backtranslate: 'FORWARD,BACKWARD', e.g. 'Helsinki-NLP/opus-mt-en-de,Helsinki-NLP/opus-mt-de-en'."
        ),
    ] = None,
    settings: Annotated[Optional[list[str]], typer.Option("--set", help=SET_HELP)] = None,
    params_file: Annotated[
        Optional[Path],
        typer.Option(
            "--params",
            help="JSON or YAML file of parameters {name: value}; --set overrides it, and neither may repeat a flag given here.",
        ),
    ] = None,
) -> None:
    """How the network is trained."""


FLAG_FIELDS = {"threads": "num_threads"}  # train's flags named otherwise than the SentimentClassifier parameter
# train's model and training flags that cv and tune also take (they have their own --seed, --set and --params)
SHARED_FLAGS_EXCLUDE = {"seed", "unlabeled", "settings", "params_file"}


def flagged_fields(exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The SentimentClassifier parameters that have a flag of their own (but those in `exclude`)."""
    names = [p for f in (_model_options, _training_options) for p in inspect.signature(f).parameters]
    return [
        FLAG_FIELDS.get(p, p) for p in names if p not in exclude and p not in ("settings", "params_file", "unlabeled")
    ]


SET_HELP = settings_help(
    "Any SentimentClassifier parameter KEY=VALUE, repeatable, e.g. --set truncation=head --set warmup_fraction=0.1 "
    "('none' for None); it overrides the default of that parameter's flag.",
    flagged=flagged_fields(),
)


def _output_options(
    metrics_json: Annotated[
        Optional[Path], typer.Option(help="Also write validation/test metrics as JSON here.")
    ] = None,
    report_to: Annotated[
        Optional[Path],
        typer.Option(
            "--report",
            help="Where to write the HTML training report (its PNG plots go in a _plots folder beside it); default: beside --out, e.g. model.report.html.",
        ),
    ] = None,
    no_report: NoReportOpt = False,
    use_mlflow: MlflowOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    mlflow_experiment: MlflowExperimentOpt = "sentilstm",
    nproc_per_node: Annotated[
        Optional[int],
        typer.Option(
            help="Train data-parallel (PyTorch DDP) in this many processes per machine, launched through torchrun; --batch-size stays the global batch. On CUDA one GPU per process (NCCL), on CPU the cores are shared out (gloo).",
            rich_help_panel="Distributed training",
        ),
    ] = None,
    nnodes: Annotated[
        str,
        typer.Option(
            help="Machines in the job, N or MIN:MAX (each runs this command with the same rendezvous options).",
            rich_help_panel="Distributed training",
        ),
    ] = "1",
    node_rank: Annotated[
        Optional[int],
        typer.Option(help="This machine's index, for --rdzv-backend static.", rich_help_panel="Distributed training"),
    ] = None,
    rdzv_endpoint: Annotated[
        Optional[str],
        typer.Option(
            help="HOST:PORT every machine can reach, for --nnodes > 1.", rich_help_panel="Distributed training"
        ),
    ] = None,
    rdzv_id: Annotated[
        Optional[str], typer.Option(help="Job id, the same on every machine.", rich_help_panel="Distributed training")
    ] = None,
    rdzv_backend: Annotated[
        Optional[str],
        typer.Option(
            help="torchrun rendezvous backend: c10d (default) or static.", rich_help_panel="Distributed training"
        ),
    ] = None,
    dist_timeout: Annotated[
        Optional[float],
        typer.Option(
            help="Seconds a process waits for the others before failing (default 600; env SENTILSTM_DIST_TIMEOUT).",
            rich_help_panel="Distributed training",
        ),
    ] = None,
    verbose: VerboseOpt = True,
) -> None:
    """Metrics, report, tracking and distributed launch."""


@app.command()
@friendly
@options_from(_input_options, _model_options, _training_options, _output_options)
def train(ctx: typer.Context, **options: Any) -> None:
    """Train a classifier on a labelled table and save it as one file."""
    from sentilstm.report.builders import report_path_for
    from sentilstm.training import distributed

    o = SimpleNamespace(**options)
    report_path = None if o.no_report else o.report_to or report_path_for(o.out_path)
    inputs = {
        "DATA": o.data,
        "--validation": o.validation,
        "--test": o.test,
        "--unlabeled": o.unlabeled,
        "--embeddings": o.embeddings,
        "--params": o.params_file,
    }
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
    clf = _classifier(
        ctx, o
    ).check_params()  # every setting, and whether the network fits in memory, before any data is read
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
    check_test_labels(train_table, val_table, test_table)
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
    bar = ProgressBar() if main_process else None
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
    print_report(run.validation, f"validation (best epoch {clf.history_.best_epoch})")
    if run.test is not None:
        print_report(run.test, f"test: {test_table.source}")
    announce_report(report_path, run.report_path, run.report_error)
    out.print(f"saved {o.out_path}")


def _classifier(ctx: typer.Context, o: SimpleNamespace) -> Any:
    """The SentimentClassifier that `train`'s options describe: its flags, then --params, then --set."""
    from sentilstm.estimators.classifier import SentimentClassifier

    return SentimentClassifier(**{**_flag_params(o), **_settings(ctx, o)})


def _flag_params(o: SimpleNamespace) -> dict[str, Any]:
    return dict(
        cell=o.cell,
        bidirectional=o.bidirectional,
        pooling=o.pooling,
        embedding_dim=o.embedding_dim,
        hidden_size=o.hidden_size,
        num_layers=o.num_layers,
        dropout=o.dropout,
        embedding_dropout=o.embedding_dropout,
        output_dropout=o.output_dropout,
        weight_drop=o.weight_drop,
        head_l2=o.head_l2,
        conv_channels=o.conv_channels,
        tokenizer=o.tokenizer,
        vocab_size=o.vocab_size,
        min_frequency=o.min_frequency,
        max_length=o.max_length,
        stopwords=o.stopwords,
        stemmer=o.stemmer,
        epochs=o.epochs,
        batch_size=o.batch_size,
        learning_rate=o.learning_rate,
        weight_decay=o.weight_decay,
        schedule=o.schedule,
        patience=o.patience,
        monitor=o.monitor,
        class_weight=o.class_weight,
        loss=o.loss,
        focal_gamma=o.focal_gamma,
        sampling=o.sampling,
        seed=o.seed,
        precision=o.precision,
        device=o.device,
        num_threads=o.threads,
        blend=None if o.blend == "none" else o.blend,
        embeddings=str(o.embeddings) if o.embeddings is not None else None,
        freeze_embeddings=o.freeze_embeddings,
        pretrain_embeddings=o.pretrain_embeddings,
        augment=o.augment,
        augment_copies=o.augment_copies,
        augment_alpha=o.augment_alpha,
        augment_synonyms=o.augment_synonyms,
        augment_translator=o.augment_translator,
    )


def _settings(ctx: typer.Context, o: SimpleNamespace) -> dict[str, Any]:
    """--params, then --set, checked: known names, and none that a flag given on the command line also sets."""
    from sentilstm.cli.options import parse_assignments, read_params
    from sentilstm.selection.crossval import check_names, default_params

    settings = read_params(o.params_file) if o.params_file is not None else {}
    check_names("lstm", settings, default_params("lstm"))
    settings.update(parse_assignments(o.settings or [], "lstm"))
    given_flags(ctx, vars(o), settings)
    return settings  # the flags' defaults yield to these


def given_flags(ctx: typer.Context, flags: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The flags among `flags` that the user gave (not their defaults), as SentimentClassifier parameters; a flag
    whose parameter `settings` (--set/--params) also sets is a ConfigError: a value is given once."""
    from sentilstm.errors import ConfigError

    given: dict[str, Any] = {}
    for name, value in flags.items():
        if not _given(ctx, name):
            continue
        key = FLAG_FIELDS.get(name, name)
        if key in settings:
            raise ConfigError(
                f"{key} is given twice, as --{name.replace('_', '-')} and in --set/--params; give it once"
            )
        given[key] = None if key == "blend" and value == "none" else str(value) if key == "embeddings" else value
    return given


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user gave this parameter (command line or environment), rather than it taking its default."""
    source = ctx.get_parameter_source(name)  # typer's own copy of click's ParameterSource: compared by name
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


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
        if param.name in exclude or value is None or not _given(ctx, param.name or ""):
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


@app.command()
@friendly
def baseline(
    data: Annotated[
        Optional[Path], typer.Argument(help="Training table: CSV, TSV, JSONL or Parquet, optionally .gz.")
    ] = None,
    kind: Annotated[
        str,
        typer.Option(help="nbsvm (NB-weighted word 1-3-grams) or tfidf_lr (word + char TF-IDF, logistic regression)."),
    ] = "nbsvm",
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    test: Annotated[
        Optional[Path], typer.Option(help="Test table, scored after training and saved in the model.")
    ] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the model file.")] = Path(
        "baseline.sentilstm"
    ),
    c: Annotated[
        Optional[float], typer.Option("--C", help="Inverse regularisation strength (default 0.1 nbsvm, 4 tfidf_lr).")
    ] = None,
    min_df: Annotated[int, typer.Option(help="Keep n-grams seen in at least this many texts.")] = 2,
    class_weight: Annotated[Optional[str], typer.Option(help="'balanced' weighs classes by inverse frequency.")] = None,
    sampling: Annotated[
        str,
        typer.Option(
            help="none, oversample, undersample or smote (synthetic minority rows, Chawla et al. 2002) to equal classes."
        ),
    ] = "none",
    encoding: EncodingOpt = "utf-8",
    metrics_json: Annotated[Optional[Path], typer.Option(help="Also write the test metrics as JSON here.")] = None,
    report_path: Annotated[
        Optional[Path],
        typer.Option(
            "--report",
            help="Also write an HTML report here (with --test: its curves and errors), PNG plots in a _plots folder beside it.",
        ),
    ] = None,
    verbose: VerboseOpt = True,
) -> None:
    """Train a linear baseline (NBSVM or TF-IDF + logistic regression): the bar an LSTM has to clear."""
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
    check_test_labels(train_table, val_table, test_table)
    if val_table is not None:  # a linear model needs no early stopping: train on train + validation
        console.print(f"adding the {len(val_table)} validation texts to training (a baseline has no early stopping)")
    total = len(train_table) + (len(val_table) if val_table is not None else 0)
    console.print(f"training {kind} on {total} texts from {train_table.source}")
    run = baseline_to_file(
        clf, train_table, out_path, validation=val_table, test=test_table, metrics_json=metrics_json, report=report_path
    )
    console.print(f"trained in {clf.metrics_['train_seconds']:.1f}s")
    if run.test is not None:
        print_report(run.test, f"test: {test_table.source}")
    announce_report(report_path, run.report_path, run.report_error)
    out.print(f"saved {out_path}")
