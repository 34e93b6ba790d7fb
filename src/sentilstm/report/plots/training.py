"""Training curves: loss and validation metrics per epoch, the learning rate as it ran, and per-layer gradient
norms against the vanishing and exploding zones.

    figure = learning_curves_figure(clf.history_)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sentilstm.report.plots.style import (
    ALERT,
    INK,
    MUTED,
    PALETTE,
    SMALL,
    TRAIN,
    VALIDATION,
    WIDE,
    add_legend,
    label_axes,
    new_figure,
    short_name,
)
from sentilstm.training.loop import GradientNorms, History


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


def learning_curves_figure(history: History) -> Figure:
    """Train/validation loss, and validation accuracy and F1, per epoch; the kept (best) epoch is marked."""
    epochs = [e.epoch for e in history.epochs]
    figure, (loss, metrics) = new_figure(WIDE, 3.3, 1, 2)
    loss.plot(epochs, [e.train_loss for e in history.epochs], "o-", color=TRAIN, ms=3.5, lw=1.6, label="train")
    loss.plot(epochs, [e.val_loss for e in history.epochs], "o-", color=VALIDATION, ms=3.5, lw=1.6, label="validation")
    label_axes(loss, "Loss", "epoch", "cross-entropy")
    for name, key, color in (
        ("accuracy", "val_accuracy", PALETTE[2]),
        ("macro F1", "val_macro_f1", PALETTE[0]),
        ("weighted F1", "val_weighted_f1", PALETTE[3]),
    ):
        metrics.plot(epochs, [getattr(e, key) for e in history.epochs], "o-", color=color, ms=3.5, lw=1.6, label=name)
    label_axes(metrics, "Validation metrics", "epoch", "score")
    for ax in (loss, metrics):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _mark_best(ax, history.best_epoch, epochs)
        add_legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3)  # below: curves can be anywhere
    return figure


def learning_rate_figure(history: History) -> Figure:
    """The learning rate at the end of every epoch (the schedule as it ran)."""
    figure, (ax,) = new_figure(WIDE, 2.1)
    epochs, rates = [e.epoch for e in history.epochs], [e.learning_rate for e in history.epochs]
    ax.plot(epochs, rates, "o-", color=PALETTE[0], ms=3.5, lw=1.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.yaxis.get_offset_text().set_fontsize(SMALL)
    ax.set_ylim(bottom=0)
    label_axes(ax, "Learning rate at the end of each epoch", "epoch", "learning rate")
    return figure


def perplexity_figure(pretraining: dict) -> Figure:
    """Language-model pretraining: perplexity on the corpus and on the validation split per epoch (log scale).

    `pretraining` is `metrics_["pretraining"]` (`PretrainingRecord.to_dict()`)."""
    epochs = pretraining["epochs"]
    figure, (ax,) = new_figure(WIDE, 2.6)
    numbers = [e["epoch"] for e in epochs]
    ax.plot(numbers, [e["train_perplexity"] for e in epochs], "o-", color=TRAIN, ms=3.5, lw=1.6, label="corpus")
    if any(e["validation_perplexity"] is not None for e in epochs):
        values = [e["validation_perplexity"] for e in epochs]
        ax.plot(numbers, values, "o-", color=VALIDATION, ms=3.5, lw=1.6, label="validation")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    label_axes(ax, "Language-model perplexity per epoch", "epoch", "perplexity")
    add_legend(ax, loc="upper right")
    return figure


def gradient_norms_figure(history: History) -> Figure:
    """Mean gradient L2 norm per layer and epoch on a log scale, with the vanishing and exploding zones."""
    layers = list(dict.fromkeys(layer for e in history.epochs for layer in e.gradient_norms))
    figure, (ax,) = new_figure(WIDE, 3.2)
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
        ax.plot(epochs, norms, "o-", color=PALETTE[i % len(PALETTE)], ms=3.5, lw=1.6, label=short_name(layer, 22))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    label_axes(ax, "Gradient norm per layer (mean over the epoch, before clipping)", "epoch", "L2 norm")
    if layers:
        figure.legend(loc="outside right upper", fontsize=SMALL, frameon=False, labelcolor=INK)
    return figure


__all__ = ["gradient_norms_figure", "learning_curves_figure", "learning_rate_figure"]
