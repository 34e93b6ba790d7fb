"""Configuration dataclasses. Each is saved inside the model file and rebuilds its part:
`SentimentNet(ModelConfig(**saved))`, `TextPipeline(TextConfig(**saved))`."""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import math
import numbers
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin, get_type_hints

import numpy as np

from sentilstm.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Cell = Literal["lstm", "gru"]
Pooling = Literal["last", "mean", "max", "attention", "concat"]
TokenizerKind = Literal["word", "bpe", "unigram"]
Truncation = Literal["head", "tail", "head_tail"]
Schedule = Literal["linear", "one_cycle", "plateau", "constant"]
Precision = Literal["fp32", "bf16", "auto"]
Monitor = Literal["macro_f1", "accuracy", "loss"]
Loss = Literal["cross_entropy", "focal"]
Sampling = Literal["none", "oversample", "undersample", "balanced_batches", "smote"]
# Upper bounds far beyond anything trainable; they keep size arithmetic finite (an LSTM of hidden size h has 4h^2
# weights per direction), so absurd values fail here and the memory check reports the rest with real numbers.
MAX_WIDTH = 2**20  # embedding_dim, hidden_size, conv_channels
MAX_LAYERS = 1024
MAX_KERNEL = 1025
MAX_VOCABULARY = 2**24
MAX_SEED = 2**32 - 1  # numpy's legacy seeding takes 32 bits
MAX_AUGMENT_COPIES = 100  # augmented copies per text and operation (EDA uses 4 to 16)
MAX_THREADS = 4096  # torch.set_num_threads(100_000) crashes the process at exit
# the longest max_length: an LSTM reads a text token by token, so this bounds the work one text can cause (an
# IMDB review is ~300 tokens; the default picks at most 512); a file asking for more is damaged or forged
MAX_LENGTH = 100_000


def check_choice(name: str, value: Any, kind: Any) -> None:
    """Raise ConfigError unless `value` is one of the Literal `kind`'s values."""
    allowed = get_args(kind)
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {list(allowed)}, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_range(name: str, value: float, low: float, high: float | None = None) -> None:
    """Raise ConfigError unless value is a finite number with low <= value (<= high); NaN and inf never pass."""
    if not _is_number(value) or not math.isfinite(value) or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        kind = "" if _is_number(value) and math.isfinite(value) else "a finite number "
        raise ConfigError(f"{name} must be {kind}{bound}, got {value!r}")


def check_positive(name: str, value: float) -> None:
    """Raise ConfigError unless value is a finite number > 0."""
    if not _is_number(value) or not 0 < value < math.inf:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")


def check_integer(name: str, value: int, low: int, high: int | None = None) -> None:
    """Raise ConfigError unless value is a whole number with low <= value (<= high)."""
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, (bool, np.bool_))
        or value < low
        or (high is not None and value > high)
    ):
        bound = f">= {low}" if high is None else f"between {low} and {high:,}"
        raise ConfigError(f"{name} must be a whole number {bound}, got {value!r}")


def check_field_kinds(config: DataclassInstance) -> None:
    """Raise ConfigError for a config field whose value has the wrong kind for its annotation: a whole number
    where an int is declared (1.5 epochs), a finite number for a float (NaN, inf, "0.1"), True/False for a bool.
    Ranges are each config's `validate`; this is the type check every numeric field shares. Lenient where Python
    callers are (NumPy integers count as whole numbers); `check_fields` is the strict check of values read from
    files."""
    for item in dataclasses.fields(config):
        kinds = _field_kinds(type(config))[item.name]
        value = getattr(config, item.name)
        if value is None and type(None) in kinds:
            continue
        if int in kinds and bool not in kinds:
            if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"{item.name} must be a whole number, got {value!r}")
        elif float in kinds:
            if not _is_number(value) or not math.isfinite(value):
                raise ConfigError(f"{item.name} must be a finite number, got {value!r}")
        elif kinds == {bool} and not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{item.name} must be True or False, got {value!r}")


@functools.cache
def _field_kinds(cls: type) -> dict[str, set[Any]]:
    """Each field's plain types ({int, NoneType} for `int | None`; Literal and containers count as neither)."""
    kinds: dict[str, set[Any]] = {}
    for name, hint in get_type_hints(cls).items():
        options = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
        kinds[name] = {t for t in options if t in (int, float, bool, type(None))}
    return kinds


