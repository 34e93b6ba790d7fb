"""`sentilstm.estimators.scoring`: streaming a file through a classifier, chunk by chunk, into an atomically written
output."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentilstm.errors import DataError
from sentilstm.estimators.classifier import SentimentClassifier
from sentilstm.estimators.scoring import ScoreSummary, probability_column, score_file, score_frame

WORDS = "the movie was plot actors story film really quite".split()


def texts_and_labels(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.choice(["neg", "pos"])
        negate = rng.random() < 0.3
        word = rng.choice(["good", "great"] if (label == "pos") != negate else ["bad", "awful"])
        core = f"not {word}" if negate else word
        texts.append(" ".join(rng.sample(WORDS, 3) + [core] + rng.sample(WORDS, 2)))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def clf() -> SentimentClassifier:
    texts, labels = texts_and_labels(600, seed=0)
    return SentimentClassifier(embedding_dim=16, hidden_size=16, epochs=2, min_frequency=1, num_threads=2).fit(
        texts, labels
    )


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, _ = texts_and_labels(1000, seed=1)
    path = tmp_path_factory.mktemp("scoring") / "in.csv"
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_csv(path, index=False)
    return path


def test_probability_column_names() -> None:
    assert probability_column(-1) == "prob_-1"
    assert probability_column("pos") == "prob_pos"


def test_score_frame_adds_columns_and_leaves_input_alone(clf: SentimentClassifier) -> None:
    frame = pd.DataFrame({"k": [3, 4, 5], "text": ["a good film", None, "not good"]}, index=[10, 11, 12])
    original = frame.copy()
    scored, empty = score_frame(clf, frame, "text")
    pd.testing.assert_frame_equal(frame, original)
    assert empty == 1
    assert list(scored.columns) == ["k", "text", "predicted_label", "prob_neg", "prob_pos"]
    assert list(scored.index) == [10, 11, 12]
    np.testing.assert_allclose(scored[["prob_neg", "prob_pos"]].sum(axis=1), 1.0, atol=2e-6)
    expected = clf.predict_proba(["a good film", "", "not good"])
    np.testing.assert_allclose(scored[["prob_neg", "prob_pos"]].to_numpy(), expected, atol=1e-6)


def test_score_file_summary_chunks_and_values(clf: SentimentClassifier, table: Path, tmp_path: Path) -> None:
    seen: list[int] = []
    summary = score_file(clf, table, tmp_path / "out.csv", chunk_rows=300, on_chunk=seen.append)
    assert isinstance(summary, ScoreSummary)
    assert summary.rows == 1000 and summary.empty_texts == 0 and summary.output == str(tmp_path / "out.csv")
    assert summary.to_dict()["rows"] == 1000 and summary.seconds >= 0
    assert seen == [300, 300, 300, 100]
    out = pd.read_csv(tmp_path / "out.csv")
    texts = pd.read_csv(table)["text"].tolist()
    assert out["id"].tolist() == list(range(1000))
    assert out["predicted_label"].tolist() == list(clf.predict(texts))
    np.testing.assert_allclose(out[["prob_neg", "prob_pos"]].to_numpy(), clf.predict_proba(texts), atol=2e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_score_file_chunk_size_does_not_change_results(clf: SentimentClassifier, table: Path, tmp_path: Path) -> None:
    score_file(clf, table, tmp_path / "a.parquet", chunk_rows=7)
    score_file(clf, table, tmp_path / "b.parquet", chunk_rows=10_000)
    a, b = pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet")
    assert a["predicted_label"].tolist() == b["predicted_label"].tolist()
    np.testing.assert_allclose(a["prob_pos"], b["prob_pos"], atol=2e-6)


def test_score_file_refuses_to_overwrite_its_input(
    clf: SentimentClassifier, table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "in.csv"
    copy.write_bytes(table.read_bytes())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="is the input file"):
        score_file(clf, "in.csv", tmp_path / "sub" / ".." / "in.csv")
    assert copy.read_bytes() == table.read_bytes()


def test_failure_mid_stream_keeps_the_old_output_and_leaves_no_temporary(
    clf: SentimentClassifier, tmp_path: Path
) -> None:
    lines = [json.dumps({"text": "a good film"})] * 4 + ["{broken"]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    output = tmp_path / "out.jsonl"
    output.write_text("previous results\n")
    with pytest.raises(DataError, match="line 5"):
        score_file(clf, tmp_path / "in.jsonl", output, chunk_rows=2)
    assert output.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_interrupt_leaves_no_output(clf: SentimentClassifier, table: Path, tmp_path: Path) -> None:
    def interrupt(rows: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_file(clf, table, tmp_path / "out.tsv.gz", chunk_rows=100, on_chunk=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_empty_texts_are_counted_and_scored(
    clf: SentimentClassifier, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pd.DataFrame({"id": [1, 2, 3, 4], "text": ["good", "", "  ", "bad"]}).to_csv(tmp_path / "in.csv", index=False)
    summary = score_file(clf, tmp_path / "in.csv", tmp_path / "out.csv")
    assert summary.rows == 4 and summary.empty_texts == 2
    assert "2 row(s) had an empty text" in caplog.text
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["id"].tolist() == [1, 2, 3, 4] and out["predicted_label"].notna().all()


def test_header_only_input_is_an_error_without_output(clf: SentimentClassifier, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,text\n")
    with pytest.raises(DataError, match="no rows to score"):
        score_file(clf, tmp_path / "in.csv", tmp_path / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
