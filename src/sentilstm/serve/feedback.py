"""The feedback monitor's database: every scored text with its source, time, label and probabilities.

    store = FeedbackStore("sqlite:///feedback.db")            # or postgresql://user:pw@host/db
    store.add([FeedbackEntry("too slow", "web", now, "-1", {"-1": 0.9, "1": 0.1}, "model.sentilstm")])
    store.trends(interval="hour", source="web").to_dict()

Any SQLAlchemy URL works; SQLite and PostgreSQL aggregate trends in SQL (date buckets, counts and probability
sums grouped by period and label), other databases in Python over a streamed query. Times are stored as naive
UTC. SQLite runs in WAL mode with synchronous=FULL: a request that got its answer is on disk, and readers never
block the writer. Tables are created when missing, so the same URL serves again after a restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sentilstm.data.databases import with_installed_driver
from sentilstm.errors import ConfigError
from sentilstm.serve.periods import period_starts

log = logging.getLogger(__name__)
Interval = Literal["minute", "hour", "day"]
INTERVALS: tuple[str, ...] = ("minute", "hour", "day")
SQLITE_FORMATS = {"minute": "%Y-%m-%d %H:%M:00", "hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}
MAX_SOURCE = 100  # characters of a source name

metadata = sa.MetaData()
feedback_table = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("source", sa.String(MAX_SOURCE), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),  # naive UTC
    sa.Column("label", sa.Text, nullable=False),  # str(label): "-1", "positive"
    sa.Column("probabilities", sa.JSON, nullable=False),  # {"-1": 0.93, "1": 0.07}
    sa.Column("model", sa.String(255), nullable=False),
    sa.Index("ix_feedback_created_at", "created_at"),
    sa.Index("ix_feedback_source_created_at", "source", "created_at"),
)


@dataclasses.dataclass
class FeedbackEntry:
    """One stored text; `id` is None until the database gives it one."""

    text: str
    source: str
    created_at: dt.datetime  # naive UTC
    label: str
    probabilities: dict[str, float]
    model: str
    id: int | None = None

    @property
    def timestamp(self) -> str:
        return self.created_at.replace(tzinfo=dt.timezone.utc).isoformat()


@dataclasses.dataclass
class TrendPoint:
    period: dt.datetime  # start of the period, naive UTC
    count: int
    counts: dict[str, int]
    probability_sums: dict[str, float]
    probability_counts: dict[str, int]  # rows that had the label's probability (a model with other labels had not)

    def to_dict(self, labels: Sequence[str]) -> dict[str, Any]:
        return {
            "period": self.period.replace(tzinfo=dt.timezone.utc).isoformat(),
            "count": self.count,
            "counts": {label: self.counts.get(label, 0) for label in labels},
            "shares": {label: self.counts.get(label, 0) / self.count for label in labels},
            "mean_probabilities": {
                label: self.probability_sums[label] / self.probability_counts[label]
                for label in labels
                if self.probability_counts.get(label)
            },
        }


@dataclasses.dataclass
class Trends:
    """Feedback per period: counts and shares of each predicted label, mean probability of each label."""

    interval: Interval
    source: str | None
    since: dt.datetime | None
    until: dt.datetime | None
    labels: list[str]  # string forms; the current model's labels first, then any others found
    points: list[TrendPoint]

    def to_dict(self) -> dict[str, Any]:
        def iso(value: dt.datetime | None) -> str | None:
            return None if value is None else value.replace(tzinfo=dt.timezone.utc).isoformat()

        return {
            "interval": self.interval,
            "source": self.source,
            "since": iso(self.since),
            "until": iso(self.until),
            "labels": list(self.labels),
            "points": [p.to_dict(self.labels) for p in self.points],
        }


class FeedbackStore:
    """Feedback rows in any SQLAlchemy database; thread-safe (a connection pool), one instance per process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        try:
            self.engine: Engine = sa.create_engine(with_installed_driver(url), echo=echo, pool_pre_ping=True)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError, ValueError) as exc:
            raise ConfigError(
                f"feedback database URL {_safe(url)!r} cannot be used ({type(exc).__name__}: {exc}); give a "
                "SQLAlchemy URL such as sqlite:///feedback.db or postgresql://user:password@host/db"
            ) from None
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._create_tables()

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for logs and messages."""
        return _safe(self.url)

    def _create_tables(self) -> None:
        """Create the table when missing; two workers starting at once may race, so a loser retries once."""
        for attempt in (1, 2):
            try:
                metadata.create_all(self.engine, checkfirst=True)
                return
            except sa.exc.DBAPIError as exc:
                raced = isinstance(exc, sa.exc.IntegrityError) or "already exists" in str(exc)
                if attempt == 1 and raced:
                    continue
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
                raise ConfigError(
                    f"feedback database {self.safe_url!r} cannot be opened: {reason}; check it, or give "
                    "another SQLAlchemy URL (--feedback-db)"
                ) from None

    def close(self) -> None:
        self.engine.dispose()

    # ----- writing and reading rows -------------------------------------------------------------------------
    def add(self, entries: Sequence[FeedbackEntry]) -> list[FeedbackEntry]:
        """Store `entries` in one transaction; returns them with their ids set, in the same order."""
        if not entries:
            return []
        rows = [
            {
                "text": e.text,
                "source": e.source,
                "created_at": e.created_at,
                "label": e.label,
                "probabilities": e.probabilities,
                "model": e.model,
            }
            for e in entries
        ]
        statement = sa.insert(feedback_table).returning(feedback_table.c.id, sort_by_parameter_order=True)
        with self.engine.begin() as connection:
            ids = connection.execute(statement, rows).scalars().all()
        return [dataclasses.replace(entry, id=int(i)) for entry, i in zip(entries, ids)]

    def recent(self, *, source: str | None = None, limit: int = 50, after_id: int | None = None) -> list[FeedbackEntry]:
        """The newest `limit` rows (newer than `after_id` if given), newest first."""
        table = feedback_table
        query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if source is not None:
            query = query.where(table.c.source == source)
        if after_id is not None:
            query = query.where(table.c.id > after_id)
        with self.engine.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def count(self, *, source: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(feedback_table)
        if source is not None:
            query = query.where(feedback_table.c.source == source)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    # ----- trends ------------------------------------------------------------------------------------------
    def trends(
        self,
        *,
        interval: Interval = "day",
        source: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        labels: Sequence[str] = (),
        in_sql: bool | None = None,
    ) -> Trends:
        """Counts, shares and mean probabilities per label and period (`since` <= time < `until`, naive UTC).

        `labels` (string forms) come first in the result, in that order, and get mean probabilities in SQL;
        labels stored by another model follow. `in_sql=False` aggregates in Python (the path for databases
        other than SQLite and PostgreSQL); None picks SQL where it can.
        """
        if interval not in INTERVALS:
            raise ConfigError(f"interval must be one of {list(INTERVALS)}, got {interval!r}")
        table = feedback_table
        conditions = []
        if source is not None:
            conditions.append(table.c.source == source)
        if since is not None:
            conditions.append(table.c.created_at >= since)
        if until is not None:
            conditions.append(table.c.created_at < until)
        sql_ok = self.dialect in ("sqlite", "postgresql") and all('"' not in k and "\\" not in k for k in labels)
        if in_sql is None:
            in_sql = sql_ok
        groups = (
            self._groups_in_sql(interval, conditions, labels)
            if in_sql
            else self._groups_in_python(interval, conditions, labels)
        )
        points: dict[dt.datetime, TrendPoint] = {}
        found: list[str] = []
        for period, label, count, sums, counts in groups:
            point = points.get(period)
            if point is None:
                point = points[period] = TrendPoint(period, 0, {}, defaultdict(float), defaultdict(int))
            point.count += count
            point.counts[label] = point.counts.get(label, 0) + count
            for key in sums:
                point.probability_sums[key] += sums[key]
                point.probability_counts[key] += counts[key]
            if label not in labels and label not in found:
                found.append(label)
        ordered = [points[p] for p in sorted(points)]
        return Trends(interval, source, since, until, [*labels, *sorted(found)], ordered)

    def _bucket(self, interval: str) -> Any:
        column = feedback_table.c.created_at
        if self.dialect == "postgresql":
            return sa.func.date_trunc(interval, column)
        return sa.func.strftime(SQLITE_FORMATS[interval], column)

    def _groups_in_sql(self, interval: str, conditions: list[Any], labels: Sequence[str]) -> list[tuple]:
        """(period, label, count, {label: probability sum}, {label: rows with it}) per period and predicted label."""
        table = feedback_table
        bucket = self._bucket(interval).label("period")
        values = [table.c.probabilities[key].as_float() for key in labels]
        columns = [bucket, table.c.label, sa.func.count().label("n")]
        for i, value in enumerate(values):
            columns += [sa.func.sum(value).label(f"s{i}"), sa.func.count(value).label(f"c{i}")]
        query = sa.select(*columns).where(*conditions).group_by(bucket, table.c.label)
        groups = []
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                period = row.period if isinstance(row.period, dt.datetime) else dt.datetime.fromisoformat(row.period)
                sums = {key: float(row[3 + 2 * i] or 0.0) for i, key in enumerate(labels)}
                counts = {key: int(row[4 + 2 * i]) for i, key in enumerate(labels)}
                groups.append((period.replace(tzinfo=None), row.label, int(row.n), sums, counts))
        return groups

    def _groups_in_python(self, interval: str, conditions: list[Any], labels: Sequence[str]) -> list[tuple]:
        """The same groups as `_groups_in_sql`, from a streamed query (memory: one row per period and label)."""
        table = feedback_table
        query = sa.select(table.c.created_at, table.c.label, table.c.probabilities).where(*conditions)
        groups: dict[tuple[dt.datetime, str], list[Any]] = {}
        with self.engine.connect() as connection:
            for rows in connection.execution_options(yield_per=1000).execute(query).partitions():
                starts = period_starts(pd.DatetimeIndex([row.created_at for row in rows]), interval).to_pydatetime()
                for start, (_, label, probabilities) in zip(starts, rows):
                    group = groups.get((start, label))
                    if group is None:
                        group = groups[(start, label)] = [0, defaultdict(float), defaultdict(int)]
                    group[0] += 1
                    for name in labels:
                        value = probabilities.get(name) if isinstance(probabilities, dict) else None
                        if isinstance(value, (int, float)):
                            group[1][name] += float(value)
                            group[2][name] += 1
        return [
            (period, label, n, {k: sums[k] for k in labels}, {k: counts[k] for k in labels})
            for (period, label), (n, sums, counts) in groups.items()
        ]


def _entry(row: Any) -> FeedbackEntry:
    return FeedbackEntry(row.text, row.source, row.created_at, row.label, dict(row.probabilities), row.model, row.id)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL: readers and the writer do not block each other; FULL: a committed row survives a crash or power cut."""
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")  # two workers writing at once wait for each other
    finally:
        cursor.close()


def _safe(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given (it cannot hold a parsed password)
        return url


__all__ = ["FeedbackEntry", "FeedbackStore", "INTERVALS", "Interval", "TrendPoint", "Trends", "feedback_table"]
