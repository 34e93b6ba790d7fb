"""End-to-end tests of the `sentilstm` command line (train / evaluate / predict).

Everything runs on a synthetic, negation-dependent corpus built here: sentences of filler words with one
sentiment word ("good", "awful", ...), sometimes preceded by "not", which flips the label. A bag of words
cannot get these right; an LSTM can. Models are trained once per module with small options and reused.

The contract under test (src/sentilstm/cli/): every error a user can cause prints exactly one line
`error: ...` on stderr and exits with code 2, with no traceback and no half-written output file.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import helpers
from helpers import invoke_cli
from sentilstm.estimators.classifier import SentimentClassifier
from sentilstm.training.loop import read_checkpoint

# --threads 1: on this 2-core machine two OpenMP threads train ~10x slower as soon as anything else runs
# (measured: 18.5 s vs 9.0 s for the same 8 epochs while another pytest ran; 2.5 s either way when idle).
SMALL = ["--embedding-dim", "32", "--hidden-size", "32", "--epochs", "8", "--min-frequency", "1", "--threads", "1"]
COLUMNS = ["--text-column", "text", "--label-column", "label"]


# ----- synthetic data --------------------------------------------------------------------------------
FILLER = "the movie was plot actors story scenes film today really quite this it and i think overall".split()
POSITIVE = ["good", "great", "excellent", "wonderful"]
NEGATIVE = ["bad", "awful", "terrible", "boring"]
NEUTRAL = ["okay", "average", "fine"]


def make_rows(
    n: int, seed: int, classes: tuple[Any, ...] = (-1, 1), names: dict[int, Any] | None = None, noise: float = 0.0
) -> list[dict[str, Any]]:
    """Rows {id, text, label}; the label is the polarity of the sentiment word, flipped by a preceding "not"."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        polarity = rng.choice(classes)
        filler = [rng.choice(FILLER) for _ in range(rng.randint(4, 9))]
        if polarity == 0:
            core = [rng.choice(NEUTRAL)]
        else:
            negate = rng.random() < 0.4
            word_polarity = -polarity if negate else polarity
            core = (["not"] if negate else []) + [rng.choice(POSITIVE if word_polarity == 1 else NEGATIVE)]
        if noise and polarity != 0 and rng.random() < noise:
            polarity = -polarity
        at = rng.randint(0, len(filler))
        text = " ".join(filler[:at] + core + filler[at:])
        rows.append({"id": i, "text": text, "label": names[polarity] if names else polarity})
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None, sep: str = ",") -> Path:
    columns = columns or list(rows[0])
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=sep)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def error_line(result: Any) -> str:
    """`helpers.error_line` (exit 2, one `error:` line on stderr, no traceback), and no `error:` on stdout."""
    line = helpers.error_line(result)
    assert "error:" not in result.stdout
    return line


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    return result


# ----- shared fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("data")
    big = make_rows(3000, seed=3)
    big_inputs = [{"id": r["id"], "text": r["text"]} for r in big]
    return {
        "folder": folder,
        "train": write_csv(folder / "train.csv", make_rows(3000, seed=1)),
        "test": write_csv(folder / "test.csv", make_rows(600, seed=2)),
        "big": write_csv(folder / "big.csv", big_inputs),
        "big_tsv": write_csv(folder / "big.tsv", big_inputs, sep="\t"),
        "big_jsonl": write_jsonl(folder / "big.jsonl", big_inputs),
    }


