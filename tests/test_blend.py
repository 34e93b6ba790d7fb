"""The network + linear n-gram blend inside SentimentClassifier: chosen on validation, saved, reloaded."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import TINY
from sentilstm import ConfigError, SentimentClassifier, load_model
from sentilstm.cli import app
from sentilstm.estimators.baselines import NBSVM, TfidfLogisticRegression

WORDS = {"pos": ("good", "great", "lovely"), "neg": ("bad", "awful", "dull")}


def keyword_data(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Texts whose label is given away by one keyword: easy for n-grams, slow for a 1-epoch tiny LSTM."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.choice(("pos", "neg"))
        filler = [f"w{rng.randint(0, 60)}" for _ in range(rng.randint(4, 12))]
        filler.insert(rng.randint(0, len(filler)), rng.choice(WORDS[label]))
        texts.append(" ".join(filler))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def blended() -> SentimentClassifier:
    texts, labels = keyword_data(400, seed=1)
    clf = SentimentClassifier(
        embedding_dim=8,
        hidden_size=8,
        epochs=1,
        learning_rate=1e-4,
        min_frequency=1,
        num_threads=1,
        seed=0,
        blend="auto",
    )
    return clf.fit(texts, labels)


def test_a_weak_network_is_blended_with_the_better_linear_model(blended: SentimentClassifier) -> None:
    info = blended.metrics_["blend"]
    assert isinstance(blended.blend_model_, (NBSVM, TfidfLogisticRegression))
    assert info["model"] == blended.blend_model_.kind
    assert 0.0 <= blended.blend_weight_ < 1.0
    losses = info["validation_log_loss"]
    # the chosen weight is at least as good as either model alone on the validation split
    assert losses["blend"] <= losses["network"] + 1e-12
    assert losses["blend"] <= losses[info["model"]] + 1e-12
    assert set(losses) == {"network", "nbsvm", "tfidf_lr", "blend"}


def test_blended_probabilities_are_the_weighted_mean(blended: SentimentClassifier) -> None:
    texts, _ = keyword_data(30, seed=2)
    w = blended.blend_weight_
    expected = w * blended._network_proba(texts) + (1 - w) * blended.blend_model_.predict_proba(texts)
    np.testing.assert_allclose(blended.predict_proba(texts), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(blended.predict_proba(texts).sum(axis=1), 1.0, atol=1e-9)


def test_blend_lifts_a_weak_network(blended: SentimentClassifier) -> None:
    texts, labels = keyword_data(300, seed=3)
    network_accuracy = np.mean(
        blended.label_map_.decode(blended._network_proba(texts).argmax(axis=1)) == np.asarray(labels)
    )
    assert blended.evaluate(texts, labels).accuracy > max(network_accuracy, 0.9)


def test_blend_survives_save_and_load(blended: SentimentClassifier, tmp_path: Path) -> None:
    path = blended.save(tmp_path / "blend.sentilstm")
    loaded = SentimentClassifier.load(path)
    assert type(loaded.blend_model_) is type(blended.blend_model_)
    assert loaded.blend_weight_ == blended.blend_weight_
    texts, _ = keyword_data(40, seed=4)
    np.testing.assert_array_equal(loaded.predict_proba(texts), blended.predict_proba(texts))
    assert isinstance(load_model(path), SentimentClassifier)


def test_blend_none_is_the_network_alone() -> None:
    texts, labels = keyword_data(200, seed=5)
    clf = SentimentClassifier(embedding_dim=8, hidden_size=8, epochs=1, min_frequency=1, num_threads=1, blend=None)
    clf.fit(texts, labels)
    assert clf.blend_model_ is None and "blend" not in clf.metrics_
    np.testing.assert_array_equal(clf.predict_proba(texts[:20]), clf._network_proba(texts[:20]))


@pytest.mark.parametrize("kind", ["nbsvm", "tfidf_lr"])
def test_a_named_blend_uses_only_that_model(kind: str) -> None:
    texts, labels = keyword_data(300, seed=6)
    clf = SentimentClassifier(
        embedding_dim=8, hidden_size=8, epochs=1, learning_rate=1e-4, min_frequency=1, num_threads=1, blend=kind
    ).fit(texts, labels)
    assert clf.blend_model_.kind == kind
    assert set(clf.metrics_["blend"]["validation_log_loss"]) == {"network", kind, "blend"}


def test_unknown_blend_fails_before_training() -> None:
    with pytest.raises(ConfigError, match=r"blend must be one of \['auto', 'nbsvm', 'tfidf_lr'\], got 'svm'"):
        SentimentClassifier(blend="svm").fit(["a b", "c d", "e f", "g h"], [0, 1, 0, 1])


def test_blend_is_skipped_with_a_warning_when_no_ngram_repeats(caplog: pytest.LogCaptureFixture) -> None:
    texts = [f"word{i}" for i in range(40)]  # every token occurs once: no n-gram reaches min_df=2
    labels = [i % 2 for i in range(40)]
    with caplog.at_level(logging.WARNING, logger="sentilstm.estimators.classifier"):
        clf = SentimentClassifier(embedding_dim=8, hidden_size=8, epochs=1, min_frequency=1, num_threads=1).fit(
            texts, labels
        )
    assert clf.blend_model_ is None
    assert "no nbsvm blend" in caplog.text and "no tfidf_lr blend" in caplog.text


def test_cli_blend_option(tmp_path: Path) -> None:
    texts, labels = keyword_data(200, seed=7)
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)))
    runner = CliRunner()
    common = [
        "train",
        str(data),
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
        "--quiet",
    ]
    result = runner.invoke(app, [*common, "--blend", "none", "--out", str(tmp_path / "m.sentilstm")])
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "m.sentilstm").blend_model_ is None
    result = runner.invoke(app, [*common, "--blend", "svm", "--out", str(tmp_path / "x.sentilstm")])
    assert result.exit_code == 2
    assert "blend must be one of" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.sentilstm").exists()


@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, {"class_weight": "balanced", "sampling": "none"}),
        ({"class_weight": "balanced"}, {"class_weight": "balanced", "sampling": "none"}),
        ({"sampling": "smote"}, {"class_weight": None, "sampling": "smote"}),
        ({"sampling": "oversample"}, {"class_weight": None, "sampling": "oversample"}),
        ({"sampling": "undersample"}, {"class_weight": None, "sampling": "oversample"}),
        ({"sampling": "balanced_batches"}, {"class_weight": None, "sampling": "oversample"}),
    ],
)
def test_the_linear_partner_is_balanced_or_mirrors_the_sampling(options: dict, expected: dict) -> None:
    texts, labels = keyword_data(240, seed=7)
    skewed = [(t, y) for i, (t, y) in enumerate(zip(texts, labels)) if y == "pos" or i % 4 == 0]
    clf = SentimentClassifier(**{**TINY, "blend": "tfidf_lr", "epochs": 1, "learning_rate": 1e-4}, **options)
    clf.fit([t for t, _ in skewed], [y for _, y in skewed])
    assert clf.blend_model_ is not None
    assert {k: clf.blend_model_.get_params()[k] for k in expected} == expected
