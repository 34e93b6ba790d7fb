"""The optimiser and learning-rate schedule of the training loop (AdamW; linear, one-cycle, plateau or constant;
the pretrained encoder's parameters at `encoder_lr_scale` times the rate of the rest).

optimizer = make_optimizer(net, config); scheduler = make_scheduler(optimizer, config, total_steps)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sentilstm.config import TrainConfig
from sentilstm.training.records import TrainableNetwork


def make_optimizer(model: TrainableNetwork | nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, weight decay on matrices only. A network with a character n-gram table uses the fused kernel: its
    dense update of a 100,000 x 128 table took 42 ms a step, fused 5 ms (8x; the Igbo BiLSTM then trained 0.17x
    as fast as with words only, bench/results/subword_cost.md). Word-only networks keep the unfused update, with
    which every published figure was measured (the two differ in rounding)."""
    encoder = {id(p) for p in encoder_parameters(model)} if config.encoder_lr_scale != 1.0 else set()
    groups = []
    for rate, part in ((config.learning_rate, False), (config.learning_rate * config.encoder_lr_scale, True)):
        trained = [p for p in model.parameters() if p.requires_grad and (id(p) in encoder) == part]
        decay = [p for p in trained if p.dim() >= 2]
        no_decay = [p for p in trained if p.dim() < 2]  # biases: decay only hurts
        if decay or no_decay or not part:
            groups += [
                {"params": decay, "weight_decay": config.weight_decay, "lr": rate},
                {"params": no_decay, "weight_decay": 0.0, "lr": rate},
            ]
    devices = {p.device.type for p in model.parameters()}
    fused = getattr(model, "ngram_embedding", None) is not None and devices <= {"cpu", "cuda"}
    return torch.optim.AdamW(groups, lr=config.learning_rate, fused=fused or None)


def embedding_tables(model: TrainableNetwork | nn.Module) -> list[nn.Embedding]:
    """The network's embedding tables: the word table and, with subwords, the character n-gram table."""
    tables = [getattr(model, name, None) for name in ("embedding", "ngram_embedding")]
    return [t for t in tables if isinstance(t, nn.Embedding)]


def first_layer_parameters(model: TrainableNetwork | nn.Module) -> list[torch.Tensor]:
    """The first recurrent layer's weights, both directions: the part of the encoder pretraining trains."""
    layers = [getattr(model, name, None) for name in ("forward_rnns", "backward_rnns")]
    return [p for rnns in layers if isinstance(rnns, nn.ModuleList) for p in rnns[0].parameters()]


def encoder_parameters(model: TrainableNetwork | nn.Module) -> list[torch.Tensor]:
    """What a pretrained encoder gives a classifier: the embedding tables and the first recurrent layer;
    `TrainConfig.freeze_encoder` freezes them and `encoder_lr_scale` slows them."""
    return [t.weight for t in embedding_tables(model)] + first_layer_parameters(model)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int) -> Any:
    if config.schedule == "one_cycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[group["lr"] for group in optimizer.param_groups], total_steps=total_steps
        )
    if config.schedule == "plateau":  # stepped per epoch with the monitored score (negated loss is maximised)
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=0)
    warmup = max(1, int(total_steps * config.warmup_fraction))
    decay = config.schedule == "linear"

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup)) if decay else 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def scheduler_state(scheduler: Any) -> dict[str, Any]:
    return {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}


__all__ = [
    "embedding_tables",
    "encoder_parameters",
    "first_layer_parameters",
    "make_optimizer",
    "make_scheduler",
    "scheduler_state",
]
