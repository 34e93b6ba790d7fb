"""Language-model pretraining of a network's encoder: the `pretrain="lm"` setting (Dai & Le 2015, "Semi-supervised
sequence learning"; Howard & Ruder 2018, ULMFiT).

    record = pretrain_language_model(net, corpus_ids, validation_ids, TrainConfig(pretrain="lm"), checkpoint=path)

The embedding layer and the network's first recurrent layer learn to predict each token from the ones before it
(the forward direction) and, in a bidirectional network, from the ones after it (the backward direction), on token
ids encoded exactly as the classifier encodes its texts; the classifier then trains from those weights. Deeper
recurrent layers read both directions of the layer below, so they would see the very token they are to predict:
they, the pooling and the head start at random as before (the default network has one layer). A convolution front
looks at the next tokens too, so it cannot be pretrained this way (a ConfigError says so before any work).

One adaptive softmax (Grave et al. 2017) over the vocabulary in order of frequency serves both directions: most
tokens cost a softmax over the 500 most frequent words plus two cluster scores, not one over the whole vocabulary.
With a path, pretraining is checkpointed (atomically) every `CHECKPOINT_SECONDS` and after every epoch; `resume=True`
continues from the last checkpoint at the batch it had reached, so a killed run loses at most that interval.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sentilstm.artifact.format import read_file, write_file
from sentilstm.artifact.schema import check_tensors
from sentilstm.config import TrainConfig, check_type
from sentilstm.errors import ArtifactError, ConfigError, TrainingError
from sentilstm.network.model import SentimentNet, length_mask
from sentilstm.system.device import autocast, resolve_device, resolve_precision
from sentilstm.system.files import writing
from sentilstm.system.threads import ThreadGovernor, thread_governor
from sentilstm.text.subwords import word_ids
from sentilstm.training.batching import bucketed_batches, collate
from sentilstm.training.checkpoint import load_optimizer, optimizer_shapes, optimizer_tensors, resume_error
from sentilstm.training.optim import make_optimizer, make_scheduler, scheduler_state

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS = 60.0  # the most work a killed pretraining loses when it is resumed
LOG_SECONDS = 30.0  # between progress lines
# adaptive softmax cutoffs: the head's words, then two clusters of rarer ones. A 2,000-word head (Grave et al.'s GPU
# choice) made the softmax 84% of a CPU step of the BiLSTM-128 (its matmuls outweigh the LSTM's); 500 halves the step
# (bench/results/train_speed_lm.md)
HEAD_WORDS = (500, 2_500)
_STATE_FIELDS = {
    "epoch": int,
    "batch": int,
    "loss_sum": float,
    "tokens": int,
    "read": int,
    "seconds": float,
    "fingerprint": str,
    "record": dict,
    "param_groups": list,
    "scheduler": dict,
}


def pretraining_checkpoint(path: Path) -> Path:
    """Where pretraining checkpoints, given the classifier's checkpoint `path`."""
    return path.with_name(f"{path.name}.lm")


def check_pretrainable(model_config: Any, train: TrainConfig) -> None:
    """ConfigError when `pretrain` is set for a network that cannot be pretrained as a language model."""
    if train.pretrain is not None and model_config.conv_channels:
        raise ConfigError(
            f"pretrain={train.pretrain!r} needs a network without a convolution front (conv_channels="
            f"{model_config.conv_channels} looks at the next tokens the language model is to predict); set "
            "conv_channels=0 or drop pretrain"
        )


@dataclass
class PretrainingEpoch:
    """One pass of the language model: mean loss per predicted token (nats), on the corpus and on validation."""

    epoch: int
    train_loss: float
    validation_loss: float | None
    tokens: int  # predictions scored (a bidirectional network predicts each token twice; see predict share)
    read: int  # tokens the encoder read
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "train_perplexity": math.exp(min(self.train_loss, 50.0)),
            "validation_perplexity": None
            if self.validation_loss is None
            else math.exp(min(self.validation_loss, 50.0)),
            "tokens_per_second": self.read / self.seconds if self.seconds > 0 else None,
        }


