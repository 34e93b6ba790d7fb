"""Plots of model selection: scores and validation curves per cross-validation fold, and a tuning study's
optimization history and hyperparameter importances.

    figure = fold_metrics_figure({"macro_f1": [0.81, 0.84, 0.80]})
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sentilstm.report.plots.style import (
    ALERT,
    INK,
    MUTED,
    PALETTE,
    SMALL,
    WIDE,
    add_legend,
    label_axes,
    new_figure,
    short_name,
)
from sentilstm.training.loop import History


def fold_metrics_figure(values: dict[str, list[float]]) -> Figure:
    """One dot per fold for every metric, with the mean and ±1 standard deviation beside the dots."""
    figure, (ax,) = new_figure(WIDE, 2.8)
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
    label_axes(ax, "Score per fold (dots), mean ± std (diamond)", "", "score")
    return figure


def fold_curves_figure(histories: dict[str, History]) -> Figure:
    """Every fold's validation loss and macro F1 per epoch, overlaid."""
    figure, (loss, f1) = new_figure(WIDE, 3.0, 1, 2)
    for i, (name, history) in enumerate(histories.items()):
        epochs, color = [e.epoch for e in history.epochs], PALETTE[i % len(PALETTE)]
        loss.plot(epochs, [e.train_loss for e in history.epochs], color=color, lw=1, alpha=0.5, linestyle=(0, (3, 2)))
        loss.plot(epochs, [e.val_loss for e in history.epochs], "o-", color=color, lw=1.5, ms=2.5, label=name)
        f1.plot(epochs, [e.val_macro_f1 for e in history.epochs], "o-", color=color, lw=1.5, ms=2.5, label=name)
    label_axes(loss, "Loss (validation solid, train dashed)", "epoch", "cross-entropy")
    label_axes(f1, "Validation macro F1", "epoch", "macro F1")
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
    figure, (ax,) = new_figure(WIDE, 3.0)
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
    label_axes(ax, "Optimization history", "trial", metric)
    add_legend(ax, loc="best")
    return figure


def importance_figure(importances: dict[str, float]) -> Figure:
    """Horizontal bars of each hyperparameter's importance (Optuna's fANOVA), largest on top."""
    names = list(importances)[::-1]
    figure, (ax,) = new_figure(WIDE, 0.9 + 0.32 * len(names))
    bars = ax.barh(range(len(names)), [importances[n] for n in names], color=PALETTE[0], height=0.6)
    ax.bar_label(bars, [f"{importances[n]:.2f}" for n in names], fontsize=SMALL, color=MUTED, padding=3)
    ax.set_yticks(range(len(names)), [short_name(n, 24) for n in names])
    ax.set_xlim(0, max([*importances.values(), 0.01]) * 1.15)
    ax.grid(False, axis="y")
    label_axes(ax, "Hyperparameter importance", "share of the objective's variance (fANOVA)", "")
    return figure


__all__ = ["fold_curves_figure", "fold_metrics_figure", "importance_figure", "optimization_history_figure"]
