"""The three configs a trained model is rebuilt from, saved inside its file: `TextConfig` (text -> token ids),
`ModelConfig` (the network: `SentimentNet(ModelConfig(**saved))`) and `TrainConfig` (how `fit` trains), each
field with its default and why; their `Literal` choices and the bounds their `validate` enforces.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Annotated, Literal

from sentilstm.config.checks import Choices, check_choice, check_field_kinds, check_range
from sentilstm.errors import ConfigError

Cell = Literal["lstm", "gru"]
# the poolings' names and one line of help each, in the order --help lists them; `sentilstm.network.pooling` registers
# a layer class under each, and a pooling registered there later (a plugin) joins them. Here, so that settings and
# --help need no torch.
POOLING_NAMES: dict[str, str] = {
    "last": "each direction's state after reading the whole text",
    "mean": "the average state over the text",
    "max": "the element-wise maximum over the text",
    "attention": "a learned weighted average; its weights show where the model looked",
    "concat": "last, mean and max side by side",
}
Pooling = Annotated[str, Choices(POOLING_NAMES)]  # a name registered in sentilstm.network.pooling: last, mean, ...
TokenizerKind = Literal["word", "bpe", "unigram"]
Truncation = Literal["head", "tail", "head_tail"]
Schedule = Literal["linear", "one_cycle", "plateau", "constant"]
Precision = Literal["fp32", "bf16", "auto"]
Monitor = Literal["macro_f1", "accuracy", "loss"]
Loss = Literal["cross_entropy", "focal"]
Sampling = Literal["none", "oversample", "undersample", "balanced_batches", "smote"]
PretrainEncoder = Literal["lm"]
Adversarial = Literal["at", "vat"]
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
MAX_PRETRAIN_EPOCHS = 1000
MAX_ENSEMBLE = 64  # networks in one ensemble (each trains and predicts in turn; 3 to 10 is the useful range)
MAX_CHAR_NGRAM = 10  # the longest character n-gram of a subword embedding (fastText uses 3-6)
DEFAULT_NGRAM_BUCKETS = 100_000  # hashed n-gram rows: 12.8M weights at 128 dims (fastText: 2M x 100)


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
    # (min, max) characters: each token's vector adds its hashed character n-grams' vectors (fastText's hashing),
    # so unseen, misspelt and rare words get one; "2-5" or [2, 5] are taken too. None: word vectors only
    char_ngrams: tuple[int, int] | str | None = None  # a tuple once constructed
    ngram_buckets: int = DEFAULT_NGRAM_BUCKETS  # rows the n-grams are hashed into (with char_ngrams)

    def __post_init__(self) -> None:
        self.char_ngrams = parse_span(self.char_ngrams)

    @property
    def ngram_sizes(self) -> tuple[int, int] | None:
        """`char_ngrams` as (min, max), None without subwords."""
        return self.char_ngrams if isinstance(self.char_ngrams, tuple) else None

    def validate(self) -> None:
        check_field_kinds(self)
        if self.ngram_sizes is not None:
            low, high = self.ngram_sizes
            if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high <= MAX_CHAR_NGRAM):
                raise ConfigError(
                    f"char_ngrams must be MIN-MAX with 1 <= MIN <= MAX <= {MAX_CHAR_NGRAM} characters, got "
                    f"{low}-{high}; fastText uses 3-6, 2-5 suits short words"
                )
        check_range("ngram_buckets", self.ngram_buckets, 1, MAX_VOCABULARY)
        check_choice("tokenizer", self.tokenizer, TokenizerKind)
        check_choice("truncation", self.truncation, Truncation)
        if self.unicode_form not in (None, "NFC", "NFKC"):
            raise ConfigError(f"unicode_form must be 'NFC', 'NFKC' or None, got {self.unicode_form!r}")
        if self.vocab_size is not None:
            check_range("vocab_size", self.vocab_size, 10, MAX_VOCABULARY)
        check_range("min_frequency", self.min_frequency, 1)
        if self.max_length is not None:
            check_range("max_length", self.max_length, 1, MAX_LENGTH)


def parse_span(value: object) -> tuple[int, int] | None:
    """A (min, max) pair from "2-5", "2,5", [2, 5] or (2, 5), None from None (a pair's values are `validate`'s to
    check); ConfigError for anything else."""
    if isinstance(value, str):
        parts = value.replace(",", "-").split("-")
        if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
            return int(parts[0]), int(parts[1])
        raise ConfigError(f"char_ngrams must be MIN-MAX such as 2-5, got {value!r}")
    if isinstance(value, (list, tuple)) and len(value) == 2:
        low, high = (int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v for v in value)
        return low, high
    if value is not None:
        raise ConfigError(f"char_ngrams must be MIN-MAX such as 2-5 or None, got {value!r}")
    return value


# of ModelConfig: set by fit, not by the user
DERIVED_MODEL_FIELDS = ("embedding_rows", "num_classes", "padding_idx", "ngram_rows", "members")


@dataclass
class ModelConfig:
    """Architecture of `SentimentNet`; `embedding_rows` and `num_classes` are filled in by `fit`."""

    # rows of the embedding table: the trained tokenizer's vocabulary, special tokens included (the cap the user
    # sets is TextConfig.vocab_size); written as model_config.vocab_size before 0.17
    embedding_rows: int = 0
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
    ngram_rows: int = 0  # rows of the character n-gram table: TextConfig.ngram_buckets + 1 (0: no subwords)
    members: int = 1  # networks of this architecture whose probabilities are averaged: TrainConfig.ensemble

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
        check_range("ngram_rows", self.ngram_rows, 0, MAX_VOCABULARY + 1)
        check_range("members", self.members, 1, MAX_ENSEMBLE)


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
    # epochs the pretrained encoder (embeddings and first recurrent layer) stays frozen while the layers above it
    # learn (ULMFiT's gradual unfreezing, in one stage); 0: everything trains from the start
    freeze_encoder: int = 0
    # the encoder's learning rate as a share of the layers' above it (ULMFiT's discriminative rates, Howard & Ruder
    # 2018 use 1/2.6 a layer): a pretrained encoder moves less than the head learning on top of it; 1: one rate
    encoder_lr_scale: float = 1.0
    # knowledge distillation (Hinton et al. 2015): the network learns a teacher's probabilities too. "blend": this
    # run's blend teaches a fresh network that is then served alone (no linear partner, so ~2x faster); or a
    # .sentilstm file, or "hf:NAME", a Hugging Face text-classification model. fit(teacher=...) takes any callable
    distill: str | None = None
    distill_temperature: float = 2.0  # softens both distributions; T^2 keeps the gradients' scale
    distill_weight: float = 0.5  # the soft targets' share of the loss; the labels' cross-entropy has the rest
    # networks trained with seeds seed, seed + 1, ... on the same split, their probabilities averaged and saved in
    # one file: each adds a training run and a forward pass; three subword networks gained 1.7 weighted F1 over one
    # on the ten AfriSenti dev splits (bench/results/distill_dev_ensemble3.md); distill="blend" then teaches one
    ensemble: int = 1
    # "lm": the embedding layer and the first (Bi)LSTM/GRU layer first learn to predict each next token (and,
    # reading backwards, each previous one) of the training and unlabelled texts, tokenized as the classifier sees
    # them (Dai & Le 2015; Howard & Ruder 2018); the classifier then trains from those weights
    # (sentilstm.training.language_model)
    pretrain: PretrainEncoder | None = None
    # passes of the language model over the training and unlabelled texts; three passes scoring a quarter of the
    # predictions take about the time one scoring all did, and reach a far lower perplexity (8,000 IMDB reviews:
    # 644 after one full pass, 558 after two quarter passes, 440 after four; bench/results/lm_predict_share.md)
    pretrain_epochs: int = 3
    pretrain_learning_rate: float = 2e-3  # peak AdamW rate of the language model (warm-up, then linear decay)
    # the share of a batch's next/previous-token predictions the softmax scores (a fresh random subset each batch);
    # the LSTM still reads every token: at 0.25 the softmax is 20% of a CPU step instead of 62%, 2.0x the tokens/s
    # (bench/results/train_speed_lm_share.md)
    pretrain_predict_share: float = 0.25
    # "at": each batch also trains on its embeddings pushed against its labels; "vat": pushed where the prediction
    # moves most (no label needed). Goodfellow et al. 2015; Miyato et al. 2017 (sentilstm.training.adversarial)
    adversarial: Adversarial | None = None
    adversarial_epsilon: float = 0.02  # the push's L2 norm, as a share of each text's embedding norm
    adversarial_iterations: int = 1  # VAT's power iterations towards the most sensitive direction

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
        check_range("freeze_encoder", self.freeze_encoder, 0)
        check_range("encoder_lr_scale", self.encoder_lr_scale, 0.0, 1.0)
        check_range("distill_temperature", self.distill_temperature, 1.0, 20.0)
        check_range("distill_weight", self.distill_weight, 0.0, 1.0)
        check_range("ensemble", self.ensemble, 1, MAX_ENSEMBLE)
        if self.pretrain is not None:
            check_choice("pretrain", self.pretrain, PretrainEncoder)
        check_range("pretrain_epochs", self.pretrain_epochs, 1, MAX_PRETRAIN_EPOCHS)
        check_range("pretrain_learning_rate", self.pretrain_learning_rate, 1e-8, 10.0)
        check_range("pretrain_predict_share", self.pretrain_predict_share, 0.01, 1.0)
        if self.adversarial is not None:
            check_choice("adversarial", self.adversarial, Adversarial)
        check_range("adversarial_epsilon", self.adversarial_epsilon, 1e-6, 1.0)
        check_range("adversarial_iterations", self.adversarial_iterations, 1, 10)
        if self.adversarial is not None and self.sampling == "smote":
            raise ConfigError(
                "adversarial and sampling='smote' cannot be combined: SMOTE's synthetic rows have no embeddings to "
                "perturb; use sampling='oversample' or 'balanced_batches'"
            )
        if self.distill is not None and (not isinstance(self.distill, str) or not self.distill.strip()):
            raise ConfigError(
                f"distill must be 'blend', a .sentilstm model file or 'hf:MODEL_NAME', got {self.distill!r}"
            )
        if self.distill is not None and self.sampling == "smote":
            raise ConfigError(
                "distill and sampling='smote' cannot be combined: SMOTE's synthetic rows have no teacher "
                "probabilities; use sampling='oversample' or 'balanced_batches'"
            )
        check_range("seed", self.seed, 0, MAX_SEED - self.ensemble + 1)  # members take seed ... seed + ensemble - 1
        if self.num_threads is not None:
            check_range("num_threads", self.num_threads, 1, MAX_THREADS)  # torch crashes at exit beyond ~10^5
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise ConfigError(
                f"class_weight must be None, 'balanced' or a dict label -> weight, got {self.class_weight!r}"
            )
        from sentilstm.system.device import parse_device  # torch is needed only here

        parse_device(self.device)  # its syntax only: a file may name a GPU this machine lacks
