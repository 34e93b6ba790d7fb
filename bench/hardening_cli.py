"""The audit's command catalogue: every case a small record (surface, what it is, the command, what a clean outcome
is), and the runner that gives each a fresh folder and judges it (see bench/hardening.py)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hardening_core import (
    CKPT_ARGS,
    FILLER,
    HUGE,
    MAX_TASKS,
    NEGATIVE,
    POSITIVE,
    PROBES,
    PYTHON,
    SENTILSTM,
    TINY,
    Artefacts,
    Case,
    Outcome,
    classify,
    compare,
    copy,
    csv_text,
    exception_line,
    execute,
    fifo,
    hardlink,
    head,
    kill_group,
    odd_tables,
    rows,
    shown,
    snapshot,
    steps,
    symlink,
    writer,
)
from hardening_model import CKPT_TAMPERS, TAMPERS, Tamper, split_file


# ----- the CLI catalogue --------------------------------------------------------------------------------------------
def same_file_cases(art: Artefacts) -> list[Case]:
    """Every writing verb and option aimed at one of its own inputs (issue item 2), spelt several ways."""
    train = ["train", "train.csv", *TINY, "--no-report"]
    writers = [  # (verb argv, option, the input it hits, quick: True, or "spell" to try every spelling too)
        (train, "--out", "train.csv", "spell"),
        (["train", "train.csv", *TINY], "--report", "train.csv", False),
        (train, "--metrics-json", "train.csv", True),
        ([*train, "--test", "test.csv"], "--out", "test.csv", False),
        ([*train, "--validation", "valid.csv"], "--out", "valid.csv", False),
        ([*train, "--embeddings", "vectors.txt"], "--out", "vectors.txt", False),
        (["baseline", "train.csv", "--quiet"], "--out", "train.csv", "spell"),
        (["baseline", "train.csv", "--quiet"], "--metrics-json", "train.csv", False),
        (["baseline", "train.csv", "--quiet"], "--report", "train.csv", False),
        (["baseline", "train.csv", "--quiet", "--test", "test.csv"], "--out", "test.csv", False),
        (
            ["cv", "train.csv", "--estimator", "nbsvm", "--folds", "2", "--quiet", "--no-report"],
            "--json",
            "train.csv",
            True,
        ),
        (["cv", "train.csv", "--estimator", "nbsvm", "--folds", "2", "--quiet"], "--report", "train.csv", False),
        (
            [
                "cv",
                "train.csv",
                "--estimator",
                "nbsvm",
                "--folds",
                "2",
                "--quiet",
                "--no-report",
                "--params",
                "params.json",
            ],
            "--json",
            "params.json",
            False,
        ),
        ([*tune_argv(), "--no-report"], "--out", "train.csv", True),
        (tune_argv(), "--report", "train.csv", False),
        ([*tune_argv(), "--no-report", "--space", "space.json"], "--out", "space.json", False),
        (["evaluate", "net.sentilstm", "test.csv"], "--json", "test.csv", "spell"),
        (["evaluate", "net.sentilstm", "test.csv"], "--json", "net.sentilstm", False),
        (["predict", "net.sentilstm", "--input", "score.csv"], "--output", "score.csv", "spell"),
        (["predict", "net.sentilstm", "--input", "score.csv"], "--output", "net.sentilstm", False),
        (["explain", "net.sentilstm", "good film", "--method", "attention"], "--html", "net.sentilstm", False),
        (["export", "net.sentilstm"], "--out", "net.sentilstm", True),
    ]
    cases = [
        Case(
            "cli",
            "output == input",
            f"{argv[0]} {option} <its input {target}>",
            [*argv, option, target],
            item="2",
            quick=bool(quick),
        )
        for argv, option, target, quick in writers
    ]
    spellings = [  # (how the output names the input, its spelling, what the case folder needs, expect)
        ("'./' prefix", lambda t: f"./{t}", lambda t: None, "refuse"),
        ("'sub/../' hop", lambda t: f"sub/../{t}", lambda t: lambda f: (f / "sub").mkdir(), "refuse"),
        ("a symlink to it", lambda t: f"link-{t}", lambda t: symlink(f"link-{t}", t), "refuse"),
        ("a hard link to it", lambda t: f"hard-{t}", lambda t: hardlink(f"hard-{t}", t), "refuse"),
        ("an absolute path", lambda t: "{folder}/" + t, lambda t: None, "refuse"),  # {folder}: filled in when it runs
        ("the same name in upper case (a different file on Linux)", lambda t: t.upper(), lambda t: None, "either"),
    ]
    for argv, option, target, quick in writers:
        if quick != "spell":
            continue
        for how, spell, needs, expect in spellings:
            cases.append(
                Case(
                    "cli",
                    "output == input",
                    f"{argv[0]} {option} <{target} as {how}>",
                    [*argv, option, spell(target)],
                    expect=expect,
                    setup=needs(target),
                    item="2",
                    outputs=(spell(target),) if expect == "either" else (),
                )
            )
    model_out = ["train", "train.csv", *TINY, "--out", "m.sentilstm"]
    cases += [
        Case(
            "cli",
            "output == output",
            "train --report = --out (the report would replace the model)",
            [*model_out, "--report", "m.sentilstm"],
        ),
        Case(
            "cli",
            "output == output",
            "train --metrics-json = --out",
            [*model_out, "--no-report", "--metrics-json", "m.sentilstm"],
        ),
        Case(
            "cli",
            "output == output",
            "baseline --report = --out",
            ["baseline", "train.csv", "--quiet", "--out", "b.sentilstm", "--report", "b.sentilstm"],
        ),
        Case(
            "cli",
            "output == input",
            "tune: the trials table beside --out (o.trials.csv) is the data file",
            [*tune_argv("o.trials.csv"), "--no-report", "--out", "o.sentilstm"],
            setup=copy("o.trials.csv", "train.csv"),
        ),
        Case(
            "cli",
            "output == input",
            "tune --storage sqlite:///train.csv (the data file as the study database)",
            [*tune_argv(), "--no-report", "--storage", "sqlite:///train.csv"],
        ),
    ]
    return cases


def tune_argv(data: str = "train.csv") -> list[str]:
    return [
        "tune",
        data,
        "--trials",
        "1",
        "--timeout",
        "20",
        "--quiet",
        "--set",
        "epochs=1",
        "--set",
        "embedding_dim=8",
        "--set",
        "hidden_size=8",
        "--set",
        "num_threads=1",
        "--set",
        "min_frequency=1",
        "--set",
        "blend=none",
    ]


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
OPTION_CONTEXT = {  # what an option needs beside it to be used at all
    "--focal-gamma": ["--loss", "focal"],
    "--augment-copies": ["--augment", "swap"],
    "--augment-alpha": ["--augment", "swap"],
    "--node-rank": ["--nproc-per-node", "1"],
    "--dist-timeout": ["--nproc-per-node", "1"],
}
LISTED_NUMERIC = {  # (verb, option, value) reproducing issue 14 item 8
    ("train", "--learning-rate", "nan"),
    ("train", "--dropout", "nan"),
    ("train", "--weight-decay", "inf"),
    ("train", "--focal-gamma", "nan"),
    ("train", "--seed", "-1"),
    ("train", "--seed", "2**70"),
    ("train", "--hidden-size", "10**12"),
    ("describe", "--length", "10**12"),
}


def numeric_cases(art: Artefacts) -> list[Case]:
    """NaN, infinity, negative, huge and non-integer values for every numeric option of every verb."""
    cases = []
    for verb, options in art.options.items():
        base = NUMERIC_BASE.get(verb)
        if verb == "serve":
            base = [
                "serve",
                "net.sentilstm",
                "--port",
                str(art.busy_port),
                "--feedback-db",
                "sqlite:///fb.db",
                "--quiet",
            ]
        if base is None:
            continue
        for option in options:
            if option["kind"] not in ("int", "float"):
                continue
            flag = option["option"]
            values = (
                {"nan": "nan", "inf": "inf", "-1": "-1", "1e300": "1e300"}
                if option["kind"] == "float"
                else {"-1": "-1", "1.5": "1.5", "nan": "nan", **HUGE}
            )
            for label, value in values.items():
                if label == "inf" and flag.endswith("timeout"):
                    expect = "either"  # no time limit
                elif label in ("nan", "inf", "1.5"):
                    expect = "refuse"
                elif label == "-1":
                    expect = "either" if flag in NEGATIVE_OK else "refuse"
                else:
                    expect = "refuse" if flag in REFUSE_HUGE else "either"
                listed = (verb, flag, label) in LISTED_NUMERIC
                cases.append(
                    Case(
                        "cli",
                        "numeric option",
                        " ".join([verb, *OPTION_CONTEXT.get(flag, []), flag, label]),
                        [*base, *OPTION_CONTEXT.get(flag, []), flag, value],
                        expect=expect,
                        sandbox="spawn" if flag in SPAWNING else "",
                        item="8" if listed else None,
                        quick=listed or (label in ("nan", "10**12") and verb in ("describe", "serve", "predict")),
                        accepted_if="cannot listen" if verb == "serve" and flag != "--port" else None,
                    )
                )
    cases.append(
        Case(
            "cli",
            "numeric option",
            "train --hidden-size 200000 (the issue's value)",
            [*NUMERIC_BASE["train"], "--hidden-size", "200000"],
            expect="either",
            item="8",
            quick=True,
        )
    )
    return cases


def encoding_cases() -> list[Case]:
    """--encoding values that are not text encodings, or not this file's."""
    cases = [
        Case(
            "cli",
            "bogus encoding",
            f"{verb} --encoding bogus",
            [*NUMERIC_BASE[verb], "--encoding", "bogus"],
            item="8",
            quick=verb == "train",
        )
        for verb in ("train", "predict", "baseline", "cv", "tune", "evaluate")
    ]
    for verb in ("train", "predict"):
        cases += [
            Case(
                "cli",
                "bogus encoding",
                f"{verb} --encoding rot13 (a str-to-str codec)",
                [*NUMERIC_BASE[verb], "--encoding", "rot13"],
            ),
            Case(
                "cli",
                "bogus encoding",
                f"{verb} --encoding base64 (a bytes-to-bytes codec)",
                [*NUMERIC_BASE[verb], "--encoding", "base64"],
            ),
            Case("cli", "bogus encoding", f"{verb} --encoding '' (empty)", [*NUMERIC_BASE[verb], "--encoding", ""]),
            Case(
                "cli",
                "bogus encoding",
                f"{verb} --encoding utf-16 on a UTF-8 file",
                [*NUMERIC_BASE[verb], "--encoding", "utf-16"],
                expect="either",
            ),
        ]
    cases.append(
        Case(
            "cli",
            "bogus encoding",
            "train --encoding utf-8-sig",
            [*NUMERIC_BASE["train"], "--encoding", "utf-8-sig"],
            expect="work",
        )
    )
    return cases


