"""Adversarial and virtual adversarial training on the embeddings (`adversarial="at"|"vat"`,
sentilstm.training.adversarial): the push is per text, on real tokens only, of the asked size, and points where the
loss (AT) or the prediction (VAT) moves most; training with it works with every cell, frozen embeddings and bf16,
and bad settings are refused in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers import TINY, error_line, invoke_cli, make_negation_data
from sentilstm import SentimentClassifier, load_model
from sentilstm.config import ModelConfig, TrainConfig
from sentilstm.errors import ConfigError
from sentilstm.network.model import SentimentNet, length_mask
from sentilstm.training.adversarial import adversarial_perturbation, kl_from_logits, per_text_unit


def _batch(net: SentimentNet, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    embedded = net.embed(ids).detach().requires_grad_(True)
    return embedded, net.forward_embedded(embedded, lengths)


def _net(cell: str = "lstm", **config: Any) -> SentimentNet:
    torch.manual_seed(0)
    net = SentimentNet(
        ModelConfig(embedding_rows=40, num_classes=3, embedding_dim=8, hidden_size=8, cell=cell, **config)
    )
    return net.eval()


def test_a_push_is_per_text_on_real_tokens_and_of_the_asked_share() -> None:
    net, loss_fn = _net(), torch.nn.CrossEntropyLoss()
    ids, lengths = torch.randint(1, 40, (3, 6)), torch.tensor([6, 2, 4])
    ids[1, 2:], ids[2, 4:] = 0, 0
    embedded, logits = _batch(net, ids, lengths)
    mask = length_mask(lengths, 6)[..., None].float()
    for kind in ("at", "vat"):
        config = TrainConfig(adversarial=kind, adversarial_epsilon=0.1)
        r = adversarial_perturbation(net, embedded, lengths, logits, torch.tensor([0, 1, 2]), loss_fn, config)
        assert torch.all(r * (1 - mask) == 0)  # padding is never pushed
        ratio = r.flatten(1).norm(dim=1) / (embedded.detach() * mask).flatten(1).norm(dim=1)
        torch.testing.assert_close(ratio, torch.full((3,), 0.1))
    unit = per_text_unit(torch.randn(2, 5, 4), length_mask(torch.tensor([5, 1]), 5)[..., None].float())
    torch.testing.assert_close(unit.flatten(1).norm(dim=1), torch.ones(2))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_pushes_point_where_the_loss_and_the_prediction_move_most(cell: str) -> None:
    net, loss_fn = _net(cell), torch.nn.CrossEntropyLoss(reduction="none")
    ids, lengths = torch.randint(1, 40, (64, 7)), torch.full((64,), 7)
    targets = torch.randint(0, 3, (64,))
    embedded, logits = _batch(net, ids, lengths)
    mask = torch.ones(64, 7, 1)
    random = (
        per_text_unit(torch.randn_like(embedded), mask)
        * (embedded.detach().flatten(1).norm(dim=1) * 0.05)[:, None, None]
    )

    def mean_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss_fn(x, y).mean()

    at = adversarial_perturbation(
        net, embedded, lengths, logits, targets, mean_loss, TrainConfig(adversarial="at", adversarial_epsilon=0.05)
    )
    with torch.no_grad():
        pushed = loss_fn(net.forward_embedded(embedded + at, lengths), targets)
        randomly = loss_fn(net.forward_embedded(embedded + random, lengths), targets)
    assert (pushed > randomly).float().mean() > 0.9  # against the labels, not just anywhere
    vat = adversarial_perturbation(
        net,
        embedded,
        lengths,
        logits,
        targets,
        mean_loss,
        TrainConfig(adversarial="vat", adversarial_epsilon=0.05, adversarial_iterations=2),
    )
    with torch.no_grad():
        moved = kl_from_logits(logits, net.forward_embedded(embedded + vat, lengths))
        moved_randomly = kl_from_logits(logits, net.forward_embedded(embedded + random, lengths))
    assert moved > 3 * moved_randomly


@pytest.mark.parametrize(
    "settings",
    [
        {"adversarial": "at"},
        {"adversarial": "vat", "cell": "gru", "bidirectional": False, "pooling": "mean"},
        {"adversarial": "at", "freeze_embeddings": 1, "precision": "bf16"},
        {"adversarial": "vat", "adversarial_iterations": 2, "precision": "bf16", "char_ngrams": "2-3"},
    ],
)
def test_training_with_a_push_learns_and_predicts_as_any_model(
    settings: dict[str, Any], tmp_path: Path, bf16_anywhere: None
) -> None:
    texts, labels = make_negation_data(200, seed=20)
    clf = SentimentClassifier(**{**TINY, "epochs": 3, **settings}).fit(texts, labels)
    assert all(np.isfinite(e.train_loss) for e in clf.history_.epochs)
    path = tmp_path / "model.sentilstm"
    clf.save(path)
    np.testing.assert_array_equal(load_model(path).predict_proba(texts[:20]), clf.predict_proba(texts[:20]))
    one = clf.predict_proba(texts[:1])  # the push is training's alone: a prediction does not depend on its batch
    # bf16 rounds a batch's matmuls by its shape (8 bits of mantissa): padding-invariant to its precision, not fp32's
    tolerance = 1e-3 if settings.get("precision") == "bf16" else 1e-5
    np.testing.assert_allclose(clf.predict_proba([texts[0], "a much longer text " * 5])[0], one[0], atol=tolerance)


def test_bad_adversarial_settings_are_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"adversarial must be one of \['at', 'vat'\], got 'fgsm'"):
        SentimentClassifier(**TINY, adversarial="fgsm").check_params()
    with pytest.raises(ConfigError, match="adversarial_epsilon"):
        SentimentClassifier(**TINY, adversarial="at", adversarial_epsilon=0.0).check_params()
    with pytest.raises(ConfigError, match="smote"):
        SentimentClassifier(**TINY, adversarial="vat", sampling="smote").check_params()
    texts, labels = make_negation_data(120, seed=21)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels)))
    small = ["--epochs", "1", "--embedding-dim", "8", "--hidden-size", "8", "--threads", "1", "--blend", "none"]
    result = invoke_cli(
        "train",
        data,
        "--out",
        tmp_path / "m.sentilstm",
        *small,
        "--adversarial",
        "vat",
        "--set",
        "adversarial_epsilon=0.05",
    )
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "m.sentilstm").adversarial == "vat"
    bad = invoke_cli("train", data, "--out", tmp_path / "n.sentilstm", *small, "--adversarial", "pgd")
    assert "adversarial must be one of ['at', 'vat'], got 'pgd'" in error_line(bad)


def test_vat_also_pushes_a_batch_of_unlabelled_texts_beside_each_labelled_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import sentilstm.training.loop as loop

    seen: list[int] = []
    real = loop.unlabeled_loss

    def counting(net: Any, ids: torch.Tensor, lengths: torch.Tensor, config: Any) -> torch.Tensor:
        seen.append(len(ids))
        return real(net, ids, lengths, config)

    monkeypatch.setattr(loop, "unlabeled_loss", counting)
    texts, labels = make_negation_data(160, seed=22)
    unlabeled, _ = make_negation_data(50, seed=23)
    clf = SentimentClassifier(**{**TINY, "epochs": 2, "patience": 5}, adversarial="vat")
    clf.fit(texts, labels, unlabeled=unlabeled)
    steps = sum(e.steps for e in clf.history_.epochs)
    assert len(seen) == steps and max(seen) <= 32 and sum(seen) > 50  # every step; the 50 texts cycled
    seen.clear()
    SentimentClassifier(**{**TINY, "epochs": 1}, adversarial="at").fit(texts, labels, unlabeled=unlabeled)
    assert seen == []  # AT needs labels: no unlabelled batches
