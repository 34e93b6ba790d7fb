"""The report's figures, drawn on `matplotlib.figure.Figure` directly: no pyplot, so no display, no global
figure registry, and safe to call from several threads at once.

    figure = confusion_figure(report.confusion_matrix, report.labels)   # every *_figure returns a Figure
    png = to_png(figure)                                                # same input -> same bytes

One restrained style for all of them: the Okabe-Ito colour-blind-safe palette, light grid, no top/right
spines, sizes chosen to be read at ~700 px (wide figures) or ~480 px (the half-width ones).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from sentilstm.estimators.evaluation import MAX_MATRIX_CLASSES, Predictions
from sentilstm.training.loop import GradientNorms, History

__all__ = [
    "DPI",
    "WIDE",
    "HALF",
    "to_png",
    "calibration_bins",
    "learning_curves_figure",
    "learning_rate_figure",
    "gradient_norms_figure",
    "confusion_figure",
    "roc_figure",
    "precision_recall_figure",
    "calibration_figure",
    "class_balance_figure",
    "length_figure",
    "fold_metrics_figure",
    "fold_curves_figure",
    "optimization_history_figure",
    "importance_figure",
    "percent",
]

DPI = 200  # PNG pixels per inch: twice the ~100 px/inch they are shown at, so they stay sharp on HiDPI screens
WIDE, HALF = 7.2, 4.8  # figure widths in inches: full width of the report, and one of two side by side
INK, MUTED, GRID = "#1f2933", "#52606d", "#e4e7eb"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7f7f7f", "#000000")
TRAIN, VALIDATION, ALERT = PALETTE[0], PALETTE[1], PALETTE[5]
SMALL, NORMAL, TITLE = 8.0, 9.0, 10.0  # font sizes (points)
BINS = 10  # reliability diagram bins


def to_png(figure: Figure) -> bytes:
    """The figure as PNG bytes without the software/date metadata, so equal figures give equal bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _figure(
    width: float, height: float, rows: int = 1, cols: int = 1, grid: bool = True, **kwargs: Any
) -> tuple[Figure, list[Axes]]:
    """A white figure of `rows` x `cols` axes in the report's style (light grid, no top/right spines)."""
    figure = Figure(figsize=(width, height), layout="constrained", facecolor="white")
    axes = list(figure.subplots(rows, cols, squeeze=False, **kwargs).flat)
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.spines[["left", "bottom"]].set_color("#9aa5b1")
        ax.tick_params(labelsize=SMALL, colors=MUTED, length=3)
        if grid:
            ax.grid(True, color=GRID, linewidth=0.8)
            ax.set_axisbelow(True)
    return figure, axes


def _label(ax: Axes, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
    ax.set_title(title, fontsize=TITLE, color=INK, loc="left", pad=8)
    ax.set_xlabel(xlabel, fontsize=NORMAL, color=INK)
    ax.set_ylabel(ylabel, fontsize=NORMAL, color=INK)


def _legend(ax: Axes, **kwargs: Any) -> None:
    ax.legend(fontsize=SMALL, frameon=False, labelcolor=INK, **kwargs)


def _name(label: Any, width: int = 16) -> str:
    """A label as a short tick text (long label names would squeeze the plot)."""
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def _mark_best(ax: Axes, epoch: int, epochs: Sequence[int]) -> None:
    """A dashed line at the kept epoch, labelled just above the plot, where no curve can hide the label."""
    if epoch:
        ax.axvline(epoch, color=MUTED, linestyle=(0, (4, 3)), linewidth=1)
        right = epoch > (min(epochs) + max(epochs)) / 2
        ax.annotate(
            f"best epoch {epoch}",
            (epoch, 1),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2),
            textcoords="offset points",
            fontsize=SMALL,
            color=MUTED,
            va="bottom",
            ha="right" if right else "left",
        )


# ----- training curves -----------------------------------------------------------------------------------
def learning_curves_figure(history: History) -> Figure:
    """Train/validation loss, and validation accuracy and F1, per epoch; the kept (best) epoch is marked."""
    epochs = [e.epoch for e in history.epochs]
    figure, (loss, metrics) = _figure(WIDE, 3.3, 1, 2)
    loss.plot(epochs, [e.train_loss for e in history.epochs], "o-", color=TRAIN, ms=3.5, lw=1.6, label="train")
    loss.plot(epochs, [e.val_loss for e in history.epochs], "o-", color=VALIDATION, ms=3.5, lw=1.6, label="validation")
    _label(loss, "Loss", "epoch", "cross-entropy")
    for name, key, color in (
        ("accuracy", "val_accuracy", PALETTE[2]),
        ("macro F1", "val_macro_f1", PALETTE[0]),
        ("weighted F1", "val_weighted_f1", PALETTE[3]),
    ):
        metrics.plot(epochs, [getattr(e, key) for e in history.epochs], "o-", color=color, ms=3.5, lw=1.6, label=name)
    _label(metrics, "Validation metrics", "epoch", "score")
    for ax in (loss, metrics):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _mark_best(ax, history.best_epoch, epochs)
        _legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3)  # below: curves can be anywhere
    return figure


