"""Strong linear baselines with the same fit/predict/evaluate/save interface as `SentimentClassifier`.

    clf = NBSVM().fit(texts, labels)                      # Wang & Manning (2012), word 1-3-grams
    clf = TfidfLogisticRegression().fit(texts, labels)    # word 1-2-grams + char 2-5-grams
    clf.evaluate(test_texts, test_labels); clf.save("nbsvm.sentilstm"); sentilstm.load_model("nbsvm.sentilstm")

Both normalise text exactly like the LSTM models (`TextConfig`), so a score difference is the model's,
not the preprocessing's. They train in seconds to a minute and are the bar an LSTM has to clear. Their n-gram
vocabularies, counts and TF-IDF weights are `sentilstm.estimators.ngrams`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression

from sentilstm.artifact.format import library_versions, write_file
from sentilstm.artifact.schema import Shapes, check_params, check_tensors, part, saved_labels
from sentilstm.config import TextConfig, check_choice, check_integer, check_positive, check_type
from sentilstm.data.inputs import read_labelled
from sentilstm.data.labels import Label, LabelMap, check_labels, check_texts
from sentilstm.errors import ArtifactError, ConfigError, DataError, NotFittedError
from sentilstm.estimators.interface import PredictionMixin, Texts
from sentilstm.estimators.ngrams import Analyzer, Features, FeatureSpec, binarize, l2_rows
from sentilstm.text.normalize import Normalizer

if TYPE_CHECKING:
    from sentilstm.explanations.result import TokenAttribution

log = logging.getLogger(__name__)
BaselineKind = Literal["tfidf_lr", "nbsvm"]
# how the training rows are rebalanced before the linear fit; SMOTE (Chawla et al. 2002) interpolates new
# minority rows between a row and one of its 5 nearest same-class neighbours in the model's feature space
BaselineSampling = Literal["none", "oversample", "undersample", "smote"]


class LinearBaseline(PredictionMixin, ClassifierMixin, BaseEstimator):
    """Shared fit/predict/evaluate/save for the n-gram baselines; subclasses choose the features."""

    kind: ClassVar[BaselineKind]

    def _text_config(self) -> TextConfig:
        config = TextConfig(
            lowercase=self.lowercase, replace_urls=self.replace_urls, replace_mentions=self.replace_mentions
        )
        config.validate()
        return config

    def _check_params(self) -> None:
        check_positive("C", self.C)
        check_integer("min_df", self.min_df, low=1)
        if self.max_features is not None:
            check_integer("max_features", self.max_features, low=1)
        if self.class_weight is not None:
            check_choice("class_weight", self.class_weight, Literal["balanced"])
        check_choice("sampling", self.sampling, BaselineSampling)

    def check_params(self) -> LinearBaseline:
        """Raise ConfigError for a bad hyperparameter now, before any data is read (`fit` checks too)."""
        self._check_params()
        return self

    def fit(
        self,
        X: Texts,
        y: Iterable[Label] | None = None,
        *,
        text_column: str | None = None,
        label_column: str | None = None,
    ) -> LinearBaseline:
        """Learn the n-gram vocabularies and the linear model(s) from texts `X` and labels `y` (or a DataFrame `X`
        holding both; its text and label columns inferred or named)."""
        texts, labels = read_labelled(X, y, text_column=text_column, label_column=label_column)
        self._check_params()
        label_map = LabelMap.fit(labels)
        if len(label_map) < 2:
            raise DataError(f"training labels hold a single class {label_map.labels}; a classifier needs at least two")
        normalizer = Normalizer(self._text_config())
        features, matrix = self._fit_features(normalizer.batch(texts))
        fitted = self._fit_linear(matrix, label_map.encode(labels))
        # assigned only now, so a failed re-fit leaves a fitted model as it was
        self.normalizer_, self.label_map_, self.classes_, self.features_ = (
            normalizer,
            label_map,
            np.asarray(label_map.labels),
            features,
        )
        for name, value in fitted.items():
            setattr(self, name, value)
        log.info("%s: %d features, %d classes", self.kind, matrix.shape[1], len(label_map))
        return self

    def out_of_fold_proba(
        self,
        X: Iterable[str],
        y: Iterable[Label],
        folds: Sequence[np.ndarray],
        variants: Sequence[dict[str, Any]] = ({},),
    ) -> list[np.ndarray]:
        """Cross-fitting: each text's probabilities from a model fitted without its fold (`folds`: row indices
        that partition X), once per parameter variant (e.g. `{}` and `{"class_weight": "balanced"}`); columns in
        the order of `LabelMap.fit(y).labels`, 0 for a class a fold's model never saw. The n-gram vocabularies and
        IDF weights see no labels, so they are fitted once on all of X and only the linear model is refitted:
        about len(folds) x len(variants) linear fits and one vectorisation. This model itself is left as it was."""
        texts, labels = check_texts(X, "X"), check_labels(y, "y")
        if len(texts) != len(labels):
            raise DataError(f"X has {len(texts)} texts but y has {len(labels)} labels; they must match")
        label_map = LabelMap.fit(labels)
        targets = label_map.encode(labels)
        models = [clone(self).set_params(**variant) for variant in variants]
        for model in models:
            model._check_params()
        _, matrix = self._fit_features(Normalizer(self._text_config()).batch(texts))
        outputs = [np.zeros((len(texts), len(label_map))) for _ in models]
        everything = np.arange(len(texts))
        for held in folds:
            kept = np.setdiff1d(everything, held)
            present = np.unique(targets[kept])
            if len(present) < 2:
                raise DataError(
                    f"a fold leaves a single class {label_map.decode(present)} to train on; use fewer folds"
                )
            for model, out in zip(models, outputs):
                for name, value in model._fit_linear(matrix[kept], np.searchsorted(present, targets[kept])).items():
                    setattr(model, name, value)
                out[np.ix_(held, present)] = model._probabilities(matrix[held])
        return outputs

    def _proba(self, texts: list[str]) -> np.ndarray:
        """`predict_proba`'s probabilities of a non-empty list of texts."""
        return self._probabilities(self._transform(self.normalizer_.batch(texts))).astype(np.float64)

    def explain(
        self,
        text: Texts,
        method: Literal["auto", "lime", "kernel_shap"] = "auto",
        *,
        num_samples: int = 1000,
        seed: int = 0,
    ) -> TokenAttribution | Any:
        """Which words of `text` drove the prediction, by removing words and re-predicting ("auto": kernel_shap); a
        list of them for many texts (a Series on a pandas input's index).

        NBSVM().fit(texts, labels).explain("not good at all", method="lime").top(3)
        """
        from sentilstm.explanations.methods import explain

        return self._explain_each(text, lambda one: explain(self, one, method, num_samples=num_samples, seed=seed))

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"this {type(self).__name__} is not trained yet; call fit() or sentilstm.load_model()")

    def _weight_columns(self) -> np.ndarray:
        """`coef_.T` as a contiguous array, made once per `coef_` (scipy copies a strided one on every product)."""
        cached = getattr(self, "_weight_columns_cache", None)
        if cached is None or cached[0] is not self.coef_:
            cached = self._weight_columns_cache = (self.coef_, np.ascontiguousarray(self.coef_.T))
        return cached[1]

    # ----- persistence ---------------------------------------------------------------------------
    def to_tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        tensors = {
            f"{prefix}coef": torch.from_numpy(self.coef_),
            f"{prefix}intercept": torch.from_numpy(self.intercept_),
        }
        if getattr(self, "ratios_", None) is not None:
            tensors[f"{prefix}ratios"] = torch.from_numpy(self.ratios_)
        for i, features in enumerate(self.features_):
            tensors.update(features.to_tensors(f"{prefix}features{i}"))
        return tensors

    def to_payload(self) -> dict[str, Any]:
        return {
            "estimator": self.kind,
            "params": self.get_params(),
            "labels": self.label_map_.to_list(),
            "features": [f.to_json() for f in self.features_],
        }

    def save(self, path: str | Path) -> Path:
        """Write vocabularies, idf, weights, label map and settings to one file, atomically."""
        self._check_fitted()
        payload = self.to_payload()
        payload.update(
            metrics=getattr(self, "metrics_", {}),
            versions=library_versions(),
            created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        )
        write_file(path, self.to_tensors(), payload, kind="model")
        log.info("saved %s baseline to %s", self.kind, path)
        return Path(path)

    @classmethod
    def from_saved(cls, payload: dict[str, Any], tensors: dict[str, torch.Tensor], prefix: str = "") -> LinearBaseline:
        """Rebuild from a model file's payload and its tensors named `prefix`... (a blend's are "blend."), every
        part checked against the others first (ArtifactError or ConfigError naming the field)."""
        kind = payload.get("estimator")
        if kind not in BASELINES:
            raise ArtifactError(f"{prefix}estimator must be one of {sorted(BASELINES)}, got {str(kind)[:40]!r}")
        estimator = BASELINES[kind]
        clf = estimator(**check_params(estimator, part(payload, "params", where=prefix), f"{prefix}params"))
        try:
            clf._check_params()
        except ConfigError as exc:  # its messages start with the parameter's name
            raise ConfigError(f"{prefix}params.{exc}") from None
        clf.label_map_ = LabelMap(saved_labels(part(payload, "labels", list, where=prefix), f"{prefix}labels"))
        specs = part(payload, "features", list, where=prefix)
        for index, spec in enumerate(specs):
            check_type(f"{prefix}features[{index}]", spec, FeatureSpec)
        blocks = [(spec["analyzer"], tuple(spec["ngram_range"])) for spec in specs]
        if blocks != clf._blocks():
            raise ArtifactError(
                f"{prefix}features hold (analyzer, ngram_range) blocks {blocks} but the ngram settings "
                f"in params imply {clf._blocks()}"
            )
        clf.features_ = [Features.from_saved(spec, tensors, f"{prefix}features{i}") for i, spec in enumerate(specs)]
        rows = len(clf.label_map_) if kind == "tfidf_lr" or len(clf.label_map_) > 2 else 1  # binary NBSVM: one row
        coef = tensors.get(f"{prefix}coef")
        if coef is not None and coef.dim() == 2 and coef.shape[0] != rows:
            raise ArtifactError(
                f"the file lists {len(clf.label_map_)} labels but {prefix}coef has {coef.shape[0]} "
                f"rows ({kind} keeps {rows})"
            )
        expected = clf._expected_tensors(prefix, rows)
        terms = {f"{prefix}features{i}.terms" for i in range(len(specs))}  # checked by Features.from_saved
        check_tensors(
            expected, {n: t for n, t in tensors.items() if n.startswith(prefix) and n not in terms}, exact=True
        )
        clf.normalizer_ = Normalizer(clf._text_config())
        clf.classes_ = np.asarray(clf.label_map_.labels)
        clf.coef_ = tensors[f"{prefix}coef"].numpy()
        clf.intercept_ = tensors[f"{prefix}intercept"].numpy()
        clf.ratios_ = tensors[f"{prefix}ratios"].numpy() if f"{prefix}ratios" in tensors else None
        clf.metrics_ = part(payload, "metrics", required=False, where=prefix) or {}
        return clf

    def _expected_tensors(self, prefix: str, rows: int) -> Shapes:
        """Shape and dtype of every numeric tensor a file of this baseline holds, from its (checked) features."""
        width, float32 = sum(len(f.terms) for f in self.features_), torch.float32
        expected = {f"{prefix}coef": ((rows, width), float32), f"{prefix}intercept": ((rows,), float32)}
        if self.kind == "nbsvm":
            expected[f"{prefix}ratios"] = ((rows, width), float32)
        else:
            expected.update(
                {f"{prefix}features{i}.idf": ((len(f.terms),), float32) for i, f in enumerate(self.features_)}
            )
        return expected

    def _resample(self, matrix: sp.csr_matrix, targets: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        """Rows and targets rebalanced to equal class counts as `sampling` says (seeded, so fits repeat)."""
        if self.sampling == "none":
            return matrix, targets
        from imblearn.over_sampling import SMOTE, RandomOverSampler  # imported here: ~1 s, only when used
        from imblearn.under_sampling import RandomUnderSampler

        smallest = int(np.bincount(targets).min())
        if self.sampling == "smote":
            if smallest < 2:
                raise DataError(
                    f"sampling='smote' needs at least 2 training texts in every class, the smallest has {smallest}; "
                    "add examples or use sampling='oversample'"
                )
            sampler: Any = SMOTE(k_neighbors=min(5, smallest - 1), random_state=0)
        else:
            sampler = (RandomOverSampler if self.sampling == "oversample" else RandomUnderSampler)(random_state=0)
        resampled, new_targets = sampler.fit_resample(matrix, targets)
        log.info(
            "%s: %s resampled %d training rows to %d", self.kind, self.sampling, matrix.shape[0], resampled.shape[0]
        )
        return sp.csr_matrix(resampled), np.asarray(new_targets)

    # ----- subclass hooks ------------------------------------------------------------------------
    def _blocks(self) -> list[tuple[Analyzer, tuple[int, int]]]:
        """The (analyzer, ngram_range) of each feature block, as the parameters ask."""
        raise NotImplementedError

    def _fit_features(self, texts: list[str]) -> tuple[list[Features], sp.csr_matrix]:
        raise NotImplementedError

    def _transform(self, texts: list[str]) -> sp.csr_matrix:
        raise NotImplementedError

    def _fit_linear(self, matrix: sp.csr_matrix, targets: np.ndarray) -> dict[str, np.ndarray | None]:
        raise NotImplementedError

    def _probabilities(self, matrix: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError


class TfidfLogisticRegression(LinearBaseline):
    """Sublinear TF-IDF of word n-grams plus in-word character n-grams, then multinomial logistic regression."""

    kind = "tfidf_lr"

    def _check_params(self) -> None:
        super()._check_params()
        _check_ngrams("word_ngrams", self.word_ngrams)
        if self.char_ngrams is not None:
            _check_ngrams("char_ngrams", self.char_ngrams)

    def __init__(
        self,
        *,
        C: float = 4.0,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] | None = (2, 5),
        min_df: int = 2,
        max_features: int | None = None,
        class_weight: Literal["balanced"] | None = None,
        sampling: BaselineSampling = "none",
        lowercase: bool = True,
        replace_urls: bool = True,
        replace_mentions: bool = True,
        max_iter: int = 1000,
    ) -> None:
        self.C, self.word_ngrams, self.char_ngrams, self.min_df = C, word_ngrams, char_ngrams, min_df
        self.max_features, self.class_weight, self.sampling = max_features, class_weight, sampling
        self.lowercase, self.replace_urls, self.replace_mentions = lowercase, replace_urls, replace_mentions
        self.max_iter = max_iter

    def _blocks(self) -> list[tuple[Analyzer, tuple[int, int]]]:
        blocks: list[tuple[Analyzer, tuple[int, int]]] = [("word", _pair(self.word_ngrams))]
        if self.char_ngrams:
            blocks.append(("char_wb", _pair(self.char_ngrams)))
        return blocks

    def _fit_features(self, texts: list[str]) -> tuple[list[Features], sp.csr_matrix]:
        fitted = [Features.fit(texts, a, n, self.min_df, self.max_features, idf=True) for a, n in self._blocks()]
        features = [f for f, _ in fitted]
        return features, l2_rows(sp.hstack([f.tfidf(c) for f, c in fitted], format="csr"))

    def _transform(self, texts: list[str]) -> sp.csr_matrix:
        return l2_rows(sp.hstack([f.tfidf(f.counts(texts)) for f in self.features_], format="csr"))

    def _fit_linear(self, matrix: sp.csr_matrix, targets: np.ndarray) -> dict[str, np.ndarray | None]:
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight=self.class_weight, solver="lbfgs")
        model.fit(*self._resample(matrix, targets))
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:  # binary: scikit-learn keeps one row; store both so every case is a softmax
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        return {"coef_": coef.astype(np.float32), "intercept_": intercept.astype(np.float32), "ratios_": None}

    def _probabilities(self, matrix: sp.csr_matrix) -> np.ndarray:
        return _softmax(matrix @ self._weight_columns() + self.intercept_)


