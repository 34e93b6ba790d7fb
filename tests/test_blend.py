"""The network + linear n-gram blend inside SentimentClassifier: chosen on validation, saved, reloaded."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import TINY, keyword_data, make_negation_data
from sentilstm import ConfigError, SentimentClassifier, load_model
from sentilstm.cli import app
from sentilstm.estimators.baselines import NBSVM, TfidfLogisticRegression, make_baseline

KINDS = ("nbsvm", "tfidf_lr")


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
    # crossfit (the default) scores every kind unweighted and with balanced class weights out of fold, keeps the
    # best on the monitored metric (macro F1), then weighs it against the network on validation
    tried = [f"{k}{w}" for k in KINDS for w in ("", "[class_weight=balanced]")]
    out_of_fold = info["out_of_fold"]
    assert out_of_fold["metric"] == "macro_f1" and set(out_of_fold) == {*tried, "metric"}
    chosen = max(tried, key=lambda name: out_of_fold[name])  # the first of equals
    assert set(losses) == {"network", "blend", chosen} and chosen.startswith(info["model"])
    assert info["strategy"] == "crossfit" and info["folds"] == 5
    assert info["partner"] == {k: blended.blend_model_.get_params()[k] for k in ("class_weight", "sampling")}


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
    assert set(clf.metrics_["blend"]["out_of_fold"]) == {"metric", kind, f"{kind}[class_weight=balanced]"}


def test_unknown_blend_fails_before_training() -> None:
    with pytest.raises(
        ConfigError, match=r"blend must be one of \['auto', 'nbsvm', 'tfidf_lr'\] or None \('none'\), got 'svm'"
    ):
        SentimentClassifier(blend="svm").fit(["a b", "c d", "e f", "g h"], [0, 1, 0, 1])
    with pytest.raises(ConfigError, match="got 'svm'"):
        SentimentClassifier(blend="svm").check_params()  # and before any data is given


@pytest.mark.parametrize("spelling", [None, "none", "None", "NONE"])
def test_no_blend_is_spelt_none_in_python_as_on_the_command_line(spelling: str | None) -> None:
    texts, labels = make_negation_data(120, seed=2)
    clf = SentimentClassifier(**{**TINY, "blend": spelling}).fit(texts, labels)
    assert clf.blend_model_ is None and "blend" not in clf.metrics_
    assert clf.get_params()["blend"] == spelling  # the parameter stays as given (scikit-learn's clone contract)


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
    for setting, message in [
        ("blend_folds=1", "blend_folds must be between 2 and 20, got 1"),
        ("blend_strategy=kfold", "blend_strategy must be one of ['crossfit', 'holdout'], got 'kfold'"),
    ]:
        result = runner.invoke(app, [*common, "--set", setting, "--out", str(tmp_path / "x.sentilstm")])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
        assert not (tmp_path / "x.sentilstm").exists()
    result = runner.invoke(
        app,
        [*common, "--set", "blend_strategy=holdout", "--set", "blend_folds=3", "--out", str(tmp_path / "h.sentilstm")],
    )
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "h.sentilstm").get_params()["blend_strategy"] == "holdout"


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
def test_the_holdout_partner_is_balanced_or_mirrors_the_sampling(options: dict, expected: dict) -> None:
    texts, labels = keyword_data(240, seed=7)
    skewed = [(t, y) for i, (t, y) in enumerate(zip(texts, labels)) if y == "pos" or i % 4 == 0]
    recipe = {**TINY, "blend": "tfidf_lr", "blend_strategy": "holdout", "epochs": 1, "learning_rate": 1e-4}
    clf = SentimentClassifier(**recipe, **options)
    clf.fit([t for t, _ in skewed], [y for _, y in skewed])
    assert clf.blend_model_ is not None
    assert {k: clf.blend_model_.get_params()[k] for k in expected} == expected


@pytest.mark.parametrize("sampling", ["none", "undersample"])
def test_crossfit_tries_the_partner_unweighted_and_balanced_or_mirrored(sampling: str) -> None:
    texts, labels = keyword_data(240, seed=7)
    clf = SentimentClassifier(**{**TINY, "blend": "tfidf_lr", "epochs": 1, "learning_rate": 1e-4}, sampling=sampling)
    clf.fit(texts, labels)
    tried = set(clf.metrics_["blend"]["out_of_fold"]) - {"metric"}
    assert tried == {
        "tfidf_lr",
        "tfidf_lr[class_weight=balanced]" if sampling == "none" else "tfidf_lr[sampling=oversample]",
    }


def test_crossfit_refits_the_partner_on_train_and_validation() -> None:
    """The kept partner learns from the validation texts too (as the linear baselines do), the holdout one not."""
    texts, labels = keyword_data(200, seed=8)
    val_texts, val_labels = keyword_data(60, seed=9)
    val_texts = [f"{text} zzonlyinvalidation" for text in val_texts]
    seen = {}
    for strategy in ("crossfit", "holdout"):
        clf = SentimentClassifier(
            **{**TINY, "blend": "tfidf_lr", "epochs": 1, "learning_rate": 1e-4}, blend_strategy=strategy
        )
        clf.fit(texts, labels, validation=(val_texts, val_labels))
        assert clf.blend_model_ is not None, strategy
        seen[strategy] = any("zzonlyinvalidation" in f.terms for f in clf.blend_model_.features_)
    assert seen == {"crossfit": True, "holdout": False}


@pytest.mark.parametrize("kind", KINDS)
def test_out_of_fold_probabilities_never_see_their_own_label(kind: str) -> None:
    """Each text carries a token of its own and a random label: fitted on all rows a linear model recalls the
    labels from those tokens; out of fold it cannot, so it is near chance. Columns follow the sorted labels."""
    rng = np.random.default_rng(0)
    labels = [str(label) for label in rng.choice(["neg", "pos"], size=300)]
    own = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=8)) for _ in range(300)]
    texts = [f"{word} the same words" for word in own]
    model = make_baseline(kind, min_df=1, C=100.0)
    folds = [np.arange(300)[f::5] for f in range(5)]
    base, balanced = model.out_of_fold_proba(texts, labels, folds, [{}, {"class_weight": "balanced"}])
    assert base.shape == (300, 2) and not hasattr(model, "coef_")  # the model itself stays unfitted
    np.testing.assert_allclose(base.sum(axis=1), 1.0, atol=1e-6)
    targets = np.asarray(labels) == "pos"
    in_sample = make_baseline(kind, min_df=1, C=100.0).fit(texts, labels).predict_proba(texts)
    assert np.mean((in_sample[:, 1] > 0.5) == targets) > 0.95
    assert abs(np.mean((base[:, 1] > 0.5) == targets) - 0.5) < 0.1
    assert not np.allclose(base, balanced)


def test_out_of_fold_leaves_zero_for_a_class_a_fold_never_saw() -> None:
    texts, labels = keyword_data(60, seed=10)
    labels = labels[:-1] + ["rare"]  # one text of a third class: the fold holding it trains without it
    folds = [np.arange(60)[f::3] for f in range(3)]
    (out,) = make_baseline("tfidf_lr", min_df=1).out_of_fold_proba(texts, labels, folds)
    assert out.shape == (60, 3)  # columns: neg, pos, rare
    assert out[59, 2] == 0.0 and out[:59, 2].max() > 0.0


@pytest.mark.parametrize(
    "options, message",
    [
        ({"blend_strategy": "kfold"}, "blend_strategy must be one of ['crossfit', 'holdout'], got 'kfold'"),
        ({"blend_folds": 1}, "blend_folds must be between 2 and 20, got 1"),
    ],
)
def test_bad_blend_settings_fail_before_training(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        SentimentClassifier(**options).fit(["a b", "c d", "e f", "g h"], [0, 1, 0, 1])


@pytest.mark.parametrize("monitor", ["accuracy", "loss"])
def test_crossfit_picks_the_partner_on_the_monitored_metric(monitor: str) -> None:
    texts, labels = keyword_data(240, seed=11)
    recipe = {**TINY, "blend": "auto", "epochs": 1, "learning_rate": 1e-4, "monitor": monitor}
    info = SentimentClassifier(**recipe).fit(texts, labels).metrics_["blend"]
    out_of_fold = {name: value for name, value in info["out_of_fold"].items() if name != "metric"}
    assert info["out_of_fold"]["metric"] == monitor and len(out_of_fold) == 4
    assert monitor != "loss" or all(value <= 0 for value in out_of_fold.values())  # minus the log-loss
    best = max(out_of_fold.values())
    assert out_of_fold[next(name for name in info["validation_log_loss"] if name in out_of_fold)] == best


def test_crossfit_uses_fewer_folds_when_no_class_has_five_texts() -> None:
    texts = ["good movie", "bad movie", "good film", "bad film", "good show", "bad show", "good play", "bad play"]
    recipe = {**TINY, "blend": "auto", "epochs": 1, "learning_rate": 1e-4, "validation_fraction": 0.25}
    clf = SentimentClassifier(**recipe).fit(texts, [1, 0] * 4)
    assert clf.metrics_["blend"]["folds"] == 4  # 4 texts a class: 4 folds, not 5 (scikit-learn would refuse)
