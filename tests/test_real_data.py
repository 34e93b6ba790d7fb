"""Slow end-to-end checks on real benchmark data from ../shared/data (skipped when it is absent)."""
from __future__ import annotations

from pathlib import Path

import pytest

from sentilstm import SentimentClassifier, read_table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IGBO = DATA / "afrisenti"

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not (IGBO / "ig_train.tsv").exists(), reason="../shared/data/afrisenti is not present")
def test_afrisenti_igbo_trains_saves_and_beats_the_majority_class(tmp_path: Path) -> None:
    train, dev, test = (read_table(IGBO / f"ig_{split}.tsv") for split in ("train", "dev", "test"))
    assert (train.text_column, train.label_column) == ("tweet", "label")
    clf = SentimentClassifier(epochs=6, num_threads=2).fit(train.texts, train.labels, validation=(dev.texts, dev.labels))
    report = clf.evaluate(test.texts, test.labels)
    majority = max(report.per_class.values(), key=lambda m: m.support).support / report.num_examples
    assert report.accuracy > majority + 0.15  # the neutral majority is ~44%; a working model is far above it
    assert report.weighted_f1 > 0.65
    path = clf.save(tmp_path / "igbo.sentilstm")
    loaded = SentimentClassifier.load(path)
    assert list(loaded.predict(test.texts[:50])) == list(clf.predict(test.texts[:50]))
    assert set(loaded.classes_) == {"negative", "neutral", "positive"}