@dataclass
class TextConfig:
    """How raw text becomes token ids; identical at training and prediction time."""

    lowercase: bool = True  # sentiment rarely hinges on case; halves the vocabulary
    unicode_form: Literal["NFC", "NFKC"] | None = "NFC"  # Igbo/Yoruba tone marks arrive composed or not
    repair_cp1252: bool = True  # U+0080-U+009F in IMDB are Windows-1252 bytes read as Latin-1
    strip_html: bool = True  # IMDB reviews carry <br /> in 58% of texts; &amp; in tweets
    replace_urls: bool = True  # every URL -> "xxurl": t.co hashes are noise, their presence is signal
    replace_mentions: bool = True  # every @handle -> "xxuser" (AfriSenti already writes @user)
    stopwords: str | list[str] | None = None  # "english" or a word list; negations are always kept
    stemmer: str | None = None  # a Snowball language ("english", "french", ...); None keeps words whole
    tokenizer: TokenizerKind = "word"  # "bpe"/"unigram" for rich morphology, typos, code-mixing
    vocab_size: int | None = None  # None: 30,000 words or 8,000 subwords, fewer if the corpus is small
    min_frequency: int = 2  # a word seen once is mostly a typo; it becomes [UNK]
    max_length: int | None = None  # None: the 95th percentile of training lengths (8..512 tokens)
    truncation: Truncation = "head_tail"  # reviews state their verdict at the start and the end

    def validate(self) -> None:
        check_field_kinds(self)
        check_choice("tokenizer", self.tokenizer, TokenizerKind)
        check_choice("truncation", self.truncation, Truncation)
        if self.unicode_form not in (None, "NFC", "NFKC"):
            raise ConfigError(f"unicode_form must be 'NFC', 'NFKC' or None, got {self.unicode_form!r}")
        if self.vocab_size is not None:
            check_range("vocab_size", self.vocab_size, 10, MAX_VOCABULARY)
        check_range("min_frequency", self.min_frequency, 1)
        if self.max_length is not None:
            check_range("max_length", self.max_length, 1, MAX_LENGTH)


DERIVED_MODEL_FIELDS = ("vocab_size", "num_classes", "padding_idx")  # of ModelConfig: set by fit, not by the user


@dataclass
class ModelConfig:
    """Architecture of `SentimentNet`; `vocab_size` and `num_classes` are filled in by `fit`."""

    vocab_size: int = 0  # rows of the embedding table, from the trained tokenizer
    num_classes: int = 2  # from the label map; binary is 2-way softmax, not a special case
    embedding_dim: int = 128  # 100-300 is the usual range; 128 keeps GEMMs aligned
    cell: Cell = "lstm"  # getattr(nn, cell.upper()); GRU is ~25% cheaper, rarely worse on sentiment
    hidden_size: int = 128  # per direction; BiLSTM-128 is the IMDB tutorial standard
    num_layers: int = 1  # a second layer rarely helps sentiment (Tai et al. 2015)
    bidirectional: bool = True  # negation and contrast ("but ...") read better from both sides
    dropout: float = 0.3  # on embeddings and between layers (one mask per text), and before the head
    embedding_dropout: float = 0.0  # drops whole words from a batch (AWD-LSTM uses 0.1)
    output_dropout: float = 0.0  # on the last RNN layer's states before pooling (one mask per text)
    weight_drop: float = 0.0  # DropConnect on hidden-to-hidden weights (AWD-LSTM uses 0.5 for language models)
    conv_channels: int = 0  # > 0 adds a Conv1D n-gram front before the RNN (Zhou et al. 2015)
    conv_kernel_size: int = 3  # odd, so outputs stay aligned with tokens
    pooling: Pooling = "attention"  # additive attention (Bahdanau 2015); weights explain predictions
    padding_idx: int = 0  # [PAD]; its embedding stays zero and it is masked everywhere

    def validate(self) -> None:
        check_field_kinds(self)
        check_choice("cell", self.cell, Cell)
        check_choice("pooling", self.pooling, Pooling)
        for name in ("embedding_dim", "hidden_size"):
            check_range(name, getattr(self, name), 1, MAX_WIDTH)
        check_range("num_layers", self.num_layers, 1, MAX_LAYERS)
        for name in ("dropout", "embedding_dropout", "output_dropout", "weight_drop"):
            check_range(name, getattr(self, name), 0.0, 0.95)
        check_range("conv_channels", self.conv_channels, 0, MAX_WIDTH)
        if self.conv_kernel_size < 1 or self.conv_kernel_size % 2 == 0:
            raise ConfigError(f"conv_kernel_size must be an odd number >= 1, got {self.conv_kernel_size!r}")
        check_range("conv_kernel_size", self.conv_kernel_size, 1, MAX_KERNEL)


