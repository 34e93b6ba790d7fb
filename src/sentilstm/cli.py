"""Command line: `sentilstm train | evaluate | predict | export | ...`. Parses, calls the library, prints; no ML here.

Every error a user can cause prints one line `error: ...` and exits with code 2.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table as RichTable
from rich.text import Text

from sentilstm.errors import SentilstmError
from sentilstm.evaluation import MAX_MATRIX_CLASSES

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train, evaluate and use LSTM sentiment classifiers.")
# markup=False: paths, texts and labels are user data, and "[b]" or "[/x]" in them must print as they are
console = Console(stderr=True, markup=False)
out = Console(markup=False)


def _setup_logging(verbose: bool) -> None:
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
            _check_numbers(command, kwargs)
            return command(*args, **kwargs)
        except SentilstmError as exc:
            _print_error(str(exc))
        except OSError as exc:  # what no writer mapped (OutputError is a SentilstmError): still one line
            where = f" ({exc.filename})" if exc.filename else ""
            _print_error(f"{exc.strerror or exc}{where}; check the path, its permissions and the free disk space")
        except MemoryError:
            _print_error("ran out of memory; use smaller sizes (--hidden-size, --embedding-dim, --batch-size, --vocab-size) "
                         "or less data")
        except KeyboardInterrupt:
            console.print("interrupted")
            raise typer.Exit(130) from None
        raise typer.Exit(2)

    return wrapper


def _print_error(message: str) -> None:
    console.print(Text.assemble(("error:", "red"), f" {message}"), highlight=False, soft_wrap=True)


def _check_numbers(command: Callable[..., Any], values: dict[str, Any]) -> None:
    """nan, inf and integers beyond 64 bits fail for every option, naming it; ranges are each option's own."""
    from sentilstm.errors import ConfigError

    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{_option_name(command, name)} must be a finite number, got {value}")
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            raise ConfigError(f"{_option_name(command, name)} must be a whole number of at most 19 digits, got {value}")


def _option_name(command: Callable[..., Any], name: str) -> str:
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


class ProgressBar:
    """A rich progress bar fed by the training loop's callback hooks."""

    def __init__(self) -> None:
        from sentilstm.training import TrainingCallback

        parent = self

        class _Callback(TrainingCallback):
            def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
                parent.task = parent.progress.add_task(f"epoch {epoch}/{num_epochs}", total=num_batches, loss="")

            def on_step(self, epoch: int, step: int, loss: float) -> None:
                parent.progress.update(parent.task, advance=1, loss=f"loss {loss:.4f}")

            def on_epoch_end(self, stats: Any, improved: bool) -> None:
                parent.progress.update(
                    parent.task,
                    loss=f"loss {stats.train_loss:.4f} | val loss {stats.val_loss:.4f} acc {stats.val_accuracy:.4f} "
                    f"macro-F1 {stats.val_macro_f1:.4f} | {stats.samples_per_second:.0f} texts/s{' *' if improved else ''}",
                )

        self.callback = _Callback()
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), TextColumn("{task.fields[loss]}"), console=console,
        )
        self.task: Any = None


def print_report(report: Any, title: str) -> None:
    """Metrics, per-class table and confusion matrix of an EvaluationReport."""
    summary = RichTable(title=title, show_header=True)
    for name in ("examples", "accuracy", "macro F1", "weighted F1", "ROC-AUC", "loss"):
        summary.add_column(name, justify="right")
    auc = "n/a" if report.roc_auc is None else f"{report.roc_auc:.4f}"
    summary.add_row(
        str(report.num_examples), f"{report.accuracy:.4f}", f"{report.macro_f1:.4f}", f"{report.weighted_f1:.4f}", auc,
        f"{report.loss:.4f}",
    )
    out.print(summary)
    per_class = RichTable(title="per class")
    for name in ("label", "precision", "recall", "F1", "support"):
        per_class.add_column(name, justify="right")
    for label, metrics in report.per_class.items():
        per_class.add_row(label, f"{metrics.precision:.4f}", f"{metrics.recall:.4f}", f"{metrics.f1:.4f}", str(metrics.support))
    out.print(per_class)
    if len(report.labels) > MAX_MATRIX_CLASSES:  # K x K cells would be unreadable (and slow to draw)
        out.print(_confusions_table(report))
        return
    matrix = RichTable(title="confusion matrix (rows: true, columns: predicted)")
    matrix.add_column("true \\ pred")
    for label in report.labels:
        matrix.add_column(str(label), justify="right")
    for label, row in zip(report.labels, report.confusion_matrix):
        matrix.add_row(str(label), *map(str, row))
    out.print(matrix)


def _confusions_table(report: Any, k: int = 20) -> RichTable:
    """The most frequent errors, for a confusion matrix too large to print."""
    from sentilstm.evaluation import top_confusions

    table = RichTable(title=f"most frequent confusions ({len(report.labels)} classes; every count is in the JSON metrics)")
    for name in ("true", "predicted", "texts", "share of true"):
        table.add_column(name, justify="right")
    for true, predicted, count, share in top_confusions(report.confusion_matrix, report.labels, k):
        table.add_row(str(true), str(predicted), str(count), f"{share:.1%}")
    return table


TextColumnOpt = Annotated[Optional[str], typer.Option("--text-column", help="Column holding the text (inferred when unambiguous).")]
LabelColumnOpt = Annotated[Optional[str], typer.Option("--label-column", help="Column holding the label (inferred when unambiguous).")]
EncodingOpt = Annotated[str, typer.Option(help="Text encoding of CSV/TSV/JSONL files (bad bytes are replaced, with a warning).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose/--quiet", help="Show INFO logs (default) or only warnings.")]
DeviceOpt = Annotated[str, typer.Option(help="Where the network runs: auto (CUDA when available, else CPU), cpu, cuda or cuda:N; the device the model was trained on is not reused.")]


DatasetOpt = Annotated[Optional[str], typer.Option(help="A named dataset instead of DATA, e.g. imdb, sst2, afrisenti-ig, tweets.")]
DatasetPathOpt = Annotated[Optional[Path], typer.Option(help="Read --dataset from this local copy (official archive or folder) instead of the cache.")]


def _training_tables(data: Path | None, dataset: str | None, dataset_path: Path | None, validation: Path | None,
                     test: Path | None, **options: Any) -> tuple[Any, Any, Any, list[str]]:
    """(train, validation or None, test or None, unlabelled texts) from DATA or a named dataset, plus overrides."""
    from sentilstm.data import read_table
    from sentilstm.datasets import load_dataset
    from sentilstm.errors import DataError

    if (data is None) == (dataset is None):
        raise DataError("give either a DATA file or --dataset NAME (not both, not neither)")
    if dataset_path is not None and dataset is None:
        raise DataError("--dataset-path needs --dataset NAME, the dataset it holds")
    unlabeled: list[str] = []
    if dataset is not None:
        splits = load_dataset(dataset, path=dataset_path)
        train_table, val_table, test_table = splits.train, splits.validation, splits.test
        unlabeled = splits.unlabeled or []
    else:
        train_table, val_table, test_table = read_table(data, **options), None, None
    if validation is not None:
        val_table = read_table(validation, **options)
    if test is not None:
        test_table = read_table(test, **options)
    return train_table, val_table, test_table, unlabeled


def _check_test_labels(train: Any, validation: Any, test: Any) -> None:
    """A --test label the training data does not have can never be predicted: say so before training."""
    from sentilstm.data import LabelMap
    from sentilstm.errors import DataError

    if test is None:
        return
    known = LabelMap.fit(train.labels + (validation.labels if validation is not None else []))
    try:
        known.encode(test.labels)
    except DataError as exc:  # "labels [...] were not seen in training; this model knows [...]"
        raise DataError(f"--test {test.source}: {exc}; a model can never predict those: check the files and "
                        "--label-column") from None


