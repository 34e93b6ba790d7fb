"""Pretrained vectors inside SentimentClassifier: initialisation, freezing, coverage, resume, CLI."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import FILLER, NEGATIVE, POSITIVE, make_negation_data
from sentilstm import ConfigError, SentimentClassifier
from sentilstm.cli import app
from sentilstm.training.callbacks import LoopState, TrainingCallback
from sentilstm.training.loop import read_checkpoint

DIM = 6


def write_glove(path: Path, words: list[str], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = {w: rng.normal(size=DIM).astype(np.float32) for w in words}
    path.write_text("".join(f"{w} {' '.join(f'{x:.6f}' for x in v)}\n" for w, v in vectors.items()))
    return {w: np.asarray([float(f"{x:.6f}") for x in v], dtype=np.float32) for w, v in vectors.items()}


@pytest.fixture
def glove(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    words = list(POSITIVE) + list(NEGATIVE) + ["not"] + list(FILLER[:10]) + ["zebra"]
    path = tmp_path / "vectors.txt"
    return path, write_glove(path, words)


def params(**extra: object) -> dict:
    return {**dict(hidden_size=8, epochs=2, min_frequency=1, num_threads=1, seed=0, blend=None), **extra}


def test_vectors_initialise_the_embedding_layer_and_set_its_size(glove: tuple[Path, dict]) -> None:
    path, vectors = glove
    texts, labels = make_negation_data(200, seed=1)
    clf = SentimentClassifier(**params(embeddings=str(path), freeze_embeddings=-1)).fit(texts, labels)
    assert clf.model_.config.embedding_dim == DIM
    vocabulary = clf.pipeline_.tokenizer.vocabulary()
    weight = clf.model_.embedding.weight.detach().numpy()
    for word in ("good", "not", "awful", "the"):
        np.testing.assert_allclose(weight[vocabulary[word]], vectors[word], atol=1e-6)  # frozen: unchanged
    assert not weight[0].any()  # padding row
    coverage = clf.metrics_["embeddings"]
    assert coverage["dim"] == DIM and coverage["found_exact"] == len([w for w in vocabulary if w in vectors])
    assert 0 < coverage["vocabulary_share"] < 1 and 0 < coverage["token_share"] <= 1


def test_freezing_for_one_epoch_then_fine_tuning(glove: tuple[Path, dict], tmp_path: Path) -> None:
    """The checkpoint holds the current (not the best) weights after each epoch."""
    path, vectors = glove
    texts, labels = make_negation_data(200, seed=2)
    weights = {}
    for epochs in (1, 2):
        checkpoint = tmp_path / f"run{epochs}.ckpt"
        clf = SentimentClassifier(**params(embeddings=str(path), freeze_embeddings=1, epochs=epochs, patience=5))
        clf.fit(texts, labels, checkpoint_path=checkpoint)
        weights[epochs] = read_checkpoint(checkpoint)[0]["model.embedding.weight"].numpy()
        assert clf.model_.embedding.weight.requires_grad  # unfrozen when training ends
    good = clf.pipeline_.tokenizer.vocabulary()["good"]
    np.testing.assert_allclose(weights[1][good], vectors["good"], atol=1e-6)  # epoch 1: frozen
    assert np.abs(weights[2][good] - vectors["good"]).max() > 1e-4  # epoch 2: fine-tuned


def test_fine_tuning_from_the_start_changes_the_vectors(glove: tuple[Path, dict]) -> None:
    path, vectors = glove
    texts, labels = make_negation_data(200, seed=3)
    clf = SentimentClassifier(**params(embeddings=str(path))).fit(texts, labels)
    good = clf.pipeline_.tokenizer.vocabulary()["good"]
    assert not np.allclose(clf.model_.embedding.weight[good].detach().numpy(), vectors["good"], atol=1e-4)


def test_saved_model_keeps_dimension_and_coverage(glove: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = glove
    texts, labels = make_negation_data(200, seed=4)
    clf = SentimentClassifier(**params(embeddings=str(path))).fit(texts, labels)
    loaded = SentimentClassifier.load(clf.save(tmp_path / "m.sentilstm"))
    assert loaded.model_.config.embedding_dim == DIM
    assert loaded.metrics_["embeddings"]["found_exact"] == clf.metrics_["embeddings"]["found_exact"]
    np.testing.assert_array_equal(loaded.predict_proba(texts[:20]), clf.predict_proba(texts[:20]))


def test_resume_with_pretrained_vectors_is_exact(glove: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = glove
    texts, labels = make_negation_data(200, seed=5)
    full = SentimentClassifier(**params(embeddings=str(path), epochs=2, patience=5)).fit(texts, labels)
    checkpoint = tmp_path / "run.ckpt"
    SentimentClassifier(**params(embeddings=str(path), epochs=2, patience=5)).fit(
        texts, labels, checkpoint_path=checkpoint
    )
    resumed = SentimentClassifier(**params(embeddings=str(path), epochs=2, patience=5)).fit(
        texts, labels, checkpoint_path=checkpoint, resume=True
    )
    np.testing.assert_allclose(resumed.predict_proba(texts[:20]), full.predict_proba(texts[:20]), atol=1e-6)


def test_missing_vectors_file_fails_before_training(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="embeddings file .*nope.txt.* does not exist"):
        SentimentClassifier(embeddings=str(tmp_path / "nope.txt")).fit(["a b", "c d"] * 5, [0, 1] * 5)


def test_bad_freeze_value_is_a_config_error(glove: tuple[Path, dict]) -> None:
    with pytest.raises(ConfigError, match="freeze_embeddings must be >= -1, got -2"):
        SentimentClassifier(**params(embeddings=str(glove[0]), freeze_embeddings=-2)).fit(
            ["a b", "c d"] * 5, [0, 1] * 5
        )


def test_cli_embeddings_option(glove: tuple[Path, dict], tmp_path: Path) -> None:
    texts, labels = make_negation_data(150, seed=6)
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)))
    out = tmp_path / "m.sentilstm"
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(data),
            "--embeddings",
            str(glove[0]),
            "--freeze-embeddings",
            "1",
            "--hidden-size",
            "8",
            "--epochs",
            "2",
            "--min-frequency",
            "1",
            "--threads",
            "1",
            "--blend",
            "none",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert SentimentClassifier.load(out).model_.config.embedding_dim == DIM
    result = CliRunner().invoke(
        app, ["train", str(data), "--embeddings", str(tmp_path / "missing.vec"), "--out", str(out)]
    )
    assert result.exit_code == 2 and "does not exist" in result.output and "Traceback" not in result.output


# ----- in-domain pretraining (gensim) ------------------------------------------------------------------
gensim = pytest.importorskip("gensim")


def test_in_domain_word2vec_initialises_every_seen_token() -> None:
    texts, labels = make_negation_data(200, seed=7)
    unlabeled, _ = make_negation_data(300, seed=8)
    clf = SentimentClassifier(**params(embedding_dim=12, pretrain_embeddings="word2vec", freeze_embeddings=-1))
    clf.fit(texts, labels, unlabeled=unlabeled)
    coverage = clf.metrics_["embeddings"]
    assert coverage["source"] == "in-domain word2vec" and coverage["dim"] == 12
    vocabulary = clf.pipeline_.tokenizer.vocabulary()
    assert coverage["found_exact"] == len(vocabulary) - 2  # every non-special token occurs in the texts
    assert coverage["token_share"] == 1.0
    weight = clf.model_.embedding.weight.detach().numpy()
    assert weight.shape == (len(vocabulary), 12) and not weight[0].any()


def test_train_vectors_places_words_used_alike_together() -> None:
    from sentilstm.text.pretraining import train_vectors

    rng = np.random.default_rng(0)
    sentences = []
    for _ in range(600):  # "good"/"great" share one set of contexts, "bad"/"awful" another
        if rng.random() < 0.5:
            sentences.append(["i", "loved", "it", str(rng.choice(["good", "great"])), "happy", "smile"])
        else:
            sentences.append(["i", "hated", "it", str(rng.choice(["bad", "awful"])), "angry", "frown"])
    words = ["[PAD]", "[UNK]", "good", "great", "bad", "awful", "missing"]
    matrix, coverage = train_vectors(sentences, {w: i for i, w in enumerate(words)}, dim=16, epochs=20, workers=1)

    def cosine(a: int, b: int) -> float:
        return float(matrix[a] @ matrix[b] / np.linalg.norm(matrix[a]) / np.linalg.norm(matrix[b]))

    assert cosine(2, 3) > cosine(2, 4) + 0.05 and cosine(4, 5) > cosine(4, 3) + 0.05
    assert coverage.found_exact == 4 and coverage.vocabulary == 5  # "missing" never occurs
    assert not matrix[0].any() and matrix[6].any()


def test_in_domain_pretraining_is_reproducible_with_one_thread() -> None:
    texts, labels = make_negation_data(150, seed=9)
    runs = [
        SentimentClassifier(**params(embedding_dim=8, pretrain_embeddings="word2vec")).fit(texts, labels)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].predict_proba(texts[:10]), runs[1].predict_proba(texts[:10]))


def test_in_domain_fasttext_trains() -> None:
    texts, labels = make_negation_data(150, seed=10)
    clf = SentimentClassifier(**params(embedding_dim=8, pretrain_embeddings="fasttext")).fit(texts, labels)
    assert clf.metrics_["embeddings"]["source"] == "in-domain fasttext"


def test_pretraining_options_are_checked(glove: tuple[Path, dict]) -> None:
    data = (["a b", "c d"] * 5, [0, 1] * 5)
    with pytest.raises(ConfigError, match="either embeddings .* or pretrain_embeddings, not both"):
        SentimentClassifier(embeddings=str(glove[0]), pretrain_embeddings="word2vec").fit(*data)
    with pytest.raises(
        ConfigError, match="pretrain_embeddings must be one of \\['auto', 'word2vec', 'fasttext'\\], got 'glove'"
    ):
        SentimentClassifier(pretrain_embeddings="glove").fit(*data)


def labelled_and_unlabelled_files(folder: Path, seed: int) -> tuple[Path, Path]:
    """train.csv (150 labelled texts) and unlabeled.csv (100 texts) in `folder`."""
    texts, labels = make_negation_data(150, seed=seed)
    unlabeled, _ = make_negation_data(100, seed=seed + 1)
    data, extra = folder / "train.csv", folder / "unlabeled.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)))
    extra.write_text("text\n" + "".join(f"{t}\n" for t in unlabeled))
    return data, extra


def test_cli_pretrain_with_unlabeled_file(tmp_path: Path) -> None:
    data, extra = labelled_and_unlabelled_files(tmp_path, seed=11)
    out = tmp_path / "m.sentilstm"
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(data),
            "--pretrain-embeddings",
            "word2vec",
            "--unlabeled",
            str(extra),
            "--embedding-dim",
            "8",
            "--hidden-size",
            "8",
            "--epochs",
            "1",
            "--min-frequency",
            "1",
            "--threads",
            "1",
            "--blend",
            "none",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert SentimentClassifier.load(out).metrics_["embeddings"]["source"] == "in-domain word2vec"


class EmbeddingSnapshots(TrainingCallback):
    """The embedding table after each epoch."""

    def __init__(self) -> None:
        self.state: LoopState | None = None
        self.tables: list[np.ndarray] = []

    def on_train_begin(self, state: LoopState) -> None:
        self.state = state

    def on_epoch_end(self, stats: Any, improved: bool) -> None:
        assert self.state is not None
        self.tables.append(self.state.model.embedding.weight.detach().numpy().copy())


def test_the_default_trains_word2vec_on_unlabelled_texts_frozen_for_two_epochs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    texts, labels = make_negation_data(200, seed=13)
    unlabeled, _ = make_negation_data(300, seed=14)
    snapshots = EmbeddingSnapshots()
    with caplog.at_level(logging.INFO, logger="sentilstm"):
        clf = SentimentClassifier(**params(embedding_dim=8, epochs=3, patience=5))
        clf.fit(texts, labels, unlabeled=unlabeled, callbacks=[snapshots])
    assert clf.pretrain_embeddings == "auto" and clf.metrics_["embeddings"]["source"] == "in-domain word2vec"
    assert any(
        "pretrain_embeddings='auto'" in r.getMessage() and "300 unlabelled" in r.getMessage() for r in caplog.records
    )
    first, second, third = snapshots.tables
    np.testing.assert_array_equal(first, second)  # frozen for epochs 1 and 2
    assert np.abs(third - second).max() > 1e-4  # fine-tuned in epoch 3
    explicit = SentimentClassifier(
        **params(embedding_dim=8, epochs=1, pretrain_embeddings="word2vec", freeze_embeddings=-1)
    )
    explicit.fit(texts, labels, unlabeled=unlabeled)
    np.testing.assert_array_equal(explicit.model_.embedding.weight.detach().numpy(), first)  # the same vectors


def test_the_default_without_unlabelled_texts_trains_no_vectors() -> None:
    texts, labels = make_negation_data(150, seed=15)
    clf = SentimentClassifier(**params(embedding_dim=8, epochs=1)).fit(texts, labels)
    assert clf.embedding_coverage_ is None and "embeddings" not in clf.metrics_


@pytest.mark.parametrize(
    "settings",
    [{"pretrain_embeddings": None}, {"pretrain": "lm", "pretrain_epochs": 1}, {"embeddings": "GLOVE"}],
)
def test_auto_leaves_the_vectors_to_an_explicit_choice(settings: dict[str, Any], glove: tuple[Path, dict]) -> None:
    texts, labels = make_negation_data(150, seed=16)
    unlabeled, _ = make_negation_data(100, seed=17)
    settings = {k: str(glove[0]) if v == "GLOVE" else v for k, v in settings.items()}
    clf = SentimentClassifier(**params(embedding_dim=8, epochs=1, **settings)).fit(texts, labels, unlabeled=unlabeled)
    assert clf.metrics_.get("embeddings", {}).get("source") == settings.get("embeddings")  # the file's, or none


def test_auto_keeps_a_freeze_that_was_asked_for() -> None:
    texts, labels = make_negation_data(150, seed=18)
    unlabeled, _ = make_negation_data(100, seed=19)
    snapshots = EmbeddingSnapshots()
    clf = SentimentClassifier(**params(embedding_dim=8, epochs=2, patience=5, freeze_embeddings=1))
    clf.fit(texts, labels, unlabeled=unlabeled, callbacks=[snapshots])
    assert np.abs(snapshots.tables[1] - snapshots.tables[0]).max() > 1e-4  # 1 epoch frozen, as given


def test_auto_without_gensim_says_the_unlabelled_texts_are_unused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("sentilstm.estimators.vectors.gensim_installed", lambda: False)
    texts, labels = make_negation_data(150, seed=20)
    with caplog.at_level(logging.WARNING, logger="sentilstm"):
        clf = SentimentClassifier(**params(embedding_dim=8, epochs=1)).fit(texts, labels, unlabeled=texts[:50])
    assert clf.embedding_coverage_ is None
    assert any(
        "50 unlabelled texts are not used" in r.getMessage() and "sentilstm[embeddings]" in r.getMessage()
        for r in caplog.records
    )


def test_cli_train_uses_an_unlabeled_file_by_default_and_none_turns_it_off(tmp_path: Path) -> None:
    data, extra = labelled_and_unlabelled_files(tmp_path, seed=21)
    small = ["--embedding-dim", "8", "--hidden-size", "8", "--epochs", "1", "--min-frequency", "1", "--threads", "1"]
    sources = []
    for flags in ([], ["--pretrain-embeddings", "none"]):
        out = tmp_path / f"m{len(flags)}.sentilstm"
        args = ["train", str(data), "--unlabeled", str(extra), *small, "--blend", "none", "--out", str(out), "--quiet"]
        result = CliRunner().invoke(app, [*args, *flags])
        assert result.exit_code == 0, result.output
        sources.append(SentimentClassifier.load(out).metrics_.get("embeddings", {}).get("source"))
    assert sources == ["in-domain word2vec", None]
    result = CliRunner().invoke(
        app, ["train", str(data), "--pretrain-embeddings", "glove", "--out", str(tmp_path / "x")]
    )
    assert (
        result.exit_code == 2 and "pretrain_embeddings must be one of ['auto', 'word2vec', 'fasttext']" in result.output
    )