@dataclass
class TrainConfig:
    """How `fit` trains: optimiser, schedule, stopping, batching, precision."""

    epochs: int = 10  # an upper bound; early stopping usually ends sooner
    batch_size: int = 64  # large enough for efficient GEMMs, small enough to generalise
    learning_rate: float = 2e-3  # peak AdamW rate after warm-up
    weight_decay: float = 0.01  # decoupled (AdamW), not applied to biases or norms
    head_l2: float = 0.0  # L2 penalty head_l2 * ||W_head||^2 added to the loss (Keras kernel_regularizer=l2(...))
    max_grad_norm: float = 1.0  # clipping tames the exploding gradients of recurrent nets
    schedule: Schedule = "linear"  # warm-up then linear decay (Howard & Ruder 2018 use slanted)
    warmup_fraction: float = 0.06  # of all optimiser steps
    patience: int = 2  # epochs without improvement before stopping; best weights are restored
    monitor: Monitor = "macro_f1"  # macro F1 does not reward ignoring a minority class
    class_weight: Literal["balanced"] | dict[str, float] | None = None  # loss weights per class
    loss: Loss = "cross_entropy"  # "focal" (Lin et al. 2017) down-weights easy examples, for skewed classes
    focal_gamma: float = 2.0  # focal loss focusing strength; 0 is plain cross-entropy
    # rebalancing the classes: per-epoch random over/under-sampling of the training split, batches holding
    # every class equally, or "smote": synthetic minority examples interpolated between same-class pooled
    # representations in each batch (SMOTE, Chawla et al. 2002, moved to the hidden space, which unlike
    # token sequences can be interpolated)
    sampling: Sampling = "none"
    validation_fraction: float = 0.1  # stratified hold-out when no validation set is given
    seed: int = 0  # python, numpy and torch RNGs, data split and batch order
    precision: Precision = "fp32"  # "bf16" autocast ~1.7x faster on AVX512-BF16 CPUs and on GPUs
    device: str = "auto"  # "auto": CUDA when available, else CPU
    # torch intra-op threads; None: the CPUs this process may use (affinity, cgroup quota) that others leave free,
    # re-measured while training (2 threads beside a busy process ran 7x slower than 1; sentilstm.system.threads)
    num_threads: int | None = None
    bucket_pool: int = 50  # batches per sorting pool: texts of similar length share a batch
    # epochs the embedding layer stays frozen (-1: always): pretrained vectors survive the noisy first
    # updates of a randomly initialised LSTM before they are fine-tuned (0: fine-tune from the start)
    freeze_embeddings: int = 0

    def validate(self) -> None:
        check_field_kinds(self)
        check_choice("schedule", self.schedule, Schedule)
        check_choice("precision", self.precision, Precision)
        check_choice("monitor", self.monitor, Monitor)
        check_choice("loss", self.loss, Loss)
        check_choice("sampling", self.sampling, Sampling)
        check_range("focal_gamma", self.focal_gamma, 0.0, 10.0)
        check_range("epochs", self.epochs, 1)
        check_range("batch_size", self.batch_size, 1)
        check_range("learning_rate", self.learning_rate, 1e-8, 10.0)
        check_range("weight_decay", self.weight_decay, 0.0, 10.0)  # AdamW shrinks weights by lr x this per step
        check_range("head_l2", self.head_l2, 0.0, 10.0)
        check_range("max_grad_norm", self.max_grad_norm, 0.0)
        check_range("warmup_fraction", self.warmup_fraction, 0.0, 0.5)
        check_range("patience", self.patience, 1)
        check_range("validation_fraction", self.validation_fraction, 0.01, 0.5)
        check_range("bucket_pool", self.bucket_pool, 1)
        check_range("freeze_embeddings", self.freeze_embeddings, -1)
        check_range("seed", self.seed, 0, MAX_SEED)
        if self.num_threads is not None:
            check_range("num_threads", self.num_threads, 1, MAX_THREADS)  # torch crashes at exit beyond ~10^5
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise ConfigError(
                f"class_weight must be None, 'balanced' or a dict label -> weight, got {self.class_weight!r}"
            )
        from sentilstm.system.device import parse_device  # torch is needed only here

        parse_device(self.device)  # its syntax only: a file may name a GPU this machine lacks


