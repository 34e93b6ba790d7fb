"""sentilstm.report.summary and `sentilstm describe`: layers, output shapes and parameter counts of real models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import TINY, invoke_cli, make_negation_data
from sentilstm import ConfigError, SentimentClassifier
from sentilstm.estimators.baselines import NBSVM
from sentilstm.report.summary import describe


@pytest.fixture(scope="module")
def trained() -> SentimentClassifier:
    texts, labels = make_negation_data(200, seed=0)
    return SentimentClassifier(**{**TINY, "conv_channels": 8, "num_layers": 2}).fit(texts, labels)


def test_layers_shapes_and_counts_match_the_network(trained: SentimentClassifier) -> None:
    mode = trained.model_.training
    summary = describe(trained, sequence_length=20)
    layers = {layer.name: layer for layer in summary.layers}
    assert layers["embedding"].output_shape == [1, 20, 16]
    assert layers["conv"].output_shape == [1, 8, 20]  # Conv1d is channels-first
    assert layers["forward_rnns.1"].output_shape == [1, 20, 16] and layers["forward_rnns.1"].kind == "LSTM"
    assert layers["head"].output_shape == [1, 2]
    net = trained.model_
    assert (
        summary.total_parameters
        == sum(p.numel() for p in net.parameters())
        == sum(layer.parameters for layer in summary.layers)
    )
    assert layers["head"].parameters == net.head.weight.numel() + net.head.bias.numel()
    assert summary.size_bytes == 4 * summary.total_parameters  # fp32
    assert summary.labels == [-1, 1] and net.training is mode  # the traced pass runs in eval mode, then restores


def test_frozen_embeddings_are_not_trainable(trained: SentimentClassifier) -> None:
    trained.model_.embedding.weight.requires_grad_(False)
    try:
        summary = describe(trained)
        assert summary.total_parameters - summary.trainable_parameters == trained.model_.embedding.weight.numel()
        assert "Non-trainable params: 688" in summary.to_text()
    finally:
        trained.model_.embedding.weight.requires_grad_(True)


def test_text_is_a_keras_style_table(trained: SentimentClassifier) -> None:
    text = describe(trained, sequence_length=12).to_text()
    assert text.splitlines()[0] == "SentimentNet (LSTM) for a text of 12 tokens"
    assert "embedding (Embedding)             (1, 12, 16)" in text
    assert f"Total params: {describe(trained).total_parameters:,}" in text
    assert "tokenizer: word," in text and "labels: [-1, 1]" in text and "pooling=attention" in text


def test_baselines_are_described() -> None:
    texts, labels = make_negation_data(200, seed=1)
    clf = NBSVM(min_df=1).fit(texts, labels)
    summary = describe(clf)
    assert [layer.kind for layer in summary.layers] == ["word 1-3-grams", "NBSVM"]
    assert summary.total_parameters == clf.coef_.size + clf.intercept_.size


def test_bad_input_is_a_config_error(trained: SentimentClassifier) -> None:
    with pytest.raises(ConfigError, match="sequence_length must be >= 1, got 0"):
        describe(trained, sequence_length=0)
    with pytest.raises(ConfigError, match="needs a trained classifier"):
        describe(SentimentClassifier())


def test_cli_describe(trained: SentimentClassifier, tmp_path: Path) -> None:
    path = trained.save(tmp_path / "m.sentilstm")
    result = invoke_cli("describe", path, "--length", "10")
    assert result.exit_code == 0, result.output
    assert "head (Linear)" in result.stdout and "(1, 10, 16)" in result.stdout
    as_json = invoke_cli("describe", path, "--json")
    assert json.loads(as_json.stdout)["total_parameters"] == describe(trained).total_parameters
    bad = invoke_cli("describe", path, "--length", "0")
    assert bad.exit_code == 2 and "sequence_length must be >= 1" in bad.stderr and "Traceback" not in bad.output
    missing = invoke_cli("describe", tmp_path / "nope.sentilstm")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_the_blend_names_its_partner_and_class_weighting() -> None:
    texts, labels = make_negation_data(200, seed=0)
    recipe = {**TINY, "epochs": 1, "learning_rate": 1e-4, "blend": "tfidf_lr", "blend_strategy": "holdout"}
    clf = SentimentClassifier(**recipe).fit(texts, labels)  # holdout: the partner is always balanced
    assert clf.blend_model_ is not None
    weight = clf.blend_weight_
    shown = describe(clf).settings["blend"]
    assert shown == f"{weight:.2f} x network + {1 - weight:.2f} x tfidf_lr, class_weight balanced"
