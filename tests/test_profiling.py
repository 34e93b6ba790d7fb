"""DataProfile (what the data looked like to the model) and Predictions (labelled probabilities)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sentilstm.estimators.classifier import SentimentClassifier
from sentilstm.estimators.evaluation import Predictions
from sentilstm.report.profiling import DataProfile
from sentilstm.text.tokenizers import UNK_ID


def test_profile_counts_lengths_and_unknowns() -> None:
    train = [np.array([5, 6, 7]), np.array([5, UNK_ID]), np.array([8] * 10)]
    val = [np.array([UNK_ID, UNK_ID]), np.array([5, 6])]
    profile = DataProfile.build(
        train,
        np.array([0, 1, 1]),
        val,
        np.array([1, 0]),
        labels=["neg", "pos"],
        max_length=8,
        vocab_size=9,
        raw_lengths=np.array([3, 2, 12]),
    )
    assert profile.train_counts == [1, 2] and profile.validation_counts == [1, 1]
    assert profile.truncated_fraction == 1 / 3  # only the 12-token text exceeds max_length 8
    assert profile.train_unknown_rate == 1 / 15
    assert profile.validation_unknown_rate == 0.5 and profile.validation_texts_with_unknown == 0.5
    assert sum(profile.length_histogram["counts"]) == 3
    assert profile.length_percentiles["p50"] == 3
    assert DataProfile.from_dict(profile.to_dict()) == profile


def test_most_confident_errors_are_sorted_and_only_errors() -> None:
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]])
    predictions = Predictions(["a", "b", "c", "d"], np.array([1, 1, 1, 0]), probabilities, labels=[-1, 1])
    errors = predictions.most_confident_errors(5)
    assert [e[0] for e in errors] == ["d", "a", "c"]  # confidence 0.95, 0.9, 0.6; "b" is right
    assert errors[0][1:3] == (-1, 1)
    assert predictions.report().accuracy == 0.25


def test_fit_records_validation_predictions_and_profile(
    negation_data: tuple[list[str], list[int]], tiny_params: dict[str, Any]
) -> None:
    texts, labels = negation_data
    clf = SentimentClassifier(**{**tiny_params, "max_length": 6}).fit(texts, labels)
    predictions = clf.validation_predictions_
    assert len(predictions.texts) == clf.validation_report_.num_examples == len(predictions.targets)
    np.testing.assert_allclose(predictions.probabilities, clf.predict_proba(predictions.texts), atol=1e-6)
    data = clf.metrics_["data"]
    assert sum(data["train_counts"]) + sum(data["validation_counts"]) == len(texts)
    assert data["max_length"] == 6 and 0 < data["truncated_fraction"] < 1  # texts have 4-12 words
    assert data["labels"] == [-1, 1]
