"""The audit's parts shared by every surface: cases and verdicts, running a command in a sandbox, snapshots,
tiny tables, and the artefacts every case starts from (see bench/hardening.py)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
SENTILSTM = [PYTHON, "-m", "sentilstm"]
VERDICTS = ("clean", "traceback", "data lost", "hang/blow-up", "accepted", "other", "skipped")
SURFACES = ("cli", "python", "model", "http")
AS_LIMIT = 4 << 30  # address space of every process started here (a tiny training run peaks at ~0.6 GB)
BASE_MB = 500  # RSS of a process that has imported sentilstm and loaded a tiny model
ALLOC_SIGNS = (
    "MemoryError",
    "can't allocate memory",
    "std::bad_alloc",
    "Cannot allocate memory",
    "DefaultCPUAllocator",
    "Unable to allocate",
    "out of memory",
)
NOBODY = 65534  # the "other local user" who pre-creates the page's upload folder
MAX_TASKS = 128  # processes + threads a "spawn" case may start before the audit stops it (root ignores RLIMIT_NPROC)
HUGE = {"10**12": "1000000000000", "2**70": str(2**70)}
TINY = [
    "--epochs",
    "1",
    "--embedding-dim",
    "8",
    "--hidden-size",
    "8",
    "--threads",
    "1",
    "--min-frequency",
    "1",
    "--blend",
    "none",
    "--quiet",
]
PROBES = ["good film", "not good at all", "awful plot", "not bad", "really lovely acting"]
POSITIVE, NEGATIVE = ("good", "great", "lovely", "superb"), ("bad", "awful", "boring", "poor")
FILLER = ("the", "film", "was", "really", "plot", "and", "i", "it", "acting", "story")
# the checkpoint run (killed after its first epoch, then resumed); --max-length 4 truncates most texts (issue item 10)
CKPT_ARGS = [
    "--epochs",
    "6",
    "--patience",
    "6",
    "--batch-size",
    "1",
    "--max-length",
    "4",
    "--embedding-dim",
    "8",
    "--hidden-size",
    "8",
    "--threads",
    "1",
    "--min-frequency",
    "1",
    "--blend",
    "none",
    "--no-report",
    "--quiet",
]


# ----- cases and outcomes ---------------------------------------------------------------------------------------
@dataclass
class Case:
    """One bad input for a command: what it is, how to run it, and what a clean outcome is."""

    surface: str
    kind: str  # the family, e.g. "output == input"
    name: str  # what was tried, readable on its own
    argv: list[str | bytes] = field(default_factory=list)  # after `python -m sentilstm`
    expect: str = "refuse"  # refuse | work | either
    setup: Callable[[Path], None] | None = None  # adds files to the case folder
    sandbox: str = (
        ""  # "" | readonly (ro/ is read-only) | full (full/ is a full tmpfs) | spawn (process/thread watchdog)
    )
    outputs: tuple[str, ...] = ()  # files the command may write (or overwrite) when it succeeds
    timeout: float = 60.0  # a tiny training run takes ~5 s; tune with its --timeout 20 about 30 s
    item: str | None = None  # issue 14's item it reproduces ("1".."13", "S" for the security options); None: new
    quick: bool = False
    check: Callable[[Path, Run], str | None] | None = None  # after exit 0: what is wrong with the result, if anything
    accepted_if: str | None = None  # stderr text meaning the bad value passed every check (a later step failed)
    late_if: str | None = None  # output text meaning the refusal came too late (e.g. after training)
    command: list[str] | None = None  # a whole command instead of sentilstm's argv
    custom: Callable[[Path, dict[str, str]], tuple[str, str, str]] | None = None  # a flow: (verdict, detail, output)


@dataclass
class Outcome:
    surface: str
    kind: str
    name: str
    expect: str
    item: str | None
    verdict: str
    detail: str = ""
    command: str = ""
    output: str = ""
    seconds: float = 0.0
    peak_mb: float | None = None


@dataclass
class Run:
    rc: int | None  # None: killed at the time limit; negative: killed by that signal
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float
    note: str = ""  # why the audit killed it early


def head(text: str, lines: int = 4, width: int = 300) -> str:
    kept = [line[:width] for line in text.strip().splitlines() if line.strip()][:lines]
    return "\n".join(kept)


def exception_line(text: str) -> str:
    """The exception line of the last traceback in `text` (e.g. "ValueError: ..."), else its last line."""
    lines = [line.strip(" │╰─╯") for line in text.splitlines() if line.strip(" │╰─╯")]
    for line in reversed(lines):
        if (
            ":" in line
            and line.split(":")[0].replace(".", "").replace("_", "").isalnum()
            and ("Error" in line.split(":")[0] or "Exception" in line.split(":")[0])
        ):
            return line[:300]
    return lines[-1][:300] if lines else ""


def classify(
    expect: str,
    run: Run,
    *,
    blowup_mb: float,
    lost: list[str],
    leftovers: list[str],
    problem: str | None = None,
    accepted_if: str | None = None,
    late_if: str | None = None,
) -> tuple[str, str]:
    """(verdict, detail) of one command's run; see the module docstring for the rules."""
    output = run.stdout + "\n" + run.stderr
    if lost:
        return "data lost", "; ".join(lost)
    if run.note:
        return "hang/blow-up", run.note
    if run.rc is None:
        return "hang/blow-up", f"still running after {run.seconds:.0f} s (killed)"
    if run.peak_mb > blowup_mb:
        return "hang/blow-up", f"peak RSS {run.peak_mb:.0f} MB (exit {run.rc}): {exception_line(output)}"
    if run.rc < 0 or run.rc in (134, 137, 139) or any(sign in output for sign in ALLOC_SIGNS):
        how = f"killed by signal {-run.rc}" if run.rc < 0 else f"exit {run.rc}"
        return "hang/blow-up", f"{how}, out of memory under the {AS_LIMIT >> 30} GB limit: {exception_line(output)}"
    if "Traceback" in output:
        return "traceback", exception_line(output)
    if leftovers:
        return "data lost", "half-written output left: " + ", ".join(leftovers)
    if run.rc == 0:
        if problem:
            return "accepted", problem
        return ("accepted", "exit 0: taken silently") if expect == "refuse" else ("clean", "succeeded")
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    if run.rc == 2 and len(errors) == 1 and lines[-1].startswith("error:"):
        message = errors[0]
    elif run.rc == 2 and any(line.startswith("Usage:") for line in lines) and not errors:
        boxed = [line.strip("│ ") for line in lines if line.startswith("│")]
        message = "usage error: " + " ".join(boxed)[:300]
    elif run.rc == 2:
        return "other", f"exit 2 without exactly one final 'error:' line: {head(run.stderr, 2)}"
    else:
        return "traceback", f"exit {run.rc} without a one-line error: {head(output, 2)}"
    if accepted_if and accepted_if in run.stderr and expect == "refuse":
        return "accepted", f"passed every check (only a later step failed): {message}"
    if late_if and late_if in output:
        return "other", f"refused only after the work started ({late_if!r} printed first): {message}"
    if expect == "work":
        return "other", f"refused a valid input: {message}"
    return "clean", message


