"""Issue 14 (items 2, 6, 7, 8, 10, 12) through the command line and the Python API: no verb may overwrite its input,
every bad number or encoding is one `error:` line before any work, a full or read-only disk is one line naming the
path with no partial file, undecodable text is cleaned, wide tables and many classes stay within bounded memory,
a resumed run profiles its data like an uninterrupted one, and a killed run's temporaries are swept."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from helpers import TINY, error_line, full_disk, invoke_cli, make_negation_data
from sentilstm import SentimentClassifier
from sentilstm.errors import ConfigError, DataError
from sentilstm.system import files
from sentilstm.training.loop import TrainingCallback

SMALL = [
    "--embedding-dim",
    "8",
    "--hidden-size",
    "8",
    "--epochs",
    "1",
    "--min-frequency",
    "1",
    "--threads",
    "1",
    "--blend",
    "none",
    "--no-report",
    "--quiet",
]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the SHA-256 of its bytes: what a failing command must leave exactly as it was."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def write_csv(path: Path, texts: list[str], labels: list[Any]) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
    return path


@pytest.fixture(scope="module")
def files_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A training table, a test table and a tiny model beside them."""
    folder = tmp_path_factory.mktemp("hardening")
    texts, labels = make_negation_data(300, seed=0)
    train = write_csv(folder / "train.csv", texts, labels)
    test = write_csv(folder / "test.csv", *make_negation_data(60, seed=1))
    path = SentimentClassifier(**{**TINY, "epochs": 1}).fit(texts, labels).save(folder / "m.sentilstm")
    return {"folder": folder, "train": train, "test": test, "model": path}


@pytest.fixture
def work(tmp_path: Path, files_dir: dict[str, Path]) -> dict[str, Path]:
    """Fresh copies in an empty folder, so a test may compare the folder before and after."""
    folder = tmp_path / "w"
    folder.mkdir()
    copies = {name: folder / path.name for name, path in files_dir.items() if name != "folder"}
    for name, path in copies.items():
        path.write_bytes(files_dir[name].read_bytes())
    return {"folder": folder, **copies}


# ----- item 2: an output that is an input -------------------------------------------------------------------
VERBS = {
    "train --out DATA": lambda w, d: ["train", d, "--out", d, *SMALL],
    "train --report DATA": lambda w, d: [
        "train",
        w["train"],
        "--out",
        w["folder"] / "n.sentilstm",
        "--report",
        d,
        *SMALL[:-2],
    ],
    "train --metrics-json DATA": lambda w, d: [
        "train",
        w["train"],
        "--out",
        w["folder"] / "n.sentilstm",
        "--metrics-json",
        d,
        *SMALL,
    ],
    "train --out TEST": lambda w, d: ["train", w["train"], "--test", d, "--out", d, *SMALL],
    "baseline --out DATA": lambda w, d: ["baseline", d, "--out", d],
    "baseline --report DATA": lambda w, d: ["baseline", d, "--out", w["folder"] / "b.sentilstm", "--report", d],
    "cv --json DATA": lambda w, d: ["cv", d, "--json", d, "--estimator", "nbsvm", "--no-report"],
    "cv --report DATA": lambda w, d: ["cv", d, "--report", d, "--estimator", "nbsvm"],
    "tune --out DATA": lambda w, d: ["tune", d, "--out", d, "--trials", "1"],
    "tune --report DATA": lambda w, d: [
        "tune",
        d,
        "--out",
        w["folder"] / "t.sentilstm",
        "--report",
        d,
        "--trials",
        "1",
    ],
    "evaluate --json DATA": lambda w, d: ["evaluate", w["model"], d, "--json", d],
    "evaluate --json MODEL": lambda w, d: ["evaluate", w["model"], d, "--json", w["model"]],
    "predict --output DATA": lambda w, d: ["predict", w["model"], "--input", d, "--output", d],
    "predict --output MODEL": lambda w, d: ["predict", w["model"], "--input", d, "--output", w["model"]],
    "export --out MODEL": lambda w, d: ["export", w["model"], "--out", w["model"]],
    "explain --html MODEL": lambda w, d: ["explain", w["model"], "not good", "--html", w["model"]],
}


