"""Class-imbalance options: focal loss and per-epoch over/under-sampling."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from helpers import make_negation_data
from sentilstm import ConfigError, SentimentClassifier, TrainingCallback
from sentilstm.batching import resample
from sentilstm.training import FocalLoss


def test_focal_loss_with_gamma_zero_is_cross_entropy() -> None:
    torch.manual_seed(0)
    logits, targets = torch.randn(32, 3), torch.randint(0, 3, (32,))
    weight = torch.tensor([0.5, 2.0, 1.0])
    torch.testing.assert_close(FocalLoss(0.0)(logits, targets), nn.CrossEntropyLoss()(logits, targets))
    torch.testing.assert_close(FocalLoss(0.0, weight)(logits, targets), nn.CrossEntropyLoss(weight=weight)(logits, targets))


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


@pytest.mark.parametrize("options", [{"sampling": "oversample"}, {"sampling": "undersample"}, {"loss": "focal"}])
def test_imbalance_options_move_probability_towards_the_minority(tiny_params: dict, options: dict) -> None:
    texts, labels = imbalanced(seed=21)
    plain = SentimentClassifier(**tiny_params).fit(texts, labels)
    treated = SentimentClassifier(**tiny_params, **options).fit(texts, labels)
    minority = list(plain.classes_).index(-1)
    assert treated.predict_proba(texts)[:, minority].mean() > plain.predict_proba(texts)[:, minority].mean()


def test_oversampling_makes_longer_epochs(tiny_params: dict) -> None:
    texts, labels = imbalanced(seed=22)
    steps = {}
    for sampling in ("none", "oversample", "undersample"):
        seen = []

        class Count(TrainingCallback):
            def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
                seen.append(num_batches)

        SentimentClassifier(**tiny_params, sampling=sampling).fit(texts, labels, callback=Count())
        steps[sampling] = seen[0]
    assert steps["undersample"] < steps["none"] < steps["oversample"]


@pytest.mark.parametrize("options, message", [
    ({"loss": "hinge"}, r"loss must be one of \['cross_entropy', 'focal'\], got 'hinge'"),
    ({"sampling": "SMOTE"}, r"sampling must be one of \['none', 'oversample', 'undersample', 'balanced_batches', 'smote'\], got 'SMOTE'"),
    ({"loss": "focal", "focal_gamma": -1.0}, r"focal_gamma must be between 0.0 and 10.0, got -1.0"),
])
def test_bad_imbalance_options_are_config_errors(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SentimentClassifier(**options).fit(["a b", "c d"] * 5, [0, 1] * 5)
