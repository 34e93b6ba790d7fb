"""Hostile model, baseline and checkpoint files (issue 14, items 3 and 4).

Each damaged, edited or forged file is one `ArtifactError` of one line naming the file and the problem, found
before anything is built from it: no allocation the file's own size does not pay for. Two kinds of edit:
"naive" ones keep the file's old checksum (a flipped bit, a hand-edited header: the checksum must catch them),
"re-signed" ones go through `write_file`, which computes a fresh checksum (what a buggy tool or a careful forger
writes: the payload checks must catch them).
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from helpers import TINY, invoke_cli, make_negation_data
from sentilstm import SentimentClassifier, load_model
from sentilstm.artifact.format import read_file, write_file
from sentilstm.errors import ArtifactError
from sentilstm.estimators.baselines import NBSVM, TfidfLogisticRegression
from sentilstm.estimators.classifier import read_classifier_checkpoint
from sentilstm.training.loop import read_checkpoint

Payload = dict[str, Any]
TEXTS = ["the movie was great", "the movie was not great", "awful", "not awful at all", ""]


# ----- helpers -------------------------------------------------------------------------------------------------
def _parts(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as handle:
        return {k: handle.get_tensor(k) for k in handle.keys()}, dict(handle.metadata())


def _naive(source: Path, target: Path, edit: Callable[[Payload], Any]) -> Path:
    """`source` with its payload edited by hand: every other header field, the checksums included, unchanged."""
    tensors, header = _parts(source)
    payload = json.loads(header["payload"])
    edit(payload)
    save_file(tensors, str(target), metadata={**header, "payload": json.dumps(payload)})
    return target


def _resigned(
    source: Path,
    target: Path,
    edit: Callable[[Payload], Any] | None = None,
    edit_tensors: Callable[[dict[str, torch.Tensor]], Any] | None = None,
    kind: str = "model",
) -> Path:
    """`source` with payload and/or tensors edited, written by `write_file` (so with a valid checksum)."""
    tensors, payload = read_file(source, kind=kind)  # type: ignore[arg-type]
    if edit is not None:
        edit(payload)
    if edit_tensors is not None:
        edit_tensors(tensors)
    write_file(target, tensors, payload, kind=kind)  # type: ignore[arg-type]
    return target


def _raw_payload(source: Path, target: Path, payload: str) -> Path:
    """`source` with the payload field replaced by any string, and a valid checksum over the new header."""
    from sentilstm.artifact.format import CONTENT_DIGEST, content_digest

    tensors, header = _parts(source)
    header = {k: v for k, v in header.items() if k != CONTENT_DIGEST}
    header["payload"] = payload
    header[CONTENT_DIGEST] = content_digest(header, tensors)
    save_file(tensors, str(target), metadata=header)
    return target


def _refused(path: Path, match: str, load: Callable[[Path], Any] = load_model) -> str:
    """The one-line ArtifactError that loading `path` raises; it names the file and matches `match`."""
    with pytest.raises(ArtifactError, match=match) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and path.name in message, message
    return message


def _swap_vocabulary(payload: Payload, first: str = "good", second: str = "bad") -> None:
    spec = json.loads(payload["tokenizer"])
    vocab = spec["model"]["vocab"]
    vocab[first], vocab[second] = vocab[second], vocab[first]
    payload["tokenizer"] = json.dumps(spec)


@pytest.fixture(scope="module")
def blended_path(trained_clf: SentimentClassifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's network blended half-and-half with an NBSVM, saved (the path `fit` takes when a blend wins)."""
    import copy

    texts, labels = make_negation_data(400, seed=3)
    clf = copy.copy(trained_clf)
    clf.blend_model_, clf.blend_weight_ = NBSVM().fit(texts, labels), 0.5
    return clf.save(tmp_path_factory.mktemp("blend") / "blended.sentilstm")


