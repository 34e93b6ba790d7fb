"""N-gram features of the linear baselines: one vocabulary per (analyzer, n-gram range) block, the counting, the
TF-IDF weighting and the row scaling that turn normalised texts into a sparse matrix, and how a vocabulary is
stored in a model file (its terms as one UTF-8 tensor, its idf as another) and checked when read back.

    features, counts = Features.fit(texts, "word", (1, 2), min_df=2, max_features=None, idf=True)
    matrix = l2_rows(features.tfidf(features.counts(new_texts)))
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from itertools import chain, repeat
from typing import Any, Literal, TypedDict

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.feature_extraction.text import CountVectorizer

from sentilstm.errors import ArtifactError, DataError
from sentilstm.text.normalize import WORD_PATTERN

Analyzer = Literal["word", "char_wb"]  # word n-grams, or character n-grams inside word boundaries


class FeatureSpec(TypedDict):
    """How a model file describes one feature block (`Features.to_json`)."""

    analyzer: Analyzer
    ngram_range: tuple[int, int]
    size: int


@dataclasses.dataclass
class Features:
    """One n-gram vocabulary: which analyzer made it, its terms (column order) and, for TF-IDF, its idf."""

    analyzer: Analyzer
    ngram_range: tuple[int, int]
    terms: list[str]
    idf: np.ndarray | None = None

    @classmethod
    def fit(
        cls,
        texts: list[str],
        analyzer: Analyzer,
        ngram_range: tuple[int, int],
        min_df: int,
        max_features: int | None,
        idf: bool,
    ) -> tuple[Features, sp.csr_matrix]:
        """The vocabulary of `texts` and their counts (float32 CSR); DataError when no n-gram is frequent enough."""
        vectorizer = count_vectorizer(analyzer, ngram_range, min_df=min_df, max_features=max_features)
        try:
            counts = vectorizer.fit_transform(texts).astype(np.float32)
        except ValueError:  # scikit-learn: "empty vocabulary" / "no terms remain"
            raise DataError(
                f"no {analyzer} n-gram occurs in {min_df}+ training texts; lower min_df or give more texts"
            ) from None
        terms = [""] * len(vectorizer.vocabulary_)
        for term, index in vectorizer.vocabulary_.items():
            terms[index] = term
        weights = None
        if idf:  # smooth idf, as in scikit-learn's TfidfTransformer
            document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
            weights = (np.log((1 + counts.shape[0]) / (1 + document_frequency)) + 1).astype(np.float32)
        return cls(analyzer, ngram_range, terms, weights), counts

    def counts(self, texts: list[str]) -> sp.csr_matrix:
        """Term counts (float32 CSR, sorted column indices), equal to CountVectorizer.transform with these terms.

        Counted here rather than by `CountVectorizer.transform`, whose fixed cost (~0.3 ms of validation and
        sparse bookkeeping per call) dominated single-text requests to a server; word n-grams are looked up as
        integers by `WordNgramIndex` (bench/results/ngram_counting.md).
        """
        counter = getattr(self, "_counter", None)
        if counter is None:
            counter = WordNgramIndex.build(self.terms, self.ngram_range) if self.analyzer == "word" else None
            counter = self._counter = counter or _TermCounter(self.terms, self.analyzer, self.ngram_range)
        return counter.counts(texts)

    def tfidf(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear tf (1 + log count) times idf; rows are L2-normalised by the caller over all blocks."""
        assert self.idf is not None  # only TF-IDF blocks (fitted with idf=True) are weighted
        out = counts.copy()
        out.data = (1 + np.log(out.data)) * self.idf[out.indices]
        return out

    def to_tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        blob = "\n".join(self.terms).encode("utf-8")  # normalised text has no newlines, so terms never do
        tensors = {
            f"{prefix}.terms": torch.frombuffer(bytearray(blob), dtype=torch.uint8)
            if blob
            else torch.zeros(0, dtype=torch.uint8)
        }
        if self.idf is not None:
            tensors[f"{prefix}.idf"] = torch.from_numpy(self.idf)
        return tensors

    def to_json(self) -> dict[str, Any]:
        return {"analyzer": self.analyzer, "ngram_range": list(self.ngram_range), "size": len(self.terms)}

    @classmethod
    def from_saved(cls, spec: dict[str, Any], tensors: dict[str, torch.Tensor], prefix: str) -> Features:
        """The block `prefix` (e.g. "features0") of a model file, its terms checked against the header's `spec`."""
        terms_tensor = tensors.get(f"{prefix}.terms")
        if terms_tensor is None or terms_tensor.dtype != torch.uint8 or terms_tensor.dim() != 1:
            raise ArtifactError(f"the file has no 1-D uint8 tensor {prefix}.terms")
        try:
            terms = bytes(terms_tensor.numpy()).decode("utf-8").split("\n")
        except UnicodeDecodeError:
            raise ArtifactError(f"{prefix}.terms is not UTF-8 text") from None
        if len(terms) != spec["size"]:
            raise ArtifactError(f"vocabulary {prefix} has {len(terms)} terms, the header says {spec['size']}")
        if len(set(terms)) != len(terms):
            repeated = next(t for t, n in Counter(terms).items() if n > 1)
            raise ArtifactError(f"vocabulary {prefix} lists the term {repeated[:40]!r} twice")
        idf = tensors[f"{prefix}.idf"].numpy() if f"{prefix}.idf" in tensors else None
        return cls(spec["analyzer"], tuple(spec["ngram_range"]), terms, idf)


