"""What the command line takes that several verbs share, in one place: the named option types (so that each
parameter is one line, `text_column: TextColumnOpt = None`), the model and training flags of train, cv and tune
(defaults and choices from the config dataclasses, never copied by hand), and parameters given as `--set KEY=VALUE`
or `--params FILE` (each value coerced to the type of that parameter's default). A verb's own options live beside it.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentilstm.cli.common import literal_option, options_from, settings_help
from sentilstm.config import (
    FIELD_HELP,
    Adversarial,
    Cell,
    Loss,
    ModelConfig,
    Monitor,
    Pooling,
    Precision,
    PretrainEncoder,
    Sampling,
    Schedule,
    TextConfig,
    TokenizerKind,
    TrainConfig,
)
from sentilstm.errors import ConfigError, DataError
from sentilstm.system.files import as_path

if TYPE_CHECKING:
    from sentilstm.selection.crossval import Estimator

# ----- data, models and outputs -----------------------------------------------------------------------------------
TrainingDataArg = Annotated[
    Path | None, typer.Argument(help="Training table: CSV, TSV, JSONL or Parquet, optionally .gz.")
]
DatasetOpt = Annotated[
    str | None, typer.Option(help="A named dataset instead of DATA, e.g. imdb, sst2, afrisenti-ig, tweets.")
]
DatasetPathOpt = Annotated[
    Path | None,
    typer.Option(help="Read --dataset from this local copy (official archive or folder) instead of the cache."),
]
TextColumnOpt = Annotated[
    str | None, typer.Option("--text-column", help="Column holding the text (inferred when unambiguous).")
]
LabelColumnOpt = Annotated[
    str | None, typer.Option("--label-column", help="Column holding the label (inferred when unambiguous).")
]
EncodingOpt = Annotated[
    str, typer.Option(help="Text encoding of CSV/TSV/JSONL files (bad bytes are replaced, with a warning).")
]
ModelArg = Annotated[Path, typer.Argument(help="A model file written by `sentilstm train`.")]
AnyModelArg = Annotated[Path, typer.Argument(help="A model file written by train or baseline.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Where to write the model file.")]
NoReportOpt = Annotated[bool, typer.Option("--no-report", help="Write no HTML report.")]
DeviceOpt = Annotated[
    str,
    typer.Option(
        help="Where the network runs: auto (CUDA when available, else CPU), cpu, cuda or cuda:N; the device the "
        "model was trained on is not reused."
    ),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose/--quiet", help="Show INFO logs (default) or only warnings.")]
MlflowOpt = Annotated[
    bool | None,
    typer.Option(
        "--mlflow/--no-mlflow",
        help="Log parameters, per-epoch metrics, results and files to MLflow (default: on when --mlflow-uri is given).",
    ),
]
MlflowUriOpt = Annotated[
    str | None,
    typer.Option(
        help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://host:5000; implies --mlflow. Default: "
        "$MLFLOW_TRACKING_URI, else ./mlruns (a local file store, no server)."
    ),
]
MlflowExperimentOpt = Annotated[str, typer.Option(help="MLflow experiment of the run (created when missing).")]

# ----- the model and training flags of train (cv and tune take them too, see `shared_flags`) ----------------------
T, M, R = TextConfig(), ModelConfig(), TrainConfig()  # the defaults of every option that is a config field
BidirectionalOpt = Annotated[bool, typer.Option("--bidirectional/--unidirectional", help=FIELD_HELP["bidirectional"])]
BatchSizeOpt = Annotated[
    int,
    typer.Option(help="Texts per optimiser step; with --nproc-per-node the global batch, split between the processes."),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        help="Torch CPU threads (default: the usable CPUs other processes leave free, re-measured while training; "
        "per process with --nproc-per-node: cores // processes)."
    ),
]
EmbeddingsOpt = Annotated[
    Path | None,
    typer.Option(help="Pretrained word vectors: GloVe, word2vec (.txt/.bin), fastText (.vec/.bin); .gz ok."),
]
PretrainEmbeddingsOpt = Annotated[
    str,
    typer.Option(
        help="Train word2vec or fasttext vectors on the training (+ --unlabeled) texts first; auto: word2vec frozen "
        "for 2 epochs when there are unlabelled texts (--unlabeled, a dataset's), none: never.",
        metavar="auto|word2vec|fasttext|none",
    ),
]
PretrainedEncoderOpt = Annotated[
    Path | None,
    typer.Option(
        help="Start from an encoder `sentilstm pretrain` saved (its tokenizer, embeddings and first recurrent layer).",
        metavar="FILE",
    ),
]
UnlabeledOpt = Annotated[
    Path | None,
    typer.Option(
        help="Unlabelled texts for --pretrain, --pretrain-embeddings, --distill and --adversarial vat (a named "
        "dataset's are used automatically)."
    ),
]
BlendOpt = Annotated[
    str, typer.Option(help="Blend with a linear n-gram model: auto (best on validation), nbsvm, tfidf_lr or none.")
]
AugmentOpt = Annotated[
    str | None,
    typer.Option(
        help="Augment the training split: eda, or any of synonym,insert,swap,delete,backtranslate (comma-separated)."
    ),
]
AugmentAlphaOpt = Annotated[float, typer.Option(help="Share of a text's words each edit changes (EDA's alpha).")]
AugmentSynonymsOpt = Annotated[
    str,
    typer.Option(
        help="Synonyms for synonym/insert: neighbours (nearest words in embedding space, any language) or wordnet "
        "(English, installed locally)."
    ),
]
AugmentTranslatorOpt = Annotated[
    str | None,
    typer.Option(
        help="Hugging Face models for backtranslate: 'FORWARD,BACKWARD', e.g. "
        "'Helsinki-NLP/opus-mt-en-de,Helsinki-NLP/opus-mt-de-en'."
    ),
]
TrainParamsOpt = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="JSON or YAML file of parameters {name: value}; --set overrides it, and neither may repeat a flag "
        "given here.",
    ),
]


def model_options(
    cell: Annotated[str, literal_option(Cell, "cell", FIELD_HELP["cell"])] = M.cell,
    bidirectional: BidirectionalOpt = M.bidirectional,
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
    vocab_size: Annotated[int | None, typer.Option(help=FIELD_HELP["vocab_size"])] = T.vocab_size,
    min_frequency: Annotated[int, typer.Option(help=FIELD_HELP["min_frequency"])] = T.min_frequency,
    max_length: Annotated[int | None, typer.Option(help=FIELD_HELP["max_length"])] = T.max_length,
    char_ngrams: Annotated[str | None, typer.Option(metavar="MIN-MAX", help=FIELD_HELP["char_ngrams"])] = None,
    ngram_buckets: Annotated[int, typer.Option(help=FIELD_HELP["ngram_buckets"])] = T.ngram_buckets,
    # TextConfig's default; a list of words (which TextConfig also takes) is given with --set or --params
    stopwords: Annotated[str | None, typer.Option(help=FIELD_HELP["stopwords"])] = None,
    stemmer: Annotated[str | None, typer.Option(help=FIELD_HELP["stemmer"])] = T.stemmer,
) -> None:
    """The network and the text pipeline."""


def training_options(
    epochs: Annotated[int, typer.Option(help=FIELD_HELP["epochs"])] = R.epochs,
    batch_size: BatchSizeOpt = R.batch_size,
    learning_rate: Annotated[float, typer.Option(help=FIELD_HELP["learning_rate"])] = R.learning_rate,
    weight_decay: Annotated[float, typer.Option(help=FIELD_HELP["weight_decay"])] = R.weight_decay,
    head_l2: Annotated[float, typer.Option(help=FIELD_HELP["head_l2"])] = R.head_l2,
    schedule: Annotated[str, literal_option(Schedule, "schedule", FIELD_HELP["schedule"])] = R.schedule,
    patience: Annotated[int, typer.Option(help=FIELD_HELP["patience"])] = R.patience,
    monitor: Annotated[str, literal_option(Monitor, "monitor", FIELD_HELP["monitor"])] = R.monitor,
    # TrainConfig's default; per-class weights (which TrainConfig also takes) are given with --set or --params
    class_weight: Annotated[str | None, typer.Option(help=FIELD_HELP["class_weight"])] = None,
    loss: Annotated[str, literal_option(Loss, "loss", FIELD_HELP["loss"])] = R.loss,
    focal_gamma: Annotated[float, typer.Option(help=FIELD_HELP["focal_gamma"])] = R.focal_gamma,
    sampling: Annotated[str, literal_option(Sampling, "sampling", FIELD_HELP["sampling"])] = R.sampling,
    seed: Annotated[int, typer.Option(help=FIELD_HELP["seed"])] = R.seed,
    precision: Annotated[str, literal_option(Precision, "precision", FIELD_HELP["precision"])] = R.precision,
    device: Annotated[str, typer.Option(help=FIELD_HELP["device"])] = R.device,
    threads: ThreadsOpt = R.num_threads,
    embeddings: EmbeddingsOpt = None,
    pretrain_embeddings: PretrainEmbeddingsOpt = "auto",
    unlabeled: UnlabeledOpt = None,
    freeze_embeddings: Annotated[int, typer.Option(help=FIELD_HELP["freeze_embeddings"])] = R.freeze_embeddings,
    distill: Annotated[str | None, typer.Option(metavar="TEACHER", help=FIELD_HELP["distill"])] = R.distill,
    ensemble: Annotated[int, typer.Option(metavar="K", help=FIELD_HELP["ensemble"])] = R.ensemble,
    pretrain: Annotated[str | None, literal_option(PretrainEncoder, "pretrain", FIELD_HELP["pretrain"])] = R.pretrain,
    pretrained_encoder: PretrainedEncoderOpt = None,
    adversarial: Annotated[
        str | None, literal_option(Adversarial, "adversarial", FIELD_HELP["adversarial"])
    ] = R.adversarial,
    blend: BlendOpt = "auto",
    augment: AugmentOpt = None,
    augment_copies: Annotated[int, typer.Option(help="Augmented copies per text and operation.")] = 1,
    augment_alpha: AugmentAlphaOpt = 0.1,
    augment_synonyms: AugmentSynonymsOpt = "neighbours",
    augment_translator: AugmentTranslatorOpt = None,
    settings: Annotated[list[str] | None, typer.Option("--set", help=SET_HELP)] = None,
    params_file: TrainParamsOpt = None,
) -> None:
    """How the network is trained."""


FLAG_FIELDS = {"threads": "num_threads"}  # train's flags named otherwise than the SentimentClassifier parameter
NOT_PARAMETERS = ("settings", "params_file", "unlabeled")  # train's flags above that set no parameter
# the flags above that cv and tune take too: they have their own --seed, --set and --params, and no --unlabeled
SHARED_FLAGS_EXCLUDE = {"seed", "unlabeled", "settings", "params_file"}
# cv's and tune's help for three of them: train's names options only train has (--nproc-per-node, --unlabeled)
SHARED_FLAGS_HELP = {
    "batch_size": FIELD_HELP["batch_size"],
    "threads": FIELD_HELP["num_threads"],
    "pretrain_embeddings": "Train word2vec or fasttext vectors on the training texts first (auto, none: no "
    "vectors, since cv and tune read no unlabelled texts).",
}


def shared_flags(panel: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give cv or tune (`f(ctx, ..., **flags)`) train's model and training flags, under the --help heading `panel`."""
    return options_from(
        model_options, training_options, exclude=SHARED_FLAGS_EXCLUDE, panel=panel, helps=SHARED_FLAGS_HELP
    )