@pytest.fixture(scope="module")
def baseline_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    texts, labels = make_negation_data(400, seed=4)
    folder = tmp_path_factory.mktemp("baselines")
    return {
        "nbsvm": NBSVM().fit(texts, labels).save(folder / "nbsvm.sentilstm"),
        "tfidf_lr": TfidfLogisticRegression().fit(texts, labels).save(folder / "tfidf.sentilstm"),
    }


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = make_negation_data(200, seed=5)
    path = tmp_path_factory.mktemp("checkpoint") / "run.ckpt"
    SentimentClassifier(**{**TINY, "epochs": 1}).fit(texts, labels, checkpoint_path=path)
    return path


# ----- every file sentilstm writes still loads, silently ------------------------------------------------------
def test_a_file_written_now_loads_without_a_warning(
    trained_model_path: Path,
    blended_path: Path,
    baseline_paths: dict[str, Path],
    checkpoint_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING"):
        for path in [trained_model_path, blended_path, *baseline_paths.values()]:
            load_model(path).predict_proba(TEXTS)
        read_classifier_checkpoint(checkpoint_path)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_blended_model_round_trips_exactly(trained_clf: SentimentClassifier, blended_path: Path) -> None:
    loaded = load_model(blended_path)
    expected = 0.5 * trained_clf._network_proba(TEXTS) + 0.5 * loaded.blend_model_.predict_proba(TEXTS)
    assert np.array_equal(loaded.predict_proba(TEXTS), expected)


@pytest.mark.parametrize(
    "options",
    [
        dict(tokenizer="bpe", vocab_size=60),
        dict(tokenizer="unigram", vocab_size=40, cell="gru", bidirectional=False, pooling="concat"),
        dict(conv_channels=4, num_layers=2, pooling="max", embedding_dropout=0.1, weight_drop=0.2),
    ],
)
def test_every_architecture_and_tokenizer_round_trips(options: dict[str, Any], tmp_path: Path) -> None:
    texts, labels = make_negation_data(200, seed=6)
    clf = SentimentClassifier(**{**TINY, "epochs": 1, **options}).fit(texts, labels)
    loaded = load_model(clf.save(tmp_path / "m.sentilstm"))
    assert np.array_equal(loaded.predict_proba(TEXTS + texts[:20]), clf.predict_proba(TEXTS + texts[:20]))


# ----- the checksum covers the header (item 3) -----------------------------------------------------------------
def test_a_flipped_byte_in_the_header_payload_fails_the_checksum(trained_model_path: Path, tmp_path: Path) -> None:
    data = bytearray(trained_model_path.read_bytes())
    (size,) = struct.unpack("<Q", data[:8])
    found = re.search(rb'\\"max_length\\": (\d)', bytes(data[8 : 8 + size]))
    assert found, "the text config's max_length is in the header"
    data[8 + found.start(1)] ^= 0x01  # e.g. 64 -> 74: still a valid file, only its settings differ
    (tmp_path / "flipped.sentilstm").write_bytes(bytes(data))
    _refused(tmp_path / "flipped.sentilstm", "checksum")


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda p: p.update(labels=p["labels"][::-1]), id="swapped labels"),
        pytest.param(_swap_vocabulary, id="edited vocabulary"),
        pytest.param(
            lambda p: p["text_config"].update(lowercase=not p["text_config"]["lowercase"]), id="normalisation"
        ),
        pytest.param(lambda p: p["model_config"].update(pooling="mean"), id="pooling"),
        pytest.param(lambda p: p.update(created="1999-01-01"), id="any field"),
    ],
)
def test_a_hand_edited_payload_fails_the_checksum(trained_model_path: Path, tmp_path: Path, edit: Callable) -> None:
    _refused(_naive(trained_model_path, tmp_path / "edited.sentilstm", edit), "checksum")


def test_an_edited_blend_weight_fails_the_checksum(blended_path: Path, tmp_path: Path) -> None:
    path = _naive(blended_path, tmp_path / "weight.sentilstm", lambda p: p["blend"].update(network_weight=0.0))
    _refused(path, "checksum")


def test_edited_header_fields_fail_the_checksum(trained_model_path: Path, tmp_path: Path) -> None:
    tensors, header = _parts(trained_model_path)
    save_file(tensors, str(tmp_path / "kind.sentilstm"), metadata={**header, "versions": "forged"})
    _refused(tmp_path / "kind.sentilstm", "checksum")


