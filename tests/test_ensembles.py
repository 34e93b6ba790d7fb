"""Ensembles of networks in one file (sentilstm.network.ensemble, sentilstm.estimators.ensembles): averaged
probabilities, save/load, ONNX export as one graph, explanations, resuming, distillation from an ensemble, and
bad settings refused with one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers import TINY, error_line, invoke_cli, keyword_data
from sentilstm import SentimentClassifier, load_model
from sentilstm.artifact.format import read_file, write_file
from sentilstm.config import ModelConfig
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.network.ensemble import EnsembleNet, average_probabilities, make_network, members
from sentilstm.network.model import SentimentNet
from sentilstm.training.callbacks import TrainingCallback

ENSEMBLE: dict[str, Any] = {**TINY, "epochs": 3, "patience": 5, "ensemble": 3}


@pytest.fixture(scope="module")
def ensemble_model() -> SentimentClassifier:
    texts, labels = keyword_data(240, seed=0)
    return SentimentClassifier(**ENSEMBLE).fit(texts, labels)


def test_the_ensemble_averages_its_members_probabilities() -> None:
    torch.manual_seed(0)
    net = make_network(ModelConfig(embedding_rows=40, num_classes=3, embedding_dim=8, hidden_size=8, members=4))
    assert isinstance(net, EnsembleNet) and len(members(net)) == 4
    net.eval()
    ids, lengths = torch.randint(1, 40, (5, 7)), torch.tensor([7, 3, 1, 5, 7])
    expected = torch.stack([torch.softmax(m(ids, lengths), -1) for m in members(net)]).mean(0)
    torch.testing.assert_close(torch.softmax(net(ids, lengths), -1), expected)
    one = torch.randn(5, 3)
    torch.testing.assert_close(average_probabilities([one]), one)  # one network: its own logits, untouched
    assert isinstance(make_network(ModelConfig(embedding_rows=40)), SentimentNet)
    with pytest.raises(ValueError, match="use make_network"):
        SentimentNet(ModelConfig(embedding_rows=40, members=2))


def test_padding_never_changes_an_ensemble_prediction() -> None:
    torch.manual_seed(1)
    net = make_network(ModelConfig(embedding_rows=30, num_classes=2, embedding_dim=8, hidden_size=8, members=3))
    net.eval()
    text = torch.tensor([[4, 9, 2]])
    wider = torch.zeros(2, 8, dtype=torch.int64)
    wider[0, :3], wider[1] = text[0], torch.randint(1, 30, (8,))
    torch.testing.assert_close(net(wider, torch.tensor([3, 8]))[0], net(text, torch.tensor([3]))[0])


def test_members_train_with_their_own_seeds_and_the_file_holds_them_all(
    ensemble_model: SentimentClassifier, tmp_path: Path
) -> None:
    clf = ensemble_model
    summary = clf.metrics_["ensemble"]
    assert [m["seed"] for m in summary["members"]] == [0, 1, 2]
    assert isinstance(clf.model_, EnsembleNet) and clf.model_.config.members == 3
    first, second = (m.embedding.weight for m in members(clf.model_)[:2])
    assert not torch.equal(first, second)  # different seeds, different networks
    single = SentimentClassifier(**{**ENSEMBLE, "ensemble": 1}).fit(*keyword_data(240, seed=0))
    torch.testing.assert_close(members(clf.model_)[0].head.weight, single.model_.head.weight)  # member 0 = seed 0
    texts = keyword_data(30, seed=5)[0] + ["", "w1 " * 200]
    loaded = load_model(clf.save(tmp_path / "ens.sentilstm"))
    assert isinstance(loaded.model_, EnsembleNet) and loaded.metrics_["ensemble"] == summary
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))
    probabilities = clf.predict_proba(texts)
    np.testing.assert_allclose(probabilities.sum(1), 1.0)
    assert (clf.predict(texts) == clf.classes_[probabilities.argmax(1)]).all()


def test_an_ensemble_exports_to_one_onnx_graph(ensemble_model: SentimentClassifier, tmp_path: Path) -> None:
    import onnx

    from sentilstm.onnx.backends import load_for_serving
    from sentilstm.onnx.export import export_onnx
    from sentilstm.onnx.runner import OnnxNetwork

    texts = keyword_data(60, seed=6)[0]
    path = ensemble_model.save(tmp_path / "ens.sentilstm")
    for quantize in (None, "int8"):
        target = tmp_path / f"ens.{quantize}.onnx"
        report = export_onnx(ensemble_model, target, quantize=quantize, texts=texts)
        assert report.argmax_agreement >= (1.0 if quantize is None else 0.97), report.summary()
        rnn_ops = sum(n for op, n in report.operators.items() if "LSTM" in op)
        assert rnn_ops == 3, report.operators  # one fused bidirectional LSTM per member, in the one graph
        metadata = json.loads({p.key: p.value for p in onnx.load(str(target)).metadata_props}["sentilstm"])
        assert metadata["model_config"]["members"] == 3
        runner = OnnxNetwork(target, threads=1)
        agree = runner(ensemble_model.pipeline_.encode(texts)).argmax(1) == ensemble_model.predict_proba(texts).argmax(
            1
        )
        assert agree.mean() >= (1.0 if quantize is None else 0.95)
    served = load_for_serving(path, backend="onnx-int8", threads=1)
    assert (served.predict(texts) == ensemble_model.predict(texts)).mean() >= 0.95


def test_an_ensemble_explains_with_its_members_averaged(ensemble_model: SentimentClassifier) -> None:
    text = keyword_data(1, seed=9)[0][0]
    attribution = ensemble_model.explain(text, method="integrated_gradients")
    per_member = []
    for net in members(ensemble_model.model_):
        original = ensemble_model.model_
        ensemble_model.model_ = net
        try:
            per_member.append(ensemble_model.explain(text, method="integrated_gradients").scores)
        finally:
            ensemble_model.model_ = original
    np.testing.assert_allclose(attribution.scores, np.mean(per_member, axis=0), rtol=1e-6, atol=1e-9)
    attention = ensemble_model.explain(text, method="attention")
    np.testing.assert_allclose(attention.scores[:, 0].sum(), 1.0, atol=1e-5)


class InterruptAt(TrainingCallback):
    """Interrupts training when the `at`-th epoch of the whole fit (members counted one after another) starts."""

    def __init__(self, at: int) -> None:
        self.at, self.started = at, 0

    def on_epoch_start(self, epoch: int, num_epochs: int, num_batches: int) -> None:
        self.started += 1
        if self.started == self.at:
            raise KeyboardInterrupt


def test_an_interrupted_ensemble_resumes_the_member_it_was_training(tmp_path: Path) -> None:
    texts, labels = keyword_data(200, seed=3)
    full = SentimentClassifier(**ENSEMBLE).fit(texts, labels)
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):  # member 2's third epoch: member 1 done, member 2 at epoch 2
        SentimentClassifier(**ENSEMBLE).fit(texts, labels, checkpoint_path=checkpoint, callback=InterruptAt(6))
    assert checkpoint.exists() and (tmp_path / "run.ckpt.member1").exists()
    counter = InterruptAt(0)
    resumed = SentimentClassifier(**ENSEMBLE).fit(
        texts, labels, checkpoint_path=checkpoint, resume=True, callback=counter
    )
    assert counter.started == 1 + 3  # member 2's last epoch, then member 3 from the start
    np.testing.assert_array_equal(resumed.predict_proba(texts[:30]), full.predict_proba(texts[:30]))
    from sentilstm.estimators.ensembles import remove_checkpoints

    (tmp_path / "run.ckpt.member1.keep").write_text("not a checkpoint")
    remove_checkpoints(checkpoint)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt.member1.keep"]


def test_an_ensemble_and_its_blend_teach_one_network() -> None:
    texts, labels = keyword_data(240, seed=4)
    clf = SentimentClassifier(**{**ENSEMBLE, "blend": "tfidf_lr", "distill": "blend"}).fit(texts, labels)
    report = clf.metrics_["distillation"]
    assert report["teacher"] == "this run's blend of an ensemble of 3 networks"
    assert len(report["teacher_ensemble"]["members"]) == 3 and "ensemble" not in clf.metrics_
    assert isinstance(clf.model_, SentimentNet) and clf.model_.config.members == 1 and clf.blend_model_ is None


def test_a_file_whose_members_disagree_with_its_config_is_refused(
    ensemble_model: SentimentClassifier, tmp_path: Path
) -> None:
    tensors, payload = read_file(ensemble_model.save(tmp_path / "ens.sentilstm"), kind="model")  # type: ignore[arg-type]
    payload["model_config"]["members"] = 2
    write_file(tmp_path / "edited.sentilstm", tensors, payload, kind="model")  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="members is 2 but the file holds 3 ensemble member"):
        load_model(tmp_path / "edited.sentilstm")
    payload["model_config"]["members"] = 3
    dropped = {k: v for k, v in tensors.items() if not k.startswith("members.2.head")}
    write_file(tmp_path / "cut.sentilstm", dropped, payload, kind="model")  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="members.2.head"):
        load_model(tmp_path / "cut.sentilstm")


@pytest.mark.parametrize("value", [0, 65, 2.5, "three"])
def test_a_bad_ensemble_size_is_one_line(value: Any) -> None:
    with pytest.raises(ConfigError, match="ensemble must be"):
        SentimentClassifier(ensemble=value).check_params()


def test_the_seeds_of_an_ensemble_must_fit() -> None:
    with pytest.raises(ConfigError, match="seed must be between 0 and 4294967293"):
        SentimentClassifier(ensemble=3, seed=2**32 - 2).check_params()


def test_the_command_line_trains_an_ensemble(tmp_path: Path) -> None:
    texts, labels = keyword_data(150, seed=7)
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels)))
    out = tmp_path / "m.sentilstm"
    result = invoke_cli(
        "train",
        data,
        "--out",
        out,
        "--ensemble",
        2,
        "--epochs",
        1,
        "--embedding-dim",
        16,
        "--hidden-size",
        16,
        "--blend",
        "none",
        "--threads",
        1,
    )
    assert result.exit_code == 0, result.output
    assert load_model(out).model_.config.members == 2 and not list(tmp_path.glob("*.ckpt*"))
    assert "ensemble must be between 1 and 64" in error_line(invoke_cli("train", data, "--out", out, "--ensemble", 0))


def test_the_report_and_the_summary_show_the_members(ensemble_model: SentimentClassifier) -> None:
    from sentilstm.report.builders import training_report
    from sentilstm.report.summary import describe

    html = training_report(ensemble_model, title="ensemble").to_html()
    assert "Ensemble" in html and "member 3 (seed 2" in html and "ensemble (probabilities averaged)" in html
    summary = describe(ensemble_model)
    assert summary.estimator == "EnsembleNet (3 x SentimentNet LSTM)"
    assert summary.total_parameters == 3 * sum(p.numel() for p in members(ensemble_model.model_)[0].parameters())