# ----- files: snapshots, links, odd tables ------------------------------------------------------------------------
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (symlinks and FIFOs are not followed or opened): path -> signature."""
    state: dict[str, str] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            rel = os.fsdecode(path.relative_to(folder))
            if name.startswith(".audit"):
                continue
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                state[rel] = "link:" + os.fsdecode(os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                state[rel] = "file:" + sha256(path)
            elif not stat.S_ISDIR(info.st_mode):
                state[rel] = "special"
    return state


def compare(
    before: dict[str, str], after: dict[str, str], outputs: tuple[str, ...], succeeded: bool
) -> tuple[list[str], list[str]]:
    """(lost, leftovers): pre-existing files changed or gone (outputs may change on success); new *.tmp files, and
    new declared outputs after a failure."""
    lost = []
    for rel, signature in before.items():
        now = after.get(rel)
        if not signature.startswith("file:") or now == signature or (succeeded and rel in outputs):
            continue
        lost.append(f"{rel} {'deleted' if now is None else 'changed'}")
    leftovers = [
        rel
        for rel in sorted(after.keys() - before.keys())
        if rel.endswith(".tmp") or (not succeeded and rel in outputs)
    ]
    return lost, leftovers


def sentence(rng: random.Random) -> tuple[str, str]:
    positive, negated = rng.random() < 0.5, rng.random() < 0.3
    words = [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
    words.insert(
        rng.randint(0, len(words)), ("not " if negated else "") + rng.choice(POSITIVE if positive else NEGATIVE)
    )
    return " ".join(words), "pos" if positive != negated else "neg"


def csv_text(rows: list[tuple[str, ...]], header: tuple[str, ...] = ("text", "label")) -> str:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value

    return "\n".join(",".join(map(cell, row)) for row in [header, *rows]) + "\n"


def rows(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [sentence(rng) for _ in range(n)]


def writer(name: str, content: str | bytes | Callable[[Path], None]) -> Callable[[Path], None]:
    """A setup step that writes `content` (text, bytes, or a function of the path) to `name` in the case folder."""

    def write(folder: Path) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))

    return write


def steps(*functions: Callable[[Path], None] | None) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        for function in functions:
            if function is not None:
                function(folder)

    return run


def symlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda folder: os.symlink(target, folder / name)


def hardlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda folder: os.link(folder / target, folder / name)


def copy(name: str, source: str) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / source, folder / name)

    return run


def fifo(name: str) -> Callable[[Path], None]:
    return lambda folder: os.mkfifo(folder / name)


def wide_csv(columns: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with open(path, "w") as out:
            out.write("text,label," + ",".join(f"c{i}" for i in range(columns - 2)) + "\n")
            for text, label in rows(60, 5):
                out.write(f"{text},{label}\n")

    return write


def nested_parquet(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = rows(60, 6)
    table = pa.table({"text": [[t, t] for t, _ in data], "label": [label for _, label in data]})
    pq.write_table(table, path)


def garbage(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def odd_tables() -> list[tuple[str, str, str, str | None, Callable[[Path], None]]]:
    """(what, file name, expect, issue item, writer) of odd tables: legal but unusual, or broken."""
    base = rows(80, 3)
    jsonl = lambda items: "\n".join(json.dumps(item) for item in items) + "\n"  # noqa: E731
    valid = [{"text": t, "label": label} for t, label in base]
    return [
        ("10^5 columns in the header", "wide5.csv", "either", "7", writer("wide5.csv", wide_csv(100_000))),
        ("10^6 columns in the header (8 MB)", "wide6.csv", "either", "7", writer("wide6.csv", wide_csv(1_000_000))),
        (
            "1,000 classes",
            "classes.csv",
            "either",
            "7",
            writer("classes.csv", csv_text([(sentence(random.Random(i))[0], f"c{i % 1000}") for i in range(15_000)])),
        ),
        (
            "mixed-type JSONL text column",
            "mixed.jsonl",
            "refuse",
            "8",
            writer(
                "mixed.jsonl",
                jsonl(
                    valid
                    + [
                        {"text": 5, "label": "pos"},
                        {"text": {"a": 1}, "label": "neg"},
                        {"text": ["x", "y"], "label": "pos"},
                        {"text": True, "label": "neg"},
                    ]
                ),
            ),
        ),
        (
            "mixed-type JSONL label column",
            "mixedlabel.jsonl",
            "refuse",
            "8",
            writer(
                "mixedlabel.jsonl", jsonl(valid + [{"text": "good", "label": [1]}, {"text": "bad", "label": {"x": 1}}])
            ),
        ),
        (
            "nested Parquet text column (list<string>)",
            "nested.parquet",
            "refuse",
            "8",
            writer("nested.parquet", nested_parquet),
        ),
        ("an empty file", "empty.csv", "refuse", None, writer("empty.csv", b"")),
        ("a header and no rows", "header.csv", "refuse", None, writer("header.csv", "text,label\n")),
        (
            "NUL bytes in cells",
            "nul.csv",
            "either",
            None,
            writer("nul.csv", csv_text([(f"{t}\x00x", label) for t, label in base])),
        ),
        (
            "a NUL byte in the header",
            "nulhead.csv",
            "either",
            None,
            writer("nulhead.csv", csv_text(base, ("te\x00xt", "label"))),
        ),
        (
            "a 1 MB single cell",
            "bigcell.csv",
            "work",
            None,
            writer("bigcell.csv", csv_text(base + [(("good " * 200_000).strip(), "pos")])),
        ),
        ("CRLF line endings", "crlf.csv", "work", None, writer("crlf.csv", csv_text(base).replace("\n", "\r\n"))),
        ("CR-only line endings", "cr.csv", "either", None, writer("cr.csv", csv_text(base).replace("\n", "\r"))),
        ("a UTF-8 byte-order mark", "bom.csv", "work", None, writer("bom.csv", "\ufeff" + csv_text(base))),
        (
            "duplicated column names",
            "dup.csv",
            "either",
            None,
            writer("dup.csv", csv_text([(t, t, label) for t, label in base], ("text", "text", "label"))),
        ),
        (
            "UTF-16 bytes read as UTF-8",
            "utf16.csv",
            "either",
            None,
            writer("utf16.csv", csv_text(base).encode("utf-16")),
        ),
        (
            "Latin-1 bytes read as UTF-8",
            "latin1.csv",
            "work",
            None,
            writer("latin1.csv", csv_text([(f"{t} caf\xe9", label) for t, label in base]).encode("latin-1")),
        ),
        (
            "CESU-8 surrogate bytes in cells",
            "cesu.csv",
            "work",
            "6",
            writer("cesu.csv", csv_text(base).encode() + b"good \xed\xa0\xbd film,pos\n"),
        ),
        (
            "lone surrogate escapes in JSONL",
            "surrogate.jsonl",
            "work",
            "6",
            writer("surrogate.jsonl", jsonl(valid + [{"text": "good \ud83d film", "label": "pos"}])),
        ),
        ("plain text named .csv.gz", "fake.csv.gz", "refuse", None, writer("fake.csv.gz", csv_text(base))),
        (
            "a truncated gzip",
            "cut.csv.gz",
            "refuse",
            None,
            writer("cut.csv.gz", gzip.compress(csv_text(base).encode())[:300]),
        ),
        ("random bytes named .parquet", "bad.parquet", "refuse", None, writer("bad.parquet", garbage(5000))),
        ("random bytes named .csv", "random.csv", "either", None, writer("random.csv", garbage(5000))),
        (
            "only a text column (no labels)",
            "one.csv",
            "refuse",
            None,
            writer("one.csv", csv_text([(t,) for t, _ in base], ("text",))),
        ),
        (
            "every label empty",
            "nolabel.csv",
            "refuse",
            None,
            writer("nolabel.csv", csv_text([(t, "") for t, _ in base])),
        ),
        (
            "a single class",
            "oneclass.csv",
            "refuse",
            None,
            writer("oneclass.csv", csv_text([(t, "pos") for t, _ in base])),
        ),
        (
            "an unclosed quote",
            "unclosed.csv",
            "either",
            None,
            writer("unclosed.csv", csv_text(base) + '"good film,pos\n'),
        ),
        (
            "a deeply nested JSON line",
            "deep.jsonl",
            "refuse",
            None,
            writer("deep.jsonl", '{"text": ' + "[" * 100_000 + "]" * 100_000 + ', "label": "pos"}\n'),
        ),
        ("a folder named like a table", "folder.csv", "refuse", None, lambda folder: (folder / "folder.csv").mkdir()),
        ("a FIFO named like a table", "fifo.csv", "refuse", None, fifo("fifo.csv")),
        ("a symlink to /dev/zero named like a table", "zero.csv", "refuse", None, symlink("zero.csv", "/dev/zero")),
        ("an unknown extension (.xlsx)", "table.xlsx", "refuse", None, writer("table.xlsx", garbage(2000))),
    ]


# ----- running one command ----------------------------------------------------------------------------------------
class Sandbox:
    """How this machine can stop writes (read-only folder, full disk) and bound process counts."""

    def __init__(self) -> None:
        self.root = os.geteuid() == 0
        probe = (
            subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "true"], capture_output=True)
            if shutil.which("unshare")
            else None
        )
        self.namespaces = probe is not None and probe.returncode == 0

    def describe(self) -> str:
        disk = (
            "private mount namespaces (read-only bind mount; a full 256 KB tmpfs)"
            if self.namespaces
            else "chmod 555 and RLIMIT_FSIZE (not root)"
            if not self.root
            else "none: disk cases skipped"
        )
        return f"disk: {disk}; options that start processes or threads: stopped past {MAX_TASKS} tasks"

    def wrap(self, case: Case, command: list[str | bytes], folder: Path) -> list[str | bytes] | str:
        """The command line that runs `command` in the case's sandbox, or the reason it cannot run here."""
        limited: list[str | bytes] = ["prlimit", f"--as={AS_LIMIT}", "--"]
        if case.sandbox == "readonly":
            if self.namespaces:
                script = 'mount --bind ro ro && mount -o remount,bind,ro ro && exec "$@"'
                return [
                    *limited,
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "sh",
                    "-c",
                    script,
                    "sh",
                    *command,
                ]
            if self.root:
                return "root ignores file modes and mount namespaces are unavailable"
            os.chmod(folder / "ro", 0o555)
            return [*limited, *command]
        if case.sandbox == "full":
            fill = (
                "cp -a seed/. full/ && (dd if=/dev/zero of=full/.filler bs=4096 2>/dev/null; true) && "
                'find full -type f -exec sha256sum {} + > .audit-before.sha && "$@"; rc=$?; '
                "find full -type f -exec sha256sum {} + > .audit-after.sha; exit $rc"
            )
            if self.namespaces:
                script = "mount -t tmpfs -o size=256k tmpfs full && " + fill
                return [
                    *limited,
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "sh",
                    "-c",
                    script,
                    "sh",
                    *command,
                ]
            if self.root:
                return "mount namespaces are unavailable (no tmpfs to fill)"
            return ["prlimit", f"--as={AS_LIMIT}", "--fsize=65536", "--", "sh", "-c", fill, "sh", *command]
        return [*limited, *command]


