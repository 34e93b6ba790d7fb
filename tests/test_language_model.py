"""Language-model pretraining of the encoder (`pretrain="lm"`, sentilstm.training.language_model): it learns what
is predictable and nothing from the token it predicts, padding changes nothing, the classifier starts from it,
an interrupted pretraining (SIGKILL) resumes to the same model, and bad settings or files are refused in one line."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers import TINY, error_line, invoke_cli, make_negation_data
from sentilstm import SentimentClassifier, load_model
from sentilstm.artifact.format import read_file, write_file
from sentilstm.config import ModelConfig, TrainConfig
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.network.model import SentimentNet
from sentilstm.training.callbacks import TrainingCallback
from sentilstm.training.language_model import (
    LanguageModelHead,
    encoder_state,
    frequency_ranks,
    language_model_loss,
    pretrain_language_model,
    pretraining_checkpoint,
)

LM = TrainConfig(pretrain="lm", pretrain_epochs=5, pretrain_learning_rate=1e-2, batch_size=32, num_threads=1)
PRETRAINED: dict[str, Any] = {**TINY, "pretrain": "lm", "pretrain_epochs": 2}


def _cyclic(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Runs of 2..21 counting up modulo 20: each token gives away the next and the previous one."""
    return [
        (np.arange(s, s + length) % 20 + 2).astype(np.int64) for s, length in rng.integers((0, 5), (20, 30), (n, 2))
    ]


