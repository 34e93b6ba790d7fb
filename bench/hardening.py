"""Hostile-input audit (issue 14): hundreds of bad inputs against the CLI, the Python API, the model file and
the HTTP server, each outcome classified and tallied.

    python bench/hardening.py                                  # everything: ~30-40 min on 2 busy cores
    python bench/hardening.py --quick --only cli,model         # the issue's listed items and a few more
    python bench/hardening.py --out bench/results/hardening.json   # default; hardening.md is written beside it

It prepares its own artefacts in a temporary folder (tiny tables; tiny models trained with `sentilstm train`
and `sentilstm baseline`; a training checkpoint), then runs a catalogue of cases. A case is one bad input: the
surface it goes to, what it is, and what a clean outcome is (`expect`): "refuse" (bad input: a clean error is
right), "work" (odd but valid input: it must succeed) or "either". Outcomes:

* clean: CLI exit 2 whose last stderr line is the only `error: ...` line (or Typer's usage error for a value it
  cannot parse), no traceback; Python: a `SentilstmError`, or a TypeError/ValueError raised on purpose (by a
  `raise` in sentilstm's own code, or by Python's call check), with a one-line message; HTTP: a 4xx with a
  JSON detail (or h11's 400 for malformed HTTP); or, where the input is valid, a correct answer;
* traceback: "Traceback" in the output, an exit code other than 0/2, an untyped exception, a 5xx;
* data lost: an input or pre-existing file changed or deleted, a half-written output (`*.tmp`) left behind;
* hang/blow-up: over the case's time limit, peak RSS over --blowup-mb, killed by a signal, or out of memory
  (every process the audit starts runs under an address-space limit, so a blow-up cannot take the machine down);
* accepted: a bad input taken silently (a tampered model that loads, a path escape that serves a file...);
* other: anything else that is not clean (a multi-line error, a valid input refused, a server that stops).

Disk cases run the command inside a private mount namespace (`unshare --mount`, so root is stopped too): a
read-only bind mount, or a tiny tmpfs filled up (ENOSPC). Cases that could start many processes run as
`nobody` under RLIMIT_NPROC. The CLI cases start one process each (~3 s of imports), one at a time.
"""
from __future__ import annotations

import argparse
import getpass
import gzip
import hashlib
import http.client
import io
import json
import math
import os
import platform
import pwd
import random
import secrets
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
SENTILSTM = [PYTHON, "-m", "sentilstm"]
VERDICTS = ("clean", "traceback", "data lost", "hang/blow-up", "accepted", "other", "skipped")
SURFACES = ("cli", "python", "model", "http")
AS_LIMIT = 4 << 30  # address space of every process started here (a tiny training run peaks at ~0.6 GB)
ALLOC_SIGNS = ("MemoryError", "can't allocate memory", "std::bad_alloc", "Cannot allocate memory",
               "DefaultCPUAllocator", "Unable to allocate", "out of memory")
NOBODY = 65534
HUGE = {"10**12": "1000000000000", "2**70": str(2**70)}
TINY = ["--epochs", "1", "--embedding-dim", "8", "--hidden-size", "8", "--threads", "1", "--min-frequency", "1",
        "--blend", "none", "--quiet"]
PROBES = ["good film", "not good at all", "awful plot", "not bad", "really lovely acting"]
POSITIVE, NEGATIVE = ("good", "great", "lovely", "superb"), ("bad", "awful", "boring", "poor")
FILLER = ("the", "film", "was", "really", "plot", "and", "i", "it", "acting", "story")
# the checkpoint run (killed after its first epoch, then resumed); --max-length 4 truncates most texts (issue item 10)
CKPT_ARGS = ["--epochs", "6", "--patience", "6", "--batch-size", "1", "--max-length", "4", "--embedding-dim", "8",
             "--hidden-size", "8", "--threads", "1", "--min-frequency", "1", "--blend", "none", "--no-report", "--quiet"]


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
    sandbox: str = ""  # "" | readonly (ro/ is read-only) | full (full/ is a full tmpfs) | nobody (RLIMIT_NPROC)
    outputs: tuple[str, ...] = ()  # files the command may write (or overwrite) when it succeeds
    timeout: float = 90.0
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


def head(text: str, lines: int = 4, width: int = 300) -> str:
    kept = [line[:width] for line in text.strip().splitlines() if line.strip()][:lines]
    return "\n".join(kept)


def exception_line(text: str) -> str:
    """The exception line of the last traceback in `text` (e.g. "ValueError: ..."), else its last line."""
    lines = [line.strip(" │╰─╯") for line in text.splitlines() if line.strip(" │╰─╯")]
    for line in reversed(lines):
        if ":" in line and line.split(":")[0].replace(".", "").replace("_", "").isalnum() and \
                ("Error" in line.split(":")[0] or "Exception" in line.split(":")[0]):
            return line[:300]
    return lines[-1][:300] if lines else ""


def classify(expect: str, run: Run, *, blowup_mb: float, lost: list[str], leftovers: list[str],
             problem: str | None = None, accepted_if: str | None = None, late_if: str | None = None) -> tuple[str, str]:
    """(verdict, detail) of one command's run; see the module docstring for the rules."""
    output = run.stdout + "\n" + run.stderr
    if lost:
        return "data lost", "; ".join(lost)
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
        message = "usage error: " + next((line.strip(" │╭╮╰╯─") for line in lines if "Invalid value" in line
                                          or "No such" in line or "Missing" in line or "Error" in line), "")
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


def compare(before: dict[str, str], after: dict[str, str], outputs: tuple[str, ...], succeeded: bool) -> tuple[list[str], list[str]]:
    """(lost, leftovers): pre-existing files changed or gone (outputs may change on success); new *.tmp files, and
    new declared outputs after a failure."""
    lost = []
    for rel, signature in before.items():
        now = after.get(rel)
        if not signature.startswith("file:") or now == signature or (succeeded and rel in outputs):
            continue
        lost.append(f"{rel} {'deleted' if now is None else 'changed'}")
    leftovers = [rel for rel in sorted(after.keys() - before.keys())
                 if rel.endswith(".tmp") or (not succeeded and rel in outputs)]
    return lost, leftovers


def sentence(rng: random.Random) -> tuple[str, str]:
    positive, negated = rng.random() < 0.5, rng.random() < 0.3
    words = [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
    words.insert(rng.randint(0, len(words)), ("not " if negated else "") + rng.choice(POSITIVE if positive else NEGATIVE))
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
        ("1,000 classes", "classes.csv", "either", "7",
         writer("classes.csv", csv_text([(sentence(random.Random(i))[0], f"c{i % 1000}") for i in range(3000)]))),
        ("mixed-type JSONL text column", "mixed.jsonl", "refuse", "8",
         writer("mixed.jsonl", jsonl(valid + [{"text": 5, "label": "pos"}, {"text": {"a": 1}, "label": "neg"},
                                              {"text": ["x", "y"], "label": "pos"}, {"text": True, "label": "neg"}]))),
        ("mixed-type JSONL label column", "mixedlabel.jsonl", "refuse", "8",
         writer("mixedlabel.jsonl", jsonl(valid + [{"text": "good", "label": [1]}, {"text": "bad", "label": {"x": 1}}]))),
        ("nested Parquet text column (list<string>)", "nested.parquet", "refuse", "8", writer("nested.parquet", nested_parquet)),
        ("an empty file", "empty.csv", "refuse", None, writer("empty.csv", b"")),
        ("a header and no rows", "header.csv", "refuse", None, writer("header.csv", "text,label\n")),
        ("NUL bytes in cells", "nul.csv", "either", None,
         writer("nul.csv", csv_text([(f"{t}\x00x", label) for t, label in base]))),
        ("a NUL byte in the header", "nulhead.csv", "either", None,
         writer("nulhead.csv", csv_text(base, ("te\x00xt", "label")))),
        ("a 1 MB single cell", "bigcell.csv", "work", None,
         writer("bigcell.csv", csv_text(base + [(("good " * 200_000).strip(), "pos")]))),
        ("CRLF line endings", "crlf.csv", "work", None, writer("crlf.csv", csv_text(base).replace("\n", "\r\n"))),
        ("CR-only line endings", "cr.csv", "either", None, writer("cr.csv", csv_text(base).replace("\n", "\r"))),
        ("a UTF-8 byte-order mark", "bom.csv", "work", None, writer("bom.csv", "\ufeff" + csv_text(base))),
        ("duplicated column names", "dup.csv", "either", None,
         writer("dup.csv", csv_text([(t, t, label) for t, label in base], ("text", "text", "label")))),
        ("UTF-16 bytes read as UTF-8", "utf16.csv", "either", None, writer("utf16.csv", csv_text(base).encode("utf-16"))),
        ("Latin-1 bytes read as UTF-8", "latin1.csv", "work", None,
         writer("latin1.csv", csv_text([(f"{t} caf\xe9", label) for t, label in base]).encode("latin-1"))),
        ("CESU-8 surrogate bytes in cells", "cesu.csv", "work", "6",
         writer("cesu.csv", csv_text(base).encode() + b"good \xed\xa0\xbd film,pos\n")),
        ("lone surrogate escapes in JSONL", "surrogate.jsonl", "work", "6",
         writer("surrogate.jsonl", jsonl(valid + [{"text": "good \ud83d film", "label": "pos"}]))),
        ("plain text named .csv.gz", "fake.csv.gz", "refuse", None, writer("fake.csv.gz", csv_text(base))),
        ("a truncated gzip", "cut.csv.gz", "refuse", None, writer("cut.csv.gz", gzip.compress(csv_text(base).encode())[:300])),
        ("random bytes named .parquet", "bad.parquet", "refuse", None, writer("bad.parquet", garbage(5000))),
        ("random bytes named .csv", "random.csv", "either", None, writer("random.csv", garbage(5000))),
        ("only a text column (no labels)", "one.csv", "refuse", None,
         writer("one.csv", csv_text([(t,) for t, _ in base], ("text",)))),
        ("every label empty", "nolabel.csv", "refuse", None, writer("nolabel.csv", csv_text([(t, "") for t, _ in base]))),
        ("a single class", "oneclass.csv", "refuse", None, writer("oneclass.csv", csv_text([(t, "pos") for t, _ in base]))),
        ("an unclosed quote", "unclosed.csv", "either", None, writer("unclosed.csv", csv_text(base) + '"good film,pos\n')),
        ("a deeply nested JSON line", "deep.jsonl", "refuse", None,
         writer("deep.jsonl", '{"text": ' + "[" * 100_000 + "]" * 100_000 + ', "label": "pos"}\n')),
        ("a folder named like a table", "folder.csv", "refuse", None, lambda folder: (folder / "folder.csv").mkdir()),
        ("a FIFO named like a table", "fifo.csv", "refuse", None, fifo("fifo.csv")),
        ("a symlink to /dev/zero named like a table", "zero.csv", "refuse", None, symlink("zero.csv", "/dev/zero")),
        ("an unknown extension (.xlsx)", "table.xlsx", "refuse", None, writer("table.xlsx", garbage(2000))),
    ]


# ----- the model file: safetensors header surgery ------------------------------------------------------------------
def split_file(data: bytes) -> tuple[dict[str, Any], bytes]:
    size = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + size]), data[8 + size:]