def execute(
    command: list[str | bytes], cwd: Path, env: dict[str, str], timeout: float, max_tasks: int | None = None
) -> Run:
    """Run `command` in its own process group; wait at most `timeout` s (and, with `max_tasks`, stop it once its
    processes hold more threads than that); peak RSS from wait4."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
        rc: int | None = None
        usage = None
        note = ""
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                break
            tasks = group_tasks(process.pid) if max_tasks else 0
            too_many = max_tasks is not None and tasks > max_tasks
            if too_many or time.monotonic() - started > timeout:
                note = f"started {tasks} processes and threads (stopped past {max_tasks})" if too_many else ""
                kill_group(process.pid)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        process.returncode = rc if rc is not None else -9
        kill_group(process.pid)  # workers or helpers it left behind
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Run(
            rc,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
            usage.ru_maxrss / 1024 if usage is not None else 0.0,
            note,
        )


def group_tasks(pgid: int) -> int:
    """Threads of every process in the process group `pgid`."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            total += int(fields[17])
    return total


def select(cases: list[Any], surfaces: set[str], quick: bool, limit: int | None, match: str = "") -> list[Any]:
    texts = match.split("|")  # "a|b": cases whose name holds a or b
    chosen = [c for c in cases if c.surface in surfaces and (c.quick or not quick) and any(t in c.name for t in texts)]
    if limit:
        per_surface: Counter[str] = Counter()
        kept = []
        for case in chosen:
            if per_surface[case.surface] < limit:
                kept.append(case)
                per_surface[case.surface] += 1
        chosen = kept
    return chosen


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def shown(command: list[str | bytes]) -> str:
    parts = []
    for part in command:
        text = os.fsdecode(part) if isinstance(part, bytes) else part
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        parts.append(text if text and all(c.isalnum() or c in "-_./=:," for c in text) else repr(text))
    line = " ".join(parts)
    return line if len(line) < 400 else line[:400] + " ..."