# One line of help per user-settable field of the three configs (ModelConfig's derived fields have none): what
# `sentilstm train --help` and --set's help show. For a Literal field the help ends with ":" and its values follow.
FIELD_HELP: dict[str, str] = {
    "lowercase": "Lowercase every text (sentiment rarely hinges on case; halves the vocabulary).",
    "unicode_form": "Unicode normalisation, NFC or NFKC (None: none); tone marks arrive composed or not.",
    "repair_cp1252": "Repair Windows-1252 characters read as Latin-1 (U+0080-U+009F, as in IMDB).",
    "strip_html": "Remove HTML tags and decode entities (<br /> in IMDB, &amp; in tweets).",
    "replace_urls": "Replace every URL by xxurl (a link's presence is signal, its address noise).",
    "replace_mentions": "Replace every @handle by xxuser.",
    "stopwords": "'english' removes stop words (negations are kept).",
    "stemmer": "Snowball stemmer language, e.g. 'english'.",
    "tokenizer": "Tokens (subwords suit Igbo, typos, code-mixing):",
    "vocab_size": "Vocabulary cap (default 30000 words / 8000 subwords).",
    "min_frequency": "Rarer tokens become [UNK].",
    "max_length": "Max tokens per text (default: 95th percentile).",
    "truncation": "Which tokens a text longer than max_length keeps:",
    "embedding_dim": "Embedding size.",
    "cell": "Recurrent cell (GRU is ~25% cheaper):",
    "hidden_size": "RNN hidden size per direction.",
    "num_layers": "Stacked RNN layers.",
    "bidirectional": "Read texts both ways.",
    "dropout": "Dropout on embeddings, between layers and before the head.",
    "embedding_dropout": "Drop whole words from each batch (AWD-LSTM: 0.1).",
    "output_dropout": "Dropout on the RNN's output states before pooling.",
    "weight_drop": "DropConnect on the RNN's hidden-to-hidden weights (AWD-LSTM).",
    "conv_channels": "Channels of an optional Conv1D front (0: none).",
    "conv_kernel_size": "Width of the Conv1D front's kernel, odd so outputs stay aligned with tokens.",
    "pooling": "How the RNN's states become one vector per text:",
    "epochs": "Maximum epochs (early stopping usually ends sooner).",
    "batch_size": "Texts per optimiser step.",
    "learning_rate": "Peak AdamW learning rate.",
    "weight_decay": "AdamW weight decay.",
    "head_l2": "L2 penalty on the output layer's weights, added to the loss (on top of AdamW's weight decay).",
    "max_grad_norm": "Clip gradients to this norm (tames the exploding gradients of recurrent nets).",
    "schedule": "Learning-rate schedule (linear: warm-up + decay):",
    "warmup_fraction": "Share of all optimiser steps spent warming up the learning rate.",
    "patience": "Epochs without improvement before stopping.",
    "monitor": "Validation metric for early stopping:",
    "class_weight": "'balanced' weighs the loss by inverse class frequency.",
    "loss": "Training loss (focal down-weights easy examples; for skewed classes):",
    "focal_gamma": "Focal loss strength (0 = cross-entropy).",
    "sampling": "Class rebalancing (over/undersampling per epoch, balanced batches, or smote: synthetic minority "
    "examples in the hidden space):",
    "validation_fraction": "Share of the training data held out (stratified) for early stopping when no validation "
    "set is given.",
    "seed": "Random seed for split, initialisation and batch order.",
    "precision": "Arithmetic (bf16 is faster on AVX512-BF16 CPUs and GPUs):",
    "device": "auto (CUDA when available), cpu, cuda or cuda:N.",
    "num_threads": (
        "Torch CPU threads (default: the usable CPUs other processes leave free, re-measured while training)."
    ),
    "bucket_pool": "Batches per sorting pool: texts of similar length share a batch.",
    "freeze_embeddings": "Epochs to keep the embedding layer frozen (-1: always, 0: fine-tune from the start).",
}


