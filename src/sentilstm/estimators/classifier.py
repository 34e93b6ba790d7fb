"""`SentimentClassifier`: the scikit-learn-style facade that wires data, text, model and training.

    clf = SentimentClassifier(epochs=5).fit(texts, labels)      # labels: -1/0/1, "pos"/"neg", ...
    clf.predict(["I loved it"]); clf.predict_proba(["I loved it"]); clf.evaluate(test_texts, test_labels)
    clf.save("model.sentilstm"); SentimentClassifier.load("model.sentilstm")
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from sentilstm.training import distributed
from sentilstm.artifact.format import library_versions, read_file, write_file
from sentilstm.estimators.baselines import LinearBaseline, make_baseline
from sentilstm.config import (
    DERIVED_MODEL_FIELDS,
    Cell, ModelConfig, Monitor, Pooling, Precision, Schedule, TextConfig, TokenizerKind, TrainConfig, Truncation,
    Loss, Sampling, MAX_AUGMENT_COPIES, check_choice, check_integer, check_positive, check_range, check_type, from_dict,
)
from sentilstm.data.labels import Label, LabelMap, check_labels, check_texts, stratified_split
from sentilstm.errors import ArtifactError, ConfigError, DataError, NotFittedError
from sentilstm.estimators.evaluation import Predictions, ScoringMixin
from sentilstm.estimators.inference import predict_probabilities
from sentilstm.models import SentimentNet
from sentilstm.text.pretraining import PretrainMethod
from sentilstm.report.profiling import DataProfile
from sentilstm.system.memory import check_fits
from sentilstm.system.device import resolve_device, resolve_precision
from sentilstm.artifact.schema import build_network, check_checkpoint, check_classifier, config_params, meta_network, part
from sentilstm.text.normalize import strip_html
from sentilstm.text.pipeline import TextPipeline
from sentilstm.text.tokenizers import TextTokenizer
from sentilstm.system.threads import shared_governor
from sentilstm.training.loop import (
    CheckpointSpec, EncodedSplit, History, TrainingCallback, check_resume_state, fit, read_checkpoint, resume_error,
)

if TYPE_CHECKING:
    from sentilstm.explanations.methods import ExplainMethod
    from sentilstm.explanations.result import TokenAttribution

log = logging.getLogger(__name__)
SynonymKind = Literal["neighbours", "wordnet"]
Blend = Literal["auto", "nbsvm", "tfidf_lr"]
BLEND_PREFIX = "blend."  # tensor names of the blended linear model inside a model file
CALLABLE_PREFIX = "callable:"  # how a callable parameter is recorded in a model file
GOVERNED_TEXTS = 2048  # predictions of fewer texts (a request, a page of results) keep the threads as they are
# what `run_network_with` takes: unpadded token-id arrays -> probabilities (n, num_classes), e.g. an OnnxNetwork
NetworkRunner = Callable[[Sequence[np.ndarray]], np.ndarray]
T, M, R = TextConfig, ModelConfig, TrainConfig  # short aliases for the defaults below


class SentimentClassifier(ScoringMixin, ClassifierMixin, BaseEstimator):
    """LSTM/GRU sentiment classifier on raw strings; every parameter's default lives in `sentilstm.config`.

    Text parameters are those of `TextConfig`, architecture those of `ModelConfig`, training those of
    `TrainConfig` (see their field comments for the why of each default). Learned state ends in `_`.

    `embeddings` is a word-vectors file (GloVe, word2vec text/binary, fastText .vec/.bin; see
    `sentilstm.text.embeddings`): only the vocabulary's vectors are read, streamed, and they initialise the
    embedding layer, whose size becomes the vectors' dimension; `freeze_embeddings` keeps them fixed
    for that many epochs (-1: always). `pretrain_embeddings` ("word2vec" or "fasttext") instead trains
    vectors of size `embedding_dim` on the training texts plus `fit(..., unlabeled=texts)`, tokenized
    exactly as the model sees them, and initialises the layer with those.

    `augment` adds edited copies of the training split's texts (never the validation split's) before the
    network trains: "eda" or any of "synonym", "insert", "swap", "delete", "backtranslate" (a list or a
    comma-separated string), `augment_copies` per text and operation, changing `augment_alpha` of the words.
    Synonyms come from the nearest neighbours in a word-vector space (`augment_synonyms="neighbours"`, any
    language: the model's pretrained/in-domain vectors, else word2vec on the training texts) or from
    WordNet (English, installed locally). `augment_translator` is a round-trip callable or Hugging Face
    model names "FORWARD,BACKWARD". Seeded by `seed`; see `sentilstm.text.augment`.

    `blend` averages the network's probabilities with a linear n-gram model's (NBSVM or TF-IDF logistic
    regression, trained on the same training split), weighted to minimise validation log-loss; "auto" tries
    both and keeps the better, None turns it off. The two make different errors (word order and context
    vs exact n-gram evidence), so the blend beats either alone, as in Mesnil et al. (2014); it costs
    seconds to a minute of training and almost nothing at prediction time.
    """

    def __init__(
        self,
        *,
        # text (TextConfig)
        lowercase: bool = T.lowercase,
        unicode_form: Literal["NFC", "NFKC"] | None = T.unicode_form,
        repair_cp1252: bool = T.repair_cp1252,
        strip_html: bool = T.strip_html,
        replace_urls: bool = T.replace_urls,
        replace_mentions: bool = T.replace_mentions,
        stopwords: str | list[str] | None = T.stopwords,
        stemmer: str | None = T.stemmer,
        tokenizer: TokenizerKind = T.tokenizer,
        vocab_size: int | None = T.vocab_size,
        min_frequency: int = T.min_frequency,
        max_length: int | None = T.max_length,
        truncation: Truncation = T.truncation,
        # architecture (ModelConfig)
        embedding_dim: int = M.embedding_dim,
        cell: Cell = M.cell,
        hidden_size: int = M.hidden_size,
        num_layers: int = M.num_layers,
        bidirectional: bool = M.bidirectional,
        dropout: float = M.dropout,
        embedding_dropout: float = M.embedding_dropout,
        output_dropout: float = M.output_dropout,
        weight_drop: float = M.weight_drop,
        conv_channels: int = M.conv_channels,
        conv_kernel_size: int = M.conv_kernel_size,
        pooling: Pooling = M.pooling,
        # training (TrainConfig)
        epochs: int = R.epochs,
        batch_size: int = R.batch_size,
        learning_rate: float = R.learning_rate,
        weight_decay: float = R.weight_decay,
        head_l2: float = R.head_l2,
        max_grad_norm: float = R.max_grad_norm,
        schedule: Schedule = R.schedule,
        warmup_fraction: float = R.warmup_fraction,
        patience: int = R.patience,
        monitor: Monitor = R.monitor,
        class_weight: Literal["balanced"] | dict[Any, float] | None = R.class_weight,
        loss: Loss = R.loss,
        focal_gamma: float = R.focal_gamma,
        sampling: Sampling = R.sampling,
        validation_fraction: float = R.validation_fraction,
        seed: int = R.seed,
        precision: Precision = R.precision,
        device: str = R.device,
        num_threads: int | None = R.num_threads,
        bucket_pool: int = R.bucket_pool,
        freeze_embeddings: int = R.freeze_embeddings,
        # pretrained vectors and ensemble
        embeddings: str | None = None,
        pretrain_embeddings: PretrainMethod | None = None,
        blend: Blend | None = "auto",
        # augmentation of the training split (sentilstm.text.augment)
        augment: str | Sequence[str] | None = None,
        augment_copies: int = 1,
        augment_alpha: float = 0.1,
        augment_synonyms: SynonymKind = "neighbours",
        augment_translator: Callable[[list[str]], list[str]] | str | None = None,
    ) -> None:
        for name, value in locals().items():
            if name != "self":
                setattr(self, name, value)

    # ----- configuration -------------------------------------------------------------------------
    def _config(self, cls: type) -> Any:
        skip = DERIVED_MODEL_FIELDS if cls is ModelConfig else ()
        config = cls(**{f.name: getattr(self, f.name) for f in dataclasses.fields(cls) if f.name not in skip})
        if cls is not ModelConfig:
            config.validate()
        return config

    def check_params(self) -> SentimentClassifier:
        """Raise ConfigError for a bad hyperparameter now, before any data is read (`fit` checks too): every
        setting's type and range, and whether a network of this size can be trained in the memory there is."""
        self._checked_settings()
        return self

    def _checked_settings(self) -> tuple[TextConfig, ModelConfig, TrainConfig, list[str]]:
        """The validated configs and augmentation operations; ModelConfig's vocab_size and num_classes come later."""
        text_config, train_config = self._config(TextConfig), self._config(TrainConfig)
        model_config = self._config(ModelConfig)
        model_config.validate()
        if self.blend is not None:
            check_choice("blend", self.blend, Blend)
        if self.embeddings is not None and self.pretrain_embeddings is not None:
            raise ConfigError("give either embeddings (a vectors file) or pretrain_embeddings, not both")
        if self.pretrain_embeddings is not None:
            check_choice("pretrain_embeddings", self.pretrain_embeddings, PretrainMethod)
        if self.embeddings is not None and not Path(self.embeddings).is_file():
            raise ConfigError(f"embeddings file {str(self.embeddings)!r} does not exist; give the path of a GloVe, "
                              "word2vec or fastText vectors file")
        operations = self._augment_operations()
        # the network without its vocabulary (unknown until the tokenizer is trained) must fit already
        check_fits(dataclasses.replace(model_config, vocab_size=2), batch_size=1, sequence_length=1,
                   device=resolve_device(train_config.device))
        return text_config, model_config, train_config, operations

    # ----- training ------------------------------------------------------------------------------
    def fit(
        self,
        X: Iterable[str],
        y: Iterable[Label],
        *,
        validation: tuple[Iterable[str], Iterable[Label]] | None = None,
        checkpoint_path: str | Path | None = None,
        resume: bool = False,
        callback: TrainingCallback | None = None,
        unlabeled: Iterable[str] | None = None,
    ) -> SentimentClassifier:
        """Train on texts `X` with labels `y`; hold out a stratified validation split unless one is given.

        With `checkpoint_path`, a checkpoint is written after every epoch; `resume=True` continues from it.
        `unlabeled` texts are used only by `pretrain_embeddings` and by embedding-neighbour synonyms.
        """
        texts, labels = check_texts(X, "X"), check_labels(y, "y")
        unlabeled = check_texts(unlabeled, "unlabeled") if unlabeled is not None else []
        if len(texts) != len(labels):
            raise DataError(f"X has {len(texts)} texts but y has {len(labels)} labels; they must match")
        text_config, model_config, train_config, operations = self._checked_settings()
        if self.class_weight is not None and self.sampling != "none":
            log.warning("class_weight=%r and sampling=%r both rebalance the classes; together they over-correct "
                        "towards the small classes, use one of them", self.class_weight, self.sampling)
        saved = self._read_resume(checkpoint_path) if resume else None
        label_map = LabelMap(saved["labels"]) if saved else LabelMap.fit(labels)
        targets = label_map.encode(labels)
        if validation is None:
            train_index, val_index = stratified_split(targets, train_config.validation_fraction, train_config.seed)
            val_texts, val_targets = [texts[i] for i in val_index], targets[val_index]
            texts, targets = [texts[i] for i in train_index], targets[train_index]
        else:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise DataError(f"validation must be a pair (texts, labels), got {type(validation).__name__} "
                                f"{str(validation)[:60]!r}; or validation=None for a stratified hold-out")
            val_texts, val_labels = check_texts(validation[0], "validation texts"), check_labels(validation[1], "validation labels")
            if not val_texts or len(val_texts) != len(val_labels):
                raise DataError(f"validation has {len(val_texts)} texts and {len(val_labels)} labels; give the same "
                                "number of each, at least one, or validation=None for a stratified hold-out")
            val_targets = label_map.encode(val_labels)
        if saved:
            pipeline = TextPipeline(from_dict(TextConfig, saved["text_config"]), TextTokenizer.from_json(saved["tokenizer"]))
            train_ids = pipeline.encode_training(texts)  # records the lengths before truncation, as fit does
        else:
            pipeline, train_ids = TextPipeline.fit(texts, text_config)
        model_config = dataclasses.replace(
            model_config, vocab_size=pipeline.tokenizer.vocab_size, num_classes=len(label_map)
        )
        # embedding-neighbour synonyms need the vectors again on resume, so the augmented rows come out the same
        neighbours = bool({"synonym", "insert"} & set(operations)) and self.augment_synonyms == "neighbours"
        vectors, self.embedding_coverage_ = None, None
        if self.embeddings is not None and (not saved or neighbours):
            vectors, self.embedding_coverage_ = self._pretrained_vectors(pipeline, train_ids)
        if self.pretrain_embeddings is not None and (not saved or neighbours):
            vectors, self.embedding_coverage_ = self._in_domain_vectors(pipeline, train_ids, unlabeled, neighbours)
        if vectors is not None or (saved and self.embeddings is not None):
            dim = vectors.shape[1] if vectors is not None else saved["model_config"]["embedding_dim"]
            model_config = dataclasses.replace(model_config, embedding_dim=dim)
        network_ids, network_targets = train_ids, targets
        if operations:
            added, added_targets = self._augmented(texts, targets, pipeline, vectors, operations, unlabeled)
            network_ids, network_targets = train_ids + pipeline.encode(added), np.concatenate([targets, added_targets])
        longest = max((len(x) for x in network_ids), default=1)
        check_fits(model_config, batch_size=min(train_config.batch_size, len(network_ids)), sequence_length=longest,
                   device=resolve_device(train_config.device))
        torch.manual_seed(train_config.seed)
        net = SentimentNet(model_config)
        if vectors is not None:
            with torch.no_grad():
                net.embedding.weight.copy_(torch.from_numpy(vectors))
        val_ids = pipeline.encode(val_texts)
        checkpoint = None
        if checkpoint_path is not None:
            checkpoint = CheckpointSpec(Path(checkpoint_path), self._payload(label_map, pipeline, model_config))
        history = fit(
            net,
            EncodedSplit(network_ids, network_targets),
            EncodedSplit(val_ids, val_targets),
            train_config,
            labels=label_map.labels,
            class_weights=self._class_weights(label_map, network_targets),
            checkpoint=checkpoint,
            resume=saved["checkpoint"] if saved else None,
            callback=callback,
        )
        net.eval()  # a trained model predicts and explains; training mode would only ever be a trap
        self.label_map_, self.pipeline_, self.model_, self.history_ = label_map, pipeline, net, history
        self.classes_ = np.asarray(label_map.labels)
        self.blend_model_, self.blend_weight_ = None, 1.0
        self.metrics_: dict[str, Any] = {}
        if self.embedding_coverage_ is not None:
            self.metrics_["embeddings"] = self.embedding_coverage_.to_dict()
        if operations:
            self.metrics_["augmentation"] = self.augmentation_
        if distributed.launched() and not distributed.is_main_process():  # another torchrun rank writes nothing:
            return self  # the blend, validation scores and data profile are rank 0's work alone
        if self.blend is not None:
            self._fit_blend(texts, label_map.decode(targets), val_texts, val_targets)
        self.validation_predictions_ = Predictions(val_texts, val_targets, self.predict_proba(val_texts), label_map.labels)
        self.validation_report_ = self.validation_predictions_.report()
        self.metrics_["validation"] = self.validation_report_.to_dict()
        self.metrics_["data"] = DataProfile.build(
            train_ids, targets, val_ids, val_targets, labels=label_map.labels, max_length=pipeline.config.max_length,
            vocab_size=pipeline.tokenizer.vocab_size, raw_lengths=pipeline.training_lengths,
            augmented_rows=len(network_targets) - len(targets),
        ).to_dict()
        return self

    def _fit_blend(self, texts: list[str], labels: list[Label], val_texts: list[str], val_targets: np.ndarray) -> None:
        """Fit the linear model(s) on the training split and pick the blend weight on the validation split."""
        network = self._network_proba(val_texts)
        scores = {"network": _log_loss(network, val_targets)}
        best: tuple[float, float, LinearBaseline] | None = None
        for kind in ("nbsvm", "tfidf_lr") if self.blend == "auto" else (self.blend,):
            try:
                linear = make_baseline(kind, **self._partner_balancing()).fit(texts, labels)
            except DataError as exc:  # e.g. too few texts for any n-gram to repeat
                log.warning("no %s blend: %s", kind, exc)
                continue
            if list(linear.classes_) != list(self.classes_):
                continue
            other = linear.predict_proba(val_texts)
            scores[kind] = _log_loss(other, val_targets)
            for weight in np.linspace(0.0, 1.0, 21):
                loss = _log_loss(weight * network + (1 - weight) * other, val_targets)
                if best is None or loss < best[0] - 1e-9:
                    best = (loss, float(weight), linear)
        if best is None or best[1] == 1.0:
            log.info("blend: the network alone is best on validation (log-loss %.4f)", scores["network"])
            return
        loss, weight, linear = best
        self.blend_model_, self.blend_weight_ = linear, weight
        self.metrics_["blend"] = {"model": linear.kind, "network_weight": weight, "validation_log_loss": {**scores, "blend": loss}}
        log.info("blend: %.2f x network + %.2f x %s (validation log-loss %.4f; network alone %.4f, %s alone %.4f)",
                 weight, 1 - weight, linear.kind, loss, scores["network"], linear.kind, scores[linear.kind])
        if weight == 0.0:
            log.warning("the network adds nothing on the validation split, so predictions come from %s alone; "
                        "train longer, or pass blend=None (--blend none) to keep the network's own predictions", linear.kind)

    def _partner_balancing(self) -> dict[str, Any]:
        """How the blend's linear model treats skewed classes: it mirrors a sampling lever of the network
        (balanced batches and undersampling become random oversampling, which loses no n-gram evidence), and
        otherwise uses balanced class weights. Unweighted n-gram models all but ignore a small class (NBSVM
        recalls 6% of the positives of a 9:1 IMDB subset), and the blend would pass that bias on; weighted, the
        blended recipe's macro F1 there goes from 67.9 to 76.2 (bench/accuracy.py, imdb-imbalanced). On
        balanced classes the weights are 1, a no-op."""
        if self.sampling != "none":
            mirrored = {"balanced_batches": "oversample", "undersample": "oversample"}.get(self.sampling, self.sampling)
            return {"sampling": mirrored}
        return {"class_weight": "balanced"}

    def _pretrained_vectors(self, pipeline: TextPipeline, train_ids: list[np.ndarray]) -> tuple[np.ndarray, Any]:
        """Vectors for the tokenizer's vocabulary from `self.embeddings`, and their coverage."""
        from sentilstm.text.embeddings import load_vectors

        vocabulary = pipeline.tokenizer.vocabulary()
        counts = np.bincount(np.concatenate(train_ids), minlength=len(vocabulary)) if train_ids else np.zeros(len(vocabulary))
        names = {i: token for token, i in vocabulary.items()}
        token_counts = {names[i]: int(n) for i, n in enumerate(counts) if n and i in names}
        vectors, coverage = load_vectors(self.embeddings, vocabulary, seed=self.seed, token_counts=token_counts)
        if vectors.shape[1] != self.embedding_dim:
            log.info("embedding_dim is %d, the dimension of %s (not %d)", vectors.shape[1], self.embeddings, self.embedding_dim)
        log.info("pretrained vectors: %s", coverage.summary())
        return vectors, coverage

    def _in_domain_vectors(
        self, pipeline: TextPipeline, train_ids: list[np.ndarray], unlabeled: list[str], exact: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """word2vec/fastText vectors trained on the training texts plus `unlabeled`, in the model's tokens.

        gensim is bit-reproducible only with one worker thread: `exact` (when the vectors choose augmentation
        synonyms, i.e. training data) or num_threads=1 asks for it; otherwise it uses num_threads or 2 workers.
        """
        from sentilstm.text.pretraining import train_vectors

        vocabulary = pipeline.tokenizer.vocabulary()
        names = np.empty(len(vocabulary), dtype=object)
        for token, i in vocabulary.items():
            names[i] = token
        sentences = [names[ids].tolist() for ids in train_ids + pipeline.encode(unlabeled)]
        counts = np.bincount(np.concatenate(train_ids), minlength=len(vocabulary))
        token_counts = {names[i]: int(n) for i, n in enumerate(counts) if n}
        workers = 1 if exact else self.num_threads or 2
        vectors, coverage = train_vectors(sentences, vocabulary, method=self.pretrain_embeddings, dim=self.embedding_dim,
                                          seed=self.seed, workers=workers, token_counts=token_counts)
        log.info("in-domain vectors: %s (%d unlabelled texts)", coverage.summary(), len(unlabeled))
        return vectors, coverage

    def _augment_operations(self) -> list[str]:
        """The augmentation operations asked for ("eda" stands for its four word edits), validated."""
        from sentilstm.text.augment import EDA_OPERATIONS, OPERATIONS

        check_choice("augment_synonyms", self.augment_synonyms, SynonymKind)
        check_integer("augment_copies", self.augment_copies, low=1, high=MAX_AUGMENT_COPIES)
        check_positive("augment_alpha", self.augment_alpha)
        check_range("augment_alpha", self.augment_alpha, 0.0, 0.5)
        if not self.augment:
            return []
        if not isinstance(self.augment, (str, list, tuple)):
            raise ConfigError(f"augment must be a comma-separated string or a list of operations such as 'eda' or "
                              f"['swap', 'delete'], got {self.augment!r}")
        names = self.augment.split(",") if isinstance(self.augment, str) else list(self.augment)
        operations: list[str] = []
        for name in (str(n).strip() for n in names):
            expanded = list(EDA_OPERATIONS) if name == "eda" else [name]
            if not set(expanded) <= set(OPERATIONS):
                raise ConfigError(f"augment operations must be among {['eda', *OPERATIONS]}, got {name!r}")
            operations += [op for op in expanded if op not in operations]
        translator = self.augment_translator
        if "backtranslate" in operations and not (callable(translator) or _model_pair(translator)):
            raise ConfigError("augment='backtranslate' needs augment_translator: a callable list[str] -> list[str] doing "
                              "the round trip, or two Hugging Face model names 'FORWARD,BACKWARD' such as "
                              f"'Helsinki-NLP/opus-mt-en-de,Helsinki-NLP/opus-mt-de-en', got {translator!r}")
        return operations

    def _augmented(
        self, texts: list[str], targets: np.ndarray, pipeline: TextPipeline, vectors: np.ndarray | None,
        operations: list[str], unlabeled: list[str],
    ) -> tuple[list[str], np.ndarray]:
        """New training rows (texts, targets) made from the training split; validation and test never see this."""
        from sentilstm.text.augment import BackTranslator, NeighbourSynonyms, WordNetSynonyms, augment

        synonyms: Any = None
        if {"synonym", "insert"} & set(operations):
            if self.augment_synonyms == "wordnet":
                synonyms = WordNetSynonyms()
            else:
                words, word_vectors = self._word_vectors(pipeline, texts, vectors, unlabeled)
                synonyms = NeighbourSynonyms(word_vectors, words)
        translator: Any = None
        if "backtranslate" in operations:
            pair = _model_pair(self.augment_translator)
            translator = BackTranslator(*pair) if pair else self.augment_translator
        if pipeline.config.strip_html:  # word edits would split "<br />" and the tag stripper would eat words
            texts = [strip_html(t) for t in texts]
        result = augment(texts, targets.tolist(), operations, copies=self.augment_copies, alpha=self.augment_alpha,
                         synonyms=synonyms, translator=translator, seed=self.seed)
        examples = [[operation, original[:200], new[:200]] for operation, original, new in result.examples(3)]
        self.augmentation_ = {**result.to_dict(), "examples": examples}
        return result.texts[len(texts):], np.asarray(result.labels[len(texts):], dtype=targets.dtype)

    def _word_vectors(
        self, pipeline: TextPipeline, texts: list[str], vectors: np.ndarray | None, unlabeled: list[str],
    ) -> tuple[list[str], np.ndarray]:
        """Word vectors for embedding-neighbour synonyms: the model's own initial vectors when its tokens are
        whole words, else word2vec trained on the training (+ unlabelled) texts' words (seconds on 10k tweets)."""
        from sentilstm.text.pretraining import train_vectors
        from sentilstm.text.normalize import WORD_PATTERN

        config = pipeline.config
        if vectors is not None and config.tokenizer == "word" and config.stemmer is None:
            vocabulary = pipeline.tokenizer.vocabulary()
            return sorted(vocabulary, key=vocabulary.__getitem__), vectors
        pattern = re.compile(WORD_PATTERN)
        sentences = [pattern.findall(pipeline.normalize(t)) for t in texts + unlabeled]
        counts = Counter(word for sentence in sentences for word in sentence)
        words = [w for w, n in counts.most_common(50_000) if n >= 2]
        log.info("training word2vec on %d texts for embedding-neighbour synonyms", len(sentences))
        matrix, _ = train_vectors(sentences, {w: i for i, w in enumerate(words)}, method="word2vec", dim=100,
                                  seed=self.seed, workers=1, token_counts=counts)  # 1 worker: reproducible
        return words, matrix

    def _read_resume(self, checkpoint_path: str | Path | None) -> dict[str, Any] | None:
        if checkpoint_path is None:
            raise ConfigError("resume=True needs checkpoint_path, the file the interrupted run wrote")
        if not Path(checkpoint_path).exists():
            log.warning("no checkpoint at %s; training from the start", checkpoint_path)
            return None
        tensors, payload = read_classifier_checkpoint(checkpoint_path)
        if payload.get("params") != _json_params(self.get_params()):
            raise ConfigError(
                f"checkpoint {str(checkpoint_path)!r} was made with other options; resume with the same options "
                "or start again without --resume"
            )
        return {**payload, "checkpoint": (tensors, payload)}

    def _class_weights(self, label_map: LabelMap, targets: np.ndarray) -> torch.Tensor | None:
        if self.class_weight is None:
            return None
        counts = np.bincount(targets, minlength=len(label_map)).astype(np.float64)
        if self.class_weight == "balanced":  # n / (K * count_k), as in scikit-learn
            return torch.tensor(len(targets) / (len(label_map) * np.maximum(counts, 1)), dtype=torch.float32)
        weights = {str(k): float(v) for k, v in self.class_weight.items()}
        unknown = set(weights) - {str(label) for label in label_map.labels}
        if unknown:
            raise ConfigError(f"class_weight names labels {sorted(unknown)} that are not in the data {label_map.labels}")
        return torch.tensor([weights.get(str(label), 1.0) for label in label_map.labels], dtype=torch.float32)

    # ----- prediction ----------------------------------------------------------------------------
    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """Probabilities (n, n_classes), columns in the order of `classes_`; rows sum to 1."""
        self._check_fitted()
        texts = check_texts(X, "X")
        if not texts:
            return np.zeros((0, len(self.classes_)))
        probabilities = self._network_proba(texts)
        if getattr(self, "blend_model_", None) is not None:
            probabilities = self.blend_weight_ * probabilities + (1 - self.blend_weight_) * self.blend_model_.predict_proba(texts)
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
        return predict_probabilities(self.model_, self.pipeline_.encode(texts), device=device, precision=precision,
                                     governor=governor)

    def explain(
        self, text: str, method: ExplainMethod = "auto", *, num_samples: int = 1000, seed: int = 0, n_steps: int = 50,
    ) -> TokenAttribution:
        """Which words of `text` drove the prediction: a `TokenAttribution` with per-class scores per word.

            clf.explain("not good at all", method="integrated_gradients").top(3)

        `method`: "integrated_gradients" or "attention" (the network; pooling='attention' for the latter), "lime"
        or "kernel_shap" (the full prediction, blend included), "auto" (integrated gradients); see `sentilstm.explanations.methods`.
        """
        from sentilstm.explanations.methods import explain

        return explain(self, text, method, num_samples=num_samples, seed=seed, n_steps=n_steps)

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this SentimentClassifier is not trained yet; call fit() or SentimentClassifier.load()")

    # ----- persistence ---------------------------------------------------------------------------
    def _payload(self, label_map: LabelMap, pipeline: TextPipeline, model_config: ModelConfig) -> dict[str, Any]:
        return {
            "params": _json_params(self.get_params()),
            "labels": label_map.to_list(),
            "text_config": dataclasses.asdict(pipeline.config),
            "model_config": dataclasses.asdict(model_config),
            "tokenizer": pipeline.tokenizer.to_json(),
            "versions": library_versions(),
        }

    def save(self, path: str | Path) -> Path:
        """Write the whole classifier (weights, tokenizer, label map, configs, metrics) to one file, atomically."""
        self._check_fitted()
        payload = self._payload(self.label_map_, self.pipeline_, self.model_.config)
        payload.update(
            history=self.history_.to_dict(),
            metrics=self.metrics_,
            created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        )
        tensors = dict(self.model_.state_dict())
        if getattr(self, "blend_model_", None) is not None:
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
            raise ArtifactError(f"{str(path)!r} holds a {type(clf).__name__} baseline; load it with sentilstm.load_model")
        return clf

    @classmethod
    def from_saved(cls, tensors: dict[str, torch.Tensor], payload: dict[str, Any], device: str | None = None) -> SentimentClassifier:
        """Rebuild from the tensors and JSON payload of a model file, every part checked against the others first
        (`sentilstm.artifact.schema`; ArtifactError or ConfigError naming the field). `device` is where it will predict
        (None: 'auto'); the device it was trained on is kept as `training_device_`, never used."""
        network = {k: v for k, v in tensors.items() if not k.startswith(BLEND_PREFIX)}
        saved = check_classifier(payload, network, cls)
        blend = part(payload, "blend", required=False)
        history = part(payload, "history", required=False)
        if history is not None:
            check_type("history", history, History, finite=False)
        known = dict(saved.params)
        if str(known.get("augment_translator", "")).startswith(CALLABLE_PREFIX):
            known["augment_translator"] = None  # a Python callable is not stored in a model file
        clf = cls(**known)
        clf.training_device_, clf.device = clf.device, "auto" if device is None else device
        clf.pipeline_ = TextPipeline(saved.text_config, saved.tokenizer)
        clf.label_map_ = LabelMap(saved.labels)
        clf.model_ = build_network(saved.model_config, network)
        clf.blend_model_, clf.blend_weight_ = None, 1.0
        if blend is not None:
            clf.blend_weight_ = _blend_weight(blend)
            clf.blend_model_ = LinearBaseline.from_saved(part(blend, "model", where="blend."), tensors, BLEND_PREFIX)
            if clf.blend_model_.label_map_.labels != saved.labels:
                raise ArtifactError(f"the blend's labels {clf.blend_model_.label_map_.labels} differ from the "
                                    f"network's {saved.labels}")
        elif len(network) < len(tensors):
            raise ArtifactError(f"the file holds blend tensors {sorted(set(tensors) - set(network))[:3]} but no blend")
        clf.classes_ = np.asarray(clf.label_map_.labels)
        clf.history_ = History.from_dict(history) if history else None
        clf.metrics_ = part(payload, "metrics", required=False) or {}
        clf.versions_ = part(payload, "versions", required=False) or {}
        return clf


def _blend_weight(blend: dict[str, Any]) -> float:
    """The network's share of a blended prediction, a number between 0 and 1."""
    weight = blend.get("network_weight")
    check_type("blend.network_weight", weight, float)
    check_range("blend.network_weight", weight, 0, 1)
    return float(weight)


def _log_loss(probabilities: np.ndarray, targets: np.ndarray) -> float:
    picked = probabilities[np.arange(len(targets)), targets]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


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
    except (ArtifactError, ConfigError) as exc:
        raise ArtifactError(f"{str(path)!r} cannot be loaded: {exc}; it is damaged, edited or from an incompatible "
                            f"sentilstm ({_writer(payload)}): retrain it or copy it again") from None
    except (KeyError, TypeError, RuntimeError, ValueError, UnicodeDecodeError) as exc:  # a check this version lacks
        raise ArtifactError(
            f"{str(path)!r} could not be rebuilt ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
            f"it was probably written by an incompatible sentilstm version ({_writer(payload)}); retrain it"
        ) from None


def read_classifier_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A checkpoint written by `SentimentClassifier.fit`, every part checked before a resumed fit builds anything
    from it: the training state (`read_checkpoint`), the classifier's payload and network tensors, and the
    optimiser and schedule state against that network (`check_resume_state`, on the meta device)."""
    tensors, payload = read_checkpoint(path)
    try:
        saved = check_checkpoint(tensors, payload, SentimentClassifier)
        check_resume_state(tensors, payload, meta_network(saved.model_config), config_params(TrainConfig, saved.params))
    except (ArtifactError, ConfigError) as exc:
        raise resume_error(path, exc) from None
    return tensors, payload


def _writer(payload: dict[str, Any]) -> str:
    """Which sentilstm wrote a payload, as the payload says (it may say anything)."""
    versions = payload.get("versions")
    version = versions.get("sentilstm") if isinstance(versions, dict) else None
    return f"written by sentilstm {str(version)[:20]}" if version is not None else "writer unknown"


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as they come back from JSON (tuples -> lists, dict keys -> str)."""
    import json

    # a callable (augment_translator) is recorded by name: a resumed run can compare it, a loaded model drops it
    def name(value: Any) -> str:
        if not callable(value):
            return str(value)
        return CALLABLE_PREFIX + (getattr(value, "__qualname__", None) or type(value).__qualname__)

    return json.loads(json.dumps(params, default=name))


def _model_pair(spec: Any) -> tuple[str, str] | None:
    """("FORWARD", "BACKWARD") from a 'FORWARD,BACKWARD' string of translation model names, else None."""
    if not isinstance(spec, str) or spec.startswith(CALLABLE_PREFIX):
        return None
    forward, _, backward = (part.strip() for part in spec.partition(","))
    return (forward, backward) if forward and backward and "," not in backward else None


__all__ = ["Classifier", "SentimentClassifier", "load_model", "read_classifier_checkpoint"]