@dataclass
class PretrainingRecord:
    """What pretraining did, for `metrics_["pretraining"]` and the report."""

    texts: int  # corpus texts with at least two tokens
    validation_texts: int
    cutoffs: list[int]
    epochs: list[PretrainingEpoch] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        last = self.epochs[-1].to_dict() if self.epochs else {}
        return {
            "kind": "lm",
            "texts": self.texts,
            "validation_texts": self.validation_texts,
            "cutoffs": self.cutoffs,
            "layers": 1,
            "epochs": [e.to_dict() for e in self.epochs],
            "validation_perplexity": last.get("validation_perplexity"),
            "seconds": sum(e.seconds for e in self.epochs),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainingRecord:
        """From `to_dict`'s output (a checkpoint's, checked here: ArtifactError on a wrong field)."""
        try:
            epochs = [
                PretrainingEpoch(
                    int(e["epoch"]),
                    float(e["train_loss"]),
                    None if e["validation_loss"] is None else float(e["validation_loss"]),
                    int(e["tokens"]),
                    int(e["read"]),
                    float(e["seconds"]),
                )
                for e in values["epochs"]
            ]
            return cls(
                int(values["texts"]), int(values["validation_texts"]), [int(c) for c in values["cutoffs"]], epochs
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"its pretraining record is malformed ({type(exc).__name__}: {exc})") from None


class LanguageModelHead(nn.Module):
    """The output layer of both directions: -log p(token | state), summed, over the vocabulary ranked by frequency.

    Adaptive softmax when the vocabulary is large enough for its clusters to pay, else a full softmax."""

    def __init__(self, hidden_size: int, ranks: Tensor) -> None:
        super().__init__()
        self.ranks: Tensor
        self.register_buffer("ranks", ranks)  # token id -> its rank by corpus frequency (0: the most frequent)
        rows = len(ranks)
        # cluster i projects states to hidden / 4^(i+1) dimensions: kept while that is 8 or more
        self.cutoffs = [
            c for i, c in enumerate(HEAD_WORDS) if c + HEAD_WORDS[0] // 2 < rows and hidden_size // 4 ** (i + 1) >= 8
        ]
        self.adaptive = (
            nn.AdaptiveLogSoftmaxWithLoss(hidden_size, rows, self.cutoffs, div_value=4.0) if self.cutoffs else None
        )
        self.full = None if self.cutoffs else nn.Linear(hidden_size, rows)

    def forward(self, states: Tensor, targets: Tensor) -> Tensor:
        """Summed negative log-likelihood of `targets` (n,) given `states` (n, hidden)."""
        ranked = self.ranks[targets]
        if self.adaptive is not None:
            return self.adaptive(states, ranked).loss * len(ranked)
        assert self.full is not None
        return nn.functional.cross_entropy(self.full(states).float(), ranked, reduction="sum")


def frequency_ranks(ids: Sequence[np.ndarray], rows: int) -> Tensor:
    """Each token id's rank by its count in `ids` (ties by id), as the adaptive softmax wants its classes."""
    words = np.concatenate([word_ids(x) for x in ids]) if len(ids) else np.zeros(0, dtype=np.int64)
    counts = np.bincount(words, minlength=rows)[:rows]
    ranks = np.empty(rows, dtype=np.int64)
    ranks[np.argsort(-counts, kind="stable")] = np.arange(rows)
    return torch.from_numpy(ranks)


def language_model_loss(
    net: SentimentNet, head: LanguageModelHead, ids: Tensor, lengths: Tensor, share: float = 1.0
) -> tuple[Tensor, int]:
    """The summed negative log-likelihood of a batch's predictions (next token forward, previous token backward)
    and how many there are; padding predicts and is predicted by nothing. With `share` < 1, each direction scores
    a random subset of about that share of its predictions (torch's RNG; at least one): the states of every token
    are still computed, only the softmax is spared."""
    words = ids[..., 0] if ids.dim() == 3 else ids
    forward, backward = net.language_model_states(ids, lengths)
    valid = length_mask(lengths - 1, words.shape[1] - 1)  # step t predicts t + 1 (and t + 1 predicts t backwards)
    scored = _sampled(valid, share)
    loss = head(net.sequence_dropout(forward)[:, :-1][scored], words[:, 1:][scored])
    count = int(scored.sum())
    if backward is not None:
        scored = _sampled(valid, share)
        loss = loss + head(net.sequence_dropout(backward)[:, 1:][scored], words[:, :-1][scored])
        count += int(scored.sum())
    return loss, count


def _sampled(valid: Tensor, share: float) -> Tensor:
    """`valid` with each True kept with probability `share`; all of it when that would keep none."""
    if share >= 1.0:
        return valid
    kept = valid & (torch.rand(valid.shape, device=valid.device) < share)
    return kept if bool(kept.any()) else valid


def encoder_state(net: SentimentNet) -> dict[str, Tensor]:
    """The weights pretraining sets (embeddings and the first recurrent layer), copied: they start other networks
    of the same configuration (an ensemble's members) where this one started."""
    prefixes = ("embedding.", "ngram_embedding.", "forward_rnns.0.", "backward_rnns.0.")
    return {k: v.detach().clone() for k, v in net.state_dict().items() if k.startswith(prefixes)}


def pretrain_language_model(
    net: SentimentNet,
    corpus: Sequence[np.ndarray],
    validation: Sequence[np.ndarray],
    config: TrainConfig,
    *,
    checkpoint: Path | None = None,
    resume: bool = False,
) -> PretrainingRecord:
    """Train `net`'s embeddings and first recurrent layer as language models on `corpus` (encoded texts) for
    `config.pretrain_epochs`, reporting perplexity on `validation`; `net` ends in eval mode."""
    config.validate()
    device = resolve_device(config.device)
    governor = thread_governor(config.num_threads, what="language-model pretraining") if device.type == "cpu" else None
    corpus = [x for x in corpus if len(x) > 1]  # a one-token text has nothing to predict
    if not corpus:
        raise ConfigError("pretrain='lm' found no text of two tokens or more to learn from; drop pretrain")
    run = _Run(net, corpus, [x for x in validation if len(x) > 1], config, device, governor, checkpoint)
    if resume and checkpoint is not None and checkpoint.is_file():
        run.restore(checkpoint)
    else:
        torch.manual_seed(config.seed)
    return run()


class _Run:
    """The state of one pretraining: modules, optimiser, schedule, position, record."""

    def __init__(
        self,
        net: SentimentNet,
        corpus: list[np.ndarray],
        validation: list[np.ndarray],
        config: TrainConfig,
        device: torch.device,
        governor: ThreadGovernor | None,
        checkpoint: Path | None,
    ) -> None:
        self.net, self.corpus, self.validation, self.config = net, corpus, validation, config
        self.device, self.governor, self.checkpoint = device, governor, checkpoint
        self.precision = resolve_precision(config.precision, device)
        head = LanguageModelHead(net.config.hidden_size, frequency_ranks(corpus, net.config.embedding_rows))
        self.modules = nn.ModuleDict({"net": net, "head": head}).to(device)
        self.head = head
        self.lengths = np.fromiter((len(x) for x in corpus), dtype=np.int64, count=len(corpus))
        self.steps_per_epoch = -(-len(corpus) // config.batch_size)
        lm = dataclasses.replace(config, learning_rate=config.pretrain_learning_rate, schedule="linear")
        self.optimizer = make_optimizer(self.modules, lm)
        self.scheduler = make_scheduler(self.optimizer, lm, self.steps_per_epoch * config.pretrain_epochs)
        self.epoch, self.batch, self.loss_sum, self.tokens, self.read, self.seconds = 1, 0, 0.0, 0, 0, 0.0
        self.record = PretrainingRecord(len(corpus), len(validation), head.cutoffs)
        self.fingerprint = _fingerprint(corpus, config, net.config.embedding_rows)

    def __call__(self) -> PretrainingRecord:
        log.info(
            "language-model pretraining on %d texts (%d validation), %d batches/epoch, %d epoch%s, device %s, %s",
            len(self.corpus),
            len(self.validation),
            self.steps_per_epoch,
            self.config.pretrain_epochs,
            "" if self.config.pretrain_epochs == 1 else "s",
            self.device,
            self.precision,
        )
        while self.epoch <= self.config.pretrain_epochs:
            self._epoch()
        self.net.eval()
        return self.record

    def _epoch(self) -> None:
        config = self.config
        batches = bucketed_batches(
            self.lengths, config.batch_size, config.bucket_pool, np.random.default_rng([config.seed, self.epoch])
        )
        self.modules.train()
        saved_at = logged_at = time.monotonic()
        for index in range(self.batch, len(batches)):
            started = time.perf_counter()
            self._step(batches[index])
            self.seconds += time.perf_counter() - started
            self.batch = index + 1
            now = time.monotonic()
            if now - logged_at >= LOG_SECONDS:
                self._progress(len(batches))
                logged_at = now
            if self.checkpoint is not None and now - saved_at >= CHECKPOINT_SECONDS and self.batch < len(batches):
                self.save(self.checkpoint)
                saved_at = now
        self.record.epochs.append(
            PretrainingEpoch(
                self.epoch,
                self.loss_sum / max(self.tokens, 1),
                self._validation_loss(),
                self.tokens,
                self.read,
                self.seconds,
            )
        )
        log.info("language model epoch %d/%d: %s", self.epoch, config.pretrain_epochs, _summary(self.record.epochs[-1]))
        self.epoch, self.batch, self.loss_sum, self.tokens, self.read, self.seconds = self.epoch + 1, 0, 0.0, 0, 0, 0.0
        if self.checkpoint is not None:
            self.save(self.checkpoint)

    def _step(self, index: np.ndarray) -> None:
        ids, lengths = collate(self.corpus, index, self.device)
        started = time.perf_counter()
        with autocast(self.device, self.precision):
            total, count = language_model_loss(self.net, self.head, ids, lengths, self.config.pretrain_predict_share)
        loss = total.float() / max(count, 1)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"the language model's loss became {loss.item()}; lower pretrain_learning_rate or use precision='fp32'"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.modules.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.loss_sum += float(total.item())
        self.tokens += count
        self.read += int(lengths.sum())
        if self.governor is not None:
            self.governor.record(ids.numel(), time.perf_counter() - started)

    def _progress(self, batches: int) -> None:
        rate = self.read / self.seconds if self.seconds > 0 else 0.0
        left = (batches - self.batch) * self.seconds / max(self.batch, 1)
        log.info(
            "language model epoch %d/%d: %d%%, %s tokens/s, perplexity %.1f, about %.0f s left in this epoch",
            self.epoch,
            self.config.pretrain_epochs,
            100 * self.batch // batches,
            f"{rate:,.0f}",
            math.exp(min(self.loss_sum / max(self.tokens, 1), 50.0)),
            left,
        )

    @torch.no_grad()
    def _validation_loss(self) -> float | None:
        if not self.validation:
            return None
        self.modules.eval()
        total, count = 0.0, 0
        lengths = np.fromiter((len(x) for x in self.validation), dtype=np.int64, count=len(self.validation))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), self.config.batch_size):
            ids, batch_lengths = collate(self.validation, order[start : start + self.config.batch_size], self.device)
            with autocast(self.device, self.precision):
                loss, n = language_model_loss(self.net, self.head, ids, batch_lengths)
            total, count = total + float(loss.float().item()), count + n
        self.modules.train()
        return total / max(count, 1)

    def save(self, path: Path) -> None:
        tensors = {f"model.{k}": v for k, v in self.modules.state_dict().items()}
        tensors.update(optimizer_tensors(self.optimizer))
        tensors["rng.torch"] = torch.get_rng_state()
        position = {
            "epoch": self.epoch,
            "batch": self.batch,
            "loss_sum": self.loss_sum,
            "tokens": self.tokens,
            "read": self.read,
            "seconds": self.seconds,
            "fingerprint": self.fingerprint,
            "record": self.record.to_dict(),
            "param_groups": self.optimizer.state_dict()["param_groups"],
            "scheduler": scheduler_state(self.scheduler),
        }
        with writing(path):
            write_file(path, tensors, {"pretraining": position}, kind="checkpoint")

    def restore(self, path: Path) -> None:
        """Continue from a checkpoint `save` wrote for this corpus and these settings (ArtifactError otherwise)."""
        tensors, payload = read_file(path, kind="checkpoint")
        try:
            position = self._checked(tensors, payload)
        except (ArtifactError, ConfigError) as exc:
            raise resume_error(path, exc) from None
        self.modules.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        load_optimizer(self.optimizer, tensors, position["param_groups"], self.device)
        self.scheduler.load_state_dict({**self.scheduler.state_dict(), **position["scheduler"]})
        torch.set_rng_state(tensors["rng.torch"])
        self.epoch, self.batch = position["epoch"], position["batch"]
        self.loss_sum, self.tokens, self.read = position["loss_sum"], position["tokens"], position["read"]
        self.seconds = position["seconds"]
        self.record = PretrainingRecord.from_dict(position["record"])
        log.info("language-model pretraining resumed at epoch %d, batch %d", self.epoch, self.batch)

    def _checked(self, tensors: dict[str, Tensor], payload: dict[str, Any]) -> dict[str, Any]:
        position = payload.get("pretraining")
        if not isinstance(position, dict):
            raise ArtifactError("it holds no language-model pretraining state")
        for key, kind in _STATE_FIELDS.items():
            if key not in position:
                raise ArtifactError(f"the file has no 'pretraining.{key}'")
            check_type(f"pretraining.{key}", position[key], kind, finite=True)
        if position["fingerprint"] != self.fingerprint:
            raise ArtifactError("it was made from other texts or settings; resume with the same data and options")
        if not (
            1 <= position["epoch"] <= self.config.pretrain_epochs + 1 and 0 <= position["batch"] <= self.steps_per_epoch
        ):
            raise ArtifactError(f"its position (epoch {position['epoch']}, batch {position['batch']}) is out of range")
        expected = {f"model.{k}": (tuple(v.shape), v.dtype) for k, v in self.modules.state_dict().items()}
        expected.update(optimizer_shapes(tensors, self.optimizer))
        expected["rng.torch"] = (tuple(torch.get_rng_state().shape), torch.uint8)
        check_tensors(expected, tensors, exact=True, finite=False)
        PretrainingRecord.from_dict(position["record"])
        return position


def _fingerprint(corpus: Sequence[np.ndarray], config: TrainConfig, rows: int) -> str:
    """The corpus and the settings a checkpoint belongs to."""
    settings = (
        config.pretrain_epochs,
        config.pretrain_learning_rate,
        config.pretrain_predict_share,
        config.batch_size,
        config.seed,
        rows,
    )
    digest = hashlib.sha256(repr(settings).encode())
    for row in corpus:
        digest.update(row.astype(np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()[:16]


def _summary(epoch: PretrainingEpoch) -> str:
    shown = epoch.to_dict()
    validation = (
        "" if epoch.validation_loss is None else f", validation perplexity {shown['validation_perplexity']:.1f}"
    )
    rate = shown["tokens_per_second"] or 0.0
    return f"perplexity {shown['train_perplexity']:.1f}{validation}, {rate:,.0f} tokens/s, {epoch.seconds:.0f} s"


__all__ = [
    "CHECKPOINT_SECONDS",
    "LanguageModelHead",
    "PretrainingEpoch",
    "PretrainingRecord",
    "check_pretrainable",
    "pretraining_checkpoint",
    "encoder_state",
    "frequency_ranks",
    "language_model_loss",
    "pretrain_language_model",
]