@pytest.mark.parametrize("verb", VERBS)
def test_no_verb_writes_over_one_of_its_inputs(work: dict[str, Path], verb: str) -> None:
    """Regression: `train DATA --out DATA` and `baseline DATA --out DATA` replaced the training table with the model."""
    before = snapshot(work["folder"])
    line = error_line(invoke_cli(*VERBS[verb](work, work["train"])))
    assert "is the input file given as" in line and "choose another output path" in line
    assert snapshot(work["folder"]) == before


@pytest.mark.parametrize("verb", ["cv", "tune"])
def test_a_report_over_the_embeddings_file_is_refused(work: dict[str, Path], verb: str) -> None:
    """Regression (issue 15): cv and tune did not count --embeddings among the inputs no output may overwrite."""
    vectors = work["folder"] / "vectors.txt"
    vectors.write_text("good 0.1 0.2\nbad -0.1 -0.2\n")
    before = snapshot(work["folder"])
    args = [verb, work["train"], "--embeddings", vectors, "--report", vectors, "--epochs", "1"]
    line = error_line(invoke_cli(*args, *(["--out", work["folder"] / "t.sentilstm"] if verb == "tune" else [])))
    assert line.startswith("error: --report ") and "is the input file given as --embeddings" in line
    assert snapshot(work["folder"]) == before