@pytest.fixture(scope="module")
def trained(data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One binary (-1/1) model trained through the CLI, with --test and --metrics-json."""
    folder = tmp_path_factory.mktemp("model")
    model, metrics = folder / "m.sentilstm", folder / "metrics.json"
    result = invoke_cli(
        "train", data["train"], *COLUMNS, "--out", model, "--test", data["test"], "--metrics-json", metrics, *SMALL
    )
    return {"result": result, "model": model, "metrics": metrics, "folder": folder}


@pytest.fixture(scope="module")
def model(trained: dict[str, Any]) -> Path:
    ok(trained["result"])
    return trained["model"]


@pytest.fixture(scope="module")
def clf(model: Path) -> SentimentClassifier:
    return SentimentClassifier.load(model)


# ----- train -----------------------------------------------------------------------------------------
def test_train_writes_model_and_prints_metrics(trained: dict[str, Any]) -> None:
    result = ok(trained["result"])
    assert trained["model"].is_file() and trained["model"].stat().st_size > 0
    # no .ckpt, no .tmp; the HTML report and its plots beside the model
    assert sorted(p.name for p in trained["folder"].iterdir()) == [
        "m.report.html",
        "m.report_plots",
        "m.sentilstm",
        "metrics.json",
    ]
    assert "validation (best epoch" in result.stdout
    for column in ("accuracy", "macro F1", "weighted F1", "ROC-AUC", "confusion matrix"):
        assert column in result.stdout
    assert f"saved {trained['model']}" in result.stdout
    assert "training on 3000 texts" in result.stderr
    # stderr is no terminal here: the epochs are logged once each, and no progress bar is drawn (it printed its last
    # state again after everything else when redirected to a file)
    assert "| val loss" not in result.stderr and "epoch 1/" in result.stderr


def test_train_with_test_prints_and_saves_test_metrics(trained: dict[str, Any], data: dict[str, Path]) -> None:
    result = ok(trained["result"])
    assert f"test: {data['test']}" in result.stdout
    metrics = json.loads(trained["metrics"].read_text())
    assert set(metrics) == {"validation", "test", "data", "sources"}
    assert metrics["sources"] == {"train": data["train"].name, "test": data["test"].name}  # names, not paths
    assert sum(metrics["data"]["train_counts"]) == 2700 and sum(metrics["data"]["validation_counts"]) == 300
    assert metrics["test"]["num_examples"] == 600
    assert metrics["validation"]["num_examples"] == 300  # 10% stratified hold-out of 3000
    assert metrics["test"]["labels"] == [-1, 1]
    # the data is learnable only with word order ("not good"); a working LSTM gets it nearly right
    assert metrics["test"]["accuracy"] > 0.85, metrics["test"]["accuracy"]
    assert metrics["validation"]["accuracy"] > 0.85
    # the test metrics are stored inside the model file as well
    assert SentimentClassifier.load(trained["model"]).metrics_["test"]["accuracy"] == metrics["test"]["accuracy"]


def test_train_resume_without_checkpoint_trains_from_scratch(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.sentilstm"
    result = ok(invoke_cli("train", data["test"], *COLUMNS, "--out", out, "--resume", *SMALL, "--epochs", "2"))
    assert "no checkpoint" in result.stderr and "training from the start" in result.stderr
    assert out.is_file() and not Path(f"{out}.ckpt").exists()


def test_train_three_classes_from_parquet_with_float_labels(tmp_path: Path) -> None:
    """-1.0/0.0/1.0 floats in Parquet come back as the ints -1/0/1, through train, evaluate and predict."""
    rows = make_rows(2400, seed=5, classes=(-1, 0, 1))
    frame = pd.DataFrame(rows).astype({"label": "float64"})
    frame.to_parquet(tmp_path / "train3.parquet", index=False)
    test_rows = make_rows(300, seed=6, classes=(-1, 0, 1))
    write_csv(tmp_path / "test3.csv", test_rows)
    out = tmp_path / "m3.sentilstm"
    ok(invoke_cli("train", tmp_path / "train3.parquet", "--out", out, *SMALL))  # columns inferred: text, label

    loaded = SentimentClassifier.load(out)
    assert loaded.label_map_.labels == [-1, 0, 1]
    assert all(type(label) is int for label in loaded.label_map_.labels)

    report_path = tmp_path / "report.json"
    result = ok(invoke_cli("evaluate", out, tmp_path / "test3.csv", "--json", report_path))
    report = json.loads(report_path.read_text())
    assert report["labels"] == [-1, 0, 1] and len(report["confusion_matrix"]) == 3
    assert report["accuracy"] > 0.6, report["accuracy"]  # chance is 1/3
    assert "confusion matrix" in result.stdout

    result = ok(invoke_cli("predict", out, "--json", "the movie was okay today", "the film was not bad", "awful plot"))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert line["label"] in (-1, 0, 1) and type(line["label"]) is int
        assert set(line["probabilities"]) == {"-1", "0", "1"}
        assert math.isclose(sum(line["probabilities"].values()), 1.0, abs_tol=1e-5)

    scored = tmp_path / "scored3.csv"
    ok(invoke_cli("predict", out, "--input", tmp_path / "test3.csv", "--output", scored))
    frame = pd.read_csv(scored)
    assert list(frame.columns) == ["id", "text", "label", "predicted_label", "prob_-1", "prob_0", "prob_1"]
    assert set(frame["predicted_label"]) <= {-1, 0, 1}
    assert (frame["predicted_label"] == frame["label"]).mean() > 0.6


def test_train_string_labels_round_trip(tmp_path: Path) -> None:
    names = {-1: "neg", 1: "pos"}
    for name, n, seed in (("train.csv", 2000, 7), ("test.csv", 200, 8)):
        rows = [{"review": r["text"], "sentiment": r["label"]} for r in make_rows(n, seed=seed, names=names)]
        write_csv(tmp_path / name, rows)
    out = tmp_path / "s.sentilstm"
    ok(invoke_cli("train", tmp_path / "train.csv", "--out", out, *SMALL))  # columns inferred by name
    assert SentimentClassifier.load(out).label_map_.labels == ["neg", "pos"]

    result = ok(invoke_cli("predict", out, "--json", "a wonderful film", "it was not good"))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["label"] for line in lines] == ["pos", "neg"]
    assert all(set(line["probabilities"]) == {"neg", "pos"} for line in lines)

    scored = tmp_path / "scored.jsonl"
    ok(invoke_cli("predict", out, "--input", tmp_path / "test.csv", "--output", scored))
    frame = pd.read_json(scored, lines=True)
    assert list(frame.columns) == ["review", "sentiment", "predicted_label", "prob_neg", "prob_pos"]
    assert (frame["predicted_label"] == frame["sentiment"]).mean() > 0.8

    report = tmp_path / "report.json"
    ok(invoke_cli("evaluate", out, tmp_path / "test.csv", "--json", report))
    assert json.loads(report.read_text())["labels"] == ["neg", "pos"]


# ----- evaluate --------------------------------------------------------------------------------------
def test_evaluate_prints_report(model: Path, data: dict[str, Path]) -> None:
    result = ok(invoke_cli("evaluate", model, data["test"]))
    for text in ("accuracy", "macro F1", "ROC-AUC", "per class", "confusion matrix", "true \\ pred"):
        assert text in result.stdout
    assert "600" in result.stdout  # examples


def test_evaluate_json_matches_python_api(
    model: Path, data: dict[str, Path], clf: SentimentClassifier, tmp_path: Path
) -> None:
    path = tmp_path / "report.json"
    ok(invoke_cli("evaluate", model, data["test"], "--text-column", "text", "--label-column", "label", "--json", path))
    report = json.loads(path.read_text())
    frame = pd.read_csv(data["test"])
    expected = clf.evaluate(frame["text"].tolist(), frame["label"].tolist())
    assert report["accuracy"] == pytest.approx(expected.accuracy)
    assert report["macro_f1"] == pytest.approx(expected.macro_f1)
    assert report["confusion_matrix"] == expected.confusion_matrix
    assert report["labels"] == [-1, 1]
    assert report["num_examples"] == 600
    assert set(report) >= {"accuracy", "macro_f1", "weighted_f1", "roc_auc", "loss", "per_class", "confusion_matrix"}


def test_evaluate_unknown_label_is_a_user_error(model: Path, tmp_path: Path) -> None:
    write_csv(tmp_path / "odd.csv", [{"text": "good film", "label": 7}, {"text": "bad film", "label": 1}])
    line = error_line(invoke_cli("evaluate", model, tmp_path / "odd.csv"))
    assert "[7]" in line and "not seen in training" in line


# ----- predict: texts on the command line --------------------------------------------------------------
def test_predict_texts_prints_table(model: Path) -> None:
    result = ok(invoke_cli("predict", model, "the movie was not good at all", "a really great film"))
    assert "p(-1)" in result.stdout and "p(1)" in result.stdout
    rows = [line for line in result.stdout.splitlines() if "not good" in line or "great film" in line]
    assert len(rows) == 2
    assert "-1" in rows[0].split("│")[2] and rows[1].split("│")[2].strip() == "1"


def test_predict_json_lines(model: Path, clf: SentimentClassifier) -> None:
    texts = [
        "the movie was not good",
        "the movie was good",
        "the film was not bad today",
        "the actors were not great",
        "i think the plot was not awful",
        "awful awful plot",
    ]
    result = ok(invoke_cli("predict", model, "--json", *texts))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == texts
    for line in lines:
        assert type(line["label"]) is int and line["label"] in (-1, 1)  # -1, not "-1" or -1.0
        assert set(line["probabilities"]) == {"-1", "1"}
        assert math.isclose(sum(line["probabilities"].values()), 1.0, abs_tol=1e-5)
    assert [line["label"] for line in lines] == list(clf.predict(texts))
    assert [line["label"] for line in lines] == [-1, 1, 1, -1, 1, -1]  # negation is understood
    assert '"label": -1' in result.stdout  # the raw JSON holds the int


def test_predict_needs_texts_or_input(model: Path) -> None:
    line = error_line(invoke_cli("predict", model))
    assert "give texts to classify" in line


# ----- predict: streaming files ------------------------------------------------------------------------
def check_scored(frame: pd.DataFrame, clf: SentimentClassifier, texts: list[str]) -> None:
    assert len(frame) == len(texts)
    assert frame["id"].astype(int).tolist() == list(range(len(texts)))  # all rows, in input order
    assert frame["text"].tolist() == texts
    assert list(frame.columns) == ["id", "text", "predicted_label", "prob_-1", "prob_1"]
    probabilities = clf.predict_proba(texts)
    np.testing.assert_allclose(frame[["prob_-1", "prob_1"]].to_numpy(float), probabilities, atol=2e-6)
    np.testing.assert_allclose(frame[["prob_-1", "prob_1"]].sum(axis=1), 1.0, atol=2e-6)
    assert frame["predicted_label"].astype(int).tolist() == list(clf.predict(texts))


@pytest.fixture(scope="module")
def big_texts(data: dict[str, Path]) -> list[str]:
    return pd.read_csv(data["big"])["text"].tolist()


@pytest.mark.parametrize(
    "name, reader",
    [
        ("scored.csv", pd.read_csv),
        ("scored.jsonl", lambda p: pd.read_json(p, lines=True)),
        ("scored.parquet", pd.read_parquet),
        ("scored.tsv.gz", lambda p: pd.read_csv(p, sep="\t")),
    ],
)
def test_predict_input_output_formats(
    name: str,
    reader: Any,
    model: Path,
    data: dict[str, Path],
    clf: SentimentClassifier,
    big_texts: list[str],
    tmp_path: Path,
) -> None:
    output = tmp_path / name
    result = ok(invoke_cli("predict", model, "--input", data["big"], "--output", output, "--chunk-rows", "500"))
    assert "scored 3000 rows" in result.stderr
    assert files_in(tmp_path) == {name}  # no temporary file left behind
    check_scored(reader(output), clf, big_texts)
    if name.endswith(".gz"):
        assert output.read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize("source", ["big_tsv", "big_jsonl"])
def test_predict_input_formats(
    source: str, model: Path, data: dict[str, Path], clf: SentimentClassifier, big_texts: list[str], tmp_path: Path
) -> None:
    output = tmp_path / "scored.csv"
    ok(invoke_cli("predict", model, "--input", data[source], "--output", output, "--chunk-rows", "700"))
    check_scored(pd.read_csv(output), clf, big_texts)


def test_predict_input_with_explicit_text_column(model: Path, clf: SentimentClassifier, tmp_path: Path) -> None:
    rows = [{"a": f"note {i}", "b": text} for i, text in enumerate(["not good film", "great film", "awful"])]
    write_csv(tmp_path / "in.csv", rows)
    ok(
        invoke_cli(
            "predict", model, "--input", tmp_path / "in.csv", "--output", tmp_path / "out.csv", "--text-column", "b"
        )
    )
    frame = pd.read_csv(tmp_path / "out.csv")
    assert frame["predicted_label"].tolist() == list(clf.predict(frame["b"].tolist()))


def test_predict_non_utf8_input_succeeds_with_warning(model: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,text\n0,un film tr\xe8s bad\n1,caf\xe9 good\n".encode("latin-1"))
    output = tmp_path / "out.csv"
    result = ok(invoke_cli("predict", model, "--input", path, "--output", output))
    assert "not valid utf-8" in result.stderr and "U+FFFD" in result.stderr
    frame = pd.read_csv(output)
    assert len(frame) == 2 and "\ufffd" in frame["text"][0]


def test_predict_non_utf8_input_with_its_encoding(model: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,text\n0,un film tr\xe8s bad\n".encode("latin-1"))
    result = ok(invoke_cli("predict", model, "--input", path, "--output", tmp_path / "o.csv", "--encoding", "latin-1"))
    assert "U+FFFD" not in result.stderr
    assert pd.read_csv(tmp_path / "o.csv")["text"][0] == "un film très bad"


def test_predict_one_megabyte_text(model: Path, tmp_path: Path) -> None:
    huge = " ".join(["the film was not good"] * 50_000)  # ~1.1 MB in one CSV field (past csv's 128 KB default)
    assert len(huge) > 1_000_000
    write_csv(tmp_path / "huge.csv", [{"id": 0, "text": "great"}, {"id": 1, "text": huge}, {"id": 2, "text": "bad"}])
    output = tmp_path / "out.jsonl"
    ok(invoke_cli("predict", model, "--input", tmp_path / "huge.csv", "--output", output))
    frame = pd.read_json(output, lines=True)
    assert frame["id"].tolist() == [0, 1, 2] and len(frame["text"][1]) == len(huge)


def test_predict_one_megabyte_text_tsv(model: Path, tmp_path: Path) -> None:
    huge = " ".join(["a great film"] * 90_000)
    write_csv(tmp_path / "huge.tsv", [{"id": 0, "text": huge}, {"id": 1, "text": "bad"}], sep="\t")
    ok(invoke_cli("predict", model, "--input", tmp_path / "huge.tsv", "--output", tmp_path / "out.csv"))
    assert pd.read_csv(tmp_path / "out.csv")["id"].tolist() == [0, 1]


def test_predict_empty_texts_succeed_with_warning(model: Path, tmp_path: Path) -> None:
    rows = [{"id": i, "text": "" if i % 3 == 0 else "a good film"} for i in range(10)]
    write_csv(tmp_path / "in.csv", rows)
    output = tmp_path / "out.csv"
    result = ok(invoke_cli("predict", model, "--input", tmp_path / "in.csv", "--output", output, "--chunk-rows", "4"))
    assert "4 row(s) had an empty text" in result.stderr
    frame = pd.read_csv(output)
    assert frame["id"].tolist() == list(range(10))
    assert frame["predicted_label"].notna().all()
    np.testing.assert_allclose(frame[["prob_-1", "prob_1"]].sum(axis=1), 1.0, atol=2e-6)


def test_predict_one_column_csv_keeps_whitespace_only_rows(model: Path, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("text\ngood film\n   \nbad film\n")
    output = tmp_path / "out.csv"
    result = ok(invoke_cli("predict", model, "--input", tmp_path / "in.csv", "--output", output))
    assert len(pd.read_csv(output)) == 3  # one output row per input row, so outputs can be joined by position
    assert "1 row(s) had an empty text" in result.stderr


# ----- user errors: train ------------------------------------------------------------------------------
@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder whose contents are compared before/after a failing command: nothing may be added."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def train_error(workdir: Path, data_path: Any, *extra: Any) -> str:
    out = workdir / "m.sentilstm"
    before = files_in(workdir)
    line = error_line(invoke_cli("train", data_path, "--out", out, *SMALL, *extra))
    assert files_in(workdir) == before, "a failed train left files behind"
    return line


def test_train_missing_data_file(workdir: Path) -> None:
    line = train_error(workdir, workdir / "nope.csv")
    assert "nope.csv" in line and "does not exist" in line


def test_train_empty_file(workdir: Path) -> None:
    (workdir / "empty.csv").write_bytes(b"")
    line = train_error(workdir, workdir / "empty.csv")
    assert "empty.csv" in line and "is empty" in line


def test_train_data_is_a_folder(workdir: Path) -> None:
    (workdir / "folder.csv").mkdir()
    assert "is a folder" in train_error(workdir, workdir / "folder.csv")


def test_train_unreadable_gzip(workdir: Path) -> None:
    (workdir / "data.csv.gz").write_bytes(b"this is not gzip at all\n" * 10)
    line = train_error(workdir, workdir / "data.csv.gz")
    assert "could not read" in line and "data.csv.gz" in line


def test_train_header_only(workdir: Path) -> None:
    (workdir / "header.csv").write_text("text,label\n")
    line = train_error(workdir, workdir / "header.csv")
    assert "header but no rows" in line


def test_train_unknown_extension(workdir: Path) -> None:
    (workdir / "data.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    line = train_error(workdir, workdir / "data.xlsx")
    assert "cannot tell the format" in line and ".xlsx" in line


def test_train_text_column_not_inferable(workdir: Path) -> None:
    rows = [{"title": "t", "summary": f"s {i}", "label": i % 2} for i in range(10)]
    write_csv(workdir / "cols.csv", rows)
    line = train_error(workdir, workdir / "cols.csv")
    assert "cannot tell which column holds the text" in line and "--text-column" in line
    assert "title" in line and "summary" in line


def test_train_explicit_text_column_missing(workdir: Path) -> None:
    write_csv(workdir / "d.csv", make_rows(20, seed=0))
    line = train_error(workdir, workdir / "d.csv", "--text-column", "review")
    assert "'review' not found" in line and "['id', 'text', 'label']" in line


def test_train_single_class(workdir: Path) -> None:
    rows = [{"text": f"good film {i}", "label": 1} for i in range(20)]
    write_csv(workdir / "one.csv", rows)
    line = train_error(workdir, workdir / "one.csv")
    assert "only one label value" in line and "[1]" in line


def test_train_all_labels_missing(workdir: Path) -> None:
    rows = [{"text": f"good film {i}", "label": ""} for i in range(20)]
    write_csv(workdir / "nan.csv", rows)
    line = train_error(workdir, workdir / "nan.csv", *COLUMNS)
    assert "no usable rows" in line


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--cell", "rnn", "cell must be one of ['lstm', 'gru'], got 'rnn'"),
        ("--pooling", "foo", "pooling must be one of"),
        ("--epochs", "0", "epochs must be >= 1, got 0"),
        ("--tokenizer", "chars", "tokenizer must be one of"),
        ("--dropout", "1.5", "dropout must be between"),
        ("--schedule", "cosine", "schedule must be one of"),
        ("--device", "tpu", "device must be"),
        ("--stemmer", "klingon", "stemmer must be"),
        (
            "--sampling",
            "smoted",
            "sampling must be one of ['none', 'oversample', 'undersample', 'balanced_batches', 'smote']",
        ),
        ("--weight-drop", "1", "weight_drop must be between 0.0 and 0.95, got 1.0"),
        ("--embedding-dropout", "-0.1", "embedding_dropout must be between"),
        ("--output-dropout", "0.99", "output_dropout must be between"),
        ("--head-l2", "-1", "head_l2 must be between 0.0 and 10.0, got -1.0"),
        ("--augment", "eda,flip", "augment operations must be among"),
        ("--augment-synonyms", "ppdb", "augment_synonyms must be one of ['neighbours', 'wordnet'], got 'ppdb'"),
    ],
)
def test_train_invalid_option_value(
    option: str, value: str, message: str, workdir: Path, data: dict[str, Path]
) -> None:
    line = train_error(workdir, data["test"], option, value)
    assert message in line


def test_train_negative_threads_is_a_user_error(workdir: Path, data: dict[str, Path]) -> None:
    """Regression: --threads -1 used to reach torch.set_num_threads unchecked (RuntimeError traceback)."""
    line = train_error(workdir, data["test"], "--threads", "-1")
    assert "num_threads must be between 1 and 4096, got -1" in line


def test_train_non_integer_option_is_a_usage_error(workdir: Path, data: dict[str, Path]) -> None:
    result = invoke_cli("train", data["test"], "--out", workdir / "m.sentilstm", "--epochs", "many")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--epochs" in result.stderr and "valid integer" in result.stderr
    assert files_in(workdir) == set()


def test_train_data_and_dataset(workdir: Path, data: dict[str, Path]) -> None:
    line = train_error(workdir, data["test"], "--dataset", "tweets")
    assert "not both" in line


def test_train_neither_data_nor_dataset(workdir: Path) -> None:
    before = files_in(workdir)
    line = error_line(invoke_cli("train", "--out", workdir / "m.sentilstm", *SMALL))
    assert "--dataset" in line and "DATA" in line
    assert files_in(workdir) == before


def test_train_unknown_dataset(workdir: Path) -> None:
    line = error_line(invoke_cli("train", "--dataset", "imdb-nope", "--out", workdir / "m.sentilstm"))
    assert "unknown dataset 'imdb-nope'" in line and "tweets" in line


def test_train_missing_test_file(workdir: Path, data: dict[str, Path]) -> None:
    line = train_error(workdir, data["test"], "--test", workdir / "missing-test.csv")
    assert "missing-test.csv" in line and "does not exist" in line


def test_train_metrics_json_into_missing_folder(workdir: Path, data: dict[str, Path]) -> None:
    """Regression: a missing --metrics-json folder used to be found only after training and saving the model."""
    line = train_error(workdir, data["test"], "--metrics-json", workdir / "no" / "metrics.json")
    assert "--metrics-json" in line and "does not exist" in line and str(workdir / "no") in line


def test_train_out_into_missing_folder(workdir: Path, data: dict[str, Path]) -> None:
    before = files_in(workdir)
    line = error_line(invoke_cli("train", data["test"], "--out", workdir / "no" / "m.sentilstm", *SMALL))
    assert "does not exist" in line and str(workdir / "no") in line
    assert files_in(workdir) == before


def test_error_message_keeps_brackets_in_paths(workdir: Path) -> None:
    """Regression: error messages were rich markup, so '[b]' in a path was swallowed."""
    line = train_error(workdir, workdir / "reviews[b].csv")
    assert "reviews[b].csv" in line


def test_error_message_with_closing_tag_in_path(model: Path, workdir: Path) -> None:
    """Regression: a closing-tag-like '[/x]' in a path raised rich MarkupError (traceback, exit 1)."""
    line = error_line(invoke_cli("evaluate", workdir / "[/x]" / "m.sentilstm", workdir / "t.csv"))
    assert "[/x]" in line


# Paths are printed through rich, whose markup reads "[b]" as bold and "[/x]" as a closing tag. A name with
# "[/x]" in it needs a folder "[" holding "x].csv".
def bracket_path(folder: Path, name: str, source: Path) -> Path:
    (folder / "[").mkdir(exist_ok=True)
    path = folder / "[" / name
    path.write_bytes(source.read_bytes())
    return path


def test_train_prints_bracketed_data_path_verbatim(workdir: Path, data: dict[str, Path]) -> None:
    source = bracket_path(workdir, "x].csv", data["test"])
    out = workdir / "m[b].sentilstm"
    result = ok(invoke_cli("train", source, "--out", out, *SMALL, "--epochs", "1"))
    assert f"from {source}" in result.stderr and f"saved {out}" in result.stdout


def test_train_with_bracketed_test_path(workdir: Path, data: dict[str, Path]) -> None:
    source = bracket_path(workdir, "x].csv", data["test"])
    out = workdir / "m.sentilstm"
    ok(invoke_cli("train", data["test"], "--test", source, "--out", out, *SMALL, "--epochs", "1"))
    assert out.is_file() and not Path(f"{out}.ckpt").exists()


def test_evaluate_bracketed_data_path(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    source = bracket_path(workdir, "x].csv", data["test"])
    result = ok(invoke_cli("evaluate", model, source))
    assert "x].csv" in result.stdout


def test_predict_bracketed_output_path(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    source = bracket_path(workdir, "x].csv", data["test"])
    output = workdir / "[" / "y].csv"
    result = ok(invoke_cli("predict", model, "--input", source, "--output", output))
    assert f"-> {output}" in result.stderr
    assert len(pd.read_csv(output)) == 600


# ----- user errors: model files --------------------------------------------------------------------------
def test_model_path_does_not_exist(workdir: Path, data: dict[str, Path]) -> None:
    line = error_line(invoke_cli("evaluate", workdir / "missing.sentilstm", data["test"]))
    assert "missing.sentilstm" in line and "does not exist" in line
    line = error_line(invoke_cli("predict", workdir / "missing.sentilstm", "good"))
    assert "does not exist" in line


def test_model_file_is_garbage(workdir: Path, data: dict[str, Path]) -> None:
    garbage = workdir / "garbage.sentilstm"
    garbage.write_bytes(os.urandom(4096))
    line = error_line(invoke_cli("evaluate", garbage, data["test"]))
    assert "garbage.sentilstm" in line and "not a readable sentilstm model" in line
    assert "not a readable sentilstm model" in error_line(invoke_cli("predict", garbage, "good film"))


def test_model_file_truncated(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    truncated = workdir / "cut.sentilstm"
    truncated.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    line = error_line(invoke_cli("predict", truncated, "good film"))
    assert "cut.sentilstm" in line and "truncated" in line
    assert "cut.sentilstm" in error_line(invoke_cli("evaluate", truncated, data["test"]))


def test_model_file_with_flipped_weight_byte(model: Path, workdir: Path) -> None:
    damaged = workdir / "flip.sentilstm"
    raw = bytearray(model.read_bytes())
    raw[-100] ^= 0xFF  # inside the tensor bytes, after the JSON header
    damaged.write_bytes(bytes(raw))
    line = error_line(invoke_cli("predict", damaged, "good film"))
    assert "checksum" in line


def test_model_path_is_a_checkpoint_or_data(workdir: Path, data: dict[str, Path]) -> None:
    line = error_line(invoke_cli("predict", data["test"], "good film"))  # a CSV given as the model
    assert "test.csv" in line and "not a readable sentilstm model" in line


# ----- user errors: predict ------------------------------------------------------------------------------
def predict_error(workdir: Path, *args: Any) -> str:
    before = files_in(workdir)
    line = error_line(invoke_cli("predict", *args))
    assert files_in(workdir) == before, "a failed predict left files behind"
    return line


def test_predict_input_without_output(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    assert "--input needs --output" in predict_error(workdir, model, "--input", data["big"])


def test_predict_texts_and_input(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    line = predict_error(workdir, model, "good", "--input", data["big"], "--output", workdir / "o.csv")
    assert "not both" in line


def test_predict_output_is_input(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    copy = workdir / "in.csv"
    copy.write_bytes(data["test"].read_bytes())
    line = predict_error(workdir, model, "--input", copy, "--output", copy)
    assert "is the input file given as --input; writing it would destroy that input" in line
    assert copy.read_bytes() == data["test"].read_bytes()  # the input is untouched


def test_predict_output_into_missing_folder(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    line = predict_error(workdir, model, "--input", data["test"], "--output", workdir / "nowhere" / "o.csv")
    assert "does not exist" in line and "nowhere" in line


def test_predict_output_unknown_extension(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    line = predict_error(workdir, model, "--input", data["test"], "--output", workdir / "o.xlsx")
    assert "cannot tell the format" in line


def test_predict_missing_input(model: Path, workdir: Path) -> None:
    line = predict_error(workdir, model, "--input", workdir / "none.csv", "--output", workdir / "o.csv")
    assert "none.csv" in line and "does not exist" in line


def test_predict_header_only_input(model: Path, workdir: Path) -> None:
    (workdir / "h.csv").write_text("id,text\n")
    line = predict_error(workdir, model, "--input", workdir / "h.csv", "--output", workdir / "o.csv")
    assert "no rows to score" in line


def test_predict_input_text_column_missing(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    line = predict_error(
        workdir,
        model,
        "--input",
        data["big"],
        "--output",
        workdir / "o.parquet",
        "--text-column",
        "body",
        "--chunk-rows",
        "500",
    )
    assert "'body' not found" in line and "['id', 'text']" in line


def test_predict_bad_jsonl_line_leaves_no_output(model: Path, workdir: Path) -> None:
    """The error is met in the second chunk, after the first was written: the partial output must go."""
    lines = [json.dumps({"text": "good film"})] * 5 + ["{not json"]
    (workdir / "in.jsonl").write_text("\n".join(lines) + "\n")
    line = predict_error(
        workdir, model, "--input", workdir / "in.jsonl", "--output", workdir / "o.csv", "--chunk-rows", "2"
    )
    assert "line 6" in line and "not valid JSON" in line


def test_predict_chunk_rows_zero_is_a_user_error(model: Path, workdir: Path, data: dict[str, Path]) -> None:
    """Regression: --chunk-rows 0 reached pandas.read_csv(chunksize=0) (ValueError traceback)."""
    line = predict_error(workdir, model, "--input", data["test"], "--output", workdir / "o.csv", "--chunk-rows", "0")
    assert "chunk_rows must be a whole number >= 1, got 0" in line


def test_predict_table_shows_texts_verbatim(model: Path) -> None:
    """Regression: texts were rendered as rich markup in the table ('[/x]' crashed, '[bold]' was swallowed)."""
    result = ok(invoke_cli("predict", model, "a [bold]great[/bold] film", "not good [/x] at all"))
    assert "[bold]great[/bold]" in result.stdout and "[/x]" in result.stdout


@pytest.mark.parametrize("output, reader", [("o.csv", pd.read_csv), ("o.parquet", pd.read_parquet)])
def test_predict_jsonl_key_order_varies_between_chunks(output: str, reader: Any, model: Path, tmp_path: Path) -> None:
    """Regression: each JSONL chunk kept its own key order; CSV chunks were written under the first chunk's
    header (columns silently shifted) and Parquet chunks failed the schema check (traceback)."""
    rows = [{"id": i, "text": "a good film"} if i < 3 else {"text": "an awful film", "id": i} for i in range(6)]
    write_jsonl(tmp_path / "in.jsonl", rows)
    ok(
        invoke_cli(
            "predict", model, "--input", tmp_path / "in.jsonl", "--output", tmp_path / output, "--chunk-rows", "3"
        )
    )
    frame = reader(tmp_path / output)
    assert frame["id"].tolist() == list(range(6))
    assert frame["text"].tolist() == ["a good film"] * 3 + ["an awful film"] * 3


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # the aborted ParquetWriter is closed
def test_predict_jsonl_type_change_to_parquet_is_a_user_error(model: Path, workdir: Path) -> None:
    """Regression: a column changing type between chunks made ParquetWriter raise ValueError (traceback, exit 1)."""
    write_jsonl(workdir / "in.jsonl", [{"id": 1, "text": "good"}, {"id": 2, "text": "bad"}, {"id": "x3", "text": "ok"}])
    line = predict_error(
        workdir, model, "--input", workdir / "in.jsonl", "--output", workdir / "o.parquet", "--chunk-rows", "2"
    )
    assert "changes type between chunks" in line


# ----- resume after a real SIGKILL -------------------------------------------------------------------------
KILL_OPTIONS = [
    "--embedding-dim",
    "32",
    "--hidden-size",
    "32",
    "--epochs",
    "6",
    "--min-frequency",
    "1",
    "--threads",
    "1",
    "--patience",
    "10",
    "--seed",
    "3",
]


def test_resume_after_sigkill(tmp_path: Path) -> None:
    # 10% flipped labels keep validation accuracy away from 1.0, so the comparison below means something.
    # 12,000 texts make an epoch take ~1 s on one thread (a few seconds on a busy machine); the kill is
    # sent within ~20 ms of the first checkpoint appearing, so it lands mid-run either way (checked below).
    write_csv(tmp_path / "train.csv", make_rows(12_000, seed=11, noise=0.1))
    killed = tmp_path / "m2.sentilstm"
    checkpoint = Path(f"{killed}.ckpt")
    command = [
        sys.executable,
        "-m",
        "sentilstm",
        "train",
        str(tmp_path / "train.csv"),
        *COLUMNS,
        "--out",
        str(killed),
        *KILL_OPTIONS,
    ]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    with open(tmp_path / "stdout.txt", "wb") as stdout, open(tmp_path / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 300  # generous: other jobs may share the CPU
            while not checkpoint.exists():
                assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
                assert time.monotonic() < deadline, "no checkpoint after 300 s"
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not killed.exists(), "a killed run must not leave a model file"
    done = len(read_checkpoint(checkpoint)[1]["training"]["history"]["epochs"])
    assert 1 <= done < 6, f"the kill landed after {done} epochs"

    # resuming with other options is refused and keeps the checkpoint
    changed = [*KILL_OPTIONS[:-1], "4"]
    line = error_line(invoke_cli("train", tmp_path / "train.csv", *COLUMNS, "--out", killed, "--resume", *changed))
    assert "other options" in line and checkpoint.exists()

    resumed_metrics = tmp_path / "resumed.json"
    result = ok(
        invoke_cli(
            "train",
            tmp_path / "train.csv",
            *COLUMNS,
            "--out",
            killed,
            "--resume",
            *KILL_OPTIONS,
            "--metrics-json",
            resumed_metrics,
        )
    )
    assert f"resumed after epoch {done} of 6" in result.stderr
    assert killed.is_file() and not checkpoint.exists()
    resumed = SentimentClassifier.load(killed)
    assert [e.epoch for e in resumed.history_.epochs] == [1, 2, 3, 4, 5, 6]

    straight = tmp_path / "m3.sentilstm"
    ok(invoke_cli("train", tmp_path / "train.csv", *COLUMNS, "--out", straight, *KILL_OPTIONS))
    reference = SentimentClassifier.load(straight)
    resumed_accuracy = json.loads(resumed_metrics.read_text())["validation"]["accuracy"]
    assert resumed_accuracy == resumed.metrics_["validation"]["accuracy"]
    assert resumed_accuracy > 0.8
    assert abs(resumed_accuracy - reference.metrics_["validation"]["accuracy"]) <= 0.05


# ----- help ----------------------------------------------------------------------------------------------
def test_top_level_help() -> None:
    result = ok(invoke_cli("--help"))
    for command in ("train", "evaluate", "predict"):
        assert command in result.stdout
    assert "Train, evaluate and use LSTM sentiment classifiers." in result.stdout


def test_train_help_lists_options_with_help_text() -> None:
    result = ok(invoke_cli("train", "--help"))
    for option, text in [
        ("--text-column", "Column holding the text"),
        ("--label-column", "Column holding the label"),
        ("--out", "Where to write the model file."),
        ("--resume", "Continue an interrupted run"),
        ("--cell", "lstm or gru"),
        ("--embedding-dim", "Embedding size."),
        ("--epochs", "Maximum epochs"),
        ("--test", "Test table"),
        ("--metrics-json", "validation/test metrics as JSON"),
        ("--threads", "Torch CPU threads"),
    ]:
        assert option in result.stdout and text in result.stdout, option


def test_version_prints_the_library_version() -> None:
    from sentilstm._version import __version__

    result = ok(invoke_cli("--version"))
    assert result.stdout == f"sentilstm {__version__}\n"
    assert "--version" in ok(invoke_cli("--help")).stdout


@pytest.mark.parametrize("command, option", [("evaluate", "--json"), ("predict", "--chunk-rows")])
def test_subcommand_help(command: str, option: str) -> None:
    result = ok(invoke_cli(command, "--help"))
    assert option in result.stdout and "model" in result.stdout and "Options" in result.stdout


def test_python_dash_m_entry_point(model: Path, tmp_path: Path) -> None:
    """`python -m sentilstm` prints the error line and exits 2 in a real process, too (no traceback)."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "sentilstm", "predict", str(tmp_path / "none.sentilstm"), "good"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [
        f"error: model file {str(tmp_path / 'none.sentilstm')!r} does not exist; check the path or train one with "
        "`sentilstm train ... --out FILE`"
    ]
    done = subprocess.run(
        [sys.executable, "-m", "sentilstm", "predict", str(model), "--json", "a great film"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["label"] == 1
