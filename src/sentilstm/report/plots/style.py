"""The report's one restrained look, shared by every plot: the Okabe-Ito colour-blind-safe palette, light grid,
no top/right spines, sizes chosen to be read at ~700 px (wide figures) or ~480 px (the half-width ones), and PNG
bytes that depend only on the figure.

    figure, (ax,) = new_figure(HALF, 3.2)
    label_axes(ax, "Title", "x label", "y label")
    png = to_png(figure)
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

DPI = 200  # PNG pixels per inch: twice the ~100 px/inch they are shown at, so they stay sharp on HiDPI screens
WIDE, HALF = 7.2, 4.8  # figure widths in inches: full width of the report, and one of two side by side
INK, MUTED, GRID = "#1f2933", "#52606d", "#e4e7eb"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7f7f7f", "#000000")
TRAIN, VALIDATION, ALERT = PALETTE[0], PALETTE[1], PALETTE[5]
SMALL, NORMAL, TITLE = 8.0, 9.0, 10.0  # font sizes (points)


def to_png(figure: Figure) -> bytes:
    """The figure as PNG bytes without the software/date metadata, so equal figures give equal bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def new_figure(
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


def label_axes(ax: Axes, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
    ax.set_title(title, fontsize=TITLE, color=INK, loc="left", pad=8)
    ax.set_xlabel(xlabel, fontsize=NORMAL, color=INK)
    ax.set_ylabel(ylabel, fontsize=NORMAL, color=INK)


def add_legend(ax: Axes, **kwargs: Any) -> None:
    ax.legend(fontsize=SMALL, frameon=False, labelcolor=INK, **kwargs)


def short_name(label: Any, width: int = 16) -> str:
    """A label as a short tick text (long label names would squeeze the plot)."""
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


__all__ = [
    "ALERT",
    "DPI",
    "HALF",
    "INK",
    "MUTED",
    "NORMAL",
    "PALETTE",
    "SMALL",
    "TRAIN",
    "VALIDATION",
    "WIDE",
    "add_legend",
    "label_axes",
    "new_figure",
    "short_name",
    "to_png",
]