@pytest.mark.parametrize("length", [10**6, 2**63 - 1, 2**64 - 1])
def test_a_header_length_past_the_end_is_refused(trained_model_path: Path, tmp_path: Path, length: int) -> None:
    data = bytearray(trained_model_path.read_bytes())
    data[:8] = struct.pack("<Q", length)
    (tmp_path / "long.sentilstm").write_bytes(bytes(data))
    _refused(tmp_path / "long.sentilstm", "not a readable sentilstm model")


# ----- payloads that are not what a model file holds -----------------------------------------------------------
@pytest.mark.parametrize("payload", ["[1, 2, 3]", '"a string"', "42", "null", "true"])
def test_a_payload_that_is_not_an_object_is_refused(trained_model_path: Path, tmp_path: Path, payload: str) -> None:
    _refused(_raw_payload(trained_model_path, tmp_path / "odd.sentilstm", payload), "payload.*not a JSON object")


DEEP = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError on this, not JSONDecodeError


@pytest.mark.parametrize(
    "old, new",
    [(None, DEEP), ('"labels": [-1, 1]', f'"labels": {DEEP}'), ('"metrics": {', f'"metrics": {{"x": {DEEP}, ')],
)
def test_deep_nesting_is_refused(trained_model_path: Path, tmp_path: Path, old: str | None, new: str) -> None:
    payload = _parts(trained_model_path)[1]["payload"]
    assert old is None or old in payload
    text = new if old is None else payload.replace(old, new, 1)
    _refused(_raw_payload(trained_model_path, tmp_path / "deep.sentilstm", text), "nested too deeply")


def test_a_deeply_nested_tokenizer_is_refused(trained_model_path: Path, tmp_path: Path) -> None:
    path = _resigned(trained_model_path, tmp_path / "deep.sentilstm", lambda p: p.update(tokenizer=DEEP))
    _refused(path, "tokenizer.*nested too deeply")


@pytest.mark.parametrize("missing", ["params", "labels", "text_config", "model_config", "tokenizer"])
def test_a_missing_part_is_named(trained_model_path: Path, tmp_path: Path, missing: str) -> None:
    _refused(_resigned(trained_model_path, tmp_path / "part.sentilstm", lambda p: p.pop(missing)), f"no '{missing}'")


# ----- declared sizes are checked against the tensors before anything is built (item 4) -----------------------
@pytest.mark.parametrize(
    "field, value, match",
    [
        ("embedding_rows", 4_000_000, "embedding_rows is 4000000 but the embedding tensor has"),
        ("embedding_rows", 2 * 10**9, "embedding_rows is 2000000000 but the embedding tensor has"),
        # sizes past ModelConfig's bounds fail its own range check first, before any tensor is compared
        ("embedding_dim", 10**9, "embedding_dim must be between 1 and 1048576, got 1000000000"),
        ("hidden_size", 33, "hidden_size is 33 but"),
        ("hidden_size", 10**12, "hidden_size must be between 1 and 1048576, got 1000000000000"),
        ("num_layers", 10**6, "num_layers must be between 1 and 1024, got 1000000"),
        ("num_layers", 2, "num_layers is 2 but"),
        ("conv_channels", 10**9, "conv_channels must be between 0 and 1048576, got 1000000000"),
        ("num_classes", 3, "num_classes is 3 but"),
        ("num_classes", 10**9, "num_classes is 1000000000 but"),
        ("bidirectional", False, "backward_rnns"),
        ("pooling", "mean", "attention"),
        ("cell", "gru", "forward_rnns"),
        ("padding_idx", 5, "padding_idx"),
    ],
)
def test_sizes_that_disagree_with_the_tensors_are_refused(
    trained_model_path: Path, tmp_path: Path, field: str, value: Any, match: str
) -> None:
    path = _resigned(
        trained_model_path, tmp_path / "sizes.sentilstm", lambda p: p["model_config"].update({field: value})
    )
    _refused(path, match)