def _random(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    return [rng.integers(2, 22, length).astype(np.int64) for length in rng.integers(5, 30, n)]


def _net(bidirectional: bool = True, **config: Any) -> SentimentNet:
    torch.manual_seed(0)
    return SentimentNet(
        ModelConfig(
            embedding_rows=22, num_classes=2, embedding_dim=16, hidden_size=16, bidirectional=bidirectional, **config
        )
    )


@pytest.mark.parametrize("bidirectional", [True, False])
def test_it_learns_what_is_predictable_and_never_sees_the_token_it_predicts(bidirectional: bool) -> None:
    rng = np.random.default_rng(0)
    predictable = pretrain_language_model(_net(bidirectional), _cyclic(rng, 400), _cyclic(rng, 50), LM)
    perplexities = [e.to_dict()["validation_perplexity"] for e in predictable.epochs]
    assert perplexities[-1] < 3.0 < 10.0 < perplexities[0], perplexities
    # random tokens: 20 equally likely ones. A direction that could see its target would drive this towards 1
    unpredictable = pretrain_language_model(_net(bidirectional), _random(rng, 400), _random(rng, 50), LM)
    assert unpredictable.epochs[-1].to_dict()["validation_perplexity"] > 18.0
    assert unpredictable.to_dict()["kind"] == "lm" and len(unpredictable.epochs) == 5


def test_padding_changes_no_prediction_of_the_language_model() -> None:
    net = _net()
    net.eval()
    head = LanguageModelHead(16, frequency_ranks([np.arange(22)], 22))
    text = torch.tensor([[5, 9, 3, 7]])
    wider = torch.zeros(2, 9, dtype=torch.int64)
    wider[0, :4], wider[1] = text[0], torch.randint(2, 22, (9,))
    alone, count = language_model_loss(net, head, text, torch.tensor([4]))
    together, both = language_model_loss(net, head, wider, torch.tensor([4, 9]))
    second, rest = language_model_loss(net, head, wider[1:], torch.tensor([9]))
    assert (count, rest, both) == (6, 16, 22)  # 3 next tokens + 3 previous ones for 4 tokens
    torch.testing.assert_close(together, alone[()] + second, rtol=1e-5, atol=1e-5)


def test_a_predict_share_scores_that_share_of_each_direction_and_reads_every_token() -> None:
    net, rng = _net(), np.random.default_rng(4)
    head = LanguageModelHead(16, frequency_ranks([np.arange(22)], 22))
    ids = torch.from_numpy(np.stack([x[:20] for x in _cyclic(rng, 64) if len(x) >= 20]))
    lengths = torch.full((len(ids),), 20)
    torch.manual_seed(0)
    full, everything = language_model_loss(net, head, ids, lengths)
    quarter, scored = language_model_loss(net, head, ids, lengths, share=0.25)
    assert everything == 2 * 19 * len(ids) and abs(scored / everything - 0.25) < 0.05
    assert abs(quarter.item() / scored - full.item() / everything) < 0.1  # the same loss per scored prediction
    one = torch.tensor([[5, 9]])  # two predictions: a share that keeps none keeps them all
    assert all(language_model_loss(net, head, one, torch.tensor([2]), share=0.01)[1] >= 1 for _ in range(20))
    # pretraining with a quarter of the predictions still learns the cycle, reads every token and scores a quarter
    corpus = _cyclic(rng, 400)
    record = pretrain_language_model(
        _net(), corpus, _cyclic(rng, 50), dataclasses.replace(LM, pretrain_predict_share=0.25)
    )
    assert record.epochs[-1].to_dict()["validation_perplexity"] < 3.0
    assert record.epochs[0].read == sum(len(x) for x in corpus)
    assert abs(record.epochs[0].tokens / (2 * sum(len(x) - 1 for x in corpus)) - 0.25) < 0.02
    with pytest.raises(ConfigError, match="pretrain_predict_share must be between 0.01 and 1.0, got 0"):
        SentimentClassifier(pretrain="lm", pretrain_predict_share=0).check_params()


def test_a_large_vocabulary_gets_an_adaptive_softmax_over_tokens_by_frequency() -> None:
    ranks = frequency_ranks([np.array([7, 7, 7, 7, 3, 3, 9]), np.array([[3, 40], [12, 0]])], 20_000)
    assert ranks[7] == 0 and ranks[3] == 1 and ranks[9] == 2 and ranks[12] == 3  # word ids only, not n-gram columns
    head = LanguageModelHead(128, ranks)
    assert head.cutoffs == [500, 2_500] and head.adaptive is not None and head.full is None
    assert LanguageModelHead(128, frequency_ranks([], 500)).cutoffs == []  # small: a full softmax
    assert LanguageModelHead(32, ranks).cutoffs == [500]  # a cluster needs 8 dimensions of the state's 32 / 4^k
    assert LanguageModelHead(16, ranks).cutoffs == []
    states, targets = torch.randn(4, 128), torch.tensor([7, 19_999, 3, 1_200])
    expected = -head.adaptive.log_prob(states).gather(1, ranks[targets][:, None]).sum()
    torch.testing.assert_close(head(states, targets), expected)


def test_the_classifier_starts_from_the_pretrained_encoder_and_records_it(tmp_path: Path) -> None:
    texts, labels = make_negation_data(240, seed=3)
    unlabeled, _ = make_negation_data(120, seed=4)
    clf = SentimentClassifier(**{**PRETRAINED, "epochs": 1}).fit(texts, labels, unlabeled=unlabeled)
    record = clf.metrics_["pretraining"]
    assert record["kind"] == "lm" and record["layers"] == 1 and len(record["epochs"]) == 2
    assert record["texts"] == 216 + 120 and record["validation_texts"] == 24  # the training split + unlabelled
    assert record["validation_perplexity"] == record["epochs"][-1]["validation_perplexity"] > 1.0
    path = tmp_path / "model.sentilstm"
    clf.save(path)
    again = load_model(path)
    assert again.metrics_["pretraining"] == record
    np.testing.assert_array_equal(again.predict_proba(texts[:20]), clf.predict_proba(texts[:20]))


def test_new_networks_take_a_pretrained_encoder_and_keep_their_own_head() -> None:
    from sentilstm.estimators.steps import new_network

    pretrained = _net()
    with torch.no_grad():
        pretrained.embedding.weight.add_(1.0)
    state = encoder_state(pretrained)
    assert sorted({k.split(".")[0] for k in state}) == ["backward_rnns", "embedding", "forward_rnns"]
    other = new_network(pretrained.config, None, TrainConfig(seed=5), [np.arange(4)], None, state)
    torch.testing.assert_close(other.embedding.weight, pretrained.embedding.weight)
    torch.testing.assert_close(other.forward_rnns[0].weight_hh_l0, pretrained.forward_rnns[0].weight_hh_l0)
    assert not torch.equal(other.head.weight, pretrained.head.weight)  # seed 5's, not the pretrained network's


def test_an_ensemble_pretrains_once_and_every_member_starts_there() -> None:
    texts, labels = make_negation_data(200, seed=5)
    clf = SentimentClassifier(**{**PRETRAINED, "epochs": 1, "ensemble": 2}).fit(texts, labels)
    assert len(clf.metrics_["pretraining"]["epochs"]) == 2 and len(clf.metrics_["ensemble"]["members"]) == 2


_CHILD = """
import sys
sys.path.insert(0, {tests!r})
from helpers import TINY, make_negation_data
from sentilstm import SentimentClassifier
import sentilstm.training.language_model as lm
lm.CHECKPOINT_SECONDS = 0.0  # a checkpoint after every batch
texts, labels = make_negation_data(600, seed=6)
SentimentClassifier(**{params!r}).fit(texts, labels, checkpoint_path={path!r})
"""


def test_a_killed_pretraining_resumes_to_the_model_an_uninterrupted_run_makes(tmp_path: Path) -> None:
    params = {**PRETRAINED, "pretrain_epochs": 40, "epochs": 1}
    path = tmp_path / "model.ckpt"
    lm_path = pretraining_checkpoint(path)
    code = _CHILD.format(tests=str(Path(__file__).parent), params=params, path=str(path))
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": "1"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not lm_path.exists() and child.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)  # a few more batches, so the kill lands mid-epoch or later
        assert child.poll() is None, "pretraining ended before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    _, payload = read_file(lm_path, kind="checkpoint")
    done = payload["pretraining"]
    assert (done["epoch"], done["batch"]) != (41, 0) and not path.exists()  # killed mid-pretraining
    texts, labels = make_negation_data(600, seed=6)
    resumed = SentimentClassifier(**params).fit(texts, labels, checkpoint_path=path, resume=True)
    fresh = SentimentClassifier(**params).fit(texts, labels)
    assert len(resumed.metrics_["pretraining"]["epochs"]) == 40
    np.testing.assert_array_equal(resumed.predict_proba(texts[:50]), fresh.predict_proba(texts[:50]))
    assert [e["train_loss"] for e in resumed.metrics_["pretraining"]["epochs"]] == [
        e["train_loss"] for e in fresh.metrics_["pretraining"]["epochs"]
    ]


def test_a_pretraining_checkpoint_of_other_data_or_edited_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    corpus, validation = _cyclic(rng, 100), _cyclic(rng, 10)
    path = tmp_path / "lm.ckpt"
    config = TrainConfig(pretrain="lm", pretrain_epochs=1, batch_size=32, num_threads=1)
    pretrain_language_model(_net(), corpus, validation, config, checkpoint=path)
    with pytest.raises(ArtifactError, match="other texts or settings") as excinfo:
        pretrain_language_model(_net(), _cyclic(rng, 100), validation, config, checkpoint=path, resume=True)
    assert "\n" not in str(excinfo.value) and "without --resume" in str(excinfo.value)
    tensors, payload = read_file(path, kind="checkpoint")
    for edit, message in (
        (lambda t, p: p["pretraining"].update(batch=10**9), "out of range"),
        (lambda t, p: t.update({"model.net.embedding.weight": torch.zeros(3, 3)}), "shape"),
        (lambda t, p: p["pretraining"].pop("record"), "pretraining.record"),
        (lambda t, p: p.pop("pretraining"), "no language-model pretraining state"),
    ):
        edited_tensors, edited = dict(tensors), json.loads(json.dumps(payload))
        edit(edited_tensors, edited)
        write_file(path, edited_tensors, edited, kind="checkpoint")
        with pytest.raises(ArtifactError, match=message):
            pretrain_language_model(_net(), corpus, validation, config, checkpoint=path, resume=True)


def test_bad_pretraining_settings_are_refused_before_any_work(tmp_path: Path) -> None:
    texts, labels = make_negation_data(60, seed=7)
    with pytest.raises(ConfigError, match=r"pretrain must be one of \['lm'\], got 'mlm'"):
        SentimentClassifier(**TINY, pretrain="mlm").fit(texts, labels)
    with pytest.raises(ConfigError, match="convolution front.*conv_channels=0"):
        SentimentClassifier(**TINY, pretrain="lm", conv_channels=8).check_params()
    with pytest.raises(ConfigError, match="pretrain_epochs"):
        SentimentClassifier(**TINY, pretrain="lm", pretrain_epochs=0).check_params()
    with pytest.raises(ConfigError, match="no text of two tokens"):
        pretrain_language_model(_net(), [np.array([3])], [], LM)


def test_the_command_line_pretrains_with_unlabelled_texts(tmp_path: Path) -> None:
    texts, labels = make_negation_data(160, seed=8)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels)))
    unlabeled = tmp_path / "unlabeled.csv"
    unlabeled.write_text("text\n" + "\n".join(make_negation_data(50, seed=9)[0]) + "\n")
    out = tmp_path / "model.sentilstm"
    common = ["--epochs", "1", "--embedding-dim", "16", "--hidden-size", "16", "--threads", "1", "--blend", "none"]
    result = invoke_cli(
        "train",
        data,
        "--out",
        out,
        *common,
        "--pretrain",
        "lm",
        "--unlabeled",
        unlabeled,
        "--set",
        "pretrain_epochs=1",
        "--set",
        "min_frequency=1",
    )
    assert result.exit_code == 0, result.output
    record = load_model(out).metrics_["pretraining"]
    assert record["texts"] == 144 + 50 and len(record["epochs"]) == 1
    assert not pretraining_checkpoint(Path(f"{out}.ckpt")).exists()  # removed with the training checkpoint
    bad = invoke_cli("train", data, "--out", tmp_path / "other.sentilstm", *common, "--pretrain", "elmo")
    assert "pretrain must be one of ['lm'], got 'elmo'" in error_line(bad)


