"""The audit's HTTP surface: real `sentilstm serve` processes on loopback, attacked with planted files, malformed and
oversized requests, cross-site requests, a load test with a killed worker, and unbounded work (see
bench/hardening.py)."""

from __future__ import annotations

import getpass
import gzip
import http.client
import io
import json
import os
import random
import secrets
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hardening_core import AS_LIMIT, NOBODY, PROBES, SENTILSTM, Artefacts, Outcome, csv_text, head, kill_group, rows


# ----- HTTP: real servers on loopback ------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int  # 0: no answer
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str = ""


def request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, timeout: float = 30.0
) -> Reply:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": f"127.0.0.1:{port}", **(headers or {})}
        if body or method in ("POST", "PUT"):
            sent.setdefault("Content-Length", str(len(body)))
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        data = response.read()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, data, time.monotonic() - started
        )
    except (OSError, http.client.HTTPException) as exc:
        return Reply(0, {}, b"", time.monotonic() - started, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


def raw_request(port: int, data: bytes, timeout: float = 20.0) -> Reply:
    """Send bytes as they are; the status from the first line of whatever comes back."""
    started = time.monotonic()
    received = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.sendall(data)
            while chunk := connection.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    break
    except OSError as exc:
        if not received:
            return Reply(0, {}, b"", time.monotonic() - started, f"{type(exc).__name__}: {exc}")
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/") else 0
    return Reply(status, {}, received.partition(b"\r\n\r\n")[2], time.monotonic() - started)


def _complete(received: bytes) -> bool:
    headers, _, body = received.partition(b"\r\n\r\n")
    for line in headers.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "audit" + secrets.token_hex(8)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Server:
    """`sentilstm serve` in its own process group on a free loopback port, with its log in the work folder."""

    def __init__(self, art: Artefacts, name: str, model: str, tmpdir: Path, *extra: str) -> None:
        self.art, self.name = art, name
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = art.work / f"server-{name}.log"
        self.env = {**art.env, "TMPDIR": str(tmpdir)}
        self.command = [
            "prlimit",
            f"--as={AS_LIMIT}",
            "--",
            *SENTILSTM,
            "serve",
            str(art.files / model),
            "--port",
            str(self.port),
            "--feedback-db",
            f"sqlite:///{art.work}/feedback-{name}.db",
            *extra,
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.headers: dict[str, str] = {}

    def start(self, timeout: float = 150.0) -> bool:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.art.work, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if request(self.port, "GET", "/health", headers=self.headers, timeout=5).status == 200:
                return True
            time.sleep(0.25)
        return False

    def stop(self, sig: int = signal.SIGTERM, wait: float = 30.0) -> float | None:
        """Seconds until the server exited after `sig`; None when it had to be killed."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(wait)
            return time.monotonic() - started
        except subprocess.TimeoutExpired:
            return None
        finally:
            kill_group(self.process.pid)
            self.process.wait()

    def pids(self) -> list[int]:
        """The server and every process below it."""
        if self.process is None:
            return []
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    queue += [int(c) for c in (task / "children").read_text().split()]
                except OSError:
                    continue
        return found

    def workers(self) -> list[int]:
        """Worker processes (multiprocessing spawn children, not its resource tracker)."""
        result = []
        for pid in self.pids()[1:]:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                result.append(pid)
        return result

    def settled_workers(self, count: int, age: float = 15.0, within: float = 120.0) -> list[int]:
        """Wait until `count` workers have each answered /health and run for `age` seconds (past any start-up grace)."""
        deadline = time.monotonic() + within
        answered: set[int] = set()
        while time.monotonic() < deadline and self.process is not None and self.process.poll() is None:
            reply = request(self.port, "GET", "/health", headers=self.headers, timeout=5)
            if reply.status == 200:
                answered.add(json.loads(reply.body).get("pid"))
            workers = self.workers()
            if len(workers) >= count and set(workers) <= answered and min(map(process_age, workers)) >= age:
                return workers
            time.sleep(0.25)
        return []

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                continue
        return total / os.sysconf("SC_CLK_TCK")

    def settles(self, within: float = 15.0) -> tuple[bool, float]:
        """Whether the server's processes go idle (under 0.15 s CPU in a second) within `within` seconds."""
        started = time.monotonic()
        last = self.cpu_seconds()
        while time.monotonic() - started < within:
            time.sleep(1.0)
            now = self.cpu_seconds()
            if now - last < 0.15:
                return True, time.monotonic() - started
            last = now
        return False, time.monotonic() - started


def process_age(pid: int) -> float:
    """Seconds since `pid` started (0 when it is gone)."""
    try:
        started = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
        return float(Path("/proc/uptime").read_text().split()[0]) - started
    except (OSError, IndexError, ValueError):
        return 0.0


def judge_reply(reply: Reply, expect: str, leaks: tuple[bytes, ...] = ()) -> tuple[str, str]:
    summary = f"{reply.status} {reply.body[:160].decode('utf-8', 'replace')}" if reply.status else reply.error
    if reply.status == 0:
        timed_out = "timed out" in reply.error or "timeout" in reply.error.lower()
        return ("hang/blow-up" if timed_out else "other"), f"no answer after {reply.seconds:.0f} s: {reply.error}"
    for leak in leaks:
        if leak in reply.body:
            return "accepted", f"served data from outside its folder ({leak[:20]!r}...): {reply.status}"
    if reply.status >= 500:
        return "traceback", summary
    if expect == "refuse":
        return ("clean", summary) if 400 <= reply.status < 500 else ("accepted", f"answered {summary}")
    if expect == "work" and not 200 <= reply.status < 300:
        return "other", f"refused a valid request: {summary}"
    return "clean", summary


class HttpAudit:
    """The HTTP surface: one long-lived server for the quick requests, a 2-worker one for the load test, and
    throwaway ones for the work that should be bounded (explain, gzip bombs) and for shutdown."""

    def __init__(self, art: Artefacts, quick: bool, log: Callable[[str], None]) -> None:
        self.art, self.quick, self.log = art, quick, log
        self.outcomes: list[Outcome] = []
        self.folder = art.work / "http"
        self.shared_tmp = self.folder / "tmp-shared"
        self.outside = self.folder / "outside"
        for path in (self.shared_tmp, self.outside):
            path.mkdir(parents=True)
        self.secret = b"AUDIT-SECRET-" + secrets.token_hex(8).encode()
        (self.outside / "secret.txt").write_bytes(self.secret + b"\n")
        (self.outside / "secret.csv").write_bytes(b"text\n" + self.secret + b"\n")
        self.leaks = (self.secret, b"root:x:0:0")
        serve_options = {o["option"] for o in art.options.get("serve", [])}
        self.api_key = secrets.token_hex(16) if "--api-key" in serve_options else None

    def record(
        self,
        kind: str,
        name: str,
        expect: str,
        verdict: str,
        detail: str,
        command: str = "",
        item: str | None = None,
        seconds: float = 0.0,
    ) -> None:
        self.outcomes.append(Outcome("http", kind, name, expect, item, verdict, detail, command, "", round(seconds, 2)))
        self.log(f"  [{verdict:>12}] http: {name}")

    def call(
        self,
        kind: str,
        name: str,
        expect: str,
        port: int,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        item: str | None = None,
        timeout: float = 30.0,
        auth: bool = True,
    ) -> Reply:
        """`auth=False` for what another site's page would send: a browser adds no Authorization header to it."""
        reply = request(port, method, path, body, {**(self.auth if auth else {}), **(headers or {})}, timeout)
        verdict, detail = judge_reply(reply, expect, self.leaks)
        self.record(kind, name, expect, verdict, detail, f"{method} {path[:120]}", item, reply.seconds)
        return reply

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def run(self) -> list[Outcome]:
        page = self.plant_folder()
        extra = ("--api-key", self.api_key) if self.api_key else ()
        main = Server(self.art, "main", "blend.sentilstm", self.shared_tmp, *extra)
        main.headers = self.auth
        if not main.start():
            self.record(
                "server", "start `sentilstm serve`", "work", "other", f"did not start: {head(main.log.read_text(), 6)}"
            )
            return self.outcomes
        try:
            self.planted_notes(main.port, page)
            self.requests(main.port)
            self.page_security(main.port)
            self.api_key_cases(main.port)
            if not self.quick:
                self.load_test(main)
        finally:
            main.stop()
        if main.log.exists() and "Traceback" in main.log.read_text(errors="replace"):
            self.log("  (the main server's log holds tracebacks: see server-main.log)")
        self.bounded_work()
        return self.outcomes

    # --- the hijackable upload folder (issue item 1) ---
    def plant_folder(self) -> Path:
        """Pre-create the page's fixed upload folder as another user (nobody), world-writable, with planted notes."""
        page = self.shared_tmp / f"sentilstm-page-{getpass.getuser()}"
        page.mkdir(mode=0o777)
        os.chmod(page, 0o777)
        self.tokens = {
            name: secrets.token_urlsafe(24) for name in ("absolute", "relative", "symlink", "sweep", "score")
        }
        victim = self.outside / "victim.txt"
        victim.write_text("a file the sweep must never delete\n")
        notes = {
            f"{self.tokens['absolute']}.scored.json": {"file": str(self.outside / "secret.txt"), "name": "loot.csv"},
            f"{self.tokens['relative']}.scored.json": {
                "file": os.path.relpath(self.outside / "secret.txt", page),
                "name": "r.csv",
            },
            f"{self.tokens['symlink']}.scored.json": {"file": f"{self.tokens['symlink']}.scored.csv", "name": "s.csv"},
            f"{self.tokens['sweep']}.upload.json": {"file": str(victim), "name": "v.csv"},
            f"{self.tokens['score']}.upload.json": {"file": str(self.outside / "secret.csv"), "name": "secret.csv"},
        }
        for name, note in notes.items():
            (page / name).write_text(json.dumps(note))
        os.symlink(self.outside / "secret.txt", page / f"{self.tokens['symlink']}.scored.csv")
        old = time.time() - 7200
        os.utime(page / f"{self.tokens['sweep']}.upload.json", (old, old))
        if os.geteuid() == 0:
            for path in [page, *page.iterdir()]:
                os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        return page

    def planted_notes(self, port: int, page: Path) -> None:
        kind = "hijacked upload folder"
        self.call(
            kind,
            "planted note with an absolute path: GET /score/<token>.csv",
            "refuse",
            port,
            "GET",
            f"/score/{self.tokens['absolute']}.csv",
            item="1",
        )
        self.call(
            kind,
            "planted note with a ../ relative path",
            "refuse",
            port,
            "GET",
            f"/score/{self.tokens['relative']}.csv",
            item="1",
        )
        self.call(
            kind,
            "planted symlink beside a well-formed note",
            "refuse",
            port,
            "GET",
            f"/score/{self.tokens['symlink']}.csv",
            item="1",
        )
        body, ctype = multipart({"upload": self.tokens["score"]}, {})
        reply = self.call(
            kind,
            "planted upload note pointing at a file outside: POST /score upload=<token>",
            "refuse",
            port,
            "POST",
            "/score",
            body,
            {"Content-Type": ctype},
            item="1",
        )
        if reply.status == 200:
            download = json.loads(reply.body).get("download", "")
            got = request(port, "GET", download, headers=self.auth)
            verdict, detail = judge_reply(got, "refuse", self.leaks)
            self.record(
                kind,
                "... and its scored download echoes the outside file",
                "refuse",
                verdict,
                detail,
                f"GET {download}",
                "1",
            )
        body, ctype = multipart({}, {"file": ("small.csv", csv_text(rows(5, 12)).encode())})
        self.call(
            kind,
            "an upload that triggers the sweep (POST /score/columns)",
            "work",
            port,
            "POST",
            "/score/columns",
            body,
            {"Content-Type": ctype},
        )
        victim = self.outside / "victim.txt"
        self.record(
            kind,
            "sweep follows a planted old note to a file outside the folder",
            "refuse",
            "data lost" if not victim.exists() else "clean",
            "the sweep deleted a file outside the upload folder"
            if not victim.exists()
            else "the outside file is intact",
            "POST /score/columns after planting an old .upload.json",
            "1",
        )
        mine = [
            p.name
            for p in page.iterdir()
            if p.lstat().st_uid == os.geteuid() and not p.name.startswith(tuple(self.tokens.values()))
        ]
        foreign = os.stat(page).st_uid != os.geteuid()
        if not foreign:
            self.record(
                kind,
                "server stores uploads in a pre-created folder owned by another user",
                "refuse",
                "skipped",
                "not root: the audit cannot create a folder owned by another user",
            )
            return
        self.record(
            kind,
            "server stores uploads in a pre-created world-writable folder owned by another user",
            "refuse",
            "accepted" if mine else "clean",
            f"wrote {len(mine)} files into {page.name} (owner uid {os.stat(page).st_uid}, mode "
            f"{stat.S_IMODE(os.stat(page).st_mode):o})"
            if mine
            else "it did not use the planted folder",
            "POST /score/columns",
            "1",
        )

    # --- malformed, oversized and odd requests ---
    def requests(self, port: int) -> None:
        json_type = {"Content-Type": "application/json"}
        cases: list[tuple[str, str, str, str, str, bytes, dict[str, str], str | None]] = [
            (
                "path traversal",
                "GET /static/../../../../etc/passwd",
                "refuse",
                "GET",
                "/static/../../../../etc/passwd",
                b"",
                {},
                None,
            ),
            (
                "path traversal",
                "GET /static/..%2f..%2f..%2fetc%2fpasswd",
                "refuse",
                "GET",
                "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
                b"",
                {},
                None,
            ),
            (
                "path traversal",
                "GET /static/%2e%2e/%2e%2e/etc/passwd",
                "refuse",
                "GET",
                "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                b"",
                {},
                None,
            ),
            (
                "path traversal",
                "GET /docs/assets/..%2f..%2f..%2fetc%2fpasswd",
                "refuse",
                "GET",
                "/docs/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
                b"",
                {},
                None,
            ),
            (
                "path traversal",
                "GET /score/..%2f..%2fsecret.csv",
                "refuse",
                "GET",
                "/score/..%2f..%2f..%2foutside%2fsecret.csv",
                b"",
                {},
                None,
            ),
            ("path traversal", "GET //etc/passwd", "refuse", "GET", "//etc/passwd", b"", {}, None),
            ("path traversal", "GET /static/app.js%00.txt", "refuse", "GET", "/static/app.js%00.txt", b"", {}, None),
            ("malformed body", "POST /predict '{'", "refuse", "POST", "/predict", b"{", json_type, None),
            (
                "malformed body",
                "POST /predict invalid UTF-8",
                "refuse",
                "POST",
                "/predict",
                b'{"text": "\xff\xfe"}',
                json_type,
                None,
            ),
            (
                "malformed body",
                "POST /predict 100,000-deep nesting",
                "refuse",
                "POST",
                "/predict",
                b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                json_type,
                None,
            ),
            (
                "malformed body",
                'POST /predict {"text": NaN}',
                "refuse",
                "POST",
                "/predict",
                b'{"text": NaN}',
                json_type,
                None,
            ),
            (
                "malformed body",
                'POST /predict {"texts": []}',
                "refuse",
                "POST",
                "/predict",
                b'{"texts": []}',
                json_type,
                None,
            ),
            (
                "malformed body",
                'POST /predict {"texts": [1, 2]}',
                "refuse",
                "POST",
                "/predict",
                b'{"texts": [1, 2]}',
                json_type,
                None,
            ),
            (
                "malformed body",
                'POST /predict {"text": null}',
                "refuse",
                "POST",
                "/predict",
                b'{"text": null}',
                json_type,
                None,
            ),
            (
                "malformed body",
                "POST /predict an unknown field",
                "refuse",
                "POST",
                "/predict",
                b'{"text": "a", "x": 1}',
                json_type,
                None,
            ),
            (
                "malformed body",
                "POST /predict duplicated keys",
                "either",
                "POST",
                "/predict",
                b'{"text": "a", "text": "b"}',
                json_type,
                None,
            ),
            (
                "odd text",
                "POST /predict a lone surrogate \\ud800",
                "work",
                "POST",
                "/predict",
                b'{"text": "good \\ud800"}',
                json_type,
                "6",
            ),
            (
                "odd text",
                "POST /predict a NUL character",
                "work",
                "POST",
                "/predict",
                b'{"text": "go\\u0000od"}',
                json_type,
                None,
            ),
            (
                "odd text",
                "POST /feedback a lone surrogate",
                "work",
                "POST",
                "/feedback",
                b'{"text": "good \\udfff"}',
                json_type,
                None,
            ),
            (
                "odd text",
                "POST /explain a lone surrogate",
                "work",
                "POST",
                "/explain",
                b'{"text": "good \\ud83d film", "method": "attention"}',
                json_type,
                "6",
            ),
            (
                "huge numbers",
                "POST /explain num_samples 1e400",
                "refuse",
                "POST",
                "/explain",
                b'{"text": "good", "num_samples": 1e400}',
                json_type,
                None,
            ),
            (
                "huge numbers",
                "POST /explain num_samples 10**30",
                "refuse",
                "POST",
                "/explain",
                b'{"text": "good", "num_samples": ' + str(10**30).encode() + b"}",
                json_type,
                None,
            ),
            (
                "huge numbers",
                "POST /explain seed 2**64",
                "refuse",
                "POST",
                "/explain",
                b'{"text": "good", "seed": ' + str(2**64).encode() + b"}",
                json_type,
                None,
            ),
            (
                "huge numbers",
                "GET /feedback?limit=10**20",
                "refuse",
                "GET",
                "/feedback?limit=100000000000000000000",
                b"",
                {},
                None,
            ),
            ("huge numbers", "GET /feedback?after_id=-1", "refuse", "GET", "/feedback?after_id=-1", b"", {}, None),
            (
                "huge numbers",
                "GET /trends?since=99999-01-01T00:00",
                "refuse",
                "GET",
                "/trends?since=99999-01-01T00:00",
                b"",
                {},
                None,
            ),
            (
                "huge numbers",
                "POST /feedback a timestamp past year 9999 in UTC",
                "refuse",
                "POST",
                "/feedback",
                b'{"text": "good", "timestamp": "9999-12-31T23:59:00-23:59"}',
                json_type,
                None,
            ),
            (
                "wrong content type",
                "POST /predict JSON sent as text/plain (a cross-site simple request)",
                "refuse",
                "POST",
                "/predict",
                b'{"text": "good"}',
                {"Content-Type": "text/plain"},
                None,
            ),
            (
                "wrong content type",
                "POST /predict as a urlencoded form",
                "refuse",
                "POST",
                "/predict",
                b"text=good",
                {"Content-Type": "application/x-www-form-urlencoded"},
                None,
            ),
            (
                "wrong content type",
                "POST /predict as multipart",
                "refuse",
                "POST",
                "/predict",
                *multipart_args({"text": "good"}),
                None,
            ),
            (
                "wrong content type",
                "POST /score with a JSON body",
                "refuse",
                "POST",
                "/score",
                b'{"file": "x"}',
                json_type,
                None,
            ),
            (
                "wrong content type",
                "POST /score/columns a .exe file",
                "refuse",
                "POST",
                "/score/columns",
                *multipart_args({}, {"file": ("x.exe", b"MZ\x90\x00")}),
                None,
            ),
            (
                "limits",
                "POST /predict 1,001 texts",
                "refuse",
                "POST",
                "/predict",
                json.dumps({"texts": ["good"] * 1001}).encode(),
                json_type,
                None,
            ),
            (
                "limits",
                "POST /predict a 20,001-character text",
                "refuse",
                "POST",
                "/predict",
                json.dumps({"text": "a" * 20_001}).encode(),
                json_type,
                None,
            ),
            (
                "limits",
                "POST /explain a 20,001-character text",
                "refuse",
                "POST",
                "/explain",
                json.dumps({"text": "a" * 20_001}).encode(),
                json_type,
                None,
            ),
            (
                "limits",
                "POST /predict 100 texts of 19,000 characters (1.9 MB, under every limit)",
                "work",
                "POST",
                "/predict",
                json.dumps({"texts": [("good film " * 1900)[:19_000]] * 100}).encode(),
                json_type,
                None,
            ),
            ("limits", "POST /explain an empty text", "refuse", "POST", "/explain", b'{"text": ""}', json_type, None),
            (
                "limits",
                "POST /explain a label the model lacks",
                "refuse",
                "POST",
                "/explain",
                b'{"text": "good", "label": "meh"}',
                json_type,
                None,
            ),
            ("odd request", "TRACE /", "refuse", "TRACE", "/", b"", {}, None),
            (
                "odd request",
                "GET /score/\u00e9.csv (non-ASCII, percent-encoded)",
                "refuse",
                "GET",
                "/score/%C3%A9.csv",
                b"",
                {},
                None,
            ),
        ]
        for kind, name, expect, method, path, body, headers, item in cases:
            self.call(kind, name, expect, port, method, path, body, headers, item)
        raw = [
            (
                "limits",
                "Content-Length 3,000,000 with a short body",
                "refuse",
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 3000000\r\n\r\n{}",
            ),
            (
                "limits",
                "a chunked body over the 2 MB limit",
                "refuse",
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
                + b"".join(b"%x\r\n" % 65536 + b"a" * 65536 + b"\r\n" for _ in range(40))
                + b"0\r\n\r\n",
            ),
            (
                "limits",
                "a multipart upload declaring 80 MB",
                "refuse",
                b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                b"Content-Length: 80000000\r\n\r\n--x\r\n",
            ),
            (
                "odd request",
                "Content-Length and Transfer-Encoding together (smuggling)",
                "refuse",
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            ),
            (
                "odd request",
                "a 100 KB header",
                "either",
                b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
            ),
            (
                "odd request",
                "a 20 MB header",
                "refuse",
                b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000_000 + b"\r\n\r\n",
            ),
            (
                "odd request",
                "20,000 headers",
                "refuse",
                b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + b"".join(b"X-%d: a\r\n" % i for i in range(20_000))
                + b"\r\n",
            ),
            (
                "odd request",
                "a 100 KB request line",
                "refuse",
                b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            ),
        ]
        for kind, name, expect, data in raw:
            if self.api_key:
                data = data.replace(
                    b"Host: 127.0.0.1\r\n",
                    b"Host: 127.0.0.1\r\nAuthorization: Bearer " + self.api_key.encode() + b"\r\n",
                )
            reply = raw_request(port, data)
            verdict, detail = judge_reply(reply, expect, self.leaks)
            self.record(
                kind,
                name,
                expect,
                verdict,
                detail,
                data[:80].decode("latin-1").replace("\r\n", " | "),
                None,
                reply.seconds,
            )

    # --- the opt-in security options users expect (issue section "Security options") ---
    def page_security(self, port: int) -> None:
        formulas = ["=1+2", "+SUM(1,1)", "-2+3", "@SUM(1)", '=HYPERLINK("http://evil.example","x")', "\t=1+1"]
        table = csv_text([(f,) for f in formulas], ("text",)).encode()
        body, ctype = multipart({}, {"file": ("formulas.csv", table)})
        reply = request(port, "POST", "/score", body, {**self.auth, "Content-Type": ctype})
        if reply.status != 200:
            verdict, detail = judge_reply(reply, "work")
            self.record(
                "csv formula", "scored download of formula cells", "refuse", verdict, detail, "POST /score", "S"
            )
        else:
            download = json.loads(reply.body)["download"]
            text = request(port, "GET", download, headers=self.auth).body.decode("utf-8", "replace")
            import csv as csv_module

            cells = [row[0] for row in list(csv_module.reader(io.StringIO(text)))[1:] if row]
            live = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
            self.record(
                "csv formula",
                "scored download keeps formula cells live (=, +, -, @)",
                "refuse",
                "accepted" if live else "clean",
                f"live cells: {live}" if live else "neutralised",
                f"GET {download}",
                "S",
            )
        evil = "http://evil.example"
        self.call(
            "cross-site",
            "forged Host header (DNS rebinding): GET /model",
            "refuse",
            port,
            "GET",
            "/model",
            headers={"Host": "evil.example"},
            item="S",
        )
        self.call(
            "cross-site",
            "forged Host header: POST /predict",
            "refuse",
            port,
            "POST",
            "/predict",
            b'{"text": "good"}',
            {"Host": "evil.example:80", "Content-Type": "application/json"},
            item="S",
        )
        body, ctype = multipart({}, {"file": ("x.csv", csv_text(rows(5, 13)).encode())})
        self.call(
            "cross-site",
            "cross-site form post to /score (Origin evil, no CSRF token)",
            "refuse",
            port,
            "POST",
            "/score",
            body,
            {"Content-Type": ctype, "Origin": evil, "Sec-Fetch-Site": "cross-site"},
            item="S",
            auth=False,
        )
        self.call(
            "cross-site",
            "cross-site form post to /score/columns",
            "refuse",
            port,
            "POST",
            "/score/columns",
            body,
            {"Content-Type": ctype, "Origin": evil, "Sec-Fetch-Site": "cross-site"},
            item="S",
            auth=False,
        )
        for name, method, headers in (
            (
                "CORS preflight from another origin: OPTIONS /predict",
                "OPTIONS",
                {
                    "Origin": evil,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            ),
            ("CORS: GET /feedback from another origin", "GET", {"Origin": evil}),
        ):
            reply = request(
                port, method, "/predict" if method == "OPTIONS" else "/feedback", headers={**self.auth, **headers}
            )
            allowed = reply.headers.get("access-control-allow-origin")
            self.record(
                "cross-site",
                name,
                "refuse",
                "accepted" if allowed in ("*", evil) else "clean",
                f"Access-Control-Allow-Origin: {allowed}" if allowed else f"{reply.status}, no CORS header",
                method,
                "S",
            )
        filename = f"../../evil-{secrets.token_hex(4)}.csv"
        body, ctype = multipart({}, {"file": (filename, csv_text(rows(5, 14)).encode())})
        self.call(
            "path traversal",
            "upload named ../../evil.csv",
            "either",
            port,
            "POST",
            "/score/columns",
            body,
            {"Content-Type": ctype},
        )
        escaped = list(self.folder.rglob(Path(filename).name)) + list(
            Path(tempfile.gettempdir()).glob(Path(filename).name)
        )
        if escaped:
            self.record(
                "path traversal",
                "... the upload's name escaped the folder",
                "refuse",
                "accepted",
                f"wrote {escaped[0]}",
            )

    def api_key_cases(self, port: int) -> None:
        if not self.api_key:
            self.record(
                "api key",
                "requests without the bearer token are refused",
                "refuse",
                "skipped",
                "serve has no --api-key option here (opt-in security options not built)",
                item="S",
            )
            return
        self.record_reply(
            "api key",
            "POST /predict without the token",
            "refuse",
            request(port, "POST", "/predict", b'{"text": "good"}', {"Content-Type": "application/json"}),
        )
        self.record_reply(
            "api key",
            "POST /predict with a wrong token",
            "refuse",
            request(
                port,
                "POST",
                "/predict",
                b'{"text": "good"}',
                {"Content-Type": "application/json", "Authorization": "Bearer wrong"},
            ),
        )
        self.record_reply(
            "api key", "GET /health without the token (stays open)", "work", request(port, "GET", "/health")
        )
        self.record_reply(
            "api key", "GET /score/<token>.csv without the token", "refuse", request(port, "GET", "/score/x.csv")
        )

    def record_reply(self, kind: str, name: str, expect: str, reply: Reply, item: str | None = "S") -> None:
        verdict, detail = judge_reply(reply, expect, self.leaks)
        self.record(kind, name, expect, verdict, detail, name, item, reply.seconds)

    # --- 2 workers under load, one killed; the supervisor when a slot keeps failing ---
    def load_test(self, main: Server) -> None:
        server = Server(
            self.art,
            "workers",
            "blend.sentilstm",
            self.shared_tmp,
            "--workers",
            "2",
            *(("--api-key", self.api_key) if self.api_key else ()),
        )
        server.headers = self.auth
        if not server.start():
            self.record(
                "workers",
                "start with --workers 2",
                "work",
                "other",
                f"did not start: {head(server.log.read_text(), 6)}",
            )
            return
        try:
            self.shared_folder(main, server)
            self.kill_one_worker(server)
            self.failing_slot(server)
        finally:
            seconds = server.stop()
            self.record(
                "workers",
                "SIGTERM of an idle 2-worker server",
                "work",
                "clean" if seconds is not None else "hang/blow-up",
                f"exited in {seconds:.1f} s" if seconds is not None else "still running after 30 s (killed)",
                "SIGTERM",
            )

    def shared_folder(self, a: Server, b: Server) -> None:
        body, ctype = multipart({}, {"file": ("mine.csv", csv_text(rows(5, 15)).encode())})
        reply = request(a.port, "POST", "/score/columns", body, {**self.auth, "Content-Type": ctype})
        token = json.loads(reply.body).get("upload") if reply.status == 200 else None
        if token is None:
            self.record(
                "hijacked upload folder",
                "two servers share one upload folder",
                "refuse",
                "skipped",
                f"upload failed: {reply.status}",
            )
            return
        body, ctype = multipart({"upload": token}, {})
        other = request(b.port, "POST", "/score", body, {**self.auth, "Content-Type": ctype})
        self.record(
            "hijacked upload folder",
            "a second server (another port) serves the first one's upload token",
            "refuse",
            "accepted" if other.status == 200 else "clean",
            f"second server answered {other.status}",
            "POST /score upload=<token from the other server>",
            "1",
        )

    def kill_one_worker(self, server: Server) -> None:
        stop = threading.Event()
        counts: Counter[str] = Counter()
        lock = threading.Lock()
        body = json.dumps({"texts": PROBES}).encode()
        headers = {**self.auth, "Content-Type": "application/json"}

        def client() -> None:
            while not stop.is_set():
                reply = request(server.port, "POST", "/predict", body, headers, timeout=15)
                with lock:
                    counts["ok" if reply.status == 200 else "5xx" if reply.status >= 500 else "failed"] += 1

        before = set(server.settled_workers(2))
        threads = [threading.Thread(target=client, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while counts["ok"] < 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        victim = min(before) if before else None
        if victim is None:
            stop.set()
            self.record(
                "workers", "load test, one worker SIGKILLed", "work", "other", "two workers never both answered /health"
            )
            return
        with lock:
            at_kill = dict(counts)
        os.kill(victim, signal.SIGKILL)
        replaced = None
        deadline = time.monotonic() + 60
        while replaced is None and time.monotonic() < deadline:
            fresh = set(server.workers()) - before
            pids = {
                json.loads(r.body).get("pid")
                for r in [request(server.port, "GET", "/health", headers=self.auth, timeout=5)]
                if r.status == 200
            }
            if fresh and pids & fresh:
                replaced = fresh
            time.sleep(0.2)
        with lock:
            after_replace = dict(counts)
        time.sleep(2.0)  # a little more load on the new worker
        stop.set()
        for thread in threads:
            thread.join(20)
        total = dict(counts)
        failed = total.get("failed", 0) + total.get("5xx", 0)
        late = (total.get("failed", 0) + total.get("5xx", 0)) - (
            after_replace.get("failed", 0) + after_replace.get("5xx", 0)
        )
        detail = (
            f"{sum(total.values())} requests from 6 clients, {failed} failed ({total.get('5xx', 0)} 5xx), "
            f"{late} after the replacement; worker {victim} killed after {sum(at_kill.values())} requests; "
            + ("replaced" if replaced else "NOT replaced within 60 s")
        )
        verdict = "clean" if replaced and total.get("5xx", 0) == 0 and late == 0 else "other"
        self.record(
            "workers",
            "load test with --workers 2, one worker SIGKILLed mid-run",
            "work",
            verdict,
            detail,
            "6 keep-alive clients POST /predict; kill -9 <worker>",
        )

    def failing_slot(self, server: Server) -> None:
        """Kill one slot's worker, then its replacements as they start: the healthy worker must keep serving."""
        healthy = set(server.settled_workers(2))
        if len(healthy) < 2:
            self.record(
                "workers",
                "one slot fails twice at start-up",
                "work",
                "other",
                "two workers never both answered /health",
            )
            return
        victim = min(healthy)
        known = set(healthy)
        os.kill(victim, signal.SIGKILL)  # a worker that has served for a while dies; its replacements die as they start
        early = 0
        deadline = time.monotonic() + 30
        while early < 2 and time.monotonic() < deadline and server.process.poll() is None:
            for pid in set(server.workers()) - known:
                known.add(pid)
                os.kill(pid, signal.SIGKILL)
                early += 1
            time.sleep(0.02)
        answered = 0
        deadline = time.monotonic() + 10
        while answered < 5 and time.monotonic() < deadline:  # five answers in a row from whoever is left
            ok = request(server.port, "GET", "/health", headers=self.auth, timeout=5).status == 200
            answered = answered + 1 if ok else 0
            time.sleep(0.2)
        alive = server.process.poll() is None
        last = [line.strip() for line in server.log.read_text(errors="replace").splitlines() if "worker" in line][-1:]
        self.record(
            "workers",
            "one slot fails twice at start-up: the healthy worker keeps serving",
            "work",
            "clean" if alive and answered == 5 else "other",
            f"killed a settled worker, then its replacement {early} times as it started; "
            + ("the server kept answering /health" if answered == 5 else "/health stopped answering")
            + f"; supervisor {'running' if alive else f'exited {server.process.returncode}'}"
            + (f"; its log: {last[0][:160]}" if last else ""),
            "kill -9 a worker, then its replacements as they start",
            "9",
        )

    # --- work per request: explain, gzip bombs, disconnects, shutdown (throwaway servers) ---
    def bounded_work(self) -> None:
        tmp = self.folder / "tmp-work"
        tmp.mkdir()
        words = "the film was really good and not bad plot acting".split()
        long_text = " ".join(random.Random(0).choice(words) for _ in range(5000))[:20_000]
        explain = json.dumps({"text": long_text, "method": "kernel_shap", "num_samples": 5000}).encode()
        first = Server(
            self.art, "explain", "blend.sentilstm", tmp, *(("--api-key", self.api_key) if self.api_key else ())
        )
        first.headers = self.auth
        if first.start():
            try:
                self.call(
                    "unbounded work",
                    "POST /explain 20,000 characters, kernel_shap, 5,000 samples (client waits 20 s)",
                    "either",
                    first.port,
                    "POST",
                    "/explain",
                    explain,
                    {"Content-Type": "application/json"},
                    "5",
                    20,
                )
                abandoned = [
                    threading.Thread(
                        target=request,
                        args=(
                            first.port,
                            "POST",
                            "/explain",
                            explain,
                            {**self.auth, "Content-Type": "application/json"},
                            5,
                        ),
                    )
                    for _ in range(3)
                ]
                for thread in abandoned:  # three more clients, each gone after 5 s
                    thread.start()
                for thread in abandoned:
                    thread.join()
                idle, seconds = first.settles(10)
                self.record(
                    "unbounded work",
                    "3 more explanations abandoned after 5 s: the server is idle again within 10 s",
                    "work",
                    "clean" if idle else "hang/blow-up",
                    f"idle after {seconds:.0f} s" if idle else "still computing 10 s after every client left",
                    "",
                    "5",
                )
            finally:
                seconds = first.stop(signal.SIGTERM, 45)
            self.record(
                "shutdown",
                "SIGTERM with abandoned explanations queued: exits within 20 s",
                "work",
                "clean" if seconds is not None and seconds <= 20 else "hang/blow-up",
                f"exited in {seconds:.1f} s" if seconds is not None else "still running 45 s after SIGTERM (killed)",
                "kill -TERM <server>",
                "5",
            )
        else:
            self.record(
                "unbounded work", "start a server for /explain", "work", "other", head(first.log.read_text(), 4)
            )
        if not self.quick:
            self.bombs(tmp)

    def bombs(self, tmp: Path) -> None:
        bomb = gzip.compress(b"text\n" + b"good film\n" * 10_000_000, 9)  # 100 MB of rows, ~200 KB on the wire
        server = Server(
            self.art, "bomb", "blend.sentilstm", tmp, *(("--api-key", self.api_key) if self.api_key else ())
        )
        server.headers = self.auth
        if not server.start():
            self.record(
                "unbounded work", "start a server for uploads", "work", "other", head(server.log.read_text(), 4)
            )
            return
        stale: list[Path] = []
        try:
            body, ctype = multipart({}, {"file": ("bomb.csv.gz", bomb)})
            reply = request(server.port, "POST", "/score", body, {**self.auth, "Content-Type": ctype}, timeout=15)
            if reply.status == 200:
                verdict, detail = (
                    "accepted",
                    f"scored {json.loads(reply.body).get('rows')} rows from a {len(bomb) // 1024} KB upload",
                )
            else:
                verdict, detail = judge_reply(reply, "refuse")
            self.record(
                "unbounded work",
                f"gzip bomb: a {len(bomb) // 1024} KB .csv.gz of 10,000,000 rows to POST /score (client waits 15 s)",
                "refuse",
                verdict,
                detail,
                "POST /score file=bomb.csv.gz",
                "5",
                reply.seconds,
            )
            idle, seconds = server.settles(15)
            self.record(
                "unbounded work",
                "after the bomb's client left, the server is idle again within 15 s",
                "work",
                "clean" if idle else "hang/blow-up",
                f"idle after {seconds:.0f} s" if idle else "still scoring 15 s after the client left",
                "",
                "5",
            )
            big = csv_text([(t,) for t, _ in rows(200_000, 16)], ("text",)).encode()
            body, ctype = multipart({}, {"file": ("big.csv", big)})
            threading.Thread(
                target=request,
                args=(server.port, "POST", "/score", body, {**self.auth, "Content-Type": ctype}, 120),
                daemon=True,
            ).start()
            deadline = time.monotonic() + 60
            while not stale and time.monotonic() < deadline:
                stale = [p for p in tmp.rglob("*.tmp")]
                time.sleep(0.02)
        finally:
            server.stop(signal.SIGKILL, 10)
        if not stale:
            self.record(
                "interrupted run",
                "a killed server's half-written scored file is swept by the next server",
                "work",
                "skipped",
                "no temporary file appeared (the upload was refused or finished first)",
                "",
                "12",
            )
            return
        again = Server(
            self.art, "again", "blend.sentilstm", tmp, *(("--api-key", self.api_key) if self.api_key else ())
        )
        again.headers = self.auth
        if again.start():
            body, ctype = multipart({}, {"file": ("small.csv", csv_text(rows(5, 17)).encode())})
            request(again.port, "POST", "/score", body, {**self.auth, "Content-Type": ctype})
            again.stop()
        left = [p for p in stale if p.exists()]
        self.record(
            "interrupted run",
            "a killed server's half-written scored file is swept by the next server",
            "work",
            "data lost" if left else "clean",
            f"{left[0].name} still there after a new server started and scored a file" if left else "swept",
            "kill -9 the server mid-score; start it again",
            "12",
        )


def multipart_args(
    fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None
) -> tuple[bytes, dict[str, str]]:
    body, ctype = multipart(fields, files or {})
    return body, {"Content-Type": ctype}