def test_embedding_rows_that_disagree_with_the_vocabulary_are_refused(trained_model_path: Path, tmp_path: Path) -> None:
    def shrink(tensors: dict[str, torch.Tensor]) -> None:
        tensors["embedding.weight"] = tensors["embedding.weight"][:10].clone()

    def declare(payload: Payload) -> None:
        payload["model_config"]["embedding_rows"] = 10

    path = _resigned(trained_model_path, tmp_path / "rows.sentilstm", declare, shrink)
    _refused(path, "tokenizer.*entries.*10")


def test_labels_that_disagree_with_the_head_are_refused(trained_model_path: Path, tmp_path: Path) -> None:
    path = _resigned(trained_model_path, tmp_path / "labels.sentilstm", lambda p: p["labels"].append(7))
    _refused(path, "3 labels.*num_classes is 2")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t: t.pop("head.bias"), "missing.*head.bias"),
        (lambda t: t.update(extra=torch.zeros(3)), "unexpected tensor.*extra"),
        (lambda t: t.update({"head.weight": t["head.weight"].double()}), "head.weight.*float64.*float32"),
        (lambda t: t.update({"head.bias": t["head.bias"].reshape(1, -1)}), r"head.bias.*\[1, 2\].*\[2\]"),
        (lambda t: t["head.bias"].fill_(float("nan")), "head.bias.*not finite"),
    ],
)
def test_tensors_that_do_not_fit_the_network_are_refused(
    trained_model_path: Path, tmp_path: Path, edit: Callable, match: str
) -> None:
    _refused(_resigned(trained_model_path, tmp_path / "t.sentilstm", edit_tensors=edit), match)


# ----- settings: types, ranges, unknown keys -------------------------------------------------------------------
@pytest.mark.parametrize(
    "section, field, value, match",
    [
        ("text_config", "max_length", 0, r"text_config.max_length must be between 1 and"),
        ("text_config", "max_length", 10**12, r"text_config.max_length must be between 1 and"),
        ("text_config", "max_length", -5, r"text_config.max_length must be"),
        ("text_config", "max_length", "64", r"text_config.max_length must be a whole number or null, got '64'"),
        ("text_config", "max_length", 64.5, r"text_config.max_length must be"),
        ("text_config", "lowercase", "yes", r"text_config.lowercase must be true or false"),
        ("text_config", "tokenizer", "sentencepiece", r"text_config.tokenizer must be one of"),
        ("text_config", "surprise", 1, r"text_config has unknown settings \['surprise'\]"),
        ("model_config", "hidden_size", -1, r"model_config.hidden_size must be"),
        ("model_config", "hidden_size", "32", r"model_config.hidden_size must be a whole number, got '32'"),
        ("model_config", "hidden_size", True, r"model_config.hidden_size must be a whole number, got True"),
        ("model_config", "dropout", float("nan"), r"model_config.dropout must be a finite number"),
        ("model_config", "dropout", [0.3], r"model_config.dropout must be a finite number"),
        ("model_config", "cell", "transformer", r"model_config.cell must be one of"),
        ("model_config", "layers", 3, r"model_config has unknown settings \['layers'\]"),
        ("params", "max_length", 10**12, r"params.max_length must be between 1 and"),
        ("params", "epochs", "ten", r"params.epochs must be a whole number"),
        ("params", "device", "tpu", r"params.device must be"),
        ("params", "blend", "xgboost", r"params.blend must be"),
        ("params", "telemetry", True, r"params has unknown settings \['telemetry'\]"),
    ],
)
def test_bad_settings_are_refused(
    trained_model_path: Path, tmp_path: Path, section: str, field: str, value: Any, match: str
) -> None:
    path = _resigned(trained_model_path, tmp_path / "settings.sentilstm", lambda p: p[section].update({field: value}))
    _refused(path, match)


