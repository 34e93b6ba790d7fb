"""The named steps of `SentimentClassifier.fit`, each a function returning a small dataclass, testable alone.

    settings = check_settings(TextConfig(), ModelConfig(), TrainConfig(),
                              EmbeddingConfig(), AugmentConfig(), BlendConfig())
    data = prepare_data(texts, labels, None, settings.train)                  # label map, stratified hold-out
    text = fit_text_pipeline(data.texts, settings.text)                       # normaliser + tokenizer, training ids
    vectors = initial_vectors(settings, text, data, resumed=False)          # pretrained, in-domain or none
    rows = augment_training(settings, data, text, vectors.matrix)             # the rows the network trains on
    net = new_network(network_config(settings, text, data, vectors), vectors.matrix, settings.train, rows.ids,
                      vectors.ngrams)                                         # n-grams: fastText .bin only
    history = train_network(net, rows, data, text, settings.train)            # the training loop
    blend = fit_blend_step(settings.blend, ...); scores = score_validation(...)   # rank 0's work alone

`SentimentClassifier.fit` runs them in this order; resuming from a checkpoint passes its payload as `saved`. Between
training and the blend, `ensembles.train_members` trains an ensemble's other members (`ensemble` > 1); after the
blend, `distillation.distil` trains the distilled network (`distill`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from sentilstm.config import (
    AugmentConfig,
    BlendConfig,
    EmbeddingConfig,
    ModelConfig,
    TextConfig,
    TrainConfig,
    from_dict,
)
from sentilstm.data.inputs import read_labelled, read_texts
from sentilstm.data.labels import Label, LabelMap, check_labels, stratified_split
from sentilstm.errors import ConfigError, DataError
from sentilstm.estimators.augmenting import augment_operations, augmented_rows, needs_neighbours
from sentilstm.estimators.blend import FittedBlend, fit_blend
from sentilstm.estimators.evaluation import Predictions
from sentilstm.estimators.vectors import InitialVectors, initialise_embeddings, resolve_auto_vectors
from sentilstm.network.model import SentimentNet
from sentilstm.report.profiling import DataProfile
from sentilstm.system.device import resolve_device
from sentilstm.system.memory import check_fits
from sentilstm.text.pipeline import TextPipeline
from sentilstm.text.tokenizers import TextTokenizer
from sentilstm.training import distributed
from sentilstm.training.language_model import check_pretrainable
from sentilstm.training.loop import CheckpointSpec, EncodedSplit, History, TrainingCallback, fit

log = logging.getLogger(__name__)


@dataclass
class Settings:
    """Every validated setting of a fit; `operations` are the augmentation operations "eda" etc. stand for."""

    text: TextConfig
    model: ModelConfig  # without embedding_rows and num_classes, which the data decide
    train: TrainConfig
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)
    operations: list[str] = field(default_factory=list)


@dataclass
class PreparedData:
    """The labelled texts split into training and validation, labels as class ids of `label_map`."""

    label_map: LabelMap
    texts: list[str]
    targets: np.ndarray
    val_texts: list[str]
    val_targets: np.ndarray
    unlabeled: list[str] = field(default_factory=list)
    unlabeled_ids: list[np.ndarray] | None = None  # `unlabeled` encoded, once (`encoded_unlabeled`)


@dataclass
class FittedText:
    """The text pipeline and the training split's token ids (before augmentation)."""

    pipeline: TextPipeline
    train_ids: list[np.ndarray]


@dataclass
class TrainingRows:
    """What the network trains on: the training split's ids plus any augmented rows (`texts`: theirs)."""

    ids: list[np.ndarray]
    targets: np.ndarray
    augmentation: dict[str, Any] | None = None  # what augmentation did, when it ran
    texts: list[str] | None = None

    @property
    def longest(self) -> int:
        return max((len(x) for x in self.ids), default=1)


@dataclass
class ValidationScores:
    """The full prediction's scores on the validation split, and a profile of the data."""

    predictions: Predictions
    report: Any
    data_profile: dict[str, Any]


def encoded_unlabeled(text: FittedText, data: PreparedData) -> list[np.ndarray]:
    """The unlabelled texts as token ids, encoded on first use and kept: pretraining, VAT (once per network of an
    ensemble) and distillation's transfer set all read them."""
    if data.unlabeled_ids is None:
        data.unlabeled_ids = text.pipeline.encode(data.unlabeled)
    return data.unlabeled_ids


