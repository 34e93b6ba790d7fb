"""N-gram features of the linear baselines: one vocabulary per (analyzer, n-gram range) block, the counting, the
TF-IDF weighting and the row scaling that turn normalised texts into a sparse matrix, and how a vocabulary is
stored in a model file (its terms as one UTF-8 tensor, its idf as another) and checked when read back.

    features, counts = Features.fit(texts, "word", (1, 2), min_df=2, max_features=None, idf=True)
    matrix = l2_rows(features.tfidf(features.counts(new_texts)))
"""

from __future__ import annotations

import dataclasses
from collections import Counter
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
        sparse bookkeeping per call) dominated single-text requests to a server.
        """
        if not hasattr(self, "_analyze"):
            self._analyze = count_vectorizer(self.analyzer, self.ngram_range).build_analyzer()
            self._index = {term: i for i, term in enumerate(self.terms)}
        index, analyze = self._index, self._analyze
        indptr, indices, values = [0], [], []
        for text in texts:
            found = Counter(j for j in map(index.get, analyze(text)) if j is not None)
            for j in sorted(found):
                indices.append(j)
                values.append(found[j])
            indptr.append(len(indices))
        return sp.csr_matrix(
            (
                np.asarray(values, dtype=np.float32),
                np.asarray(indices, dtype=np.int32),
                np.asarray(indptr, dtype=np.int64),
            ),
            shape=(len(texts), len(self.terms)),
        )

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


__all__ = ["Analyzer", "FeatureSpec", "Features", "binarize", "l2_rows", "count_vectorizer"]