def test_the_report_and_describe_show_pretraining(tmp_path: Path) -> None:
    from sentilstm.report.builders import training_report
    from sentilstm.report.summary import describe

    texts, labels = make_negation_data(200, seed=10)
    clf = SentimentClassifier(**{**PRETRAINED, "epochs": 1}).fit(texts, labels)
    page = tmp_path / "report.html"
    training_report(clf).write(page)
    html = page.read_text()
    assert "Language-model pretraining" in html and "validation perplexity" in html and "data:image/png" in html
    assert "language model, 2 epoch(s) over 180 texts" in str(describe(clf).settings["pretrained"])


# ----- encoder files: pretrain once, start many runs from it --------------------------------------------------------
class _StartingWeights(TrainingCallback):
    """Keeps the embedding table and the head the network starts training with."""

    def on_train_begin(self, state: Any) -> None:
        self.embedding = state.model.embedding.weight.detach().clone()
        self.head = state.model.head.weight.detach().clone()


@pytest.fixture(scope="module")
def encoder_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, _ = make_negation_data(300, seed=11)
    path = tmp_path_factory.mktemp("encoder") / "negation.encoder"
    record = SentimentClassifier(**{**TINY, "pretrain_epochs": 2}).pretrain_encoder(texts, path)
    assert record["texts"] == 270 and record["validation_texts"] == 30 and len(record["epochs"]) == 2
    return path


