"""Knowledge distillation (sentilstm.estimators.distillation): the soft-target loss, teachers of every kind, the
blend of the run as the default teacher, and bad teachers refused with one clear line."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers import KEYWORDS, TINY, error_line, invoke_cli, keyword_data
from sentilstm import SentimentClassifier, load_model
from sentilstm.config import TrainConfig
from sentilstm.errors import ConfigError, DataError
from sentilstm.training.losses import mixed_losses, soft_target_losses


def oracle(texts: list[str]) -> np.ndarray:
    """A teacher that knows the rule: (neg, pos) probabilities, the order of the sorted labels."""
    pos = np.array([0.95 if set(t.split()) & set(KEYWORDS["pos"]) else 0.05 for t in texts])
    return np.stack([1 - pos, pos], axis=1)


STUDENT: dict[str, Any] = {**TINY, "epochs": 15, "patience": 5, "distill_weight": 1.0}


def test_the_soft_target_loss_is_zero_at_the_teacher_and_scaled_by_t_squared() -> None:
    teacher = torch.tensor([[0.2, 0.8], [0.6, 0.4]])
    assert soft_target_losses(teacher.log(), teacher, 2.0).abs().max() < 1e-6  # the student already agrees
    logits = torch.tensor([[1.0, -1.0], [0.0, 3.0]], requires_grad=True)
    loss = soft_target_losses(logits, teacher, 1.0)
    expected = (teacher * (teacher.log() - torch.log_softmax(logits, -1))).sum(-1)  # KL(teacher || student)
    torch.testing.assert_close(loss, expected)
    config = TrainConfig(distill_weight=0.25, distill_temperature=1.0)
    hard = torch.tensor(2.0)
    torch.testing.assert_close(mixed_losses(hard, logits, teacher, config), 0.75 * hard + 0.25 * expected.mean())
    assert mixed_losses(hard, logits, None, config) is hard


def test_a_teacher_overrides_wrong_labels() -> None:
    texts, truth = keyword_data(400, seed=0)
    noise = [random.Random(i).choice(("neg", "pos")) for i in range(len(texts))]  # labels that say nothing
    test_texts, test_truth = keyword_data(200, seed=1)
    clean = keyword_data(100, seed=8)  # early stopping on clean labels, as a user with a trusted dev set has
    student = SentimentClassifier(**STUDENT).fit(texts, noise, teacher=oracle, validation=clean)
    assert student.score(test_texts, test_truth) >= 0.9
    alone = SentimentClassifier(**{**STUDENT, "distill_weight": 0.0}).fit(
        texts, noise, teacher=oracle, validation=clean
    )
    assert alone.score(test_texts, test_truth) <= 0.75  # weight 0: the labels alone, which are noise
    report = student.metrics_["distillation"]
    assert report["teacher"].startswith("callable") and report["transfer_texts"] == len(texts)
    assert report["validation"]["teacher"]["accuracy"] == 1.0  # the oracle, on the clean validation split
    assert report["validation"]["network_before"]["accuracy"] <= 0.75  # trained on the noise
    assert student.blend_model_ is None


def test_the_blend_teaches_a_network_that_is_served_alone(tmp_path: Path) -> None:
    texts, labels = keyword_data(300, seed=2)
    clf = SentimentClassifier(**{**TINY, "blend": "tfidf_lr", "distill": "blend"}).fit(
        texts, labels, unlabeled=keyword_data(50, seed=3)[0]
    )
    report = clf.metrics_["distillation"]
    assert report["teacher"] == "this run's blend" and report["unlabeled_texts"] == 50
    assert set(report["validation"]) == {"teacher", "network_before", "student"}
    assert clf.blend_model_ is None and "blend" not in clf.metrics_
    np.testing.assert_allclose(clf.predict_proba(texts[:20]), clf._network_proba(texts[:20]))  # the network alone
    loaded = load_model(clf.save(tmp_path / "student.sentilstm"))
    assert loaded.get_params()["distill"] == "blend" and loaded.metrics_["distillation"] == report
    np.testing.assert_array_equal(loaded.predict_proba(texts[:20]), clf.predict_proba(texts[:20]))


def test_a_saved_model_teaches_with_its_columns_matched_by_label(tmp_path: Path) -> None:
    texts, labels = keyword_data(300, seed=4)
    teacher = SentimentClassifier(**{**TINY, "epochs": 4}).fit(texts, labels).save(tmp_path / "teacher.sentilstm")
    student = SentimentClassifier(**{**TINY, "distill": str(teacher)}).fit(texts, labels)
    assert student.metrics_["distillation"]["teacher"] == "model file teacher.sentilstm"
    with pytest.raises(DataError, match=r"teacher's labels \['neg', 'pos'\] do not include the data's label 'bad'"):
        SentimentClassifier(**{**TINY, "distill": str(teacher)}).fit(
            texts, ["bad" if y == "neg" else y for y in labels]
        )


@pytest.mark.parametrize(
    "teacher, match",
    [
        (lambda texts: np.ones((len(texts), 3)), r"returned shape \(\d+, 3\) for \d+ texts"),
        (lambda texts: -np.ones((len(texts), 2)), "not probabilities"),
        (42, "teacher must be a callable"),
    ],
)
def test_bad_teachers_are_refused(teacher: Any, match: str) -> None:
    texts, labels = keyword_data(60, seed=5)
    with pytest.raises((DataError, ConfigError), match=match):
        SentimentClassifier(**{**TINY, "epochs": 1}).fit(texts, labels, teacher=teacher)


@pytest.mark.parametrize(
    "settings, match",
    [
        ({"distill_weight": 1.5}, "distill_weight must be between 0.0 and 1.0"),
        ({"distill_temperature": 0.5}, "distill_temperature must be between 1.0 and 20.0"),
        ({"distill": ""}, "distill must be 'blend', a .sentilstm model file or 'hf:MODEL_NAME'"),
        ({"distill": "blend", "sampling": "smote"}, "SMOTE's synthetic rows have no teacher probabilities"),
    ],
)
def test_bad_distillation_settings_are_refused(settings: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SentimentClassifier(**settings).check_params()


def test_a_missing_transformers_is_one_clear_error() -> None:
    pytest.importorskip("sentilstm")
    try:
        import transformers  # noqa: F401
    except ImportError:
        texts, labels = keyword_data(60, seed=6)
        with pytest.raises(ConfigError, match="needs transformers: `pip install transformers`"):
            SentimentClassifier(**{**TINY, "epochs": 1, "distill": "hf:some/model"}).fit(texts, labels)
    else:
        pytest.skip("transformers is installed; a Hugging Face teacher would be downloaded")


def test_the_command_line_distils(tmp_path: Path) -> None:
    texts, labels = keyword_data(200, seed=7)
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)))
    common = ["train", data, "--embedding-dim", 8, "--hidden-size", 8, "--epochs", 1, "--threads", 1, "--quiet"]
    result = invoke_cli(*common, "--distill", "blend", "--out", tmp_path / "m.sentilstm")
    assert result.exit_code == 0, result.output
    model = load_model(tmp_path / "m.sentilstm")
    assert model.blend_model_ is None and model.metrics_["distillation"]["teacher"] == "this run's blend"
    result = invoke_cli(*common, "--distill", "blend", "--set", "distill_weight=1.5", "--out", tmp_path / "x.sentilstm")
    assert "distill_weight must be between 0.0 and 1.0" in error_line(result)
    assert not (tmp_path / "x.sentilstm").exists()


def test_the_blend_teacher_uses_the_partners_out_of_fold_view_of_the_training_texts() -> None:
    from sentilstm.config import BlendConfig
    from sentilstm.estimators.blend import fit_blend

    texts, labels = keyword_data(300, seed=9)
    val_texts, val_labels = keyword_data(60, seed=10)
    val_targets = np.array([("neg", "pos").index(y) for y in val_labels])
    network = np.full((len(val_texts), 2), 0.5)  # a network that knows nothing: the partner is kept
    fitted = fit_blend(
        BlendConfig("tfidf_lr"), network, texts, labels, val_texts, val_targets, ["neg", "pos"], sampling="none"
    )
    assert fitted.model is not None and fitted.train_out_of_fold is not None
    assert fitted.train_out_of_fold.shape == (len(texts), 2)
    in_sample = fitted.model.predict_proba(texts)  # refitted on these texts: more confident than out of fold
    assert np.abs(in_sample - fitted.train_out_of_fold).max() > 0.01
    assert in_sample.max(axis=1).mean() > fitted.train_out_of_fold.max(axis=1).mean()
    holdout = fit_blend(
        BlendConfig("tfidf_lr", blend_strategy="holdout"),
        network,
        texts,
        labels,
        val_texts,
        val_targets,
        ["neg", "pos"],
        sampling="none",
    )
    assert holdout.train_out_of_fold is None


def test_the_report_says_what_taught_the_network() -> None:
    from sentilstm.report.sections import model_section

    texts, labels = keyword_data(200, seed=11)
    clf = SentimentClassifier(**{**TINY, "blend": "tfidf_lr", "distill": "blend"}).fit(texts, labels)
    html = "".join(str(block) for block in model_section(clf, clf.metrics_).blocks)
    assert "Distillation" in html and ("from this run&#x27;s blend" in html or "from this run's blend" in html)
    assert "temperature 2, soft-target weight 0.5" in html and "0 of them unlabelled" in html
    for way in ("teacher", "network before", "student"):
        assert f"<td>{way}</td>" in html
    from sentilstm.report.summary import describe

    assert "distilled: from this run's blend (temperature 2, weight 0.5)" in describe(clf).to_text()