@pytest.mark.parametrize("section", ["params", "text_config", "model_config"])
@pytest.mark.parametrize("value", [[1, 2, 3], "a string", None])
def test_a_section_that_is_not_an_object_is_refused(
    trained_model_path: Path, tmp_path: Path, section: str, value: Any
) -> None:
    path = _resigned(trained_model_path, tmp_path / "section.sentilstm", lambda p: p.update({section: value}))
    _refused(path, f"{section} must be an object")


@pytest.mark.parametrize(
    "labels, match",
    [
        ("positive", "labels must be a list"),
        ([1], "at least two"),
        ([1, 1], "twice"),
        ([1, True], "twice"),
        ([1, [2]], "labels must be strings or numbers"),
        ([1, float("nan")], "labels must be strings or numbers"),
    ],
)
def test_bad_labels_are_refused(trained_model_path: Path, tmp_path: Path, labels: Any, match: str) -> None:
    _refused(_resigned(trained_model_path, tmp_path / "labels.sentilstm", lambda p: p.update(labels=labels)), match)


# ----- the tokenizer is bounded and checked before the tokenizers library sees it ------------------------------
def _edit_tokenizer(change: Callable[[Payload], Any]) -> Callable[[Payload], None]:
    def edit(payload: Payload) -> None:
        spec = json.loads(payload["tokenizer"])
        change(spec)
        payload["tokenizer"] = json.dumps(spec)

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda p: p.update(tokenizer=42), "tokenizer must be a string"),
        (lambda p: p.update(tokenizer="{not json"), "tokenizer is not valid JSON"),
        (lambda p: p.update(tokenizer="[1, 2, 3]"), "tokenizer.*not a JSON object"),
        (
            _edit_tokenizer(lambda s: s["model"]["vocab"].update({f"w{i}": 10**6 + i for i in range(5)})),
            "tokenizer has",
        ),
        (_edit_tokenizer(lambda s: s["model"]["vocab"].update(good=10**6)), "token ids"),
        (_edit_tokenizer(lambda s: s["model"]["vocab"].update(good=0)), "token ids"),
        (_edit_tokenizer(lambda s: s["model"].update(type="WordPiece")), "tokenizer model must be one of"),
        (_edit_tokenizer(lambda s: s.update(normalizer={"type": "Lowercase"})), "normalizer"),
        (
            _edit_tokenizer(lambda s: s["pre_tokenizer"]["pretokenizers"][1]["pattern"].update(Regex="(a+)+$")),
            "pre_tokenizer",
        ),
        (
            _edit_tokenizer(lambda s: s["added_tokens"].append({**s["added_tokens"][1], "id": 2, "content": "good"})),
            "added_tokens",
        ),
    ],
)
def test_a_bad_tokenizer_is_refused(trained_model_path: Path, tmp_path: Path, edit: Callable, match: str) -> None:
    _refused(_resigned(trained_model_path, tmp_path / "tok.sentilstm", edit), match)


# ----- the blend -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda p: p["blend"].update(network_weight=1.5), "network_weight must be between 0 and 1"),
        (lambda p: p["blend"].update(network_weight="half"), "network_weight must be"),
        (lambda p: p["blend"].update(network_weight=float("nan")), "network_weight must be"),
        (lambda p: p["blend"]["model"].update(labels=[1, -1]), "blend.*labels"),
        (lambda p: p["blend"]["model"].update(estimator="svm"), "estimator must be one of"),
        (lambda p: p.update(blend=[1]), "blend must be an object"),
    ],
)
def test_a_bad_blend_is_refused(blended_path: Path, tmp_path: Path, edit: Callable, match: str) -> None:
    _refused(_resigned(blended_path, tmp_path / "blend.sentilstm", edit), match)


def test_missing_blend_tensors_are_refused(blended_path: Path, tmp_path: Path) -> None:
    path = _resigned(blended_path, tmp_path / "blend.sentilstm", edit_tensors=lambda t: t.pop("blend.coef"))
    _refused(path, "blend.coef")


# ----- linear baselines ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["nbsvm", "tfidf_lr"])
def test_a_hand_edited_baseline_fails_the_checksum(baseline_paths: dict[str, Path], tmp_path: Path, kind: str) -> None:
    _refused(
        _naive(baseline_paths[kind], tmp_path / "b.sentilstm", lambda p: p.update(labels=p["labels"][::-1])), "checksum"
    )


