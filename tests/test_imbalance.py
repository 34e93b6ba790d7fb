"""Class-imbalance options: focal loss, per-epoch over/under-sampling, balanced batches, hidden-state SMOTE,
and the linear baselines' sampling (SMOTE via imbalanced-learn)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from helpers import make_negation_data
from sentilstm import ConfigError, SentimentClassifier, TrainingCallback
from sentilstm.errors import DataError
from sentilstm.estimators.baselines import NBSVM, TfidfLogisticRegression
from sentilstm.training.batching import balanced_batches, resample
from sentilstm.training.loop import FocalLoss, interpolate_minority


def test_focal_loss_with_gamma_zero_is_cross_entropy() -> None:
    torch.manual_seed(0)
    logits, targets = torch.randn(32, 3), torch.randint(0, 3, (32,))
    weight = torch.tensor([0.5, 2.0, 1.0])
    torch.testing.assert_close(FocalLoss(0.0)(logits, targets), nn.CrossEntropyLoss()(logits, targets))
    torch.testing.assert_close(
        FocalLoss(0.0, weight)(logits, targets), nn.CrossEntropyLoss(weight=weight)(logits, targets)
    )


def test_focal_loss_down_weights_confident_examples() -> None:
    logits = torch.tensor([[6.0, 0.0], [0.2, 0.0]])  # the first is confidently right, the second barely
    targets = torch.tensor([0, 0])
    ce = nn.CrossEntropyLoss(reduction="none")(logits, targets)
    focal = torch.stack([FocalLoss(2.0)(logits[i : i + 1], targets[i : i + 1]) for i in range(2)])
    ratio = focal / ce
    assert ratio[0] < 1e-4 and 0.2 < ratio[1] < 0.3  # (1 - p)^2: ~6e-6 for p=0.9975, ~0.2 for p=0.55


@pytest.mark.parametrize("how", ["oversample", "undersample"])
def test_resample_balances_classes_reproducibly(how: str) -> None:
    targets = np.array([0] * 50 + [1] * 10 + [2] * 5)
    chosen = resample(targets, how, np.random.default_rng(3))
    counts = Counter(targets[chosen].tolist())
    expected = 50 if how == "oversample" else 5
    assert counts == {0: expected, 1: expected, 2: expected}
    if how == "oversample":
        assert set(chosen) == set(range(len(targets)))  # every original text is kept
    else:
        assert len(set(chosen)) == len(chosen)  # no repeats
    np.testing.assert_array_equal(chosen, resample(targets, how, np.random.default_rng(3)))
    assert not np.array_equal(chosen, resample(targets, how, np.random.default_rng(4)))


def test_resample_none_keeps_every_index_once() -> None:
    np.testing.assert_array_equal(resample(np.array([1, 0, 1]), "none", np.random.default_rng(0)), [0, 1, 2])


def imbalanced(seed: int) -> tuple[list[str], list[int]]:
    texts, labels = make_negation_data(500, seed=seed)
    keep = [i for i, label in enumerate(labels) if label == 1 or i % 6 == 0]  # about 1:5
    return [texts[i] for i in keep], [labels[i] for i in keep]


def test_balanced_batches_hold_every_class_equally_and_cover_the_epoch() -> None:
    targets = np.array([0] * 300 + [1] * 60 + [2] * 12)
    lengths = np.random.default_rng(0).integers(1, 200, len(targets))
    batches = balanced_batches(targets, lengths, 30, 4, np.random.default_rng(5))
    assert sum(len(b) for b in batches) >= len(targets)  # an epoch is as long as the split
    for batch in batches:
        assert Counter(targets[batch].tolist()) == {0: 10, 1: 10, 2: 10}
    drawn = np.concatenate(batches)
    assert set(drawn[targets[drawn] == 2]) == set(range(360, 372))  # the small class recurs...
    majority = drawn[targets[drawn] == 0]
    assert len(set(majority)) == len(majority)  # ...the large one is drawn without repeats
    again = balanced_batches(targets, lengths, 30, 4, np.random.default_rng(5))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    other = balanced_batches(targets, lengths, 30, 4, np.random.default_rng(6))
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other))


def test_balanced_batches_keep_lengths_close_within_a_batch() -> None:
    rng = np.random.default_rng(1)
    targets = np.array([0] * 2000 + [1] * 400)
    lengths = rng.integers(1, 500, len(targets))
    batches = balanced_batches(targets, lengths, 64, 50, rng)
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    shuffled = np.mean([np.ptp(lengths[rng.choice(len(targets), 64)]) for _ in range(100)])
    assert spread < shuffled / 4  # padding stays low: length-sorted within pools, class by class


def test_interpolate_minority_adds_same_class_points_between_real_ones() -> None:
    torch.manual_seed(0)
    representations = torch.randn(10, 4)
    targets = torch.tensor([0] * 6 + [1] * 3 + [2])  # class 2 has a single text: nothing to interpolate
    rows, labels = interpolate_minority(representations, targets)
    assert labels.tolist() == targets.tolist() + [1, 1, 1]  # class 1 grows to 6; class 2 stays
    torch.testing.assert_close(rows[:10], representations)
    members = representations[6:9]
    low, high = members.min(0).values, members.max(0).values
    assert bool(((rows[10:] >= low - 1e-6) & (rows[10:] <= high + 1e-6)).all())  # inside the class's bounding box
    assert not any(bool((row == member).all()) for row in rows[10:] for member in members)  # not copies
    x = representations.clone().requires_grad_(True)
    interpolate_minority(x, targets)[0].sum().backward()
    assert x.grad is not None and bool((x.grad[6:9] > 0).all())  # gradients reach the texts mixed


def test_interpolate_minority_leaves_balanced_batches_alone() -> None:
    x, targets = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    rows, labels = interpolate_minority(x, targets)
    assert rows is not x and torch.equal(rows, x) and torch.equal(labels, targets)


@pytest.mark.parametrize("cls", [NBSVM, TfidfLogisticRegression])
@pytest.mark.parametrize("sampling", ["smote", "oversample", "undersample"])
def test_baseline_sampling_raises_minority_probability_and_is_saved(cls: type, sampling: str, tmp_path) -> None:
    import sentilstm

    texts, labels = imbalanced(seed=23)
    plain = cls(min_df=1).fit(texts, labels)
    treated = cls(min_df=1, sampling=sampling).fit(texts, labels)
    minority = list(plain.classes_).index(-1)
    assert treated.predict_proba(texts)[:, minority].mean() > plain.predict_proba(texts)[:, minority].mean()
    again = cls(min_df=1, sampling=sampling).fit(texts, labels)
    np.testing.assert_array_equal(again.predict_proba(texts), treated.predict_proba(texts))  # seeded
    loaded = sentilstm.load_model(treated.save(tmp_path / "m.sentilstm"))
    assert loaded.get_params()["sampling"] == sampling


def test_baseline_smote_needs_two_texts_per_class_and_names_the_fix() -> None:
    with pytest.raises(
        DataError,
        match=r"sampling='smote' needs at least 2 training texts in every class, the smallest has 1; .*'oversample'",
    ):
        NBSVM(min_df=1, sampling="smote").fit(["good film", "great film", "fine film", "bad film"], [1, 1, 1, 0])
    with pytest.raises(
        ConfigError,
        match=r"sampling must be one of \['none', 'oversample', 'undersample', 'smote'\], got 'balanced_batches'",
    ):
        NBSVM(sampling="balanced_batches").fit(["a b", "c d"] * 3, [0, 1] * 3)


@pytest.mark.parametrize(
    "options",
    [
        {"sampling": "oversample"},
        {"sampling": "undersample"},
        {"loss": "focal"},
        {"sampling": "balanced_batches"},
        {"sampling": "smote"},
    ],
)
def test_imbalance_options_move_probability_towards_the_minority(tiny_params: dict, options: dict) -> None:
    texts, labels = imbalanced(seed=21)
    plain = SentimentClassifier(**tiny_params).fit(texts, labels)
    treated = SentimentClassifier(**tiny_params, **options).fit(texts, labels)
    minority = list(plain.classes_).index(-1)
    assert treated.predict_proba(texts)[:, minority].mean() > plain.predict_proba(texts)[:, minority].mean()


def test_oversampling_makes_longer_epochs(tiny_params: dict) -> None:
    texts, labels = imbalanced(seed=22)
    steps = {}
    for sampling in ("none", "oversample", "undersample", "balanced_batches"):
        seen = []

        class Count(TrainingCallback):
            def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
                seen.append(num_batches)  # noqa: B023 - fit() below runs before the loop moves on

        SentimentClassifier(**tiny_params, sampling=sampling).fit(texts, labels, callback=Count())
        steps[sampling] = seen[0]
    assert steps["undersample"] < steps["none"] < steps["oversample"]
    assert steps["balanced_batches"] == steps["none"]  # same epoch length, rebalanced inside each batch


@pytest.mark.parametrize(
    "options, message",
    [
        ({"loss": "hinge"}, r"loss must be one of \['cross_entropy', 'focal'\], got 'hinge'"),
        (
            {"sampling": "SMOTE"},
            r"sampling must be one of \['none', 'oversample', 'undersample', 'balanced_batches', 'smote'\], "
            r"got 'SMOTE'",
        ),
        ({"loss": "focal", "focal_gamma": -1.0}, r"focal_gamma must be between 0.0 and 10.0, got -1.0"),
    ],
)
def test_bad_imbalance_options_are_config_errors(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SentimentClassifier(**options).fit(["a b", "c d"] * 5, [0, 1] * 5)
