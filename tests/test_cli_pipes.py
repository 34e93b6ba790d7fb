"""The command line as people use it in a shell: `predict MODEL -` in a pipeline, fastText-format files, start-up
without the heavy libraries, `--version`, shell completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import error_line, invoke_cli, make_negation_data
from sentilstm import __version__
from sentilstm.data.streams import line_batches
from sentilstm.data.tables import read_table
from sentilstm.errors import DataError
from sentilstm.estimators.baselines import make_baseline

CLI = [sys.executable, "-c", "from sentilstm.cli import main; main()"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipes") / "nbsvm.sentilstm"
    make_baseline("nbsvm").fit(*make_negation_data(200, seed=41)).save(path)
    return path


def test_predict_dash_streams_stdin_to_json_lines_one_per_line_in_order(model: Path) -> None:
    texts = [f"not good {i}" if i % 3 else f"great {i}" for i in range(5_000)] + ["", "caf\u00e9 \u2764"]
    done = subprocess.run(
        [*CLI, "predict", str(model), "-"], input="\n".join(texts) + "\n", capture_output=True, text=True, check=True
    )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["text"] for r in rows] == texts  # every line answered, empty ones too, in order
    assert {r["label"] for r in rows} <= {-1, 1} and abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-5
    clf = make_baseline("nbsvm").fit(*make_negation_data(200, seed=41))
    assert [r["label"] for r in rows[:50]] == clf.predict(texts[:50]).tolist()
    csv_out = subprocess.run(
        [*CLI, "predict", str(model), "-", "--output-format", "csv"],
        input="good\nbad film\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert csv_out[0] == "text,predicted_label,prob_-1,prob_1" and csv_out[1].startswith("good,") and len(csv_out) == 3


def test_predict_dash_answers_each_line_as_it_arrives(model: Path) -> None:
    process = subprocess.Popen(
        [*CLI, "predict", str(model), "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        for text in ("good", "not good"):  # a slow writer (`tail -f`): no waiting for a full batch
            process.stdin.write(text + "\n")
            process.stdin.flush()
            assert json.loads(process.stdout.readline())["text"] == text
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0


def test_predict_dash_stops_quietly_when_the_reader_does(model: Path) -> None:
    shell = f"yes good | head -n 200000 | {' '.join(map(repr, CLI))} predict {model} - | head -n 2"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=300)
    assert len(done.stdout.splitlines()) == 2 and "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_line_batches_bound_batches_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_bytes(b"a\r\nb\n\nbad \xff byte\nlast without newline")
    with open(path, "rb") as stream:
        batches = list(line_batches(stream, max_batch=2))
    assert batches == [["a", "b"], ["", "bad \ufffd byte"], ["last without newline"]]
    path.write_bytes(b"x" * 5000)
    with open(path, "rb") as stream, pytest.raises(DataError, match="line 1 of the input is longer than 1,000 bytes"):
        list(line_batches(stream, max_line_bytes=1000))


def test_predict_dash_refuses_what_does_not_apply(model: Path) -> None:
    assert "cannot be used with '-'" in error_line(invoke_cli("predict", model, "-", "--input", "x.csv"))
    assert "must be jsonl or csv, got 'parquet'" in error_line(
        invoke_cli("predict", model, "-", "--output-format", "parquet")
    )


def test_fasttext_files_train_evaluate_and_predict(tmp_path: Path) -> None:
    texts, labels = make_negation_data(160, seed=42)
    train = tmp_path / "train.ft"
    train.write_text("".join(f"__label__{'pos' if y == 1 else 'neg'} {t}\n" for t, y in zip(texts, labels)))
    table = read_table(train)
    assert table.texts == texts and set(table.labels or []) == {"pos", "neg"}
    model = tmp_path / "ft.sentilstm"
    assert invoke_cli("baseline", train, "--out", model).exit_code == 0
    report = tmp_path / "report.json"
    assert invoke_cli("evaluate", model, train, "--json", report).exit_code == 0
    assert json.loads(report.read_text())["num_examples"] == 160
    unlabelled = tmp_path / "new.txt"  # fastText's predict input: texts, labels optional
    unlabelled.write_text("not good at all\n__label__pos great\n")
    scored = tmp_path / "scored.csv"
    assert invoke_cli("predict", model, "--input", unlabelled, "--output", scored).exit_code == 0
    assert scored.read_text().splitlines()[1].startswith("not good at all,,")
    two = tmp_path / "two.ft"
    two.write_text("__label__pos __label__neg mixed feelings\n")
    assert "line 1 has more than one __label__" in error_line(invoke_cli("baseline", two, "--out", model))


def test_help_and_version_start_without_torch_scikit_learn_or_pandas() -> None:
    probe = (
        "import sys\nsys.argv = ['sentilstm', {args}]\nfrom sentilstm.cli import app\ntry:\n    app()\n"
        "except SystemExit:\n    pass\nprint([m for m in ('torch', 'sklearn', 'pandas') if m in sys.modules])\n"
    )
    for args in ("'--help'", "'predict', '--help'", "'--version'"):
        done = subprocess.run(
            [sys.executable, "-c", probe.format(args=args)], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip().splitlines()[-1] == "[]", args
    started = time.perf_counter()
    version = subprocess.run([*CLI, "--version"], capture_output=True, text=True, check=True).stdout
    assert __version__ in version and time.perf_counter() - started < 60  # a hang guard, not a timing


def test_shell_completion_is_offered() -> None:
    result = invoke_cli("--help")
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
    env = {**os.environ, "_SENTILSTM_COMPLETE": "complete_bash", "COMP_WORDS": "sentilstm pre", "COMP_CWORD": "1"}
    done = subprocess.run(CLI, env=env, capture_output=True, text=True, timeout=60)
    assert "predict" in done.stdout and "pretrain" in done.stdout
