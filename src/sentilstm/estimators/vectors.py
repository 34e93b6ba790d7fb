"""The embedding layer's initial vectors for `fit`: read from a vectors file for the tokenizer's vocabulary, trained
in-domain (word2vec/fastText) on the training and unlabelled texts, or none (random initialisation).

    vectors = initialise_embeddings(EmbeddingConfig(embeddings="glove.6B.50d.txt"), text, [], dim=50, seed=0)
    vectors.matrix, vectors.coverage, vectors.ngrams

`pretrain_embeddings="auto"` (the default) is made concrete for each fit by `resolve_auto_vectors`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sentilstm.config import EmbeddingConfig
from sentilstm.text.subwords import word_ids

log = logging.getLogger(__name__)


# epochs in-domain vectors chosen by "auto" stay frozen. IMDB dev (20,000 training reviews, 5,000 held out, 50,000
# unlabelled): bench/results/blend_dev_imdb_w2v.md against the default's bench/results/blend_dev.md
AUTO_FREEZE_EPOCHS = 2


def resolve_auto_vectors(settings: Any, unlabeled: Sequence[str]) -> Any:
    """`settings` (steps.Settings) with `pretrain_embeddings="auto"` made concrete for one fit: word2vec vectors
    trained on the training and `unlabeled` texts, frozen for the first AUTO_FREEZE_EPOCHS epochs (unless
    `freeze_embeddings` is set), when there are unlabelled texts, nothing else sets the vectors (`embeddings`,
    `pretrained_encoder`, `pretrain="lm"`) and gensim is installed; no vectors otherwise (nothing gets slower)."""
    embedding, train = settings.embedding, settings.train
    if embedding.pretrain_embeddings != "auto":
        return settings
    chosen = bool(unlabeled) and embedding.embeddings is None and embedding.pretrained_encoder is None
    chosen = chosen and train.pretrain is None
    if chosen and not gensim_installed():
        log.warning(
            "%d unlabelled texts are not used: in-domain word vectors need gensim (pip install "
            "'sentilstm[embeddings]')",
            len(unlabeled),
        )
        chosen = False
    freeze = train.freeze_embeddings or (AUTO_FREEZE_EPOCHS if chosen else 0)
    if chosen:
        log.info(
            "pretrain_embeddings='auto': word2vec vectors trained on the training and %d unlabelled texts, frozen for "
            "the first %d epochs",
            len(unlabeled),
            freeze,
        )
    return dataclasses.replace(
        settings,
        embedding=dataclasses.replace(embedding, pretrain_embeddings="word2vec" if chosen else None),
        train=dataclasses.replace(train, freeze_embeddings=freeze),
    )


def gensim_installed() -> bool:
    """Whether in-domain vectors can be trained here (the `embeddings` extra)."""
    try:
        return importlib.util.find_spec("gensim") is not None
    except ImportError:  # sentilstm.system.extras' hint answers sentilstm's own probe for a missing extra
        return False


@dataclass
class InitialVectors:
    """The embedding layer's initial vectors (None: random) and their coverage of the vocabulary."""

    matrix: np.ndarray | None = None
    coverage: Any = None
    ngrams: np.ndarray | None = None  # the character n-gram table's, from a fastText .bin hashed as the model hashes


def initialise_embeddings(
    config: EmbeddingConfig,
    text: Any,
    unlabeled: list[str],
    *,
    dim: int,
    seed: int,
    workers: int = 1,
) -> InitialVectors:
    """The embedding layer's initial vectors: read from `config.embeddings`, trained in-domain (`pretrain_embeddings`,
    `dim`-sized, on the training ids plus `unlabeled`, with gensim `workers`: 1 is bit-reproducible), or none."""
    if config.embeddings is not None:
        return _pretrained_vectors(config.embeddings, text, seed=seed, dim=dim)
    if config.pretrain_method is not None:  # an "auto" left unresolved trains none
        return _in_domain_vectors(config.pretrain_method, text, unlabeled, dim=dim, seed=seed, workers=workers)
    return InitialVectors()


def _pretrained_vectors(path: str, text: Any, *, seed: int, dim: int) -> InitialVectors:
    """Vectors for the tokenizer's vocabulary from a vectors file, and their coverage."""
    from sentilstm.text.embeddings import load_vectors_and_ngrams

    vocabulary = text.pipeline.tokenizer.vocabulary()
    names = {i: token for token, i in vocabulary.items()}
    counts = (
        np.bincount(np.concatenate([word_ids(x) for x in text.train_ids]), minlength=len(vocabulary))
        if text.train_ids
        else np.zeros(len(vocabulary))
    )
    token_counts = {names[i]: int(n) for i, n in enumerate(counts) if n and i in names}
    vectors, ngrams, coverage = load_vectors_and_ngrams(
        path, vocabulary, subwords=text.pipeline.subwords, seed=seed, token_counts=token_counts
    )
    if vectors.shape[1] != dim:
        log.info("embedding_dim is %d, the dimension of %s (not %d)", vectors.shape[1], path, dim)
    log.info("pretrained vectors: %s", coverage.summary())
    return InitialVectors(vectors, coverage, ngrams)


def _in_domain_vectors(
    method: Any,
    text: Any,
    unlabeled: list[str],
    *,
    dim: int,
    seed: int,
    workers: int,
) -> InitialVectors:
    """word2vec/fastText vectors trained on the training texts plus `unlabeled`, in the model's tokens."""
    from sentilstm.text.pretraining import train_vectors

    vocabulary = text.pipeline.tokenizer.vocabulary()
    names = np.empty(len(vocabulary), dtype=object)
    for token, i in vocabulary.items():
        names[i] = token
    sentences = [names[word_ids(ids)].tolist() for ids in text.train_ids + text.pipeline.encode(unlabeled)]
    counts = np.bincount(np.concatenate([word_ids(x) for x in text.train_ids]), minlength=len(vocabulary))
    token_counts = {names[i]: int(n) for i, n in enumerate(counts) if n}
    vectors, coverage = train_vectors(
        sentences, vocabulary, method=method, dim=dim, seed=seed, workers=workers, token_counts=token_counts
    )
    log.info("in-domain vectors: %s (%d unlabelled texts)", coverage.summary(), len(unlabeled))
    return InitialVectors(vectors, coverage)


__all__ = ["AUTO_FREEZE_EPOCHS", "InitialVectors", "initialise_embeddings", "resolve_auto_vectors"]