def from_dict(cls: type, values: Any, where: str | None = None, *, strict: bool = False) -> Any:
    """Rebuild a config dataclass from a dict, ignoring keys that are no field of it (e.g. a full parameter set).

    `strict=True` is for settings read from a file, trusted in nothing: every key must be a field (an unknown one
    is a setting this version would silently ignore), every value of its field's type, and the result must pass
    `validate()`; missing keys take their defaults (files from versions with fewer settings). Raises ConfigError
    naming `where.field` (`where` defaults to the class name).
    """
    if not strict:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})
    where = where or cls.__name__
    check_fields(cls, values, where)
    config = cls(**values)
    try:
        config.validate()
    except ConfigError as exc:  # its messages start with the field's name
        raise ConfigError(f"{where}.{exc}") from None
    return config


def check_fields(cls: type, values: Any, where: str, *, finite: bool = True) -> None:
    """Raise ConfigError unless `values` is a dict whose every key is a field of dataclass `cls`, of its type."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be an object, got {_shown(values)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(str(k) for k in values if k not in names)
    if unknown:
        raise ConfigError(f"{where} has unknown settings {unknown[:5]} (a newer sentilstm's, or an edit)")
    for name, value in values.items():
        check_type(f"{where}.{name}", value, hints[name], finite=finite)


def check_type(name: str, value: Any, hint: Any, *, finite: bool = True) -> None:
    """Raise ConfigError unless `value`, as read back from JSON, fits the type hint (`finite`: floats must be)."""
    if not _fits(value, hint, finite):
        raise ConfigError(f"{name} must be {_describe(hint)}, got {_shown(value)}")


def _fits(value: Any, hint: Any, finite: bool) -> bool:
    origin, args = get_origin(hint) or (hint if hint in (list, dict) else None), get_args(hint)
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg, finite) for arg in args)
    if origin is Literal:  # type too: True == 1, but a bool is not the number 1
        return any(value == arg and type(value) is type(arg) for arg in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # JSON writes 1.0 as 1; a whole number is finite however large
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            or (isinstance(value, float) and (math.isfinite(value) or not finite))
        )
    if hint is str:
        return isinstance(value, str)
    if origin is tuple and args and args[-1] is not Ellipsis:  # JSON has no tuples: a list of that length
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(args)
            and all(_fits(v, a, finite) for v, a in zip(value, args))
        )
    if origin in (list, tuple, collections.abc.Sequence):
        return isinstance(value, (list, tuple)) and all(_fits(v, args[0] if args else Any, finite) for v in value)
    if origin in (dict, collections.abc.Mapping):
        key, item = args or (Any, Any)
        return isinstance(value, dict) and all(
            _fits(k, key, finite) and _fits(v, item, finite) for k, v in value.items()
        )
    if origin is collections.abc.Callable:
        return False  # a saved file holds no code
    if typing.is_typeddict(hint):
        spec = typing.get_type_hints(hint)
        return (
            isinstance(value, dict)
            and set(value) == set(spec)
            and all(_fits(value[key], item, finite) for key, item in spec.items())
        )
    # a nested record, e.g. History.epochs: list[EpochStats]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        try:
            check_fields(hint, value, hint.__name__, finite=finite)
        except ConfigError:
            return False
        return True
    raise TypeError(f"check_type cannot check {hint!r}")  # a new kind of field: teach _fits about it


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint) or (hint if hint in (list, dict) else None), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is Literal:
        return f"one of {list(args)}"
    if origin in (list, tuple, collections.abc.Sequence):
        return f"a list of {len(args)} items" if origin is tuple and args and args[-1] is not Ellipsis else "a list"
    names = {
        bool: "true or false",
        int: "a whole number",
        float: "a finite number",
        str: "a string",
        type(None): "null",
        None: "null",
        Any: "anything",
    }
    if origin in (dict, collections.abc.Mapping) or dataclasses.is_dataclass(hint) or typing.is_typeddict(hint):
        return "an object" + (f" with keys {list(typing.get_type_hints(hint))}" if typing.is_typeddict(hint) else "")
    return names.get(hint, "a callable" if origin is collections.abc.Callable else str(hint))


def _shown(value: Any) -> str:
    """A short, one-line repr of a value read from a file (which may be huge)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


