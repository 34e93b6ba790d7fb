"""In-domain word vectors: word2vec or fastText (gensim) trained on the model's own tokens.

    matrix, coverage = train_vectors(token_lists, vocabulary, method="word2vec", dim=128, seed=0)
    net.embedding.weight.copy_(torch.from_numpy(matrix))

The texts are the training split plus any unlabelled texts, normalised and tokenized exactly as the
model sees them, so every vocabulary entry that occurs gets a vector; IMDB's 50k unlabelled reviews are
what this is for. Rows without a vector are random like in `embeddings.load_vectors`; row 0 is zeros.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np

from sentilstm.errors import ConfigError, DataError
from sentilstm.text.embeddings import EmbeddingCoverage

log = logging.getLogger(__name__)
PretrainMethod = Literal["word2vec", "fasttext"]


def train_vectors(
    sentences: Sequence[list[str]],
    vocabulary: dict[str, int],
    *,
    method: PretrainMethod = "word2vec",
    dim: int = 128,
    epochs: int = 5,
    window: int = 5,
    seed: int = 0,
    workers: int = 2,
    token_counts: dict[str, int] | None = None,
) -> tuple[np.ndarray, EmbeddingCoverage]:
    """Train `method` on `sentences` (lists of tokens) and return a (len(vocabulary), dim) float32 matrix."""
    from gensim.models import FastText, Word2Vec  # missing: the [embeddings] extra's one-line error (system.extras)

    if method not in ("word2vec", "fasttext"):
        raise ConfigError(f"pretrain_embeddings must be 'word2vec' or 'fasttext', got {method!r}")
    if not any(sentences):
        raise DataError("no tokens to pretrain embeddings on; give training (or unlabelled) texts")
    started = time.perf_counter()
    model_class = Word2Vec if method == "word2vec" else FastText
    gensim_log = logging.getLogger("gensim")
    level = gensim_log.level
    gensim_log.setLevel(max(level, logging.WARNING))  # gensim logs its progress every second
    try:
        # skip-gram with negative sampling: better vectors for the rare words sentiment often hinges on
        model = model_class(
            sentences=sentences,
            vector_size=dim,
            window=window,
            min_count=1,
            sg=1,
            negative=5,
            epochs=epochs,
            seed=seed,
            workers=workers,
        )
    finally:
        gensim_log.setLevel(level)
    vectors = model.wv
    rng = np.random.default_rng(seed)
    found = {token: row for token, row in vocabulary.items() if not _special(token) and token in vectors.key_to_index}
    scale = float(np.std(vectors.vectors)) if len(vectors.vectors) else 0.1
    matrix = rng.normal(0.0, scale, size=(len(vocabulary), dim)).astype(np.float32)
    for token, row in found.items():
        matrix[row] = vectors[token]
    subword = 0
    if method == "fasttext":  # every token gets a vector from its character n-grams
        for token, row in vocabulary.items():
            if not _special(token) and token not in found:
                matrix[row] = vectors[token]
                subword += 1
    matrix[0] = 0.0  # padding
    lookups = sum(1 for token in vocabulary if not _special(token))
    total = sum(token_counts.values()) if token_counts else 0
    coverage = EmbeddingCoverage(
        source=f"in-domain {method}",
        format=method,
        dim=dim,
        vocabulary=lookups,
        found_exact=len(found),
        found_lowercase=0,
        found_subword=subword,
        vocabulary_share=len(found) / max(lookups, 1),
        token_share=(sum(n for t, n in token_counts.items() if t in found) / total) if token_counts and total else None,
        skipped_lines=0,
        words_in_file=len(vectors.key_to_index),
    )
    log.info(
        "trained %s vectors (%dd, %d epochs) on %d texts in %.0fs",
        method,
        dim,
        epochs,
        len(sentences),
        time.perf_counter() - started,
    )
    return matrix, coverage


def _special(token: str) -> bool:
    return token.startswith("[") and token.endswith("]")
