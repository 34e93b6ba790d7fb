"""`TextPipeline`: normalise -> tokenize -> truncate, the one path from raw strings to token ids.

pipeline = TextPipeline.fit(train_texts, TextConfig())
ids = pipeline.encode(["What a film!"])  # list of int arrays, no padding: (tokens,), or (tokens, 1 + K) with
                                         # char_ngrams (word id, then the token's n-gram rows; text.subwords)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from sentilstm.config import TextConfig
from sentilstm.text.normalize import Normalizer
from sentilstm.text.subwords import SubwordHasher
from sentilstm.text.tokenizers import TextTokenizer, choose_max_length, truncate

log = logging.getLogger(__name__)
CHARS_PER_TOKEN = 64


class TextPipeline:
    """Holds a resolved `TextConfig` (max_length filled in) and the trained tokenizer."""

    def __init__(self, config: TextConfig, tokenizer: TextTokenizer) -> None:
        if config.max_length is None:
            raise ValueError("TextPipeline needs a resolved config with max_length set")
        self.config = config
        self.tokenizer = tokenizer
        self.normalize = Normalizer(config)
        self.subwords = _hasher(config)
        self.training_lengths: np.ndarray | None = None  # token counts of the fitted texts before truncation

    @classmethod
    def fit(cls, texts: Sequence[str], config: TextConfig) -> tuple[TextPipeline, list[np.ndarray]]:
        """Train the tokenizer on `texts`, pick max_length if unset; also return the encoded texts."""
        config.validate()
        normalize = Normalizer(config)
        normalized = normalize.batch(list(texts))
        tokenizer = TextTokenizer.train(normalized, config)
        ids = _tokens(tokenizer, _hasher(config), normalized)
        if config.max_length is None:
            config = dataclasses.replace(config, max_length=choose_max_length([len(x) for x in ids]))
            log.info("max_length set to %d tokens (95th percentile of training lengths)", config.max_length)
        pipeline = cls(config, tokenizer)
        return pipeline, pipeline._training_ids(ids)

    def encode_training(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Encode training texts as `fit` does, recording their lengths before truncation in `training_lengths`
        (the data profile's): how a resumed run rebuilds what the interrupted one measured."""
        return self._training_ids(_tokens(self.tokenizer, self.subwords, self.normalize.batch(list(texts))))

    def _training_ids(self, ids: list[np.ndarray]) -> list[np.ndarray]:
        self.training_lengths = np.asarray([len(x) for x in ids], dtype=np.int64)
        return [self._truncate(x) for x in ids]

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Raw strings -> truncated token-id arrays (at least one id each)."""
        clipped = [self._clip_chars(self.normalize(t)) for t in texts]
        return [self._truncate(x) for x in _tokens(self.tokenizer, self.subwords, clipped)]

    def _clip_chars(self, text: str) -> str:
        """Drop characters of a normalised text that truncation would drop anyway (tokenizing 1 MB takes ~0.3 s).

        Normalised text has single spaces and CHARS_PER_TOKEN is far above any language's mean token length,
        so the kept tokens are unchanged.
        """
        budget = self.max_length * CHARS_PER_TOKEN
        if len(text) <= budget:
            return text
        if self.config.truncation == "head":
            return text[:budget]
        if self.config.truncation == "tail":
            return text[-budget:]
        return text[:budget] + " " + text[-budget:]

    def _truncate(self, ids: np.ndarray) -> np.ndarray:
        return truncate(ids, self.max_length, self.config.truncation)

    @property
    def max_length(self) -> int:
        """`config.max_length`, resolved (__init__ refuses None)."""
        assert self.config.max_length is not None
        return self.config.max_length


def _hasher(config: TextConfig) -> SubwordHasher | None:
    sizes = config.ngram_sizes
    return SubwordHasher(*sizes, config.ngram_buckets) if sizes else None


def _tokens(tokenizer: TextTokenizer, subwords: SubwordHasher | None, normalized: list[str]) -> list[np.ndarray]:
    """Token ids of normalised texts, with each token's n-gram rows when there are `subwords`."""
    if subwords is None:
        return tokenizer.encode(normalized)
    ids, tokens = tokenizer.encode_with_tokens(normalized)
    return [subwords.attach(x, t) for x, t in zip(ids, tokens)]
