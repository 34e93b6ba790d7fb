"""ONNX / TorchScript export and the ONNX Runtime serving backend (src/sentilstm/export.py, backends.py).

Contracts: an exported graph matches PyTorch within 1e-4 on any batch size and length (its axes are really
dynamic) for every architecture the config allows; padding never changes a prediction; int8 keeps the
predictions; `load_for_serving` has load_model's surface on every backend, blend included; the CLI writes and
reuses the files, and every bad input is one `error:` line with exit code 2.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
import torch

from helpers import TINY, error_line, invoke_cli, make_negation_data
from sentilstm import NBSVM, SentimentClassifier
from sentilstm.errors import ConfigError
from sentilstm.network.model import SentimentNet
from sentilstm.network.pooling import POOLINGS
from sentilstm.onnx.backends import load_for_serving
from sentilstm.onnx.export import check_batches, export_model, export_onnx, export_torchscript, onnx_graph
from sentilstm.onnx.graph import pad_batch, sibling_path
from sentilstm.onnx.runner import OnnxNetwork


def with_network(clf: SentimentClassifier, **changes: Any) -> SentimentClassifier:
    """A shallow copy of `clf` whose network is a freshly initialised one with other architecture settings."""
    torch.manual_seed(0)
    other = copy.copy(clf)
    other.model_ = SentimentNet(dataclasses.replace(clf.model_.config, **changes)).eval()
    return other


@pytest.fixture(scope="module")
def tiny_clf() -> SentimentClassifier:
    texts, labels = make_negation_data(300, seed=1)
    return SentimentClassifier(**TINY).fit(texts, labels)


ARCHITECTURES = [
    dict(cell="lstm", bidirectional=True, pooling="attention"),
    dict(cell="lstm", bidirectional=False, pooling="last"),
    dict(cell="gru", bidirectional=True, pooling="last"),
    dict(cell="gru", bidirectional=False, pooling="mean"),
    dict(cell="lstm", bidirectional=True, pooling="max", num_classes=3),
    dict(cell="lstm", bidirectional=True, pooling="concat", num_layers=2),
    dict(cell="gru", bidirectional=True, pooling="attention", conv_channels=8, num_layers=2),
]
ARCHITECTURES += [  # every other registered pooling, in the default architecture: each one must export
    dict(cell="lstm", bidirectional=True, pooling=name)
    for name in POOLINGS
    if name not in {changes["pooling"] for changes in ARCHITECTURES}
]


@pytest.mark.parametrize("changes", ARCHITECTURES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_onnx_matches_torch_on_any_shape(
    tiny_clf: SentimentClassifier, changes: dict[str, Any], tmp_path: Path
) -> None:
    clf = with_network(tiny_clf, **changes)
    report = export_onnx(clf, tmp_path / "net.onnx")
    assert report.max_abs_diff < 1e-4 and report.argmax_agreement == 1.0
    shapes = set(report.checked_shapes)
    assert (1, 1) in shapes and (1, clf.pipeline_.config.max_length) in shapes  # batch 1, shortest and longest
    assert len({b for b, _ in shapes}) >= 4 and len({n for _, n in shapes}) >= 4  # axes really dynamic
    expected_rnn = "LSTM" if changes["cell"] == "lstm" else "GRU"
    assert report.operators.get(expected_rnn) == changes.get("num_layers", 1)  # both directions in one op per layer


def test_int8_gru_keeps_the_gru_in_fp32(tiny_clf: SentimentClassifier, tmp_path: Path) -> None:
    report = export_onnx(
        with_network(tiny_clf, cell="gru", bidirectional=True, pooling="mean"), tmp_path / "gru.onnx", quantize="int8"
    )
    assert report.operators.get("GRU") == 1 and report.operators.get("MatMulInteger", 0) >= 1  # ORT has no int8 GRU
    assert report.max_abs_diff < 0.05


def test_onnx_is_padding_invariant(trained_clf: SentimentClassifier) -> None:
    network = OnnxNetwork(onnx_graph(trained_clf), threads=1)
    ids = trained_clf.pipeline_.encode(["the film was not good", "great " * 60, "a " * 90 + "awful", "not bad"])
    lengths = np.array([len(x) for x in ids])
    alone = network.logits(*pad_batch(ids, np.array([0]), lengths))
    together = network.logits(*pad_batch(ids, np.arange(4), lengths))
    np.testing.assert_allclose(alone[0], together[0], atol=1e-5)
    wide = np.zeros((1, 200), dtype=np.int64)
    wide[0, : lengths[0]] = ids[0]
    np.testing.assert_allclose(network.logits(wide, lengths[:1]), alone, atol=1e-5)  # extra padding alone


def test_onnx_graph_describes_itself(trained_clf: SentimentClassifier, tmp_path: Path) -> None:
    report = export_onnx(trained_clf, tmp_path / "m.onnx")
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert [i.name for i in model.graph.input] == ["ids", "lengths"]
    assert [o.name for o in model.graph.output] == ["logits", "probabilities"]
    dims = [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "sequence"]
    metadata = json.loads({p.key: p.value for p in model.metadata_props}["sentilstm"])
    assert (
        metadata["labels"] == [-1, 1]
        and metadata["text_config"]["max_length"] == trained_clf.pipeline_.config.max_length
    )
    assert metadata["quantize"] is None
    assert report.size_bytes == (tmp_path / "m.onnx").stat().st_size
    json.dumps(report.to_dict())
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # written atomically: no temporary left


def test_int8_keeps_the_predictions(
    trained_clf: SentimentClassifier, held_out_data: tuple[list[str], list[int]], tmp_path: Path
) -> None:
    texts, labels = held_out_data
    report = export_onnx(trained_clf, tmp_path / "m.int8.onnx", quantize="int8", texts=texts[:200])
    assert report.quantize == "int8" and report.argmax_agreement >= 0.97
    assert report.operators.get("DynamicQuantizeLSTM") == 1 and "LSTM" not in report.operators  # the LSTM is int8
    assert report.operators.get("MatMulInteger", 0) >= 1
    fp32 = export_onnx(trained_clf, tmp_path / "m.onnx")
    assert report.size_bytes < fp32.size_bytes
    network = OnnxNetwork(tmp_path / "m.int8.onnx", threads=1)
    int8 = network(trained_clf.pipeline_.encode(texts)).argmax(1)
    torch_predictions = trained_clf._network_proba(texts).argmax(1)
    assert (int8 == torch_predictions).mean() >= 0.97
    targets = trained_clf.label_map_.encode(labels)
    assert (int8 == targets).mean() >= (torch_predictions == targets).mean() - 0.02


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_load_for_serving_matches_load_model(
    backend: str, trained_clf: SentimentClassifier, trained_model_path: Path, held_out_data: tuple[list[str], list[int]]
) -> None:
    texts = held_out_data[0][:300] + ["", "not " * 700]  # an empty text and one past max_length
    clf = load_for_serving(trained_model_path, backend, threads=1)  # type: ignore[arg-type]
    assert list(clf.classes_) == list(trained_clf.classes_) and clf.label_map_.labels == trained_clf.label_map_.labels
    assert clf.metrics_ == json.loads(json.dumps(trained_clf.metrics_))
    probabilities = clf.predict_proba(texts)
    expected = trained_clf.predict_proba(texts)
    assert probabilities.shape == expected.shape
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-9)
    tolerance = 0.05 if backend == "onnx-int8" else 1e-5
    np.testing.assert_allclose(probabilities, expected, atol=tolerance)
    assert list(clf.predict(texts)) == list(clf.classes_[probabilities.argmax(1)])
    assert clf.explain("the film was not good", method="integrated_gradients").words  # gradients stay on torch
    assert clf.get_params()["hidden_size"] == 32


def test_blended_model_runs_on_onnx(tmp_path: Path) -> None:
    texts, labels = make_negation_data(400, seed=0)
    clf = SentimentClassifier(**{**TINY, "blend": "nbsvm"}).fit(texts, labels)
    path = clf.save(tmp_path / "blend.sentilstm")
    served = load_for_serving(path, "onnx", threads=1)
    assert served.blend_model_ is not None and served.network_runner_ is not None
    probe = make_negation_data(100, seed=7)[0]
    np.testing.assert_allclose(served.predict_proba(probe), clf.predict_proba(probe), atol=1e-5)


def test_baseline_ignores_the_backend_and_cannot_be_exported(tmp_path: Path) -> None:
    texts, labels = make_negation_data(200, seed=0)
    path = NBSVM().fit(texts, labels).save(tmp_path / "nbsvm.sentilstm")
    served = load_for_serving(path, "onnx-int8")
    assert served.predict(texts[:5]).shape == (5,)
    with pytest.raises(ConfigError, match="linear baseline has no network"):
        export_model(path, "onnx")


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_round_trip(trained_clf: SentimentClassifier, tmp_path: Path) -> None:
    report = export_torchscript(trained_clf, tmp_path / "m.pt")
    assert report.max_abs_diff < 1e-5 and report.argmax_agreement == 1.0
    module = torch.jit.load(str(tmp_path / "m.pt"))
    for ids, lengths in check_batches(trained_clf, seed=3):  # other shapes than the trace's and the check's
        logits, probabilities = module(ids, lengths)
        with torch.inference_mode():
            expected = trained_clf.model_(ids, lengths)
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(probabilities.sum(1), torch.ones(len(ids)))


def test_stale_sibling_is_not_used(
    trained_clf: SentimentClassifier, trained_model_path: Path, tiny_clf: SentimentClassifier, tmp_path: Path
) -> None:
    model = tmp_path / "m.sentilstm"
    model.write_bytes(trained_model_path.read_bytes())
    other = tiny_clf.save(tmp_path / "other.sentilstm")
    export_onnx(tiny_clf, sibling_path(model), source=other)  # a graph of another model beside this one
    served = load_for_serving(model, "onnx", threads=1)
    texts = ["the film was not good", "great acting"]
    np.testing.assert_allclose(served.predict_proba(texts), trained_clf.predict_proba(texts), atol=1e-5)


def test_cli_export_then_predict_file_on_onnx(
    trained_clf: SentimentClassifier,
    trained_model_path: Path,
    held_out_data: tuple[list[str], list[int]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = tmp_path / "neg.sentilstm"
    model.write_bytes(trained_model_path.read_bytes())
    result = invoke_cli("export", model, "--quantize", "int8")
    assert result.exit_code == 0, result.output
    assert (
        "neg.int8.onnx" in result.stdout
        and "argmax agreement" in result.stdout
        and "max |logit difference|" in result.stdout
    )
    result = invoke_cli("export", model, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["path"] == str(tmp_path / "neg.onnx") and report["max_abs_diff"] < 1e-4
    # the exported siblings are used as they are: no export happens at load time
    monkeypatch.setattr(
        "sentilstm.onnx.backends.onnx_graph", lambda *a, **k: pytest.fail("re-exported instead of reusing")
    )
    texts = held_out_data[0][:250]
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_csv(tmp_path / "in.csv", index=False)
    for backend in ("onnx", "onnx-int8"):
        output = tmp_path / f"out-{backend}.csv"
        result = invoke_cli(
            "predict",
            model,
            "--input",
            tmp_path / "in.csv",
            "--output",
            output,
            "--backend",
            backend,
            "--threads",
            "1",
            "--chunk-rows",
            "100",
        )
        assert result.exit_code == 0, result.output
        assert "scored 250 rows" in result.stderr
        scored = pd.read_csv(output)
        expected = trained_clf.predict_proba(texts)
        np.testing.assert_allclose(
            scored[["prob_-1", "prob_1"]].to_numpy(), expected, atol=1e-5 if backend == "onnx" else 0.05
        )
    result = invoke_cli("predict", model, "--backend", "onnx", "--json", "the film was not good")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["label"] == trained_clf.predict(["the film was not good"])[0]


def test_cli_export_torchscript(trained_model_path: Path, tmp_path: Path) -> None:
    result = invoke_cli("export", trained_model_path, "--format", "torchscript", "--out", tmp_path / "m.pt")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.pt").is_file() and "torchscript" in result.stdout


def test_cli_errors(trained_model_path: Path, tmp_path: Path) -> None:
    assert "format must be one of" in error_line(invoke_cli("export", trained_model_path, "--format", "tflite"))
    assert "ONNX only" in error_line(
        invoke_cli("export", trained_model_path, "--format", "torchscript", "--quantize", "int8")
    )
    assert "quantize must be one of" in error_line(invoke_cli("export", trained_model_path, "--quantize", "int4"))
    assert "does not exist" in error_line(invoke_cli("export", tmp_path / "missing.sentilstm"))
    assert "does not exist" in error_line(invoke_cli("export", trained_model_path, "--out", tmp_path / "no" / "m.onnx"))
    texts, labels = make_negation_data(100, seed=0)
    baseline = NBSVM().fit(texts, labels).save(tmp_path / "nbsvm.sentilstm")
    assert "linear baseline has no network" in error_line(invoke_cli("export", baseline))
    assert "backend must be one of" in error_line(
        invoke_cli("predict", trained_model_path, "--backend", "tensorrt", "good")
    )
    assert "threads must be" in error_line(
        invoke_cli("predict", trained_model_path, "--backend", "onnx", "--threads", "0", "good")
    )