class NBSVM(LinearBaseline):
    """NBSVM (Wang & Manning 2012): binarised n-grams scaled by naive-Bayes log-count ratios, then a linear model.

    Each class gets one-vs-rest ratios r = log(p/|p|_1) - log(q/|q|_1) (p, q: smoothed feature counts in and
    out of the class) and a logistic regression on x * r, the usual NB-LR form of NBSVM; multi-class
    probabilities are the normalised one-vs-rest scores.
    """

    kind = "nbsvm"

    def __init__(
        self,
        *,
        C: float = 0.1,
        ngrams: tuple[int, int] = (1, 3),
        alpha: float = 1.0,
        min_df: int = 2,
        max_features: int | None = None,
        class_weight: Literal["balanced"] | None = None,
        sampling: BaselineSampling = "none",
        lowercase: bool = True,
        replace_urls: bool = True,
        replace_mentions: bool = True,
        max_iter: int = 1000,
    ) -> None:
        self.C, self.ngrams, self.alpha, self.min_df = C, ngrams, alpha, min_df
        self.max_features, self.class_weight, self.sampling = max_features, class_weight, sampling
        self.lowercase, self.replace_urls, self.replace_mentions = lowercase, replace_urls, replace_mentions
        self.max_iter = max_iter

    def _check_params(self) -> None:
        super()._check_params()
        check_positive("alpha", self.alpha)
        _check_ngrams("ngrams", self.ngrams)

    def _blocks(self) -> list[tuple[Analyzer, tuple[int, int]]]:
        return [("word", _pair(self.ngrams))]

    def _fit_features(self, texts: list[str]) -> tuple[list[Features], sp.csr_matrix]:
        features, counts = Features.fit(texts, "word", _pair(self.ngrams), self.min_df, self.max_features, idf=False)
        return [features], binarize(counts)

    def _transform(self, texts: list[str]) -> sp.csr_matrix:
        return binarize(self.features_[0].counts(texts))

    def _fit_linear(self, matrix: sp.csr_matrix, targets: np.ndarray) -> dict[str, np.ndarray | None]:
        num_classes = int(targets.max()) + 1
        rows = [1] if num_classes == 2 else range(num_classes)  # binary: one model, the positive class's
        ratios, coefs, intercepts = [], [], []
        for c in rows:
            inside = targets == c
            p = self.alpha + np.asarray(matrix[inside].sum(axis=0)).ravel()
            q = self.alpha + np.asarray(matrix[~inside].sum(axis=0)).ravel()
            r = np.log(p / p.sum()) - np.log(q / q.sum())
            model = LogisticRegression(
                C=self.C,
                max_iter=self.max_iter,
                class_weight=self.class_weight,
                solver="liblinear",
                dual=True,
                random_state=0,
            )  # liblinear shuffles; fixed for reproducible fits
            model.fit(*self._resample(matrix @ sp.diags(r), inside.astype(np.int64)))  # SMOTE in the NB-scaled space
            ratios.append(r)
            coefs.append(model.coef_[0] * r)  # fold r into the weights: score = x . (w * r) + b
            intercepts.append(model.intercept_[0])
        return {
            "ratios_": np.asarray(ratios, dtype=np.float32),
            "coef_": np.asarray(coefs, dtype=np.float32),
            "intercept_": np.asarray(intercepts, dtype=np.float32),
        }

    def _probabilities(self, matrix: sp.csr_matrix) -> np.ndarray:
        scores = matrix @ self._weight_columns() + self.intercept_
        probabilities = 1 / (1 + np.exp(-scores))
        if probabilities.shape[1] == 1:
            return np.hstack([1 - probabilities, probabilities])
        return probabilities / probabilities.sum(axis=1, keepdims=True)


def _check_ngrams(name: str, value: Any) -> None:
    if not (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(n, int) for n in value)
        and 1 <= value[0] <= value[1]
    ):
        raise ConfigError(f"{name} must be a (min_n, max_n) pair of integers with 1 <= min_n <= max_n, got {value!r}")


def _pair(value: Sequence[int]) -> tuple[int, int]:
    """A (min_n, max_n) checked by _check_ngrams, as a tuple (set_params may have given a list)."""
    return value[0], value[1]


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


BASELINES: dict[str, type[LinearBaseline]] = {"tfidf_lr": TfidfLogisticRegression, "nbsvm": NBSVM}


def make_baseline(kind: str, **params: Any) -> LinearBaseline:
    """A baseline by name (`tfidf_lr` or `nbsvm`) with its parameters (checked by `fit`, or `check_params()`)."""
    if kind not in BASELINES:
        raise ConfigError(f"baseline must be one of {sorted(BASELINES)}, got {kind!r}")
    return BASELINES[kind](**params)


__all__ = ["BASELINES", "BaselineSampling", "NBSVM", "LinearBaseline", "TfidfLogisticRegression", "make_baseline"]