def join_file(header: dict[str, Any], body: bytes) -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def edit_payload(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    def tamper(data: bytes) -> bytes:
        header, body = split_file(data)
        payload = json.loads(header["__metadata__"]["payload"])
        change(payload)
        header["__metadata__"]["payload"] = json.dumps(payload)
        return join_file(header, body)
    return tamper


def raw_payload(text: str) -> Callable[[bytes], bytes]:
    def tamper(data: bytes) -> bytes:
        header, body = split_file(data)
        header["__metadata__"]["payload"] = text
        return join_file(header, body)
    return tamper


def edit_meta(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    def tamper(data: bytes) -> bytes:
        header, body = split_file(data)
        change(header["__metadata__"])
        return join_file(header, body)
    return tamper


def edit_tensor_entry(change: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    def tamper(data: bytes) -> bytes:
        header, body = split_file(data)
        change(header["embedding.weight"])
        return join_file(header, body)
    return tamper


def flip_label_bit(data: bytes) -> bytes:
    """Flip the lowest bit of the first label's first letter or digit, in place in the raw header (no re-encoding)."""
    size = struct.unpack("<Q", data[:8])[0]
    at = data.index(b"labels", 8, 8 + size) + len(b"labels")
    while not chr(data[at]).isalnum():
        at += 1
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def set_path(keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """payload change: set payload[k1][k2]... (dotted) to `value`."""
    def change(payload: dict[str, Any]) -> None:
        *parents, last = keys.split(".")
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value
    return change


def swap_vocabulary(payload: dict[str, Any]) -> None:
    tokenizer = json.loads(payload["tokenizer"])
    vocab = tokenizer["model"]["vocab"]
    words = [w for w in vocab if not w.startswith("[")]
    vocab[words[0]], vocab[words[1]] = vocab[words[1]], vocab[words[0]]
    payload["tokenizer"] = json.dumps(tokenizer)


@dataclass
class Tamper:
    name: str
    base: str  # which prepared file: net, blend, base (baseline), ckpt
    change: Callable[[bytes], bytes]
    expect: str = "refuse"
    item: str | None = None
    quick: bool = False


TAMPERS = [
    Tamper("flip one bit of a label in the raw JSON header", "blend", flip_label_bit, item="3", quick=True),
    Tamper("swap the label order", "blend", edit_payload(lambda p: p.__setitem__("labels", p["labels"][::-1])), item="3", quick=True),
    Tamper("swap two words' ids in the vocabulary", "net", edit_payload(swap_vocabulary), item="3"),
    Tamper("blend weight 0 -> 0.5", "blend", edit_payload(set_path("blend.network_weight", 0.5)), item="3"),
    Tamper("blend weight NaN", "blend", edit_payload(set_path("blend.network_weight", float("nan"))), item="3"),
    Tamper("blend weight 1e308", "blend", edit_payload(set_path("blend.network_weight", 1e308)), item="3"),
    Tamper("normalisation: lowercase off", "net", edit_payload(set_path("text_config.lowercase", False)), item="3"),
    Tamper("normalisation: stop words on", "net", edit_payload(set_path("text_config.stopwords", "english")), item="3"),
    Tamper("metrics edited (accuracy 1.0)", "net", edit_payload(set_path("metrics.validation.accuracy", 1.0)), item="3"),
    Tamper("max_length 0", "net", edit_payload(set_path("text_config.max_length", 0)), item="4", quick=True),
    Tamper("max_length 10**12", "net", edit_payload(set_path("text_config.max_length", 10**12)), item="4"),
    Tamper("max_length -1", "net", edit_payload(set_path("text_config.max_length", -1)), item="4"),
    Tamper("max_length 3 (plausible)", "net", edit_payload(set_path("text_config.max_length", 3)), item="3"),
    Tamper("hidden_size doubled", "net", edit_payload(set_path("model_config.hidden_size", 16)), item="4"),
    Tamper("hidden_size 10**9", "net", edit_payload(set_path("model_config.hidden_size", 10**9)), item="4"),
    Tamper("num_classes 3", "net", edit_payload(set_path("model_config.num_classes", 3)), item="4"),
    Tamper("num_classes 10**9", "net", edit_payload(set_path("model_config.num_classes", 10**9)), item="4"),
    Tamper("declared vocabulary 4,000,000 words x 128 dims (2 GB)", "net",
           edit_payload(lambda p: p["model_config"].update(vocab_size=4_000_000, embedding_dim=128)), item="4", quick=True),
    Tamper("declared vocabulary 2x10^9 words", "net", edit_payload(set_path("model_config.vocab_size", 2 * 10**9)), item="4"),
    Tamper("num_layers 10**6", "net", edit_payload(set_path("model_config.num_layers", 10**6))),
    Tamper("conv_channels 10**9", "net", edit_payload(set_path("model_config.conv_channels", 10**9))),
    Tamper("cell 'transformer'", "net", edit_payload(set_path("model_config.cell", "transformer"))),
    Tamper("1,000 labels for a 2-class network", "net", edit_payload(set_path("labels", [f"l{i}" for i in range(1000)]))),
    Tamper("duplicated labels", "net", edit_payload(set_path("labels", ["pos", "pos"]))),
    Tamper("payload [1,2,3] (not an object)", "net", raw_payload("[1, 2, 3]"), item="4", quick=True),
    Tamper("payload a string", "net", raw_payload('"model"'), item="4"),
    Tamper("payload 100,000-deep nesting", "net", raw_payload("[" * 100_000 + "]" * 100_000), item="4", quick=True),
    Tamper("payload invalid JSON", "net", raw_payload("{"), item="4"),
    Tamper("payload with a 2**70 integer hidden_size", "net", edit_payload(set_path("model_config.hidden_size", 2**70)), item="4"),
    Tamper("tokenizer JSON replaced by garbage", "net", edit_payload(set_path("tokenizer", "{not json")), item="4"),
    Tamper("saved device 'cuda:3' (loads on a CPU-only machine)", "net", edit_payload(set_path("params.device", "cuda:3")),
           expect="work", item="11", quick=True),
    Tamper("saved precision 'fp8'", "net", edit_payload(set_path("params.precision", "fp8"))),
    Tamper("format_version 99", "net", edit_meta(lambda m: m.__setitem__("format_version", "99"))),
    Tamper("format_version 'x'", "net", edit_meta(lambda m: m.__setitem__("format_version", "x"))),
    Tamper("kind 'checkpoint'", "net", edit_meta(lambda m: m.__setitem__("kind", "checkpoint"))),
    Tamper("sha256 removed", "net", edit_meta(lambda m: m.pop("sha256")), expect="either"),
    Tamper("embedding tensor dtype F32 -> I32 (same bytes)", "net", edit_tensor_entry(lambda e: e.__setitem__("dtype", "I32"))),
    Tamper("embedding tensor shape transposed (same bytes)", "net",
           edit_tensor_entry(lambda e: e.__setitem__("shape", e["shape"][::-1]))),
    Tamper("truncated to half", "net", lambda data: data[:len(data) // 2], item="4"),
    Tamper("header length pointing past the end", "net", lambda data: struct.pack("<Q", len(data) + 1000) + data[8:], item="4"),
    Tamper("header length 2**63", "net", lambda data: struct.pack("<Q", 2**63) + data[8:]),
    Tamper("an empty file", "net", lambda data: b""),
    Tamper("random bytes", "net", lambda data: garbage(len(data))),
    Tamper("a Python pickle", "net", lambda data: b"\x80\x04\x95" + garbage(200)),
    Tamper("baseline: swap the label order", "base", edit_payload(lambda p: p.__setitem__("labels", p["labels"][::-1])),
           item="3", quick=True),
    Tamper("baseline: C 0.1 -> 1e9 in the header", "base", edit_payload(set_path("params.C", 1e9)), item="3"),
    Tamper("baseline: feature size 10**12", "base", edit_payload(lambda p: p["features"][0].update(size=10**12)), item="4"),
]
CKPT_TAMPERS = [
    Tamper("checkpoint: swap the label order", "ckpt", edit_payload(lambda p: p.__setitem__("labels", p["labels"][::-1])),
           item="3", quick=True),
    Tamper("checkpoint: learning rate 1e308 in the optimizer state", "ckpt",
           edit_payload(lambda p: [g.update(lr=1e308) for g in p["training"]["param_groups"]]), item="3"),
    Tamper("checkpoint: bad_epochs -5", "ckpt", edit_payload(set_path("training.bad_epochs", -5)), item="3"),
    Tamper("checkpoint: truncated to half", "ckpt", lambda data: data[:len(data) // 2]),
    Tamper("checkpoint: payload 100,000-deep nesting", "ckpt", raw_payload("[" * 100_000 + "]" * 100_000)),
]


# ----- running one command ----------------------------------------------------------------------------------------
class Sandbox:
    """How this machine can stop writes (read-only folder, full disk) and bound process counts."""

    def __init__(self) -> None:
        self.root = os.geteuid() == 0
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "true"],
                               capture_output=True) if shutil.which("unshare") else None
        self.namespaces = probe is not None and probe.returncode == 0
        try:
            pwd.getpwuid(NOBODY)
            self.nobody = self.root and shutil.which("setpriv") is not None
        except KeyError:
            self.nobody = False

    def describe(self) -> str:
        disk = ("private mount namespaces (read-only bind mount; a full 256 KB tmpfs)" if self.namespaces else
                "chmod 555 and RLIMIT_FSIZE (not root)" if not self.root else "none: disk cases skipped")
        return f"disk: {disk}; process-spawning options: {'as nobody, ' if self.nobody else ''}RLIMIT_NPROC 256"

    def wrap(self, case: Case, command: list[str | bytes], folder: Path) -> list[str | bytes] | str:
        """The command line that runs `command` in the case's sandbox, or the reason it cannot run here."""
        limited: list[str | bytes] = ["prlimit", f"--as={AS_LIMIT}", "--"]
        if case.sandbox == "nobody":
            for path in [folder, *folder.rglob("*")]:
                if not path.is_symlink():
                    os.chmod(path, 0o777 if path.is_dir() else 0o666)
            limited = ["prlimit", f"--as={AS_LIMIT}", "--nproc=256", "--"]
            if self.nobody:
                limited = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *limited]
            return [*limited, *command]
        if case.sandbox == "readonly":
            if self.namespaces:
                script = 'mount --bind ro ro && mount -o remount,bind,ro ro && exec "$@"'
                return [*limited, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", *command]
            if self.root:
                return "root ignores file modes and mount namespaces are unavailable"
            os.chmod(folder / "ro", 0o555)
            return [*limited, *command]
        if case.sandbox == "full":
            fill = ("cp -a seed/. full/ && (dd if=/dev/zero of=full/.filler bs=4096 2>/dev/null; true) && "
                    "find full -type f -exec sha256sum {} + > .audit-before.sha && \"$@\"; rc=$?; "
                    "find full -type f -exec sha256sum {} + > .audit-after.sha; exit $rc")
            if self.namespaces:
                script = "mount -t tmpfs -o size=256k tmpfs full && " + fill
                return [*limited, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", *command]
            if self.root:
                return "mount namespaces are unavailable (no tmpfs to fill)"
            return ["prlimit", f"--as={AS_LIMIT}", "--fsize=65536", "--", "sh", "-c", fill, "sh", *command]
        return [*limited, *command]


def execute(command: list[str | bytes], cwd: Path, env: dict[str, str], timeout: float) -> Run:
    """Run `command` in its own process group; wait at most `timeout` s; peak RSS from wait4."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True)
        rc: int | None = None
        usage = None
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - started > timeout:
                _kill_group(process.pid)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        process.returncode = rc if rc is not None else -9
        _kill_group(process.pid)  # workers or helpers it left behind
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Run(rc, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"), seconds,
                   usage.ru_maxrss / 1024 if usage is not None else 0.0)


def _kill_group(pgid: int) -> None:
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
    os.chmod(work, 0o755)  # cases run as nobody must reach their folders
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1", "MPLCONFIGDIR": str(work / "mpl"),
           "SENTILSTM_CACHE": str(work / "cache"), "TMPDIR": str(work / "tmp"), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)}
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
    (files / "vectors.txt").write_text("".join(f"{w} " + " ".join(f"{rng.uniform(-1, 1):.3f}" for _ in range(8)) + "\n"
                                               for w in words))
    steps_run = [
        ("net", [*SENTILSTM, "train", "train.csv", "--out", "net.sentilstm", *TINY, "--no-report"]),
        ("blend", [*SENTILSTM, "train", "train.csv", "--out", "blend.sentilstm", *TINY, "--blend", "nbsvm", "--no-report"]),
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
    artefacts = Artefacts(work, files, env, json.loads(introspect.stdout), json.loads(reference.stdout),
                          busy.getsockname()[1], None, blowup_mb, Sandbox())
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
    process = subprocess.Popen([*SENTILSTM, "train", "train.csv", "--out", "ck.sentilstm", *CKPT_ARGS], cwd=folder,
                               env=art.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while not target.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    _kill_group(process.pid)
    process.wait()
    if not target.exists():
        art.notes.append("no checkpoint: the training run ended before it could be killed; checkpoint cases skipped")
        return None
    kept = art.work / "files" / "ck.ckpt"
    shutil.copyfile(target, kept)
    return kept


# ----- the CLI catalogue --------------------------------------------------------------------------------------------
def same_file_cases(art: Artefacts) -> list[Case]:
    """Every writing verb and option aimed at one of its own inputs (issue item 2), spelt several ways."""
    train = ["train", "train.csv", *TINY, "--no-report"]
    writers = [  # (verb argv, option, the input it hits, quick)
        (train, "--out", "train.csv", True),
        (["train", "train.csv", *TINY], "--report", "train.csv", False),
        (train, "--metrics-json", "train.csv", True),
        ([*train, "--test", "test.csv"], "--out", "test.csv", False),
        ([*train, "--validation", "valid.csv"], "--out", "valid.csv", False),
        ([*train, "--embeddings", "vectors.txt"], "--out", "vectors.txt", False),
        (["baseline", "train.csv", "--quiet"], "--out", "train.csv", True),
        (["baseline", "train.csv", "--quiet"], "--metrics-json", "train.csv", False),
        (["baseline", "train.csv", "--quiet"], "--report", "train.csv", False),
        (["baseline", "train.csv", "--quiet", "--test", "test.csv"], "--out", "test.csv", False),
        (["cv", "train.csv", "--estimator", "nbsvm", "--folds", "2", "--quiet", "--no-report"], "--json", "train.csv", True),
        (["cv", "train.csv", "--estimator", "nbsvm", "--folds", "2", "--quiet"], "--report", "train.csv", False),
        (["cv", "train.csv", "--estimator", "nbsvm", "--folds", "2", "--quiet", "--no-report", "--params", "params.json"],
         "--json", "params.json", False),
        ([*tune_argv(), "--no-report"], "--out", "train.csv", True),
        (tune_argv(), "--report", "train.csv", False),
        ([*tune_argv(), "--no-report", "--space", "space.json"], "--out", "space.json", False),
        (["evaluate", "net.sentilstm", "test.csv"], "--json", "test.csv", True),
        (["evaluate", "net.sentilstm", "test.csv"], "--json", "net.sentilstm", False),
        (["predict", "net.sentilstm", "--input", "score.csv"], "--output", "score.csv", True),
        (["predict", "net.sentilstm", "--input", "score.csv"], "--output", "net.sentilstm", False),
        (["explain", "net.sentilstm", "good film", "--method", "attention"], "--html", "net.sentilstm", False),
        (["export", "net.sentilstm"], "--out", "net.sentilstm", True),
    ]
    cases = [Case("cli", "output == input", f"{argv[0]} {option} <its input {target}>", [*argv, option, target],
                  item="2", quick=quick) for argv, option, target, quick in writers]
    spellings = [  # (how the output names the input, its spelling, what the case folder needs, expect)
        ("'./' prefix", lambda t: f"./{t}", lambda t: None, "refuse"),
        ("'sub/../' hop", lambda t: f"sub/../{t}", lambda t: lambda f: (f / "sub").mkdir(), "refuse"),
        ("a symlink to it", lambda t: f"link-{t}", lambda t: symlink(f"link-{t}", t), "refuse"),
        ("a hard link to it", lambda t: f"hard-{t}", lambda t: hardlink(f"hard-{t}", t), "refuse"),
        ("an absolute path", lambda t: "{folder}/" + t, lambda t: None, "refuse"),  # {folder}: filled in when it runs
        ("the same name in upper case (a different file on Linux)", lambda t: t.upper(), lambda t: None, "either"),
    ]
    for argv, option, target, quick in writers:
        if not quick:
            continue
        for how, spell, needs, expect in spellings:
            cases.append(Case("cli", "output == input", f"{argv[0]} {option} <{target} as {how}>", [*argv, option, spell(target)],
                              expect=expect, setup=needs(target), item="2",
                              outputs=(spell(target),) if expect == "either" else ()))
    model_out = ["train", "train.csv", *TINY, "--out", "m.sentilstm"]
    cases += [
        Case("cli", "output == output", "train --report = --out (the report would replace the model)",
             [*model_out, "--report", "m.sentilstm"]),
        Case("cli", "output == output", "train --metrics-json = --out", [*model_out, "--no-report", "--metrics-json", "m.sentilstm"]),
        Case("cli", "output == output", "baseline --report = --out",
             ["baseline", "train.csv", "--quiet", "--out", "b.sentilstm", "--report", "b.sentilstm"]),
        Case("cli", "output == input", "tune: the trials table beside --out (o.trials.csv) is the data file",
             [*tune_argv("o.trials.csv"), "--no-report", "--out", "o.sentilstm"], setup=copy("o.trials.csv", "train.csv")),
        Case("cli", "output == input", "tune --storage sqlite:///train.csv (the data file as the study database)",
             [*tune_argv(), "--no-report", "--storage", "sqlite:///train.csv"]),
    ]
    return cases


def tune_argv(data: str = "train.csv") -> list[str]:
    return ["tune", data, "--trials", "1", "--timeout", "20", "--quiet", "--set", "epochs=1", "--set", "embedding_dim=8",
            "--set", "hidden_size=8", "--set", "num_threads=1", "--set", "min_frequency=1", "--set", "blend=none"]


NUMERIC_BASE = {  # verb -> the cheapest command that reaches every numeric option's use
    "train": ["train", "train.csv", "--out", "out.sentilstm", *TINY, "--no-report"],
    "predict": ["predict", "net.sentilstm", "--input", "score.csv", "--output", "scored.csv"],
    "baseline": ["baseline", "train.csv", "--out", "out.sentilstm", "--quiet"],
    "cv": ["cv", "train.csv", "--estimator", "nbsvm", "--folds", "2", "--quiet", "--no-report"],
    "explain": ["explain", "net.sentilstm", "good film", "--method", "lime"],
    "tune": [*tune_argv(), "--no-report", "--out", "out.sentilstm"],
    "describe": ["describe", "net.sentilstm"],
    "evaluate": ["evaluate", "net.sentilstm", "test.csv"],
    "export": ["export", "net.sentilstm", "--out", "out.onnx"],
}
NEGATIVE_OK = {"--seed", "--freeze-embeddings"}  # documented (-1: always frozen) or harmless either way
REFUSE_HUGE = {"--workers", "--threads", "--nproc-per-node", "--port", "--node-rank"}  # a process/thread/port count
SPAWNING = {"--nproc-per-node", "--threads", "--jobs", "--concurrency", "--workers"}
LISTED_NUMERIC = {  # (verb, option, value) reproducing issue 14 item 8
    ("train", "--learning-rate", "nan"), ("train", "--dropout", "nan"), ("train", "--weight-decay", "inf"),
    ("train", "--focal-gamma", "nan"), ("train", "--seed", "-1"), ("train", "--seed", "2**70"),
    ("train", "--hidden-size", "10**12"), ("describe", "--length", "10**12"),
}


def numeric_cases(art: Artefacts) -> list[Case]:
    """NaN, infinity, negative, huge and non-integer values for every numeric option of every verb."""
    cases = []
    for verb, options in art.options.items():
        base = NUMERIC_BASE.get(verb)
        if verb == "serve":
            base = ["serve", "net.sentilstm", "--port", str(art.busy_port), "--feedback-db", "sqlite:///fb.db", "--quiet"]
        if base is None:
            continue
        for option in options:
            if option["kind"] not in ("int", "float"):
                continue
            flag = option["option"]
            values = {"nan": "nan", "inf": "inf", "-inf": "-inf", "-1": "-1", "1e300": "1e300"} if option["kind"] == "float" \
                else {"-1": "-1", "1.5": "1.5", "nan": "nan", **HUGE}
            for label, value in values.items():
                if label in ("nan", "inf", "-inf", "1.5"):
                    expect = "refuse"
                elif label == "-1":
                    expect = "either" if flag in NEGATIVE_OK else "refuse"
                else:
                    expect = "refuse" if flag in REFUSE_HUGE else "either"
                listed = (verb, flag, label) in LISTED_NUMERIC
                cases.append(Case(
                    "cli", "numeric option", f"{verb} {flag} {label}", [*base, flag, value], expect=expect,
                    sandbox="nobody" if flag in SPAWNING else "", item="8" if listed else None,
                    quick=listed or (label in ("nan", "10**12") and verb in ("describe", "serve", "predict")),
                    accepted_if="cannot listen" if verb == "serve" and flag != "--port" else None,
                    timeout=60 if verb == "serve" else 90,
                ))
    cases.append(Case("cli", "numeric option", "train --loss focal --focal-gamma nan",
                      [*NUMERIC_BASE["train"], "--loss", "focal", "--focal-gamma", "nan"], item="8", quick=True))
    cases.append(Case("cli", "numeric option", "train --hidden-size 200000 (the issue's value)",
                      [*NUMERIC_BASE["train"], "--hidden-size", "200000"], expect="either", item="8", quick=True))
    return cases


def encoding_cases() -> list[Case]:
    """--encoding values that are not text encodings, or not this file's."""
    cases = [Case("cli", "bogus encoding", f"{verb} --encoding bogus", [*NUMERIC_BASE[verb], "--encoding", "bogus"],
                  item="8", quick=verb == "train") for verb in ("train", "predict", "baseline", "cv", "tune", "evaluate")]
    for verb in ("train", "predict"):
        cases += [
            Case("cli", "bogus encoding", f"{verb} --encoding rot13 (a str-to-str codec)", [*NUMERIC_BASE[verb], "--encoding", "rot13"]),
            Case("cli", "bogus encoding", f"{verb} --encoding base64 (a bytes-to-bytes codec)", [*NUMERIC_BASE[verb], "--encoding", "base64"]),
            Case("cli", "bogus encoding", f"{verb} --encoding '' (empty)", [*NUMERIC_BASE[verb], "--encoding", ""]),
            Case("cli", "bogus encoding", f"{verb} --encoding utf-16 on a UTF-8 file", [*NUMERIC_BASE[verb], "--encoding", "utf-16"],
                 expect="either"),
        ]
    cases.append(Case("cli", "bogus encoding", "train --encoding utf-8-sig", [*NUMERIC_BASE["train"], "--encoding", "utf-8-sig"],
                      expect="work"))
    return cases


def text_cases() -> list[Case]:
    """Undecodable bytes and lone surrogates in argv and file names (issue item 6)."""
    bad, cesu = b"bad \xff\xfe bytes", b"good \xed\xa0\xbd film"  # \xed\xa0\xbd: a UTF-16 surrogate encoded as UTF-8
    name = b"d\xff.csv"
    return [
        Case("cli", "undecodable argv", "predict with undecodable bytes in a text", ["predict", "net.sentilstm", bad],
             expect="work", item="6", quick=True),
        Case("cli", "undecodable argv", "predict --json with a UTF-8-encoded surrogate in a text",
             ["predict", "net.sentilstm", "--json", cesu], expect="work", item="6"),
        Case("cli", "undecodable argv", "predict (blended model) with undecodable bytes", ["predict", "blend.sentilstm", bad],
             expect="work", item="6"),
        Case("cli", "undecodable argv", "explain with undecodable bytes in the text",
             ["explain", "net.sentilstm", bad, "--method", "attention"], expect="work"),
        Case("cli", "undecodable argv", "train DATA whose file name has undecodable bytes",
             ["train", name, *TINY, "--no-report", "--out", "m.sentilstm"], expect="work", item="6",
             setup=lambda f: shutil.copyfile(f / "train.csv", os.path.join(os.fsencode(f), name))),
        Case("cli", "undecodable argv", "train --out with undecodable bytes",
             ["train", "train.csv", *TINY, "--no-report", "--out", b"m\xff.sentilstm"], expect="work", item="6"),
        Case("cli", "undecodable argv", "evaluate a table whose name has undecodable bytes", ["evaluate", "net.sentilstm", name],
             expect="work", item="6", setup=lambda f: shutil.copyfile(f / "test.csv", os.path.join(os.fsencode(f), name))),
        Case("cli", "undecodable argv", "predict --input/--output with undecodable names",
             ["predict", "net.sentilstm", "--input", name, "--output", b"o\xff.csv"], expect="work",
             setup=lambda f: shutil.copyfile(f / "score.csv", os.path.join(os.fsencode(f), name))),
        Case("cli", "undecodable argv", "train --text-column with undecodable bytes",
             ["train", "train.csv", *TINY, "--no-report", "--text-column", b"\xff"]),
        Case("cli", "undecodable argv", "train --label-column with a UTF-8-encoded surrogate",
             ["train", "train.csv", *TINY, "--no-report", "--label-column", b"\xed\xa0\xbd"]),
        Case("cli", "undecodable argv", "train --encoding with undecodable bytes",
             ["train", "train.csv", *TINY, "--no-report", "--encoding", b"\xff"], item="8"),
        Case("cli", "undecodable argv", "explain --label with undecodable bytes", ["explain", "net.sentilstm", "good", "--label", b"\xff"]),
        Case("cli", "undecodable argv", "train on labels with undecodable bytes", ["train", "lab.csv", *TINY, "--no-report"],
             expect="work", setup=writer("lab.csv", csv_text(rows(200, 8)).replace(",pos", ",p\udcffs").encode("utf-8", "surrogateescape"))),
    ]


WRITING_PATHS = [  # (verb argv before the path, option, the previous output seeded at that path, verb name)
    (["train", "train.csv", *TINY, "--no-report"], "--out", "net.sentilstm"),
    (["train", "train.csv", *TINY, "--no-report"], "--metrics-json", "previous.json"),
    (["train", "train.csv", *TINY, "--out", "m.sentilstm"], "--report", "previous.html"),
    (["baseline", "train.csv", "--quiet"], "--out", "base.sentilstm"),
    (["baseline", "train.csv", "--quiet", "--out", "b.sentilstm"], "--metrics-json", "previous.json"),
    (["baseline", "train.csv", "--quiet", "--out", "b.sentilstm"], "--report", "previous.html"),
    (["cv", "train.csv", "--estimator", "nbsvm", "--folds", "2", "--quiet", "--no-report"], "--json", "previous.json"),
    (["cv", "train.csv", "--estimator", "nbsvm", "--folds", "2", "--quiet"], "--report", "previous.html"),
    ([*tune_argv(), "--no-report"], "--out", "net.sentilstm"),
    ([*tune_argv(), "--out", "t.sentilstm"], "--report", "previous.html"),
    (["evaluate", "net.sentilstm", "test.csv"], "--json", "previous.json"),
    (["predict", "net.sentilstm", "--input", "score.csv"], "--output", "previous.csv"),
    (["explain", "net.sentilstm", "good film", "--method", "attention"], "--html", "previous.html"),
    (["export", "net.sentilstm"], "--out", "previous.onnx"),
]
SAVE_SNIPPET = """
import sys
from sentilstm import SentilstmError, load_model
try:
    load_model("net.sentilstm").save(sys.argv[1])
except SentilstmError as exc:
    print("error:", exc, file=sys.stderr)
    sys.exit(2)
"""


def disk_cases(art: Artefacts) -> list[Case]:
    """Every writing path into a read-only folder and onto a full disk, over a previous output (issue item 8)."""
    cases = []
    for folder, sandbox in (("ro", "readonly"), ("full", "full")):
        where = "a read-only folder" if sandbox == "readonly" else "a full disk (ENOSPC)"
        seed_dir = folder if sandbox == "readonly" else "seed"
        for argv, option, previous in WRITING_PATHS:
            source = previous if previous.endswith(".sentilstm") else "train.csv"
            setup = steps(lambda f, d=folder: (f / d).mkdir(exist_ok=True), copy(f"{seed_dir}/{previous}", source))
            cases.append(Case("cli", "read-only or full disk", f"{argv[0]} {option} into {where}, over a previous output",
                              [*argv, option, f"{folder}/{previous}"], setup=setup, sandbox=sandbox, item="8",
                              quick=option == "--out" and argv[0] == "train"))
        cases.append(Case("python", "read-only or full disk", f"clf.save() into {where}, over a previous model",
                          command=[PYTHON, "-c", SAVE_SNIPPET, f"{folder}/net.sentilstm"], sandbox=sandbox, item="8",
                          setup=steps(lambda f, d=folder: (f / d).mkdir(exist_ok=True), copy(f"{seed_dir}/net.sentilstm", "blend.sentilstm"))))
    return cases


def odd_table_cases() -> list[Case]:
    """Each odd table as training data and as a table to score."""
    cases = []
    for what, name, expect, item, write in odd_tables():
        big = name in ("wide6.csv", "classes.csv")
        report = ["--report", "r.html"] if name == "classes.csv" else ["--no-report"]  # the report is what blew up
        cases.append(Case("cli", "odd table", f"train on {what}", ["train", name, *TINY, *report, "--out", "m.sentilstm"],
                          expect=expect, setup=write, item=item, quick=item is not None, timeout=180 if big else 90))
        if name in ("one.csv", "nolabel.csv", "oneclass.csv", "classes.csv", "mixedlabel.jsonl"):
            continue
        score_expect = "either" if expect == "refuse" and name in ("mixed.jsonl", "nested.parquet") else expect
        cases.append(Case("cli", "odd table", f"predict --input {what}", ["predict", "net.sentilstm", "--input", name,
                                                                            "--output", "scored.csv"],
                          expect=score_expect, setup=write, item=item if item != "7" else None, timeout=180 if big else 90))
    return cases


def misc_cases(art: Artefacts) -> list[Case]:
    bad_space = writer("space.yaml", "dropout: {type: float, low: [unclosed\n")
    huge_vectors = writer("huge.txt", "3000000000 8\n" + "good " + " ".join(["0.1"] * 8) + "\n")
    nan_vectors = writer("nanvec.txt", "".join(f"{w} " + " ".join(["nan"] * 8) + "\n" for w in FILLER + POSITIVE + NEGATIVE))
    ragged_vectors = writer("ragged.txt", "good 0.1 0.2\nbad 0.1\n")
    train = ["train", "train.csv", *TINY, "--no-report"]
    return [
        Case("cli", "caught too late", "train --out an existing folder", [*train, "--out", "outdir"],
             setup=lambda f: (f / "outdir").mkdir(), item="8", quick=True, late_if="training on"),
        Case("cli", "caught too late", "train --test with labels never seen in training", [*train, "--test", "test_unseen.csv"],
             item="8", quick=True, late_if="training on", outputs=("model.sentilstm",)),
        Case("cli", "caught too late", "baseline --out an existing folder", ["baseline", "train.csv", "--quiet", "--out", "outdir"],
             setup=lambda f: (f / "outdir").mkdir(), late_if="training nbsvm"),
        Case("cli", "caught too late", "tune --out an existing folder", [*tune_argv(), "--no-report", "--out", "outdir"],
             setup=lambda f: (f / "outdir").mkdir(), late_if="Trial"),
        Case("cli", "bad file", "tune --space malformed YAML", [*tune_argv(), "--no-report", "--space", "space.yaml"], setup=bad_space),
        Case("cli", "bad file", "cv --params malformed JSON", [*NUMERIC_BASE["cv"], "--params", "bad.json"],
             setup=writer("bad.json", "{")),
        Case("cli", "bad file", "cv --params a JSON list", [*NUMERIC_BASE["cv"], "--params", "list.json"],
             setup=writer("list.json", "[1, 2]")),
        Case("cli", "bad setting", "cv --set epochs=nan (lstm)", ["cv", "train.csv", "--folds", "2", "--no-report", "--quiet",
                                                                  "--set", "epochs=nan"]),
        Case("cli", "bad setting", "cv --set learning_rate=nan (lstm)", ["cv", "train.csv", "--folds", "2", "--no-report", "--quiet",
                                                                         "--set", "learning_rate=nan", "--set", "epochs=1"]),
        Case("cli", "bad setting", "cv --set bogus=1", [*NUMERIC_BASE["cv"], "--set", "bogus=1"]),
        Case("cli", "bad setting", "cv --set C (no '=')", [*NUMERIC_BASE["cv"], "--set", "C"]),
        Case("cli", "bad setting", "tune --set seed=2**70", [*tune_argv(), "--no-report", "--set", f"seed={2**70}"], expect="either"),
        Case("cli", "bad setting", "tune --set hidden_size=10**9", [*tune_argv(), "--no-report", "--set", "hidden_size=1000000000"],
             expect="either"),
        Case("cli", "bad setting", "tune --storage bogus://x", [*tune_argv(), "--no-report", "--storage", "bogus://x"]),
        Case("cli", "bad setting", "tune --storage in a missing folder", [*tune_argv(), "--no-report", "--storage",
                                                                          "sqlite:////nonexistent/dir/s.db"]),
        Case("cli", "bad setting", "train --mlflow-uri bogus://x", [*train, "--mlflow-uri", "bogus://x"]),
        Case("cli", "bad setting", "train --dataset bogus", ["train", "--dataset", "bogus", *TINY, "--no-report"]),
        Case("cli", "bad setting", "train --dataset imdb --dataset-path /nonexistent",
             ["train", "--dataset", "imdb", "--dataset-path", "/nonexistent", *TINY, "--no-report"]),
        Case("cli", "bad setting", "train --device cuda:3 (no GPU here)", [*train, "--device", "cuda:3"]),
        Case("cli", "bad setting", "predict --backend bogus", ["predict", "net.sentilstm", "good", "--backend", "bogus"]),
        Case("cli", "bad setting", "export --format bogus", ["export", "net.sentilstm", "--format", "bogus"]),
        Case("cli", "bad setting", "export --quantize int4", ["export", "net.sentilstm", "--quantize", "int4"]),
        Case("cli", "bad setting", "explain --method bogus", ["explain", "net.sentilstm", "good", "--method", "bogus"]),
        Case("cli", "bad setting", "explain --label bogus", ["explain", "net.sentilstm", "good", "--label", "bogus"]),
        Case("cli", "bad setting", "explain an empty text", ["explain", "net.sentilstm", ""], expect="either"),
        Case("cli", "bad setting", "predict an empty text", ["predict", "net.sentilstm", ""], expect="either"),
        Case("cli", "bad setting", "predict --output with an unknown extension",
             ["predict", "net.sentilstm", "--input", "score.csv", "--output", "out.xlsx"]),
        Case("cli", "bad setting", "evaluate a table with labels the model lacks", ["evaluate", "net.sentilstm", "test_unseen.csv"],
             expect="either"),
        Case("cli", "bad setting", "serve --host 'no such host'", ["serve", "net.sentilstm", "--host", "no such host", "--port", "0",
                                                                   "--feedback-db", "sqlite:///fb.db"], timeout=60),
        Case("cli", "bad setting", "serve --feedback-db bogus://x", ["serve", "net.sentilstm", "--feedback-db", "bogus://x",
                                                                     "--port", str(art.busy_port)], timeout=60, accepted_if="cannot listen"),
        Case("cli", "bad setting", "datasets download bogus", ["datasets", "download", "bogus"]),
        Case("cli", "wrong kind of file", "describe a CSV file", ["describe", "train.csv"]),
        Case("cli", "wrong kind of file", "serve a CSV file", ["serve", "train.csv", "--port", str(art.busy_port)], timeout=60),
        Case("cli", "wrong kind of file", "predict with the checkpoint as the model", ["predict", "ck.ckpt", "good"]),
        Case("cli", "wrong kind of file", "train --resume with no checkpoint", [*train, "--resume", "--out", "fresh.sentilstm"],
             expect="either"),
        Case("cli", "wrong kind of file", "train --validation = DATA", [*train, "--validation", "train.csv"], expect="either"),
        Case("cli", "bad vectors", "train --embeddings: a word2vec header declaring 3x10^9 words",
             [*train, "--embeddings", "huge.txt"], setup=huge_vectors, expect="either"),
        Case("cli", "bad vectors", "train --embeddings: every vector NaN", [*train, "--embeddings", "nanvec.txt"], setup=nan_vectors),
        Case("cli", "bad vectors", "train --embeddings: vectors of different lengths", [*train, "--embeddings", "ragged.txt"],
             setup=ragged_vectors),
        Case("cli", "bad vectors", "train --embeddings: an empty file", [*train, "--embeddings", "empty.txt"],
             setup=writer("empty.txt", "")),
        Case("cli", "unbounded work", "explain --method lime --samples 10**9 on a short text",
             ["explain", "net.sentilstm", "good film", "--method", "lime", "--samples", "1000000000"], expect="either", timeout=60),
        Case("cli", "interrupted run", "predict --input killed mid-write: the next run sweeps its .tmp file", item="12",
             custom=killed_predict, quick=True, timeout=180),
        Case("cli", "interrupted run", "SIGKILL + --resume records the data profile of an uninterrupted run", item="10",
             custom=resumed_profile, quick=True, timeout=300),
    ]


def model_file_cli_cases(art: Artefacts) -> list[Case]:
    """Each tampered model through `sentilstm predict --json`, each tampered checkpoint through `train --resume`."""
    cases = []
    for tamper in TAMPERS:
        cases.append(Case("model", "tampered model (CLI predict)", tamper.name,
                          ["predict", "t.sentilstm", "--json", *PROBES], expect=tamper.expect, item=tamper.item,
                          quick=tamper.quick, setup=tampered_copy(art, tamper, "t.sentilstm"),
                          check=lambda folder, run, t=tamper: prediction_change(art, t, run.stdout)))
    special = [
        ("a FIFO named like a model", fifo("t.sentilstm")),
        ("a symlink to /dev/zero named like a model", symlink("t.sentilstm", "/dev/zero")),
    ]
    for name, setup in special:
        cases.append(Case("model", "tampered model (CLI predict)", name, ["predict", "t.sentilstm", "good"], setup=setup, timeout=60))
    for tamper in CKPT_TAMPERS:
        cases.append(Case("model", "tampered checkpoint (train --resume)", tamper.name,
                          ["train", "train.csv", "--out", "ck.sentilstm", *CKPT_ARGS, "--resume"], item=tamper.item,
                          quick=tamper.quick, setup=tampered_copy(art, tamper, "ck.sentilstm.ckpt")))
    return cases


def tampered_copy(art: Artefacts, tamper: Tamper, name: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        source = art.files / ("ck.ckpt" if tamper.base == "ckpt" else f"{tamper.base}.sentilstm")
        (folder / name).write_bytes(tamper.change(source.read_bytes()))
    return setup


def prediction_change(art: Artefacts, tamper: Tamper, stdout: str) -> str | None:
    """How a tampered model's `predict --json` output differs from the untampered model's (None: a model that should
    load predicts as before)."""
    try:
        got = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        probabilities = [[round(float(p), 6) for p in row["probabilities"].values()] for row in got]
    except (ValueError, AttributeError, TypeError):
        return "loads and predicts (output unreadable)"
    reference = art.reference[tamper.base]
    labels_changed = [str(row["label"]) for row in got] != [row["label"] for row in reference]
    drift = max((abs(a - b) for row, ref in zip(probabilities, reference) for a, b in zip(row, ref["probabilities"])), default=0)
    if labels_changed:
        return "loads silently and predicts different labels"
    if any(not math.isfinite(p) for row in probabilities for p in row):
        return "loads silently and predicts NaN probabilities"
    if drift <= 1e-5:
        return "loads silently; same predictions" if tamper.expect == "refuse" else None
    return f"loads silently; probabilities differ by up to {drift:.3g}"


def killed_predict(folder: Path, env: dict[str, str]) -> tuple[str, str, str]:
    """Kill `predict --input` once its temporary output exists, then run it again: is the stale .tmp swept?"""
    (folder / "big.csv").write_text(csv_text([(str(i), t) for i, (t, _) in enumerate(rows(200_000, 11))], ("id", "text")))
    command = [*SENTILSTM, "predict", "net.sentilstm", "--input", "big.csv", "--output", "scored.csv", "--chunk-rows", "2000"]
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(folder.glob(".scored.csv.*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    _kill_group(process.pid)
    process.wait()
    stale = [p.name for p in folder.glob(".scored.csv.*.tmp")]
    if not stale:
        return "skipped", "no temporary output appeared before the run ended", ""
    (folder / "big.csv").write_text(csv_text([("1", "good film")], ("id", "text")))
    again = execute(command, folder, env, 120)
    left = [name for name in stale if (folder / name).exists()]
    if again.rc != 0:
        return "traceback" if "Traceback" in again.stderr else "other", f"the second run failed: {exception_line(again.stderr)}", head(again.stderr)
    if left:
        return "data lost", f"{left[0]} (a killed run's half-written output) is still there after the next run", ""
    return "clean", "the next run removed the stale temporary file", ""


def resumed_profile(folder: Path, env: dict[str, str]) -> tuple[str, str, str]:
    """Resume the killed checkpoint run and compare its data profile with an uninterrupted run's."""
    if not (folder / "ck.ckpt").exists():
        return "skipped", "no checkpoint could be made", ""
    shutil.copyfile(folder / "ck.ckpt", folder / "ck.sentilstm.ckpt")
    resumed = execute([*SENTILSTM, "train", "train.csv", "--out", "ck.sentilstm", *CKPT_ARGS, "--resume"], folder, env, 240)
    whole = execute([*SENTILSTM, "train", "train.csv", "--out", "whole.sentilstm", *CKPT_ARGS], folder, env, 240)
    if resumed.rc != 0 or whole.rc != 0:
        failed = resumed if resumed.rc != 0 else whole
        return "traceback" if "Traceback" in failed.stderr else "other", exception_line(failed.stderr), head(failed.stderr)

    def profile(name: str) -> dict[str, Any]:
        header, _ = split_file((folder / name).read_bytes())
        return json.loads(header["__metadata__"]["payload"]).get("metrics", {}).get("data", {})

    a, b = profile("ck.sentilstm"), profile("whole.sentilstm")
    differing = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and "second" not in k}
    if differing:
        return "accepted", "resumed profile differs (resumed, uninterrupted): " + json.dumps(differing)[:300], ""
    return "clean", f"same data profile ({len(a)} fields)", ""


def cli_catalogue(art: Artefacts) -> list[Case]:
    return [*same_file_cases(art), *numeric_cases(art), *encoding_cases(), *text_cases(), *disk_cases(art),
            *odd_table_cases(), *misc_cases(art)]


def run_case(case: Case, art: Artefacts, index: int) -> Outcome:
    """Run one CLI (or one-process Python) case in a fresh folder holding copies of the prepared files."""
    folder = art.work / "cases" / f"{index:04d}"
    folder.mkdir()
    for source in art.files.iterdir():
        shutil.copyfile(source, folder / source.name)
    outcome = Outcome(case.surface, case.kind, case.name, case.expect, case.item, "skipped")
    try:
        if case.setup is not None:
            case.setup(folder)
        if case.custom is not None:
            started = time.monotonic()
            verdict, detail, output = case.custom(folder, art.env)
            outcome.verdict, outcome.detail, outcome.output = verdict, detail, output
            outcome.seconds, outcome.command = time.monotonic() - started, f"(flow) {case.custom.__doc__.strip().splitlines()[0]}"
            return outcome
        argv = [a.replace("{folder}", str(folder)) if isinstance(a, str) else a for a in case.argv]
        command = case.command or [*SENTILSTM, *argv]
        outcome.command = shown(["sentilstm", *argv] if case.command is None else ["python", "-c", "<save snippet>", *command[3:]])
        before = snapshot(folder)
        wrapped = art.sandbox.wrap(case, command, folder)
        if isinstance(wrapped, str):
            outcome.detail = f"cannot run here: {wrapped}"
            return outcome
        env = {**art.env, "HOME": str(folder)} if case.sandbox == "nobody" else art.env
        run = execute(wrapped, folder, env, case.timeout)
        if case.sandbox == "readonly" and not art.sandbox.namespaces:
            os.chmod(folder / "ro", 0o755)
        after = snapshot(folder)
        lost, leftovers = compare(before, after, case.outputs, run.rc == 0)
        if case.sandbox == "full":
            full_lost, full_left = compare_full(folder, run.rc == 0)
            lost, leftovers = lost + full_lost, leftovers + full_left
        problem = case.check(folder, run) if case.check is not None and run.rc == 0 else None
        outcome.verdict, outcome.detail = classify(case.expect, run, blowup_mb=art.blowup_mb, lost=lost, leftovers=leftovers,
                                                   problem=problem, accepted_if=case.accepted_if, late_if=case.late_if)
        outcome.output, outcome.seconds, outcome.peak_mb = head(run.stderr or run.stdout), run.seconds, round(run.peak_mb)
        return outcome
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():  # a read-only mode left behind
            subprocess.run(["chmod", "-R", "u+rwx", str(folder)], check=False)
            shutil.rmtree(folder, ignore_errors=True)


def compare_full(folder: Path, succeeded: bool) -> tuple[list[str], list[str]]:
    """The full tmpfs's files before and after the command (listed inside the namespace, which is gone now)."""
    def read(name: str) -> dict[str, str]:
        path = folder / name
        if not path.exists():
            return {}
        return {line.split(None, 1)[1].strip(): line.split(None, 1)[0] for line in path.read_text().splitlines() if line.strip()}
    before, after = read(".audit-before.sha"), read(".audit-after.sha")
    if not before:
        return ["the full-disk setup did not run"], []
    lost = [f"{name} (previous output on the full disk) {'deleted' if name not in after else 'changed'}"
            for name, digest in before.items() if after.get(name) != digest]
    return lost, [name for name in sorted(after.keys() - before.keys()) if name.endswith(".tmp") or not succeeded]


# ----- the Python API (one long-lived process, restarted after a crash or a hang) ----------------------------------
@dataclass
class PyCase:
    surface: str
    kind: str
    name: str
    expect: str
    run: Callable[[Any], Any]  # run(ctx) -> None, or a string saying what is wrong with the result
    item: str | None = None
    quick: bool = False
    timeout: float = 60.0


TINY_PY = dict(epochs=1, embedding_dim=8, hidden_size=8, min_frequency=1, num_threads=1, blend=None, seed=0)


class PyContext:
    """What the Python cases use: the prepared models, the training texts and the odd tables."""

    def __init__(self, work: Path) -> None:
        from sentilstm import load_model, read_table

        self.work = work
        self.net, self.blend, self.base = (load_model(work / "py" / f"{n}.sentilstm") for n in ("net", "blend", "base"))
        table = read_table(work / "py" / "train.csv")
        self.texts, self.labels = table.texts, table.labels

    def fit(self, texts: Any = None, labels: Any = None, **params: Any) -> Any:
        from sentilstm import SentimentClassifier

        return SentimentClassifier(**{**TINY_PY, **params}).fit(self.texts if texts is None else texts,
                                                                  self.labels if labels is None else labels)


def rows_of(result: Any, expected: int) -> str | None:
    n = len(result) if hasattr(result, "__len__") else None
    return None if n == expected else f"returned {n} predictions for {expected} rows"


def python_cases(ctx: PyContext | None) -> list[PyCase]:
    """The Python API cases (ctx is None when only the names are wanted)."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"text": ["good", "bad", "fine"], "id": [1, 2, 3]})
    py = lambda kind, name, expect, run, item=None, quick=False, timeout=60.0: PyCase(  # noqa: E731
        "python", kind, name, expect, run, item, quick, timeout)
    cases = [
        py("predict misuse", "clf.predict(None)", "refuse", lambda c: c.net.predict(None), "8", True),
        py("predict misuse", "clf.predict('a string')", "refuse", lambda c: c.net.predict("good film"), None, True),
        py("predict misuse", "clf.predict([1, 2])", "refuse", lambda c: c.net.predict([1, 2])),
        py("predict misuse", "clf.predict([None])", "either", lambda c: c.net.predict([None])),
        py("predict misuse", "clf.predict([b'bytes'])", "either", lambda c: c.net.predict([b"good"])),
        py("predict misuse", "clf.predict([['nested']])", "refuse", lambda c: c.net.predict([["good"]])),
        py("predict misuse", "clf.predict(5)", "refuse", lambda c: c.net.predict(5)),
        py("predict misuse", "clf.predict({'a': 1})", "refuse", lambda c: c.net.predict({"good": 1})),
        py("predict misuse", "clf.predict([float('nan')])", "either", lambda c: c.net.predict([float("nan")])),
        py("predict misuse", "clf.predict(a 2-column, 3-row DataFrame)", "either", lambda c: rows_of(c.net.predict(frame), 3)),
        py("predict misuse", "baseline.predict(a 2-column, 3-row DataFrame)", "either", lambda c: rows_of(c.base.predict(frame), 3)),
        py("predict misuse", "clf.predict(a generator)", "work", lambda c: rows_of(c.net.predict(t for t in ["good", "bad"]), 2)),
        py("predict misuse", "clf.predict(a numpy array of str)", "work", lambda c: rows_of(c.net.predict(np.array(["good", "bad"])), 2)),
        py("predict misuse", "clf.predict(a pandas Series)", "work", lambda c: rows_of(c.net.predict(frame["text"]), 3)),
        py("predict misuse", "clf.predict([])", "either", lambda c: c.net.predict([])),
        py("predict misuse", "clf.predict(['x' * 10**6])", "work", lambda c: rows_of(c.net.predict(["good " * 200_000]), 1)),
        py("surrogates", "clf.predict(['good \\ud83d']) (lone surrogate)", "work", lambda c: c.net.predict(["good \ud83d"]), "6", True),
        py("surrogates", "blended clf.predict(['\\udcff bad']) (surrogateescape)", "work", lambda c: c.blend.predict(["\udcff bad"]), "6"),
        py("surrogates", "baseline.predict(['\\ud800'])", "work", lambda c: c.base.predict(["\ud800 good"]), "6"),
        py("surrogates", "clf.fit on texts with lone surrogates", "work",
           lambda c: c.fit([t + " \ud83d" for t in c.texts]), "6", True),
        py("surrogates", "explain(clf, 'good \\ud83d film')", "work", lambda c: explain_text(c.net, "good \ud83d film"), "6"),
        py("surrogates", "clf.predict(['a\\x00b']) (NUL)", "work", lambda c: c.net.predict(["go\x00od"])),
        py("fit misuse", "fit(X, y) with one label fewer", "refuse", lambda c: c.fit(c.texts, c.labels[:-1]), None, True),
        py("fit misuse", "fit(None, None)", "refuse", lambda c: _fit_args(c, None, None)),
        py("fit misuse", "fit(X, None)", "refuse", lambda c: _fit_args(c, c.texts, None)),
        py("fit misuse", "fit([], [])", "refuse", lambda c: _fit_args(c, [], [])),
        py("fit misuse", "fit with a single class", "refuse", lambda c: c.fit(c.texts, ["pos"] * len(c.texts))),
        py("fit misuse", "fit with None labels", "refuse", lambda c: c.fit(c.texts, [None] * len(c.texts))),
        py("fit misuse", "fit with NaN labels", "refuse", lambda c: c.fit(c.texts, [float("nan")] * len(c.texts))),
        py("fit misuse", "fit with labels 1 and '1' mixed", "either",
           lambda c: c.fit(c.texts, [1 if i % 2 else "1" for i in range(len(c.texts))])),
        py("fit misuse", "fit(DataFrame, Series)", "either",
           lambda c: c.fit(pd.DataFrame({"text": c.texts}), pd.Series(c.labels))),
        py("fit misuse", "fit with validation=(texts,) (one element)", "refuse",
           lambda c: _fit_validation(c, (c.texts[:20],))),
        py("fit misuse", "fit with validation labels unseen in training", "either",
           lambda c: _fit_validation(c, (c.texts[:20], ["meh"] * 20))),
        py("fit misuse", "fit with 1,000 classes (3 texts each)", "either",
           lambda c: c.fit([f"{t} w{i}" for i, t in enumerate(c.texts * 10)], [f"c{i % 1000}" for i in range(3000)]), "7"),
        py("fit misuse", "SentimentClassifier(bogus=1)", "refuse", lambda c: c.fit(bogus=1)),
        py("evaluate misuse", "clf.evaluate(None, None)", "refuse", lambda c: c.net.evaluate(None, None)),
        py("evaluate misuse", "clf.evaluate with one label fewer", "refuse", lambda c: c.net.evaluate(c.texts, c.labels[:-1])),
        py("evaluate misuse", "clf.evaluate with labels the model lacks", "either", lambda c: c.net.evaluate(["good"] * 3, ["meh"] * 3)),
        py("evaluate misuse", "clf.evaluate([], [])", "refuse", lambda c: c.net.evaluate([], [])),
        py("explain misuse", "explain(clf, None)", "refuse", lambda c: explain_text(c.net, None)),
        py("explain misuse", "explain(clf, '')", "either", lambda c: explain_text(c.net, "")),
        py("explain misuse", "explain(clf, 'good', 'bogus')", "refuse", lambda c: explain_text(c.net, "good", "bogus")),
        py("explain misuse", "explain(clf, 'good', 'lime', num_samples=-1)", "refuse",
           lambda c: explain_text(c.net, "good film", "lime", num_samples=-1)),
        py("explain misuse", "explain(clf, 'good', 'lime', num_samples=1.5)", "refuse",
           lambda c: explain_text(c.net, "good film", "lime", num_samples=1.5)),
        py("explain misuse", "explain(clf, 'good', 'lime', num_samples=10**12)", "either",
           lambda c: explain_text(c.net, "good film", "lime", num_samples=10**12)),
        py("explain misuse", "explain(clf, 'good', 'lime', seed=-1)", "either",
           lambda c: explain_text(c.net, "good film", "lime", seed=-1)),
        py("save misuse", "clf.save(None)", "refuse", lambda c: c.net.save(None)),
        py("save misuse", "clf.save('')", "refuse", lambda c: c.net.save("")),
        py("save misuse", "clf.save into a missing folder", "refuse", lambda c: c.net.save("/nonexistent/dir/m.sentilstm")),
        py("save misuse", "clf.save onto an existing folder", "refuse", lambda c: c.net.save(c.work / "py")),
        py("load misuse", "load_model(None)", "refuse", lambda c: load(None)),
        py("load misuse", "load_model(a folder)", "refuse", lambda c: load(c.work / "py")),
        py("load misuse", "load_model(a CSV)", "refuse", lambda c: load(c.work / "py" / "train.csv")),
        py("load misuse", "load_model(a checkpoint)", "refuse", lambda c: load(c.work / "py" / "ck.ckpt")),
        py("load misuse", "load_model('a\\x00b') (NUL in the path)", "refuse", lambda c: load("a\x00b.sentilstm")),
        py("load misuse", "SentimentClassifier.load(a baseline)", "refuse", lambda c: _load_as_network(c.work / "py" / "base.sentilstm")),
        py("read_table misuse", "read_table(None)", "refuse", lambda c: _read(None)),
        py("read_table misuse", "read_table(train.csv, encoding='bogus')", "refuse",
           lambda c: _read(c.work / "py" / "train.csv", encoding="bogus"), "8"),
        py("read_table misuse", "read_table(train.csv, encoding='rot13')", "refuse",
           lambda c: _read(c.work / "py" / "train.csv", encoding="rot13")),
        py("read_table misuse", "read_table(train.csv, text_column='nope')", "refuse",
           lambda c: _read(c.work / "py" / "train.csv", text_column="nope")),
        py("read_table misuse", "score_file(clf, X, X) through a hard link", "refuse",
           lambda c: _score_through_hardlink(c)),
        py("cross_validate misuse", "cross_validate(folds=1)", "refuse", lambda c: _cv(c, folds=1)),
        py("cross_validate misuse", "cross_validate(folds=10**6)", "refuse", lambda c: _cv(c, folds=10**6)),
        py("cross_validate misuse", "cross_validate(folds=2.5)", "refuse", lambda c: _cv(c, folds=2.5)),
        py("cross_validate misuse", "cross_validate(jobs=0)", "refuse", lambda c: _cv(c, jobs=0)),
    ]
    for what, name, expect, item, _ in odd_tables():  # a single class is a readable table; training refuses it
        cases.append(py("odd table", f"read_table({what})", "either" if name == "oneclass.csv" else expect,
                        lambda c, n=name: _read(c.work / "odd" / n), item, item is not None, timeout=60))
    cases += parameter_cases()
    cases += [PyCase("model", "tampered model (load_model + predict)", t.name, t.expect,
                     lambda c, t=t: _tampered(c, t), t.item, t.quick) for t in TAMPERS]
    return cases


def parameter_cases() -> list[PyCase]:
    """NaN, infinity, negative, non-integer and huge values for every numeric SentimentClassifier parameter, and a
    bogus value for every string one (the list comes from the signature, so new parameters are covered)."""
    import inspect
    import typing

    from sentilstm import SentimentClassifier

    try:
        hints = typing.get_type_hints(SentimentClassifier.__init__)
    except Exception:  # noqa: BLE001 - an annotation that cannot be resolved here: fall back on the defaults' types
        hints = {}
    cases = []
    for name, parameter in inspect.signature(SentimentClassifier.__init__).parameters.items():
        if name == "self" or name in ("augment_translator",):
            continue
        kinds = set(typing.get_args(hints.get(name)) or (hints.get(name),))
        default = parameter.default
        if isinstance(default, bool) or bool in kinds:
            values = {"'yes'": ("yes", "either")}
        elif isinstance(default, int) or int in kinds:
            values = {"nan": (float("nan"), "refuse"), "-1": (-1, "either" if name in ("seed", "freeze_embeddings") else "refuse"),
                      "1.5": (1.5, "refuse"), "10**12": (10**12, "refuse" if name == "num_threads" else "either")}
        elif isinstance(default, float) or float in kinds:
            values = {"nan": (float("nan"), "refuse"), "inf": (float("inf"), "refuse"), "-1": (-1.0, "refuse"),
                      "1e300": (1e300, "either")}
        else:
            values = {"'bogus'": ("bogus", "refuse")}
        listed = {("epochs", "1.5"), ("batch_size", "1.5"), ("seed", "-1"), ("hidden_size", "10**12")}
        for label, (value, expect) in values.items():
            if name == "embeddings" or (name == "device" and label == "'bogus'"):
                expect = "refuse"
            item = "8" if (name, label) in listed else None
            cases.append(PyCase("python", "parameter value", f"SentimentClassifier({name}={label}).fit", expect,
                                lambda c, n=name, v=value: c.fit(**{n: v}), item, item is not None))
    cases.append(PyCase("python", "parameter value", "SentimentClassifier(device='cuda:3').fit (no GPU)", "refuse",
                        lambda c: c.fit(device="cuda:3")))
    cases.append(PyCase("python", "parameter value", "SentimentClassifier(loss='focal', focal_gamma=nan).fit", "refuse",
                        lambda c: c.fit(loss="focal", focal_gamma=float("nan")), "8", True))
    return cases


def explain_text(clf: Any, text: Any, method: str = "auto", **options: Any) -> Any:
    from sentilstm import explain

    return explain(clf, text, method, **options)


def load(path: Any) -> Any:
    from sentilstm import load_model

    return load_model(path)


def _load_as_network(path: Path) -> Any:
    from sentilstm import SentimentClassifier

    return SentimentClassifier.load(path)


def _fit_args(ctx: PyContext, texts: Any, labels: Any) -> Any:
    from sentilstm import SentimentClassifier

    return SentimentClassifier(**TINY_PY).fit(texts, labels)


def _fit_validation(ctx: PyContext, validation: Any) -> Any:
    from sentilstm import SentimentClassifier

    return SentimentClassifier(**TINY_PY).fit(ctx.texts, ctx.labels, validation=validation)


def _read(path: Any, **options: Any) -> Any:
    from sentilstm import read_table

    return read_table(path, **options)


def _cv(ctx: PyContext, **options: Any) -> Any:
    from sentilstm import cross_validate

    return cross_validate(ctx.texts, ctx.labels, params={"C": 0.1}, estimator="nbsvm", **{"folds": 2, **options})


def _score_through_hardlink(ctx: PyContext) -> Any:
    from sentilstm.scoring import score_file

    folder = ctx.work / "py"
    link = folder / "hard-score.csv"
    if not link.exists():
        os.link(folder / "score.csv", link)
    return score_file(ctx.net, folder / "score.csv", link)


def _tampered(ctx: PyContext, tamper: Tamper) -> str | None:
    """Load a tampered copy and predict; a problem string when it loads (the caller decides if that is wrong)."""
    import numpy as np

    path = ctx.work / "tampered" / f"{TAMPERS.index(tamper):02d}.sentilstm"
    clf = load(path)
    probabilities = np.asarray(clf.predict_proba(PROBES))
    reference = {"net": ctx.net, "blend": ctx.blend, "base": ctx.base}[tamper.base]
    labels = list(clf.predict(PROBES))
    if not np.all(np.isfinite(probabilities)):
        return "loads silently and predicts NaN probabilities"
    if [str(x) for x in labels] != [str(x) for x in reference.predict(PROBES)]:
        return "loads silently and predicts different labels"
    if probabilities.shape != reference.predict_proba(PROBES).shape:
        return f"loads silently with {probabilities.shape[1]} classes"
    drift = float(np.abs(probabilities - reference.predict_proba(PROBES)).max())
    message = f"loads silently; probabilities differ by up to {drift:.3g}" if drift > 1e-5 else "loads silently; same predictions"
    return message if tamper.expect == "refuse" else None


def judge_exception(exc: BaseException, expect: str) -> tuple[str, str]:
    """(verdict, detail) for an exception a Python case raised."""
    message = str(exc).strip()
    described = f"{type(exc).__name__}: {message.splitlines()[0][:250] if message else ''}"
    if isinstance(exc, MemoryError) or any(sign in message for sign in ALLOC_SIGNS):
        return "hang/blow-up", f"out of memory under the {AS_LIMIT >> 30} GB limit: {described}"
    from sentilstm import SentilstmError

    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    package = str(ROOT / "src" / "sentilstm")
    in_sentilstm = last is not None and (last.filename.startswith(package) or "/sentilstm/" in last.filename)
    on_purpose = in_sentilstm and (last.line or "").lstrip().startswith("raise")
    at_call = last is not None and Path(last.filename).resolve() == Path(__file__).resolve()  # Python's own call check
    typed = isinstance(exc, SentilstmError) or (isinstance(exc, (TypeError, ValueError)) and (on_purpose or at_call))
    if not typed:
        where = f" (at {Path(last.filename).name}:{last.lineno})" if last is not None else ""
        return "traceback", described + where
    if not message or "\n" in message:
        return "other", f"not a one-line message: {described}"
    if expect == "work":
        return "other", f"refused a valid input: {described}"
    return "clean", described


def peak_reset() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def runner(work: Path, start: int, surfaces: set[str], quick: bool, limit: int | None, blowup_mb: float) -> int:
    """The child process behind the python and model surfaces: runs the cases from `start`, one JSON line each."""
    import warnings

    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    ctx = PyContext(work)
    cases = select(python_cases(ctx), surfaces, quick, limit)
    log = open(work / "python.jsonl", "a", buffering=1)
    for index in range(start, len(cases)):
        case = cases[index]
        log.write(json.dumps({"event": "start", "index": index, "timeout": case.timeout, **case_fields(case)}) + "\n")
        before = snapshot(work / "py")
        peak_reset()
        started = time.monotonic()
        try:
            problem = case.run(ctx)
            if isinstance(problem, str):
                verdict, detail = "accepted", problem
            else:
                verdict, detail = ("accepted", "returned normally") if case.expect == "refuse" else ("clean", "worked")
        except BaseException as exc:  # noqa: BLE001 - classifying every failure is the point
            verdict, detail = judge_exception(exc, case.expect)
        seconds = time.monotonic() - started
        peak = peak_mb()
        lost, leftovers = compare(before, snapshot(work / "py"), (), True)
        if lost or leftovers:
            verdict, detail = "data lost", "; ".join(lost + leftovers)
        elif peak > blowup_mb and verdict != "hang/blow-up":
            verdict, detail = "hang/blow-up", f"peak RSS {peak:.0f} MB ({detail})"
        log.write(json.dumps({"event": "end", "index": index, "verdict": verdict, "detail": detail,
                              "seconds": round(seconds, 2), "peak_mb": round(peak)}) + "\n")
    log.write(json.dumps({"event": "done", "total": len(cases)}) + "\n")
    return 0


def case_fields(case: PyCase) -> dict[str, Any]:
    return {"surface": case.surface, "kind": case.kind, "name": case.name, "expect": case.expect, "item": case.item}


def run_python_surfaces(art: Artefacts, surfaces: set[str], quick: bool, limit: int | None,
                        log: Callable[[str], None]) -> list[Outcome]:
    """Run the runner, following its JSON lines; restart it after the case that crashed or hung it."""
    folder = art.work / "py"
    folder.mkdir(exist_ok=True)
    for source in art.files.iterdir():
        shutil.copyfile(source, folder / source.name)
    odd = art.work / "odd"
    for _, name, _, _, write in odd_tables():
        write(odd)
    for index, tamper in enumerate(TAMPERS):
        source = art.files / f"{tamper.base}.sentilstm"
        (art.work / "tampered" / f"{index:02d}.sentilstm").write_bytes(tamper.change(source.read_bytes()))
    results = art.work / "python.jsonl"
    outcomes: dict[int, Outcome] = {}
    start = 0
    while True:
        command = ["prlimit", f"--as={AS_LIMIT}", "--", PYTHON, str(Path(__file__).resolve()), "--runner", str(art.work), "--start", str(start),
                   "--only", ",".join(sorted(surfaces)), "--blowup-mb", str(art.blowup_mb)]
        command += ["--quick"] if quick else []
        command += ["--limit", str(limit)] if limit else []
        offset, current, done = results.stat().st_size if results.exists() else 0, None, False
        with open(art.work / "runner.log", "ab") as runner_log:
            process = subprocess.Popen(command, cwd=folder, env=art.env, stdout=runner_log, stderr=runner_log,
                                       start_new_session=True)
        while True:
            time.sleep(0.1)
            lines, offset = _new_lines(results, offset)
            for event in lines:
                if event["event"] == "start":
                    current = event
                    current["started"] = time.monotonic()
                elif event["event"] == "end":
                    meta = current or {}
                    outcomes[event["index"]] = Outcome(meta["surface"], meta["kind"], meta["name"], meta["expect"], meta["item"],
                                                       event["verdict"], event["detail"], f"python: {meta['name']}", "",
                                                       event["seconds"], event["peak_mb"])
                    log(f"  [{event['verdict']:>12}] {meta['surface']}: {meta['name']}")
                    current = None
                elif event["event"] == "done":
                    done = True
            if done:
                process.wait()
                return [outcomes[i] for i in sorted(outcomes)]
            exited = process.poll() is not None
            hung = current is not None and time.monotonic() - current["started"] > current["timeout"]
            if exited or hung:
                _kill_group(process.pid)
                process.wait()
                if current is None:
                    tail = (art.work / "runner.log").read_text(errors="replace")[-1500:]
                    raise SystemExit(f"the Python runner stopped before its first case:\n{tail}")
                verdict = "hang/blow-up"
                detail = (f"no answer after {current['timeout']:.0f} s (killed)" if hung else
                          f"the process died (exit {process.returncode}): {exception_line((art.work / 'runner.log').read_text(errors='replace')[-3000:])}")
                outcomes[current["index"]] = Outcome(current["surface"], current["kind"], current["name"], current["expect"],
                                                     current["item"], verdict, detail, f"python: {current['name']}")
                log(f"  [{verdict:>12}] {current['surface']}: {current['name']} ({detail[:80]})")
                start = current["index"] + 1
                break


def _new_lines(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    if not path.exists():
        return [], offset
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    complete = data[:data.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.decode().splitlines() if line.strip()], offset + len(complete)


# ----- HTTP: real servers on loopback ------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int  # 0: no answer
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str = ""


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            timeout: float = 30.0) -> Reply:
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
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data, time.monotonic() - started)
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
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
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
        self.command = ["prlimit", f"--as={AS_LIMIT}", "--", *SENTILSTM, "serve", str(art.files / model), "--port",
                        str(self.port), "--feedback-db", f"sqlite:///{art.work}/feedback-{name}.db", *extra]
        self.process: subprocess.Popen[bytes] | None = None
        self.headers: dict[str, str] = {}

    def start(self, timeout: float = 150.0) -> bool:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=self.art.work, env=self.env, stdout=log, stderr=log,
                                            start_new_session=True)
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
            _kill_group(self.process.pid)
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

    def record(self, kind: str, name: str, expect: str, verdict: str, detail: str, command: str = "",
               item: str | None = None, seconds: float = 0.0) -> None:
        self.outcomes.append(Outcome("http", kind, name, expect, item, verdict, detail, command, "", round(seconds, 2)))
        self.log(f"  [{verdict:>12}] http: {name}")

    def call(self, kind: str, name: str, expect: str, port: int, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None, item: str | None = None, timeout: float = 30.0) -> Reply:
        reply = request(port, method, path, body, {**self.auth, **(headers or {})}, timeout)
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
            self.record("server", "start `sentilstm serve`", "work", "other", f"did not start: {head(main.log.read_text(), 6)}")
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
        self.tokens = {name: secrets.token_urlsafe(24) for name in ("absolute", "relative", "symlink", "sweep", "score")}
        victim = self.outside / "victim.txt"
        victim.write_text("a file the sweep must never delete\n")
        notes = {
            f"{self.tokens['absolute']}.scored.json": {"file": str(self.outside / "secret.txt"), "name": "loot.csv"},
            f"{self.tokens['relative']}.scored.json": {"file": os.path.relpath(self.outside / "secret.txt", page), "name": "r.csv"},
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
        self.call(kind, "planted note with an absolute path: GET /score/<token>.csv", "refuse", port, "GET",
                  f"/score/{self.tokens['absolute']}.csv", item="1")
        self.call(kind, "planted note with a ../ relative path", "refuse", port, "GET", f"/score/{self.tokens['relative']}.csv", item="1")
        self.call(kind, "planted symlink beside a well-formed note", "refuse", port, "GET", f"/score/{self.tokens['symlink']}.csv", item="1")
        body, ctype = multipart({"upload": self.tokens["score"]}, {})
        reply = self.call(kind, "planted upload note pointing at a file outside: POST /score upload=<token>", "refuse", port,
                          "POST", "/score", body, {"Content-Type": ctype}, item="1")
        if reply.status == 200:
            download = json.loads(reply.body).get("download", "")
            got = request(port, "GET", download, headers=self.auth)
            verdict, detail = judge_reply(got, "refuse", self.leaks)
            self.record(kind, "... and its scored download echoes the outside file", "refuse", verdict, detail, f"GET {download}", "1")
        body, ctype = multipart({}, {"file": ("small.csv", csv_text(rows(5, 12)).encode())})
        self.call(kind, "an upload that triggers the sweep (POST /score/columns)", "work", port, "POST", "/score/columns", body,
                  {"Content-Type": ctype})
        victim = self.outside / "victim.txt"
        self.record(kind, "sweep follows a planted old note to a file outside the folder", "refuse",
                    "data lost" if not victim.exists() else "clean",
                    "the sweep deleted a file outside the upload folder" if not victim.exists() else "the outside file is intact",
                    "POST /score/columns after planting an old .upload.json", "1")
        mine = [p.name for p in page.iterdir() if p.lstat().st_uid == os.geteuid() and not p.name.startswith(tuple(self.tokens.values()))]
        foreign = os.stat(page).st_uid != os.geteuid()
        if not foreign:
            self.record(kind, "server stores uploads in a pre-created folder owned by another user", "refuse", "skipped",
                        "not root: the audit cannot create a folder owned by another user")
            return
        self.record(kind, "server stores uploads in a pre-created world-writable folder owned by another user", "refuse",
                    "accepted" if mine else "clean",
                    f"wrote {len(mine)} files into {page.name} (owner uid {os.stat(page).st_uid}, mode "
                    f"{stat.S_IMODE(os.stat(page).st_mode):o})" if mine else "it did not use the planted folder",
                    "POST /score/columns", "1")

    # --- malformed, oversized and odd requests ---
    def requests(self, port: int) -> None:
        json_type = {"Content-Type": "application/json"}
        cases: list[tuple[str, str, str, str, str, bytes, dict[str, str], str | None]] = [
            ("path traversal", "GET /static/../../../../etc/passwd", "refuse", "GET", "/static/../../../../etc/passwd", b"", {}, None),
            ("path traversal", "GET /static/..%2f..%2f..%2fetc%2fpasswd", "refuse", "GET", "/static/..%2f..%2f..%2f..%2fetc%2fpasswd", b"", {}, None),
            ("path traversal", "GET /static/%2e%2e/%2e%2e/etc/passwd", "refuse", "GET", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", b"", {}, None),
            ("path traversal", "GET /docs/assets/..%2f..%2f..%2fetc%2fpasswd", "refuse", "GET",
             "/docs/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", b"", {}, None),
            ("path traversal", "GET /score/..%2f..%2fsecret.csv", "refuse", "GET", "/score/..%2f..%2f..%2foutside%2fsecret.csv", b"", {}, None),
            ("path traversal", "GET //etc/passwd", "refuse", "GET", "//etc/passwd", b"", {}, None),
            ("path traversal", "GET /static/app.js%00.txt", "refuse", "GET", "/static/app.js%00.txt", b"", {}, None),
            ("malformed body", "POST /predict '{'", "refuse", "POST", "/predict", b"{", json_type, None),
            ("malformed body", "POST /predict invalid UTF-8", "refuse", "POST", "/predict", b'{"text": "\xff\xfe"}', json_type, None),
            ("malformed body", "POST /predict 100,000-deep nesting", "refuse", "POST", "/predict",
             b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", json_type, None),
            ("malformed body", "POST /predict {\"text\": NaN}", "refuse", "POST", "/predict", b'{"text": NaN}', json_type, None),
            ("malformed body", "POST /predict {\"texts\": []}", "refuse", "POST", "/predict", b'{"texts": []}', json_type, None),
            ("malformed body", "POST /predict {\"texts\": [1, 2]}", "refuse", "POST", "/predict", b'{"texts": [1, 2]}', json_type, None),
            ("malformed body", "POST /predict {\"text\": null}", "refuse", "POST", "/predict", b'{"text": null}', json_type, None),
            ("malformed body", "POST /predict an unknown field", "refuse", "POST", "/predict", b'{"text": "a", "x": 1}', json_type, None),
            ("malformed body", "POST /predict duplicated keys", "either", "POST", "/predict", b'{"text": "a", "text": "b"}', json_type, None),
            ("odd text", "POST /predict a lone surrogate \\ud800", "work", "POST", "/predict", b'{"text": "good \\ud800"}', json_type, "6"),
            ("odd text", "POST /predict a NUL character", "work", "POST", "/predict", b'{"text": "go\\u0000od"}', json_type, None),
            ("odd text", "POST /feedback a lone surrogate", "work", "POST", "/feedback", b'{"text": "good \\udfff"}', json_type, None),
            ("odd text", "POST /explain a lone surrogate", "work", "POST", "/explain",
             b'{"text": "good \\ud83d film", "method": "attention"}', json_type, "6"),
            ("huge numbers", "POST /explain num_samples 1e400", "refuse", "POST", "/explain",
             b'{"text": "good", "num_samples": 1e400}', json_type, None),
            ("huge numbers", "POST /explain num_samples 10**30", "refuse", "POST", "/explain",
             b'{"text": "good", "num_samples": ' + str(10**30).encode() + b"}", json_type, None),
            ("huge numbers", "POST /explain seed 2**64", "refuse", "POST", "/explain",
             b'{"text": "good", "seed": ' + str(2**64).encode() + b"}", json_type, None),
            ("huge numbers", "GET /feedback?limit=10**20", "refuse", "GET", "/feedback?limit=100000000000000000000", b"", {}, None),
            ("huge numbers", "GET /feedback?after_id=-1", "refuse", "GET", "/feedback?after_id=-1", b"", {}, None),
            ("huge numbers", "GET /trends?since=99999-01-01T00:00", "refuse", "GET", "/trends?since=99999-01-01T00:00", b"", {}, None),
            ("huge numbers", "POST /feedback a timestamp past year 9999 in UTC", "refuse", "POST", "/feedback",
             b'{"text": "good", "timestamp": "9999-12-31T23:59:00-23:59"}', json_type, None),
            ("wrong content type", "POST /predict JSON sent as text/plain (a cross-site simple request)", "refuse", "POST",
             "/predict", b'{"text": "good"}', {"Content-Type": "text/plain"}, None),
            ("wrong content type", "POST /predict as a urlencoded form", "refuse", "POST", "/predict", b"text=good",
             {"Content-Type": "application/x-www-form-urlencoded"}, None),
            ("wrong content type", "POST /predict as multipart", "refuse", "POST", "/predict", *multipart_args({"text": "good"}), None),
            ("wrong content type", "POST /score with a JSON body", "refuse", "POST", "/score", b'{"file": "x"}', json_type, None),
            ("wrong content type", "POST /score/columns a .exe file", "refuse", "POST", "/score/columns",
             *multipart_args({}, {"file": ("x.exe", b"MZ\x90\x00")}), None),
            ("limits", "POST /predict 1,001 texts", "refuse", "POST", "/predict",
             json.dumps({"texts": ["good"] * 1001}).encode(), json_type, None),
            ("limits", "POST /predict a 20,001-character text", "refuse", "POST", "/predict",
             json.dumps({"text": "a" * 20_001}).encode(), json_type, None),
            ("limits", "POST /explain a 20,001-character text", "refuse", "POST", "/explain",
             json.dumps({"text": "a" * 20_001}).encode(), json_type, None),
            ("limits", "POST /predict 100 texts of 19,000 characters (1.9 MB, under every limit)", "work", "POST", "/predict",
             json.dumps({"texts": [("good film " * 1900)[:19_000]] * 100}).encode(), json_type, None),
            ("limits", "POST /explain an empty text", "refuse", "POST", "/explain", b'{"text": ""}', json_type, None),
            ("limits", "POST /explain a label the model lacks", "refuse", "POST", "/explain", b'{"text": "good", "label": "meh"}',
             json_type, None),
            ("odd request", "TRACE /", "refuse", "TRACE", "/", b"", {}, None),
            ("odd request", "GET /score/\u00e9.csv (non-ASCII, percent-encoded)", "refuse", "GET", "/score/%C3%A9.csv", b"", {}, None),
        ]
        for kind, name, expect, method, path, body, headers, item in cases:
            self.call(kind, name, expect, port, method, path, body, headers, item)
        raw = [
            ("limits", "Content-Length 3,000,000 with a short body", "refuse",
             b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n{}"),
            ("limits", "a chunked body over the 2 MB limit", "refuse",
             b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
             + b"".join(b"%x\r\n" % 65536 + b"a" * 65536 + b"\r\n" for _ in range(40)) + b"0\r\n\r\n"),
            ("limits", "a multipart upload declaring 80 MB", "refuse",
             b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
             b"Content-Length: 80000000\r\n\r\n--x\r\n"),
            ("odd request", "Content-Length and Transfer-Encoding together (smuggling)", "refuse",
             b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("odd request", "a 100 KB header", "refuse", b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"),
            ("odd request", "a 100 KB request line", "refuse", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        ]
        for kind, name, expect, data in raw:
            if self.api_key:
                data = data.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\r\nAuthorization: Bearer " + self.api_key.encode() + b"\r\n")
            reply = raw_request(port, data)
            verdict, detail = judge_reply(reply, expect, self.leaks)
            self.record(kind, name, expect, verdict, detail, data[:80].decode("latin-1").replace("\r\n", " | "), None, reply.seconds)

    # --- the opt-in security options users expect (issue section "Security options") ---
    def page_security(self, port: int) -> None:
        formulas = ["=1+2", "+SUM(1,1)", "-2+3", "@SUM(1)", '=HYPERLINK("http://evil.example","x")', "\t=1+1"]
        table = csv_text([(f,) for f in formulas], ("text",)).encode()
        body, ctype = multipart({}, {"file": ("formulas.csv", table)})
        reply = request(port, "POST", "/score", body, {**self.auth, "Content-Type": ctype})
        if reply.status != 200:
            verdict, detail = judge_reply(reply, "work")
            self.record("csv formula", "scored download of formula cells", "refuse", verdict, detail, "POST /score", "S")
        else:
            download = json.loads(reply.body)["download"]
            text = request(port, "GET", download, headers=self.auth).body.decode("utf-8", "replace")
            import csv as csv_module

            cells = [row[0] for row in list(csv_module.reader(io.StringIO(text)))[1:] if row]
            live = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
            self.record("csv formula", "scored download keeps formula cells live (=, +, -, @)", "refuse",
                        "accepted" if live else "clean", f"live cells: {live}" if live else "neutralised", f"GET {download}", "S")
        evil = "http://evil.example"
        self.call("cross-site", "forged Host header (DNS rebinding): GET /model", "refuse", port, "GET", "/model",
                  headers={"Host": "evil.example"}, item="S")
        self.call("cross-site", "forged Host header: POST /predict", "refuse", port, "POST", "/predict", b'{"text": "good"}',
                  {"Host": "evil.example:80", "Content-Type": "application/json"}, item="S")
        body, ctype = multipart({}, {"file": ("x.csv", csv_text(rows(5, 13)).encode())})
        self.call("cross-site", "cross-site form post to /score (Origin evil, no CSRF token)", "refuse", port, "POST", "/score", body,
                  {"Content-Type": ctype, "Origin": evil, "Sec-Fetch-Site": "cross-site"}, item="S")
        self.call("cross-site", "cross-site form post to /score/columns", "refuse", port, "POST", "/score/columns", body,
                  {"Content-Type": ctype, "Origin": evil, "Sec-Fetch-Site": "cross-site"}, item="S")
        for name, method, headers in (
            ("CORS preflight from another origin: OPTIONS /predict", "OPTIONS",
             {"Origin": evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}),
            ("CORS: GET /feedback from another origin", "GET", {"Origin": evil}),
        ):
            reply = request(port, method, "/predict" if method == "OPTIONS" else "/feedback", headers={**self.auth, **headers})
            allowed = reply.headers.get("access-control-allow-origin")
            self.record("cross-site", name, "refuse", "accepted" if allowed in ("*", evil) else "clean",
                        f"Access-Control-Allow-Origin: {allowed}" if allowed else f"{reply.status}, no CORS header", method, "S")
        filename = f"../../evil-{secrets.token_hex(4)}.csv"
        body, ctype = multipart({}, {"file": (filename, csv_text(rows(5, 14)).encode())})
        self.call("path traversal", "upload named ../../evil.csv", "either", port, "POST", "/score/columns", body, {"Content-Type": ctype})
        escaped = list(self.folder.rglob(Path(filename).name)) + list(Path(tempfile.gettempdir()).glob(Path(filename).name))
        if escaped:
            self.record("path traversal", "... the upload's name escaped the folder", "refuse", "accepted", f"wrote {escaped[0]}")

    def api_key_cases(self, port: int) -> None:
        if not self.api_key:
            self.record("api key", "requests without the bearer token are refused", "refuse", "skipped",
                        "serve has no --api-key option here (opt-in security options not built)", item="S")
            return
        self.record_reply("api key", "POST /predict without the token", "refuse",
                          request(port, "POST", "/predict", b'{"text": "good"}', {"Content-Type": "application/json"}))
        self.record_reply("api key", "POST /predict with a wrong token", "refuse",
                          request(port, "POST", "/predict", b'{"text": "good"}',
                                  {"Content-Type": "application/json", "Authorization": "Bearer wrong"}))
        self.record_reply("api key", "GET /health without the token (stays open)", "work", request(port, "GET", "/health"))
        self.record_reply("api key", "GET /score/<token>.csv without the token", "refuse", request(port, "GET", "/score/x.csv"))

    def record_reply(self, kind: str, name: str, expect: str, reply: Reply, item: str | None = "S") -> None:
        verdict, detail = judge_reply(reply, expect, self.leaks)
        self.record(kind, name, expect, verdict, detail, name, item, reply.seconds)

    # --- 2 workers under load, one killed; the supervisor when a slot keeps failing ---
    def load_test(self, main: Server) -> None:
        server = Server(self.art, "workers", "blend.sentilstm", self.shared_tmp, "--workers", "2",
                        *(("--api-key", self.api_key) if self.api_key else ()))
        server.headers = self.auth
        if not server.start():
            self.record("workers", "start with --workers 2", "work", "other", f"did not start: {head(server.log.read_text(), 6)}")
            return
        try:
            self.shared_folder(main, server)
            self.kill_one_worker(server)
            self.failing_slot(server)
        finally:
            seconds = server.stop()
            self.record("workers", "SIGTERM of an idle 2-worker server", "work", "clean" if seconds is not None else "hang/blow-up",
                        f"exited in {seconds:.1f} s" if seconds is not None else "still running after 30 s (killed)", "SIGTERM")

    def shared_folder(self, a: Server, b: Server) -> None:
        body, ctype = multipart({}, {"file": ("mine.csv", csv_text(rows(5, 15)).encode())})
        reply = request(a.port, "POST", "/score/columns", body, {**self.auth, "Content-Type": ctype})
        token = json.loads(reply.body).get("upload") if reply.status == 200 else None
        if token is None:
            self.record("hijacked upload folder", "two servers share one upload folder", "refuse", "skipped", f"upload failed: {reply.status}")
            return
        body, ctype = multipart({"upload": token}, {})
        other = request(b.port, "POST", "/score", body, {**self.auth, "Content-Type": ctype})
        self.record("hijacked upload folder", "a second server (another port) serves the first one's upload token", "refuse",
                    "accepted" if other.status == 200 else "clean", f"second server answered {other.status}",
                    "POST /score upload=<token from the other server>", "1")

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

        before = set(server.workers())
        threads = [threading.Thread(target=client, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while counts["ok"] < 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        victim = min(before) if before else None
        if victim is None:
            stop.set()
            self.record("workers", "load test, one worker SIGKILLed", "work", "skipped", "no worker processes found")
            return
        with lock:
            at_kill = dict(counts)
        os.kill(victim, signal.SIGKILL)
        replaced = None
        deadline = time.monotonic() + 60
        while replaced is None and time.monotonic() < deadline:
            fresh = set(server.workers()) - before
            pids = {json.loads(r.body).get("pid") for r in [request(server.port, "GET", "/health", headers=self.auth, timeout=5)]
                    if r.status == 200}
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
        late = (total.get("failed", 0) + total.get("5xx", 0)) - (after_replace.get("failed", 0) + after_replace.get("5xx", 0))
        detail = (f"{sum(total.values())} requests from 6 clients, {failed} failed ({total.get('5xx', 0)} 5xx), "
                  f"{late} after the replacement; worker {victim} killed after {sum(at_kill.values())} requests; "
                  + ("replaced" if replaced else "NOT replaced within 60 s"))
        verdict = "clean" if replaced and total.get("5xx", 0) == 0 and late == 0 else "other"
        self.record("workers", "load test with --workers 2, one worker SIGKILLed mid-run", "work", verdict, detail,
                    "6 keep-alive clients POST /predict; kill -9 <worker>")

    def failing_slot(self, server: Server) -> None:
        """Kill one slot's worker, then its replacements as they start: the healthy worker must keep serving."""
        healthy = set(server.workers())
        if len(healthy) < 2:
            self.record("workers", "one slot fails twice at start-up", "work", "skipped", "fewer than 2 workers")
            return
        victim = min(healthy)
        known = set(healthy)
        os.kill(victim, signal.SIGKILL)
        killed = 1
        deadline = time.monotonic() + 30
        while killed < 3 and time.monotonic() < deadline and server.process.poll() is None:
            fresh = set(server.workers()) - known
            for pid in fresh:
                known.add(pid)
                os.kill(pid, signal.SIGKILL)
                killed += 1
            time.sleep(0.02)
        time.sleep(1.0)
        answers = [request(server.port, "GET", "/health", headers=self.auth, timeout=5).status for _ in range(5)]
        alive = server.process.poll() is None
        ok = alive and 200 in answers
        self.record("workers", "one slot fails twice at start-up: the healthy worker keeps serving", "work",
                    "clean" if ok else "other",
                    f"killed the slot's worker {killed} times; supervisor {'alive' if alive else f'exited {server.process.returncode}'}, "
                    f"/health answers {answers}", "kill -9 a worker, then its replacements as they start", "9")

    # --- work per request: explain, gzip bombs, disconnects, shutdown (throwaway servers) ---
    def bounded_work(self) -> None:
        tmp = self.folder / "tmp-work"
        tmp.mkdir()
        words = "the film was really good and not bad plot acting".split()
        long_text = " ".join(random.Random(0).choice(words) for _ in range(5000))[:20_000]
        explain = json.dumps({"text": long_text, "method": "kernel_shap", "num_samples": 5000}).encode()
        first = Server(self.art, "explain", "blend.sentilstm", tmp, *(("--api-key", self.api_key) if self.api_key else ()))
        first.headers = self.auth
        if first.start():
            try:
                self.call("unbounded work", "POST /explain 20,000 characters, kernel_shap, 5,000 samples (client waits 20 s)",
                          "either", first.port, "POST", "/explain", explain, {"Content-Type": "application/json"}, "5", 20)
                idle, seconds = first.settles(15)
                self.record("unbounded work", "after the client left, the server is idle again within 15 s", "work",
                            "clean" if idle else "hang/blow-up",
                            f"idle after {seconds:.0f} s" if idle else "still computing 15 s after the client left", "", "5")
                for _ in range(3):  # queued work, then SIGTERM
                    threading.Thread(target=request, args=(first.port, "POST", "/explain", explain,
                                                           {**self.auth, "Content-Type": "application/json"}, 120), daemon=True).start()
                time.sleep(2.0)
            finally:
                seconds = first.stop(signal.SIGTERM, 45)
            self.record("shutdown", "SIGTERM with 3 long explanations queued: exits within 20 s", "work",
                        "clean" if seconds is not None and seconds <= 20 else "hang/blow-up",
                        f"exited in {seconds:.1f} s" if seconds is not None else "still running 45 s after SIGTERM (killed)",
                        "kill -TERM <server>", "5")
        else:
            self.record("unbounded work", "start a server for /explain", "work", "other", head(first.log.read_text(), 4))
        if not self.quick:
            self.bombs(tmp)

    def bombs(self, tmp: Path) -> None:
        bomb = gzip.compress(b"text\n" + b"good film\n" * 2_000_000, 9)
        server = Server(self.art, "bomb", "blend.sentilstm", tmp, *(("--api-key", self.api_key) if self.api_key else ()))
        server.headers = self.auth
        if not server.start():
            self.record("unbounded work", "start a server for uploads", "work", "other", head(server.log.read_text(), 4))
            return
        stale: list[Path] = []
        try:
            body, ctype = multipart({}, {"file": ("bomb.csv.gz", bomb)})
            reply = request(server.port, "POST", "/score", body, {**self.auth, "Content-Type": ctype}, timeout=15)
            if reply.status == 200:
                verdict, detail = "accepted", f"scored {json.loads(reply.body).get('rows')} rows from a {len(bomb) // 1024} KB upload"
            else:
                verdict, detail = judge_reply(reply, "refuse")
            self.record("unbounded work", f"gzip bomb: a {len(bomb) // 1024} KB .csv.gz of 2,000,000 rows to POST /score (client waits 15 s)",
                        "refuse", verdict, detail, "POST /score file=bomb.csv.gz", "5", reply.seconds)
            idle, seconds = server.settles(15)
            self.record("unbounded work", "after the bomb's client left, the server is idle again within 15 s", "work",
                        "clean" if idle else "hang/blow-up",
                        f"idle after {seconds:.0f} s" if idle else "still scoring 15 s after the client left", "", "5")
            big = csv_text([(t,) for t, _ in rows(200_000, 16)], ("text",)).encode()
            body, ctype = multipart({}, {"file": ("big.csv", big)})
            threading.Thread(target=request, args=(server.port, "POST", "/score", body,
                                                   {**self.auth, "Content-Type": ctype}, 120), daemon=True).start()
            deadline = time.monotonic() + 60
            while not stale and time.monotonic() < deadline:
                stale = [p for p in tmp.rglob("*.tmp")]
                time.sleep(0.02)
        finally:
            server.stop(signal.SIGKILL, 10)
        if not stale:
            self.record("interrupted run", "a killed server's half-written scored file is swept by the next server", "work",
                        "skipped", "no temporary file appeared (the upload was refused or finished first)", "", "12")
            return
        again = Server(self.art, "again", "blend.sentilstm", tmp, *(("--api-key", self.api_key) if self.api_key else ()))
        again.headers = self.auth
        if again.start():
            body, ctype = multipart({}, {"file": ("small.csv", csv_text(rows(5, 17)).encode())})
            request(again.port, "POST", "/score", body, {**self.auth, "Content-Type": ctype})
            again.stop()
        left = [p for p in stale if p.exists()]
        self.record("interrupted run", "a killed server's half-written scored file is swept by the next server", "work",
                    "data lost" if left else "clean",
                    f"{left[0].name} still there after a new server started and scored a file" if left else "swept",
                    "kill -9 the server mid-score; start it again", "12")


def multipart_args(fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None) -> tuple[bytes, dict[str, str]]:
    body, ctype = multipart(fields, files or {})
    return body, {"Content-Type": ctype}


# ----- selection, report, main ---------------------------------------------------------------------------------------
def select(cases: list[Any], surfaces: set[str], quick: bool, limit: int | None) -> list[Any]:
    chosen = [c for c in cases if c.surface in surfaces and (c.quick or not quick)]
    if limit:
        per_surface: Counter[str] = Counter()
        kept = []
        for case in chosen:
            if per_surface[case.surface] < limit:
                kept.append(case)
                per_surface[case.surface] += 1
        chosen = kept
    return chosen


def tally(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for surface in [*SURFACES, "total"]:
        chosen = [o for o in outcomes if surface in ("total", o.surface)]
        if chosen:
            counts = Counter(o.verdict for o in chosen)
            table[surface] = {"tried": len(chosen) - counts["skipped"], **{v: counts[v] for v in VERDICTS}}
    return table


def markdown(outcomes: list[Outcome], meta: dict[str, Any]) -> str:
    lines = ["# Hostile-input audit (issue 14)", "",
             f"Code: `{meta['commit']}`{' (with uncommitted changes)' if meta['dirty'] else ''}. Machine: {meta['machine']}. "
             f"Started {meta['started']}, {meta['minutes']:.1f} min. Command: `{meta['command']}`.", "",
             f"Sandbox: {meta['sandbox']}. Blow-up: peak RSS over {meta['blowup_mb']:.0f} MB, or out of memory under a "
             f"{AS_LIMIT >> 30} GB address-space limit.", ""]
    for note in meta.get("notes", []):
        lines.append(f"Note: {note}")
    lines += ["", "| surface | tried | clean one-line errors (or correct answers) | tracebacks | data lost | hangs or blow-ups | "
              "wrongly accepted | other | skipped |", "|---|---|---|---|---|---|---|---|---|"]
    for surface, counts in tally(outcomes).items():
        name = f"**{surface}**" if surface == "total" else surface
        lines.append(f"| {name} | {counts['tried']} | {counts['clean']} | {counts['traceback']} | {counts['data lost']} | "
                     f"{counts['hang/blow-up']} | {counts['accepted']} | {counts['other']} | {counts['skipped']} |")
    bad = [o for o in outcomes if o.verdict not in ("clean", "skipped")]
    new = [o for o in bad if o.item is None]
    lines += ["", f"{len(bad)} cases not clean, {len(new)} of them of a kind issue 14 does not list (marked NEW).", ""]
    kinds: dict[str, list[Outcome]] = {}
    for outcome in bad:
        kinds.setdefault(outcome.kind, []).append(outcome)
    for kind, group in sorted(kinds.items(), key=lambda pair: -len(pair[1])):
        lines += [f"## {kind} ({len(group)})", ""]
        for o in group:
            origin = "NEW" if o.item is None else f"item {o.item}"
            lines.append(f"- **{o.verdict}** [{origin}] {o.name}: {o.detail[:400]}")
            if o.command:
                lines.append(f"  - `{o.command[:300]}`")
            if o.output and o.verdict in ("traceback", "other"):
                lines.append("  - " + " / ".join(o.output.splitlines()[:2])[:300])
        lines.append("")
    skipped = [o for o in outcomes if o.verdict == "skipped"]
    if skipped:
        lines += ["## skipped", ""] + [f"- {o.surface}: {o.name}: {o.detail}" for o in skipped] + [""]
    return "\n".join(lines)


def print_table(outcomes: list[Outcome]) -> None:
    header = f"{'surface':<8} {'tried':>6} {'clean':>6} {'traceback':>10} {'data lost':>10} {'hang/blow-up':>13} {'accepted':>9} {'other':>6} {'skipped':>8}"
    print(header)
    for surface, c in tally(outcomes).items():
        print(f"{surface:<8} {c['tried']:>6} {c['clean']:>6} {c['traceback']:>10} {c['data lost']:>10} {c['hang/blow-up']:>13} "
              f"{c['accepted']:>9} {c['other']:>6} {c['skipped']:>8}")


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the issue's listed items and a few more")
    parser.add_argument("--only", default=",".join(SURFACES), help="comma-separated surfaces: cli, python, model, http")
    parser.add_argument("--out", type=Path, default=RESULTS / "hardening.json", help="results JSON (Markdown beside it)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many cases per surface (a smoke test)")
    parser.add_argument("--blowup-mb", type=float, default=1536.0, help="peak RSS of one case that counts as a blow-up")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    parser.add_argument("--runner", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    surfaces = {s.strip() for s in args.only.split(",") if s.strip()}
    if unknown := surfaces - set(SURFACES):
        parser.error(f"--only takes {', '.join(SURFACES)}; got {', '.join(sorted(unknown))}")
    if args.runner is not None:
        return runner(args.runner, args.start, surfaces & {"python", "model"}, args.quick, args.limit, args.blowup_mb)
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="sentilstm-audit-"))
    log = lambda message: print(message, flush=True)  # noqa: E731
    log(f"work folder: {work}")
    outcomes: list[Outcome] = []
    try:
        art = prepare(work, args.blowup_mb, bool(surfaces & {"cli", "model", "python"}), log)
        cases = select([*cli_catalogue(art), *model_file_cli_cases(art)], surfaces, args.quick, args.limit)
        if cases:
            log(f"{len(cases)} command cases (one process each)")
            for index, case in enumerate(cases):
                outcome = run_case(case, art, index)
                outcomes.append(outcome)
                log(f"  [{outcome.verdict:>12}] {outcome.surface}: {case.name} ({outcome.seconds:.1f} s)")
        if surfaces & {"python", "model"}:
            log("Python API and model-file cases (one process)")
            outcomes += run_python_surfaces(art, surfaces & {"python", "model"}, args.quick, args.limit, log)
        if "http" in surfaces:
            log("HTTP cases (real servers on loopback)")
            outcomes += HttpAudit(art, args.quick, log).run()
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            subprocess.run(["chmod", "-R", "u+rwx", str(work)], check=False, capture_output=True)
            shutil.rmtree(work, ignore_errors=True)
    meta = {
        "commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "src")),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)), "minutes": (time.time() - started) / 60,
        "command": "python bench/hardening.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "sandbox": art.sandbox.describe(), "blowup_mb": args.blowup_mb, "notes": art.notes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**meta, "totals": tally(outcomes), "cases": [asdict(o) for o in outcomes]}, indent=1,
                                   ensure_ascii=False))
    args.out.with_suffix(".md").write_text(markdown(outcomes, meta))
    print()
    print_table(outcomes)
    print(f"\nsaved {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
