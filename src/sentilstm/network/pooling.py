"""Poolings: how the last RNN layer's states over a text, (batch, seq_len, size), become one vector per text.

Each pooling is a `PoolingLayer` subclass registered here under its name with one line of help. The name is then
a valid `ModelConfig.pooling`, a `--pooling` choice whose `--help` shows that line, and a choice of the default
tuning space; `SentimentNet` builds the layer from it. Adding a pooling is adding one class to this file:

    @register("sum", "the sum of the states over the text's tokens")
    class SumPooling(PoolingLayer):
        def forward(self, states: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
            return (states * mask.unsqueeze(-1).to(states.dtype)).sum(1), None

A layer must ignore padded steps (where `mask` is False), so that padding never changes a prediction
(tests/test_models.py checks every registered pooling). Its parameters are saved under its name
(`attention.project.weight`), so a registered name is never renamed. This module imports only torch:
`sentilstm.config` reads the names from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

import torch
from torch import Tensor, nn

from sentilstm.config.settings import POOLING_NAMES


class PoolingLayer(nn.Module):
    """Pools states (batch, seq_len, directions * hidden_size) into vectors (batch, width), ignoring padding.

    `forward(states, mask, lengths)` returns the pooled vectors and, where the pooling has them, per-token weights
    (batch, seq_len), else None; `mask` (batch, seq_len) is True on real tokens, `lengths` (batch,) counts them.
    """

    name: ClassVar[str] = ""  # set by `register`
    help: ClassVar[str] = ""

    def __init__(self, hidden_size: int, directions: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size  # per direction
        self.directions = directions

    @property
    def width(self) -> int:
        """The size of a pooled vector: that of a state, unless a pooling says otherwise."""
        return self.hidden_size * self.directions

    def forward(self, states: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError


POOLINGS: dict[str, type[PoolingLayer]] = {}  # name -> layer class, in the order --help lists them
LayerClass = TypeVar("LayerClass", bound=type[PoolingLayer])


def register(name: str, help: str | None = None) -> Callable[[LayerClass], LayerClass]:
    """Class decorator: add a `PoolingLayer` subclass to `POOLINGS` as `name`, with its one line of help (the
    built-in poolings' lines are in `sentilstm.config.POOLING_NAMES`, so that settings and --help need no torch)."""

    def add(cls: LayerClass) -> LayerClass:
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"a pooling's name must be a Python identifier without a leading '_', got {name!r}")
        if name in POOLINGS:
            raise ValueError(f"pooling {name!r} is registered already, by {POOLINGS[name].__name__}")
        line = POOLING_NAMES.get(name, "") if help is None else help
        cls.name, cls.help = name, line
        POOLINGS[name] = cls
        POOLING_NAMES[name] = line
        return cls

    return add


def unregister(name: str) -> None:
    """Remove the pooling registered as `name` (a plugin's, or a test's)."""
    POOLINGS.pop(name, None)
    POOLING_NAMES.pop(name, None)


def last_states(states: Tensor, lengths: Tensor, hidden_size: int, directions: int) -> Tensor:
    """Forward state at each text's last token; the backward state is at position 0 (it read it last)."""
    index = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, hidden_size)
    last_forward = states[:, :, :hidden_size].gather(1, index).squeeze(1)  # (batch, hidden)
    if directions == 1:
        return last_forward
    return torch.cat([last_forward, states[:, 0, hidden_size:]], dim=-1)  # (batch, 2*hidden)


def mean_states(states: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
    """The average state over each text's real tokens."""
    weights = mask.to(states.dtype).unsqueeze(-1)
    return (states * weights).sum(1) / lengths.clamp(min=1).unsqueeze(-1).to(states.dtype)


def max_states(states: Tensor, mask: Tensor) -> Tensor:
    """The element-wise maximum over each text's real tokens."""
    return states.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)


@register("last")
class LastPooling(PoolingLayer):
    def forward(self, states: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        return last_states(states, lengths, self.hidden_size, self.directions), None


@register("mean")
class MeanPooling(PoolingLayer):
    def forward(self, states: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        return mean_states(states, mask, lengths), None


@register("max")
class MaxPooling(PoolingLayer):
    def forward(self, states: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        return max_states(states, mask), None


@register("attention")
class AttentionPooling(PoolingLayer):
    """Bahdanau-style additive attention (Bahdanau et al. 2015): score_t = v . tanh(W h_t + b), softmax over real
    tokens."""

    def __init__(self, hidden_size: int, directions: int) -> None:
        super().__init__(hidden_size, directions)
        self.project = nn.Linear(self.width, hidden_size)
        self.score = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, states: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        scores = self.score(torch.tanh(self.project(states))).squeeze(-1)  # (batch, seq_len)
        scores = scores.float().masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (batch, seq_len), zero on padding
        pooled = torch.bmm(weights.unsqueeze(1).to(states.dtype), states).squeeze(1)  # (batch, size)
        return pooled, weights


@register("concat")
class ConcatPooling(PoolingLayer):
    @property
    def width(self) -> int:
        return 3 * self.hidden_size * self.directions

    def forward(self, states: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        parts = [
            last_states(states, lengths, self.hidden_size, self.directions),
            mean_states(states, mask, lengths),
            max_states(states, mask),
        ]
        return torch.cat(parts, dim=-1), None  # (batch, 3*size)


__all__ = ["POOLINGS", "PoolingLayer", "register", "unregister"]
