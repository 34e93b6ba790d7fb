"""sentilstm.estimators.steps: each named step of `SentimentClassifier.fit` on its own, and the steps together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import make_negation_data
from sentilstm import SentimentClassifier, load_model
from sentilstm.artifact.format import read_file, write_file
from sentilstm.config import (
    EXTRA_CONFIGS,
    AugmentConfig,
    BlendConfig,
    EmbeddingConfig,
    ModelConfig,
    TextConfig,
    TrainConfig,
    from_dict,
)
from sentilstm.errors import ArtifactError, ConfigError, DataError
from sentilstm.estimators import steps
from sentilstm.training.loop import History

TEXTS, LABELS = make_negation_data(200, seed=0)


def settings(**augment: object) -> steps.Settings:
    return steps.check_settings(
        TextConfig(),
        ModelConfig(embedding_dim=8, hidden_size=8),
        TrainConfig(epochs=1),
        EmbeddingConfig(),
        AugmentConfig(**augment),
        BlendConfig(None),
    )


def test_check_settings_validates_every_config() -> None:
    assert settings(augment="eda").operations == ["synonym", "insert", "swap", "delete"]
    with pytest.raises(ConfigError, match="augment_copies"):
        settings(augment_copies=0)
    with pytest.raises(ConfigError, match="not both"):
        steps.check_settings(
            TextConfig(),
            ModelConfig(),
            TrainConfig(),
            EmbeddingConfig("v.txt", "word2vec"),
            AugmentConfig(),
            BlendConfig(),
        )
    with pytest.raises(ConfigError, match="blend"):
        steps.check_settings(
            TextConfig(), ModelConfig(), TrainConfig(), EmbeddingConfig(), AugmentConfig(), BlendConfig("svm")
        )  # type: ignore[arg-type]


def test_prepare_data_holds_out_a_stratified_split_or_takes_the_given_one() -> None:
    data = steps.prepare_data(TEXTS, LABELS, None, TrainConfig(validation_fraction=0.2))
    assert len(data.texts) + len(data.val_texts) == len(TEXTS) and len(data.val_texts) == 40
    assert set(data.val_targets) == {0, 1} and data.label_map.labels == [-1, 1]
    given = steps.prepare_data(TEXTS, LABELS, (TEXTS[:5], LABELS[:5]), TrainConfig())
    assert given.texts == TEXTS and given.val_texts == TEXTS[:5]
    with pytest.raises(DataError, match="pair"):
        steps.prepare_data(TEXTS, LABELS, TEXTS, TrainConfig())  # type: ignore[arg-type]


def test_text_pipeline_embeddings_and_network_config() -> None:
    data = steps.prepare_data(TEXTS, LABELS, None, TrainConfig())
    text = steps.fit_text_pipeline(data.texts, TextConfig(vocab_size=20, min_frequency=1))
    assert len(text.train_ids) == len(data.texts)
    vectors = steps.initialise_embeddings(EmbeddingConfig(), text, [], dim=8, seed=0)
    assert vectors.matrix is None and vectors.coverage is None
    config = steps.network_config(settings(), text, data, vectors)
    # the cap is TextConfig.vocab_size; the embedding rows are the fitted tokenizer's vocabulary, special tokens
    # included
    assert config.embedding_rows == text.pipeline.tokenizer.vocab_size and config.num_classes == 2
    trained = steps.initialise_embeddings(EmbeddingConfig(pretrain_embeddings="word2vec"), text, [], dim=8, seed=0)
    assert trained.matrix.shape == (config.embedding_rows, 8)
    assert steps.network_config(settings(), text, data, trained).embedding_dim == 8


def test_augment_training_adds_rows_only_when_asked() -> None:
    data = steps.prepare_data(TEXTS, LABELS, None, TrainConfig())
    text = steps.fit_text_pipeline(data.texts, TextConfig())
    plain = steps.augment_training(settings(), data, text, None)
    assert plain.ids is text.train_ids and plain.augmentation is None
    swapped = steps.augment_training(settings(augment="swap"), data, text, None)
    assert len(data.texts) < len(swapped.ids) <= 2 * len(data.texts) and len(swapped.targets) == len(swapped.ids)
    assert swapped.augmentation["examples"]


def test_network_training_blend_and_scores() -> None:
    chosen = settings()
    data = steps.prepare_data(TEXTS, LABELS, None, chosen.train)
    text = steps.fit_text_pipeline(data.texts, chosen.text)
    rows = steps.augment_training(chosen, data, text, None)
    config = steps.network_config(chosen, text, data, steps.InitialVectors())
    net = steps.new_network(config, None, chosen.train, rows.ids)
    again = steps.new_network(config, None, chosen.train, rows.ids)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))  # seeded
    history = steps.train_network(net, rows, data, text, chosen.train)
    assert isinstance(history, History) and len(history.epochs) == 1 and not net.training
    assert (
        steps.fit_blend_step(
            BlendConfig(None), lambda texts: np.zeros((len(texts), 2)), data, [-1, 1], TrainConfig()
        ).model
        is None
    )
    uniform = steps.score_validation(lambda texts: np.full((len(texts), 2), 0.5), data, text, rows)
    assert uniform.report.loss == pytest.approx(np.log(2)) and uniform.data_profile


def test_class_weights_step() -> None:
    data = steps.prepare_data(TEXTS, LABELS, None, TrainConfig())
    assert steps.class_weights(None, data.label_map, data.targets) is None
    assert steps.class_weights({1: 2.0}, data.label_map, data.targets).tolist() == [1.0, 2.0]
    with pytest.raises(ConfigError, match="not in the data"):
        steps.class_weights({"maybe": 2.0}, data.label_map, data.targets)


def test_the_steps_together_are_fit(tiny_params: dict) -> None:
    clf = SentimentClassifier(**{**tiny_params, "blend": None}).fit(TEXTS, LABELS)
    chosen = clf._checked_settings()
    data = steps.prepare_data(TEXTS, LABELS, None, chosen.train)
    text = steps.fit_text_pipeline(data.texts, chosen.text)
    rows = steps.augment_training(chosen, data, text, None)
    net = steps.new_network(
        steps.network_config(chosen, text, data, steps.InitialVectors()), None, chosen.train, rows.ids
    )
    steps.train_network(net, rows, data, text, chosen.train)
    for mine, theirs in zip(net.state_dict().values(), clf.model_.state_dict().values()):
        assert torch.equal(mine, theirs)


# ----- the config sections of a model file: EmbeddingConfig, AugmentConfig, BlendConfig --------------------------
def _augmented_model(tiny_params: dict, tmp_path: Path) -> tuple[SentimentClassifier, Path]:
    options = dict(pretrain_embeddings="word2vec", augment=["swap", "delete"], augment_copies=2, blend="nbsvm")
    clf = SentimentClassifier(**{**tiny_params, **options}).fit(TEXTS, LABELS)
    return clf, clf.save(tmp_path / "sections.sentilstm")


def test_the_new_config_sections_round_trip(tiny_params: dict, tmp_path: Path) -> None:
    clf, path = _augmented_model(tiny_params, tmp_path)
    _, payload = read_file(path, kind="model")
    assert payload["embedding_config"] == {
        "embeddings": None,
        "pretrain_embeddings": "word2vec",
        "pretrained_encoder": None,
    }
    assert (
        payload["augment_config"]["augment"] == ["swap", "delete"] and payload["augment_config"]["augment_copies"] == 2
    )
    assert payload["blend_config"] == {"blend": "nbsvm", "blend_strategy": "crossfit", "blend_folds": 5}
    loaded = load_model(path)
    for name, cls in EXTRA_CONFIGS.items():
        assert from_dict(cls, payload[name]) == loaded._config(cls) == from_dict(cls, clf.get_params())
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS))


@pytest.mark.parametrize("blended", [False, True])
def test_an_old_style_payload_without_the_new_sections_loads(tiny_params: dict, tmp_path: Path, blended: bool) -> None:
    """A file written before the config sections existed carries params, labels, text_config, model_config,
    tokenizer (and history, metrics, blend): it loads exactly as a new one, predictions identical."""
    clf = SentimentClassifier(**{**tiny_params, "blend": "nbsvm" if blended else None}).fit(TEXTS, LABELS)
    path = clf.save(tmp_path / "new.sentilstm")
    tensors, payload = read_file(path, kind="model")
    for name in EXTRA_CONFIGS:
        del payload[name]
    write_file(tmp_path / "old.sentilstm", tensors, payload, kind="model")
    old, new = load_model(tmp_path / "old.sentilstm"), load_model(path)
    assert old.get_params() == new.get_params()
    np.testing.assert_array_equal(old.predict_proba(TEXTS), new.predict_proba(TEXTS))
    np.testing.assert_array_equal(old.predict_proba(TEXTS), clf.predict_proba(TEXTS))


def test_an_old_model_config_naming_the_embedding_rows_vocab_size_loads(tiny_params: dict, tmp_path: Path) -> None:
    """Files written before the rename store model_config.embedding_rows as vocab_size: they load as before, and
    new files write embedding_rows; a file naming both is none that sentilstm wrote."""
    clf = SentimentClassifier(**{**tiny_params, "blend": None}).fit(TEXTS, LABELS)
    tensors, payload = read_file(clf.save(tmp_path / "new.sentilstm"), kind="model")
    rows = payload["model_config"]["embedding_rows"]
    assert "vocab_size" not in payload["model_config"] and rows == clf.pipeline_.tokenizer.vocab_size
    payload["model_config"] = {
        ("vocab_size" if key == "embedding_rows" else key): value for key, value in payload["model_config"].items()
    }
    write_file(tmp_path / "old.sentilstm", tensors, payload, kind="model")
    old = load_model(tmp_path / "old.sentilstm")
    assert old.model_.config == clf.model_.config and old.model_.config.embedding_rows == rows
    np.testing.assert_array_equal(old.predict_proba(TEXTS), clf.predict_proba(TEXTS))
    payload["model_config"]["embedding_rows"] = rows
    write_file(tmp_path / "both.sentilstm", tensors, payload, kind="model")
    with pytest.raises(ArtifactError, match=r"model_config has unknown settings \['vocab_size'\]"):
        load_model(tmp_path / "both.sentilstm")


def test_a_section_contradicting_the_params_is_refused(tiny_params: dict, tmp_path: Path) -> None:
    clf = SentimentClassifier(**{**tiny_params, "blend": None}).fit(TEXTS, LABELS)
    tensors, payload = read_file(clf.save(tmp_path / "new.sentilstm"), kind="model")
    payload["blend_config"]["blend"] = "auto"
    write_file(tmp_path / "edited.sentilstm", tensors, payload, kind="model")
    with pytest.raises(ArtifactError, match="blend_config.blend"):
        load_model(tmp_path / "edited.sentilstm")
    payload["blend_config"] = {"blend": "svm"}
    write_file(tmp_path / "bad.sentilstm", tensors, payload, kind="model")
    with pytest.raises(ArtifactError, match="blend_config.blend"):
        load_model(tmp_path / "bad.sentilstm")