def check_settings(
    text: TextConfig,
    model: ModelConfig,
    train: TrainConfig,
    embedding: EmbeddingConfig,
    augment: AugmentConfig,
    blend: BlendConfig,
) -> Settings:
    """Validate every config (ConfigError naming the setting) and check that the network, without its vocabulary
    (unknown until the tokenizer is trained), fits in the memory there is."""
    for config in (text, train, model, blend, embedding):
        config.validate()
    if embedding.pretrained_encoder is not None and not Path(embedding.pretrained_encoder).is_file():
        raise ConfigError(
            f"pretrained_encoder file {str(embedding.pretrained_encoder)!r} does not exist; give the path of a file "
            "`sentilstm pretrain` wrote"
        )
    if embedding.embeddings is not None and not Path(embedding.embeddings).is_file():
        raise ConfigError(
            f"embeddings file {str(embedding.embeddings)!r} does not exist; give the path of a GloVe, "
            "word2vec or fastText vectors file"
        )
    if train.distill is not None and distributed.launched():
        raise ConfigError(
            "distillation does not run under torchrun: train the teacher there and save it, then distil it on one "
            "process with distill='teacher.sentilstm'"
        )
    if train.pretrain is not None and distributed.launched():
        raise ConfigError(
            "pretrain does not run under torchrun: pretrain on one process (pretrain='lm', then train there), or "
            "train under torchrun without pretrain"
        )
    if train.adversarial is not None and distributed.launched():
        raise ConfigError(
            "adversarial training does not run under torchrun yet: train with adversarial on one process, or "
            "without it under torchrun"
        )
    check_pretrainable(model, train)
    if train.ensemble > 1 and distributed.launched():
        raise ConfigError(
            "ensemble does not run under torchrun: train its members there one seed at a time, or run ensemble="
            f"{train.ensemble} on one process"
        )
    operations = augment_operations(augment)
    check_fits(
        dataclasses.replace(model, embedding_rows=2),
        batch_size=1,
        sequence_length=1,
        device=resolve_device(train.device),
    )
    return Settings(text, model, train, embedding, augment, blend, operations)


def warn_about(settings: Settings) -> None:
    """Log a warning for settings that work but work against each other."""
    train = settings.train
    if train.class_weight is not None and train.sampling != "none":
        log.warning(
            "class_weight=%r and sampling=%r both rebalance the classes; together they over-correct "
            "towards the small classes, use one of them",
            train.class_weight,
            train.sampling,
        )


def check_inputs(
    X: Any, y: Iterable[Label] | None, unlabeled: Iterable[str] | None, columns: tuple[str | None, str | None]
) -> tuple[list[str], list[Label], list[str]]:
    """The texts, labels and unlabelled texts as lists, checked (DataError naming the argument): any input kind of
    `sentilstm.data.inputs`, a DataFrame `X` holding the labels too when `y` is None; `columns`: (text, label)."""
    texts, labels = read_labelled(X, y, text_column=columns[0], label_column=columns[1])
    others = read_texts(unlabeled, "unlabeled").texts if unlabeled is not None else []
    return texts, labels, others


def prepare_data(
    texts: list[str],
    labels: list[Label],
    validation: tuple[Iterable[str], Iterable[Label]] | pd.DataFrame | None,
    config: TrainConfig,
    *,
    label_values: list[Any] | None = None,
    unlabeled: list[str] | None = None,
) -> PreparedData:
    """Class ids for the labels (`label_values`: a resumed run's), and the validation split: `validation` as given,
    else a stratified hold-out of `config.validation_fraction` drawn with `config.seed`."""
    label_map = LabelMap(label_values) if label_values else LabelMap.fit(labels)
    targets = label_map.encode(labels)
    if validation is None:
        train_index, val_index = stratified_split(targets, config.validation_fraction, config.seed)
        return PreparedData(
            label_map,
            [texts[i] for i in train_index],
            targets[train_index],
            [texts[i] for i in val_index],
            targets[val_index],
            unlabeled or [],
        )
    if isinstance(validation, pd.DataFrame):  # its text and label columns, inferred as the training frame's
        val_texts, val_labels = read_labelled(validation, None)
    elif not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise DataError(
            f"validation must be a pair (texts, labels) or a DataFrame, got {type(validation).__name__} "
            f"{str(validation)[:60]!r}; or validation=None for a stratified hold-out"
        )
    else:
        val_texts, val_labels = (
            read_texts(validation[0], "validation texts").texts,
            check_labels(validation[1], "validation labels"),
        )
    if not val_texts or len(val_texts) != len(val_labels):
        raise DataError(
            f"validation has {len(val_texts)} texts and {len(val_labels)} labels; give the same "
            "number of each, at least one, or validation=None for a stratified hold-out"
        )
    return PreparedData(label_map, texts, targets, val_texts, label_map.encode(val_labels), unlabeled or [])


