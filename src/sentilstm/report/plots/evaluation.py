"""Plots of a scored set: the confusion matrix, ROC and precision-recall curves, and the reliability diagram
(with the calibration bins and expected calibration error it is drawn from).

    figure = roc_figure(predictions)          # predictions: sentilstm.estimators.evaluation.Predictions
    calibration_bins(predictions)["ece"]      # 0.031
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from sentilstm.estimators.evaluation import MAX_MATRIX_CLASSES, Predictions
from sentilstm.report.plots.style import (
    ALERT,
    HALF,
    INK,
    MUTED,
    NORMAL,
    PALETTE,
    SMALL,
    WIDE,
    add_legend,
    label_axes,
    new_figure,
    short_name,
)

BINS = 10  # reliability diagram bins


def confusion_figure(
    matrix: Sequence[Sequence[int]] | np.ndarray,
    labels: Sequence[Any],
    row_totals: Sequence[int] | np.ndarray | None = None,
) -> Figure:
    """Counts and row-normalised shares (recall on the diagonal) side by side; rows true, columns predicted.

    `row_totals`: each row's texts when `matrix` is a part of a larger one (its shares are then of the whole row).
    """
    counts = np.asarray(matrix, dtype=np.int64)
    totals = (
        counts.sum(axis=1, keepdims=True) if row_totals is None else np.asarray(row_totals, dtype=np.int64)[:, None]
    )
    shares = counts / np.maximum(totals, 1)
    k = len(labels)
    figure, axes = new_figure(
        WIDE, min(2.6 + 0.3 * max(k, 3), 5.2), 1, 2, grid=False
    )  # the axes are square: width-bound
    names = [short_name(label, 12) for label in labels]
    size = NORMAL if k <= 6 else SMALL if k <= 12 else SMALL - 2.5
    crowded = k > 12  # cells too small for every number: only the non-zero ones, shares without "%"
    rotate = max(map(len, names)) > 5 or crowded
    for ax, values, title, text in (
        (axes[0], counts, "Counts", lambda i, j: f"{counts[i, j]:,}"),
        (
            axes[1],
            shares,
            "Share of each true class" + (" (%)" if crowded else ""),
            lambda i, j: f"{100 * shares[i, j]:.0f}" if crowded else f"{shares[i, j]:.0%}",
        ),
    ):
        top = max(float(values.max()), 1e-9)
        ax.imshow(values, cmap="Blues", vmin=0, vmax=top, aspect="equal")
        for i in range(k):
            for j in range(k):
                if crowded and counts[i, j] == 0:
                    continue
                ax.text(
                    j,
                    i,
                    text(i, j),
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="white" if values[i, j] > 0.55 * top else INK,
                )
        ax.set_xticks(
            range(k), names, rotation=45 if crowded else 30 if rotate else 0, ha="right" if rotate else "center"
        )
        ax.set_yticks(range(k), names)
        ax.spines[:].set_visible(False)
        ax.tick_params(length=0)
        label_axes(ax, title, "predicted", "true")
    return figure


def _curve_colors(labels: Sequence[Any]) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(len(labels))]


def roc_figure(predictions: Predictions) -> Figure:
    """ROC of the second label (binary) or one-vs-rest per class with their macro average (multi-class; beyond
    MAX_MATRIX_CLASSES classes the macro average alone, since a legend of hundreds of curves says nothing)."""
    figure, (ax,) = new_figure(HALF, 4.0)
    ax.plot([0, 1], [0, 1], color="#9aa5b1", linestyle=(0, (4, 3)), lw=1, label="chance")
    targets, probabilities, labels = predictions.targets, predictions.probabilities, predictions.labels
    classes = [1] if len(labels) == 2 else range(len(labels))
    grid, curves, areas = np.linspace(0, 1, 201), [], []
    for k in classes:
        positive = targets == k
        if positive.all() or not positive.any():
            continue  # ROC needs both positives and negatives
        fpr, tpr, _ = roc_curve(positive, probabilities[:, k])
        areas.append(auc(fpr, tpr))
        curves.append(np.interp(grid, fpr, tpr))
        if len(labels) > MAX_MATRIX_CLASSES:
            continue
        name = f"{short_name(labels[k])} vs rest" if len(labels) > 2 else f"positive: {short_name(labels[k])}"
        ax.plot(fpr, tpr, color=_curve_colors(labels)[k], lw=1.8, label=f"{name} (AUC {areas[-1]:.3f})")
    if len(labels) > 2 and len(curves) > 1:
        many = f" of {len(curves)} classes" if len(labels) > MAX_MATRIX_CLASSES else ""
        ax.plot(
            grid,
            np.mean(curves, axis=0),
            color=INK,
            lw=1.4,
            linestyle=(0, (1, 1.5)),
            label=f"macro average{many} (AUC {np.mean(areas):.3f})",
        )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    label_axes(
        ax, "ROC curve" if len(labels) == 2 else "ROC curves, one vs rest", "false positive rate", "true positive rate"
    )
    add_legend(ax, loc="lower right")
    return figure


def precision_recall_figure(predictions: Predictions) -> Figure:
    """Precision against recall for every class (one vs rest), with its average precision (AP)."""
    figure, (ax,) = new_figure(HALF, 4.0)
    targets, probabilities, labels = predictions.targets, predictions.probabilities, predictions.labels
    if len(labels) > MAX_MATRIX_CLASSES:  # one curve over every (text, class) decision: the micro average
        precision, recall, ap = micro_precision_recall(targets, probabilities)
        ax.step(
            recall,
            precision,
            where="post",
            color=PALETTE[0],
            lw=1.8,
            label=f"micro average of {len(labels)} classes (AP {ap:.3f})",
        )
    for k, label in enumerate(labels if len(labels) <= MAX_MATRIX_CLASSES else ()):
        positive = targets == k
        if not positive.any():
            continue
        precision, recall, _ = precision_recall_curve(positive, probabilities[:, k])
        ap = average_precision_score(positive, probabilities[:, k])
        ax.step(
            recall,
            precision,
            where="post",
            color=_curve_colors(labels)[k],
            lw=1.8,
            label=f"{short_name(label)} (AP {ap:.3f})",
        )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.03)
    label_axes(
        ax,
        "Precision-recall, " + ("micro average" if len(labels) > MAX_MATRIX_CLASSES else "per class"),
        "recall",
        "precision",
    )
    add_legend(ax, loc="lower left")
    return figure


def micro_precision_recall(
    targets: np.ndarray, probabilities: np.ndarray, thresholds: int = 1000
) -> tuple[np.ndarray, np.ndarray, float]:
    """Precision and recall of every (text, class) decision "probability >= t", for `thresholds` evenly spaced t
    from 1 down to 0, and the average precision they give: the micro-averaged curve of many classes, in memory
    and time linear in the probabilities (exact curves would sort all texts x classes scores)."""
    edges = np.linspace(0.0, 1.0, thresholds + 1)
    every, _ = np.histogram(probabilities, bins=edges)
    true, _ = np.histogram(probabilities[np.arange(len(targets)), targets], bins=edges)  # one true class per text
    tp, fp = np.cumsum(true[::-1]), np.cumsum((every - true)[::-1])
    decided = tp + fp > 0  # thresholds above every probability select nothing: precision is undefined there
    precision = tp[decided] / (tp + fp)[decided]
    recall = tp[decided] / max(len(targets), 1)
    ap = float(np.sum(np.diff(recall, prepend=0.0) * precision))
    return np.concatenate([[1.0], precision]), np.concatenate([[0.0], recall]), ap


def calibration_bins(predictions: Predictions, bins: int = BINS) -> dict[str, Any]:
    """Reliability of the predicted class's probability: `bins` equal bins over [1/K, 1] (the range that
    probability can take), each with its count, mean confidence and accuracy; plus the expected calibration
    error (ECE: the count-weighted mean |accuracy - confidence| gap, Guo et al. 2017)."""
    k = predictions.probabilities.shape[1]
    confidence = predictions.probabilities.max(axis=1)
    correct = predictions.probabilities.argmax(axis=1) == predictions.targets
    edges = np.linspace(1 / k, 1, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    safe = np.maximum(counts, 1)
    mean_confidence = np.bincount(index, weights=confidence, minlength=bins) / safe
    accuracy = np.bincount(index, weights=correct, minlength=bins) / safe
    ece = float(np.sum(counts * np.abs(accuracy - mean_confidence)) / max(len(confidence), 1))
    return {"edges": edges, "counts": counts, "confidence": mean_confidence, "accuracy": accuracy, "ece": ece}


def calibration_figure(predictions: Predictions) -> Figure:
    """Reliability diagram: each bin's accuracy at its mean confidence against the diagonal (the gaps in red, the
    point's area growing with the bin's texts), over a histogram of how many texts fall in each bin."""
    bins = calibration_bins(predictions)
    edges, counts = bins["edges"], bins["counts"]
    figure, (top, bottom) = new_figure(HALF, 4.0, 2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    used = counts > 0
    accuracy, confidence = bins["accuracy"][used], bins["confidence"][used]
    top.plot([edges[0], 1], [edges[0], 1], color=MUTED, linestyle=(0, (4, 3)), lw=1, label="perfect calibration")
    weight = np.sqrt(counts[used] / counts.max())  # a bin of few texts is noisy: draw it small and faint
    gap_colors = [to_rgba(ALERT, 0.25 + 0.65 * w) for w in weight]
    top.vlines(confidence, confidence, accuracy, colors=gap_colors, lw=2, label="gap")
    top.plot(confidence, accuracy, "-", color=PALETTE[0], lw=1.4, zorder=3)
    sizes = 10 + 60 * weight
    top.scatter(confidence, accuracy, s=sizes, color=PALETTE[0], zorder=4, label="accuracy per bin (size: texts)")
    top.set_ylim(min(edges[0], float(accuracy.min(initial=1.0))) - 0.03, 1.02)
    label_axes(top, f"Reliability (ECE {bins['ece']:.3f})", "", "accuracy")
    top.legend(
        fontsize=SMALL,
        loc="lower right",
        frameon=True,
        facecolor="white",
        edgecolor="none",
        framealpha=0.9,
        labelcolor=INK,
    )
    bottom.bar(edges[:-1], counts, width=edges[1] - edges[0], align="edge", color="#9aa5b1", edgecolor="white", lw=0.8)
    bottom.set_xlim(edges[0] - 0.01, 1.01)
    bottom.yaxis.set_major_locator(MaxNLocator(3, integer=True))
    label_axes(bottom, "", "probability of the predicted class", "texts")
    return figure


__all__ = [
    "calibration_bins",
    "calibration_figure",
    "confusion_figure",
    "micro_precision_recall",
    "precision_recall_figure",
    "roc_figure",
]
