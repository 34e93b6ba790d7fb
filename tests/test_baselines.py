"""sentilstm.estimators.baselines: NBSVM and TF-IDF + logistic regression, through the Python API and the CLI.

The data is the negation-dependent synthetic corpus of `helpers.make_negation_data`: one sentiment word among
filler words, flipped by a preceding "not". Unigrams alone cannot read it, word bigrams ("not good") can, so
both baselines (NBSVM on word 1-3-grams, TF-IDF on word 1-2-grams + char n-grams) should get it nearly right.
Every model here trains in well under a second; the fitted ones are shared per module and treated as read-only.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import struct
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score
from sklearn.model_selection import cross_val_score

from helpers import FILLER, NEGATIVE, POSITIVE, error_line, invoke_cli, make_negation_data
from sentilstm import (
    NBSVM,
    ArtifactError,
    ConfigError,
    DataError,
    EvaluationReport,
    NotFittedError,
    SentimentClassifier,
    TextConfig,
    TfidfLogisticRegression,
    load_model,
)
from sentilstm.estimators.baselines import BASELINES, LinearBaseline, make_baseline
from sentilstm.estimators.ngrams import Features, WordNgramIndex, count_vectorizer, l2_rows
from sentilstm.text.normalize import Normalizer

KINDS = ["nbsvm", "tfidf_lr"]
CLASSES = {"nbsvm": NBSVM, "tfidf_lr": TfidfLogisticRegression}
NEUTRAL = ("okay", "average", "mediocre", "ordinary")
# Probes whose label word order decides: the sentiment word follows a filler word, with or without "not".
# (NBSVM's C=0.1 keeps un-negated texts near 0.5, so these are ones it places at least 0.1 from it.)
PROBES = ["the story was so good", "the movie was not good", "the movie was terrible", "the movie was not awful"]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def make_three_class_data(n: int, seed: int, names: tuple[Any, Any, Any] = (-1, 0, 1)) -> tuple[list[str], list[Any]]:
    """Like make_negation_data plus a neutral class (a neutral word, never negated); labels names[0..2]."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        polarity = rng.choice((-1, 0, 1))
        if polarity == 0:
            phrase = rng.choice(NEUTRAL)
        else:
            negated = rng.random() < 0.5
            word_positive = (polarity == 1) != negated
            phrase = ("not " if negated else "") + rng.choice(POSITIVE if word_positive else NEGATIVE)
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 10))]
        words.insert(rng.randint(1, len(words)), phrase)  # never first: a filler word precedes the phrase
        texts.append(" ".join(words))
        labels.append(names[polarity + 1])
    return texts, labels


@pytest.fixture(scope="module")
def train_data() -> tuple[list[str], list[int]]:
    return make_negation_data(2000, seed=0)


@pytest.fixture(scope="module")
def fitted(train_data: tuple) -> dict[str, LinearBaseline]:
    """One binary (-1/1) model of each kind trained on 2,000 negation texts; read-only."""
    return {kind: make_baseline(kind).fit(*train_data) for kind in KINDS}


@pytest.fixture(scope="module")
def fitted3(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LinearBaseline]:
    """One 3-class model of each kind with string labels negative/neutral/positive; read-only."""
    names = ("negative", "neutral", "positive")
    texts, labels = make_three_class_data(2500, seed=1, names=names)
    return {kind: make_baseline(kind).fit(texts, labels) for kind in KINDS}


@pytest.fixture
def umask_022() -> Iterator[None]:
    before = os.umask(0o022)
    yield
    os.umask(before)


# ----- what the baselines learn ----------------------------------------------------------------------
@pytest.mark.parametrize("kind, minimum", [("nbsvm", 0.9), ("tfidf_lr", 0.93)])
def test_baselines_learn_the_negation_set(kind: str, minimum: float, fitted: dict, held_out_data: tuple) -> None:
    texts, labels = held_out_data
    correct = fitted[kind].predict(texts) == np.asarray(labels)
    negated = np.array(["not " in t for t in texts])
    assert 0.3 < negated.mean() < 0.7
    assert correct.mean() >= minimum, correct.mean()
    assert correct[negated].mean() >= 0.93, correct[negated].mean()  # a bag of unigrams is at chance here


@pytest.mark.parametrize("kind", KINDS)
def test_negation_flips_the_prediction(kind: str, fitted: dict) -> None:
    assert list(fitted[kind].predict(PROBES)) == [1, -1, -1, 1]
    p_good, p_not_good, p_awful, p_not_awful = fitted[kind].predict_proba(
        ["the movie was good", "the movie was not good", "the movie was awful", "the movie was not awful"]
    )[:, 1]
    assert p_good > p_not_good + 0.3 and p_not_awful > p_awful + 0.3
    assert p_not_good < 0.35 and p_not_awful > 0.65