def flag_names(exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """train's model and training flags that set a SentimentClassifier parameter (but those in `exclude`)."""
    names = [p for f in (model_options, training_options) for p in inspect.signature(f).parameters]
    return [p for p in names if p not in exclude and p not in NOT_PARAMETERS]


def flagged_fields(exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The SentimentClassifier parameters that have a flag of their own (but those in `exclude`)."""
    return [FLAG_FIELDS.get(name, name) for name in flag_names(exclude)]


def flag_parameter(name: str, value: Any) -> tuple[str, Any]:
    """A flag's (SentimentClassifier parameter, value): --threads is num_threads, --blend none is None, a path a str."""
    key = FLAG_FIELDS.get(name, name)
    if key in ("blend", "pretrain_embeddings") and value == "none":
        return key, None
    return key, str(value) if key in ("embeddings", "pretrained_encoder") and value is not None else value


SET_HELP = settings_help(
    "Any SentimentClassifier parameter KEY=VALUE, repeatable, e.g. --set truncation=head --set warmup_fraction=0.1 "
    "('none' for None); it overrides the default of that parameter's flag.",
    flagged=flagged_fields(),
)


def given_flags(ctx: typer.Context, flags: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The flags among `flags` that the user gave (not their defaults), as SentimentClassifier parameters; a flag
    whose parameter `settings` (--set/--params) also sets is a ConfigError: a value is given once."""
    given: dict[str, Any] = {}
    for name, value in flags.items():
        if not was_given(ctx, name):
            continue
        key, parameter = flag_parameter(name, value)
        if key in settings:
            raise ConfigError(
                f"{key} is given twice, as --{name.replace('_', '-')} and in --set/--params; give it once"
            )
        given[key] = parameter
    return given


def was_given(ctx: typer.Context, name: str) -> bool:
    """Whether the user gave this parameter (command line or environment), rather than it taking its default."""
    source = ctx.get_parameter_source(name)  # typer's own copy of click's ParameterSource: compared by name
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


# ----- --set KEY=VALUE and --params FILE --------------------------------------------------------------------------
def read_settings(params_file: Path | None, assignments: Sequence[str] | None) -> dict[str, Any]:
    """SentimentClassifier parameters from --params FILE, then each --set KEY=VALUE over them, every name checked."""
    settings = read_params(params_file) if params_file is not None else {}
    from sentilstm.selection.crossval import check_names, default_params

    check_names("lstm", settings, default_params("lstm"))
    settings.update(parse_assignments(assignments or [], "lstm"))
    return settings


def parse_assignments(assignments: Sequence[str], estimator: Estimator) -> dict[str, Any]:
    """`KEY=VALUE` strings -> parameters, each value coerced to the type of that parameter's default.

    "none"/"null" give None; a parameter whose default is None takes a JSON literal (3, 0.5, true,
    {"pos": 2}) or else the string; a pair such as ngrams takes "1,3".

        parse_assignments(["epochs=5", "cell=gru", "bidirectional=false"], "lstm")
    """
    from sentilstm.selection.crossval import check_names, default_params

    defaults = default_params(estimator)
    params: dict[str, Any] = {}
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not name:
            raise ConfigError(f"--set expects KEY=VALUE such as epochs=5, got {assignment!r}")
        check_names(estimator, [name], defaults)
        params[name] = coerce_value(name, text.strip(), defaults[name])
    return params


def read_params(path: str | Path) -> dict[str, Any]:
    """Parameters from a JSON or YAML (.yaml/.yml) file holding one mapping {name: value}."""
    path = as_path(path, "a parameters file", ConfigError)
    if not path.is_file():
        raise DataError(f"parameters file {str(path)!r} does not exist; give a JSON or YAML file of {{name: value}}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # installed with optuna

            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - a bad file makes json and yaml raise many kinds: each is one line
        raise ConfigError(f"parameters file {str(path)!r} could not be parsed: {str(exc).splitlines()[0]}") from None
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise ConfigError(
            f"parameters file {str(path)!r} must hold one mapping {{name: value}}, got {type(values).__name__}"
        )
    return values


TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def coerce_value(name: str, text: str, default: Any) -> Any:
    """One --set value as the type of the parameter's default."""
    if text.lower() in ("none", "null"):
        return None
    wanted = "true or false" if isinstance(default, bool) else type(default).__name__
    try:
        if isinstance(default, bool):
            if text.lower() not in TRUE + FALSE:
                raise ValueError(text)
            return text.lower() in TRUE
        if isinstance(default, (int, float)):
            return type(default)(text)
        if isinstance(default, (tuple, list)):
            kind = type(default[0]).__name__ if default else "value"
            wanted = f"comma-separated {kind}s such as {','.join(map(str, default))}"
            parts = [p.strip() for p in text.strip("()[]").split(",")]
            return type(default)(type(default[0])(p) for p in parts) if default else parts
    except ValueError:
        raise ConfigError(f"--set {name}={text}: {name} takes {wanted} (default {default!r}), got {text!r}") from None
    if isinstance(default, str):
        return text
    try:  # default None or a dict: a JSON literal when it is one ("128", "0.5", '{"pos": 2}'), else the string
        return json.loads(text)
    except ValueError:
        return text