def _terms(tensors: dict[str, torch.Tensor], terms: list[str]) -> None:
    tensors["features0.terms"] = torch.frombuffer(bytearray("\n".join(terms).encode()), dtype=torch.uint8)


@pytest.mark.parametrize(
    "kind, edit, edit_tensors, match",
    [
        ("nbsvm", lambda p: p["features"][0].update(size=10**9), None, "features0.*1000000000"),
        ("nbsvm", None, lambda t: t.update(coef=t["coef"][:, :5].clone()), "coef.*shape"),
        ("nbsvm", None, lambda t: t.update(intercept=torch.zeros(4)), "intercept.*shape"),
        ("nbsvm", None, lambda t: t.update(ratios=t["ratios"].double()), "ratios.*float64"),
        ("nbsvm", None, lambda t: t.pop("ratios"), "missing.*ratios"),
        ("nbsvm", None, lambda t: t["coef"].fill_(float("inf")), "coef.*not finite"),
        ("nbsvm", None, lambda t: _terms(t, ["good"] * 10), "features0.*terms.*header says"),
        ("nbsvm", lambda p: p["features"][0].update(size=2), lambda t: _terms(t, ["good", "good"]), "features0.*twice"),
        (
            "nbsvm",
            None,
            lambda t: t.update({"features0.terms": torch.tensor([0xFF, 0xFE], dtype=torch.uint8)}),
            "UTF-8",
        ),
        ("nbsvm", lambda p: p["features"][0].update(ngram_range=[1, 9]), None, "features.*ngram"),
        ("nbsvm", lambda p: p["features"][0].update(analyzer="char"), None, "analyzer"),
        ("nbsvm", lambda p: p["params"].update(ngrams=[3, 1]), None, "ngrams"),
        ("nbsvm", lambda p: p["params"].update(C="big"), None, "params.C"),
        ("nbsvm", lambda p: p["params"].update(kernel="rbf"), None, r"unknown settings \['kernel'\]"),
        ("nbsvm", lambda p: p.update(labels=[-1, 0, 1]), None, "labels"),
        ("nbsvm", lambda p: p.update(estimator="svm"), None, "estimator"),
        ("nbsvm", lambda p: p.update(features={"size": 3}), None, "features must be a list"),
        ("tfidf_lr", None, lambda t: t.pop("features1.idf"), "missing.*features1.idf"),
        (
            "tfidf_lr",
            None,
            lambda t: t.update({"features0.idf": t["features0.idf"][:3].clone()}),
            "features0.idf.*shape",
        ),
        ("tfidf_lr", lambda p: p["features"].pop(), None, "features"),
    ],
)
def test_a_bad_baseline_is_refused(
    baseline_paths: dict[str, Path],
    tmp_path: Path,
    kind: str,
    edit: Callable | None,
    edit_tensors: Callable | None,
    match: str,
) -> None:
    _refused(_resigned(baseline_paths[kind], tmp_path / "b.sentilstm", edit, edit_tensors), match)


@pytest.mark.parametrize("payload", ["[1, 2, 3]", DEEP])
def test_a_baseline_with_a_hostile_payload_is_refused(
    baseline_paths: dict[str, Path], tmp_path: Path, payload: str
) -> None:
    _refused(_raw_payload(baseline_paths["nbsvm"], tmp_path / "b.sentilstm", payload), "payload")


# ----- training checkpoints ------------------------------------------------------------------------------------
def _checkpoint_refused(path: Path, match: str) -> None:
    _refused(path, match, load=read_classifier_checkpoint)


def test_a_hand_edited_checkpoint_fails_the_checksum(checkpoint_path: Path, tmp_path: Path) -> None:
    _checkpoint_refused(
        _naive(checkpoint_path, tmp_path / "c.ckpt", lambda p: p.update(labels=p["labels"][::-1])), "checksum"
    )