# ----- the prepared artefacts -------------------------------------------------------------------------------------
@dataclass
class Artefacts:
    work: Path
    files: Path  # copied into every case folder
    env: dict[str, str]
    options: dict[str, list[dict[str, Any]]]  # verb -> its options (from the Typer command's signature)
    reference: dict[str, list[dict[str, Any]]]  # model -> `predict --json` rows for PROBES
    busy_port: int
    checkpoint: Path | None
    blowup_mb: float
    sandbox: Sandbox
    notes: list[str] = field(default_factory=list)


INTROSPECT = r"""
import inspect, json, typing
import typer
from sentilstm.cli import app
verbs = {}
for info in app.registered_commands:
    function = info.callback
    name = info.name or function.__name__.replace("_", "-")
    hints = typing.get_type_hints(function, include_extras=True)
    options = []
    for parameter in inspect.signature(function).parameters.values():
        hint = hints.get(parameter.name)
        if typing.get_origin(hint) is not typing.Annotated:
            continue
        base, *extras = typing.get_args(hint)
        spec = next((e for e in extras if type(e).__name__ in ("OptionInfo", "ArgumentInfo")), None)
        if spec is None or type(spec).__name__ != "OptionInfo":
            continue
        kinds = [k for k in (typing.get_args(base) or (base,)) if k is not type(None)]
        kind = kinds[0].__name__ if kinds and isinstance(kinds[0], type) else str(kinds[0])
        flags = [d for d in (spec.param_decls or ()) if d.startswith("--")] or ["--" + parameter.name.replace("_", "-")]
        options.append({"name": parameter.name, "option": flags[0].split("/")[0], "kind": kind})
    verbs[name] = options
print(json.dumps(verbs))
"""