@pytest.mark.parametrize("spelling", ["./train.csv", "sub/../train.csv", "link.csv", "hard.csv"])
def test_other_spellings_of_the_input_are_refused_too(
    work: dict[str, Path], spelling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(work["folder"])
    (work["folder"] / "sub").mkdir()
    (work["folder"] / "link.csv").symlink_to(work["train"])
    os.link(work["train"], work["folder"] / "hard.csv")
    before = snapshot(work["folder"])
    for verb in ("train", "baseline"):
        line = error_line(invoke_cli(verb, "train.csv", "--out", spelling, *(SMALL if verb == "train" else [])))
        assert "is the input file given as DATA" in line
    assert snapshot(work["folder"]) == before


def test_export_beside_a_model_named_like_its_export_is_refused(work: dict[str, Path]) -> None:
    model = work["folder"] / "m.pt"
    model.write_bytes(work["model"].read_bytes())
    before = snapshot(work["folder"])
    assert "is the input file" in error_line(invoke_cli("export", model, "--format", "torchscript"))
    assert snapshot(work["folder"]) == before


def test_out_being_a_folder_is_refused_before_training(work: dict[str, Path]) -> None:
    (work["folder"] / "models").mkdir()
    result = invoke_cli("train", work["train"], "--out", work["folder"] / "models", *SMALL)
    assert "is a folder; give a file name" in error_line(result)
    assert "training on" not in result.stderr and list((work["folder"] / "models").iterdir()) == []


def test_test_labels_never_seen_in_training_are_refused_before_training(work: dict[str, Path]) -> None:
    texts, labels = make_negation_data(40, seed=3)
    odd = write_csv(work["folder"] / "odd.csv", texts, [5 * label for label in labels])
    before = snapshot(work["folder"])
    for verb in ("train", "baseline"):
        result = invoke_cli(
            verb,
            work["train"],
            "--test",
            odd,
            "--out",
            work["folder"] / "x.sentilstm",
            *(SMALL if verb == "train" else []),
        )
        line = error_line(result)
        assert "--test" in line and "labels [-5, 5] were not seen in training" in line
        assert "training on" not in result.stderr
    assert snapshot(work["folder"]) == before


# ----- item 8: numbers, seeds, encodings, sizes -------------------------------------------------------------
@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--learning-rate", "nan", "--learning-rate must be a finite number, got nan"),
        ("--dropout", "nan", "--dropout must be a finite number"),
        ("--weight-decay", "inf", "--weight-decay must be a finite number, got inf"),
        ("--focal-gamma", "nan", "--focal-gamma must be a finite number"),
        ("--augment-alpha", "nan", "--augment-alpha must be a finite number"),
        ("--head-l2", "-inf", "--head-l2 must be a finite number"),
        ("--dist-timeout", "nan", "--dist-timeout must be a finite number"),
        ("--seed", "-1", "seed must be between 0 and 4294967295, got -1"),
        ("--seed", str(2**70), "--seed must be a whole number of at most 19 digits"),
        ("--seed", str(2**40), "seed must be between 0 and 4294967295"),
        ("--epochs", str(2**64), "--epochs must be a whole number of at most 19 digits"),
        ("--hidden-size", "200000", "parameters before any vocabulary and needs at least"),
        ("--embedding-dim", "1000000000", "embedding_dim must be between 1 and 1048576"),
        ("--num-layers", "100000", "num_layers must be between 1 and 1024"),
        ("--encoding", "bogus", "encoding 'bogus' is not a text encoding Python knows"),
        ("--encoding", "rot13", "encoding 'rot13' is not a text encoding"),
        ("--encoding", "\udcff", "is not a text encoding Python knows"),  # undecodable bytes in argv
        ("--nproc-per-node", str(10**12), "--nproc-per-node must be a whole number between 1 and"),
        ("--augment-copies", str(10**12), "augment_copies must be a whole number between 1 and 100"),
    ],
)
def test_train_refuses_bad_numbers_and_encodings_before_reading_data(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    """Regression: NaN passed check_range, --seed -1 / 2^70, --encoding bogus and --hidden-size 200000 gave tracebacks.

    DATA does not exist: the option must fail first, before anything is read."""
    result = invoke_cli("train", tmp_path / "missing.csv", "--out", tmp_path / "m.sentilstm", *SMALL, option, value)
    assert message in error_line(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["describe", "{model}", "--length", str(10**12)],
            "sequence_length must be a whole number between 1 and 100,000",
        ),
        (["evaluate", "{model}", "{train}", "--encoding", "bogus"], "encoding 'bogus'"),
        (
            ["predict", "{model}", "--input", "{train}", "--output", "{folder}/o.csv", "--encoding", "bogus"],
            "encoding 'bogus'",
        ),
        (
            ["predict", "{model}", "--input", "{train}", "--output", "{folder}/o.csv", "--chunk-rows", str(2**70)],
            "--chunk-rows",
        ),
        (["tune", "{train}", "--out", "{folder}/t.sentilstm", "--timeout", "nan"], "--timeout must be a finite number"),
        (["baseline", "{train}", "--out", "{folder}/b.sentilstm", "--C", "nan"], "--C must be a finite number"),
        (
            ["cv", "{train}", "--estimator", "nbsvm", "--seed", str(2**70), "--no-report"],
            "--seed must be a whole number",
        ),
        (["explain", "{model}", "good", "--samples", str(2**64)], "--samples must be a whole number"),
        (
            ["tune", "{train}", "--out", "{folder}/t.sentilstm", "--trials", "0", "--seed", "-1"],
            "seed must be a whole number between 0 and 4,294,967,295, got -1",
        ),
        (["predict", "{model}", "good", "--threads", "100000"], "threads must be a whole number between 1 and 4,096"),
        (
            ["cv", "{train}", "--estimator", "nbsvm", "--repeats", str(10**12), "--no-report"],
            "repeats must be a whole number between 1 and 100",
        ),
        (
            ["cv", "{train}", "--estimator", "nbsvm", "--seed", str(10**12), "--no-report"],
            "seed must be a whole number between 0 and 4,294,967,295",
        ),
        (["serve", "{model}", "--workers", str(10**12)], "workers must be a whole number between 1 and"),
        (
            ["train", "{train}", "--out", "{folder}/m.sentilstm", "--encoding", "utf-16"],
            "cannot be read as utf-16 (UTF-16 stream does not start with BOM); pass the file's real encoding",
        ),
        (
            ["predict", "{model}", "--input", "{train}", "--output", "{folder}/o.csv", "--encoding", "utf-16"],
            "cannot be read as utf-16",
        ),
    ],
)
def test_other_verbs_refuse_bad_numbers_in_one_line(work: dict[str, Path], args: list[str], message: str) -> None:
    before = snapshot(work["folder"])
    line = error_line(invoke_cli(*(a.format(**work) for a in args)))
    assert message in line
    assert snapshot(work["folder"]) == before