class _TermCounter:
    """Counts any analyzer's n-grams with a dict lookup per n-gram (the general path)."""

    def __init__(self, terms: list[str], analyzer: Analyzer, ngram_range: tuple[int, int]) -> None:
        self.analyze = count_vectorizer(analyzer, ngram_range).build_analyzer()
        self.index = {term: i for i, term in enumerate(terms)}
        self.size = len(terms)

    def counts(self, texts: list[str]) -> sp.csr_matrix:
        index, analyze = self.index, self.analyze
        indptr, indices, values = [0], [], []
        for text in texts:
            found = Counter(j for j in map(index.get, analyze(text)) if j is not None)
            for j in sorted(found):
                indices.append(j)
                values.append(found[j])
            indptr.append(len(indices))
        return _csr(
            np.asarray(values, dtype=np.float32), np.asarray(indices), np.asarray(indptr), len(texts), self.size
        )


class WordNgramIndex:
    """Word n-gram terms as integers, so a batch's n-grams are found by numpy in one sorted search instead of by a
    dict lookup per n-gram (~5x faster on IMDB's 1M-term NBSVM vocabulary).

    Every word of the vocabulary gets an id 1..W-1 (0: a word no term holds) and an n-gram's key is its ids read as a
    base-W number. No digit of a term's key is 0, so keys of different orders never collide, and an n-gram holding
    an unknown word (which no term can match) is skipped before the search. `build` returns None when W ** max_n
    does not fit in 63 bits; the caller then counts with a dict.
    """

    def __init__(self, words: dict[str, int], keys: np.ndarray, ngram_range: tuple[int, int], size: int) -> None:
        self.words, self.ngram_range, self.size = words, ngram_range, size
        self.base = len(words) + 1
        self.order = np.argsort(keys).astype(np.int64)  # column of each sorted key
        self.sorted_keys = keys[self.order]
        self.tokenize = count_vectorizer("word", ngram_range).build_tokenizer()

    @classmethod
    def build(cls, terms: list[str], ngram_range: tuple[int, int]) -> WordNgramIndex | None:
        """The index of `terms` (word n-grams, words joined by one space as CountVectorizer joins them)."""
        if not terms:
            return None
        flat = " ".join(terms).split(" ")  # tokens never hold whitespace (WORD_PATTERN), so this splits every term
        words = {word: i for i, word in enumerate(dict.fromkeys(flat), start=1)}
        base = len(words) + 1
        if base ** ngram_range[1] >= 2**63:
            return None
        ids = np.fromiter(map(words.__getitem__, flat), dtype=np.int64, count=len(flat))
        lengths = np.fromiter((term.count(" ") + 1 for term in terms), dtype=np.int64, count=len(terms))
        starts = np.cumsum(lengths) - lengths
        keys = np.zeros(len(terms), dtype=np.int64)
        for position in range(int(lengths.max(initial=0))):
            longer = lengths > position
            keys[longer] = keys[longer] * base + ids[starts[longer] + position]
        return cls(words, keys, ngram_range, len(terms))

    def counts(self, texts: list[str]) -> sp.csr_matrix:
        tokens = [self.tokenize(text) for text in texts]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(texts))
        flat = list(chain.from_iterable(tokens))
        ids = np.fromiter(map(self.words.get, flat, repeat(0)), dtype=np.int64, count=len(flat))
        text_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        left = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(ids))  # tokens from each one to its text's end
        low, high = self.ngram_range
        found_texts, found_columns = [], []
        keys, known = ids, ids > 0
        for n in range(1, high + 1):
            if n > 1:  # the n-grams starting at each token: the (n-1)-gram there, then the n-th token
                keys, known = keys[:-1] * self.base + ids[n - 1 :], known[:-1] & (ids[n - 1 :] > 0)
            if n < low:
                continue
            take = np.flatnonzero(known & (left[: len(keys)] >= n))
            wanted = keys[take]
            by_key = np.argsort(wanted)  # a sorted query walks the sorted keys in order: ~7x faster
            at = np.minimum(np.searchsorted(self.sorted_keys, wanted[by_key]), len(self.sorted_keys) - 1)
            hit = self.sorted_keys[at] == wanted[by_key]
            found_texts.append(text_of[take[by_key[hit]]])
            found_columns.append(self.order[at[hit]])
        cells, values = np.unique(
            np.concatenate(found_texts) * self.size + np.concatenate(found_columns), return_counts=True
        )
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(cells // self.size, minlength=len(texts)), out=indptr[1:])
        return _csr(values.astype(np.float32), cells % self.size, indptr, len(texts), self.size)


def _csr(values: np.ndarray, columns: np.ndarray, indptr: np.ndarray, rows: int, size: int) -> sp.csr_matrix:
    return sp.csr_matrix((values, columns.astype(np.int32), indptr.astype(np.int64)), shape=(rows, size))


def count_vectorizer(analyzer: str, ngram_range: tuple[int, int], **kwargs: Any) -> CountVectorizer:
    """A scikit-learn CountVectorizer that splits words as the rest of sentilstm does; `kwargs` go to it."""
    options: dict[str, Any] = {"lowercase": False, "dtype": np.float32}  # the Normalizer already lower-cased
    if analyzer == "word":  # same word/punctuation split as the rest of sentilstm: "don't" and "!" are tokens
        options["token_pattern"] = WORD_PATTERN
    return CountVectorizer(analyzer=analyzer, ngram_range=ngram_range, **options, **kwargs)


def l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each row of `matrix` to unit L2 norm in place (all-zero rows stay zero); returns it."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    norms = np.sqrt(np.bincount(rows, weights=np.square(matrix.data, dtype=np.float64), minlength=matrix.shape[0]))
    norms[norms == 0] = 1.0
    matrix.data /= norms[rows].astype(matrix.dtype)
    return matrix


def binarize(counts: sp.csr_matrix) -> sp.csr_matrix:
    """Every count set to 1 (the n-gram occurs), in place; returns it."""
    counts.data[:] = 1
    return counts


__all__ = ["Analyzer", "FeatureSpec", "Features", "WordNgramIndex", "binarize", "l2_rows", "count_vectorizer"]
