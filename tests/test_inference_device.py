"""Inference picks its own device (issue 14, item 11): the device a model was trained on is a record, never reused.

A GPU run saves `device="cuda"` (or "cuda:3") among its parameters; such a file must load and predict on a
machine without that GPU. The files here are the session's CPU model with its saved device edited.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from helpers import invoke_cli, make_negation_data
from sentilstm import SentimentClassifier, load_model
from sentilstm.artifact.format import read_file, write_file
from sentilstm.errors import ArtifactError, ConfigError

TEXTS = ["the movie was great", "the movie was not great", "awful", "not awful at all"]
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")


def _saved_device(source: Path, target: Path, device: str) -> Path:
    tensors, payload = read_file(source, kind="model")
    payload["params"]["device"] = device
    write_file(target, tensors, payload, kind="model")
    return target


@pytest.fixture(scope="module")
def gpu_trained_path(trained_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's model as a run with --device cuda:3 would have saved it."""
    return _saved_device(trained_model_path, tmp_path_factory.mktemp("gpu") / "gpu.sentilstm", "cuda:3")


@pytest.mark.parametrize("device", ["cuda", "cuda:3", "mps"])
def test_a_model_trained_elsewhere_loads_and_predicts_here(
    trained_clf: SentimentClassifier, trained_model_path: Path, tmp_path: Path, device: str
) -> None:
    loaded = load_model(_saved_device(trained_model_path, tmp_path / "m.sentilstm", device))
    assert loaded.device == "auto" and loaded.training_device_ == device
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), trained_clf.predict_proba(TEXTS), atol=1e-5)


def test_an_explicit_device_is_used(gpu_trained_path: Path) -> None:
    for load in (load_model, SentimentClassifier.load):
        clf = load(gpu_trained_path, device="cpu")
        assert clf.device == "cpu" and clf.predict_proba(TEXTS).shape == (4, 2)
        assert next(clf.model_.parameters()).device.type == "cpu"


def test_a_loaded_model_saved_again_records_its_own_device_setting(gpu_trained_path: Path, tmp_path: Path) -> None:
    again = load_model(load_model(gpu_trained_path, device="cpu").save(tmp_path / "again.sentilstm"))
    assert again.training_device_ == "cpu" and again.device == "auto"  # params.device: the setting when saved


@NO_CUDA
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_an_unavailable_device_is_a_config_error_naming_the_fix(gpu_trained_path: Path, device: str) -> None:
    with pytest.raises(ConfigError, match=rf"device '{device}' was asked for but no CUDA GPU is available.*'auto'"):
        load_model(gpu_trained_path, device=device)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_gpu_index_past_the_last_gpu_is_a_config_error(gpu_trained_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"cuda:{torch.cuda.device_count()}.*GPU"):
        load_model(gpu_trained_path, device=f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "meta", ""])
def test_a_device_that_is_not_one_is_a_config_error(gpu_trained_path: Path, device: str) -> None:
    with pytest.raises(ConfigError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        load_model(gpu_trained_path, device=device)


def test_a_saved_device_that_no_run_could_write_is_refused(trained_model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="tpu.sentilstm.*params.device must be"):
        load_model(_saved_device(trained_model_path, tmp_path / "tpu.sentilstm", "tpu"))


# ----- the command line ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def labelled_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = make_negation_data(40, seed=9)
    path = tmp_path_factory.mktemp("data") / "test.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])
    return path


def _commands(model: Path, data: Path, device: str) -> list[list[Any]]:
    return [
        ["predict", model, "good", "--device", device],
        ["evaluate", model, data, "--device", device],
        ["explain", model, "good", "--device", device],
    ]


@pytest.mark.parametrize("which", range(3))
def test_cli_commands_run_a_gpu_trained_model_here(gpu_trained_path: Path, labelled_csv: Path, which: int) -> None:
    for device in ("auto", "cpu"):
        result = invoke_cli(*_commands(gpu_trained_path, labelled_csv, device)[which])
        assert result.exit_code == 0, result.output
    result = invoke_cli(*_commands(gpu_trained_path, labelled_csv, "cpu")[which][:-2])  # no --device: auto
    assert result.exit_code == 0, result.output


@NO_CUDA
@pytest.mark.parametrize("which", range(3))
@pytest.mark.parametrize("device", ["cuda", "tpu"])
def test_cli_commands_refuse_an_unusable_device_in_one_line(
    gpu_trained_path: Path, labelled_csv: Path, which: int, device: str
) -> None:
    result = invoke_cli(*_commands(gpu_trained_path, labelled_csv, device)[which])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "device" in lines[0], result.output


def test_predict_on_ray_takes_gpus_not_a_device(gpu_trained_path: Path, labelled_csv: Path, tmp_path: Path) -> None:
    result = invoke_cli(
        "predict",
        gpu_trained_path,
        "--input",
        labelled_csv,
        "--output",
        tmp_path / "out",
        "--engine",
        "ray",
        "--device",
        "cpu",
    )
    assert result.exit_code == 2 and result.output.startswith("error: --device cpu applies to the local engine")


# ----- serving ------------------------------------------------------------------------------------------------
def test_serve_settings_carry_the_device_to_the_workers(gpu_trained_path: Path) -> None:
    from sentilstm.serve.settings import ServeSettings

    settings = ServeSettings(str(gpu_trained_path), device="cpu")
    assert ServeSettings.from_env(settings.to_env()) == settings
    assert ServeSettings(str(gpu_trained_path)).device == "auto"
    with pytest.raises(ConfigError, match="device must be"):
        ServeSettings(str(gpu_trained_path), device="tpu")


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_the_served_classifier_runs_on_the_chosen_device(gpu_trained_path: Path, backend: str) -> None:
    from sentilstm.serve.service import load_classifier

    clf = load_classifier(str(gpu_trained_path), backend, 1, device="cpu")
    assert clf.device == "cpu" and clf.predict_proba(TEXTS).shape == (4, 2)
    assert load_classifier(str(gpu_trained_path), backend, 1).device == "auto"


@NO_CUDA
def test_serve_refuses_an_unavailable_device_before_listening(gpu_trained_path: Path, tmp_path: Path) -> None:
    result = invoke_cli(
        "serve", gpu_trained_path, "--device", "cuda", "--port", "9", "--feedback-db", f"sqlite:///{tmp_path / 'f.db'}"
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: device 'cuda'"), result.output
