"""sentilstm.network.pooling: the registry. A pooling registered in that one file is a valid configuration, a
network that padding never changes, a classifier that trains, predicts and round-trips through its model file,
and a tuning choice; registering a taken or unusable name fails at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from helpers import TINY, make_negation_data
from sentilstm import SentimentClassifier, load_model
from sentilstm.config import ModelConfig, Pooling, allowed_values
from sentilstm.errors import ConfigError
from sentilstm.network.model import SentimentNet
from sentilstm.network.pooling import POOLINGS, PoolingLayer, register, unregister
from sentilstm.selection.space import check_param_value


@pytest.fixture
def sum_pooling() -> Iterator[type[PoolingLayer]]:
    """A throwaway pooling, registered exactly as one would be in sentilstm/network/pooling.py, then removed."""

    @register("total", "the sum of the states over the text, then a learned scale")
    class SumPooling(PoolingLayer):
        def __init__(self, hidden_size: int, directions: int) -> None:
            super().__init__(hidden_size, directions)
            self.scale = torch.nn.Parameter(torch.ones(1))  # a parameter, saved as total.scale

        def forward(self, states: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
            return self.scale * (states * mask.unsqueeze(-1).to(states.dtype)).sum(1), None

    try:
        yield SumPooling
    finally:
        unregister("total")


def test_a_registered_pooling_is_a_valid_setting_and_a_padding_invariant_network(
    sum_pooling: type[PoolingLayer],
) -> None:
    assert allowed_values(Pooling)[:5] == ["last", "mean", "max", "attention", "concat"]  # and any registered since
    assert allowed_values(Pooling)[-1] == "total"
    ModelConfig(pooling="total").validate()
    check_param_value("pooling", "total")  # what a tuning space's choices go through
    torch.manual_seed(0)
    net = SentimentNet(ModelConfig(embedding_rows=30, embedding_dim=8, hidden_size=6, pooling="total")).eval()
    assert "total.scale" in net.state_dict()
    rows = [[2, 5, 7], [9], [3, 4, 5, 6, 7, 8]]
    ids = torch.zeros(3, 6, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    lengths = torch.tensor([len(row) for row in rows])
    with torch.no_grad():
        together = net(ids, lengths)
        alone = torch.cat([net(torch.tensor([row]), torch.tensor([len(row)])) for row in rows])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)


def test_a_registered_pooling_trains_predicts_and_round_trips(sum_pooling: type[PoolingLayer], tmp_path: Path) -> None:
    texts, labels = make_negation_data(120, seed=0)
    clf = SentimentClassifier(**{**TINY, "epochs": 1, "pooling": "total"}).fit(texts, labels)
    probabilities = clf.predict_proba(texts[:5])
    assert probabilities.shape == (5, 2)
    clf.save(tmp_path / "total.sentilstm")
    loaded = load_model(tmp_path / "total.sentilstm")
    assert loaded.get_params()["pooling"] == "total"
    np.testing.assert_allclose(loaded.predict_proba(texts[:5]), probabilities, atol=1e-6)


def test_an_unregistered_pooling_is_refused_with_the_registered_names() -> None:
    with pytest.raises(ConfigError, match=r"pooling must be one of \['last', 'mean', 'max', 'attention', 'concat'"):
        ModelConfig(pooling="total").validate()


@pytest.mark.parametrize(
    "name, problem",
    [("mean", "registered already"), ("two words", "identifier"), ("_private", "identifier")],
)
def test_register_refuses_a_taken_or_unusable_name(name: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        register(name, "")(type("Extra", (PoolingLayer,), {}))
    assert list(POOLINGS)[:5] == ["last", "mean", "max", "attention", "concat"] and "Extra" not in str(POOLINGS)


def test_a_pooling_named_like_a_network_attribute_is_refused() -> None:
    register("head", "")(type("Head", (PoolingLayer,), {}))
    try:
        with pytest.raises(ValueError, match="cannot be named 'head'"):
            SentimentNet(ModelConfig(embedding_rows=30, embedding_dim=8, hidden_size=6, pooling="head"))
    finally:
        unregister("head")
