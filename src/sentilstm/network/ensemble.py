"""Several networks of one architecture as one module: (ids, lengths) in, the log of their averaged probabilities out.

    net = make_network(ModelConfig(embedding_rows=1000, members=3))   # EnsembleNet of 3 SentimentNets
    torch.softmax(net(ids, lengths), -1)                               # = the mean of the members' probabilities

`forward` returns log(mean_k softmax(logits_k)), so everything that takes a network's logits (prediction, the
training loop's validation, ONNX export) gets the ensemble's averaged probabilities from a softmax, unchanged.
Probabilities are averaged rather than logits: an over-confident member then cannot outvote the others
(Lakshminarayanan et al. 2017 average probabilities too).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sentilstm.config import ModelConfig
from sentilstm.network.model import SentimentNet


def average_probabilities(logits: Sequence[Tensor]) -> Tensor:
    """log of the mean of softmax(l) over `logits` (each (batch, num_classes)), in float32: (batch, num_classes)."""
    if len(logits) == 1:
        return logits[0].float()
    stacked = torch.stack([torch.log_softmax(part.float(), dim=-1) for part in logits])  # (members, batch, classes)
    return torch.logsumexp(stacked, dim=0) - math.log(len(logits))


class EnsembleNet(nn.Module):
    """`config.members` SentimentNets of `config`'s architecture; their probabilities averaged."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        if config.members < 2:
            raise ValueError(f"an EnsembleNet has at least 2 members, config.members is {config.members}")
        self.config = config
        member = dataclasses.replace(config, members=1)
        self.members = nn.ModuleList(SentimentNet(member) for _ in range(config.members))

    @classmethod
    def of(cls, networks: Sequence[SentimentNet]) -> EnsembleNet:
        """An ensemble holding `networks` themselves (same architecture, each with members=1)."""
        configs = {dataclasses.astuple(net.config) for net in networks}
        if len(configs) != 1:
            raise ValueError("the members of an ensemble must share one ModelConfig")
        with torch.device("meta"):
            ensemble = cls(dataclasses.replace(networks[0].config, members=len(networks)))
        ensemble.members = nn.ModuleList(networks)
        return ensemble.train(networks[0].training)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """log of the members' mean probabilities (batch, num_classes): softmax of it is that mean."""
        return average_probabilities([member(ids, lengths) for member in self.members])

    def attention_weights(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """The members' attention over tokens, averaged (batch, seq_len); pooling='attention' only."""
        return torch.stack([member.attention_weights(ids, lengths) for member in members(self)]).mean(0)


def make_network(config: ModelConfig) -> SentimentNet | EnsembleNet:
    """The network `config` describes: one SentimentNet, or an EnsembleNet when `config.members` > 1."""
    return EnsembleNet(config) if config.members > 1 else SentimentNet(config)


def members(network: nn.Module) -> list[SentimentNet]:
    """The SentimentNets a network averages: an ensemble's members, or the network itself."""
    if isinstance(network, EnsembleNet):
        return [m for m in network.members if isinstance(m, SentimentNet)]
    assert isinstance(network, SentimentNet), type(network).__name__
    return [network]


__all__ = ["EnsembleNet", "average_probabilities", "make_network", "members"]
