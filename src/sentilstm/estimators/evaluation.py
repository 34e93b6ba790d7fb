"""Metrics for a classifier's probabilities -> `EvaluationReport`.

report = evaluate_probabilities(y_true_ids, probabilities, labels=[-1, 0, 1])
report.macro_f1, report.to_dict()
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score

from sentilstm.report.notebook import box, html_table

# Beyond this many classes a full confusion matrix is unreadable (and its drawing grows with the square): tables
# and plots show the classes and pairs most often confused instead, while per-class metrics stay complete.
MAX_MATRIX_CLASSES = 50


@dataclass
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class EvaluationReport:
    """Accuracy, F1s, ROC-AUC, per-class metrics and the confusion matrix (rows: true, columns: predicted)."""

    accuracy: float
    macro_f1: float
    weighted_f1: float
    roc_auc: float | None  # binary AUC, or macro one-vs-rest; None when a class is absent from y_true
    loss: float  # mean cross-entropy of the probabilities
    per_class: dict[str, ClassMetrics]
    confusion_matrix: list[list[int]]
    labels: list[Any]
    num_examples: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_html_(self) -> str:
        """A notebook's view: the headline metrics, per-class metrics and the confusion matrix (rows: true label)."""
        headline: list[tuple[str, Any]] = [("examples", self.num_examples), ("accuracy", self.accuracy)]
        headline.append(("macro F1", self.macro_f1))
        headline += [("weighted F1", self.weighted_f1), ("ROC-AUC", self.roc_auc), ("log-loss", self.loss)]
        classes = [(label, m.precision, m.recall, m.f1, m.support) for label, m in self.per_class.items()]
        parts = [
            html_table(["metric", "value"], headline),
            html_table(["label", "precision", "recall", "F1", "support"], classes, caption="per class"),
        ]
        if len(self.labels) <= MAX_MATRIX_CLASSES:
            matrix = [[f"true {label}", *row] for label, row in zip(self.labels, self.confusion_matrix)]
            headers = ["", *(f"predicted {label}" for label in self.labels)]
            parts.append(html_table(headers, matrix, caption="confusion matrix"))
        return box(*parts, title="Evaluation")


@dataclass
class Predictions:
    """Labelled texts with a classifier's probabilities: what reports, calibration and error lists are made of."""

    texts: list[str]
    targets: np.ndarray  # class ids
    probabilities: np.ndarray  # (n, num_classes)
    labels: list[Any]

    def report(self) -> EvaluationReport:
        return evaluate_probabilities(self.targets, self.probabilities, self.labels)

    def most_confident_errors(self, k: int = 10) -> list[tuple[str, Any, Any, float]]:
        """The k wrong predictions the model was surest of: (text, true label, predicted label, confidence)."""
        predicted = self.probabilities.argmax(axis=1)
        confidence = self.probabilities.max(axis=1)
        wrong = np.flatnonzero(predicted != self.targets)
        order = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]
        return [
            (self.texts[i], self.labels[self.targets[i]], self.labels[predicted[i]], float(confidence[i]))
            for i in order
        ]


def top_confusions(matrix: Any, labels: list[Any], k: int = 20) -> list[tuple[Any, Any, int, float]]:
    """The `k` most frequent errors: (true label, predicted label, count, share of the true class's texts)."""
    counts = np.asarray(matrix, dtype=np.int64)
    errors = counts.copy()
    np.fill_diagonal(errors, 0)
    flat = np.flatnonzero(errors)
    order = flat[np.argsort(-errors.flat[flat], kind="stable")][:k]
    totals = np.maximum(counts.sum(axis=1), 1)
    return [
        (labels[i], labels[j], int(errors[i, j]), float(errors[i, j] / totals[i]))
        for i, j in (divmod(int(index), len(labels)) for index in order)
    ]


def most_confused_classes(matrix: Any, k: int = 20) -> list[int]:
    """Indices of the `k` classes most involved in errors (texts of theirs missed plus texts wrongly given them),
    in their original order: the part of a large confusion matrix worth drawing."""
    errors = np.asarray(matrix, dtype=np.int64).copy()
    np.fill_diagonal(errors, 0)
    involvement = errors.sum(axis=0) + errors.sum(axis=1)
    return sorted(np.argsort(-involvement, kind="stable")[:k].tolist())


def evaluate_probabilities(y_true: np.ndarray, probabilities: np.ndarray, labels: list[Any]) -> EvaluationReport:
    """Score class-id targets against (n, num_classes) probabilities."""
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_classes = len(labels)
    classes = list(range(num_classes))
    y_pred = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    picked = np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-12, 1.0)
    return EvaluationReport(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        weighted_f1=float(f1_score(y_true, y_pred, labels=classes, average="weighted", zero_division=0)),
        roc_auc=_roc_auc(y_true, probabilities, num_classes),
        loss=float(-np.log(picked).mean()),
        per_class={
            str(label): ClassMetrics(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
            for i, label in enumerate(labels)
        },
        confusion_matrix=confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        labels=list(labels),
        num_examples=int(len(y_true)),
    )


def headline_scores(targets: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Accuracy, macro F1 and weighted F1 of the argmax of `probabilities` (n, classes) against class ids `targets`:
    the three figures that compare the networks of one fit (ensemble members, a distilled student)."""
    predicted = np.asarray(probabilities).argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(targets, predicted)),
        "macro_f1": float(f1_score(targets, predicted, average="macro")),
        "weighted_f1": float(f1_score(targets, predicted, average="weighted")),
    }


def _roc_auc(y_true: np.ndarray, probabilities: np.ndarray, num_classes: int) -> float | None:
    if len(np.unique(y_true)) < num_classes:
        return None  # AUC is undefined for a class with no positives
    if num_classes == 2:
        value = roc_auc_score(y_true, probabilities[:, 1])
    else:
        value = roc_auc_score(
            y_true, probabilities, multi_class="ovr", average="macro", labels=list(range(num_classes))
        )
    return None if math.isnan(value) else float(value)