def test_a_classifier_starts_from_an_encoder_file_with_its_tokenizer(encoder_file: Path) -> None:
    from sentilstm.estimators.pretraining import read_encoder

    encoder = read_encoder(encoder_file)
    texts, labels = make_negation_data(120, seed=12)  # another sample: the encoder's vocabulary is kept
    starting = _StartingWeights()
    clf = SentimentClassifier(**{**TINY, "epochs": 1}, pretrained_encoder=str(encoder_file))
    clf.fit(texts, labels, callbacks=[starting])
    torch.testing.assert_close(starting.embedding, encoder.state["embedding.weight"])
    assert clf.pipeline_.tokenizer.to_json() == encoder.pipeline.tokenizer.to_json()
    assert clf.metrics_["pretraining"]["encoder_file"] == str(encoder_file)
    assert clf.metrics_["pretraining"]["epochs"] == encoder.record["epochs"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"hidden_size": 24}, r"hidden_size=24 \(the encoder's: 16\)"),
        ({"lowercase": False}, r"lowercase=False \(the encoder's: True\)"),
        ({"pretrain": "lm"}, "not both"),
        ({"pretrain_embeddings": "word2vec"}, "brings its own embeddings"),
    ],
)
def test_a_classifier_that_does_not_fit_the_encoder_is_refused(
    encoder_file: Path, change: dict[str, Any], message: str
) -> None:
    texts, labels = make_negation_data(60, seed=13)
    with pytest.raises(ConfigError, match=message):
        SentimentClassifier(**{**TINY, **change}, pretrained_encoder=str(encoder_file)).fit(texts, labels)


