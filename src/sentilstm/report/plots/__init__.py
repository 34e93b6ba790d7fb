"""The report's figures, drawn on `matplotlib.figure.Figure` directly: no pyplot, so no display, no global
figure registry, and safe to call from several threads at once.

    figure = confusion_figure(report.confusion_matrix, report.labels)   # every *_figure returns a Figure
    png = to_png(figure)                                                # same input -> same bytes

One module per family of plots: `training` (curves per epoch), `evaluation` (confusion, ROC, precision-recall,
calibration), `data` (class balance, text lengths) and `selection` (cross-validation folds, tuning studies), all
in the one restrained style of `style` (the Okabe-Ito colour-blind-safe palette, light grid, no top/right
spines, sizes chosen to be read at ~700 px for wide figures or ~480 px for the half-width ones).
"""

from __future__ import annotations

from sentilstm.report.plots.data import class_balance_figure, length_figure, percent
from sentilstm.report.plots.evaluation import (
    calibration_bins,
    calibration_figure,
    confusion_figure,
    micro_precision_recall,
    precision_recall_figure,
    roc_figure,
)
from sentilstm.report.plots.selection import (
    fold_curves_figure,
    fold_metrics_figure,
    importance_figure,
    optimization_history_figure,
)
from sentilstm.report.plots.style import DPI, HALF, WIDE, to_png
from sentilstm.report.plots.training import (
    gradient_norms_figure,
    learning_curves_figure,
    learning_rate_figure,
    perplexity_figure,
)

__all__ = [
    "DPI",
    "WIDE",
    "HALF",
    "to_png",
    "calibration_bins",
    "learning_curves_figure",
    "learning_rate_figure",
    "perplexity_figure",
    "gradient_norms_figure",
    "confusion_figure",
    "roc_figure",
    "precision_recall_figure",
    "micro_precision_recall",
    "calibration_figure",
    "class_balance_figure",
    "length_figure",
    "fold_metrics_figure",
    "fold_curves_figure",
    "optimization_history_figure",
    "importance_figure",
    "percent",
]
