"""Plots of the training data: the class balance of each split and the distribution of text lengths against
max_length (from the data profile, `sentilstm.report.profiling`).

    figure = length_figure(profile)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from sentilstm.estimators.evaluation import MAX_MATRIX_CLASSES
from sentilstm.report.plots.style import (
    ALERT,
    HALF,
    MUTED,
    PALETTE,
    SMALL,
    TRAIN,
    VALIDATION,
    add_legend,
    label_axes,
    new_figure,
    short_name,
)


def class_balance_figure(profile: dict[str, Any]) -> Figure:
    """Share of each class in the training and validation splits, with the counts on the bars (beyond
    MAX_MATRIX_CLASSES classes: each split's shares, largest first, as a curve)."""
    labels, train, validation = (
        profile["labels"],
        np.asarray(profile["train_counts"]),
        np.asarray(profile["validation_counts"]),
    )
    figure, (ax,) = new_figure(HALF, 3.2)
    if len(labels) > MAX_MATRIX_CLASSES:
        for counts, color, name in ((train, TRAIN, "train"), (validation, VALIDATION, "validation")):
            shares = np.sort(counts)[::-1] / max(counts.sum(), 1)
            ax.plot(np.arange(1, len(shares) + 1), shares, color=color, lw=1.6, label=f"{name} ({counts.sum():,})")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        label_axes(ax, f"Class balance ({len(labels):,} classes)", "classes, largest first", "share of the split")
        add_legend(ax, loc="upper right")
        return figure
    x, width = np.arange(len(labels)), 0.38
    for offset, counts, color, name in (
        (-width / 2, train, TRAIN, "train"),
        (width / 2, validation, VALIDATION, "validation"),
    ):
        shares = counts / max(counts.sum(), 1)
        bars = ax.bar(x + offset, shares, width, color=color, label=f"{name} ({counts.sum():,})")
        ax.bar_label(bars, [f"{c:,}" for c in counts], fontsize=SMALL - 1, color=MUTED, padding=2)
    ax.set_xticks(x, [short_name(label, 12) for label in labels])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    highest = max((train / max(train.sum(), 1)).max(), (validation / max(validation.sum(), 1)).max())
    ax.set_ylim(0, max(0.05, float(highest)) * 1.32)  # room for the counts and the legend above the bars
    ax.grid(False, axis="x")
    label_axes(ax, "Class balance", "label", "share of the split")
    add_legend(ax, loc="upper right", ncols=2)
    return figure


def length_figure(profile: dict[str, Any]) -> Figure:
    """Histogram of training-text lengths in tokens (before truncation) with the max_length cut; a long tail
    beyond 1.5 times the 99th percentile is cut off the axis and counted in a note instead."""
    edges, counts = np.asarray(profile["length_histogram"]["edges"]), np.asarray(profile["length_histogram"]["counts"])
    limit = profile["max_length"]
    figure, (ax,) = new_figure(HALF, 3.2)
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
    label_axes(ax, f"Tokens per training text ({percent(profile['truncated_fraction'])} truncated)", "tokens", "texts")
    return figure


def percent(value: float) -> str:
    """A share as a percentage that never rounds a non-zero share to 0.0%."""
    return "<0.1%" if 0 < value < 0.001 else f"{value:.1%}"


__all__ = ["class_balance_figure", "length_figure", "percent"]
