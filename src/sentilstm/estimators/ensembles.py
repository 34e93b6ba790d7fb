"""Ensembles (`TrainConfig.ensemble`): K networks of one architecture, trained with seeds seed ... seed + K - 1 on
the same training rows and validation split, their probabilities averaged and saved as one `EnsembleNet`.

    SentimentClassifier(ensemble=3).fit(texts, labels)                   # three networks in one model file
    SentimentClassifier(ensemble=3, distill="blend").fit(texts, labels)  # they, blended, teach one network

The first member is the network `fit` trains anyway; each further member is a fresh network of the same settings
with its own seed (initial weights, dropout masks, batch order). A member checkpoints to its own file beside the
first's (`member_checkpoint`), so `resume` continues the member an interruption stopped and skips finished ones.
The blend, distillation and the validation scores then see the ensemble's averaged probabilities.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sentilstm.estimators.evaluation import headline_scores
from sentilstm.estimators.inference import predict_probabilities
from sentilstm.network.ensemble import EnsembleNet
from sentilstm.network.model import SentimentNet
from sentilstm.system.device import resolve_device, resolve_precision
from sentilstm.training.language_model import pretraining_checkpoint
from sentilstm.training.loop import CheckpointSpec, History

log = logging.getLogger(__name__)
Resume = Callable[[Path], Any]  # a member's checkpoint file -> the training state to resume (None: start afresh)


def member_checkpoint(path: Path, member: int) -> Path:
    """Where member `member` (0 = the first network) checkpoints, given the first's checkpoint `path`."""
    return path if member == 0 else path.with_name(f"{path.name}.member{member}")


def remove_checkpoints(path: Path) -> None:
    """Delete the checkpoint `path`, every ensemble member's beside it (`member_checkpoint`) and pretraining's."""
    path.unlink(missing_ok=True)
    pretraining_checkpoint(path).unlink(missing_ok=True)
    pattern = re.compile(re.escape(path.name) + r"\.member[0-9]+")
    for other in path.parent.glob(f"{path.name}.member*"):
        if pattern.fullmatch(other.name):
            other.unlink(missing_ok=True)


def train_members(
    first: SentimentNet,
    first_history: History,
    settings: Any,
    data: Any,
    text: Any,
    rows: Any,
    vectors: Any,
    *,
    checkpoint: CheckpointSpec | None = None,
    resume: Resume | None = None,
    callbacks: list[Any] | None = None,
    encoder: dict[str, Any] | None = None,
) -> tuple[SentimentNet | EnsembleNet, dict[str, Any] | None]:
    """The ensemble of `first` and `settings.train.ensemble - 1` fresh networks (seed + 1, ...) trained alike, and its
    summary for `metrics_["ensemble"]`: each member's seed, best epoch and validation scores, and the ensemble's.
    (`first`, None) when `settings.train.ensemble` is 1. `encoder`: pretrained encoder weights every member starts
    from (`pretraining.PretrainedEncoder.state`; pretraining runs once)."""
    from sentilstm.estimators import steps  # steps imports the classifier's neighbours; this module stays light

    if settings.train.ensemble == 1:
        return first, None

    networks, histories = [first], [first_history]
    for member in range(1, settings.train.ensemble):
        train = dataclasses.replace(settings.train, seed=settings.train.seed + member)
        log.info("ensemble member %d of %d (seed %d)", member + 1, settings.train.ensemble, train.seed)
        net = steps.new_network(first.config, vectors.matrix, train, rows.ids, vectors.ngrams, encoder)
        spec = dataclasses.replace(checkpoint, path=member_checkpoint(checkpoint.path, member)) if checkpoint else None
        state = resume(spec.path) if resume is not None and spec is not None else None
        histories.append(
            steps.train_network(net, rows, data, text, train, checkpoint=spec, resume=state, callbacks=callbacks)
        )
        networks.append(net)
    return EnsembleNet.of(networks).eval(), _summary(networks, histories, data, text, settings.train)


def _summary(
    networks: list[SentimentNet], histories: list[History], data: Any, text: Any, train: Any
) -> dict[str, Any]:
    """Each member's seed, best epoch and validation scores beside the ensemble's."""
    device = resolve_device(train.device)
    precision = resolve_precision(train.precision, device)
    ids = text.pipeline.encode(data.val_texts)
    probabilities = [predict_probabilities(net.to(device), ids, device=device, precision=precision) for net in networks]
    members = [
        {"seed": train.seed + k, "best_epoch": history.best_epoch, "validation": headline_scores(data.val_targets, p)}
        for k, (p, history) in enumerate(zip(probabilities, histories))
    ]
    # the ensemble's probabilities are its members' mean: no second pass of every member over the validation split
    summary: dict[str, Any] = {
        "members": members,
        "validation": headline_scores(data.val_targets, np.mean(probabilities, 0)),
    }
    mean = float(np.mean([m["validation"]["macro_f1"] for m in members]))
    log.info(
        "ensemble of %d: validation macro F1 %.4f (members' mean %.4f)",
        len(networks),
        summary["validation"]["macro_f1"],
        mean,
    )
    return summary


__all__ = ["member_checkpoint", "remove_checkpoints", "train_members"]
