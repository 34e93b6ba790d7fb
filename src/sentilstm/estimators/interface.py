"""What every sentilstm classifier offers its callers, over any kind of input (`sentilstm.data.inputs`): `predict`,
`predict_proba`, a Hugging Face pipeline-style call, `evaluate`, and explanations of many texts at once.

    clf.predict(["great film", "dull"]); clf.predict(frame)     # a Series on the frame's index
    clf.predict_proba(series)                                   # a DataFrame, one column per label
    clf("great film")                                           # [{"label": "positive", "score": 0.97}]

A class mixing this in gives `_proba(texts) -> (n, classes) probabilities`, `label_map_`, `classes_` and
`_check_fitted`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from sentilstm.data.inputs import as_labels, as_probabilities, as_results, read_labelled, read_texts
from sentilstm.data.labels import Label, LabelMap
from sentilstm.errors import DataError
from sentilstm.estimators.evaluation import EvaluationReport, Predictions

Texts = Iterable[str] | str  # a list, tuple, NumPy array, pandas Series/DataFrame, or one string


class PredictionMixin:
    """`predict`, `predict_proba`, `__call__` and `evaluate` for a classifier with `_proba` (see the module)."""

    if TYPE_CHECKING:  # what the classes that mix this in provide
        label_map_: LabelMap
        classes_: np.ndarray

        def _proba(self, texts: list[str]) -> np.ndarray: ...

        def _check_fitted(self) -> None: ...

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags: raw strings in (no 2-D numeric arrays), labels required, any number of classes; a
        network on a GPU is not bit-for-bit reproducible (cuDNN)."""
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.string, tags.input_tags.two_d_array, tags.input_tags.one_d_array = True, False, True
        tags.target_tags.required = True
        tags.classifier_tags.multi_class = True
        tags.non_deterministic = getattr(self, "device", "cpu") not in ("cpu", None) and _has_gpu()
        return tags

    def predict_proba(self, X: Texts, *, text_column: str | None = None) -> Any:
        """Probabilities (n, n_classes), columns in the order of `classes_`, rows summing to 1: a NumPy array, or
        a DataFrame with one column per label on the index of a pandas Series/DataFrame `X` (`text_column`: the
        frame's text column when it cannot be inferred)."""
        self._check_fitted()
        given = read_texts(X, "X", text_column=text_column)
        return as_probabilities(given, self._proba_of(given.texts), self.classes_)

    def predict(self, X: Texts, *, text_column: str | None = None) -> Any:
        """Labels as the user gave them in training (e.g. -1/0/1 or 'positive'), argmax of predict_proba: a NumPy
        array, or a Series on the index of a pandas Series/DataFrame `X`."""
        self._check_fitted()
        given = read_texts(X, "X", text_column=text_column)
        return as_labels(given, self.labels_from(self._proba_of(given.texts)))

    def __call__(self, X: Texts, *, top_k: int | None = 1, text_column: str | None = None) -> Any:
        """Hugging Face pipeline-style: per text `{"label": ..., "score": ...}` (`top_k=1`), or a list of the `top_k`
        best such dicts, best first (`top_k=None`: every label). One string gives a list for that text, as a
        `pipeline("text-classification")` does; labels are the training labels as given (-1, "positive"...)."""
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise DataError(f"top_k must be a whole number >= 1 or None (every label), got {top_k!r}")
        self._check_fitted()
        given = read_texts(X, "X", text_column=text_column)
        probabilities = self._proba_of(given.texts)
        ranked = [self._ranked(row, top_k) for row in probabilities]
        results = [r[0] for r in ranked] if top_k == 1 else ranked
        if given.single:
            return ranked[0]
        return as_results(given, results)

    def _ranked(self, row: np.ndarray, top_k: int | None) -> list[dict[str, Any]]:
        order = np.argsort(-row, kind="stable")[: top_k or len(row)]
        return [{"label": _plain(self.label_map_.labels[i]), "score": float(row[i])} for i in order]

    def _proba_of(self, texts: list[str]) -> np.ndarray:
        return self._proba(texts) if texts else np.zeros((0, len(self.classes_)))

    def labels_from(self, probabilities: np.ndarray) -> np.ndarray:
        """The labels `predict` gives for rows of `predict_proba` already computed (its argmax, decoded)."""
        return np.asarray(self.label_map_.decode(np.asarray(probabilities).argmax(axis=1)))

    def evaluate(
        self,
        X: Texts,
        y: Iterable[Label] | None = None,
        *,
        text_column: str | None = None,
        label_column: str | None = None,
    ) -> EvaluationReport:
        """Accuracy, macro/weighted F1, ROC-AUC, per-class metrics and confusion matrix on labelled texts: `X` and
        `y`, or a DataFrame `X` holding both (its text and label columns inferred, or named)."""
        return self.score_labelled(X, y, text_column=text_column, label_column=label_column).report()

    def score_labelled(
        self,
        X: Texts,
        y: Iterable[Label] | None = None,
        *,
        text_column: str | None = None,
        label_column: str | None = None,
    ) -> Predictions:
        """Labelled texts scored once: `.report()` gives `evaluate`'s metrics, and a report its curves and errors."""
        self._check_fitted()
        texts, labels = read_labelled(X, y, text_column=text_column, label_column=label_column)
        if not texts:
            raise DataError("evaluate needs at least one labelled text")
        return Predictions(texts, self.label_map_.encode(labels), self._proba_of(texts), self.label_map_.labels)

    def _explain_each(self, X: Texts, explain_one: Callable[[str], Any]) -> Any:
        """`explain_one(text)` for one string; for many texts a list (a Series on a pandas input's index)."""
        given = read_texts(X, "text")
        if given.single:
            return explain_one(given.texts[0])
        return as_results(given, [explain_one(text) for text in given.texts])


def _has_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _plain(label: Any) -> Any:
    """A label as a plain Python value (NumPy scalars become int/float/str/bool), ready for JSON."""
    return label.item() if isinstance(label, np.generic) else label


__all__ = ["PredictionMixin", "Texts"]
