"""The facade's other settings, each saved in its own section of a model file: where the embedding layer's
vectors start (`EmbeddingConfig`), augmentation of the training texts (`AugmentConfig`) and the linear n-gram
model blended with the network (`BlendConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from sentilstm.config.checks import check_choice, check_integer, check_positive, check_range, check_type
from sentilstm.config.settings import MAX_AUGMENT_COPIES
from sentilstm.errors import ConfigError

PretrainKind = Literal["word2vec", "fasttext"]  # = sentilstm.text.pretraining.PretrainMethod
PretrainChoice = Literal["auto", "word2vec", "fasttext"]
SynonymKind = Literal["neighbours", "wordnet"]
Blend = Literal["auto", "nbsvm", "tfidf_lr"]
BlendStrategy = Literal["crossfit", "holdout"]


@dataclass
class EmbeddingConfig:
    """Where the embedding layer's initial vectors come from (how long they stay fixed:
    `TrainConfig.freeze_embeddings`)."""

    embeddings: str | None = None  # a GloVe/word2vec/fastText vectors file; its dimension becomes embedding_dim
    # train vectors on the training (+ unlabelled) texts instead. "auto": word2vec, frozen for the first 2 epochs, when
    # fit is given unlabelled texts (a named dataset's, --unlabeled) and nothing else sets the vectors; none otherwise
    # (sentilstm.estimators.vectors.resolve_auto_vectors)
    pretrain_embeddings: PretrainChoice | None = "auto"
    # a file `sentilstm pretrain` wrote: its text pipeline, embeddings and first recurrent layer start the network
    pretrained_encoder: str | None = None

    @property
    def pretrain_method(self) -> str | None:
        """The in-domain method asked for by name; None for none and for an "auto" no fit has resolved."""
        return None if self.pretrain_embeddings == "auto" else self.pretrain_embeddings

    def validate(self) -> None:  # whether the file exists is `fit`'s to check: a saved model needs it no more
        if self.embeddings is not None and self.pretrain_method is not None:
            raise ConfigError("give either embeddings (a vectors file) or pretrain_embeddings, not both")
        if self.pretrain_embeddings is not None:
            check_choice("pretrain_embeddings", self.pretrain_embeddings, PretrainChoice)
        if self.pretrained_encoder is not None and not isinstance(self.pretrained_encoder, str):
            raise ConfigError(
                f"pretrained_encoder must be the path of an encoder file, got {self.pretrained_encoder!r}"
            )


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

    def __post_init__(self) -> None:
        if isinstance(self.blend, str) and self.blend.strip().lower() == "none":  # the CLI's spelling, in Python too
            self.blend = None

    def validate(self) -> None:
        if self.blend is not None and self.blend not in get_args(Blend):
            raise ConfigError(f"blend must be one of {list(get_args(Blend))} or None ('none'), got {self.blend!r}")
        check_choice("blend_strategy", self.blend_strategy, BlendStrategy)
        check_type("blend_folds", self.blend_folds, int)
        check_range("blend_folds", self.blend_folds, 2, 20)


# the sections a model file may carry beyond text_config and model_config; a file without them (written before
# they existed) is read from its params alone
EXTRA_CONFIGS = {"embedding_config": EmbeddingConfig, "augment_config": AugmentConfig, "blend_config": BlendConfig}
