"""Timestamps in an uploaded table and the label series over time that the web page charts: which column holds
the times, reading them whatever their format, and label counts and shares per hour, day, week or month,
accumulated chunk by chunk in bounded memory.

    series = LabelSeries(num_classes=2)
    series.add(parse_timestamps(frame["created_at"]), label_ids, probabilities)   # once per scored chunk
    series.to_dict("auto", labels)   # {"interval": "day", "points": [{"period", "count", "shares", ...}], ...}
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd

from sentilstm.serve.periods import period_starts

log = logging.getLogger(__name__)

MAX_BUCKETS = 100_000  # time buckets held while scoring; past it, hours become days (then months)
MAX_POINTS = 400  # periods in a chart (about 1.5 pixels each on a laptop); past it, the interval is coarsened
Interval = Literal["auto", "hour", "day", "week", "month"]
PERIODS = ("hour", "day", "week", "month")  # a chart's periods, finest first (see periods.py)
TIMESTAMP_NAMES = ("timestamp", "time", "date", "datetime", "created_at", "created", "published", "posted", "ts")


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Naive datetimes (zoned values converted to UTC); NaT where a value is missing or not a date.

    Numbers are years, yyyymmdd dates, or Unix times in seconds (milliseconds when that large); strings may be in
    any format pandas or dateutil reads, mixed formats included.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": expected, the fallback below handles it
        try:
            if pd.api.types.is_datetime64_any_dtype(values):
                stamps = pd.to_datetime(values, utc=True)
            else:
                text = values.astype("string").str.strip()
                numbers = pd.to_numeric(text, errors="coerce")
                present = text.notna() & (text != "")
                if present.any() and numbers[present].notna().all():
                    return _numeric_timestamps(numbers)
                stamps = pd.to_datetime(text, errors="coerce", utc=True)
                retry = present & stamps.isna()
                if retry.any():
                    stamps[retry] = pd.to_datetime(text[retry], errors="coerce", utc=True, format="mixed")
            return stamps.dt.tz_localize(None)
        except (ValueError, TypeError, OverflowError) as exc:
            log.warning("timestamps could not be read (%s); the chunk counts as unparsable", exc)
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")


def _numeric_timestamps(numbers: pd.Series) -> pd.Series:
    """Years (2024), dates written as numbers (20240501), or Unix times in seconds or milliseconds."""
    known = numbers.dropna()
    whole = bool((known == known.round()).all())
    if whole and known.between(1000, 2200).all():
        text, fmt = numbers.astype("Int64").astype("string"), "%Y"
    elif whole and known.between(1000_01_01, 2200_12_31).all():
        text, fmt = numbers.astype("Int64").astype("string"), "%Y%m%d"
    else:
        unit = "ms" if known.abs().median() > 1e11 else "s"
        return pd.Series(pd.to_datetime(numbers, unit=unit, errors="coerce"), index=numbers.index)
    return pd.Series(pd.to_datetime(text, format=fmt, errors="coerce"), index=numbers.index)


def auto_period(span: pd.Timedelta) -> str:
    """The period that gives a readable chart for data spanning `span`: about 10 to 120 points."""
    if span <= pd.Timedelta(days=3):
        return "hour"
    if span <= pd.Timedelta(days=90):
        return "day"
    return "week" if span <= pd.Timedelta(days=3 * 365) else "month"


class LabelSeries:
    """Predicted-label counts and probability sums per time bucket, accumulated chunk by chunk.

    Buckets start as hours; past `MAX_BUCKETS` (centuries of hourly data) they merge into days, then months,
    so memory stays bounded whatever the file holds.
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.base = "hour"
        self.buckets: dict[pd.Timestamp, np.ndarray] = {}  # period start -> (counts per class, probability sums)

    def add(self, stamps: pd.Series, label_ids: np.ndarray, probabilities: np.ndarray) -> None:
        known = stamps.notna().to_numpy()
        if not known.any():
            return
        keys = period_starts(pd.DatetimeIndex(stamps[known]), self.base)
        values = np.hstack([np.eye(self.num_classes)[label_ids[known]], probabilities[known]])  # (n, 2K)
        self._merge(pd.DataFrame(values, index=keys).groupby(level=0).sum())
        while len(self.buckets) > MAX_BUCKETS and self.base != "month":
            self.base = "day" if self.base == "hour" else "month"
            self.buckets, old = {}, self._frame(self.base)
            self._merge(old)

    def _merge(self, grouped: pd.DataFrame) -> None:
        for key, row in zip(grouped.index, grouped.to_numpy()):
            if key in self.buckets:
                self.buckets[key] += row
            else:
                self.buckets[key] = row.copy()

    def _frame(self, period: str) -> pd.DataFrame:
        keys = pd.DatetimeIndex(list(self.buckets))
        frame = pd.DataFrame(np.vstack(list(self.buckets.values())), index=keys)
        return frame.groupby(period_starts(keys, period)).sum().sort_index()

    def to_dict(self, interval: Interval, labels: list[Any]) -> dict[str, Any] | None:
        """{"interval", "start", "end", "notes", "points": [{"period", "count", "counts", "shares",
        "mean_probabilities"}]}; None when no row had a readable timestamp."""
        if not self.buckets:
            return None
        notes: list[str] = []
        start, end = min(self.buckets), max(self.buckets)
        period = auto_period(end - start) if interval == "auto" else interval
        if PERIODS.index(period) < PERIODS.index(self.base) or (period == "week" and self.base == "month"):
            notes.append(f"the timestamps span too long for {period}s; shown by {self.base}")
            period = self.base
        frame = self._frame(period)
        while len(frame) > MAX_POINTS and period != "month":
            coarser = "month" if period == "week" and self.base == "month" else PERIODS[PERIODS.index(period) + 1]
            notes.append(f"{len(frame)} {period}s are too many points for a chart; shown by {coarser}")
            period, frame = coarser, self._frame(coarser)
        names, k = [str(label) for label in labels], self.num_classes
        points = []
        for key, row in zip(frame.index, frame.to_numpy()):
            count = float(row[:k].sum())
            points.append(
                {
                    "period": key.isoformat(),
                    "count": int(round(count)),
                    "counts": {n: int(round(c)) for n, c in zip(names, row[:k])},
                    "shares": {n: round(float(c / count), 4) for n, c in zip(names, row[:k])},
                    "mean_probabilities": {n: round(float(p / count), 4) for n, p in zip(names, row[k:])},
                }
            )
        return {
            "interval": period,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "notes": notes,
            "points": points,
        }


def guess_timestamp_column(frame: pd.DataFrame, text_column: str | None) -> str | None:
    """A column named like a time, else one whose sampled values are nearly all dates; None when none is."""
    columns = [str(c) for c in frame.columns if str(c) != text_column]
    for column in columns:
        if column.lower() in TIMESTAMP_NAMES or column.lower().endswith(("_at", "_date", "_time")):
            return column
    for column in columns:
        values = frame[column].dropna().head(200)
        if len(values) and pd.to_numeric(values.astype("string"), errors="coerce").isna().all():
            if parse_timestamps(values).notna().mean() >= 0.9:
                return column
    return None


__all__ = [
    "Interval",
    "LabelSeries",
    "auto_period",
    "guess_timestamp_column",
    "parse_timestamps",
]
