"""The feedback store (`sentilstm.serve.feedback`) on SQLite and, when a server can be started here, PostgreSQL.

Every store test runs on both databases: rows come back with ids in insertion order, nothing is lost when the
store is closed and opened again, and trends aggregate known timestamps into the right hours and days, the
same in SQL as in the Python fallback. PostgreSQL is a throwaway cluster (initdb + pg_ctl) on a free loopback
port, run as the `postgres` user when the tests run as root (the `postgres_url` fixture in conftest.py); without the
binaries, or if it cannot start, those tests are skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sentilstm.errors import ConfigError
from sentilstm.serve import FeedbackEntry, FeedbackStore, create_app
from sentilstm.serve.feedback import metadata

T0 = dt.datetime(2026, 3, 1, 9, 15)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty feedback database: a SQLite file, or the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'feedback.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    cleanup = FeedbackStore(url)
    metadata.drop_all(cleanup.engine)  # the next test starts empty
    cleanup.close()


@pytest.fixture
def store(database_url: str) -> Iterator[FeedbackStore]:
    feedback = FeedbackStore(database_url)
    yield feedback
    feedback.close()


def entry(minutes: float, label: str, p: float, source: str = "web", text: str = "a text") -> FeedbackEntry:
    """A row `minutes` after T0 with label `label` and probability `p` of "1" (so 1 - p of "-1")."""
    return FeedbackEntry(text, source, T0 + dt.timedelta(minutes=minutes), label, {"-1": 1 - p, "1": p}, "m.sentilstm")


ROWS = [  # 09:15, 09:45 | 10:10 | next day 08:00 (other source) | 09:30 from another model with other labels
    entry(0, "1", 0.9),
    entry(30, "-1", 0.2),
    entry(55, "1", 0.7),
    entry(24 * 60 - 75, "-1", 0.4, source="app"),
    FeedbackEntry("x", "web", T0 + dt.timedelta(minutes=15), "neutral", {"neutral": 1.0}, "other.sentilstm"),
]


def test_rows_come_back_in_order_and_survive_reopening(store: FeedbackStore, database_url: str) -> None:
    text = "caf\u00e9 \U0001f600 " + "long " * 2000
    stored = store.add([*ROWS[:2], entry(1, "1", 0.5, text=text)])
    ids = [s.id for s in stored]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert store.add([]) == []
    store.close()
    reopened = FeedbackStore(database_url)  # a restart: same URL, tables already there
    try:
        recent = reopened.recent(limit=10)
        assert [r.id for r in recent] == ids[::-1]
        assert recent[0].text == text and recent[0].probabilities == {"-1": 0.5, "1": 0.5}
        assert recent[-1].created_at == T0 and recent[-1].timestamp == "2026-03-01T09:15:00+00:00"
        assert [r.id for r in reopened.recent(after_id=ids[0])] == ids[:0:-1]
        assert [r.id for r in reopened.recent(limit=1)] == [ids[2]]
        assert reopened.count() == 3 and reopened.count(source="nowhere") == 0
    finally:
        reopened.close()


def test_trends_per_hour_and_day(store: FeedbackStore) -> None:
    store.add(ROWS)
    hours = store.trends(interval="hour", source="web", labels=["-1", "1"])
    assert hours.labels == ["-1", "1", "neutral"]  # the model's labels first, then labels found in the rows
    points = [p.to_dict(hours.labels) for p in hours.points]
    assert [(p["period"], p["count"]) for p in points] == [
        ("2026-03-01T09:00:00+00:00", 3),
        ("2026-03-01T10:00:00+00:00", 1),
    ]
    nine = points[0]
    assert nine["counts"] == {"-1": 1, "1": 1, "neutral": 1}
    assert nine["shares"]["1"] == pytest.approx(1 / 3)
    assert nine["mean_probabilities"]["1"] == pytest.approx((0.9 + 0.2) / 2)  # the other model's row has no "1"
    assert nine["mean_probabilities"]["-1"] == pytest.approx((0.1 + 0.8) / 2)
    days = store.trends(interval="day", labels=["-1", "1"]).to_dict()
    assert [(p["period"], p["count"]) for p in days["points"]] == [
        ("2026-03-01T00:00:00+00:00", 4),
        ("2026-03-02T00:00:00+00:00", 1),
    ]
    assert days["points"][1]["counts"] == {"-1": 1, "1": 0, "neutral": 0}
    window = store.trends(
        interval="minute", since=T0 + dt.timedelta(minutes=30), until=T0 + dt.timedelta(hours=1), labels=["-1", "1"]
    )
    assert [(p.period, p.count) for p in window.points] == [
        (dt.datetime(2026, 3, 1, 9, 45), 1),
        (dt.datetime(2026, 3, 1, 10, 10), 1),
    ]
    assert store.trends(source="nowhere").points == []


def test_trends_in_sql_and_in_python_agree(store: FeedbackStore) -> None:
    store.add(ROWS)
    for interval in ("minute", "hour", "day"):
        in_sql = store.trends(interval=interval, labels=["-1", "1"], in_sql=True).to_dict()
        in_python = store.trends(interval=interval, labels=["-1", "1"], in_sql=False).to_dict()
        assert _close(in_sql, in_python)
    with pytest.raises(ConfigError, match="interval must be one of"):
        store.trends(interval="week")  # type: ignore[arg-type]


def _close(a: Any, b: Any) -> bool:
    """Nested dicts/lists equal, floats to 1e-9 (SUM in SQL and in Python round differently)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == pytest.approx(b, abs=1e-9)
    return a == b


def test_bad_urls_fail_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be used .* give a SQLAlchemy URL"):
        FeedbackStore("not a url")
    with pytest.raises(ConfigError, match="cannot be opened: unable to open database file"):
        FeedbackStore(f"sqlite:///{tmp_path / 'missing' / 'f.db'}")
    with pytest.raises(ConfigError, match=r"postgresql://u:\*\*\*@127.0.0.1:1/x' cannot be opened"):
        FeedbackStore("postgresql://u:secret@127.0.0.1:1/x")  # the password never shows


def test_the_api_stores_feedback_in_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """The HTTP round trip on PostgreSQL: store, list and chart feedback (SQLite's is in test_serve.py)."""
    from helpers import TINY, make_negation_data
    from sentilstm import SentimentClassifier
    from test_serve import LiveServer

    texts, labels = make_negation_data(200, seed=0)
    model = SentimentClassifier(**TINY).fit(texts, labels).save(tmp_path / "pg.sentilstm")
    try:
        with (
            LiveServer(create_app(model, feedback_url=postgres_url)) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):
            stored = client.post(
                "/feedback",
                json={
                    "items": [
                        {
                            "text": "not good \u0000 at all",
                            "timestamp": "2026-03-01T09:15:00Z",
                        },  # NUL: PostgreSQL refuses it raw
                        {"text": "great", "timestamp": "2026-03-01T09:50:00+00:00", "source": "app"},
                    ]
                },
            ).json()["stored"]
            recent = client.get("/feedback", params={"source": "api"}).json()["items"]
            trends = client.get("/trends", params={"interval": "hour"}).json()
        assert [r["id"] for r in recent] == [stored[0]["id"]] and recent[0]["text"] == "not good \ufffd at all"
        assert trends["labels"] == [-1, 1]
        assert [(p["period"], p["count"]) for p in trends["points"]] == [("2026-03-01T09:00:00+00:00", 2)]
    finally:
        cleanup = FeedbackStore(postgres_url)
        metadata.drop_all(cleanup.engine)
        cleanup.close()
