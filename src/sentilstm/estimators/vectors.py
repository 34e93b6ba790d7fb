"""The embedding layer's initial vectors for `fit`: read from a vectors file for the tokenizer's vocabulary, trained
in-domain (word2vec/fastText) on the training and unlabelled texts, or none (random initialisation).

    vectors = initialise_embeddings(EmbeddingConfig(embeddings="glove.6B.50d.txt"), text, [], dim=50, seed=0)
    vectors.matrix, vectors.coverage, vectors.ngrams
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from sentilstm.config import EmbeddingConfig
from sentilstm.text.subwords import word_ids

log = logging.getLogger(__name__)


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
    if config.pretrain_embeddings is not None:
        return _in_domain_vectors(config.pretrain_embeddings, text, unlabeled, dim=dim, seed=seed, workers=workers)
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


__all__ = ["InitialVectors", "initialise_embeddings"]
