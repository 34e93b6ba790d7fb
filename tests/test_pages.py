"""The web page (`sentilstm.serve.pages`): file scoring over HTTP, and the page itself in a real headless browser.

Set SENTILSTM_PAGE_SCREENSHOTS=/some/folder to keep screenshots of the browser tests there.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from helpers import FILLER, NEGATIVE, POSITIVE
from sentilstm.estimators.classifier import SentimentClassifier
from sentilstm.serve import pages, timeline
from sentilstm.serve.app import create_app

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = os.environ.get("SENTILSTM_PAGE_SCREENSHOTS")


def drifting_reviews(n: int, days: int, seed: int, start: str = "2025-03-01") -> pd.DataFrame:
    """`n` reviews spread over `days` days (busier at weekends) whose positive share slides from 80% to 25%."""
    rng = random.Random(seed)
    origin = dt.datetime.fromisoformat(start)
    weights = [1.6 if (origin + dt.timedelta(days=d)).weekday() >= 5 else 1.0 for d in range(days)]
    rows = []
    for _ in range(n):
        day = rng.choices(range(days), weights)[0]
        when = origin + dt.timedelta(days=day, seconds=rng.randrange(86_400))
        positive = rng.random() < 0.8 - 0.55 * day / max(1, days - 1)
        negated = rng.random() < 0.3
        word = rng.choice(POSITIVE if positive != negated else NEGATIVE)
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 9))]
        words.insert(rng.randint(0, len(words)), f"not {word}" if negated else word)
        rows.append((when, " ".join(words), "pos" if positive else "neg"))
    rows.sort()
    return pd.DataFrame(
        {
            "id": range(n),
            "review": [r[1] for r in rows],
            "created_at": [r[0].strftime("%Y-%m-%d %H:%M:%S") for r in rows],
            "intended": [r[2] for r in rows],
        }
    )


def csv_upload(frame: pd.DataFrame, name: str = "reviews.csv") -> dict[str, Any]:
    return {"file": (name, frame.to_csv(index=False).encode(), "text/csv")}


def make_app(model_path: Path, folder: Path) -> Any:
    """The real app, its feedback database, and the page's files in a private folder it makes under `folder`."""
    return create_app(model_path, feedback_url=f"sqlite:///{folder / 'feedback.db'}", upload_dir=folder / "page-files")


@pytest.fixture(scope="module")
def app(trained_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_app(trained_model_path, tmp_path_factory.mktemp("app"))


@pytest.fixture(scope="module")
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers={"X-Sentilstm-CSRF": "1"}) as test_client:  # what the page sends with its uploads
        yield test_client


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return drifting_reviews(600, days=12, seed=1)


