"""The pretraining steps of `fit`: language-model pretraining of the encoder (`pretrain="lm"`), or the encoder a
file holds (`pretrained_encoder=FILE`), and the encoder file itself, so that tuning and cross-validation reuse one
pretraining instead of redoing it.

    encoder = pretrain_encoder(net, settings, text, data, checkpoint, resume=False, resumed=False)  # or None
    record = pretrain_to_file(settings, texts, "imdb.encoder")     # what `sentilstm pretrain` does
    pretrained = read_encoder("imdb.encoder")                      # checked: EncoderFile
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentilstm.artifact.format import library_versions, read_file, write_file
from sentilstm.artifact.schema import check_tensors, meta_network, part
from sentilstm.config import ModelConfig, TextConfig, from_dict
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.estimators.steps import encoded_unlabeled, new_network
from sentilstm.network.model import SentimentNet
from sentilstm.system.files import check_outputs
from sentilstm.text.pipeline import TextPipeline
from sentilstm.text.tokenizers import TextTokenizer
from sentilstm.training.language_model import (
    PretrainingRecord,
    encoder_state,
    pretrain_language_model,
    pretraining_checkpoint,
)

log = logging.getLogger(__name__)
# the settings an encoder fixes: a classifier built on it must have the same (ModelConfig's; TextConfig's all are)
ENCODER_FIELDS = ("embedding_dim", "hidden_size", "cell", "bidirectional")


@dataclass
class PretrainedEncoder:
    """What pretraining did (`metrics_["pretraining"]`), and the encoder weights it left (they start the network and
    an ensemble's other members)."""

    record: dict[str, Any]
    state: dict[str, torch.Tensor]


@dataclass
class EncoderFile:
    """A pretrained encoder read from its file: the text pipeline it was trained with, its network settings, its
    weights and its pretraining record."""

    path: str
    pipeline: TextPipeline
    model_config: ModelConfig
    state: dict[str, torch.Tensor]
    record: dict[str, Any]

    def saved_text(self) -> dict[str, Any]:
        """The pipeline as `steps.fit_text_pipeline` takes a saved one."""
        return {"text_config": dataclasses.asdict(self.pipeline.config), "tokenizer": self.pipeline.tokenizer.to_json()}


def state_of(encoder: PretrainedEncoder | EncoderFile | None) -> dict[str, torch.Tensor] | None:
    """A pretrained encoder's weights, or an encoder file's (None without either)."""
    return encoder.state if encoder is not None else None


def read_pretrained(settings: Any) -> EncoderFile | None:
    """The encoder file `settings.embedding.pretrained_encoder` names, checked against the other settings (None
    when there is none)."""
    path = settings.embedding.pretrained_encoder
    if path is None:
        return None
    encoder = read_encoder(path)
    check_encoder_settings(settings, encoder)
    return encoder


def pretrain_encoder(
    net: SentimentNet,
    settings: Any,
    text: Any,
    data: Any,
    checkpoint: Path | None,
    *,
    resume: bool,
    resumed: bool,
    pretrained: EncoderFile | None = None,
) -> PretrainedEncoder | None:
    """Language-model pretraining of `net`'s encoder (`pretrain="lm"`) on the training split's and the unlabelled
    texts, with perplexity on the validation split; or the `pretrained` file's encoder (already in `net`); None
    without either. With `checkpoint` (the classifier's) pretraining checkpoints beside it and `resume` continues from
    there; a `resumed` classifier whose pretraining checkpoint is gone has the weights in its own checkpoint:
    pretraining is skipped then."""
    if pretrained is not None:
        return PretrainedEncoder({**pretrained.record, "encoder_file": pretrained.path}, pretrained.state)
    if settings.train.pretrain is None:
        return None
    path = pretraining_checkpoint(checkpoint) if checkpoint is not None else None
    if resumed and (path is None or not path.is_file()):
        log.warning("resuming training without its pretraining checkpoint: the model file will not record pretraining")
        return None
    corpus = text.train_ids + encoded_unlabeled(text, data)
    validation = text.pipeline.encode(data.val_texts)
    record = pretrain_language_model(net, corpus, validation, settings.train, checkpoint=path, resume=resume)
    return PretrainedEncoder(record.to_dict(), encoder_state(net))


def pretrain_to_file(
    settings: Any, texts: list[str], out: str | Path, *, checkpoint: str | Path | None = None, resume: bool = False
) -> dict[str, Any]:
    """Pretrain an encoder on `texts` alone (no labels; `settings.train.validation_fraction` of them, at random,
    held out for perplexity) and write it to `out` for `pretrained_encoder=out`; its pretraining record. With a
    `checkpoint` path pretraining is checkpointed there (removed once `out` is written) and `resume` continues it."""
    check_outputs({"out": out, "checkpoint": checkpoint}, {})
    if settings.train.pretrain is None:
        raise ConfigError("pretraining an encoder file needs pretrain='lm' (--pretrain lm)")
    if len(texts) < 2:
        raise ConfigError(f"pretraining needs at least 2 texts, got {len(texts)}")
    order = np.random.default_rng(settings.train.seed).permutation(len(texts))
    held = max(1, int(len(texts) * settings.train.validation_fraction))
    corpus, validation = [texts[i] for i in order[held:]], [texts[i] for i in order[:held]]
    pipeline, ids = TextPipeline.fit(corpus, settings.text)
    subwords = pipeline.subwords
    config = dataclasses.replace(
        settings.model,
        embedding_rows=pipeline.tokenizer.vocab_size,
        num_classes=2,  # the head is not saved: any classifier built on the encoder has its own
        ngram_rows=subwords.buckets + 1 if subwords is not None else 0,
    )
    net = new_network(config, None, settings.train, ids)  # seeded, and refused when it would not fit in memory
    path = Path(checkpoint) if checkpoint is not None else None
    record = pretrain_language_model(
        net, ids, pipeline.encode(validation), settings.train, checkpoint=path, resume=resume
    ).to_dict()
    write_file(out, encoder_state(net), _payload(pipeline, config, record), kind="encoder")
    if path is not None:
        path.unlink(missing_ok=True)
    return record


def _payload(pipeline: TextPipeline, config: ModelConfig, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "text_config": dataclasses.asdict(pipeline.config),
        "tokenizer": pipeline.tokenizer.to_json(),
        "model_config": dataclasses.asdict(config),
        "pretraining": record,
        "versions": library_versions(),
    }


def read_encoder(path: str | Path) -> EncoderFile:
    """An encoder file written by `pretrain_to_file`, every part checked against the others (ArtifactError naming the
    problem)."""
    tensors, payload = read_file(path, kind="encoder")
    try:
        text_config = from_dict(TextConfig, part(payload, "text_config"), "text_config", strict=True)
        config = from_dict(ModelConfig, part(payload, "model_config"), "model_config", strict=True)
        if text_config.max_length is None:
            raise ArtifactError("text_config.max_length must be set, got null")
        ngram_rows = text_config.ngram_buckets + 1 if text_config.ngram_sizes else 0
        if config.ngram_rows != ngram_rows or config.members != 1 or config.conv_channels:
            raise ArtifactError("model_config does not describe an encoder sentilstm pretrains (n-gram rows, members)")
        expected = {k: (tuple(v.shape), v.dtype) for k, v in encoder_state(meta_network(config)).items()}  # type: ignore[arg-type]
        check_tensors(expected, tensors, exact=True)
        tokenizer = TextTokenizer.from_json(part(payload, "tokenizer", str), embedding_rows=config.embedding_rows)
        record = PretrainingRecord.from_dict(part(payload, "pretraining")).to_dict()
    except (ArtifactError, ConfigError) as exc:
        raise ArtifactError(
            f"{str(path)!r} cannot be used as a pretrained encoder: {exc}; make it again with `sentilstm pretrain`"
        ) from None
    return EncoderFile(str(path), TextPipeline(text_config, tokenizer), config, tensors, record)


def check_encoder_settings(settings: Any, encoder: EncoderFile) -> None:
    """ConfigError unless a classifier with `settings` can start from `encoder`: the same text settings (a
    max_length left to the data takes the encoder's) and the same embedding size, cell, width and directions."""
    if settings.train.pretrain is not None:
        raise ConfigError("give pretrain (pretrain now) or pretrained_encoder (pretrained before), not both")
    if settings.embedding.embeddings is not None or settings.embedding.pretrain_method is not None:
        raise ConfigError("pretrained_encoder brings its own embeddings: drop embeddings and pretrain_embeddings")
    if settings.model.conv_channels:
        raise ConfigError("pretrained_encoder needs conv_channels=0: the encoder's first layer reads the embeddings")
    saved = dataclasses.asdict(encoder.pipeline.config)
    given = dataclasses.asdict(settings.text)
    differ = [f"{k}={given[k]!r} (the encoder's: {saved[k]!r})" for k in saved if given[k] != saved[k]]
    differ = [d for d in differ if not (d.startswith("max_length=") and given["max_length"] is None)]
    differ += [
        f"{k}={getattr(settings.model, k)!r} (the encoder's: {getattr(encoder.model_config, k)!r})"
        for k in ENCODER_FIELDS
        if getattr(settings.model, k) != getattr(encoder.model_config, k)
    ]
    if differ:
        raise ConfigError(
            f"pretrained_encoder {encoder.path!r} was made with other settings: {', '.join(differ)}; use its "
            "settings or pretrain again with yours"
        )


__all__ = [
    "ENCODER_FIELDS",
    "EncoderFile",
    "PretrainedEncoder",
    "check_encoder_settings",
    "pretrain_encoder",
    "pretrain_to_file",
    "read_encoder",
    "read_pretrained",
    "state_of",
]