# ----- the facade's other settings: where the embedding layer starts, augmentation, the linear blend -------------
PretrainKind = Literal["word2vec", "fasttext"]  # = sentilstm.text.pretraining.PretrainMethod
SynonymKind = Literal["neighbours", "wordnet"]
Blend = Literal["auto", "nbsvm", "tfidf_lr"]
BlendStrategy = Literal["crossfit", "holdout"]


@dataclass
class EmbeddingConfig:
    """Where the embedding layer's initial vectors come from (how long they stay fixed:
    `TrainConfig.freeze_embeddings`)."""

    embeddings: str | None = None  # a GloVe/word2vec/fastText vectors file; its dimension becomes embedding_dim
    pretrain_embeddings: PretrainKind | None = None  # train vectors on the training (+ unlabelled) texts instead

    def validate(self) -> None:  # whether the file exists is `fit`'s to check: a saved model needs it no more
        if self.embeddings is not None and self.pretrain_embeddings is not None:
            raise ConfigError("give either embeddings (a vectors file) or pretrain_embeddings, not both")
        if self.pretrain_embeddings is not None:
            check_choice("pretrain_embeddings", self.pretrain_embeddings, PretrainKind)


@dataclass
class AugmentConfig:
    """Edited copies of the training split's texts (`sentilstm.text.augment`); validation never sees them."""

    augment: str | list[str] | None = None  # "eda" or operations, a list or a comma-separated string
    augment_copies: int = 1  # per text and operation
    augment_alpha: float = 0.1  # the share of a text's words an edit changes
    augment_synonyms: SynonymKind = "neighbours"  # nearest word vectors (any language) or WordNet (English)
    # a round-trip callable list[str] -> list[str] or Hugging Face model names "FORWARD,BACKWARD"; a model file
    # records a callable by name ("callable:NAME")
    augment_translator: Any = None

    def validate(self) -> None:
        check_choice("augment_synonyms", self.augment_synonyms, SynonymKind)
        check_integer("augment_copies", self.augment_copies, low=1, high=MAX_AUGMENT_COPIES)
        check_positive("augment_alpha", self.augment_alpha)
        check_range("augment_alpha", self.augment_alpha, 0.0, 0.5)
        if self.augment and not isinstance(self.augment, (str, list, tuple)):
            raise ConfigError(
                f"augment must be a comma-separated string or a list of operations such as 'eda' or "
                f"['swap', 'delete'], got {self.augment!r}"
            )


@dataclass
class BlendConfig:
    """The linear n-gram model averaged with the network's probabilities (None: the network alone)."""

    blend: Blend | None = "auto"  # "auto" tries NBSVM and TF-IDF logistic regression and keeps the better
    # crossfit: the partner, its class weighting and the weight chosen from out-of-fold predictions over all the
    # training data (train + validation), then the partner refitted on all of it; holdout (before 0.16): the
    # partner fitted on the network's training split, the weight picked on the validation split
    blend_strategy: BlendStrategy = "crossfit"
    blend_folds: int = 5

    def validate(self) -> None:
        if self.blend is not None:
            check_choice("blend", self.blend, Blend)
        check_choice("blend_strategy", self.blend_strategy, BlendStrategy)
        check_type("blend_folds", self.blend_folds, int)
        check_range("blend_folds", self.blend_folds, 2, 20)


# the sections a model file may carry beyond text_config and model_config; a file without them (written before
# they existed) is read from its params alone
EXTRA_CONFIGS = {"embedding_config": EmbeddingConfig, "augment_config": AugmentConfig, "blend_config": BlendConfig}

__all__ = [
    "DERIVED_MODEL_FIELDS",
    "EXTRA_CONFIGS",
    "MAX_LENGTH",
    "AugmentConfig",
    "BlendConfig",
    "EmbeddingConfig",
    "TextConfig",
    "ModelConfig",
    "TrainConfig",
    "check_fields",
    "check_type",
    "from_dict",
]
