"""sentilstm.artifact.format: the one-file model format; exact round trips, and every damaged file is an
ArtifactError."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from helpers import make_negation_data
from sentilstm import SentimentClassifier
from sentilstm.artifact.format import FORMAT_VERSION, read_file, write_file
from sentilstm.errors import ArtifactError

TEXTS = make_negation_data(60, seed=7)[0] + ["", "not " * 2000, "\U0001f600 caf\u00e9 <br /> @user http://x.y"]


def _header(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as handle:
        return {k: handle.get_tensor(k) for k in handle.keys()}, dict(handle.metadata())


def _rewrite(source: Path, target: Path, **metadata: str) -> Path:
    """Copy a sentilstm file with some header fields replaced and the checksum over them recomputed, so what is
    tested is what comes after the checksum (tests/test_tampering.py covers edits that keep the old checksum)."""
    from sentilstm.artifact.format import CONTENT_DIGEST, content_digest

    tensors, header = _header(source)
    header = {k: v for k, v in {**header, **metadata}.items() if k != CONTENT_DIGEST}
    save_file(tensors, str(target), metadata={**header, CONTENT_DIGEST: content_digest(header, tensors)})
    return target


def _weights_only(source: Path, target: Path) -> Path:
    """`source` as sentilstm wrote files before the header was checksummed (format 1, a SHA-256 of the tensors only),
    written here by hand."""
    tensors, header = _header(source)
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    metadata = {
        "format": "sentilstm",
        "format_version": "1",
        "kind": header["kind"],
        "sha256": digest.hexdigest(),
        "payload": header["payload"],
    }
    save_file(tensors, str(target), metadata=metadata)
    return target


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ----- round trips -----------------------------------------------------------------------------------
def test_save_load_gives_identical_probabilities(trained_clf: SentimentClassifier, tmp_path: Path) -> None:
    path = trained_clf.save(tmp_path / "model.sentilstm")
    loaded = SentimentClassifier.load(path)
    assert np.array_equal(loaded.predict_proba(TEXTS), trained_clf.predict_proba(TEXTS))
    assert list(loaded.predict(TEXTS)) == list(trained_clf.predict(TEXTS))
    assert list(loaded.classes_) == list(trained_clf.classes_) == [-1, 1]
    assert loaded.get_params() == trained_clf.get_params()
    assert loaded.history_ == trained_clf.history_
    assert loaded.metrics_ == json.loads(json.dumps(trained_clf.metrics_))
    assert loaded.versions_["sentilstm"] and loaded.versions_["torch"] == torch.__version__
    assert loaded.pipeline_.config == trained_clf.pipeline_.config
    assert loaded.model_.config == trained_clf.model_.config and not loaded.model_.training


def test_save_writes_exactly_one_file(trained_clf: SentimentClassifier, tmp_path: Path) -> None:
    returned = trained_clf.save(str(tmp_path / "model.sentilstm"))
    assert returned == tmp_path / "model.sentilstm"
    assert _files(tmp_path) == ["model.sentilstm"]


def test_saved_file_is_safetensors_with_a_json_header(trained_model_path: Path) -> None:
    data = trained_model_path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    metadata = header["__metadata__"]
    assert metadata["format"] == "sentilstm" and metadata["kind"] == "model"
    assert metadata["format_version"] == str(FORMAT_VERSION)
    assert {"params", "labels", "tokenizer", "text_config", "model_config"} <= set(json.loads(metadata["payload"]))


def test_save_overwrites_an_existing_file(trained_clf: SentimentClassifier, tmp_path: Path) -> None:
    path = tmp_path / "model.sentilstm"
    path.write_bytes(b"old")
    trained_clf.save(path)
    SentimentClassifier.load(path)
    assert _files(tmp_path) == ["model.sentilstm"]


def test_load_with_device_override(trained_model_path: Path) -> None:
    loaded = SentimentClassifier.load(trained_model_path, device="cpu")
    assert loaded.device == "cpu" and loaded.predict_proba(["good"]).shape == (1, 2)


def test_low_level_round_trip_keeps_dtypes_and_payload(tmp_path: Path) -> None:
    tensors = {
        "a": torch.randn(3, 4),
        "b": torch.arange(5, dtype=torch.int64),
        "c": torch.randn(2, dtype=torch.float64),
        "d": torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
        "e": torch.randn(4, 6)[:, ::2],  # not contiguous
    }
    payload = {"text": "caf\u00e9 \U0001f600", "nested": {"list": [1, 2.5, None]}, "inf": float("inf")}
    write_file(tmp_path / "x.ckpt", tensors, payload, kind="checkpoint")
    loaded, loaded_payload = read_file(tmp_path / "x.ckpt", kind="checkpoint")
    assert loaded.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor)
    assert loaded_payload == payload


# ----- damaged, foreign and missing files -------------------------------------------------------------
@pytest.mark.parametrize("keep", [0.5, 0.99, 8, 100])
def test_truncated_file_raises(trained_model_path: Path, tmp_path: Path, keep: float) -> None:
    data = trained_model_path.read_bytes()
    size = int(len(data) * keep) if keep < 1 else int(keep)
    (tmp_path / "cut.sentilstm").write_bytes(data[:size])
    with pytest.raises(ArtifactError, match="cut.sentilstm"):
        SentimentClassifier.load(tmp_path / "cut.sentilstm")


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, np.random.default_rng(0).bytes(5000), b"text,label\ngood,1\n"])
def test_random_or_foreign_bytes_raise(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "junk.sentilstm").write_bytes(content)
    with pytest.raises(ArtifactError, match="not a readable sentilstm model"):
        SentimentClassifier.load(tmp_path / "junk.sentilstm")


def test_foreign_safetensors_file_raises(tmp_path: Path) -> None:
    save_file({"weight": torch.zeros(2, 2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ArtifactError, match="safetensors file but not a sentilstm model"):
        SentimentClassifier.load(tmp_path / "other.safetensors")
    save_file({"weight": torch.zeros(2)}, str(tmp_path / "meta.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ArtifactError, match="not a sentilstm model"):
        SentimentClassifier.load(tmp_path / "meta.safetensors")


def test_newer_format_version_asks_to_upgrade(trained_model_path: Path, tmp_path: Path) -> None:
    path = _rewrite(trained_model_path, tmp_path / "future.sentilstm", format_version="99")
    with pytest.raises(ArtifactError, match=r"format 99.*upgrade"):
        SentimentClassifier.load(path)


@pytest.mark.parametrize("version", ["one", "", "1.5"])
def test_garbled_format_version_raises(trained_model_path: Path, tmp_path: Path, version: str) -> None:
    path = _rewrite(trained_model_path, tmp_path / "odd.sentilstm", format_version=version)
    with pytest.raises(ArtifactError, match="format version"):
        SentimentClassifier.load(path)


def test_flipped_byte_in_weights_fails_the_checksum(trained_model_path: Path, tmp_path: Path) -> None:
    data = bytearray(trained_model_path.read_bytes())
    (size,) = struct.unpack("<Q", data[:8])
    position = 8 + size + (len(data) - 8 - size) // 2
    data[position] ^= 0x01
    (tmp_path / "flipped.sentilstm").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum"):
        SentimentClassifier.load(tmp_path / "flipped.sentilstm")


def test_unreadable_payload_raises(trained_model_path: Path, tmp_path: Path) -> None:
    path = _rewrite(trained_model_path, tmp_path / "bad.sentilstm", payload="{not json")
    with pytest.raises(ArtifactError, match="payload is not valid JSON"):
        SentimentClassifier.load(path)


def test_payload_missing_fields_raises(trained_model_path: Path, tmp_path: Path) -> None:
    path = _rewrite(trained_model_path, tmp_path / "empty.sentilstm", payload="{}")
    with pytest.raises(ArtifactError, match="empty.sentilstm.*no 'params'"):
        SentimentClassifier.load(path)


def test_weights_not_matching_the_config_raise(trained_model_path: Path, tmp_path: Path) -> None:
    tensors, payload = read_file(trained_model_path, kind="model")
    payload["model_config"]["hidden_size"] += 1
    write_file(tmp_path / "mismatch.sentilstm", tensors, payload, kind="model")
    with pytest.raises(ArtifactError, match="mismatch.sentilstm.*hidden_size is 33 but"):
        SentimentClassifier.load(tmp_path / "mismatch.sentilstm")


# ----- files from before the header was checksummed ---------------------------------------------------------------
def test_a_weights_only_file_loads_with_a_warning(
    trained_clf: SentimentClassifier, trained_model_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _weights_only(trained_model_path, tmp_path / "old.sentilstm")
    with caplog.at_level(logging.WARNING, logger="sentilstm.artifact.format"):
        loaded = SentimentClassifier.load(path)
    assert np.array_equal(loaded.predict_proba(TEXTS), trained_clf.predict_proba(TEXTS))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "old.sentilstm" in warnings[0] and "only a weights checksum" in warnings[0]
    resaved = SentimentClassifier.load(loaded.save(tmp_path / "resaved.sentilstm"))  # the advice in the warning
    assert np.array_equal(resaved.predict_proba(TEXTS), trained_clf.predict_proba(TEXTS))
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_a_weights_only_file_with_damaged_weights_fails_the_checksum(trained_model_path: Path, tmp_path: Path) -> None:
    path = _weights_only(trained_model_path, tmp_path / "old.sentilstm")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum"):
        SentimentClassifier.load(path)


def test_a_weights_only_file_still_gets_every_payload_check(trained_model_path: Path, tmp_path: Path) -> None:
    tensors, payload = read_file(trained_model_path, kind="model")
    payload["model_config"]["embedding_rows"] = 4_000_000
    write_file(tmp_path / "new.sentilstm", tensors, payload, kind="model")
    path = _weights_only(tmp_path / "new.sentilstm", tmp_path / "old.sentilstm")
    with pytest.raises(ArtifactError, match="embedding_rows is 4000000"):
        SentimentClassifier.load(path)


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        SentimentClassifier.load(tmp_path / "nope.sentilstm")


def test_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="folder"):
        SentimentClassifier.load(tmp_path)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.sentilstm")  # reading it would wait for a writer forever
    with pytest.raises(ArtifactError, match="pipe.sentilstm' is not a regular file"):
        SentimentClassifier.load(tmp_path / "pipe.sentilstm")


def test_checkpoint_is_not_a_model(tmp_path: Path) -> None:
    texts, labels = make_negation_data(80, seed=2)
    path = tmp_path / "run.ckpt"
    SentimentClassifier(embedding_dim=8, hidden_size=8, epochs=1, min_frequency=1, num_threads=1).fit(
        texts, labels, checkpoint_path=path
    )
    with pytest.raises(ArtifactError, match="is a sentilstm checkpoint, not a model"):
        SentimentClassifier.load(path)


def test_model_is_not_a_checkpoint(trained_model_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a checkpoint"):
        read_file(trained_model_path, kind="checkpoint")


# ----- failed saves leave nothing behind --------------------------------------------------------------
def test_save_into_missing_folder_raises_and_leaves_nothing(trained_clf: SentimentClassifier, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        trained_clf.save(tmp_path / "missing" / "model.sentilstm")
    assert _files(tmp_path) == []


@pytest.mark.parametrize("broken", ["replace", "fsync"])
def test_failed_save_leaves_no_file_and_no_temporary(
    trained_clf: SentimentClassifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(f"sentilstm.artifact.format.os.{broken}", fail)
    with pytest.raises(OSError, match="No space left"):
        trained_clf.save(tmp_path / "model.sentilstm")
    assert _files(tmp_path) == []


def test_failed_overwrite_keeps_the_old_model(
    trained_clf: SentimentClassifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = trained_clf.save(tmp_path / "model.sentilstm")
    before = path.read_bytes()

    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sentilstm.artifact.format.os.replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        trained_clf.save(path)
    assert path.read_bytes() == before and _files(tmp_path) == ["model.sentilstm"]


def test_save_before_fit_raises(tmp_path: Path) -> None:
    from sentilstm.errors import NotFittedError

    with pytest.raises(NotFittedError):
        SentimentClassifier().save(tmp_path / "model.sentilstm")
    assert _files(tmp_path) == []


def test_a_loaded_model_can_be_saved_again(trained_model_path: Path, tmp_path: Path) -> None:
    loaded = SentimentClassifier.load(trained_model_path)
    again = SentimentClassifier.load(loaded.save(tmp_path / "again.sentilstm"))
    assert np.array_equal(again.predict_proba(TEXTS), loaded.predict_proba(TEXTS))
    assert again.history_ == loaded.history_ and again.metrics_ == loaded.metrics_