def text_cases() -> list[Case]:
    """Undecodable bytes and lone surrogates in argv and file names (issue item 6)."""
    bad, cesu = b"bad \xff\xfe bytes", b"good \xed\xa0\xbd film"  # \xed\xa0\xbd: a UTF-16 surrogate encoded as UTF-8
    name = b"d\xff.csv"
    return [
        Case(
            "cli",
            "undecodable argv",
            "predict with undecodable bytes in a text",
            ["predict", "net.sentilstm", bad],
            expect="work",
            item="6",
            quick=True,
        ),
        Case(
            "cli",
            "undecodable argv",
            "predict --json with a UTF-8-encoded surrogate in a text",
            ["predict", "net.sentilstm", "--json", cesu],
            expect="work",
            item="6",
        ),
        Case(
            "cli",
            "undecodable argv",
            "predict (blended model) with undecodable bytes",
            ["predict", "blend.sentilstm", bad],
            expect="work",
            item="6",
        ),
        Case(
            "cli",
            "undecodable argv",
            "explain with undecodable bytes in the text",
            ["explain", "net.sentilstm", bad, "--method", "attention"],
            expect="work",
        ),
        Case(
            "cli",
            "undecodable argv",
            "train DATA whose file name has undecodable bytes",
            ["train", name, *TINY, "--no-report", "--out", "m.sentilstm"],
            expect="work",
            item="6",
            setup=lambda f: shutil.copyfile(f / "train.csv", os.path.join(os.fsencode(f), name)),
        ),
        Case(
            "cli",
            "undecodable argv",
            "train --out with undecodable bytes",
            ["train", "train.csv", *TINY, "--no-report", "--out", b"m\xff.sentilstm"],
            expect="work",
            item="6",
        ),
        Case(
            "cli",
            "undecodable argv",
            "evaluate a table whose name has undecodable bytes",
            ["evaluate", "net.sentilstm", name],
            expect="work",
            item="6",
            setup=lambda f: shutil.copyfile(f / "test.csv", os.path.join(os.fsencode(f), name)),
        ),
        Case(
            "cli",
            "undecodable argv",
            "predict --input/--output with undecodable names",
            ["predict", "net.sentilstm", "--input", name, "--output", b"o\xff.csv"],
            expect="work",
            setup=lambda f: shutil.copyfile(f / "score.csv", os.path.join(os.fsencode(f), name)),
        ),
        Case(
            "cli",
            "undecodable argv",
            "train --text-column with undecodable bytes",
            ["train", "train.csv", *TINY, "--no-report", "--text-column", b"\xff"],
        ),
        Case(
            "cli",
            "undecodable argv",
            "train --label-column with a UTF-8-encoded surrogate",
            ["train", "train.csv", *TINY, "--no-report", "--label-column", b"\xed\xa0\xbd"],
        ),
        Case(
            "cli",
            "undecodable argv",
            "train --encoding with undecodable bytes",
            ["train", "train.csv", *TINY, "--no-report", "--encoding", b"\xff"],
            item="8",
        ),
        Case(
            "cli",
            "undecodable argv",
            "explain --label with undecodable bytes",
            ["explain", "net.sentilstm", "good", "--label", b"\xff"],
        ),
        Case(
            "cli",
            "undecodable argv",
            "train on labels with undecodable bytes",
            ["train", "lab.csv", *TINY, "--no-report"],
            expect="work",
            setup=writer(
                "lab.csv", csv_text(rows(200, 8)).replace(",pos", ",p\udcffs").encode("utf-8", "surrogateescape")
            ),
        ),
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
            report = option == "--report"  # documented: a report that cannot be written is a warning, never a lost run
            cases.append(
                Case(
                    "cli",
                    "read-only or full disk",
                    f"{argv[0]} {option} into {where}, over a previous output",
                    [*argv, option, f"{folder}/{previous}"],
                    setup=setup,
                    sandbox=sandbox,
                    item=None if report else "8",
                    expect="either" if report else "refuse",
                    quick=option == "--out" and argv[0] == "train",
                )
            )
        cases.append(
            Case(
                "python",
                "read-only or full disk",
                f"clf.save() into {where}, over a previous model",
                command=[PYTHON, "-c", SAVE_SNIPPET, f"{folder}/net.sentilstm"],
                sandbox=sandbox,
                item="8",
                setup=steps(
                    lambda f, d=folder: (f / d).mkdir(exist_ok=True),
                    copy(f"{seed_dir}/net.sentilstm", "blend.sentilstm"),
                ),
            )
        )
    return cases


def odd_table_cases() -> list[Case]:
    """Each odd table as training data and as a table to score."""
    cases = []
    for what, name, expect, item, write in odd_tables():
        big = name in ("wide6.csv", "classes.csv")
        report = ["--report", "r.html"] if name == "classes.csv" else ["--no-report"]  # the report is what blew up
        cases.append(
            Case(
                "cli",
                "odd table",
                f"train on {what}",
                ["train", name, *TINY, *report, "--out", "m.sentilstm"],
                expect=expect,
                setup=write,
                item=item,
                quick=item is not None,
                timeout=120 if big else 60,
            )
        )
        if name in ("one.csv", "nolabel.csv", "oneclass.csv", "classes.csv", "mixedlabel.jsonl"):
            continue
        score_expect = "either" if expect == "refuse" and name in ("mixed.jsonl", "nested.parquet") else expect
        cases.append(
            Case(
                "cli",
                "odd table",
                f"predict --input {what}",
                ["predict", "net.sentilstm", "--input", name, "--output", "scored.csv"],
                expect=score_expect,
                setup=write,
                item=item if item != "7" else None,
                timeout=120 if big else 60,
            )
        )
    return cases


def misc_cases(art: Artefacts) -> list[Case]:
    bad_space = writer("space.yaml", "dropout: {type: float, low: [unclosed\n")
    huge_vectors = writer("huge.txt", "3000000000 8\n" + "good " + " ".join(["0.1"] * 8) + "\n")
    nan_vectors = writer(
        "nanvec.txt", "".join(f"{w} " + " ".join(["nan"] * 8) + "\n" for w in FILLER + POSITIVE + NEGATIVE)
    )
    ragged_vectors = writer("ragged.txt", "good 0.1 0.2\nbad 0.1\n")
    train = ["train", "train.csv", *TINY, "--no-report"]
    return [
        Case(
            "cli",
            "caught too late",
            "train --out an existing folder",
            [*train, "--out", "outdir"],
            setup=lambda f: (f / "outdir").mkdir(),
            item="8",
            quick=True,
            late_if="training on",
        ),
        Case(
            "cli",
            "caught too late",
            "train --test with labels never seen in training",
            [*train, "--test", "test_unseen.csv"],
            item="8",
            quick=True,
            late_if="training on",
            outputs=("model.sentilstm",),
        ),
        Case(
            "cli",
            "caught too late",
            "baseline --out an existing folder",
            ["baseline", "train.csv", "--quiet", "--out", "outdir"],
            setup=lambda f: (f / "outdir").mkdir(),
            late_if="training nbsvm",
        ),
        Case(
            "cli",
            "caught too late",
            "tune --out an existing folder",
            [*tune_argv(), "--no-report", "--out", "outdir"],
            setup=lambda f: (f / "outdir").mkdir(),
            late_if="Trial",
        ),
        Case(
            "cli",
            "bad file",
            "tune --space malformed YAML",
            [*tune_argv(), "--no-report", "--space", "space.yaml"],
            setup=bad_space,
        ),
        Case(
            "cli",
            "bad file",
            "cv --params malformed JSON",
            [*NUMERIC_BASE["cv"], "--params", "bad.json"],
            setup=writer("bad.json", "{"),
        ),
        Case(
            "cli",
            "bad file",
            "cv --params a JSON list",
            [*NUMERIC_BASE["cv"], "--params", "list.json"],
            setup=writer("list.json", "[1, 2]"),
        ),
        Case(
            "cli",
            "bad setting",
            "cv --set epochs=nan (lstm)",
            ["cv", "train.csv", "--folds", "2", "--no-report", "--quiet", "--set", "epochs=nan"],
        ),
        Case(
            "cli",
            "bad setting",
            "cv --set learning_rate=nan (lstm)",
            [
                "cv",
                "train.csv",
                "--folds",
                "2",
                "--no-report",
                "--quiet",
                "--set",
                "learning_rate=nan",
                "--set",
                "epochs=1",
            ],
        ),
        Case("cli", "bad setting", "cv --set bogus=1", [*NUMERIC_BASE["cv"], "--set", "bogus=1"]),
        Case("cli", "bad setting", "cv --set C (no '=')", [*NUMERIC_BASE["cv"], "--set", "C"]),
        Case(
            "cli",
            "bad setting",
            "tune --set seed=2**70",
            [*tune_argv(), "--no-report", "--set", f"seed={2**70}"],
            expect="either",
        ),
        Case(
            "cli",
            "bad setting",
            "tune --set hidden_size=10**9",
            [*tune_argv(), "--no-report", "--set", "hidden_size=1000000000"],
            expect="either",
        ),
        Case("cli", "bad setting", "tune --storage bogus://x", [*tune_argv(), "--no-report", "--storage", "bogus://x"]),
        Case(
            "cli",
            "bad setting",
            "tune --storage in a missing folder",
            [*tune_argv(), "--no-report", "--storage", "sqlite:////nonexistent/dir/s.db"],
        ),
        Case("cli", "bad setting", "train --mlflow-uri bogus://x", [*train, "--mlflow-uri", "bogus://x"]),
        Case("cli", "bad setting", "train --dataset bogus", ["train", "--dataset", "bogus", *TINY, "--no-report"]),
        Case(
            "cli",
            "bad setting",
            "train --dataset imdb --dataset-path /nonexistent",
            ["train", "--dataset", "imdb", "--dataset-path", "/nonexistent", *TINY, "--no-report"],
        ),
        Case("cli", "bad setting", "train --device cuda:3 (no GPU here)", [*train, "--device", "cuda:3"]),
        Case(
            "cli", "bad setting", "predict --backend bogus", ["predict", "net.sentilstm", "good", "--backend", "bogus"]
        ),
        Case("cli", "bad setting", "export --format bogus", ["export", "net.sentilstm", "--format", "bogus"]),
        Case("cli", "bad setting", "export --quantize int4", ["export", "net.sentilstm", "--quantize", "int4"]),
        Case("cli", "bad setting", "explain --method bogus", ["explain", "net.sentilstm", "good", "--method", "bogus"]),
        Case("cli", "bad setting", "explain --label bogus", ["explain", "net.sentilstm", "good", "--label", "bogus"]),
        Case("cli", "bad setting", "explain an empty text", ["explain", "net.sentilstm", ""], expect="either"),
        Case("cli", "bad setting", "predict an empty text", ["predict", "net.sentilstm", ""], expect="either"),
        Case(
            "cli",
            "bad setting",
            "predict --output with an unknown extension",
            ["predict", "net.sentilstm", "--input", "score.csv", "--output", "out.xlsx"],
        ),
        Case(
            "cli",
            "bad setting",
            "evaluate a table with labels the model lacks",
            ["evaluate", "net.sentilstm", "test_unseen.csv"],
            expect="either",
        ),
        Case(
            "cli",
            "bad setting",
            "serve --host 'no such host'",
            ["serve", "net.sentilstm", "--host", "no such host", "--port", "0", "--feedback-db", "sqlite:///fb.db"],
            timeout=60,
        ),
        Case(
            "cli",
            "bad setting",
            "serve --feedback-db bogus://x",
            ["serve", "net.sentilstm", "--feedback-db", "bogus://x", "--port", str(art.busy_port)],
            timeout=60,
            accepted_if="cannot listen",
        ),
        Case("cli", "bad setting", "datasets download bogus", ["datasets", "download", "bogus"]),
        Case("cli", "wrong kind of file", "describe a CSV file", ["describe", "train.csv"]),
        Case(
            "cli",
            "wrong kind of file",
            "serve a CSV file",
            ["serve", "train.csv", "--port", str(art.busy_port)],
            timeout=60,
        ),
        Case("cli", "wrong kind of file", "predict with the checkpoint as the model", ["predict", "ck.ckpt", "good"]),
        Case(
            "cli",
            "wrong kind of file",
            "train --resume with no checkpoint",
            [*train, "--resume", "--out", "fresh.sentilstm"],
            expect="either",
        ),
        Case(
            "cli",
            "wrong kind of file",
            "train --validation = DATA",
            [*train, "--validation", "train.csv"],
            expect="either",
        ),
        Case(
            "cli",
            "bad vectors",
            "train --embeddings: a word2vec header declaring 3x10^9 words",
            [*train, "--embeddings", "huge.txt"],
            setup=huge_vectors,
            expect="either",
        ),
        Case(
            "cli",
            "bad vectors",
            "train --embeddings: every vector NaN",
            [*train, "--embeddings", "nanvec.txt"],
            setup=nan_vectors,
        ),
        Case(
            "cli",
            "bad vectors",
            "train --embeddings: vectors of different lengths",
            [*train, "--embeddings", "ragged.txt"],
            setup=ragged_vectors,
        ),
        Case(
            "cli",
            "bad vectors",
            "train --embeddings: an empty file",
            [*train, "--embeddings", "empty.txt"],
            setup=writer("empty.txt", ""),
        ),
        Case(
            "cli",
            "unbounded work",
            "explain --method lime --samples 10**9 on a short text",
            ["explain", "net.sentilstm", "good film", "--method", "lime", "--samples", "1000000000"],
            expect="either",
            timeout=60,
        ),
        Case(
            "cli",
            "interrupted run",
            "predict --input killed mid-write: the next run sweeps its .tmp file",
            item="12",
            custom=killed_predict,
            quick=True,
            timeout=180,
        ),
        Case(
            "cli",
            "interrupted run",
            "SIGKILL + --resume records the data profile of an uninterrupted run",
            item="10",
            custom=resumed_profile,
            quick=True,
            timeout=300,
        ),
    ]


def model_file_cli_cases(art: Artefacts) -> list[Case]:
    """The issue's tampered models through `sentilstm predict --json` (every kind goes through `load_model` in the
    Python runner), and each tampered checkpoint through `train --resume`."""
    cases = []
    for tamper in (t for t in TAMPERS if t.quick):
        cases.append(
            Case(
                "model",
                "tampered model (CLI predict)",
                tamper.name,
                ["predict", "t.sentilstm", "--json", *PROBES],
                expect=tamper.expect,
                item=tamper.item,
                quick=tamper.quick,
                setup=tampered_copy(art, tamper, "t.sentilstm"),
                check=lambda folder, run, t=tamper: prediction_change(art, t, run.stdout),
            )
        )
    special = [
        ("a FIFO named like a model", fifo("t.sentilstm")),
        ("a symlink to /dev/zero named like a model", symlink("t.sentilstm", "/dev/zero")),
    ]
    for name, setup in special:
        cases.append(
            Case(
                "model",
                "tampered model (CLI predict)",
                name,
                ["predict", "t.sentilstm", "good"],
                setup=setup,
                timeout=60,
            )
        )
    for tamper in CKPT_TAMPERS:
        cases.append(
            Case(
                "model",
                "tampered checkpoint (train --resume)",
                tamper.name,
                ["train", "train.csv", "--out", "ck.sentilstm", *CKPT_ARGS, "--resume"],
                item=tamper.item,
                quick=tamper.quick,
                setup=tampered_copy(art, tamper, "ck.sentilstm.ckpt"),
                outputs=("ck.sentilstm.ckpt",),
            )
        )  # a finished run removes its checkpoint
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
    drift = max(
        (abs(a - b) for row, ref in zip(probabilities, reference) for a, b in zip(row, ref["probabilities"])), default=0
    )
    if labels_changed:
        return "loads silently and predicts different labels"
    if any(not math.isfinite(p) for row in probabilities for p in row):
        return "loads silently and predicts NaN probabilities"
    if drift <= 1e-5:
        return "loads silently; same predictions" if tamper.expect == "refuse" else None
    return f"loads silently; probabilities differ by up to {drift:.3g}"


def killed_predict(folder: Path, env: dict[str, str]) -> tuple[str, str, str]:
    """Kill `predict --input` once its temporary output exists, then run it again: is the stale .tmp swept?"""
    (folder / "big.csv").write_text(
        csv_text([(str(i), t) for i, (t, _) in enumerate(rows(200_000, 11))], ("id", "text"))
    )
    command = [
        *SENTILSTM,
        "predict",
        "net.sentilstm",
        "--input",
        "big.csv",
        "--output",
        "scored.csv",
        "--chunk-rows",
        "2000",
    ]
    process = subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while not list(folder.glob(".scored.csv.*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    kill_group(process.pid)
    process.wait()
    stale = [p.name for p in folder.glob(".scored.csv.*.tmp")]
    if not stale:
        return "skipped", "no temporary output appeared before the run ended", ""
    (folder / "big.csv").write_text(csv_text([("1", "good film")], ("id", "text")))
    again = execute(command, folder, env, 120)
    left = [name for name in stale if (folder / name).exists()]
    if again.rc != 0:
        return (
            "traceback" if "Traceback" in again.stderr else "other",
            f"the second run failed: {exception_line(again.stderr)}",
            head(again.stderr),
        )
    if left:
        return "data lost", f"{left[0]} (a killed run's half-written output) is still there after the next run", ""
    return "clean", "the next run removed the stale temporary file", ""


def resumed_profile(folder: Path, env: dict[str, str]) -> tuple[str, str, str]:
    """Resume the killed checkpoint run and compare its data profile with an uninterrupted run's."""
    if not (folder / "ck.ckpt").exists():
        return "skipped", "no checkpoint could be made", ""
    shutil.copyfile(folder / "ck.ckpt", folder / "ck.sentilstm.ckpt")
    resumed = execute(
        [*SENTILSTM, "train", "train.csv", "--out", "ck.sentilstm", *CKPT_ARGS, "--resume"], folder, env, 240
    )
    whole = execute([*SENTILSTM, "train", "train.csv", "--out", "whole.sentilstm", *CKPT_ARGS], folder, env, 240)
    if resumed.rc != 0 or whole.rc != 0:
        failed = resumed if resumed.rc != 0 else whole
        return (
            "traceback" if "Traceback" in failed.stderr else "other",
            exception_line(failed.stderr),
            head(failed.stderr),
        )

    def profile(name: str) -> dict[str, Any]:
        header, _ = split_file((folder / name).read_bytes())
        return json.loads(header["__metadata__"]["payload"]).get("metrics", {}).get("data", {})

    a, b = profile("ck.sentilstm"), profile("whole.sentilstm")
    differing = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and "second" not in k]
    if differing:
        scalars = {k: (a.get(k), b.get(k)) for k in differing if not isinstance(a.get(k), (dict, list))}
        return (
            "accepted",
            (
                f"the resumed model's data profile differs from an uninterrupted run's in {', '.join(differing)}"
                f"{'; (resumed, uninterrupted): ' + json.dumps(scalars) if scalars else ''}"
            )[:400],
            "",
        )
    return "clean", f"same data profile ({len(a)} fields)", ""


def cli_catalogue(art: Artefacts) -> list[Case]:
    return [
        *same_file_cases(art),
        *numeric_cases(art),
        *encoding_cases(),
        *text_cases(),
        *disk_cases(art),
        *odd_table_cases(),
        *misc_cases(art),
    ]


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
            outcome.seconds, outcome.command = (
                time.monotonic() - started,
                f"(flow) {case.custom.__doc__.strip().splitlines()[0]}",
            )
            return outcome
        argv = [a.replace("{folder}", str(folder)) if isinstance(a, str) else a for a in case.argv]
        command = case.command or [*SENTILSTM, *argv]
        outcome.command = shown(
            ["sentilstm", *argv] if case.command is None else ["python", "-c", "<save snippet>", *command[3:]]
        )
        before = snapshot(folder)
        wrapped = art.sandbox.wrap(case, command, folder)
        if isinstance(wrapped, str):
            outcome.detail = f"cannot run here: {wrapped}"
            return outcome
        run = execute(wrapped, folder, art.env, case.timeout, MAX_TASKS if case.sandbox == "spawn" else None)
        if case.sandbox == "readonly" and not art.sandbox.namespaces:
            os.chmod(folder / "ro", 0o755)
        after = snapshot(folder)
        lost, leftovers = compare(before, after, case.outputs, run.rc == 0)
        if case.sandbox == "full":
            full_lost, full_left = compare_full(folder)
            lost, leftovers = lost + full_lost, leftovers + full_left
        problem = case.check(folder, run) if case.check is not None and run.rc == 0 else None
        outcome.verdict, outcome.detail = classify(
            case.expect,
            run,
            blowup_mb=art.blowup_mb,
            lost=lost,
            leftovers=leftovers,
            problem=problem,
            accepted_if=case.accepted_if,
            late_if=case.late_if,
        )
        outcome.output, outcome.seconds, outcome.peak_mb = (
            head(run.stderr or run.stdout),
            run.seconds,
            round(run.peak_mb),
        )
        return outcome
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():  # a read-only mode left behind
            subprocess.run(["chmod", "-R", "u+rwx", str(folder)], check=False)
            shutil.rmtree(folder, ignore_errors=True)


def compare_full(folder: Path) -> tuple[list[str], list[str]]:
    """The full tmpfs's files before and after the command (listed inside the namespace, which is gone now)."""

    def read(name: str) -> dict[str, str]:
        path = folder / name
        if not path.exists():
            return {}
        return {
            line.split(None, 1)[1].strip(): line.split(None, 1)[0]
            for line in path.read_text().splitlines()
            if line.strip()
        }

    before, after = read(".audit-before.sha"), read(".audit-after.sha")
    if not before:
        return ["the full-disk setup did not run"], []
    lost = [
        f"{name} (previous output on the full disk) {'deleted' if name not in after else 'changed'}"
        for name, digest in before.items()
        if after.get(name) != digest
    ]
    return lost, [name for name in sorted(after.keys() - before.keys()) if name.endswith(".tmp")]
