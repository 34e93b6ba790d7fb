"""The augmentation step of `SentimentClassifier.fit`: which operations, and the new training rows they make.

operations = augment_operations(AugmentConfig(augment="eda"))
rows = augmented_rows(texts, targets, pipeline, vectors, operations, config, unlabeled, seed=0)
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sentilstm.config import AugmentConfig
from sentilstm.errors import ConfigError
from sentilstm.text.normalize import strip_html
from sentilstm.text.pipeline import TextPipeline

log = logging.getLogger(__name__)
CALLABLE_PREFIX = "callable:"  # how a callable parameter is recorded in a model file


@dataclass
class AugmentedRows:
    """The rows augmentation added (texts and class ids), and what it did (for `metrics_["augmentation"]`)."""

    texts: list[str]
    targets: np.ndarray
    summary: dict[str, Any] = field(default_factory=dict)


def augment_operations(config: AugmentConfig) -> list[str]:
    """The augmentation operations asked for ("eda" stands for its four word edits), validated."""
    from sentilstm.text.augment import EDA_OPERATIONS, OPERATIONS

    config.validate()
    if not config.augment:
        return []
    names = config.augment.split(",") if isinstance(config.augment, str) else list(config.augment)
    operations: list[str] = []
    for name in (str(n).strip() for n in names):
        expanded = list(EDA_OPERATIONS) if name == "eda" else [name]
        if not set(expanded) <= set(OPERATIONS):
            raise ConfigError(f"augment operations must be among {['eda', *OPERATIONS]}, got {name!r}")
        operations += [op for op in expanded if op not in operations]
    translator = config.augment_translator
    if "backtranslate" in operations and not (callable(translator) or model_pair(translator)):
        raise ConfigError(
            "augment='backtranslate' needs augment_translator: a callable list[str] -> list[str] doing "
            "the round trip, or two Hugging Face model names 'FORWARD,BACKWARD' such as "
            f"'Helsinki-NLP/opus-mt-en-de,Helsinki-NLP/opus-mt-de-en', got {translator!r}"
        )
    return operations


def needs_neighbours(config: AugmentConfig, operations: list[str]) -> bool:
    """Whether the operations draw synonyms from the nearest neighbours in a word-vector space."""
    return bool({"synonym", "insert"} & set(operations)) and config.augment_synonyms == "neighbours"


def augmented_rows(
    texts: list[str],
    targets: np.ndarray,
    pipeline: TextPipeline,
    vectors: np.ndarray | None,
    operations: list[str],
    config: AugmentConfig,
    unlabeled: list[str],
    *,
    seed: int,
) -> AugmentedRows:
    """New training rows made from the training split; validation and test never see them."""
    from sentilstm.text.augment import BackTranslator, NeighbourSynonyms, WordNetSynonyms, augment

    synonyms: Any = None
    if {"synonym", "insert"} & set(operations):
        if config.augment_synonyms == "wordnet":
            synonyms = WordNetSynonyms()
        else:
            words, word_vectors = synonym_vectors(pipeline, texts, vectors, unlabeled, seed=seed)
            synonyms = NeighbourSynonyms(word_vectors, words)
    translator: Any = None
    if "backtranslate" in operations:
        pair = model_pair(config.augment_translator)
        translator = BackTranslator(*pair) if pair else config.augment_translator
    if pipeline.config.strip_html:  # word edits would split "<br />" and the tag stripper would eat words
        texts = [strip_html(t) for t in texts]
    result = augment(
        texts,
        targets.tolist(),
        operations,
        copies=config.augment_copies,
        alpha=config.augment_alpha,
        synonyms=synonyms,
        translator=translator,
        seed=seed,
    )
    examples = [[operation, original[:200], new[:200]] for operation, original, new in result.examples(3)]
    return AugmentedRows(
        result.texts[len(texts) :],
        np.asarray(result.labels[len(texts) :], dtype=targets.dtype),
        {**result.to_dict(), "examples": examples},
    )


def synonym_vectors(
    pipeline: TextPipeline,
    texts: list[str],
    vectors: np.ndarray | None,
    unlabeled: list[str],
    *,
    seed: int,
) -> tuple[list[str], np.ndarray]:
    """Word vectors for embedding-neighbour synonyms: the model's own initial vectors when its tokens are
    whole words, else word2vec trained on the training (+ unlabelled) texts' words (seconds on 10k tweets)."""
    from sentilstm.text.normalize import WORD_PATTERN
    from sentilstm.text.pretraining import train_vectors

    config = pipeline.config
    if vectors is not None and config.tokenizer == "word" and config.stemmer is None:
        vocabulary = pipeline.tokenizer.vocabulary()
        return sorted(vocabulary, key=vocabulary.__getitem__), vectors
    pattern = re.compile(WORD_PATTERN)
    sentences = [pattern.findall(pipeline.normalize(t)) for t in texts + unlabeled]
    counts = Counter(word for sentence in sentences for word in sentence)
    words = [w for w, n in counts.most_common(50_000) if n >= 2]
    log.info("training word2vec on %d texts for embedding-neighbour synonyms", len(sentences))
    matrix, _ = train_vectors(
        sentences,
        {w: i for i, w in enumerate(words)},
        method="word2vec",
        dim=100,
        seed=seed,
        workers=1,
        token_counts=counts,
    )  # 1 worker: reproducible
    return words, matrix


def model_pair(spec: Any) -> tuple[str, str] | None:
    """("FORWARD", "BACKWARD") from a 'FORWARD,BACKWARD' string of translation model names, else None."""
    if not isinstance(spec, str) or spec.startswith(CALLABLE_PREFIX):
        return None
    forward, _, backward = (part.strip() for part in spec.partition(","))
    return (forward, backward) if forward and backward and "," not in backward else None


__all__ = [
    "AugmentedRows",
    "CALLABLE_PREFIX",
    "augment_operations",
    "augmented_rows",
    "model_pair",
    "needs_neighbours",
    "synonym_vectors",
]