def test_a_missing_edited_or_other_file_is_no_encoder(encoder_file: Path, tmp_path: Path) -> None:
    from sentilstm.estimators.pretraining import read_encoder

    texts, labels = make_negation_data(60, seed=14)
    with pytest.raises(ConfigError, match="does not exist; give the path of a file `sentilstm pretrain` wrote"):
        SentimentClassifier(**TINY, pretrained_encoder=str(tmp_path / "nope")).fit(texts, labels)
    tensors, payload = read_file(encoder_file, kind="encoder")
    edited = tmp_path / "edited.encoder"
    write_file(edited, {**tensors, "embedding.weight": torch.zeros(3, 16)}, payload, kind="encoder")
    with pytest.raises(ArtifactError, match="cannot be used as a pretrained encoder: .*embedding.weight.*shape"):
        read_encoder(edited)
    write_file(edited, tensors, {**payload, "pretraining": {"epochs": "many"}}, kind="encoder")
    with pytest.raises(ArtifactError, match="pretraining record is malformed"):
        read_encoder(edited)
    model = tmp_path / "model.sentilstm"
    SentimentClassifier(**TINY).fit(texts, labels).save(model)
    with pytest.raises(ArtifactError, match="is a sentilstm model, not an encoder"):
        read_encoder(model)


def test_the_command_line_pretrains_once_and_trains_and_cross_validates_from_it(tmp_path: Path) -> None:
    texts, labels = make_negation_data(160, seed=15)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels)))
    encoder = tmp_path / "texts.encoder"
    small = ["--embedding-dim", "16", "--hidden-size", "16", "--threads", "1", "--set", "min_frequency=1"]
    result = invoke_cli("pretrain", data, "--out", encoder, *small, "--set", "pretrain_epochs=1")
    assert result.exit_code == 0, result.output
    assert "saved" in result.stdout and not Path(f"{encoder}.ckpt").exists()
    model = tmp_path / "model.sentilstm"
    flags = [*small, "--epochs", "1", "--blend", "none", "--pretrained-encoder", encoder]
    result = invoke_cli("train", data, "--out", model, *flags)
    assert result.exit_code == 0, result.output
    assert load_model(model).metrics_["pretraining"]["encoder_file"] == str(encoder)
    result = invoke_cli("cv", data, "--folds", "2", *flags)
    assert result.exit_code == 0, result.output
    assert "the texts to pretrain on" in error_line(invoke_cli("pretrain", "--out", tmp_path / "e2"))
    assert "--out" in error_line(invoke_cli("pretrain", data, "--out", data))  # never over its input
    options = invoke_cli("pretrain", "--help").stdout
    assert "--pretrain " in options and "--blend" not in options and "--epochs" not in options  # only what applies
    bad = invoke_cli("train", data, "--out", tmp_path / "m2", *flags[:-1], tmp_path / "missing.encoder")
    assert "does not exist" in error_line(bad)