def fit_text_pipeline(texts: list[str], config: TextConfig, saved: dict[str, Any] | None = None) -> FittedText:
    """Fit the normaliser and tokenizer on the training texts (a resumed run's `saved` ones are reused)."""
    if saved:
        pipeline = TextPipeline(
            from_dict(TextConfig, saved["text_config"]), TextTokenizer.from_json(saved["tokenizer"])
        )
        return FittedText(
            pipeline, pipeline.encode_training(texts)
        )  # records the lengths before truncation, as fit does
    pipeline, train_ids = TextPipeline.fit(texts, config)
    return FittedText(pipeline, train_ids)


def initial_vectors(settings: Settings, text: FittedText, data: PreparedData, *, resumed: bool) -> InitialVectors:
    """`initialise_embeddings` as fit runs it: a resumed fit has the vectors in its checkpoint's weights, and makes
    them again only when embedding-neighbour synonyms draw on them (then with one worker: they are training data)."""
    exact = needs_vectors_on_resume(settings)
    if resumed and not exact:
        return InitialVectors()
    workers = 1 if exact else settings.train.num_threads or 2
    dim, seed = settings.model.embedding_dim, settings.train.seed
    return initialise_embeddings(settings.embedding, text, data.unlabeled, dim=dim, seed=seed, workers=workers)


def network_config(
    settings: Settings,
    text: FittedText,
    data: PreparedData,
    vectors: InitialVectors,
    saved: dict[str, Any] | None = None,
) -> ModelConfig:
    """The network's ModelConfig: the embedding table has a row per token of the fitted tokenizer (however many the
    vocabulary cap `TextConfig.vocab_size` allowed), a class per label, and the vectors' dimension when given."""
    subwords = text.pipeline.subwords
    config = dataclasses.replace(
        settings.model,
        embedding_rows=text.pipeline.tokenizer.vocab_size,
        num_classes=len(data.label_map),
        ngram_rows=subwords.buckets + 1 if subwords is not None else 0,
    )
    if vectors.matrix is not None:
        config = dataclasses.replace(config, embedding_dim=vectors.matrix.shape[1])
    elif saved and settings.embedding.embeddings is not None:  # resumed without reading the file again
        config = dataclasses.replace(config, embedding_dim=saved["model_config"]["embedding_dim"])
    return config


def augment_training(
    settings: Settings, data: PreparedData, text: FittedText, vectors: np.ndarray | None
) -> TrainingRows:
    """The training split's rows plus, when `settings.operations` ask for it, augmented copies of its texts."""
    if not settings.operations:
        return TrainingRows(text.train_ids, data.targets, texts=data.texts)
    added = augmented_rows(
        data.texts,
        data.targets,
        text.pipeline,
        vectors,
        settings.operations,
        settings.augment,
        data.unlabeled,
        seed=settings.train.seed,
    )
    return TrainingRows(
        text.train_ids + text.pipeline.encode(added.texts),
        np.concatenate([data.targets, added.targets]),
        added.summary,
        data.texts + list(added.texts),
    )


def needs_vectors_on_resume(settings: Settings) -> bool:
    """Whether a resumed fit must make the initial vectors again: embedding-neighbour synonyms draw on them, so the
    augmented rows come out the same."""
    return needs_neighbours(settings.augment, settings.operations)


def new_network(
    config: ModelConfig,
    vectors: np.ndarray | None,
    train: TrainConfig,
    ids: list[np.ndarray],
    ngrams: np.ndarray | None = None,
    encoder: dict[str, torch.Tensor] | None = None,
) -> SentimentNet:
    """A seeded network, its embedding layer initialised with `vectors` (and its n-gram table with `ngrams`);
    MemoryError-like ConfigError unless it trains on the longest of `ids` in the memory there is."""
    longest = max((len(x) for x in ids), default=1)
    check_fits(
        config, batch_size=min(train.batch_size, len(ids)), sequence_length=longest, device=resolve_device(train.device)
    )
    torch.manual_seed(train.seed)
    net = SentimentNet(config)
    if vectors is not None:
        with torch.no_grad():
            net.embedding.weight.copy_(torch.from_numpy(vectors))
    if ngrams is not None and net.ngram_embedding is not None:
        with torch.no_grad():
            net.ngram_embedding.weight.copy_(torch.from_numpy(ngrams))
    if encoder is not None:  # a pretrained encoder (pretraining.PretrainedEncoder); the rest keeps this seed's weights
        net.load_state_dict(encoder, strict=False)
    return net