REFERENCE = r"""
import json, sys
from sentilstm import load_model
probes = json.loads(sys.argv[1])
result = {}
for name in sys.argv[2:]:
    clf = load_model(name + ".sentilstm")
    result[name] = [{"label": str(label), "probabilities": [round(float(p), 6) for p in row]}
                    for label, row in zip(clf.predict(probes), clf.predict_proba(probes))]
print(json.dumps(result))
"""


def prepare(work: Path, blowup_mb: float, need_checkpoint: bool, log: Callable[[str], None]) -> Artefacts:
    """Tables, three tiny models, a checkpoint and the option list, in `work`."""
    files = work / "files"
    files.mkdir(parents=True)
    for name in ("tmp", "mpl", "cache", "cases", "odd", "tampered"):
        (work / name).mkdir()
    env = {
        **os.environ,
        "COLUMNS": "200",
        "OMP_NUM_THREADS": "1",
        "MPLCONFIGDIR": str(work / "mpl"),
        "SENTILSTM_CACHE": str(work / "cache"),
        "TMPDIR": str(work / "tmp"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p),
    }
    env.pop("SENTILSTM_MIRROR", None)
    (files / "train.csv").write_text(csv_text(rows(300, 0)))
    (files / "test.csv").write_text(csv_text(rows(60, 1)))
    (files / "valid.csv").write_text(csv_text(rows(60, 2)))
    (files / "test_unseen.csv").write_text(csv_text(rows(40, 4) + [("so so film", "meh")] * 5))
    (files / "score.csv").write_text(csv_text([(str(i), t) for i, (t, _) in enumerate(rows(200, 7))], ("id", "text")))
    (files / "params.json").write_text(json.dumps({"epochs": 1}))
    (files / "space.json").write_text(json.dumps({"dropout": {"type": "float", "low": 0.1, "high": 0.5}}))
    rng = random.Random(9)
    words = sorted({w for t, _ in rows(300, 0) for w in t.split()})
    (files / "vectors.txt").write_text(
        "".join(f"{w} " + " ".join(f"{rng.uniform(-1, 1):.3f}" for _ in range(8)) + "\n" for w in words)
    )
    steps_run = [
        ("net", [*SENTILSTM, "train", "train.csv", "--out", "net.sentilstm", *TINY, "--no-report"]),
        (
            "blend",
            [*SENTILSTM, "train", "train.csv", "--out", "blend.sentilstm", *TINY, "--blend", "nbsvm", "--no-report"],
        ),
        ("base", [*SENTILSTM, "baseline", "train.csv", "--out", "base.sentilstm", "--quiet"]),
    ]
    for name, command in steps_run:
        log(f"  preparing {name}.sentilstm")
        run = execute(command, files, env, 300)
        if run.rc != 0:
            raise SystemExit(f"could not prepare {name}: {head(run.stdout + run.stderr, 8)}")
    log("  reading the option list and the reference predictions")
    introspect = execute([PYTHON, "-c", INTROSPECT], files, env, 120)
    reference = execute([PYTHON, "-c", REFERENCE, json.dumps(PROBES), "net", "blend", "base"], files, env, 120)
    if introspect.rc != 0 or reference.rc != 0:
        raise SystemExit(f"could not introspect the CLI: {head(introspect.stderr + reference.stderr, 8)}")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    _HELD.append(busy)  # held for the whole run: `serve --port BUSY` fails only after every other check
    artefacts = Artefacts(
        work,
        files,
        env,
        json.loads(introspect.stdout),
        json.loads(reference.stdout),
        busy.getsockname()[1],
        None,
        blowup_mb,
        Sandbox(),
    )
    if need_checkpoint:
        artefacts.checkpoint = make_checkpoint(artefacts, log)
    return artefacts


_HELD: list[socket.socket] = []


def make_checkpoint(art: Artefacts, log: Callable[[str], None]) -> Path | None:
    """Start a slow training run, SIGKILL it once its first checkpoint exists: ck.sentilstm.ckpt (None if it raced)."""
    log("  making a checkpoint (training killed after its first epoch)")
    folder = art.work / "ckpt"
    folder.mkdir()
    shutil.copyfile(art.files / "train.csv", folder / "train.csv")
    target = folder / "ck.sentilstm.ckpt"
    process = subprocess.Popen(
        [*SENTILSTM, "train", "train.csv", "--out", "ck.sentilstm", *CKPT_ARGS],
        cwd=folder,
        env=art.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while not target.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    kill_group(process.pid)
    process.wait()
    if not target.exists():
        art.notes.append("no checkpoint: the training run ended before it could be killed; checkpoint cases skipped")
        return None
    kept = art.work / "files" / "ck.ckpt"
    shutil.copyfile(target, kept)
    return kept