def test_nbsvm_needs_its_bigrams_to_read_negation(fitted: dict, train_data: tuple, held_out_data: tuple) -> None:
    texts, labels = held_out_data
    negated = np.array(["not " in t for t in texts])
    unigrams = NBSVM(ngrams=(1, 1)).fit(*train_data)
    unigram_correct = unigrams.predict(texts) == np.asarray(labels)
    ngram_correct = fitted["nbsvm"].predict(texts) == np.asarray(labels)
    assert unigram_correct[negated].mean() < 0.75  # "not" and "good" alone carry no sentiment in this data
    assert ngram_correct[negated].mean() > unigram_correct[negated].mean() + 0.2


@pytest.mark.parametrize("kind", KINDS)
def test_three_classes_with_string_labels(kind: str, fitted3: dict) -> None:
    clf = fitted3[kind]
    assert list(clf.classes_) == ["negative", "neutral", "positive"]
    texts, labels = make_three_class_data(600, seed=2, names=("negative", "neutral", "positive"))
    predicted = clf.predict(texts)
    assert all(isinstance(v, str) for v in predicted)
    assert (predicted == np.asarray(labels)).mean() >= 0.9  # chance is 1/3
    assert list(clf.predict(["the film was okay", "the film was not great", "the movie was not awful"])) == [
        "neutral",
        "negative",
        "positive",
    ]
    probabilities = clf.predict_proba(texts)
    assert probabilities.shape == (600, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert list(predicted) == list(clf.classes_[probabilities.argmax(axis=1)])


@pytest.mark.parametrize("kind", KINDS)
def test_three_classes_with_int_labels_sorted(kind: str) -> None:
    texts, labels = make_three_class_data(900, seed=3, names=(-1, 0, 1))
    order = sorted(range(len(texts)), key=lambda i: -labels[i])  # positives first: classes_ must still sort
    clf = make_baseline(kind).fit([texts[i] for i in order], [labels[i] for i in order])
    assert list(clf.classes_) == [-1, 0, 1] and all(_is_int(c) for c in clf.classes_)
    predicted = clf.predict(["the film was okay", "the film was not great", "the film was great"])
    assert list(predicted) == [0, -1, 1] and all(_is_int(v) for v in predicted)


# ----- the predict / predict_proba contract ------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_predict_is_argmax_of_predict_proba(kind: str, fitted: dict, held_out_data: tuple) -> None:
    clf = fitted[kind]
    texts = held_out_data[0][:200] + ["", "!!!", "zebra quantum", "word " * 500]
    probabilities = clf.predict_proba(texts)
    assert probabilities.shape == (len(texts), 2)
    assert np.all((probabilities >= 0) & (probabilities <= 1)) and np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert list(clf.predict(texts)) == list(clf.classes_[probabilities.argmax(axis=1)])


@pytest.mark.parametrize("kind", KINDS)
def test_predict_returns_the_original_label_values(kind: str, fitted: dict) -> None:
    assert list(fitted[kind].classes_) == [-1, 1]
    predicted = fitted[kind].predict(PROBES)
    assert all(_is_int(v) for v in predicted) and set(predicted) == {-1, 1}


@pytest.mark.parametrize("kind", KINDS)
def test_empty_input_gives_an_empty_k_column_array(kind: str, fitted: dict, fitted3: dict) -> None:
    assert fitted[kind].predict_proba([]).shape == (0, 2)
    assert fitted3[kind].predict_proba([]).shape == (0, 3)
    assert fitted[kind].predict([]).shape == (0,)


@pytest.mark.parametrize("kind", KINDS)
def test_predict_accepts_any_iterable_of_strings(kind: str, fitted: dict) -> None:
    clf = fitted[kind]
    expected = clf.predict_proba(PROBES)
    for texts in (tuple(PROBES), iter(PROBES), pd.Series(PROBES), np.array(PROBES, dtype=object)):
        np.testing.assert_array_equal(clf.predict_proba(texts), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_predictions_do_not_depend_on_batch_company(kind: str, fitted: dict, held_out_data: tuple) -> None:
    texts = held_out_data[0][:30]
    together = fitted[kind].predict_proba(texts)
    alone = np.vstack([fitted[kind].predict_proba([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_probabilities_are_float64_like_the_lstm(kind: str, fitted: dict) -> None:
    # SentimentClassifier.predict_proba returns float64 (test_classifier asserts it) and so does the baselines'
    # own empty-input path; the n-gram path returns float32 (coef_ is float32), so `predict --json` prints
    # row.round(6) as 0.4832969903945923 instead of 0.483297.
    assert fitted[kind].predict_proba([]).dtype == np.float64
    assert fitted[kind].predict_proba(PROBES).dtype == np.float64


# ----- scikit-learn conventions ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_get_params_set_params_and_clone(kind: str, fitted: dict, train_data: tuple) -> None:
    texts, labels = train_data
    clf = make_baseline(kind, C=2.5, min_df=3)
    params = clf.get_params()
    assert params["C"] == 2.5 and params["min_df"] == 3 and params["class_weight"] is None
    assert set(params) == set(CLASSES[kind]._get_param_names())
    assert clf.set_params(C=0.5, max_features=100) is clf
    assert clf.get_params()["C"] == 0.5 and clf.max_features == 100
    with pytest.raises(ValueError):
        clf.set_params(no_such_option=1)
    copy = clone(fitted[kind])
    assert type(copy) is CLASSES[kind] and copy.get_params() == fitted[kind].get_params()
    assert not hasattr(copy, "coef_") and not hasattr(copy, "classes_")  # clone is unfitted
    with pytest.raises(NotFittedError):
        copy.predict_proba(PROBES)
    assert list(copy.fit(texts[:1000], labels[:1000]).classes_) == [-1, 1]


@pytest.mark.parametrize("kind", KINDS)
def test_fit_returns_self_and_refits_with_string_labels(kind: str, train_data: tuple) -> None:
    clf = make_baseline(kind)
    texts, labels = train_data
    assert clf.fit(texts[:600], labels[:600]) is clf
    names = {-1: "neg", 1: "pos"}
    assert clf.fit(texts, [names[y] for y in labels]) is clf  # a second fit replaces everything
    assert list(clf.classes_) == ["neg", "pos"]
    predicted = clf.predict(PROBES)
    assert list(predicted) == ["pos", "neg", "neg", "pos"] and all(isinstance(v, str) for v in predicted)


@pytest.mark.parametrize("kind", KINDS)
def test_not_fitted_before_fit(kind: str, tmp_path: Path) -> None:
    clf = make_baseline(kind)
    for call in (
        lambda: clf.predict_proba(["x"]),
        lambda: clf.evaluate(["x"], [1]),
        lambda: clf.save(tmp_path / "m.sentilstm"),
    ):
        with pytest.raises(NotFittedError, match="not trained yet"):
            call()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_predict_before_fit_is_not_fitted_error(kind: str) -> None:
    with pytest.raises(NotFittedError, match="not trained yet"):
        make_baseline(kind).predict(["a good film"])


def test_cross_val_score_works(train_data: tuple) -> None:
    texts, labels = train_data
    scores = cross_val_score(NBSVM(), texts[:900], labels[:900], cv=3)
    assert len(scores) == 3 and scores.min() > 0.8


@pytest.mark.parametrize("kind", KINDS)
def test_failed_refit_does_not_corrupt_a_fitted_model(kind: str, train_data: tuple) -> None:
    clf = make_baseline(kind).fit(train_data[0][:600], train_data[1][:600])
    before = clf.predict(PROBES)
    with pytest.raises(DataError, match="min_df"):
        clf.fit(["a b", "c d", "e f"], ["x", "y", "z"])  # no n-gram occurs in 2 texts
    try:
        after = clf.predict(PROBES)
    except NotFittedError:
        return  # acceptable: the failed fit left the model unfitted
    assert list(clf.classes_) == [-1, 1]  # or the previous model is intact
    assert list(after) == list(before)


# ----- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_single_string_trains_nothing_but_is_predicted(kind: str, fitted: dict) -> None:
    with pytest.raises(DataError, match="single string"):
        make_baseline(kind).fit("good movie", [1])
    assert fitted[kind].predict("good movie").tolist() == fitted[kind].predict(["good movie"]).tolist()
    with pytest.raises(DataError, match="not a string"):
        fitted[kind].predict_proba(["good", None])


@pytest.mark.parametrize("kind", KINDS)
def test_mismatched_lengths(kind: str, fitted: dict) -> None:
    with pytest.raises(DataError, match="3 texts but y has 2 labels"):
        make_baseline(kind).fit(["a good film", "a bad film", "a film"], [1, -1])
    with pytest.raises(DataError, match=f"X has {len(PROBES)} texts but y has 2 labels; they must match"):
        fitted[kind].evaluate(PROBES, [1, -1])
    with pytest.raises(DataError, match="evaluate needs at least one labelled text"):
        fitted[kind].evaluate([], [])


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan], ids=["None", "float-nan", "np-nan"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_label_is_a_data_error(kind: str, missing: Any, train_data: tuple) -> None:
    texts, labels = train_data
    with pytest.raises(DataError, match=r"y\[5\] is missing"):
        make_baseline(kind).fit(texts[:10], labels[:5] + [missing] + labels[6:10])


@pytest.mark.parametrize("kind", KINDS)
def test_a_pandas_na_label_is_a_data_error(kind: str, train_data: tuple) -> None:
    texts, labels = train_data
    y = pd.Series(labels[:200], dtype="Int64")
    y[5] = pd.NA
    with pytest.raises(DataError, match="missing"):
        make_baseline(kind).fit(texts[:200], y)


@pytest.mark.parametrize("kind", KINDS)
def test_a_single_class_is_a_data_error(kind: str) -> None:
    with pytest.raises(DataError, match="only one label"):
        make_baseline(kind).fit(["a good film", "a great film", "a good movie"], [1, 1, 1])


@pytest.mark.parametrize(
    "kind, params, bad",
    [
        ("nbsvm", {"C": 0}, "C"),
        ("nbsvm", {"C": -1.0}, "C"),
        ("tfidf_lr", {"C": 0.0}, "C"),
        ("nbsvm", {"alpha": 0}, "alpha"),
        ("nbsvm", {"alpha": -0.5}, "alpha"),
        ("nbsvm", {"min_df": 0}, "min_df"),
        ("tfidf_lr", {"min_df": 0}, "min_df"),
        ("tfidf_lr", {"max_features": 0}, "max_features"),
    ],
)
def test_bad_hyperparameters_are_config_errors(kind: str, params: dict, bad: str, train_data: tuple) -> None:
    clf = make_baseline(kind, **params)  # like scikit-learn, checked by fit, not by the constructor
    with pytest.raises(ConfigError, match=rf"^{bad} must be"):
        clf.fit(*train_data)
    assert not hasattr(clf, "coef_")


def test_make_baseline_names_the_choices() -> None:
    assert isinstance(make_baseline("nbsvm", C=1.0), NBSVM) and make_baseline("nbsvm", C=1.0).C == 1.0
    assert isinstance(make_baseline("tfidf_lr"), TfidfLogisticRegression)
    assert set(BASELINES) == set(KINDS)
    with pytest.raises(ConfigError) as info:
        make_baseline("svm")
    assert "'svm'" in str(info.value) and "nbsvm" in str(info.value) and "tfidf_lr" in str(info.value)


@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_with_unknown_labels_raises_the_label_map_error(kind: str, fitted: dict) -> None:
    with pytest.raises(DataError, match=r"labels \[7\] were not seen in training; this model knows \[-1, 1\]"):
        fitted[kind].evaluate(PROBES[:2], [1, 7])


# ----- evaluate --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_is_consistent_with_predictions(kind: str, fitted: dict, held_out_data: tuple) -> None:
    clf = fitted[kind]
    texts, labels = held_out_data
    report = clf.evaluate(texts, labels)
    assert isinstance(report, EvaluationReport)
    predicted, probabilities = clf.predict(texts), clf.predict_proba(texts)
    assert report.labels == [-1, 1] and report.num_examples == 500
    assert report.confusion_matrix == confusion_matrix(labels, predicted, labels=[-1, 1]).tolist()
    assert report.accuracy == pytest.approx(np.mean(predicted == np.asarray(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=[-1, 1], zero_division=0)
    for i, name in enumerate(["-1", "1"]):
        metrics = report.per_class[name]
        assert (metrics.precision, metrics.recall, metrics.f1) == pytest.approx((precision[i], recall[i], f1[i]))
        assert metrics.support == support[i] == sum(report.confusion_matrix[i])
    assert report.roc_auc == pytest.approx(roc_auc_score(labels, probabilities[:, 1]))
    assert report.accuracy >= 0.9 and report.roc_auc > 0.95
    json.dumps(report.to_dict())  # serialisable, as the CLI writes it


def test_evaluate_three_classes(fitted3: dict) -> None:
    names = ("negative", "neutral", "positive")
    texts, labels = make_three_class_data(300, seed=4, names=names)
    for clf in fitted3.values():
        report = clf.evaluate(texts, labels)
        predicted = clf.predict(texts)
        assert report.labels == list(names)
        assert report.confusion_matrix == confusion_matrix(labels, predicted, labels=list(names)).tolist()
        assert np.trace(report.confusion_matrix) / 300 == pytest.approx(report.accuracy)
        assert sum(report.per_class[n].support for n in names) == 300 and report.roc_auc is not None


# ----- text normalisation, as the LSTM's ---------------------------------------------------------------
def _with_mentions_and_urls(seed: int) -> tuple[list[str], list[int]]:
    texts, labels = make_negation_data(1200, seed=seed)
    rng = random.Random(seed)
    users, urls = ["@user1", "@user2", "@fan_club"], ["http://t.co/abc", "https://example.com/x?y=1", "www.site.org"]
    out = []
    for text in texts:
        if rng.random() < 0.5:
            text = f"{rng.choice(users)} {text}"
        if rng.random() < 0.5:
            text = f"{text} {rng.choice(urls)}"
        out.append(text)
    return out, labels


@pytest.mark.parametrize("kind", KINDS)
def test_mentions_urls_and_case_are_normalised_like_the_lstm(kind: str) -> None:
    clf = make_baseline(kind).fit(*_with_mentions_and_urls(seed=5))
    pairs = [
        ("@user1 the movie was great", "@someoneelse the movie was great"),
        ("the movie was great http://t.co/abc", "the movie was great https://never.seen/page"),
        ("THE MOVIE WAS GREAT", "the movie was great"),
        ("the MOVIE was NOT Great", "the movie was not great"),
    ]
    for a, b in pairs:
        np.testing.assert_array_equal(clf.predict_proba([a]), clf.predict_proba([b]), err_msg=f"{a!r} vs {b!r}")
    assert list(clf.predict(["@someoneelse the movie was not good", "@newbie the movie was not awful"])) == [-1, 1]
    assert clf.normalizer_("@Bob: GREAT film http://x.y/z") == "xxuser : great film xxurl"
    # The same normaliser as an LSTM with default text options: HTML, cp1252, NFC (Igbo tone marks)
    lstm = Normalizer(TextConfig())
    for text in [
        "Great film!<br />Loved it &amp; more",
        "caf\u0082 \x93quoted\x94",
        unicodedata.normalize("NFD", "Ọ̀ dị́ mma"),
        "@a_b www.x.org/p?q=1 Mixed CASE",
    ]:
        assert clf.normalizer_(text) == lstm(text)


@pytest.mark.parametrize("kind", KINDS)
def test_turning_normalisation_off_changes_the_features(kind: str) -> None:
    texts, labels = _with_mentions_and_urls(seed=5)
    clf = make_baseline(kind, lowercase=False, replace_mentions=False, replace_urls=False).fit(texts, labels)
    assert clf.normalizer_("@Bob GREAT http://x.y") == "@Bob GREAT http://x.y"
    upper, lower = clf.predict_proba(["THE MOVIE WAS GREAT", "the movie was great"])
    assert not np.array_equal(upper, lower)  # upper-case words are unseen now
    assert list(clf.predict(["the movie was not good", "the movie was not awful"])) == [-1, 1]


# ----- class_weight ----------------------------------------------------------------------------------
def _imbalanced(n: int, seed: int, keep_positive: float = 0.1) -> tuple[list[str], list[int]]:
    texts, labels = make_negation_data(3 * n, seed=seed)
    rng = random.Random(seed)
    keep = [i for i in range(len(texts)) if labels[i] == -1 or rng.random() < keep_positive][:n]
    return [texts[i] for i in keep], [labels[i] for i in keep]


@pytest.mark.parametrize("kind", KINDS)
def test_balanced_class_weight_raises_minority_recall(kind: str) -> None:
    texts, labels = _imbalanced(800, seed=1)
    assert 0.05 < np.mean(np.asarray(labels) == 1) < 0.2
    test_texts, test_labels = make_negation_data(1000, seed=99)
    plain = make_baseline(kind).fit(texts, labels).evaluate(test_texts, test_labels)
    balanced = make_baseline(kind, class_weight="balanced").fit(texts, labels).evaluate(test_texts, test_labels)
    assert balanced.per_class["1"].recall > plain.per_class["1"].recall + 0.15, (plain.per_class, balanced.per_class)
    assert balanced.macro_f1 > plain.macro_f1


# ----- save / load -------------------------------------------------------------------------------------
IGBO = ["Ọ̀ dị́ mma nke ukwuu 😀", "ihe a jọ̀rọ̀ njọ́ 😡", "fíìmù à dị̀ mmá", "😀😀😀", "ụ̀lọ́ akwụkwọ 👍🏽 great"]
UNSEEN = [
    "zyzzyva quux blorf",
    "xylophone",
    "",
    "   ",
    "!!!",
    "the movie was not good at all, honestly.",
    unicodedata.normalize("NFD", IGBO[0]),
    "word " * 400,
]


@pytest.fixture(scope="module")
def unicode_train(train_data: tuple) -> tuple[list[str], list[int]]:
    """The negation set plus Igbo texts with tone marks and emoji, each often enough to pass min_df=2."""
    texts, labels = train_data
    extra = [(IGBO[0], 1), (IGBO[1], -1), (IGBO[2], 1), (IGBO[3], 1), (IGBO[4], 1)] * 4
    return texts + [t for t, _ in extra], labels + [y for _, y in extra]


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip_is_exact(kind: str, unicode_train: tuple, held_out_data: tuple, tmp_path: Path) -> None:
    clf = make_baseline(kind).fit(*unicode_train)
    clf.metrics_ = {"note": "kept"}
    terms = set().union(*(f.terms for f in clf.features_))
    assert {"ọ̀", "😀", "jọ̀rọ̀"} <= terms  # the vocabulary really holds non-ASCII terms
    path = tmp_path / f"{kind}.sentilstm"
    assert clf.save(str(path)) == path
    loaded = load_model(path)
    assert type(loaded) is CLASSES[kind]
    texts = held_out_data[0][:100] + IGBO + UNSEEN
    before, after = clf.predict_proba(texts), loaded.predict_proba(texts)
    assert np.abs(before - after).max() == 0
    assert list(loaded.predict(texts)) == list(clf.predict(texts))
    np.testing.assert_array_equal(loaded.predict_proba([IGBO[0]]), loaded.predict_proba([UNSEEN[-2]]))  # NFC == NFD
    assert list(loaded.classes_) == [-1, 1] and all(_is_int(c) for c in loaded.classes_)
    assert [f.terms for f in loaded.features_] == [f.terms for f in clf.features_]
    assert {k: v for k, v in loaded.get_params().items() if "ngram" not in k} == {
        k: v for k, v in clf.get_params().items() if "ngram" not in k
    }
    assert loaded.metrics_ == {"note": "kept"}
    report = loaded.evaluate(held_out_data[0], held_out_data[1])
    assert report.to_dict() == clf.evaluate(held_out_data[0], held_out_data[1]).to_dict()


def test_save_load_three_classes(fitted3: dict, tmp_path: Path) -> None:
    texts = make_three_class_data(100, seed=6)[0] + UNSEEN
    for kind, clf in fitted3.items():
        loaded = load_model(clf.save(tmp_path / f"{kind}.sentilstm"))
        assert type(loaded) is CLASSES[kind] and list(loaded.classes_) == ["negative", "neutral", "positive"]
        assert np.abs(loaded.predict_proba(texts) - clf.predict_proba(texts)).max() == 0
        assert loaded.predict_proba([]).shape == (0, 3)


@pytest.mark.parametrize("kind", KINDS)
def test_saved_file_is_one_safetensors_file_not_a_pickle(kind: str, fitted: dict, tmp_path: Path) -> None:
    path = fitted[kind].save(tmp_path / "m.sentilstm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.sentilstm"]  # no sidecar, no temporary left
    data = path.read_bytes()
    assert not data.startswith(b"\x80") and not data.startswith(b"PK")  # neither a pickle nor torch.save's zip
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    metadata = header["__metadata__"]
    assert metadata["format"] == "sentilstm" and metadata["kind"] == "model"
    payload = json.loads(metadata["payload"])
    assert payload["estimator"] == kind and payload["labels"] == [-1, 1]
    with safe_open(str(path), framework="pt") as handle:
        names = set(handle.keys())
    assert {"coef", "intercept", "features0.terms"} <= names
    assert ("ratios" in names) == (kind == "nbsvm") and ("features0.idf" in names) == (kind == "tfidf_lr")


@pytest.mark.parametrize("kind", KINDS)
def test_saved_file_respects_the_umask(kind: str, fitted: dict, tmp_path: Path, umask_022: None) -> None:
    path = fitted[kind].save(tmp_path / "m.sentilstm")
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600


@pytest.mark.parametrize("kind", KINDS)
def test_sentiment_classifier_load_refuses_a_baseline(kind: str, fitted: dict, tmp_path: Path) -> None:
    path = fitted[kind].save(tmp_path / "m.sentilstm")
    with pytest.raises(ArtifactError, match=rf"holds a {CLASSES[kind].__name__} baseline.*sentilstm\.load_model"):
        SentimentClassifier.load(path)


def test_load_model_on_an_lstm_file_returns_a_sentiment_classifier(trained_model_path: Path) -> None:
    clf = load_model(trained_model_path)
    assert type(clf) is SentimentClassifier and list(clf.classes_) == [-1, 1]
    assert list(
        clf.predict(
            ["the movie was great", "the movie was not great", "the movie was awful", "the movie was not awful"]
        )
    ) == [1, -1, -1, 1]


@pytest.mark.parametrize("keep", [0.5, 0.9, 100])
def test_truncated_baseline_file_is_an_artifact_error(keep: float, fitted: dict, tmp_path: Path) -> None:
    data = fitted["nbsvm"].save(tmp_path / "m.sentilstm").read_bytes()
    size = int(len(data) * keep) if keep < 1 else int(keep)
    (tmp_path / "cut.sentilstm").write_bytes(data[:size])
    with pytest.raises(ArtifactError, match="cut.sentilstm"):
        load_model(tmp_path / "cut.sentilstm")


# ----- command line ------------------------------------------------------------------------------------


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def write_csv(path: Path, texts: list[str], labels: list[Any] | None = None) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"] + (["label"] if labels is not None else []))
        for i, text in enumerate(texts):
            writer.writerow([i, text] + ([labels[i]] if labels is not None else []))
    return path


@pytest.fixture(scope="module")
def cli_data(tmp_path_factory: pytest.TempPathFactory, train_data: tuple, held_out_data: tuple) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("baseline_data")
    return {
        "train": write_csv(folder / "train.csv", *train_data),
        "test": write_csv(folder / "test.csv", *held_out_data),
        "inputs": write_csv(folder / "in.csv", held_out_data[0][:50]),
    }


@pytest.fixture(scope="module")
def cli_models(cli_data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One model of each kind trained with `sentilstm baseline ... --test ... --metrics-json ...`."""
    out = {}
    for kind in KINDS:
        folder = tmp_path_factory.mktemp(f"cli_{kind}")
        model, metrics = folder / "b.sentilstm", folder / "metrics.json"
        result = invoke_cli(
            "baseline",
            cli_data["train"],
            "--kind",
            kind,
            "--test",
            cli_data["test"],
            "--out",
            model,
            "--metrics-json",
            metrics,
        )
        out[kind] = {"result": result, "model": model, "metrics": metrics, "folder": folder}
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_cli_baseline_writes_model_and_metrics(kind: str, cli_models: dict, cli_data: dict) -> None:
    run = cli_models[kind]
    result = ok(run["result"])
    assert sorted(p.name for p in run["folder"].iterdir()) == ["b.sentilstm", "metrics.json"]
    assert f"training {kind} on 2000 texts" in result.stderr
    assert f"test: {cli_data['test']}" in result.stdout and "confusion matrix" in result.stdout
    assert f"saved {run['model']}" in result.stdout
    metrics = json.loads(run["metrics"].read_text())
    assert set(metrics) == {"train_seconds", "test", "sources"}
    assert metrics["test"]["num_examples"] == 500 and metrics["test"]["labels"] == [-1, 1]
    assert metrics["test"]["accuracy"] > 0.9, metrics["test"]["accuracy"]
    clf = load_model(run["model"])
    assert type(clf) is CLASSES[kind]
    assert clf.metrics_["test"]["accuracy"] == metrics["test"]["accuracy"]  # stored inside the model too
    frame = pd.read_csv(cli_data["test"])
    assert clf.evaluate(frame["text"].tolist(), frame["label"].tolist()).accuracy == metrics["test"]["accuracy"]


def test_cli_baseline_passes_options(cli_data: dict, tmp_path: Path) -> None:
    model = tmp_path / "o.sentilstm"
    ok(
        invoke_cli(
            "baseline",
            cli_data["train"],
            "--kind",
            "tfidf_lr",
            "--C",
            "0.5",
            "--min-df",
            "3",
            "--class-weight",
            "balanced",
            "--sampling",
            "smote",
            "--out",
            model,
            "--quiet",
        )
    )
    clf = load_model(model)
    assert (clf.C, clf.min_df, clf.class_weight, clf.sampling) == (0.5, 3, "balanced", "smote")
    assert clf.metrics_.keys() == {"train_seconds", "sources"} and "test" not in clf.metrics_["sources"]  # no --test


def test_cli_baseline_unknown_kind_is_a_user_error(cli_data: dict, tmp_path: Path) -> None:
    line = error_line(invoke_cli("baseline", cli_data["train"], "--kind", "svm", "--out", tmp_path / "m.sentilstm"))
    assert "'svm'" in line and "nbsvm" in line and "tfidf_lr" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "option, value, bad", [("--min-df", "0", "min_df"), ("--C", "0", "C"), ("--sampling", "adasyn", "sampling")]
)
def test_cli_baseline_bad_option_is_a_user_error(
    option: str, value: str, bad: str, cli_data: dict, tmp_path: Path
) -> None:
    line = error_line(invoke_cli("baseline", cli_data["train"], option, value, "--out", tmp_path / "m.sentilstm"))
    assert f"{bad} must be" in line
    assert list(tmp_path.iterdir()) == []


def test_cli_baseline_bad_class_weight_is_a_user_error(cli_data: dict, tmp_path: Path) -> None:
    line = error_line(
        invoke_cli("baseline", cli_data["train"], "--class-weight", "balancd", "--out", tmp_path / "m.sentilstm")
    )
    assert "class_weight" in line and "balancd" in line


@pytest.mark.parametrize("kind", KINDS)
def test_cli_evaluate_a_baseline(kind: str, cli_models: dict, cli_data: dict, tmp_path: Path) -> None:
    model = cli_models[kind]["model"]
    ok(cli_models[kind]["result"])
    report_path = tmp_path / "report.json"
    result = ok(invoke_cli("evaluate", model, cli_data["test"], "--json", report_path))
    assert "confusion matrix" in result.stdout and "500" in result.stdout
    report = json.loads(report_path.read_text())
    frame = pd.read_csv(cli_data["test"])
    expected = load_model(model).evaluate(frame["text"].tolist(), frame["label"].tolist())
    assert report == json.loads(json.dumps(expected.to_dict()))
    assert report["accuracy"] == json.loads(cli_models[kind]["metrics"].read_text())["test"]["accuracy"]


@pytest.mark.parametrize("kind", KINDS)
def test_cli_predict_texts_with_a_baseline(kind: str, cli_models: dict) -> None:
    model = cli_models[kind]["model"]
    ok(cli_models[kind]["result"])
    result = ok(invoke_cli("predict", model, "--json", *PROBES))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == PROBES
    assert [line["label"] for line in lines] == [1, -1, -1, 1] and all(type(line["label"]) is int for line in lines)
    for line in lines:
        assert set(line["probabilities"]) == {"-1", "1"}
        assert math.isclose(sum(line["probabilities"].values()), 1.0, abs_tol=1e-5)
    table = ok(invoke_cli("predict", model, "the movie was not good", "a really great film"))
    assert "p(-1)" in table.stdout and "p(1)" in table.stdout and "not good" in table.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_cli_predict_file_with_a_baseline(kind: str, cli_models: dict, cli_data: dict, tmp_path: Path) -> None:
    model = cli_models[kind]["model"]
    ok(cli_models[kind]["result"])
    output = tmp_path / "out.csv"
    result = ok(invoke_cli("predict", model, "--input", cli_data["inputs"], "--output", output, "--chunk-rows", "20"))
    assert "scored 50 rows" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    frame = pd.read_csv(output)
    assert list(frame.columns) == ["id", "text", "predicted_label", "prob_-1", "prob_1"]
    assert frame["id"].tolist() == list(range(50))
    clf = load_model(model)
    texts = frame["text"].tolist()
    assert frame["predicted_label"].tolist() == list(clf.predict(texts))
    np.testing.assert_allclose(frame[["prob_-1", "prob_1"]].to_numpy(float), clf.predict_proba(texts), atol=1e-6)


def test_cli_evaluate_unknown_label_with_a_baseline(cli_models: dict, tmp_path: Path) -> None:
    ok(cli_models["nbsvm"]["result"])
    path = write_csv(tmp_path / "odd.csv", ["good film", "bad film"], [7, 1])
    line = error_line(invoke_cli("evaluate", cli_models["nbsvm"]["model"], path))
    assert "[7]" in line and "not seen in training" in line


@pytest.mark.parametrize(
    ("analyzer", "ngrams"),
    [("word", (1, 3)), ("word", (2, 3)), ("word", (1, 1)), ("word", (3, 3)), ("char_wb", (2, 5))],
)
@pytest.mark.parametrize("seen", [True, False], ids=["texts-in-training", "unseen-words"])
@settings(max_examples=40, deadline=None)
@given(texts=st.lists(st.text(alphabet="ab cọ'!\u0301", max_size=30), min_size=0, max_size=6))
def test_feature_counts_equal_scikit_learn(analyzer: str, ngrams: tuple, seen: bool, texts: list[str]) -> None:
    # Features.counts is our own counting (sklearn's transform cost ~0.3 ms a call); it must count exactly the same,
    # texts of fewer words than n, empty texts and words no term holds included
    train = ["ab cọ ab ab", "a b c", "cọ'! ab", "b\u0301 a", *(texts if seen else [])]
    features, _ = Features.fit(train, analyzer, ngrams, min_df=1, max_features=None, idf=True)
    expected = count_vectorizer(analyzer, ngrams, vocabulary=features.terms).transform(texts)
    got = features.counts(texts)
    assert got.dtype == np.float32 and got.has_sorted_indices and got.shape == expected.shape
    np.testing.assert_array_equal(got.toarray(), expected.toarray())


def test_word_ngrams_are_counted_by_integer_keys_unless_they_overflow() -> None:
    texts = ["good good film", "not a good film", "film"]
    features, _ = Features.fit(texts, "word", (1, 3), min_df=1, max_features=None, idf=False)
    index = WordNgramIndex.build(features.terms, (1, 3))
    assert index is not None and index.base == 5  # good, film, not, a + the unknown-word id 0
    assert (
        features.counts(["a good film film", "bad"]).toarray().tolist()
        == (
            count_vectorizer("word", (1, 3), vocabulary=features.terms).transform(["a good film film", "bad"]).toarray()
        ).tolist()
    )
    # 2**21 words to the 3rd power does not fit in 63 bits: the dict counter takes over, with the same counts
    many = [f"w{i}" for i in range(2**21)]
    assert WordNgramIndex.build(many, (1, 3)) is None
    assert WordNgramIndex.build(many, (1, 2)) is not None
    wide = Features("word", (1, 3), many)
    assert wide.counts(["w5 w7 w5 unknown"]).toarray()[0, [5, 7]].tolist() == [2, 1]
    assert not isinstance(wide._counter, WordNgramIndex)
    assert isinstance(features._counter, WordNgramIndex)


def test_row_normalisation_equals_scikit_learn() -> None:
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    dense = sp.random(50, 40, density=0.1, dtype=np.float32, random_state=0).toarray()
    dense[3] = 0  # an all-zero row stays zero
    matrix = sp.csr_matrix(dense)
    expected = normalize(matrix)
    np.testing.assert_allclose(l2_rows(matrix.copy()).toarray(), expected.toarray(), rtol=1e-6)