def test_the_python_api_refuses_wrong_types_and_sizes() -> None:
    """Regression: predict(None), epochs=1.5 and batch_size=2.5 gave TypeErrors deep inside."""
    texts, labels = make_negation_data(60, seed=0)
    for params, message in (
        ({"epochs": 1.5}, "epochs must be a whole number, got 1.5"),
        ({"batch_size": 2.5}, "batch_size must be a whole number, got 2.5"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"dropout": "0.1"}, "dropout must be a finite number"),
        ({"bidirectional": "yes"}, "bidirectional must be True or False"),
        ({"hidden_size": 200_000}, "needs at least"),
    ):
        with pytest.raises(ConfigError, match=message):
            SentimentClassifier(**{**TINY, **params}).fit(texts, labels)
    clf = SentimentClassifier(**{**TINY, "epochs": 1}).fit(texts, labels)
    for bad in (None, 5, {"a": 1}, b"bytes"):
        with pytest.raises(DataError, match="X must be a list of texts"):
            clf.predict(bad)


# ----- item 8: full and read-only disks ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, written",
    [
        (["train", "{train}", "--out", "{folder}/n.sentilstm", *SMALL], "n.sentilstm.ckpt"),  # the first checkpoint
        (["baseline", "{train}", "--out", "{folder}/b.sentilstm"], "b.sentilstm"),
        (["evaluate", "{model}", "{test}", "--json", "{folder}/r.json"], "r.json"),
        (["predict", "{model}", "--input", "{test}", "--output", "{folder}/o.csv"], "o.csv"),
        (["predict", "{model}", "--input", "{test}", "--output", "{folder}/o.parquet"], "o.parquet"),
        (["export", "{model}", "--out", "{folder}/m.onnx"], "m.onnx"),
        (["explain", "{model}", "not good", "--html", "{folder}/e.html"], "e.html"),
        (
            ["cv", "{train}", "--estimator", "nbsvm", "--folds", "2", "--json", "{folder}/cv.json", "--no-report"],
            "cv.json",
        ),
    ],
)
def test_a_full_disk_is_one_line_naming_the_path_and_leaves_no_partial_file(
    work: dict[str, Path], monkeypatch: pytest.MonkeyPatch, args: list[str], written: str
) -> None:
    full_disk(monkeypatch)
    before = snapshot(work["folder"])
    line = error_line(invoke_cli(*(a.format(**work) for a in args)))
    assert f"cannot write '{work['folder'] / written}': No space left on device; the disk is full" in line
    assert snapshot(work["folder"]) == before  # no partial output, no temporary