@pytest.mark.parametrize(
    "edit, edit_tensors, match",
    [
        (lambda p: p["model_config"].update(embedding_rows=4_000_000), None, "embedding_rows is 4000000"),
        (
            lambda p: p["model_config"].update(hidden_size=10**9),
            None,
            "hidden_size must be between 1 and 1048576, got 1000000000",
        ),
        (lambda p: p["text_config"].update(max_length=10**12), None, "max_length"),
        (lambda p: p["labels"].append(3), None, "3 labels"),
        (_swap_vocabulary, None, None),  # a consistent forgery: the checksum is all there is, and it is valid
        (lambda p: p.update(training=[1, 2, 3]), None, "training must be an object"),
        (lambda p: p["training"].update(bad_epochs="x"), None, "bad_epochs"),
        (lambda p: p["training"].update(param_groups=[]), None, "param_groups"),
        (lambda p: p["training"]["param_groups"][0].update(params=[0, 0, 0]), None, "param_groups"),
        (lambda p: p["training"].update(scheduler="fast"), None, "scheduler"),
        (lambda p: p["training"]["history"].update(epochs="many"), None, "history"),
        (lambda p: p["model_config"].update(embedding_dim=17), None, "embedding_dim"),
        (lambda p: p["params"].update(hidden_size=8), None, "hidden_size"),
        (None, lambda t: t.update({"model.head.bias": torch.zeros(5)}), "model.head.bias"),
        (None, lambda t: t.update({"best.head.bias": torch.zeros(5)}), "best.head.bias"),
        (None, lambda t: t.update({"optimizer.0.exp_avg": torch.zeros(3)}), "optimizer.0.exp_avg"),
        (None, lambda t: t.update({"optimizer.999.exp_avg": torch.zeros(3)}), "optimizer.999"),
        (None, lambda t: t.update({"rng.torch": torch.zeros(3, dtype=torch.uint8)}), "rng.torch"),
        (None, lambda t: t.update(extra=torch.zeros(3)), "unexpected tensor.*extra"),
    ],
)
def test_a_bad_checkpoint_is_refused(
    checkpoint_path: Path, tmp_path: Path, edit: Callable | None, edit_tensors: Callable | None, match: str | None
) -> None:
    path = _resigned(checkpoint_path, tmp_path / "c.ckpt", edit, edit_tensors, kind="checkpoint")
    if match is None:
        read_classifier_checkpoint(path)
    else:
        _checkpoint_refused(path, match)


@pytest.mark.parametrize("payload", ["[1, 2, 3]", DEEP])
def test_a_checkpoint_with_a_hostile_payload_is_refused(checkpoint_path: Path, tmp_path: Path, payload: str) -> None:
    _checkpoint_refused(_raw_payload(checkpoint_path, tmp_path / "c.ckpt", payload), "payload")


@pytest.mark.parametrize(
    "edit, edit_tensors, match",
    [
        (lambda p: p.update(training=[1, 2, 3]), None, "training must be an object"),
        (lambda p: p["training"].pop("fingerprint"), None, "no 'training.fingerprint'"),
        (None, lambda t: t.update({"rng.torch": torch.zeros(3, dtype=torch.uint8)}), "rng.torch"),
        (None, lambda t: t.pop("rng.torch"), "rng.torch"),
        (None, lambda t: t.update(extra=torch.zeros(3)), "unexpected tensor.*extra"),
    ],
)
def test_the_training_state_is_checked_whoever_wrote_the_payload(
    checkpoint_path: Path, tmp_path: Path, edit: Callable | None, edit_tensors: Callable | None, match: str
) -> None:
    def opaque(payload: Payload) -> None:  # training.fit's own callers may store anything in the payload
        payload.update(training=payload["training"])
        for key in [k for k in payload if k != "training"]:
            del payload[key]
        if edit is not None:
            edit(payload)

    _refused(
        _resigned(checkpoint_path, tmp_path / "c.ckpt", opaque, edit_tensors, kind="checkpoint"),
        match,
        load=read_checkpoint,
    )