def class_weights(class_weight: Any, label_map: LabelMap, targets: np.ndarray) -> torch.Tensor | None:
    """Loss weights per class id: None, "balanced" (n / (K * count_k), as in scikit-learn) or label -> weight."""
    if class_weight is None:
        return None
    counts = np.bincount(targets, minlength=len(label_map)).astype(np.float64)
    if class_weight == "balanced":
        return torch.tensor(len(targets) / (len(label_map) * np.maximum(counts, 1)), dtype=torch.float32)
    weights = {str(k): float(v) for k, v in class_weight.items()}
    unknown = set(weights) - {str(label) for label in label_map.labels}
    if unknown:
        raise ConfigError(f"class_weight names labels {sorted(unknown)} that are not in the data {label_map.labels}")
    return torch.tensor([weights.get(str(label), 1.0) for label in label_map.labels], dtype=torch.float32)


def train_network(
    net: SentimentNet,
    rows: TrainingRows,
    data: PreparedData,
    text: FittedText,
    config: TrainConfig,
    *,
    checkpoint: CheckpointSpec | None = None,
    resume: tuple[dict[str, Any], dict[str, Any]] | None = None,
    callbacks: list[TrainingCallback] | None = None,
    teacher: np.ndarray | None = None,
) -> History:
    """Train `net` on `rows` with the training loop (`callbacks` among its built-in ones), validate on `data`'s
    validation split; `net` ends in eval mode. `teacher`: probabilities per row to distil (see distillation). With
    adversarial="vat" the unlabelled texts get VAT's term too."""
    unlabeled = encoded_unlabeled(text, data) if config.adversarial == "vat" and data.unlabeled else None
    history = fit(
        net,
        EncodedSplit(rows.ids, rows.targets, teacher, unlabeled),
        EncodedSplit(text.pipeline.encode(data.val_texts), data.val_targets),
        config,
        labels=data.label_map.labels,
        class_weights=class_weights(config.class_weight, data.label_map, rows.targets),
        checkpoint=checkpoint,
        resume=resume,
        callbacks=callbacks,
    )
    net.eval()  # a trained model predicts and explains; training mode would only ever be a trap
    return history


def lead_process() -> bool:
    """Whether this process does the work after training (blend, scores, profile): not another torchrun rank."""
    return not distributed.launched() or distributed.is_main_process()


def fit_blend_step(
    config: BlendConfig,
    network: Callable[[list[str]], np.ndarray],
    data: PreparedData,
    classes: list[Any],
    train: TrainConfig,
) -> FittedBlend | None:
    """The linear partner and its weight (`fit_blend`; the classifier's sampling, seed and monitored score); None
    on another torchrun rank."""
    if not lead_process():
        return None
    if config.blend is None:
        return FittedBlend()
    return fit_blend(
        config,
        network(data.val_texts),
        data.texts,
        data.label_map.decode(data.targets),
        data.val_texts,
        data.val_targets,
        classes,
        sampling=train.sampling,
        seed=train.seed,
        monitor=train.monitor,
    )


def score_validation(
    predict_proba: Callable[[list[str]], np.ndarray],
    data: PreparedData,
    text: FittedText,
    rows: TrainingRows,
) -> ValidationScores | None:
    """The full prediction (blend included) scored on the validation split, and the data profile; None on another
    torchrun rank."""
    if not lead_process():
        return None
    predictions = Predictions(data.val_texts, data.val_targets, predict_proba(data.val_texts), data.label_map.labels)
    pipeline = text.pipeline
    profile = DataProfile.build(
        text.train_ids,
        data.targets,
        pipeline.encode(data.val_texts),
        data.val_targets,
        labels=data.label_map.labels,
        max_length=pipeline.max_length,
        vocab_size=pipeline.tokenizer.vocab_size,
        raw_lengths=pipeline.training_lengths,
        augmented_rows=len(rows.targets) - len(data.targets),
    )
    return ValidationScores(predictions, predictions.report(), profile.to_dict())


__all__ = [
    "FittedText",
    "InitialVectors",
    "PreparedData",
    "Settings",
    "TrainingRows",
    "ValidationScores",
    "augment_training",
    "check_inputs",
    "check_settings",
    "class_weights",
    "fit_blend_step",
    "fit_text_pipeline",
    "initialise_embeddings",
    "lead_process",
    "needs_vectors_on_resume",
    "network_config",
    "new_network",
    "prepare_data",
    "resolve_auto_vectors",
    "score_validation",
    "train_network",
    "warn_about",
]