# ----- the page and its assets ---------------------------------------------------------------------------------
def test_page_links_versioned_assets_that_cache_for_good(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    version = pages._asset_version()
    for name in ("app.js", "charts.js", "style.css"):
        assert f"/static/{name}?v={version}" in page.text
        versioned = client.get(f"/static/{name}?v={version}")
        assert versioned.status_code == 200 and "immutable" in versioned.headers["cache-control"]
        assert versioned.headers["content-type"] == pages.ASSETS[name]
        again = client.get(f"/static/{name}", headers={"If-None-Match": versioned.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"
    assert f'data-max-upload="{pages.MAX_UPLOAD_BYTES}"' in page.text
    assert client.get("/static/../pages.py").status_code == 404
    assert client.get("/static/secret.txt").status_code == 404


def test_page_scripts_never_put_data_into_inner_html() -> None:
    for name in ("app.js", "charts.js"):
        source = (pages.STATIC_DIR / name).read_text()
        assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write|\beval\(", source), name


# ----- POST /score/columns -------------------------------------------------------------------------------------
def test_columns_guess_the_text_and_timestamp_columns(client: TestClient, reviews: pd.DataFrame) -> None:
    response = client.post("/score/columns", files=csv_upload(reviews))
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["columns"] == ["id", "review", "created_at", "intended"]
    assert (info["text_column"], info["timestamp_column"]) == ("review", "created_at")
    assert info["filename"] == "reviews.csv" and info["size"] > 0
    assert len(info["preview"]) == 5 and info["preview"][0][1] == reviews.review[0]
    assert len(info["upload"]) >= 32  # unguessable


def test_columns_find_a_timestamp_column_by_its_values(client: TestClient) -> None:
    frame = pd.DataFrame(
        {
            "comment": ["good", "bad", "not bad"],
            "seen": ["3 Mar 2025", "2025-03-04", "Mar 5 2025 10:00"],
            "score": ["1", "2", "3"],
        }
    )
    info = client.post("/score/columns", files=csv_upload(frame, "c.csv")).json()
    assert (info["text_column"], info["timestamp_column"]) == ("comment", "seen")
    plain = client.post("/score/columns", files=csv_upload(frame[["comment", "score"]], "p.csv")).json()
    assert plain["timestamp_column"] is None


# ----- POST /score -----------------------------------------------------------------------------------------------
def test_score_csv_with_timestamps(client: TestClient, reviews: pd.DataFrame, trained_clf: SentimentClassifier) -> None:
    token = client.post("/score/columns", files=csv_upload(reviews)).json()["upload"]
    response = client.post("/score", data={"upload": token, "text_column": "review", "timestamp_column": "created_at"})
    assert response.status_code == 200, response.text
    result = response.json()
    expected = trained_clf.predict(reviews.review.tolist())
    assert result["rows"] == len(reviews) and result["empty_texts"] == 0 and result["unparsable_timestamps"] == 0
    assert result["labels"] == [-1, 1]
    assert result["label_counts"] == {"-1": int((expected == -1).sum()), "1": int((expected == 1).sum())}

    series = result["series"]
    assert series["interval"] == "day"  # 12 days: daily points
    assert [p["period"][:10] for p in series["points"]] == [f"2025-03-{d:02d}" for d in range(1, 13)]
    assert sum(p["count"] for p in series["points"]) == len(reviews)
    for point in series["points"]:
        assert sum(point["counts"].values()) == point["count"]
        assert sum(point["shares"].values()) == pytest.approx(1, abs=1e-3)
    first, last = series["points"][0]["shares"]["1"], series["points"][-1]["shares"]["1"]
    assert first > last + 0.3  # the drift the data was made with shows

    download = client.get(result["download"])
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert 'filename="reviews.scored.csv"' in download.headers["content-disposition"]
    scored = pd.read_csv(io.BytesIO(download.content))
    assert list(scored.columns) == [*reviews.columns, "predicted_label", "prob_-1", "prob_1"]
    assert scored.predicted_label.tolist() == expected.tolist()
    assert scored.review.tolist() == reviews.review.tolist()


@pytest.mark.parametrize(
    "interval, expected, points", [("hour", "hour", 12 * 24), ("week", "week", 3), ("month", "month", 1)]
)
def test_score_groups_by_the_interval_asked_for(
    client: TestClient, reviews: pd.DataFrame, interval: str, expected: str, points: int
) -> None:
    result = client.post(
        "/score", files=csv_upload(reviews), data={"timestamp_column": "created_at", "interval": interval}
    ).json()
    assert result["series"]["interval"] == expected
    assert len(result["series"]["points"]) <= points
    assert sum(p["count"] for p in result["series"]["points"]) == len(reviews)


def test_score_jsonl_upload_infers_the_text_column(client: TestClient, trained_clf: SentimentClassifier) -> None:
    rows = [{"text": "a good film", "stars": 5}, {"stars": 1, "text": "not good"}, {"text": "", "stars": 3}]
    body = "\n".join(json.dumps(r) for r in rows).encode()
    result = client.post("/score", files={"file": ("r.jsonl", body, "application/x-ndjson")}).json()
    assert result["rows"] == 3 and result["empty_texts"] == 1 and result["text_column"] == "text"
    assert result["series"] is None and result["unparsable_timestamps"] == 0
    scored = pd.read_csv(io.BytesIO(client.get(result["download"]).content), keep_default_na=False)
    assert scored.predicted_label.tolist() == trained_clf.predict(["a good film", "not good", ""]).tolist()


def test_score_parquet_with_a_zoned_datetime_column(client: TestClient, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "body": ["a good film", "not good", "awful", "great"] * 6,
            "at": pd.date_range("2025-03-01 22:30", periods=24, freq="h", tz="Europe/Berlin"),
        }
    )
    frame.to_parquet(tmp_path / "t.parquet")
    files = {"file": ("t.parquet", (tmp_path / "t.parquet").read_bytes(), "application/octet-stream")}
    info = client.post("/score/columns", files=files).json()
    assert (info["text_column"], info["timestamp_column"]) == ("body", "at")
    result = client.post("/score", data={"upload": info["upload"], "timestamp_column": "at", "interval": "day"}).json()
    assert result["rows"] == 24 and result["unparsable_timestamps"] == 0
    days = {p["period"]: p["count"] for p in result["series"]["points"]}
    assert days == {"2025-03-01T00:00:00": 3, "2025-03-02T00:00:00": 21}  # 22:30 Berlin is 21:30 UTC


def test_unreadable_timestamps_are_counted_not_charted(client: TestClient) -> None:
    frame = pd.DataFrame(
        {
            "text": ["good", "bad", "not good", "great"],
            "when": ["2025-01-01 10:00", "yesterday-ish", "", "1/2/2025 11:30"],
        }
    )
    result = client.post("/score", files=csv_upload(frame), data={"timestamp_column": "when"}).json()
    assert result["unparsable_timestamps"] == 2
    assert sum(p["count"] for p in result["series"]["points"]) == 2
    nothing = client.post(
        "/score", files=csv_upload(frame.assign(when="soon")), data={"timestamp_column": "when"}
    ).json()
    assert nothing["series"] is None and nothing["unparsable_timestamps"] == 4


@pytest.mark.parametrize(
    "values, expected",
    [
        (
            ["2025-03-01 10:15", "03/02/2025", "2025-03-03T08:00:00+02:00"],
            ["2025-03-01 10:15", "2025-03-02 00:00", "2025-03-03 06:00"],
        ),  # mixed formats; a zone is converted to UTC
        (["1740823200", "1740909600"], ["2025-03-01 10:00", "2025-03-02 10:00"]),
        (["1740823200000"], ["2025-03-01 10:00"]),
        (["2023", "2024"], ["2023-01-01 00:00", "2024-01-01 00:00"]),
        (["20250301"], ["2025-03-01 00:00"]),
    ],
)
def test_parse_timestamps_reads_common_forms(values: list[str], expected: list[str]) -> None:
    parsed = timeline.parse_timestamps(pd.Series(values, dtype="str"))
    assert parsed.dt.strftime("%Y-%m-%d %H:%M").tolist() == expected


def test_bad_files_and_fields_are_422_with_the_library_message(client: TestClient, reviews: pd.DataFrame) -> None:
    def detail(response: Any, status: int = 422) -> str:
        assert response.status_code == status, response.text
        return response.json()["detail"]

    missing = detail(client.post("/score", files=csv_upload(reviews), data={"text_column": "body"}))
    assert "'body' not found" in missing and "created_at" in missing
    no_time = detail(client.post("/score", files=csv_upload(reviews), data={"timestamp_column": "date"}))
    assert "timestamp column 'date' not found" in no_time
    ambiguous = detail(client.post("/score", files=csv_upload(pd.DataFrame({"a": ["x"], "b": ["y"]}))))
    assert "cannot tell which column holds the text" in ambiguous and "text_column" in ambiguous
    bad_json = detail(client.post("/score", files={"file": ("bad.jsonl", b'{"text": "ok"}\n{oops\n', "text/plain")}))
    assert "'bad.jsonl' line 2 is not valid JSON" in bad_json and "sentilstm-page" not in bad_json  # no server paths
    assert "extension" in detail(client.post("/score", files={"file": ("notes.docx", b"hello", "text/plain")}))
    assert "empty" in detail(client.post("/score", files={"file": ("e.csv", b"", "text/csv")}))
    assert "no rows" in detail(client.post("/score", files={"file": ("h.csv", b"text\n", "text/csv")}))
    not_parquet = {"file": ("x.parquet", b"not parquet at all", "application/octet-stream")}
    parquet = detail(client.post("/score/columns", files=not_parquet))
    assert "'x.parquet'" in parquet
    assert "interval must be one of" in detail(
        client.post("/score", files=csv_upload(reviews), data={"interval": "year"})
    )
    assert "multipart field 'file'" in detail(client.post("/score", data={"text_column": "review"}))
    assert "expired" in detail(client.post("/score", data={"upload": "nope"}), 404)


def test_too_large_upload_is_413_with_the_limit(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "MAX_UPLOAD_BYTES", 10_000)
    big = drifting_reviews(3000, days=3, seed=2)  # ~150 KB: refused from its Content-Length, before it is read
    response = client.post("/score", files=csv_upload(big))
    assert response.status_code == 413
    assert "the page scores files up to 9.8 KB" in response.json()["detail"]
    assert "sentilstm predict" in response.json()["detail"]
    monkeypatch.setattr(pages, "MAX_UPLOAD_BYTES", 20_000)
    middling = drifting_reviews(600, days=3, seed=2)  # ~30 KB: passes the header check, stopped while streaming
    response = client.post("/score/columns", files=csv_upload(middling))
    assert response.status_code == 413 and "too large" in response.json()["detail"]


def test_scoring_streams_the_file_in_chunks(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    original = pages.score_frame

    def spy(clf: Any, frame: pd.DataFrame, column: str) -> Any:
        seen.append(len(frame))
        return original(clf, frame, column)

    monkeypatch.setattr(pages, "score_frame", spy)
    monkeypatch.setattr(pages, "CHUNK_ROWS", 700)
    big = drifting_reviews(5000, days=30, seed=3)
    result = client.post("/score", files=csv_upload(big), data={"timestamp_column": "created_at"}).json()
    assert seen == [700] * 7 + [100]  # never the whole file at once
    assert result["rows"] == 5000 and sum(p["count"] for p in result["series"]["points"]) == 5000
    scored = pd.read_csv(io.BytesIO(client.get(result["download"]).content))
    assert len(scored) == 5000 and scored.predicted_label.notna().all()


def test_time_buckets_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeline, "MAX_BUCKETS", 100)
    series = timeline.LabelSeries(2)
    stamps = pd.Series(pd.date_range("2020-01-01", periods=24 * 400, freq="h"))  # 400 days of hours
    for chunk in np.array_split(np.arange(len(stamps)), 8):
        ids = np.arange(len(chunk)) % 2
        series.add(stamps.iloc[chunk].reset_index(drop=True), ids, np.eye(2)[ids])
        assert len(series.buckets) <= 100
    assert series.base == "month"
    result = series.to_dict("hour", [-1, 1])
    assert result["interval"] == "month" and "shown by month" in result["notes"][0]
    assert sum(p["count"] for p in result["points"]) == len(stamps)


def test_too_many_periods_are_coarsened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeline, "MAX_POINTS", 50)
    series = timeline.LabelSeries(2)
    stamps = pd.Series(pd.date_range("2024-01-01", periods=24 * 90, freq="h"))
    series.add(stamps, np.zeros(len(stamps), dtype=np.int64), np.tile([0.9, 0.1], (len(stamps), 1)))
    result = series.to_dict("day", ["neg", "pos"])
    assert result["interval"] == "week" and len(result["points"]) <= 50
    assert result["points"][0]["mean_probabilities"] == {"neg": 0.9, "pos": 0.1}
    assert [p["period"] for p in result["points"][:2]] == ["2024-01-01T00:00:00", "2024-01-08T00:00:00"]  # Mondays


# ----- GET /score/<token>.csv -------------------------------------------------------------------------------------
def test_unknown_or_expired_downloads_are_404(client: TestClient, app: Any) -> None:
    for unknown in ("abc", "A" * 32, "..%2Ffeedback.db%00"):
        response = client.get(f"/score/{unknown}.csv")
        assert response.status_code == 404
    assert "expired" in client.get(f"/score/{'A' * 32}.csv").json()["detail"]
    result = client.post("/score", files=csv_upload(pd.DataFrame({"text": ["good"]}))).json()
    assert client.get(result["download"]).status_code == 200
    store = app.state.page_files
    token = result["download"].removeprefix("/score/").removesuffix(".csv")
    stored = store.get("scored", token)
    long_ago = time.time() - pages.KEEP_SECONDS - 1
    os.utime(store.folder / f"{token}.scored.json", (long_ago, long_ago))
    assert client.get(result["download"]).status_code == 404 and not stored.path.exists()


def test_the_store_keeps_only_the_newest_files_and_is_shared(tmp_path: Path) -> None:
    store = pages.FileStore(tmp_path, keep=2)
    made = []
    for i in range(3):
        token, path = store.reserve("scored", ".csv")
        path.write_text(str(i))
        made.append(store.add("scored", token, path, f"{i}.csv"))
        os.utime(store.folder / f"{token}.scored.json", (time.time() + i, time.time() + i))  # distinct ages
    store._sweep("scored")
    assert store.get("scored", made[0].token) is None and not made[0].path.exists()
    other_worker = pages.FileStore(tmp_path, keep=2)  # another process of the same server
    found = other_worker.get("scored", made[2].token)
    assert found is not None and found.name == "2.csv" and found.path.read_text() == "2"
    assert other_worker.get("upload", made[2].token) is None  # kinds do not mix


# ----- the page in a real browser ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(trained_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serving(trained_model_path, tmp_path_factory.mktemp("browser-app"))


def serving(model_path: Path, folder: Path) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port, in a background thread."""
    import uvicorn

    app = make_app(model_path, folder)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Chromium and its driver at /usr/bin: apt install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--force-device-scale-factor=1",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(driver: Any, condition: Any, timeout: float = 15) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def shown(driver: Any, element_id: str) -> Any:
    """The element with that id when it is displayed, else None (for `wait_for`)."""
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, element_id)
    return element if element.is_displayed() else None


def words_marked(driver: Any, kind: str) -> list[str]:
    """The highlighted words pushing "towards" or "away" from the explained label."""
    from selenium.webdriver.common.by import By

    return [w.text for w in driver.find_elements(By.CSS_SELECTOR, f"#highlighted .word.{kind}")]


def screenshot(driver: Any, name: str, element: Any = None) -> None:
    """Under SENTILSTM_PAGE_SCREENSHOTS: the whole page (or one element) as NAME.png."""
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    ActionChains(driver).move_to_element(driver.find_element(By.CLASS_NAME, "brand")).perform()
    driver.execute_script(  # no hover read-out left over from the checks
        "document.querySelectorAll('.guide').forEach((g) => g.setAttribute('visibility', 'hidden'));"
        "document.querySelectorAll('.volume-bar.active').forEach((b) => b.classList.remove('active'));"
    )
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], height + 140)  # the whole page in view: element shots are not clipped
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.3)  # let the charts redraw at the new size
    if element is not None:
        element.screenshot(str(folder / f"{name}.png"))
    else:
        driver.execute_script("document.getElementById('tooltip').hidden = true")
        driver.save_screenshot(str(folder / f"{name}.png"))
    driver.set_window_size(size["width"], size["height"])


def open_page(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_for(driver, lambda d: d.find_element(By.ID, "model-labels").find_elements(By.CLASS_NAME, "badge"))
    assert driver.find_element(By.ID, "model-name").text == "negation.sentilstm"


def test_browser_header_shows_the_test_score_when_the_model_has_one(
    browser: Any, server: str, trained_model_path: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, server)  # trained without a test split: its validation score
    assert "validation macro-F1" in browser.find_element(By.ID, "model-meta").text
    clf = SentimentClassifier.load(trained_model_path)
    clf.metrics_["test"] = {**clf.metrics_["validation"], "macro_f1": 0.777}
    (tmp_path / "model").mkdir()
    tested = clf.save(tmp_path / "model" / "negation.sentilstm")
    (tmp_path / "app").mkdir()
    for url in serving(tested, tmp_path / "app"):
        open_page(browser, url)
        text = browser.find_element(By.ID, "model-meta").text
        assert "test macro-F1 0.777" in text and "validation" not in text, text


def test_browser_type_a_text_see_the_label_and_why(browser: Any, server: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_page(browser, server)
    box = browser.find_element(By.ID, "text-input")
    box.send_keys("honestly the acting was not good <b>at all</b>")
    box.send_keys(Keys.CONTROL, Keys.ENTER)  # the keyboard shortcut; the button is clicked below
    wait_for(browser, lambda d: d.find_element(By.ID, "label-badge").text == "-1")
    words = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#highlighted .word.towards"))
    assert "not" in [w.text for w in words]
    highlighted = browser.find_element(By.ID, "highlighted")
    assert (
        highlighted.text == "honestly the acting was not good <b>at all</b>"
    )  # user text shown as text, never as HTML
    assert not highlighted.find_elements(By.TAG_NAME, "b")
    rows = browser.find_elements(By.CSS_SELECTOR, "#prob-bars .prob-row")
    assert [r.get_attribute("data-label") for r in rows] == ["-1", "1"]
    assert rows[0].get_attribute("aria-checked") == "true"
    screenshot(browser, "1-try-a-text", browser.find_element(By.ID, "try-card"))
    ActionChains(browser).move_to_element([w for w in words if w.text == "not"][0]).perform()
    tooltip = browser.find_element(By.ID, "tooltip")
    assert tooltip.is_displayed() and "towards -1" in tooltip.text

    box.clear()
    box.send_keys("a truly wonderful film")
    browser.find_element(By.ID, "analyse-btn").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "label-badge").text == "1")
    wait_for(browser, lambda d: "wonderful" in words_marked(d, "towards"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#prob-bars .prob-row")
    rows[0].click()  # explain the other label: the words that pushed towards 1 now push away from -1
    wait_for(browser, lambda d: "wonderful" in words_marked(d, "away"))
    assert rows[0].get_attribute("aria-checked") == "true"
    assert "away from -1" in browser.find_element(By.ID, "attribution-legend").text


def post_json(url: str, body: Any) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def earlier_feedback(n: int, hours: int, seed: int) -> list[dict[str, str]]:
    """`n` texts from two sources over the past `hours`, turning sour towards now (drifting_reviews' days as hours)."""
    frame = drifting_reviews(n, days=hours, seed=seed)
    rng = random.Random(seed)
    offsets = (pd.to_datetime(frame.created_at) - pd.Timestamp("2025-03-01")) / pd.Timedelta(days=1)
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
    return [
        {
            "text": text,
            "source": rng.choice(["app", "support"]),
            "timestamp": (start + dt.timedelta(hours=hours_in)).isoformat(),
        }
        for text, hours_in in zip(frame.review, offsets)
    ]


def test_browser_save_feedback_and_see_the_live_trend(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_page(browser, server)
    wait_for(browser, lambda d: d.find_element(By.ID, "trend-chart").find_elements(By.CLASS_NAME, "empty"))
    post_json(f"{server}/feedback", {"items": earlier_feedback(300, hours=46, seed=5)})
    chart = browser.find_element(By.ID, "trend-chart")
    wait_for(browser, lambda d: chart.get_attribute("data-total") == "300", timeout=10)  # the page polls every 5 s
    assert len(chart.find_elements(By.CSS_SELECTOR, ".volume-bar")) > 30
    for text in ("not a good film at all", "a wonderful story", "superb acting and a brilliant ending"):
        box = browser.find_element(By.ID, "text-input")
        box.clear()
        box.send_keys(text)
        browser.find_element(By.ID, "analyse-btn").click()
        wait_for(
            browser,
            lambda d: (
                d.find_element(By.ID, "feedback-btn").is_enabled()
                and d.find_elements(By.CSS_SELECTOR, "#highlighted .word")
            ),
        )
        browser.find_element(By.ID, "feedback-btn").click()
        wait_for(browser, lambda d: d.find_element(By.ID, "feedback-status").text.startswith("Saved"))
    wait_for(browser, lambda d: chart.get_attribute("data-total") == "303")  # saving refreshes at once
    assert chart.find_elements(By.CSS_SELECTOR, "svg.time-chart .columns rect")
    assert "303 texts in the last 48 hours" in browser.find_element(By.ID, "trend-total").text
    recent = browser.find_elements(By.CSS_SELECTOR, "#recent-list li")
    assert len(recent) == 5 and "superb acting" in recent[0].text and "web" in recent[0].text
    screenshot(browser, "3-live-trend", browser.find_element(By.ID, "trend-card"))

    sources = Select(browser.find_element(By.ID, "trend-source"))
    assert [o.get_attribute("value") for o in sources.options] == ["", "app", "support", "web"]
    sources.select_by_value("web")
    wait_for(browser, lambda d: chart.get_attribute("data-total") == "3")
    browser.find_element(By.CSS_SELECTOR, "label[for='trend-minute']").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "trend-total").text == "3 texts in the last hour")
    browser.find_element(By.CSS_SELECTOR, "label[for='trend-day']").click()
    wait_for(browser, lambda d: "60 days" in d.find_element(By.ID, "trend-total").text)
    screenshot(browser, "3b-live-trend-web-by-day", browser.find_element(By.ID, "trend-card"))


def test_browser_upload_a_file_see_the_charts_and_download(browser: Any, server: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    reviews = drifting_reviews(2000, days=30, seed=4)
    path = tmp_path / "march reviews.csv"
    reviews.to_csv(path, index=False)
    open_page(browser, server)
    browser.find_element(By.ID, "file-input").send_keys(str(path))
    wait_for(browser, lambda d: d.find_element(By.ID, "score-form").is_displayed())
    assert Select(browser.find_element(By.ID, "text-column")).first_selected_option.text == "review"
    assert Select(browser.find_element(By.ID, "timestamp-column")).first_selected_option.text == "created_at"
    assert browser.find_element(By.ID, "file-name").text == "march reviews.csv"
    browser.find_element(By.ID, "score-btn").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#time-chart svg.time-chart .areas path.area"))
    bars = browser.find_elements(By.CSS_SELECTOR, "#dist-chart svg.dist-chart rect.bar")
    assert len(bars) == 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "#time-chart .volume-bar")) == 30
    assert browser.find_element(By.ID, "time-title").text == "Label share per day"
    stats = browser.find_element(By.ID, "score-stats").text
    assert "2,000" in stats and "Mar 1" in stats and "Mar 30" in stats

    link = browser.find_element(By.ID, "download-link")
    assert link.get_attribute("download") == "march reviews.scored.csv"
    with urllib.request.urlopen(link.get_attribute("href"), timeout=10) as response:
        scored = pd.read_csv(io.BytesIO(response.read()))
    assert len(scored) == 2000 and set(scored.predicted_label) <= {-1, 1}

    from selenium.webdriver.common.action_chains import ActionChains

    chart = browser.find_element(By.CSS_SELECTOR, "#time-chart svg")
    ActionChains(browser).move_to_element_with_offset(chart, 120, -40).perform()
    tooltip = wait_for(browser, lambda d: shown(d, "tooltip"))
    assert "rows" in tooltip.text and "%" in tooltip.text
    screenshot(browser, "2-score-a-file", browser.find_element(By.ID, "score-card"))
    screenshot(browser, "0-whole-page")


def test_browser_shows_a_bad_file_as_a_message(browser: Any, server: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "fine"}\n{not json\n')
    open_page(browser, server)
    browser.find_element(By.ID, "file-input").send_keys(str(path))
    error = wait_for(browser, lambda d: shown(d, "score-error"))
    assert "'broken.jsonl'" in error.text or "broken.jsonl" in error.text


def test_browser_api_docs_render_offline(browser: Any, server: str) -> None:
    """/docs draws every endpoint with scripts from this server (the test machine has no internet either way)."""
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/docs")
    operations = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    paths = {o.get_attribute("data-path") or o.text for o in operations}
    assert {"/predict", "/explain", "/feedback", "/trends", "/model", "/health"} <= paths
    scripts = [s.get_attribute("src") for s in browser.find_elements(By.TAG_NAME, "script") if s.get_attribute("src")]
    assert scripts and all(s.startswith(server) for s in scripts)
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(SCREENSHOTS) / "5-api-docs.png"))
