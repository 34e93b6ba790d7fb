"""How the reports write their numbers, parameter values and texts, in one place so every table agrees:
metrics to 4 decimals ("n/a" for a missing one), parameters to 6 significant digits, long texts clipped.

    format_number(0.91234567)      # '0.9123'
    format_value({"a": 1})         # '{"a": 1}'
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentilstm.training.loop import History

TEXT_CHARACTERS = 300  # a listed text is cut after this many characters


def report_path_for(model_path: str | Path) -> Path:
    """model.sentilstm -> model.report.html, beside the model."""
    return Path(model_path).with_suffix(".report.html")


def format_number(value: Any, digits: int = 4) -> str:
    """A metric with `digits` decimals; "n/a" for None or NaN (e.g. ROC-AUC with a class missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{float(value):.{digits}f}"


def format_mean_std(pair: Sequence[float] | None) -> str:
    return "n/a" if pair is None else f"{pair[0]:.4f} ± {pair[1]:.4f}"


def format_sci(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2e}"


def format_epochs(history: History | None) -> str:
    """ "best/run", e.g. "4/6"; empty for a model without epochs."""
    return "" if history is None or not history.epochs else f"{history.best_epoch}/{len(history.epochs)}"


def format_value(value: Any, digits: int = 6) -> str:
    """A parameter value as text: floats to `digits` significant digits, containers as JSON, None as None."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    if callable(value):
        return getattr(value, "__qualname__", type(value).__name__)
    return str(value.item() if hasattr(value, "item") else value)


def clip_text(text: str, limit: int = TEXT_CHARACTERS) -> str:
    """Whitespace collapsed, and cut to `limit` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def now_text() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def footer_text() -> str:
    from sentilstm._version import __version__

    return (
        f"Written by sentilstm {__version__} on {now_text()}. One file: every plot is embedded; the same PNGs "
        "are in the _plots folder beside it."
    )


__all__ = [
    "report_path_for",
    "clip_text",
    "footer_text",
    "format_epochs",
    "format_mean_std",
    "format_number",
    "format_sci",
    "format_value",
    "now_text",
]
