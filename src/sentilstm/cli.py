"""Command line: `sentilstm train | evaluate | predict`. Parses, calls the library, prints; no ML here.

Every error a user can cause prints one line `error: ...` and exits with code 2.
"""
from __future__ import annotations

import functools
import json
import logging
import sys
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
    """Turn user errors into one line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (SentilstmError, PermissionError, IsADirectoryError, FileNotFoundError) as exc:
            console.print(Text.assemble(("error:", "red"), f" {exc}"), highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


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
    matrix = RichTable(title="confusion matrix (rows: true, columns: predicted)")
    matrix.add_column("true \\ pred")
    for label in report.labels:
        matrix.add_column(str(label), justify="right")
    for label, row in zip(report.labels, report.confusion_matrix):
        matrix.add_row(str(label), *map(str, row))
    out.print(matrix)


TextColumnOpt = Annotated[Optional[str], typer.Option("--text-column", help="Column holding the text (inferred when unambiguous).")]
LabelColumnOpt = Annotated[Optional[str], typer.Option("--label-column", help="Column holding the label (inferred when unambiguous).")]
EncodingOpt = Annotated[str, typer.Option(help="Text encoding of CSV/TSV/JSONL files (bad bytes are replaced, with a warning).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose/--quiet", help="Show INFO logs (default) or only warnings.")]


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


def _check_out_paths(**paths: Path | None) -> None:
    from sentilstm.errors import DataError

    for option, path in paths.items():
        if path is not None and not path.resolve().parent.is_dir():
            raise DataError(f"--{option.replace('_', '-')} {str(path)!r}: folder {str(path.parent)!r} does not exist; create it first")


@app.command()
@friendly
def train(
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
    batch_size: Annotated[int, typer.Option(help="Texts per batch.")] = 64,
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
    threads: Annotated[Optional[int], typer.Option(help="Torch CPU threads (default: torch's choice).")] = None,
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
    verbose: VerboseOpt = True,
) -> None:
    """Train a classifier on a labelled table and save it as one file."""
    _setup_logging(verbose)
    from sentilstm.classifier import SentimentClassifier

    _check_out_paths(out=out_path, metrics_json=metrics_json)
    train_table, val_table, test_table, unlabeled_texts = _training_tables(
        data, dataset, dataset_path, validation, test, text_column=text_column, label_column=label_column, encoding=encoding
    )
    if unlabeled is not None:
        from sentilstm.data import read_table

        unlabeled_texts = read_table(unlabeled, text_column=text_column, need_label=False, encoding=encoding).texts
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
    )
    console.print(f"training on {len(train_table)} texts from {train_table.source}")
    bar = ProgressBar()
    with bar.progress:
        clf.fit(
            train_table.texts,
            train_table.labels,
            validation=(val_table.texts, val_table.labels) if val_table is not None else None,
            checkpoint_path=Path(f"{out_path}.ckpt"),
            resume=resume,
            callback=bar.callback,
            unlabeled=unlabeled_texts if pretrain_embeddings else None,
        )
    print_report(clf.validation_report_, f"validation (best epoch {clf.history_.best_epoch})")
    if test_table is not None:
        report = clf.evaluate(test_table.texts, test_table.labels)
        clf.metrics_["test"] = report.to_dict()
        print_report(report, f"test: {test_table.source}")
    clf.save(out_path)
    Path(f"{out_path}.ckpt").unlink(missing_ok=True)
    if metrics_json is not None:
        metrics_json.write_text(json.dumps(clf.metrics_, indent=2, default=str))
    out.print(f"saved {out_path}")


@app.command()
@friendly
def evaluate(
    model: Annotated[Path, typer.Argument(help="A model file written by `sentilstm train`.")],
    data: Annotated[Path, typer.Argument(help="Labelled table to score.")],
    text_column: TextColumnOpt = None,
    label_column: LabelColumnOpt = None,
    encoding: EncodingOpt = "utf-8",
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the report as JSON here.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Score a model on a labelled table: accuracy, F1, ROC-AUC, per-class metrics, confusion matrix."""
    _setup_logging(verbose)
    from sentilstm.classifier import load_model
    from sentilstm.data import read_table

    clf = load_model(model)
    table = read_table(data, text_column=text_column, label_column=label_column, encoding=encoding)
    report = clf.evaluate(table.texts, table.labels)
    print_report(report, f"{data}")
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_dict(), indent=2, default=str))


@app.command()
@friendly
def predict(
    model: Annotated[Path, typer.Argument(help="A model file written by `sentilstm train`.")],
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to classify (or use --input).")] = None,
    input_path: Annotated[Optional[Path], typer.Option("--input", help="Table to score, streamed in chunks.")] = None,
    output_path: Annotated[Optional[Path], typer.Option("--output", help="Scored table (CSV/TSV/JSONL/Parquet).")] = None,
    text_column: TextColumnOpt = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk when streaming --input.")] = 10_000,
    encoding: EncodingOpt = "utf-8",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per text.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Classify texts given on the command line, or stream a file with --input/--output."""
    _setup_logging(verbose)
    from sentilstm.classifier import load_model
    from sentilstm.errors import DataError
    from sentilstm.scoring import score_file

    if bool(texts) == (input_path is not None):
        raise DataError("give texts to classify, or --input FILE with --output FILE (not both)")
    if input_path is not None and output_path is None:
        raise DataError("--input needs --output FILE for the scored rows")
    clf = load_model(model)
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
    verbose: VerboseOpt = True,
) -> None:
    """Train a linear baseline (NBSVM or TF-IDF + logistic regression): the bar an LSTM has to clear."""
    _setup_logging(verbose)
    import time

    from sentilstm.baselines import make_baseline

    _check_out_paths(out=out_path, metrics_json=metrics_json)
    params: dict[str, Any] = {"min_df": min_df, "class_weight": class_weight, "sampling": sampling}
    if c is not None:
        params["C"] = c
    clf = make_baseline(kind, **params).check_params()  # bad options fail before any data is read
    train_table, val_table, test_table, _ = _training_tables(
        data, dataset, dataset_path, None, test, text_column=text_column, label_column=label_column, encoding=encoding
    )
    if val_table is not None:  # a linear model needs no early stopping: train on train + validation
        console.print(f"adding the {len(val_table)} validation texts to training (a baseline has no early stopping)")
    texts = train_table.texts + (val_table.texts if val_table is not None else [])
    labels = train_table.labels + (val_table.labels if val_table is not None else [])
    console.print(f"training {kind} on {len(texts)} texts from {train_table.source}")
    started = time.perf_counter()
    clf.fit(texts, labels)
    clf.metrics_ = {"train_seconds": round(time.perf_counter() - started, 2)}
    console.print(f"trained in {clf.metrics_['train_seconds']:.1f}s")
    if test_table is not None:
        report = clf.evaluate(test_table.texts, test_table.labels)
        clf.metrics_["test"] = report.to_dict()
        print_report(report, f"test: {test_table.source}")
    clf.save(out_path)
    if metrics_json is not None:
        metrics_json.write_text(json.dumps(clf.metrics_, indent=2, default=str))
    out.print(f"saved {out_path}")


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