def learning_rate_figure(history: History) -> Figure:
    """The learning rate at the end of every epoch (the schedule as it ran)."""
    figure, (ax,) = _figure(WIDE, 2.1)
    epochs, rates = [e.epoch for e in history.epochs], [e.learning_rate for e in history.epochs]
    ax.plot(epochs, rates, "o-", color=PALETTE[0], ms=3.5, lw=1.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.yaxis.get_offset_text().set_fontsize(SMALL)
    ax.set_ylim(bottom=0)
    _label(ax, "Learning rate at the end of each epoch", "epoch", "learning rate")
    return figure


def gradient_norms_figure(history: History) -> Figure:
    """Mean gradient L2 norm per layer and epoch on a log scale, with the vanishing and exploding zones."""
    layers = list(dict.fromkeys(layer for e in history.epochs for layer in e.gradient_norms))
    figure, (ax,) = _figure(WIDE, 3.2)
    epochs = [e.epoch for e in history.epochs]
    values = [v for e in history.epochs for v in e.gradient_norms.values() if v > 0]
    low = min([GradientNorms.VANISHING / 10, *(v / 3 for v in values)])
    high = max([GradientNorms.EXPLODING * 10, *(v * 3 for v in values)])
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    ax.axhspan(low, GradientNorms.VANISHING, color=PALETTE[4], alpha=0.12, lw=0)
    ax.axhspan(GradientNorms.EXPLODING, high, color=ALERT, alpha=0.10, lw=0)
    for y, text, va, offset in (
        (GradientNorms.VANISHING, "vanishing  < 1e-6", "top", -3),
        (GradientNorms.EXPLODING, "exploding  > 100", "bottom", 3),
    ):
        ax.axhline(y, color=MUTED, linestyle=(0, (4, 3)), linewidth=1)
        ax.annotate(
            text,
            (0, y),
            xycoords=("axes fraction", "data"),
            xytext=(4, offset),
            textcoords="offset points",
            fontsize=SMALL,
            color=MUTED,
            va=va,
        )
    for i, layer in enumerate(layers):
        norms = [e.gradient_norms.get(layer, np.nan) for e in history.epochs]
        ax.plot(epochs, norms, "o-", color=PALETTE[i % len(PALETTE)], ms=3.5, lw=1.6, label=_name(layer, 22))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _label(ax, "Gradient norm per layer (mean over the epoch, before clipping)", "epoch", "L2 norm")
    if layers:
        figure.legend(loc="outside right upper", fontsize=SMALL, frameon=False, labelcolor=INK)
    return figure


# ----- evaluation --------------------------------------------------------------------------------------
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
    figure, axes = _figure(WIDE, min(2.6 + 0.3 * max(k, 3), 5.2), 1, 2, grid=False)  # the axes are square: width-bound
    names = [_name(label, 12) for label in labels]
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
        _label(ax, title, "predicted", "true")
    return figure


def _curve_colors(labels: Sequence[Any]) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(len(labels))]


def roc_figure(predictions: Predictions) -> Figure:
    """ROC of the second label (binary) or one-vs-rest per class with their macro average (multi-class; beyond
    MAX_MATRIX_CLASSES classes the macro average alone, since a legend of hundreds of curves says nothing)."""
    figure, (ax,) = _figure(HALF, 4.0)
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
        name = f"{_name(labels[k])} vs rest" if len(labels) > 2 else f"positive: {_name(labels[k])}"
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
    _label(
        ax, "ROC curve" if len(labels) == 2 else "ROC curves, one vs rest", "false positive rate", "true positive rate"
    )
    _legend(ax, loc="lower right")
    return figure