def _check_out_paths(inputs: dict[str, Any] | None = None, **paths: Path | None) -> None:
    """Before any work: every output (keyword: option name) writable, none of them an input (MODEL, DATA...)."""
    from sentilstm.files import check_outputs

    check_outputs({f"--{option.replace('_', '-')}": path for option, path in paths.items()}, inputs or {})


def _save(model: Any, path: Path) -> None:
    """`model.save(path)`; the file system's refusal (full disk...) becomes one line naming the path."""
    from sentilstm.files import writing

    with writing(path):
        model.save(path)


def _write_json(data: Any, path: Path | None) -> None:
    """Write `data` as indented JSON to `path` (if given), atomically."""
    from sentilstm.files import write_atomically

    if path is not None:
        write_atomically(path, json.dumps(data, indent=2, default=str))


MlflowOpt = Annotated[Optional[bool], typer.Option("--mlflow/--no-mlflow", help="Log parameters, per-epoch metrics, results and files to MLflow (default: on when --mlflow-uri is given).")]
MlflowUriOpt = Annotated[Optional[str], typer.Option(help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://host:5000; implies --mlflow. Default: $MLFLOW_TRACKING_URI, else ./mlruns (a local file store, no server).")]
MlflowExperimentOpt = Annotated[str, typer.Option(help="MLflow experiment of the run (created when missing).")]


def _tracker(ctx: typer.Context, use_mlflow: bool | None, uri: str | None, experiment: str) -> Any:
    """The command's MLflow run (a no-op Tracker without --mlflow), started now and ended with the command:
    FINISHED, FAILED on an error, KILLED on Ctrl-C; its id and URI are printed last. For train, cv, tune:

        tracker = _tracker(ctx, use_mlflow, mlflow_uri, mlflow_experiment); tracker.log_params(...)
        fit(..., callback=chain(bar.callback, tracker.callback())); tracker.log_metrics(...); tracker.log_artifact(...)
    """
    from sentilstm.tracking import MlflowTracker, Tracker

    if not (use_mlflow if use_mlflow is not None else uri is not None):
        return Tracker()
    tracker = MlflowTracker(uri, experiment, tags={"sentilstm.command": ctx.info_name})
    # registered before the run so that it runs after the run has ended (the context unwinds last in, first out)
    ctx.call_on_close(lambda: tracker.run_id and console.print(
        f"MLflow run {tracker.run_id} ({tracker.status}) in experiment {experiment!r}: {tracker.tracking_uri}", soft_wrap=True))
    return ctx.with_resource(tracker)


def _write_report(build: Callable[[], Any], path: Path | None) -> Path | None:
    """Render and write a report after the results are saved: a report that fails never costs the trained model or
    the scores; it warns instead. Returns the path written, or None."""
    if path is None:
        return None
    try:
        build().write(path)
    except Exception as exc:  # noqa: BLE001 - plotting has many failure modes; none may lose a finished run
        console.print(f"warning: no report written to {path} ({type(exc).__name__}: {exc})")
        return None
    out.print(f"report: {path}")
    return path


NoReportOpt = Annotated[bool, typer.Option("--no-report", help="Write no HTML report.")]


@app.command()
@friendly
def train(
    ctx: typer.Context,
    data: Annotated[Optional[Path], typer.Argument(help="Training table: CSV, TSV, JSONL or Parquet, optionally .gz.")] = None,
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    validation: Annotated[Optional[Path], typer.Option(help="Validation table; default: a stratified hold-out of DATA.")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Test table, scored once after training and saved in the model.")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the model file.")] = Path("model.sentilstm"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from OUT.ckpt (same data and options).")] = False,
    encoding: EncodingOpt = "utf-8",
    cell: Annotated[str, typer.Option(help="Recurrent cell: lstm or gru.")] = "lstm",
    bidirectional: Annotated[bool, typer.Option("--bidirectional/--unidirectional", help="Read texts both ways.")] = True,
    pooling: Annotated[str, typer.Option(help="last, mean, max, attention or concat.")] = "attention",
    embedding_dim: Annotated[int, typer.Option(help="Embedding size.")] = 128,
    hidden_size: Annotated[int, typer.Option(help="RNN hidden size per direction.")] = 128,
    num_layers: Annotated[int, typer.Option(help="Stacked RNN layers.")] = 1,
    dropout: Annotated[float, typer.Option(help="Dropout on embeddings, between layers and before the head.")] = 0.3,
    embedding_dropout: Annotated[float, typer.Option(help="Drop whole words from each batch (AWD-LSTM: 0.1).")] = 0.0,
    output_dropout: Annotated[float, typer.Option(help="Dropout on the RNN's output states before pooling.")] = 0.0,
    weight_drop: Annotated[float, typer.Option(help="DropConnect on the RNN's hidden-to-hidden weights (AWD-LSTM).")] = 0.0,
    conv_channels: Annotated[int, typer.Option(help="Channels of an optional Conv1D front (0: none).")] = 0,
    tokenizer: Annotated[str, typer.Option(help="word, bpe or unigram (subwords suit Igbo, typos, code-mixing).")] = "word",
    vocab_size: Annotated[Optional[int], typer.Option(help="Vocabulary cap (default 30000 words / 8000 subwords).")] = None,
    min_frequency: Annotated[int, typer.Option(help="Rarer tokens become [UNK].")] = 2,
    max_length: Annotated[Optional[int], typer.Option(help="Max tokens per text (default: 95th percentile).")] = None,
    stopwords: Annotated[Optional[str], typer.Option(help="'english' removes stop words (negations are kept).")] = None,
    stemmer: Annotated[Optional[str], typer.Option(help="Snowball stemmer language, e.g. 'english'.")] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping usually ends sooner).")] = 10,
    batch_size: Annotated[int, typer.Option(help="Texts per optimiser step; with --nproc-per-node the global batch, split between the processes.")] = 64,
    learning_rate: Annotated[float, typer.Option(help="Peak AdamW learning rate.")] = 2e-3,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 0.01,
    head_l2: Annotated[float, typer.Option(help="L2 penalty on the output layer's weights, added to the loss (on top of AdamW's --weight-decay).")] = 0.0,
    schedule: Annotated[str, typer.Option(help="linear (warm-up + decay), one_cycle, plateau or constant.")] = "linear",
    patience: Annotated[int, typer.Option(help="Epochs without improvement before stopping.")] = 2,
    monitor: Annotated[str, typer.Option(help="Validation metric for early stopping: macro_f1, accuracy or loss.")] = "macro_f1",
    class_weight: Annotated[Optional[str], typer.Option(help="'balanced' weighs the loss by inverse class frequency.")] = None,
    loss: Annotated[str, typer.Option(help="cross_entropy, or focal (down-weights easy examples; for skewed classes).")] = "cross_entropy",
    focal_gamma: Annotated[float, typer.Option(help="Focal loss strength (0 = cross-entropy).")] = 2.0,
    sampling: Annotated[str, typer.Option(help="Class rebalancing: none, oversample, undersample (per epoch), balanced_batches, or smote (synthetic minority examples in the hidden space).")] = "none",
    seed: Annotated[int, typer.Option(help="Random seed for split, initialisation and batch order.")] = 0,
    precision: Annotated[str, typer.Option(help="fp32, bf16 (faster on AVX512-BF16 CPUs and GPUs) or auto.")] = "fp32",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[Optional[int], typer.Option(help="Torch CPU threads (default: the usable CPUs other processes leave free, re-measured while training; per process with --nproc-per-node: cores // processes).")] = None,
    embeddings: Annotated[Optional[Path], typer.Option(help="Pretrained word vectors: GloVe, word2vec (.txt/.bin), fastText (.vec/.bin); .gz ok.")] = None,
    pretrain_embeddings: Annotated[Optional[str], typer.Option(help="Train word2vec or fasttext vectors on the training (+ --unlabeled) texts first.")] = None,
    unlabeled: Annotated[Optional[Path], typer.Option(help="Unlabelled texts for --pretrain-embeddings (a named dataset's are used automatically).")] = None,
    freeze_embeddings: Annotated[int, typer.Option(help="Epochs to keep the embedding layer frozen (-1: always, 0: fine-tune from the start).")] = 0,
    blend: Annotated[str, typer.Option(help="Blend with a linear n-gram model: auto (best on validation), nbsvm, tfidf_lr or none.")] = "auto",
    augment: Annotated[Optional[str], typer.Option(help="Augment the training split: eda, or any of synonym,insert,swap,delete,backtranslate (comma-separated).")] = None,
    augment_copies: Annotated[int, typer.Option(help="Augmented copies per text and operation.")] = 1,
    augment_alpha: Annotated[float, typer.Option(help="Share of a text's words each edit changes (EDA's alpha).")] = 0.1,
    augment_synonyms: Annotated[str, typer.Option(help="Synonyms for synonym/insert: neighbours (nearest words in embedding space, any language) or wordnet (English, installed locally).")] = "neighbours",
    augment_translator: Annotated[Optional[str], typer.Option(help="Hugging Face models for backtranslate: 'FORWARD,BACKWARD', e.g. 'Helsinki-NLP/opus-mt-en-de,Helsinki-NLP/opus-mt-de-en'.")] = None,
    metrics_json: Annotated[Optional[Path], typer.Option(help="Also write validation/test metrics as JSON here.")] = None,
    report_to: Annotated[Optional[Path], typer.Option("--report", help="Where to write the HTML training report (its PNG plots go in a _plots folder beside it); default: beside --out, e.g. model.report.html.")] = None,
    no_report: NoReportOpt = False,
    use_mlflow: MlflowOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    mlflow_experiment: MlflowExperimentOpt = "sentilstm",
    nproc_per_node: Annotated[Optional[int], typer.Option(help="Train data-parallel (PyTorch DDP) in this many processes per machine, launched through torchrun; --batch-size stays the global batch. On CUDA one GPU per process (NCCL), on CPU the cores are shared out (gloo).", rich_help_panel="Distributed training")] = None,
    nnodes: Annotated[str, typer.Option(help="Machines in the job, N or MIN:MAX (each runs this command with the same rendezvous options).", rich_help_panel="Distributed training")] = "1",
    node_rank: Annotated[Optional[int], typer.Option(help="This machine's index, for --rdzv-backend static.", rich_help_panel="Distributed training")] = None,
    rdzv_endpoint: Annotated[Optional[str], typer.Option(help="HOST:PORT every machine can reach, for --nnodes > 1.", rich_help_panel="Distributed training")] = None,
    rdzv_id: Annotated[Optional[str], typer.Option(help="Job id, the same on every machine.", rich_help_panel="Distributed training")] = None,
    rdzv_backend: Annotated[Optional[str], typer.Option(help="torchrun rendezvous backend: c10d (default) or static.", rich_help_panel="Distributed training")] = None,
    dist_timeout: Annotated[Optional[float], typer.Option(help="Seconds a process waits for the others before failing (default 600; env SENTILSTM_DIST_TIMEOUT).", rich_help_panel="Distributed training")] = None,
    verbose: VerboseOpt = True,
) -> None:
    """Train a classifier on a labelled table and save it as one file."""
    from sentilstm import distributed
    from sentilstm.report import report_path_for

    report_path = None if no_report else report_to or report_path_for(out_path)
    inputs = {"DATA": data, "--validation": validation, "--test": test, "--unlabeled": unlabeled, "--embeddings": embeddings}
    outputs = {"out": out_path, "metrics_json": metrics_json, "report": report_path}
    if nproc_per_node is not None:  # this process only starts the workers (each runs this command without these)
        _check_out_paths(inputs, **outputs)
        _launch_training(ctx, distributed.LaunchOptions(nproc_per_node, nnodes, node_rank, rdzv_endpoint, rdzv_id,
                                                        rdzv_backend, dist_timeout), sampling, device)
        return
    main_process = distributed.is_main_process()  # under torchrun only rank 0 prints, tracks and writes files
    _setup_logging(verbose and main_process)
    from sentilstm.classifier import SentimentClassifier
    from sentilstm.data import check_encoding

    _check_out_paths(inputs, **outputs)
    check_encoding(encoding)
    clf = SentimentClassifier(
        cell=cell, bidirectional=bidirectional, pooling=pooling, embedding_dim=embedding_dim, hidden_size=hidden_size,
        num_layers=num_layers, dropout=dropout, embedding_dropout=embedding_dropout, output_dropout=output_dropout,
        weight_drop=weight_drop, head_l2=head_l2, conv_channels=conv_channels, tokenizer=tokenizer,
        vocab_size=vocab_size, min_frequency=min_frequency, max_length=max_length, stopwords=stopwords,
        stemmer=stemmer, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        weight_decay=weight_decay, schedule=schedule, patience=patience, monitor=monitor, class_weight=class_weight,
        loss=loss, focal_gamma=focal_gamma, sampling=sampling,
        seed=seed, precision=precision, device=device, num_threads=threads, blend=None if blend == "none" else blend,
        embeddings=str(embeddings) if embeddings is not None else None, freeze_embeddings=freeze_embeddings,
        pretrain_embeddings=pretrain_embeddings, augment=augment, augment_copies=augment_copies,
        augment_alpha=augment_alpha, augment_synonyms=augment_synonyms, augment_translator=augment_translator,
    ).check_params()  # every setting, and whether the network fits in memory, before any data is read
    train_table, val_table, test_table, unlabeled_texts = _training_tables(
        data, dataset, dataset_path, validation, test, text_column=text_column, label_column=label_column, encoding=encoding
    )
    _check_test_labels(train_table, val_table, test_table)
    if unlabeled is not None:
        from sentilstm.data import read_table

        unlabeled_texts = read_table(unlabeled, text_column=text_column, need_label=False, encoding=encoding).texts
    from sentilstm.tracking import chain

    if not main_process:  # another rank of a distributed run: train its shards, write and print nothing
        clf.fit(train_table.texts, train_table.labels,
                validation=(val_table.texts, val_table.labels) if val_table is not None else None,
                checkpoint_path=Path(f"{out_path}.ckpt"), resume=resume, unlabeled=unlabeled_texts if pretrain_embeddings else None)
        return
    tracker = _tracker(ctx, use_mlflow, mlflow_uri, mlflow_experiment)  # --mlflow; a no-op otherwise
    splits = {"train": train_table, "validation": val_table, "test": test_table}  # validation None: a hold-out of train
    tracker.log_params({**clf.get_params(), "data": {name: t if t is None else f"{t.source} ({len(t)} rows)" for name, t in splits.items()}})
    console.print(f"training on {len(train_table)} texts from {train_table.source}"
                  + (f" in {distributed.world_size()} processes" if distributed.launched() else ""))
    bar = ProgressBar()
    with bar.progress:
        clf.fit(
            train_table.texts,
            train_table.labels,
            validation=(val_table.texts, val_table.labels) if val_table is not None else None,
            checkpoint_path=Path(f"{out_path}.ckpt"),
            resume=resume,
            callback=chain(bar.callback, tracker.callback()),
            unlabeled=unlabeled_texts if pretrain_embeddings else None,
        )
    print_report(clf.validation_report_, f"validation (best epoch {clf.history_.best_epoch})")
    from sentilstm.report import labelled_predictions, training_report

    test_predictions = None
    if test_table is not None:  # scored once: the printed metrics, the model file's and the report's curves
        test_predictions = labelled_predictions(clf, test_table.texts, test_table.labels)
        report = test_predictions.report()
        clf.metrics_["test"] = report.to_dict()
        print_report(report, f"test: {test_table.source}")
    clf.metrics_["data"]["dropped_rows"] = train_table.dropped + (val_table.dropped if val_table is not None else 0)
    _save(clf, out_path)
    Path(f"{out_path}.ckpt").unlink(missing_ok=True)
    report_path = _write_report(lambda: training_report(clf, title=f"Training report: {out_path.name}", test=test_predictions,
                                                        source=train_table.source), report_path)
    _write_json(clf.metrics_, metrics_json)
    # --mlflow (no-op otherwise): final scores, then the files once all are written (the report embeds its plots)
    tracker.log_metrics({"best_epoch": clf.history_.best_epoch, **{k: v for k, v in clf.metrics_.items() if k in ("validation", "test")}})
    for path in (out_path, report_path, metrics_json):
        if path is not None:
            tracker.log_artifact(path)
    out.print(f"saved {out_path}")


LAUNCH_OPTIONS = {"nproc_per_node", "nnodes", "node_rank", "rdzv_endpoint", "rdzv_id", "rdzv_backend", "dist_timeout"}


def _launch_training(ctx: typer.Context, options: Any, sampling: str, device: str) -> None:
    """Run this `train` command, minus the launch options, in torchrun workers; exit with the job's code."""
    from sentilstm import distributed
    from sentilstm.runtime import resolve_device

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
        if param.name in exclude or value is None:
            continue
        if param.param_type_name == "argument":
            args.append(str(value))
        elif getattr(param, "is_flag", False):
            if param.secondary_opts:
                args.append(param.opts[0] if value else param.secondary_opts[0])
            elif value:
                args.append(param.opts[0])
        else:
            args += [param.opts[0], str(value)]
    return args


@app.command()
@friendly
def evaluate(
    model: Annotated[Path, typer.Argument(help="A model file written by `sentilstm train`.")],
    data: Annotated[Path, typer.Argument(help="Labelled table to score.")],
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    encoding: EncodingOpt = "utf-8",
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the report as JSON here.")] = None,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Score a model on a labelled table: accuracy, F1, ROC-AUC, per-class metrics, confusion matrix."""
    _setup_logging(verbose)
    from sentilstm.classifier import load_model
    from sentilstm.data import check_encoding, read_table

    _check_out_paths({"MODEL": model, "DATA": data}, json=json_path)
    check_encoding(encoding)
    clf = load_model(model, device=device)
    table = read_table(data, text_column=text_column, label_column=label_column, encoding=encoding)
    report = clf.evaluate(table.texts, table.labels)
    print_report(report, f"{data}")
    _write_json(report.to_dict(), json_path)


@app.command()
@friendly
def predict(
    model: Annotated[Path, typer.Argument(help="A model file written by `sentilstm train`.")],
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to classify (or use --input).")] = None,
    # str, not Path: with --engine ray these may be URIs (s3://b/k), which Path would turn into s3:/b/k
    input_path: Annotated[Optional[str], typer.Option("--input", help="Table to score, streamed in chunks. With --engine ray: a file, folder or quoted glob, local or s3://, gs://, hdfs://...")] = None,
    output_path: Annotated[Optional[str], typer.Option("--output", help="Scored table (CSV/TSV/JSONL/Parquet). With --engine ray: a new folder of part files, format from its extension (scored.csv/, scored.parquet/) or --output-format, else Parquet.")] = None,
    text_column: TextColumnOpt = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk when streaming --input.")] = 10_000,
    encoding: EncodingOpt = "utf-8",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per text.")] = False,
    backend: Annotated[str, typer.Option(help="Where the network runs: torch, onnx (ONNX Runtime fp32) or onnx-int8 (dynamic int8, fastest on CPU). Uses MODEL.onnx / MODEL.int8.onnx from `sentilstm export` when present, else exports in memory.")] = "torch",
    threads: Annotated[Optional[int], typer.Option(help="Intra-op threads of the backend (default: the usable CPUs other processes leave free, re-measured while scoring with torch; 1 per actor with --engine ray).")] = None,
    engine: Annotated[str, typer.Option(help="local (this process, streaming) or ray (a Ray Data actor pool; needs `pip install 'sentilstm[ray]'`).")] = "local",
    ray_address: Annotated[Optional[str], typer.Option(help="--engine ray: the cluster to join (auto, ray://head:10001); default: start a local Ray instance.")] = None,
    concurrency: Annotated[Optional[int], typer.Option(help="--engine ray: scoring actors (default: one per --threads CPUs, or per --num-gpus GPUs, of the cluster).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="--engine ray: rows per actor call (default 4096).")] = None,
    num_gpus: Annotated[Optional[float], typer.Option(help="--engine ray: GPUs per actor (torch backend); default 0.")] = None,
    output_format: Annotated[Optional[str], typer.Option(help="--engine ray: csv, jsonl or parquet part files (default: from --output's extension, else parquet).")] = None,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Classify texts given on the command line, or score a table with --input/--output (streamed here, or on Ray)."""
    _setup_logging(verbose)
    from sentilstm.backends import load_for_serving
    from sentilstm.errors import ConfigError, DataError
    from sentilstm.scoring import score_file

    if engine not in ("local", "ray"):
        raise ConfigError(f"--engine must be one of ['local', 'ray'], got {engine!r}")
    ray_options = {"--ray-address": ray_address, "--concurrency": concurrency, "--batch-size": batch_size,
                   "--num-gpus": num_gpus, "--output-format": output_format}
    if engine == "local" and any(v is not None for v in ray_options.values()):
        given = [name for name, value in ray_options.items() if value is not None]
        raise ConfigError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only with --engine ray; "
                          "add --engine ray or leave them out")
    if engine == "ray" and texts:
        raise DataError("--engine ray scores tables: give --input FILES and --output FOLDER, not texts")
    if engine == "ray" and device != "auto":
        raise ConfigError(f"--device {device} applies to the local engine; with --engine ray give --num-gpus instead")
    if bool(texts) == (input_path is not None):
        raise DataError("give texts to classify, or --input FILE with --output FILE (not both)")
    if input_path is not None and output_path is None:
        raise DataError("--input needs --output FILE for the scored rows")
    from sentilstm.data import check_encoding
    from sentilstm.text.normalize import clean_text

    check_encoding(encoding)
    texts = [clean_text(text) for text in texts or []]  # undecodable argument bytes print as U+FFFD, not a crash
    if engine == "ray":
        _predict_on_ray(model, input_path, output_path, text_column=text_column, encoding=encoding, backend=backend,
                        threads=threads, address=ray_address, concurrency=concurrency, batch_size=batch_size,
                        num_gpus=num_gpus, output_format=output_format, verbose=verbose)
        return
    if input_path is not None:
        _check_out_paths({"MODEL": model, "--input": input_path}, output=Path(output_path))
    clf = load_for_serving(model, backend, threads=threads, device=device)  # type: ignore[arg-type] - checked inside
    if input_path is not None:
        with Progress(TextColumn("scoring"), MofNCompleteColumn(), TextColumn("rows"), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("score", total=None)
            summary = score_file(
                clf, input_path, output_path, text_column=text_column, chunk_rows=chunk_rows, encoding=encoding,
                on_chunk=lambda n: bar.update(task, advance=n),
            )
        console.print(f"scored {summary.rows} rows in {summary.seconds:.1f}s -> {summary.output}")
        return
    probabilities = clf.predict_proba(texts)
    labels = clf.label_map_.labels
    if as_json:
        for text, row in zip(texts, probabilities):
            best = int(row.argmax())
            print(json.dumps({"text": text, "label": labels[best], "probabilities": dict(zip(map(str, labels), row.round(6).tolist()))}, ensure_ascii=False))
        return
    table = RichTable(show_header=True)
    table.add_column("text", overflow="fold")
    table.add_column("label")
    for label in labels:
        table.add_column(f"p({label})", justify="right")
    for text, row in zip(texts, probabilities):
        table.add_row(Text(text[:200]), Text(str(labels[int(row.argmax())])), *(f"{p:.4f}" for p in row))
    out.print(table)


def _predict_on_ray(model: Path, input_path: str, output_path: str, *, text_column: str | None, encoding: str,
                    backend: str, threads: int | None, address: str | None, concurrency: int | None,
                    batch_size: int | None, num_gpus: float | None, output_format: str | None, verbose: bool) -> None:
    """`predict --engine ray`: join or start Ray, score with an actor pool, write a new folder of part files."""
    from sentilstm.errors import ConfigError
    from sentilstm.scale import ray_data

    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ConfigError(f"--engine ray reads UTF-8 only, got --encoding {encoding!r}; convert the files "
                          "(iconv -f ... -t utf-8) or use the local engine")
    ray = ray_data.import_ray()
    joined = ray.is_initialized()  # called from Python with Ray already up (tests, notebooks): leave it running
    if not verbose:  # Ray Data logs each execution plan at INFO; its progress bars stay
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        summary = ray_data.ray_score(
            input_path, output_path, model, output_format=output_format, text_column=text_column, address=address,
            backend=backend, threads=threads or 1, concurrency=concurrency,
            batch_size=batch_size or ray_data.DEFAULT_BATCH_SIZE, num_gpus=num_gpus or 0,
        )
    finally:
        if not joined:
            ray.shutdown()
    console.print(f"scored {summary.rows} rows in {summary.seconds:.1f}s -> {summary.output}/ "
                  f"({summary.files} {summary.format} file{'s' if summary.files != 1 else ''})", soft_wrap=True)


@app.command()
@friendly
def export(
    model: Annotated[Path, typer.Argument(help="A model file written by `sentilstm train`.")],
    export_format: Annotated[str, typer.Option("--format", help="onnx (for ONNX Runtime; dynamic batch and sequence axes) or torchscript.")] = "onnx",
    quantize: Annotated[Optional[str], typer.Option(help="int8: ONNX Runtime dynamic int8 quantization (ONNX only).")] = None,
    out_path: Annotated[Optional[Path], typer.Option("--out", help="Where to write it (default: beside MODEL as MODEL.onnx, MODEL.int8.onnx or MODEL.pt, where `predict --backend` finds it).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the export report as JSON.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Export the network to ONNX (optionally int8) or TorchScript and check it against PyTorch: size, max |Δlogit|, argmax agreement."""
    _setup_logging(verbose)
    from sentilstm.export import export_model

    _check_out_paths({"MODEL": model}, out=out_path)
    report = export_model(model, export_format, quantize=quantize, out=out_path)  # type: ignore[arg-type] - checked inside
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    texts = sum(batch for batch, _ in report.checked_shapes)
    out.print(f"wrote {report.path} ({report.format}{' int8' if report.quantize else ''}, {report.size_bytes / 1e6:.2f} MB) in {report.seconds:.1f}s", soft_wrap=True)
    out.print(f"max |logit difference| vs PyTorch: {report.max_abs_diff:.3g}; argmax agreement: {report.argmax_agreement:.4f} "
              f"({texts} texts in {len(report.checked_shapes)} batches, 1 to {max(n for _, n in report.checked_shapes)} tokens)")


@app.command()
@friendly
def baseline(
    data: Annotated[Optional[Path], typer.Argument(help="Training table: CSV, TSV, JSONL or Parquet, optionally .gz.")] = None,
    kind: Annotated[str, typer.Option(help="nbsvm (NB-weighted word 1-3-grams) or tfidf_lr (word + char TF-IDF, logistic regression).")] = "nbsvm",
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    test: Annotated[Optional[Path], typer.Option(help="Test table, scored after training and saved in the model.")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the model file.")] = Path("baseline.sentilstm"),
    c: Annotated[Optional[float], typer.Option("--C", help="Inverse regularisation strength (default 0.1 nbsvm, 4 tfidf_lr).")] = None,
    min_df: Annotated[int, typer.Option(help="Keep n-grams seen in at least this many texts.")] = 2,
    class_weight: Annotated[Optional[str], typer.Option(help="'balanced' weighs classes by inverse frequency.")] = None,
    sampling: Annotated[str, typer.Option(help="none, oversample, undersample or smote (synthetic minority rows, Chawla et al. 2002) to equal classes.")] = "none",
    encoding: EncodingOpt = "utf-8",
    metrics_json: Annotated[Optional[Path], typer.Option(help="Also write the test metrics as JSON here.")] = None,
    report_path: Annotated[Optional[Path], typer.Option("--report", help="Also write an HTML report here (with --test: its curves and errors), PNG plots in a _plots folder beside it.")] = None,
    verbose: VerboseOpt = True,
) -> None:
    """Train a linear baseline (NBSVM or TF-IDF + logistic regression): the bar an LSTM has to clear."""
    _setup_logging(verbose)
    import time

    from sentilstm.baselines import make_baseline

    from sentilstm.data import check_encoding

    _check_out_paths({"DATA": data, "--test": test}, out=out_path, metrics_json=metrics_json, report=report_path)
    check_encoding(encoding)
    params: dict[str, Any] = {"min_df": min_df, "class_weight": class_weight, "sampling": sampling}
    if c is not None:
        params["C"] = c
    clf = make_baseline(kind, **params).check_params()  # bad options fail before any data is read
    train_table, val_table, test_table, _ = _training_tables(
        data, dataset, dataset_path, None, test, text_column=text_column, label_column=label_column, encoding=encoding
    )
    _check_test_labels(train_table, val_table, test_table)
    if val_table is not None:  # a linear model needs no early stopping: train on train + validation
        console.print(f"adding the {len(val_table)} validation texts to training (a baseline has no early stopping)")
    texts = train_table.texts + (val_table.texts if val_table is not None else [])
    labels = train_table.labels + (val_table.labels if val_table is not None else [])
    console.print(f"training {kind} on {len(texts)} texts from {train_table.source}")
    started = time.perf_counter()
    clf.fit(texts, labels)
    clf.metrics_ = {"train_seconds": round(time.perf_counter() - started, 2)}
    console.print(f"trained in {clf.metrics_['train_seconds']:.1f}s")
    from sentilstm.report import labelled_predictions, training_report

    test_predictions = None
    if test_table is not None:
        test_predictions = labelled_predictions(clf, test_table.texts, test_table.labels)
        report = test_predictions.report()
        clf.metrics_["test"] = report.to_dict()
        print_report(report, f"test: {test_table.source}")
    _save(clf, out_path)
    _write_report(lambda: training_report(clf, title=f"Baseline report: {out_path.name}", test=test_predictions,
                                          source=train_table.source), report_path)
    _write_json(clf.metrics_, metrics_json)
    out.print(f"saved {out_path}")


SCORES = ("accuracy", "macro_f1", "weighted_f1", "roc_auc", "loss")  # the headline numbers --mlflow logs per fold


@app.command()
@friendly
def cv(
    ctx: typer.Context,
    data: Annotated[Optional[Path], typer.Argument(help="Labelled table: CSV, TSV, JSONL or Parquet, optionally .gz.")] = None,
    folds: Annotated[int, typer.Option(help="Stratified folds K (every class needs K or more texts).")] = 5,
    repeats: Annotated[int, typer.Option(help="Repeat the K folds with a new shuffle this many times (R*K models).")] = 1,
    jobs: Annotated[int, typer.Option(help="Folds trained at once, each in its own process; CPU threads are shared out.")] = 1,
    estimator: Annotated[str, typer.Option(help="lstm (SentimentClassifier) or a linear baseline: nbsvm or tfidf_lr.")] = "lstm",
    settings: Annotated[Optional[list[str]], typer.Option("--set", help="Model/training parameter KEY=VALUE, repeatable, e.g. --set epochs=5 --set cell=gru (SentimentClassifier's or the baseline's names; 'none' for None).")] = None,
    params_file: Annotated[Optional[Path], typer.Option("--params", help="JSON or YAML file of parameters {name: value}; --set overrides it.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the fold shuffle (repeat r uses seed + r); the model's seed is --set seed=N.")] = 0,
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    encoding: EncodingOpt = "utf-8",
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write every fold's metrics and the summary as JSON here.")] = None,
    report_to: Annotated[Optional[Path], typer.Option("--report", help="Where to write the HTML report (default: NAME.cv.report.html, NAME being DATA's or the dataset's name).")] = None,
    no_report: NoReportOpt = False,
    use_mlflow: MlflowOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    mlflow_experiment: MlflowExperimentOpt = "sentilstm",
    verbose: VerboseOpt = True,
) -> None:
    """Cross-validate: stratified K-fold, each fold's metrics, mean ± std, and the out-of-fold confusion matrix."""
    _setup_logging(verbose)
    import contextlib

    from sentilstm.crossval import check_options, cross_validate, parse_assignments, read_params

    name = dataset or (data.name.split(".")[0] if data is not None else "cv")
    report_path = None if no_report else report_to or Path(f"{name}.cv.report.html")
    from sentilstm.data import check_encoding

    _check_out_paths({"DATA": data, "--params": params_file}, json=json_path, report=report_path)
    check_encoding(encoding)
    params = read_params(params_file) if params_file is not None else {}
    params.update(parse_assignments(settings or [], estimator))
    check_options(estimator=estimator, params=params, folds=folds, repeats=repeats, seed=seed, jobs=jobs)  # before reading data
    train_table, val_table, _, _ = _training_tables(
        data, dataset, dataset_path, None, None, text_column=text_column, label_column=label_column, encoding=encoding
    )
    texts, labels = train_table.texts, train_table.labels
    if val_table is not None:  # a named dataset's validation split: the folds make their own held-out parts
        console.print(f"adding the {len(val_table)} validation texts to the cross-validated data")
        texts, labels = texts + val_table.texts, labels + val_table.labels
    console.print(f"{folds}-fold cross-validation{f' x {repeats}' if repeats > 1 else ''} of {estimator} on "
                  f"{len(texts)} texts from {train_table.source}")
    tracker = _tracker(ctx, use_mlflow, mlflow_uri, mlflow_experiment)  # --mlflow; a no-op otherwise
    tracker.log_params({**params, "estimator": estimator, "folds": folds, "repeats": repeats, "cv_seed": seed,
                        "data": f"{train_table.source} ({len(texts)} rows)"})
    bar = ProgressBar() if jobs == 1 and estimator == "lstm" else None

    def on_fold(fold: Any) -> None:
        step = fold.repeat * folds + fold.fold + 1
        tracker.log_metrics({k: v for k, v in fold.report.to_dict().items() if k in SCORES}, prefix="fold", step=step)
        if bar is not None:  # drop the finished fold's epoch bars
            for task in list(bar.progress.task_ids):
                bar.progress.remove_task(task)
        where = f"repeat {fold.repeat + 1}/{repeats} " if repeats > 1 else ""
        console.print(f"{where}fold {fold.fold + 1}/{folds}: accuracy {fold.report.accuracy:.4f}, "
                      f"macro F1 {fold.report.macro_f1:.4f} ({fold.seconds:.1f}s)")

    with bar.progress if bar is not None else contextlib.nullcontext():
        result = cross_validate(
            texts, labels, params=params, estimator=estimator, folds=folds, repeats=repeats, seed=seed, jobs=jobs,
            on_fold=on_fold, callback_factory=(lambda repeat, fold: bar.callback) if bar is not None else None,
        )
    _print_folds(result)
    print_report(result.predictions.report(), "out-of-fold predictions" + (" (repeat 1)" if repeats > 1 else ""))
    _write_json(result.to_dict(), json_path)
    from sentilstm.report import cv_report

    report_path = _write_report(lambda: cv_report(result), report_path)
    tracker.log_metrics({f"{metric}_{part}": value for metric, pair in result.summary().items()
                         for part, value in zip(("mean", "std"), pair)})
    for path in (report_path, json_path):
        if path is not None:
            tracker.log_artifact(path)


def _print_folds(result: Any) -> None:
    """One row per fold of a CVResult, then mean ± std over the folds."""
    table = RichTable(title=f"{result.num_folds}-fold cross-validation of {result.estimator}")
    metrics = ("accuracy", "macro_f1", "weighted_f1", "roc_auc", "loss")
    for name in ("repeat", "fold", "accuracy", "macro F1", "weighted F1", "ROC-AUC", "loss", "seconds"):
        table.add_column(name, justify="right")
    for fold in result.folds:
        values = [getattr(fold.report, m) for m in metrics]
        table.add_row(str(fold.repeat + 1), str(fold.fold + 1), *("n/a" if v is None else f"{v:.4f}" for v in values),
                      f"{fold.seconds:.1f}")
    summary = result.summary()
    cells = [f"{summary[m][0]:.4f} ± {summary[m][1]:.4f}" if m in summary else "n/a" for m in metrics]
    seconds = [fold.seconds for fold in result.folds]
    mean = sum(seconds) / len(seconds)
    spread = (sum((s - mean) ** 2 for s in seconds) / len(seconds)) ** 0.5
    table.add_section()
    table.add_row("mean ± std", "", *cells, f"{mean:.1f} ± {spread:.1f}")
    out.print(table)


@app.command()
@friendly
def explain(
    model: Annotated[Path, typer.Argument(help="A model file written by train or baseline.")],
    texts: Annotated[list[str], typer.Argument(help="Texts to explain.")],
    method: Annotated[str, typer.Option(help="auto (integrated gradients for a network alone; kernel SHAP for a blended model or a baseline, so the whole prediction is explained), attention, integrated_gradients, lime or kernel_shap.")] = "auto",
    label: Annotated[Optional[str], typer.Option(help="Explain this label instead of the predicted one.")] = None,
    samples: Annotated[int, typer.Option(help="Perturbed texts for lime, and for kernel_shap beyond 11 words (exact below).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the perturbations (lime, kernel_shap).")] = 0,
    top: Annotated[int, typer.Option(help="How many of the strongest words to list per text.")] = 5,
    html_path: Annotated[Optional[Path], typer.Option("--html", help="Also write one highlighted HTML page with every text here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per text instead of coloured text.")] = False,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = False,
) -> None:
    """Show which words made the model choose its label: words coloured by attribution, top words, optional HTML."""
    _setup_logging(verbose)
    from sentilstm.classifier import load_model
    from sentilstm.config import check_integer
    from sentilstm.explain import check_method, explain as explain_text, write_html
    from sentilstm.files import writing
    from sentilstm.text.normalize import clean_text

    check_method(method)
    check_integer("--top", top, low=1)
    _check_out_paths({"MODEL": model}, html=html_path)
    texts = [clean_text(text) for text in texts]  # undecodable argument bytes print as U+FFFD, not a crash
    clf = load_model(model, device=device)
    attributions = [explain_text(clf, text, method, num_samples=samples, seed=seed) for text in texts]
    attributions[0].label_index(label)  # an unknown --label fails before anything is printed
    if html_path is not None:
        with writing(html_path):
            write_html(attributions, html_path, label=label)
    if as_json:
        for attribution in attributions:
            print(json.dumps(attribution.to_dict(), ensure_ascii=False))
    else:
        for number, attribution in enumerate(attributions, start=1):
            column = attribution.label_index(label)
            shown = attribution.labels[column]
            probabilities = "  ".join(f"p({name})={p:.3f}" for name, p in zip(attribution.labels, attribution.probabilities))
            out.print(Text.assemble((f"[{number}] ", "bold"), f"predicted {attribution.predicted_label}  ", probabilities,
                                    f"  ({attribution.method}, colours explain {shown})"), soft_wrap=True)
            out.print(attribution.to_rich(label), soft_wrap=True)
            strongest = ", ".join(f"{word} {score:+.3f}" for word, score in attribution.top(top, label))
            out.print(Text(f"top words for {shown}: {strongest}"), soft_wrap=True)
            for note in attribution.notes:
                out.print(Text(f"note: {note}", style="yellow"), soft_wrap=True)
    if html_path is not None:
        console.print(f"wrote {html_path}")


@app.command()
@friendly
def tune(
    ctx: typer.Context,
    data: Annotated[Optional[Path], typer.Argument(help="Training table: CSV, TSV, JSONL or Parquet, optionally .gz.")] = None,
    trials: Annotated[int, typer.Option(help="Finished (complete or pruned) trials the study should hold: re-running resumes to this total; 0 runs none and only retrains the best.")] = 20,
    timeout: Annotated[Optional[float], typer.Option(help="Start no new trial after this many seconds.")] = None,
    storage: Annotated[Optional[str], typer.Option(help="Study database, any SQLAlchemy URL (e.g. postgresql://user:pw@host/db); workers given the same URL share the study. Default: sqlite beside --out (model.study.db).")] = None,
    study_name: Annotated[Optional[str], typer.Option(help="Study name in the storage (default: DATA's file name or the dataset's name).")] = None,
    space: Annotated[Optional[Path], typer.Option(help="YAML or JSON search space {name: spec or fixed value}, replacing or extending the default one ('extend_default: false' starts empty).")] = None,
    metric: Annotated[str, typer.Option(help="Validation metric to optimise: macro_f1, accuracy, weighted_f1, or loss (minimised).")] = "macro_f1",
    cv_folds: Annotated[Optional[int], typer.Option(help="Score each trial by the mean of K-fold cross-validation (small datasets).")] = None,
    settings: Annotated[Optional[list[str]], typer.Option("--set", help="Fixed parameter KEY=VALUE, repeatable, e.g. --set epochs=5 --set num_threads=4; a searched one leaves the search. blend applies to the final model only.")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Where to save the retrained best model; the trials table goes beside it (model.trials.csv).")] = Path("model.sentilstm"),
    seed: Annotated[int, typer.Option(help="Sampler seed, and every model's unless --set seed=N; give each worker of a shared study its own.")] = 0,
    retrain: Annotated[bool, typer.Option("--retrain/--no-retrain", help="Retrain and save the best configuration at the end (--no-retrain for worker processes).")] = True,
    dataset: DatasetOpt = None,
    dataset_path: DatasetPathOpt = None,
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    validation: Annotated[Optional[Path], typer.Option(help="Validation table for every trial; default: each trial's stratified hold-out of DATA.")] = None,
    encoding: EncodingOpt = "utf-8",
    report_to: Annotated[Optional[Path], typer.Option("--report", help="Where to write the HTML report: trials, search history, parameter importances, and the retrained model's evaluation (default: beside --out, model.report.html).")] = None,
    no_report: NoReportOpt = False,
    use_mlflow: MlflowOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    mlflow_experiment: MlflowExperimentOpt = "sentilstm",
    verbose: VerboseOpt = True,
) -> None:
    """Search hyperparameters with Optuna (pruning, resumable study), then retrain and save the best model."""
    _setup_logging(verbose)
    from sentilstm.crossval import parse_assignments
    from sentilstm.tuning import SearchSpace, trials_path, tune as search

    from sentilstm.report import report_path_for, tune_report

    report_path = None if no_report else report_to or report_path_for(out_path)
    from sentilstm.data import check_encoding
    from sentilstm.tuning import study_path

    _check_out_paths({"DATA": data, "--validation": validation, "--space": space}, out=out_path, report=report_path,
                     trials_table=trials_path(out_path), study=study_path(out_path) if storage is None else None)
    check_encoding(encoding)
    base = parse_assignments(settings or [], "lstm")
    search_space = SearchSpace.load(space)  # a bad space file fails before any data is read
    train_table, val_table, _, _ = _training_tables(
        data, dataset, dataset_path, validation, None, text_column=text_column, label_column=label_column, encoding=encoding
    )
    name = study_name or dataset or (data.name.split(".")[0] if data is not None else None)
    tracker = _tracker(ctx, use_mlflow, mlflow_uri, mlflow_experiment)  # --mlflow; a no-op otherwise
    tracker.log_params({"space": search_space.to_dict(), "fixed": base, "metric": metric, "cv_folds": cv_folds,
                        "trials": trials, "seed": seed, "data": f"{train_table.source} ({len(train_table)} rows)"})

    def log_trial(study: Any, trial: Any) -> None:  # each finished trial's score, step = trial number
        if trial.value is not None:
            tracker.log_metrics({"trial_value": trial.value}, step=trial.number)

    try:
        result = search(
            train_table.texts, train_table.labels, trials=trials, timeout=timeout, space=search_space, base_params=base,
            metric=metric, cv_folds=cv_folds, validation=(val_table.texts, val_table.labels) if val_table is not None else None,
            storage=storage, study_name=name, out=out_path, retrain=retrain, seed=seed, callback=log_trial,
        )
    except KeyboardInterrupt:
        console.print("interrupted; run the same command again to continue the study (finished trials are kept)")
        raise typer.Exit(130) from None
    _print_trials(result)
    out.print(f"study {result.study.study_name!r} in {result.storage}")
    if len(result.study.trials):
        out.print(f"trials table: {trials_path(out_path)}")
    if result.model_path is not None:
        out.print(f"saved the best configuration, retrained: {result.model_path}")
    elif not retrain:
        out.print("no model retrained (--no-retrain); when the workers are done, run this command with --trials 0")
    report_path = _write_report(lambda: tune_report(result), report_path)
    if result.best_params:
        tracker.log_params({f"best.{key}": value for key, value in result.best_params.items()})
        tracker.log_metrics({f"best_{metric}": result.best_value})
    for path in (result.model_path, report_path, trials_path(out_path) if len(result.study.trials) else None):
        if path is not None and Path(path).exists():
            tracker.log_artifact(path)


def _print_trials(result: Any) -> None:
    """The trials (number, state, value, the parameters that varied, seconds), then the best parameters."""
    table = result.trials_table()
    bookkeeping = {"number", "state", "value", "seconds", "steps", "error", "worker"}
    params = [c for c in table.columns if c not in bookkeeping and (len(table) < 2 or table[c].astype(str).nunique() > 1)]
    view = RichTable(title=f"trials of {result.study.study_name!r} ({result.metric}, {result.direction})")
    for column, justify in (("trial", "right"), ("state", "left"), (result.metric, "right"), ("params", "left"), ("seconds", "right")):
        view.add_column(column, justify=justify, overflow="fold")
    for row in table.astype(object).where(table.notna(), None).to_dict(orient="records"):
        value = "" if row["value"] is None else f"{row['value']:.4f}"
        note = f" [{row['error']}]" if row["error"] else ""
        seconds = "" if row["seconds"] is None else f"{row['seconds']:.1f}"
        view.add_row(str(row["number"]), row["state"].lower(), value, Text(" ".join(f"{p}={_short(row[p])}" for p in params) + note),
                     seconds)
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


@app.command()
@friendly
def serve(
    model: Annotated[Path, typer.Argument(help="A model file written by train or baseline.")],
    host: Annotated[str, typer.Option(help="Address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 for all.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes, each with its own copy of the model: one per CPU core.")] = 1,
    backend: Annotated[str, typer.Option(help="Where the network runs: torch, onnx or onnx-int8 (fastest on CPU; see `sentilstm export`).")] = "torch",
    threads: Annotated[Optional[int], typer.Option(help="CPU threads per worker (default 1; scale with --workers instead).")] = None,
    feedback_db: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL of the feedback database, e.g. postgresql://user:pw@host/db (default: sqlite beside MODEL, model.feedback.db).")] = None,
    max_texts: Annotated[int, typer.Option(help="Most texts in one request.")] = 1000,
    max_chars: Annotated[int, typer.Option(help="Most characters in one text.")] = 20_000,
    max_body_bytes: Annotated[int, typer.Option(help="Largest JSON request body in bytes (larger: 413).")] = 2_000_000,
    batch_max: Annotated[int, typer.Option(help="Most texts in one model call when concurrent requests are batched.")] = 64,
    batch_wait_ms: Annotated[float, typer.Option(help="Under load, how long a batch may wait for more requests (an idle server never waits).")] = 1.0,
    api_key: Annotated[Optional[str], typer.Option(envvar="SENTILSTM_API_KEY", show_default=False, help="Require this key (header 'Authorization: Bearer KEY' or 'X-API-Key: KEY') on every route but /health and the page itself, which asks for it. Prefer the environment variable: `ps` shows command lines.")] = None,
    read_key: Annotated[Optional[str], typer.Option(envvar="SENTILSTM_READ_KEY", show_default=False, help="A second key that may only read: GET routes, /predict and /explain; not storing feedback or scoring files. Needs --api-key.")] = None,
    allowed_host: Annotated[Optional[list[str]], typer.Option(help="A Host header name to answer, against DNS rebinding (repeatable; '*' for any). Default: the --host address and localhost; with --host 0.0.0.0, any name.")] = None,
    cors_origin: Annotated[Optional[list[str]], typer.Option(help="Let pages from this origin call the API from a browser, e.g. https://app.example.com (repeatable; '*' for any). Default: CORS off.")] = None,
    rate_limit: Annotated[Optional[int], typer.Option(help="Requests a minute per client address (then 429 with Retry-After); each worker counts its own. Default: no limit.")] = None,
    raw_csv: Annotated[bool, typer.Option("--raw-csv", help="Scored CSV downloads keep cells starting with = + - @ as they are (default: a leading ' so spreadsheets do not run them as formulas).")] = False,
    request_timeout: Annotated[float, typer.Option(help="Seconds a request may take before its answer starts (else 504); its work stops at once.")] = 60.0,
    max_explain_chars: Annotated[int, typer.Option(help="Most characters in one /explain text (lime and kernel_shap cost grows with words x samples).")] = 5_000,
    max_explain_words: Annotated[int, typer.Option(help="Most words in one /explain text (kernel_shap's final solve grows with words squared).")] = 1000,
    max_explain_samples: Annotated[int, typer.Option(help="Most num_samples in one /explain request.")] = 2000,
    max_upload_rows: Annotated[int, typer.Option(help="Most rows in a table scored on the web page (more: 413, before any is scored).")] = 200_000,
    max_decompressed_bytes: Annotated[int, typer.Option(help="Most bytes a .gz upload may unpack to (stopped while it unpacks).")] = 256 * 1024 * 1024,
    upload_dir: Annotated[Optional[Path], typer.Option(help="Folder in which the server makes its private folder for the web page's uploads (removed when it stops); yours, not writable by others. Default: the temporary folder.")] = None,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log every request (costs throughput).")] = False,
    device: DeviceOpt = "auto",
    verbose: VerboseOpt = True,
) -> None:
    """Serve a model over HTTP: /predict, /explain, /model, /health, /feedback and /trends, a web page at /, API docs at /docs."""
    _setup_logging(verbose)
    from sentilstm.serve.security import describe_guards, serve_allowed_hosts
    from sentilstm.serve.server import run
    from sentilstm.serve.settings import ServeSettings

    settings = ServeSettings(
        str(model), backend=backend, threads=threads, feedback_url=feedback_db, max_texts=max_texts, max_chars=max_chars,
        max_body_bytes=max_body_bytes, batch_max=batch_max, batch_wait_ms=batch_wait_ms, device=device,
        api_key=api_key, read_key=read_key, allowed_hosts=serve_allowed_hosts(host, allowed_host or []),
        cors_origins=tuple(cors_origin or ()), rate_limit=rate_limit, raw_csv=raw_csv,
        request_timeout=request_timeout, max_explain_chars=max_explain_chars, max_explain_samples=max_explain_samples,
        max_explain_words=max_explain_words, max_upload_rows=max_upload_rows, max_decompressed_bytes=max_decompressed_bytes,
        upload_dir=None if upload_dir is None else str(upload_dir),
    )

    def announce(feedback: str) -> None:  # once the model, the database and the port have been checked
        console.print(f"serving {model} ({backend}) on http://{host}:{port} with {workers} worker{'s' if workers > 1 else ''}: "
                      f"web page /, API docs /docs; feedback in {feedback}; Ctrl-C stops", soft_wrap=True)
        console.print(f"guards: {describe_guards(settings)}", soft_wrap=True)

    status = run(settings, host=host, port=port, workers=workers, access_log=access_log,
                 log_level="info" if verbose else "warning", on_ready=announce)
    if status:
        raise typer.Exit(status)


@app.command()
@friendly
def describe(
    model: Annotated[Path, typer.Argument(help="A model file written by train or baseline.")],
    length: Annotated[Optional[int], typer.Option(help="Text length (tokens) for the output shapes; default: the model's max_length.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Print a model's layers, output shapes and parameter counts (like Keras' summary), settings, labels and metrics."""
    from sentilstm.classifier import load_model
    from sentilstm.summary import describe as summarize

    summary = summarize(load_model(model, device="cpu"), sequence_length=length)
    out.print(json.dumps(summary.to_dict(), indent=2, default=str) if as_json else summary.to_text(), soft_wrap=True)


datasets_app = typer.Typer(no_args_is_help=True, help="Named public datasets: list and download.")
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("list")
@friendly
def datasets_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per dataset.")] = False,
) -> None:
    """Show every named dataset, its official metric and whether it is in the cache."""
    from sentilstm.datasets import is_cached, list_datasets
    from sentilstm.download import cache_dir

    rows = [(info, is_cached(info.name)) for info in list_datasets()]
    if as_json:
        for info, cached in rows:
            print(json.dumps({"name": info.name, "description": info.description, "metric": info.metric,
                              "cached": cached, "citation": info.citation}))
        return
    table = RichTable(title=f"datasets (cache: {cache_dir()})")
    for name in ("name", "description", "metric", "cached"):
        table.add_column(name)
    for info, cached in rows:
        table.add_row(info.name, info.description, info.metric, "yes" if cached else "no")
    out.print(table)


@datasets_app.command("download")
@friendly
def datasets_download(
    names: Annotated[list[str], typer.Argument(help="Dataset names (see `sentilstm datasets list`).")],
    verbose: VerboseOpt = True,
) -> None:
    """Download, verify and prepare datasets in the cache (honours SENTILSTM_CACHE and SENTILSTM_MIRROR)."""
    _setup_logging(verbose)
    from sentilstm.datasets import dataset_info, download_dataset

    for name in names:
        dataset_info(name)  # unknown names fail before anything is downloaded
    for name in names:
        folder = download_dataset(name)
        out.print(f"{name}: ready in {folder}")


def main() -> None:  # pragma: no cover - `python -m sentilstm`
    app(prog_name="sentilstm")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
