"""`SentimentClassifier`: the scikit-learn-style facade that wires data, text, model and training.

clf = SentimentClassifier(epochs=5).fit(texts, labels)      # labels: -1/0/1, "pos"/"neg", ...
clf.predict(["I loved it"]); clf.predict_proba(["I loved it"]); clf.evaluate(test_texts, test_labels)
clf.save("model.sentilstm"); SentimentClassifier.load("model.sentilstm")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from sentilstm.artifact.format import read_file, write_file
from sentilstm.config import (
    DERIVED_MODEL_FIELDS,
    EXTRA_CONFIGS,
    Adversarial,
    AugmentConfig,
    Blend,
    BlendConfig,
    BlendStrategy,
    Cell,
    EmbeddingConfig,
    Loss,
    ModelConfig,
    Monitor,
    Pooling,
    Precision,
    PretrainChoice,
    PretrainEncoder,
    Sampling,
    Schedule,
    SynonymKind,
    TextConfig,
    TokenizerKind,
    TrainConfig,
    Truncation,
)
from sentilstm.data.labels import Label, LabelMap, check_texts
from sentilstm.errors import ArtifactError, ConfigError, NotFittedError
from sentilstm.estimators import distillation, ensembles, pretraining, steps
from sentilstm.estimators.baselines import LinearBaseline
from sentilstm.estimators.blend import BLEND_PREFIX, FittedBlend, mix
from sentilstm.estimators.display import DisplayMixin
from sentilstm.estimators.inference import predict_probabilities
from sentilstm.estimators.interface import PredictionMixin, Texts
from sentilstm.estimators.persistence import (
    LOAD_ERRORS,
    classifier_payload,
    load_error,
    read_checked_checkpoint,
    read_classifier,
    read_resume,
)
from sentilstm.network.ensemble import EnsembleNet
from sentilstm.network.model import SentimentNet
from sentilstm.system.device import resolve_device, resolve_precision
from sentilstm.system.threads import shared_governor
from sentilstm.text.pipeline import TextPipeline
from sentilstm.training.loop import CheckpointSpec, History, TrainingCallback
from sentilstm.training.progress import feedback

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from sentilstm.explanations.methods import ExplainMethod
    from sentilstm.explanations.result import TokenAttribution

log = logging.getLogger(__name__)
GOVERNED_TEXTS = 2048  # predictions of fewer texts (a request, a page of results) keep the threads as they are
# what `run_network_with` takes: unpadded token-id arrays -> probabilities (n, num_classes), e.g. an OnnxNetwork
NetworkRunner = Callable[[Sequence[np.ndarray]], np.ndarray]
ConfigT = TypeVar("ConfigT", bound="DataclassInstance")  # a config dataclass that a classifier's parameters fill


class SentimentClassifier(PredictionMixin, DisplayMixin, ClassifierMixin, BaseEstimator):
    """LSTM/GRU sentiment classifier on raw strings; every parameter's default lives in `sentilstm.config`.

    Text parameters are those of `TextConfig`, architecture those of `ModelConfig`, training those of
    `TrainConfig` (see their field comments for the why of each default). Learned state ends in `_`.

    `embeddings` is a word-vectors file (GloVe, word2vec, fastText; only the vocabulary's rows are read:
    `sentilstm.text.embeddings`) that starts the embedding layer, fixed for `freeze_embeddings` epochs;
    `pretrain_embeddings` ("word2vec" or "fasttext") trains them first on the training and unlabelled texts;
    "auto" (the default): word2vec, frozen for 2 epochs, when `fit` is given unlabelled texts, else none.
    `char_ngrams=(2, 5)` adds to every token its character n-grams' vectors (`sentilstm.text.subwords`).

    `pretrain="lm"` first trains the embeddings and the first recurrent layer as language models on the training
    texts and `fit(..., unlabeled=texts)`; `pretrained_encoder=FILE` starts from a saved one (`pretrain_encoder`).
    `adversarial="at"|"vat"` also trains on adversarially perturbed embeddings (`sentilstm.training.adversarial`).

    `ensemble=K` trains K networks and averages them, as one model (`sentilstm.estimators.ensembles`).

    `augment` adds edited copies of the training split's texts (never the validation split's): "eda" or any of
    "synonym", "insert", "swap", "delete", "backtranslate"; see `sentilstm.text.augment`.

    `blend` averages the network's probabilities with a linear n-gram model's (NBSVM or TF-IDF logistic
    regression), weighted to minimise validation log-loss; "auto" tries both, None turns it off (how it is fitted:
    `sentilstm.estimators.blend`). The two make different errors, so the blend beats either alone (Mesnil et al.
    2014); it costs seconds to a minute of training and almost nothing at prediction time.
    """

    # learned state, set by fit or from_saved (as in scikit-learn, absent before: `_check_fitted` looks for model_)
    label_map_: LabelMap
    pipeline_: TextPipeline
    model_: SentimentNet | EnsembleNet  # an EnsembleNet when ensemble > 1
    classes_: np.ndarray
    history_: History | None  # None: a loaded model whose file holds no training history
    blend_model_: LinearBaseline | None
    blend_weight_: float  # the network's share of a blended prediction
    metrics_: dict[str, Any]

    def __init__(
        self,
        *,
        lowercase: bool = TextConfig.lowercase,  # text (TextConfig)
        unicode_form: Literal["NFC", "NFKC"] | None = TextConfig.unicode_form,
        repair_cp1252: bool = TextConfig.repair_cp1252,
        strip_html: bool = TextConfig.strip_html,
        replace_urls: bool = TextConfig.replace_urls,
        replace_mentions: bool = TextConfig.replace_mentions,
        stopwords: str | list[str] | None = TextConfig.stopwords,
        stemmer: str | None = TextConfig.stemmer,
        tokenizer: TokenizerKind = TextConfig.tokenizer,
        vocab_size: int | None = TextConfig.vocab_size,
        min_frequency: int = TextConfig.min_frequency,
        max_length: int | None = TextConfig.max_length,
        truncation: Truncation = TextConfig.truncation,
        char_ngrams: tuple[int, int] | str | None = TextConfig.char_ngrams,
        ngram_buckets: int = TextConfig.ngram_buckets,
        embedding_dim: int = ModelConfig.embedding_dim,  # architecture (ModelConfig)
        cell: Cell = ModelConfig.cell,
        hidden_size: int = ModelConfig.hidden_size,
        num_layers: int = ModelConfig.num_layers,
        bidirectional: bool = ModelConfig.bidirectional,
        dropout: float = ModelConfig.dropout,
        embedding_dropout: float = ModelConfig.embedding_dropout,
        output_dropout: float = ModelConfig.output_dropout,
        weight_drop: float = ModelConfig.weight_drop,
        conv_channels: int = ModelConfig.conv_channels,
        conv_kernel_size: int = ModelConfig.conv_kernel_size,
        pooling: Pooling = ModelConfig.pooling,
        epochs: int = TrainConfig.epochs,  # training (TrainConfig)
        batch_size: int = TrainConfig.batch_size,
        learning_rate: float = TrainConfig.learning_rate,
        weight_decay: float = TrainConfig.weight_decay,
        head_l2: float = TrainConfig.head_l2,
        max_grad_norm: float = TrainConfig.max_grad_norm,
        schedule: Schedule = TrainConfig.schedule,
        warmup_fraction: float = TrainConfig.warmup_fraction,
        patience: int = TrainConfig.patience,
        monitor: Monitor = TrainConfig.monitor,
        class_weight: Literal["balanced"] | dict[Any, float] | None = TrainConfig.class_weight,
        loss: Loss = TrainConfig.loss,
        focal_gamma: float = TrainConfig.focal_gamma,
        sampling: Sampling = TrainConfig.sampling,
        validation_fraction: float = TrainConfig.validation_fraction,
        seed: int = TrainConfig.seed,
        precision: Precision = TrainConfig.precision,
        device: str = TrainConfig.device,
        num_threads: int | None = TrainConfig.num_threads,
        bucket_pool: int = TrainConfig.bucket_pool,
        freeze_embeddings: int = TrainConfig.freeze_embeddings,
        freeze_encoder: int = TrainConfig.freeze_encoder,
        encoder_lr_scale: float = TrainConfig.encoder_lr_scale,
        distill: str | None = TrainConfig.distill,
        distill_temperature: float = TrainConfig.distill_temperature,
        distill_weight: float = TrainConfig.distill_weight,
        ensemble: int = TrainConfig.ensemble,
        pretrain: PretrainEncoder | None = TrainConfig.pretrain,
        pretrain_epochs: int = TrainConfig.pretrain_epochs,
        pretrain_learning_rate: float = TrainConfig.pretrain_learning_rate,
        pretrain_predict_share: float = TrainConfig.pretrain_predict_share,
        adversarial: Adversarial | None = TrainConfig.adversarial,
        adversarial_epsilon: float = TrainConfig.adversarial_epsilon,
        adversarial_iterations: int = TrainConfig.adversarial_iterations,
        embeddings: str | None = EmbeddingConfig.embeddings,  # EmbeddingConfig, BlendConfig, AugmentConfig
        pretrain_embeddings: PretrainChoice | None = EmbeddingConfig.pretrain_embeddings,
        pretrained_encoder: str | None = EmbeddingConfig.pretrained_encoder,
        blend: Blend | None = BlendConfig.blend,
        blend_strategy: BlendStrategy = BlendConfig.blend_strategy,
        blend_folds: int = BlendConfig.blend_folds,
        augment: str | Sequence[str] | None = AugmentConfig.augment,
        augment_copies: int = AugmentConfig.augment_copies,
        augment_alpha: float = AugmentConfig.augment_alpha,
        augment_synonyms: SynonymKind = AugmentConfig.augment_synonyms,
        augment_translator: Callable[[list[str]], list[str]] | str | None = AugmentConfig.augment_translator,
    ) -> None:
        # every argument becomes the attribute of its name, as scikit-learn's get_params/set_params expect
        self.__dict__.update({name: value for name, value in locals().items() if name != "self"})

    # ----- configuration -------------------------------------------------------------------------
    def _config(self, cls: type[ConfigT]) -> ConfigT:
        skip = DERIVED_MODEL_FIELDS if cls is ModelConfig else ()
        return cls(**{f.name: getattr(self, f.name) for f in dataclasses.fields(cls) if f.name not in skip})

    def check_params(self) -> SentimentClassifier:
        """Raise ConfigError for a bad hyperparameter now, before any data is read (`fit` checks too): types,
        ranges, and whether a network of this size fits in memory."""
        self._checked_settings()
        return self

    def _checked_settings(self) -> steps.Settings:
        """The validated configs and augmentation operations (ModelConfig's sizes from the data come later)."""
        return steps.check_settings(
            self._config(TextConfig),
            self._config(ModelConfig),
            self._config(TrainConfig),
            self._config(EmbeddingConfig),
            self._config(AugmentConfig),
            self._config(BlendConfig),
        )

    # ----- training ------------------------------------------------------------------------------
    def fit(
        self,
        X: Texts,
        y: Iterable[Label] | None = None,
        *,
        text_column: str | None = None,
        label_column: str | None = None,
        validation: tuple[Iterable[str], Iterable[Label]] | pd.DataFrame | None = None,
        checkpoint_path: str | Path | None = None,
        resume: bool = False,
        callback: TrainingCallback | None = None,
        unlabeled: Iterable[str] | None = None,
        callbacks: Sequence[TrainingCallback] | None = None,
        teacher: Any = None,
        verbose: bool | None = None,
    ) -> SentimentClassifier:
        """Train on texts `X` with labels `y` (or a DataFrame `X` holding both, its `text_column`/`label_column`
        inferred or named; `sentilstm.data.inputs`); hold out a stratified validation split unless one is given.

        With `checkpoint_path`, a checkpoint is written after every epoch; `resume=True` continues from it.
        `unlabeled` texts are used by `pretrain_embeddings`, embedding-neighbour synonyms and distillation.
        `teacher` (a callable texts -> probabilities, a fitted model, a .sentilstm path or "hf:NAME") distils it
        into the network, as `distill` does (`sentilstm.estimators.distillation`).
        `callbacks` (`TrainingCallback`s, after `callback`) see the training loop's hooks, listed in
        `sentilstm.training.callbacks`; early stopping and checkpointing are built in.
        `verbose`: a progress bar per epoch and the log lines of each stage (None: in a terminal or a notebook only).
        The named steps it runs are those of `sentilstm.estimators.steps`.
        """
        texts, labels, others = steps.check_inputs(X, y, unlabeled, (text_column, label_column))
        hooks = [*([callback] if callback is not None else []), *(callbacks or [])]
        with feedback(verbose) as shown:  # a progress bar in a terminal or a notebook
            return self._fit(texts, labels, others, validation, checkpoint_path, resume, [*hooks, *shown], teacher)

    def _fit(
        self,
        texts: list[str],
        labels: list[Label],
        others: list[str],
        validation: Any,
        checkpoint_path: str | Path | None,
        resume: bool,
        hooks: list[TrainingCallback],
        teacher: Any,
    ) -> SentimentClassifier:
        """`fit` on inputs already checked."""
        settings = steps.resolve_auto_vectors(self._checked_settings(), others)  # pretrain_embeddings="auto"
        steps.warn_about(settings)
        saved = read_resume(checkpoint_path, self.get_params(), SentimentClassifier) if resume else None
        data = steps.prepare_data(
            texts, labels, validation, settings.train, unlabeled=others, label_values=saved["labels"] if saved else None
        )
        pretrained = pretraining.read_pretrained(settings)
        text = steps.fit_text_pipeline(
            data.texts, settings.text, saved or (pretrained.saved_text() if pretrained else None)
        )
        vectors = steps.initial_vectors(settings, text, data, resumed=saved is not None)
        self.embedding_coverage_ = vectors.coverage
        model_config = steps.network_config(settings, text, data, vectors, saved)
        rows = steps.augment_training(settings, data, text, vectors.matrix)
        net = steps.new_network(
            model_config, vectors.matrix, settings.train, rows.ids, vectors.ngrams, pretraining.state_of(pretrained)
        )
        path = Path(checkpoint_path) if checkpoint_path is not None else None
        encoder = pretraining.pretrain_encoder(
            net, settings, text, data, path, resume=resume, resumed=saved is not None, pretrained=pretrained
        )
        checkpoint = CheckpointSpec(path, self._payload(data.label_map, text.pipeline, model_config)) if path else None
        resumed = saved["checkpoint"] if saved else None
        history = steps.train_network(
            net, rows, data, text, settings.train, checkpoint=checkpoint, resume=resumed, callbacks=hooks
        )
        weights, trained = pretraining.state_of(encoder), (net, history, settings, data, text, rows, vectors)
        resume_member = self._resume_state if resume else None
        network, ensemble = ensembles.train_members(
            *trained, checkpoint=checkpoint, callbacks=hooks, resume=resume_member, encoder=weights
        )
        self._set_trained(data.label_map, text.pipeline, network, history, rows, ensemble, encoder)
        blend = steps.fit_blend_step(settings.blend, self._network_proba, data, data.label_map.labels, settings.train)
        if blend is not None:
            self._set_blend(blend)
        if teacher is not None or settings.train.distill is not None:
            distillation.distil(self, teacher, settings, data, text, rows, vectors, hooks, blend, load_model, weights)
        scores = steps.score_validation(self.predict_proba, data, text, rows)
        if scores is not None:  # another torchrun rank writes nothing: the blend and scores are rank 0's alone
            self.validation_predictions_, self.validation_report_ = scores.predictions, scores.report
            self.metrics_["validation"] = self.validation_report_.to_dict()
            self.metrics_["data"] = scores.data_profile
        return self

    def pretrain_encoder(
        self, texts: Iterable[str], out: str | Path, *, checkpoint: str | Path | None = None, resume: bool = False
    ) -> dict[str, Any]:
        """Pretrain only (a language model on unlabelled `texts`, this classifier's settings) and save the encoder to
        `out` for `pretrained_encoder=out`; returns the pretraining record. `checkpoint`/`resume` as in `fit`."""
        settings = clone(self).set_params(pretrain=self.pretrain or "lm")._checked_settings()
        texts = check_texts(texts, "texts")
        return pretraining.pretrain_to_file(settings, texts, out, checkpoint=checkpoint, resume=resume)

    def _resume_state(self, path: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The training state a checkpoint holds, checked against this classifier's parameters (None: no file)."""
        saved = read_resume(path, self.get_params(), SentimentClassifier)
        return saved["checkpoint"] if saved else None

    def _set_trained(
        self,
        label_map: LabelMap,
        pipeline: TextPipeline,
        net: SentimentNet | EnsembleNet,
        history: History,
        rows: steps.TrainingRows,
        ensemble: dict[str, Any] | None = None,
        encoder: pretraining.PretrainedEncoder | None = None,
    ) -> None:
        """The learned state of a trained network (`ensemble`: an ensemble's summary; `encoder`: what pretraining
        did), before any blend."""
        self.label_map_, self.pipeline_, self.model_, self.history_ = label_map, pipeline, net, history
        self.classes_ = np.asarray(label_map.labels)
        self.blend_model_, self.blend_weight_ = None, 1.0
        self.metrics_ = {}
        if self.embedding_coverage_ is not None:
            self.metrics_["embeddings"] = self.embedding_coverage_.to_dict()
        if rows.augmentation is not None:
            self.augmentation_ = rows.augmentation
            self.metrics_["augmentation"] = self.augmentation_
        if ensemble is not None:
            self.metrics_["ensemble"] = ensemble
        if encoder is not None:
            self.metrics_["pretraining"] = encoder.record

    def _set_blend(self, blend: FittedBlend) -> None:
        if blend.model is not None:
            self.blend_model_, self.blend_weight_ = blend.model, blend.weight
            self.metrics_["blend"] = blend.metrics

    # ----- prediction ----------------------------------------------------------------------------
    def _proba(self, texts: list[str]) -> np.ndarray:
        """`predict_proba`'s probabilities of a non-empty list of texts: the network's, blended when it has one."""
        probabilities = self._network_proba(texts)
        if self.blend_model_ is not None:
            probabilities = mix(self.blend_weight_, probabilities, self.blend_model_.predict_proba(texts))
        return probabilities

    def run_network_with(self, runner: NetworkRunner | None) -> SentimentClassifier:
        """Compute the network's probabilities with `runner` from now on (None: this PyTorch network again); the
        one way a prediction leaves PyTorch. Text pipeline, labels and blend stay; `explain` keeps the PyTorch network.

            clf.run_network_with(OnnxNetwork("model.int8.onnx", threads=1))   # what load_for_serving does
        """
        self._check_fitted()
        if runner is not None and not callable(runner):
            raise ConfigError(f"a network runner maps token-id arrays to probabilities; got {type(runner).__name__}")
        self.network_runner_ = runner
        return self

    def _network_proba(self, texts: list[str]) -> np.ndarray:
        """The LSTM/GRU's own probabilities, without the linear blend; by `network_runner_` when one is set."""
        runner = getattr(self, "network_runner_", None)
        if runner is not None:
            return runner(self.pipeline_.encode(texts))
        device = self._device()
        self.model_.to(device)
        precision = resolve_precision(self.precision, device)
        # many texts on the CPU: torch's threads follow what pays on this machine now (see sentilstm.system.threads)
        governed = device.type == "cpu" and self.num_threads is None and len(texts) >= GOVERNED_TEXTS
        governor = shared_governor() if governed else None
        return predict_probabilities(
            self.model_, self.pipeline_.encode(texts), device=device, precision=precision, governor=governor
        )

    def explain(
        self,
        text: Texts,
        method: ExplainMethod = "auto",
        *,
        num_samples: int = 1000,
        seed: int = 0,
        n_steps: int = 50,
    ) -> TokenAttribution | Any:
        """Which words of `text` drove the prediction: a `TokenAttribution` (a list for many texts, a Series on a
        pandas input's index), e.g. `clf.explain("not good at all", method="integrated_gradients").top(3)`.

        `method`: "integrated_gradients" or "attention" (the network; pooling='attention' for the latter), "lime"
        or "kernel_shap" (the full prediction, blend included), "auto" (integrated gradients); see
        `sentilstm.explanations.methods`.
        """
        from sentilstm.explanations.methods import explain

        return self._explain_each(
            text, lambda one: explain(self, one, method, num_samples=num_samples, seed=seed, n_steps=n_steps)
        )

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "this SentimentClassifier is not trained yet; call fit() or SentimentClassifier.load()"
            )

    # ----- persistence (the file's parts and their checks: `sentilstm.estimators.persistence`) ---------------
    def _payload(self, label_map: LabelMap, pipeline: TextPipeline, model_config: ModelConfig) -> dict[str, Any]:
        configs: dict[str, DataclassInstance] = {name: self._config(cls) for name, cls in EXTRA_CONFIGS.items()}
        return classifier_payload(self.get_params(), configs, label_map, pipeline, model_config)

    def save(self, path: str | Path) -> Path:
        """Write the whole classifier (weights, tokenizer, label map, configs, metrics) to one file, atomically."""
        self._check_fitted()
        payload = self._payload(self.label_map_, self.pipeline_, self.model_.config)
        payload.update(
            history=self.history_.to_dict() if self.history_ is not None else None,
            metrics=self.metrics_,
            created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        )
        tensors = dict(self.model_.state_dict())
        if self.blend_model_ is not None:
            payload["blend"] = {"network_weight": self.blend_weight_, "model": self.blend_model_.to_payload()}
            tensors.update(self.blend_model_.to_tensors(BLEND_PREFIX))
        write_file(path, tensors, payload, kind="model")
        log.info("saved model to %s", path)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> SentimentClassifier:
        """Rebuild a classifier saved by `save`, to predict on `device` ('auto' (None), 'cpu', 'cuda', 'cuda:N')."""
        clf = load_model(path, device=device)
        if not isinstance(clf, SentimentClassifier):
            raise ArtifactError(
                f"{str(path)!r} holds a {type(clf).__name__} baseline; load it with sentilstm.load_model"
            )
        return clf

    @classmethod
    def from_saved(
        cls, tensors: dict[str, torch.Tensor], payload: dict[str, Any], device: str | None = None
    ) -> SentimentClassifier:
        """Rebuild from a model file's tensors and payload, every part checked first (`sentilstm.artifact.schema`);
        `device`: where it will predict (None: 'auto'); the one it trained on is kept as `training_device_`."""
        state = read_classifier(tensors, payload, cls)
        clf = cls(**state.params)
        clf.training_device_, clf.device = clf.device, "auto" if device is None else device
        clf.pipeline_, clf.label_map_, clf.model_ = state.pipeline, state.label_map, state.network
        clf.blend_model_, clf.blend_weight_ = state.blend_model, state.blend_weight
        clf.classes_ = np.asarray(clf.label_map_.labels)
        clf.history_, clf.metrics_, clf.versions_ = state.history, state.metrics, state.versions
        return clf


Classifier = SentimentClassifier | LinearBaseline  # anything `load_model` returns: same predict/evaluate/save


def load_model(path: str | Path, *, device: str | None = None) -> Classifier:
    """Load any sentilstm model file: an LSTM/GRU `SentimentClassifier` or a linear baseline.

    `device` is where an LSTM/GRU predicts: None or 'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or
    'cuda:N'; one this machine lacks is a ConfigError. The device a model was trained on is never reused.
    A damaged, edited or forged file is an ArtifactError naming the file and the problem.
    """
    device = "auto" if device is None else device
    resolve_device(device)  # an unusable device fails before the file is read
    tensors, payload = read_file(path, kind="model")
    try:
        if "estimator" in payload:
            return LinearBaseline.from_saved(payload, tensors)
        return SentimentClassifier.from_saved(tensors, payload, device)
    except LOAD_ERRORS as exc:
        raise load_error(path, payload, exc) from None


def read_classifier_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint written by `SentimentClassifier.fit`, every part checked before a resumed fit builds anything
    from it (`sentilstm.estimators.persistence.read_checked_checkpoint`)."""
    return read_checked_checkpoint(path, SentimentClassifier)


__all__ = ["Classifier", "SentimentClassifier", "load_model", "read_classifier_checkpoint"]