def test_a_read_only_folder_fails_before_training(work: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """As root chmod cannot make a folder read-only, so the file system's answer (EROFS) is simulated."""

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    result = invoke_cli("train", work["train"], "--out", work["folder"] / "n.sentilstm", *SMALL)
    assert "Read-only file system; the file system is read-only; write somewhere else" in error_line(result)
    assert "training on" not in result.stderr


def test_save_into_a_read_only_folder_is_an_output_error(
    work: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentilstm.errors import OutputError

    clf = SentimentClassifier.load(work["model"])

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match=r"cannot write '.*copy.sentilstm': Read-only file system"):
        clf.save(work["folder"] / "copy.sentilstm")
    assert not (work["folder"] / "copy.sentilstm").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions (simulated above)")
def test_a_folder_without_write_permission_fails_before_training(work: dict[str, Path]) -> None:
    locked = work["folder"] / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = invoke_cli("train", work["train"], "--out", locked / "n.sentilstm", *SMALL)
        assert "Permission denied" in error_line(result) and "training on" not in result.stderr
    finally:
        locked.chmod(0o755)


# ----- item 6: lone surrogates, undecodable argument bytes ----------------------------------------------------
def test_undecodable_argument_bytes_are_classified(work: dict[str, Path]) -> None:
    """Regression: `predict MODEL $'\\xff\\xfe bad'` crashed with a 179-line TypeError from the tokenizer."""
    for extra in ([], ["--json"]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "sentilstm",
                "predict",
                str(work["model"]).encode(),
                b"\xff\xfe not good",
                b"\xed\xa0\x80 bad",
                *extra,
            ],
            capture_output=True,
            env={**os.environ, "COLUMNS": "200"},
            timeout=300,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
        assert b"Traceback" not in result.stderr and "\ufffd".encode() in result.stdout


def test_lone_surrogates_in_jsonl_train_evaluate_and_predict(work: dict[str, Path]) -> None:
    texts, labels = make_negation_data(200, seed=4)
    rows = [
        json.dumps({"text": text + (" \ud83d" if i % 3 == 0 else "\u0000"), "label": label})
        for i, (text, label) in enumerate(zip(texts, labels))
    ]
    data = work["folder"] / "emoji.jsonl"
    data.write_text("\n".join(rows) + "\n")
    out = work["folder"] / "e.sentilstm"
    for args in (
        ["train", data, "--out", out, *SMALL],
        ["evaluate", out, data],
        ["predict", out, "--input", data, "--output", work["folder"] / "scored.jsonl"],
    ):
        result = invoke_cli(*args)
        assert result.exit_code == 0, (args[0], result.output, result.exception)
    scored = (work["folder"] / "scored.jsonl").read_text(encoding="utf-8")
    assert "\ufffd" in scored and len(scored.splitlines()) == 200
    assert len(SentimentClassifier.load(out).predict(["\ud800 good", "a\x00b", "\udcff"])) == 3


def test_mixed_types_in_a_jsonl_column_are_one_line_naming_it(work: dict[str, Path]) -> None:
    data = work["folder"] / "mixed.jsonl"
    data.write_text('{"text": "good film", "label": "pos"}\n{"text": "bad film", "label": 0}\n')
    line = error_line(invoke_cli("train", data, "--out", work["folder"] / "x.sentilstm", *SMALL))
    assert "label column 'label' mixes strings (row 1: 'pos') and numbers (row 2: 0)" in line


# ----- item 7: wide tables, many classes ---------------------------------------------------------------------
MEASURE = """
import resource, sys
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def run_measured(code: str, timeout: float = 300) -> dict[str, Any]:
    """Run `code` in a fresh Python; it prints one JSON line last. Peak RSS growth comes from the code itself."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE + textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_table_with_a_huge_header_reads_only_the_needed_columns(tmp_path: Path) -> None:
    """Regression: an 8 MB CSV with a 10^6-column header ran to 11 GB RSS; here 10^5 columns, 400 short rows."""
    path = tmp_path / "wide.csv"
    with open(path, "w") as handle:
        handle.write("text,label," + ",".join(f"c{i}" for i in range(100_000)) + "\n")
        for i in range(400):
            handle.write(f"row {i} {'good' if i % 2 else 'bad'},{i % 2}\n")
    result = run_measured(f"""
        import json
        from sentilstm.data.tables import read_table
        before = peak_mb()
        table = read_table({str(path)!r})
        print(json.dumps({{"rows": len(table), "labels": sorted(set(table.labels)), "growth": peak_mb() - before}}))
    """)
    assert result["rows"] == 400 and result["labels"] == [0, 1]
    assert result["growth"] < 250, result  # was gigabytes: every empty cell of every column was materialised


def test_a_table_too_wide_to_copy_is_refused_by_predict(work: dict[str, Path]) -> None:
    path = work["folder"] / "wide.csv"
    path.write_text("text," + ",".join(f"c{i}" for i in range(20_000)) + "\ngood film\n")
    line = error_line(invoke_cli("predict", work["model"], "--input", path, "--output", work["folder"] / "o.csv"))
    assert "has 20,001 columns; scoring copies every column to the output and takes at most 10,000" in line


def test_a_wide_table_needs_its_columns_named(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(1000)) + "\ngood film,1\n")
    result = invoke_cli("train", path, "--out", tmp_path / "m.sentilstm", *SMALL)
    line = error_line(result)
    assert "cannot tell which column holds the text among 1,000 columns ['c0', 'c1'" in line and len(line) < 400


