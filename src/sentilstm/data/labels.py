"""Labels: a user's label values (-1/0/1, "pos"/"neg", 1.0/0.0...) made canonical and mapped to class ids 0..K-1
and back (`LabelMap`, saved in every model), stratified splits, and the checks of texts and labels given in Python.

    labels = LabelMap.fit(table.labels); ids = labels.encode(table.labels); labels.decode(ids) == table.labels
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sentilstm.errors import DataError

Label = Any  # a user's label value: int, float, str or bool


def canonical_label(value: Any) -> Label:
    """Numbers that are whole become int (1.0 -> 1, "-1" -> -1); other strings are stripped."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else float(value)
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number):
        return int(number) if number.is_integer() else number
    return text


class LabelMap:
    """Bijection between a user's label values and class ids 0..K-1, saved in the model."""

    def __init__(self, labels: Sequence[Label]) -> None:
        self.labels: list[Label] = list(labels)
        self._ids = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def fit(cls, values: Sequence[Label]) -> LabelMap:
        """Sorted distinct values (so -1 < 0 < 1 and 'negative' < 'neutral' < 'positive'); needs two or more."""
        distinct = sorted(set(canonical_label(v) for v in values), key=lambda v: (isinstance(v, str), v))
        if len(distinct) < 2:
            raise DataError(
                f"found only one label value {distinct!r}; a classifier needs at least two classes in the training data"
            )
        return cls(distinct)

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, values: Sequence[Label]) -> np.ndarray:
        """Label values -> int64 ids; unknown values raise DataError naming them."""
        canonical = [canonical_label(v) for v in values]
        if all(isinstance(v, str) for v in self.labels):
            canonical = [str(v) for v in canonical]
        unknown = sorted({v for v in canonical if v not in self._ids}, key=str)
        if unknown:
            raise DataError(f"labels {unknown[:10]} were not seen in training; this model knows {self.labels}")
        return np.asarray([self._ids[v] for v in canonical], dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> list[Label]:
        return [self.labels[int(i)] for i in ids]

    def to_list(self) -> list[Label]:
        return list(self.labels)

    def counts(self, values: Sequence[Label]) -> dict[Label, int]:
        counter = Counter(self.decode(self.encode(values)))
        return {label: counter.get(label, 0) for label in self.labels}


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation) with each class's share kept; classes too rare to split stay in train."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    validation: list[int] = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        take = int(round(len(members) * fraction)) if len(members) >= 2 else 0
        take = min(take, len(members) - 1)
        validation.extend(members[:take])
        train.extend(members[take:])
    if not validation:
        raise DataError("the data is too small to hold out a validation split; give more rows or a validation file")
    return np.sort(np.asarray(train)), np.sort(np.asarray(validation))


def check_texts(values: Iterable[str], name: str) -> list[str]:
    """The texts as a list; a single string, a non-list or a non-string entry is a DataError naming the fix."""
    if isinstance(values, str):
        raise DataError(f"{name} must be a list of texts, got a single string; wrap it: [{values[:30]!r}]")
    texts = _as_list(values, name, "texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"{name}[{i}] is {type(text).__name__} {text!r}, not a string; drop or fill missing texts")
    return texts


def check_labels(values: Iterable[Label], name: str) -> list[Label]:
    """The labels as a list; a missing label is a DataError."""
    labels = _as_list(values, name, "labels")
    for i, label in enumerate(labels):
        if label is None or (not isinstance(label, str) and pd.api.types.is_scalar(label) and pd.isna(label)):
            raise DataError(f"{name}[{i}] is missing (NaN/None); drop unlabelled rows before fit")
    return labels


def _as_list(values: Any, name: str, what: str) -> list[Any]:
    if isinstance(values, pd.DataFrame):
        raise DataError(f"{name} must be a list of {what}, got a DataFrame; pass one column, e.g. frame['text']")
    if isinstance(values, (bytes, dict)) or not isinstance(values, Iterable):
        raise DataError(
            f"{name} must be a list of {what}, got {type(values).__name__} {str(values)[:40]!r}; "
            "pass a list or another sequence of them"
        )
    return list(values)