def precision_recall_figure(predictions: Predictions) -> Figure:
    """Precision against recall for every class (one vs rest), with its average precision (AP)."""
    figure, (ax,) = _figure(HALF, 4.0)
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
            label=f"{_name(label)} (AP {ap:.3f})",
        )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.03)
    _label(
        ax,
        "Precision-recall, " + ("micro average" if len(labels) > MAX_MATRIX_CLASSES else "per class"),
        "recall",
        "precision",
    )
    _legend(ax, loc="lower left")
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
    figure, (top, bottom) = _figure(HALF, 4.0, 2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
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
    _label(top, f"Reliability (ECE {bins['ece']:.3f})", "", "accuracy")
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
    _label(bottom, "", "probability of the predicted class", "texts")
    return figure


# ----- data --------------------------------------------------------------------------------------------
def class_balance_figure(profile: dict[str, Any]) -> Figure:
    """Share of each class in the training and validation splits, with the counts on the bars (beyond
    MAX_MATRIX_CLASSES classes: each split's shares, largest first, as a curve)."""
    labels, train, validation = (
        profile["labels"],
        np.asarray(profile["train_counts"]),
        np.asarray(profile["validation_counts"]),
    )
    figure, (ax,) = _figure(HALF, 3.2)
    if len(labels) > MAX_MATRIX_CLASSES:
        for counts, color, name in ((train, TRAIN, "train"), (validation, VALIDATION, "validation")):
            shares = np.sort(counts)[::-1] / max(counts.sum(), 1)
            ax.plot(np.arange(1, len(shares) + 1), shares, color=color, lw=1.6, label=f"{name} ({counts.sum():,})")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        _label(ax, f"Class balance ({len(labels):,} classes)", "classes, largest first", "share of the split")
        _legend(ax, loc="upper right")
        return figure
    x, width = np.arange(len(labels)), 0.38
    for offset, counts, color, name in (
        (-width / 2, train, TRAIN, "train"),
        (width / 2, validation, VALIDATION, "validation"),
    ):
        shares = counts / max(counts.sum(), 1)
        bars = ax.bar(x + offset, shares, width, color=color, label=f"{name} ({counts.sum():,})")
        ax.bar_label(bars, [f"{c:,}" for c in counts], fontsize=SMALL - 1, color=MUTED, padding=2)
    ax.set_xticks(x, [_name(label, 12) for label in labels])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    highest = max((train / max(train.sum(), 1)).max(), (validation / max(validation.sum(), 1)).max())
    ax.set_ylim(0, max(0.05, float(highest)) * 1.32)  # room for the counts and the legend above the bars
    ax.grid(False, axis="x")
    _label(ax, "Class balance", "label", "share of the split")
    _legend(ax, loc="upper right", ncols=2)
    return figure


def length_figure(profile: dict[str, Any]) -> Figure:
    """Histogram of training-text lengths in tokens (before truncation) with the max_length cut; a long tail
    beyond 1.5 times the 99th percentile is cut off the axis and counted in a note instead."""
    edges, counts = np.asarray(profile["length_histogram"]["edges"]), np.asarray(profile["length_histogram"]["counts"])
    limit = profile["max_length"]
    figure, (ax,) = _figure(HALF, 3.2)
    ax.bar(
        edges[:-1], counts, width=np.diff(edges), align="edge", color=PALETTE[0], alpha=0.8, edgecolor="white", lw=0.5
    )
    right = max(limit, profile["length_percentiles"].get("p99", edges[-1]) * 1.5, 10) * 1.08
    if edges[-1] > right:
        ax.set_xlim(0, right)
        hidden = int(counts[edges[:-1] >= right].sum())
        if hidden:
            ax.annotate(
                f"{hidden:,} longer, up to {edges[-1]:.0f} →",
                (1, 0.5),
                xycoords="axes fraction",
                ha="right",
                fontsize=SMALL,
                color=MUTED,
            )
    else:
        ax.set_xlim(0, max(float(edges[-1]), limit) * 1.04)
    ax.axvline(limit, color=ALERT, lw=1.6)
    left = limit < sum(ax.get_xlim()) / 2  # label on the roomier side of the line
    ax.annotate(
        f"max_length {limit}",
        (limit, 1),
        xycoords=("data", "axes fraction"),
        xytext=(4 if left else -4, -2),
        textcoords="offset points",
        ha="left" if left else "right",
        va="top",
        fontsize=SMALL,
        color=ALERT,
    )
    ax.grid(False, axis="x")
    _label(ax, f"Tokens per training text ({percent(profile['truncated_fraction'])} truncated)", "tokens", "texts")
    return figure


def percent(value: float) -> str:
    """A share as a percentage that never rounds a non-zero share to 0.0%."""
    return "<0.1%" if 0 < value < 0.001 else f"{value:.1%}"


# ----- cross-validation and tuning -----------------------------------------------------------------------
def fold_metrics_figure(values: dict[str, list[float]]) -> Figure:
    """One dot per fold for every metric, with the mean and ±1 standard deviation beside the dots."""
    figure, (ax,) = _figure(WIDE, 2.8)
    for i, raw in enumerate(values.values()):
        scores = np.asarray([s for s in raw if s is not None and np.isfinite(s)], dtype=float)
        if not len(scores):
            continue
        spread = np.linspace(-0.12, 0.12, len(scores)) if len(scores) > 1 else np.zeros(1)
        ax.scatter(i - 0.08 + spread, scores, s=22, color=PALETTE[i % len(PALETTE)], alpha=0.85, zorder=3, lw=0)
        ax.errorbar(i + 0.2, scores.mean(), yerr=scores.std(), fmt="D", color=INK, ms=4.5, capsize=4, lw=1.2, zorder=4)
        ax.annotate(
            f"{scores.mean():.3f}",
            (i + 0.2, scores.mean()),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize=SMALL,
            color=INK,
        )
    ax.set_xticks(range(len(values)), list(values))
    ax.set_xlim(-0.5, len(values) - 0.3)
    ax.grid(False, axis="x")
    _label(ax, "Score per fold (dots), mean ± std (diamond)", "", "score")
    return figure


def fold_curves_figure(histories: dict[str, History]) -> Figure:
    """Every fold's validation loss and macro F1 per epoch, overlaid."""
    figure, (loss, f1) = _figure(WIDE, 3.0, 1, 2)
    for i, (name, history) in enumerate(histories.items()):
        epochs, color = [e.epoch for e in history.epochs], PALETTE[i % len(PALETTE)]
        loss.plot(epochs, [e.train_loss for e in history.epochs], color=color, lw=1, alpha=0.5, linestyle=(0, (3, 2)))
        loss.plot(epochs, [e.val_loss for e in history.epochs], "o-", color=color, lw=1.5, ms=2.5, label=name)
        f1.plot(epochs, [e.val_macro_f1 for e in history.epochs], "o-", color=color, lw=1.5, ms=2.5, label=name)
    _label(loss, "Loss (validation solid, train dashed)", "epoch", "cross-entropy")
    _label(f1, "Validation macro F1", "epoch", "macro F1")
    for ax in (loss, f1):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(histories) <= 12:
        figure.legend(
            *f1.get_legend_handles_labels(), loc="outside right upper", fontsize=SMALL, frameon=False, labelcolor=INK
        )
    return figure


def optimization_history_figure(
    numbers: Sequence[int], values: Sequence[float], states: Sequence[str], metric: str, maximize: bool
) -> Figure:
    """Every trial's value (pruned ones marked apart, at their last reported value) and the best so far."""
    figure, (ax,) = _figure(WIDE, 3.0)
    trials, scores = np.asarray(numbers), np.asarray(values, dtype=float)
    complete = np.asarray([s == "COMPLETE" for s in states]) & np.isfinite(scores)
    pruned = np.asarray([s == "PRUNED" for s in states]) & np.isfinite(scores)
    ax.scatter(trials[complete], scores[complete], s=22, color=PALETTE[0], zorder=3, label="complete")
    if pruned.any():
        ax.scatter(
            trials[pruned], scores[pruned], s=22, marker="x", color="#9aa5b1", zorder=3, label="pruned (last report)"
        )
    if complete.any():
        order = np.argsort(trials[complete], kind="stable")
        done = scores[complete][order]
        best = np.maximum.accumulate(done) if maximize else np.minimum.accumulate(done)
        ax.step(trials[complete][order], best, where="post", color=ALERT, lw=1.6, label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _label(ax, "Optimization history", "trial", metric)
    _legend(ax, loc="best")
    return figure


def importance_figure(importances: dict[str, float]) -> Figure:
    """Horizontal bars of each hyperparameter's importance (Optuna's fANOVA), largest on top."""
    names = list(importances)[::-1]
    figure, (ax,) = _figure(WIDE, 0.9 + 0.32 * len(names))
    bars = ax.barh(range(len(names)), [importances[n] for n in names], color=PALETTE[0], height=0.6)
    ax.bar_label(bars, [f"{importances[n]:.2f}" for n in names], fontsize=SMALL, color=MUTED, padding=3)
    ax.set_yticks(range(len(names)), [_name(n, 24) for n in names])
    ax.set_xlim(0, max([*importances.values(), 0.01]) * 1.15)
    ax.grid(False, axis="y")
    _label(ax, "Hyperparameter importance", "share of the objective's variance (fANOVA)", "")
    return figure