def test_a_thousand_classes_report_and_table_finish_with_bounded_memory() -> None:
    """Regression: 1,000 classes drove the report's confusion matrix to 10 GB and a hang."""
    result = run_measured(
        """
        import io, json, tempfile, time
        from pathlib import Path
        import numpy as np
        from rich.console import Console
        from sentilstm.cli import common as cli
        from sentilstm.estimators.evaluation import Predictions
        from sentilstm.report.html import Report
        from sentilstm.report.sections import ScoredSet, data_section, evaluation_section
        before = peak_mb()
        rng = np.random.default_rng(0)
        k, n = 1000, 3000
        targets = rng.integers(0, k, n)
        logits = rng.normal(size=(n, k))
        logits[np.arange(n), targets] += 3
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        predictions = Predictions(["a text"] * n, targets, probabilities, [f"class{i}" for i in range(k)])
        report = predictions.report()
        counts = np.bincount(targets, minlength=k).tolist()
        profile = {"labels": predictions.labels, "train_counts": counts, "validation_counts": counts, "max_length": 10,
                   "length_percentiles": {"p99": 5}, "length_histogram": {"edges": [0, 5, 10], "counts": [3, 4]},
                   "truncated_fraction": 0.0, "train_unknown_rate": 0.0, "validation_unknown_rate": 0.0,
                   "validation_texts_with_unknown": 0.0, "vocab_size": 10}
        sections = [evaluation_section([ScoredSet("test", "Test", report, predictions, "")]), data_section(profile, {})]
        folder = Path(tempfile.mkdtemp())
        Report("r", "s", [], sections, "").write(folder / "r.html")
        cli.out = Console(file=io.StringIO(), width=200)
        cli.print_report(report, "test")
        printed = cli.out.file.getvalue()
        html = (folder / "r.html").read_text()
        plots = list((folder / "r_plots").iterdir())
        print(json.dumps({"growth": peak_mb() - before, "plots": sorted(p.name for p in plots),
                          "summarised": "most frequent confusions" in printed, "rows": printed.count("class"),
                          "per_class_rows": html.count("<td>class"),
                          "largest_png": max(p.stat().st_size for p in plots)}))
    """,
        timeout=600,
    )
    assert result["summarised"] and result["per_class_rows"] >= 1000  # the per-class table stays complete
    assert result["rows"] < 1000 + 3 * 20 + 50  # per-class rows + 20 confusions, not a 1000 x 1000 matrix
    assert result["largest_png"] < 2_000_000, result
    assert result["growth"] < 600, result


# ----- item 10: a resumed run's data profile -----------------------------------------------------------------
class _StopAfterFirstEpoch(TrainingCallback):
    def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
        if epoch == 2:
            raise KeyboardInterrupt  # as if killed once the first epoch's checkpoint is written


def test_a_resumed_run_profiles_the_raw_texts_like_an_uninterrupted_one(tmp_path: Path) -> None:
    """Regression: after SIGKILL + --resume the profile said truncated_fraction 0.0 instead of 0.0395."""
    texts, labels = make_negation_data(300, seed=2)
    params = {**TINY, "epochs": 2, "max_length": 6}  # most texts are longer: truncation must show in the profile
    whole = SentimentClassifier(**params).fit(texts, labels).metrics_["data"]
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        SentimentClassifier(**params).fit(texts, labels, checkpoint_path=checkpoint, callback=_StopAfterFirstEpoch())
    assert checkpoint.exists()
    resumed = SentimentClassifier(**params).fit(texts, labels, checkpoint_path=checkpoint, resume=True).metrics_["data"]
    assert whole["truncated_fraction"] > 0.3
    for key in ("truncated_fraction", "length_percentiles", "length_histogram", "train_counts", "train_unknown_rate"):
        assert resumed[key] == whole[key], key


# ----- item 12: temporaries of a killed predict ---------------------------------------------------------------
def test_predict_sweeps_what_a_killed_predict_left_and_nothing_else(work: dict[str, Path]) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    left = work["folder"] / f".scored.csv.{child.pid}-{files._HOST}.a1b2c3d4.tmp"
    left.write_text("text,predicted_label\nhalf a ro")
    keep = [
        work["folder"] / ".scored.csv.notes.tmp",
        work["folder"] / f".scored.csv.{os.getpid()}-{files._HOST}.zz99zz99.tmp",
    ]
    for path in keep:
        path.write_text("not sentilstm's to remove")
    result = invoke_cli("predict", work["model"], "--input", work["test"], "--output", work["folder"] / "scored.csv")
    assert result.exit_code == 0, result.output
    assert not left.exists() and all(path.exists() for path in keep)
    assert (work["folder"] / "scored.csv").read_text().count("\n") == 61