def test_tuning_from_an_encoder_searches_only_what_the_encoder_leaves_open(encoder_file: Path) -> None:
    from sentilstm.selection.tuning import tune

    texts, labels = make_negation_data(120, seed=16)
    space = {
        "hidden_size": {"type": "categorical", "choices": [8, 32]},
        "dropout": {"type": "float", "low": 0.1, "high": 0.3},
    }
    mine = {k: v for k, v in TINY.items() if k not in ("hidden_size", "embedding_dim", "min_frequency")}
    base = {**mine, "epochs": 1, "pretrained_encoder": str(encoder_file)}
    result = tune(texts, labels, space=space, base_params=base, trials=2, seed=0, retrain=False)
    assert result.best_params["hidden_size"] == 16 and result.best_params["embedding_dim"] == 16  # the encoder's
    assert len(result.trials) == 2 and "params_dropout" in result.trials.columns


def test_freeze_encoder_keeps_the_pretrained_layers_fixed_while_the_head_learns() -> None:
    class Watch(TrainingCallback):
        def on_train_begin(self, state: Any) -> None:
            self.state, self.trainable = state, []

        def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
            net = self.state.model
            self.trainable.append(
                (
                    net.embedding.weight.requires_grad,
                    net.forward_rnns[0].weight_hh_l0.requires_grad,
                    net.head.weight.requires_grad,
                )
            )

    texts, labels = make_negation_data(160, seed=17)
    watch = Watch()
    clf = SentimentClassifier(**{**PRETRAINED, "epochs": 3, "patience": 5, "pretrain_epochs": 1}, freeze_encoder=2)
    clf.fit(texts, labels, callbacks=[watch])
    assert watch.trainable == [(False, False, True), (False, False, True), (True, True, True)]
    assert clf.model_.embedding.weight.requires_grad and clf.model_.backward_rnns[0].weight_ih_l0.requires_grad


def test_encoder_lr_scale_slows_the_pretrained_encoder_only(encoder_file: Path) -> None:
    from sentilstm.estimators.pretraining import read_encoder
    from sentilstm.training.optim import encoder_parameters, make_optimizer

    net = _net()
    groups = make_optimizer(net, dataclasses.replace(LM, learning_rate=1e-2, encoder_lr_scale=0.25)).param_groups
    encoder = {id(p) for p in encoder_parameters(net)}
    rates = {id(p): group["lr"] for group in groups for p in group["params"]}
    assert rates.keys() == {id(p) for p in net.parameters()}  # every parameter trains, once
    assert {rates[i] for i in encoder} == {2.5e-3} and {r for i, r in rates.items() if i not in encoder} == {1e-2}
    assert len(make_optimizer(net, LM).param_groups) == 2  # one rate: the groups checkpoints have always had

    texts, labels = make_negation_data(120, seed=18)  # at 0 the encoder file's weights come out as they went in
    clf = SentimentClassifier(**{**TINY, "epochs": 2}, pretrained_encoder=str(encoder_file), encoder_lr_scale=0.0)
    starting = _StartingWeights()
    clf.fit(texts, labels, callbacks=[starting])
    saved = read_encoder(encoder_file).state
    torch.testing.assert_close(clf.model_.embedding.weight.detach(), saved["embedding.weight"])
    torch.testing.assert_close(clf.model_.forward_rnns[0].weight_hh_l0.detach(), saved["forward_rnns.0.weight_hh_l0"])
    assert not torch.equal(starting.head, clf.model_.head.weight)  # while the head learns
    with pytest.raises(ConfigError, match="encoder_lr_scale"):
        SentimentClassifier(encoder_lr_scale=1.5).check_params()
