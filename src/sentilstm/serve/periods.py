"""Time periods that the feedback trends and the web page's charts group by, defined once: a period's start is
the minute, the hour, midnight, the Monday of its week or the 1st of its month (naive UTC throughout)."""

from __future__ import annotations

import numpy as np
import pandas as pd

PERIODS = ("minute", "hour", "day", "week", "month")  # finest first


def period_starts(stamps: pd.DatetimeIndex, period: str) -> pd.DatetimeIndex:
    """Each stamp's period start."""
    if period == "minute":
        return stamps.floor("min")
    if period == "hour":
        return stamps.floor("h")
    days = stamps.floor("D")
    if period == "day":
        return days
    back = days.day_of_week if period == "week" else days.day - 1
    return days - pd.to_timedelta(np.asarray(back), unit="D")


__all__ = ["PERIODS", "period_starts"]