def test_resuming_from_a_forged_checkpoint_is_an_artifact_error(checkpoint_path: Path, tmp_path: Path) -> None:
    path = _resigned(
        checkpoint_path,
        tmp_path / "c.ckpt",
        edit_tensors=lambda t: t.update({"rng.torch": torch.zeros(3, dtype=torch.uint8)}),
        kind="checkpoint",
    )
    texts, labels = make_negation_data(200, seed=5)
    with pytest.raises(ArtifactError, match="rng.torch"):
        SentimentClassifier(**{**TINY, "epochs": 2}).fit(texts, labels, checkpoint_path=path, resume=True)


# ----- the command line: one line, exit 2 ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "command", [["predict", "{path}", "good"], ["explain", "{path}", "good"], ["describe", "{path}"]]
)
def test_the_cli_prints_one_error_line(trained_model_path: Path, tmp_path: Path, command: list[str]) -> None:
    path = _naive(trained_model_path, tmp_path / "edited.sentilstm", lambda p: p.update(labels=p["labels"][::-1]))
    result = invoke_cli(*(part.format(path=path) for part in command))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "checksum" in lines[0], result.output


# ----- memory: nothing is allocated for sizes the tensors do not back ------------------------------------------
MEMORY_PROBE = textwrap.dedent("""
    import json, resource, sys
    from sentilstm import load_model
    from sentilstm.estimators.classifier import read_classifier_checkpoint
    from sentilstm.errors import ArtifactError

    good, files = sys.argv[1], json.loads(sys.argv[2])
    load_model(good).predict_proba(["warm up every lazy import"])
    with open("/proc/self/status") as status:  # a ceiling so that a failure here cannot take the machine's memory
        size = next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size + 2 * 1024**3, resource.RLIM_INFINITY))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = {}
    for name, (path, kind) in files.items():
        try:
            load_model(path) if kind == "model" else read_classifier_checkpoint(path)
            results[name] = "loaded"
        except ArtifactError:
            results[name] = "ArtifactError"
        except BaseException as exc:
            results[name] = type(exc).__name__
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"results": results, "grown_mib": grown}))
""")


def test_huge_declared_sizes_allocate_nothing(
    trained_model_path: Path, baseline_paths: dict[str, Path], checkpoint_path: Path, tmp_path: Path
) -> None:
    def model(name: str, edit: Callable[[Payload], Any]) -> tuple[str, str]:
        return str(_resigned(trained_model_path, tmp_path / f"{name}.sentilstm", edit)), "model"

    files = {
        "vocab 4M": model("v4m", lambda p: p["model_config"].update(embedding_rows=4_000_000)),
        "vocab 2e9": model("v2e9", lambda p: p["model_config"].update(embedding_rows=2 * 10**9)),
        "embedding_dim 1e9": model("e", lambda p: p["model_config"].update(embedding_dim=10**9)),
        "hidden 1e9": model("h", lambda p: p["model_config"].update(hidden_size=10**9)),
        "layers 1e6": model("l", lambda p: p["model_config"].update(num_layers=10**6)),
        "conv 1e9": model("c", lambda p: p["model_config"].update(conv_channels=10**9)),
        "classes 1e9": model("k", lambda p: p["model_config"].update(num_classes=10**9)),
        "max_length 1e12": model("m", lambda p: p["text_config"].update(max_length=10**12)),
        "deep": (str(_raw_payload(trained_model_path, tmp_path / "deep.sentilstm", DEEP)), "model"),
        "baseline terms 1e9": (
            str(
                _resigned(
                    baseline_paths["nbsvm"], tmp_path / "b.sentilstm", lambda p: p["features"][0].update(size=10**9)
                )
            ),
            "model",
        ),
        "checkpoint vocab 4M": (
            str(
                _resigned(
                    checkpoint_path,
                    tmp_path / "c.ckpt",
                    lambda p: p["model_config"].update(embedding_rows=4_000_000),
                    kind="checkpoint",
                )
            ),
            "checkpoint",
        ),
    }
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(trained_model_path), json.dumps(files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["results"] == {name: "ArtifactError" for name in files}
    assert report["grown_mib"] < 64, report  # the whole model file is ~0.5 MB
