"""What a model or checkpoint file may hold, checked before anything is built from it.

    saved = check_classifier(payload, tensors, SentimentClassifier)  # typed; every size backed by a tensor
    net = build_network(saved.model_config, tensors)  # allocates nothing the tensors have not already paid for

A checksum proves a file is the one some sentilstm wrote, not what its author meant: here every field is
checked for its type and range and every size it declares against the tensors actually present, so a 45 KB
file cannot make the loader allocate a 4M-word embedding table (issue 14). Each problem raises one
ArtifactError or ConfigError of one line naming the field; the loaders add the file's path.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from sentilstm.config import DERIVED_MODEL_FIELDS, ModelConfig, TextConfig, TrainConfig, check_type, from_dict
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.network.ensemble import EnsembleNet, make_network
from sentilstm.network.model import SentimentNet
from sentilstm.text.tokenizers import PAD_ID, TextTokenizer

Shapes = dict[str, tuple[tuple[int, ...], torch.dtype]]  # tensor name -> (shape, dtype) a file must hold
KIND_NAMES: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}


class Estimator(Protocol):
    """A scikit-learn-style estimator class (`SentimentClassifier`): its constructor's parameters are its settings."""

    @classmethod
    def _get_param_names(cls) -> list[str]: ...


@dataclass
class SavedClassifier:
    """The checked parts of a `SentimentClassifier`'s model or checkpoint file."""

    params: dict[str, Any]
    labels: list[Any]
    text_config: TextConfig
    model_config: ModelConfig
    tokenizer: TextTokenizer


def part(payload: dict[str, Any], name: str, kind: type = dict, *, required: bool = True, where: str = "") -> Any:
    """`payload[name]`, which must be a `kind`; None when it is absent (or null) and not `required`."""
    value = payload.get(name)
    if value is None and not required:
        return None
    if name not in payload:
        raise ArtifactError(f"the file has no '{where}{name}'")
    if not isinstance(value, kind):
        raise ArtifactError(f"{where}{name} must be {KIND_NAMES[kind]}, got {type(value).__name__}")
    return value


def saved_labels(value: Any, where: str = "labels") -> list[Any]:
    """The saved label values: two or more distinct strings or finite numbers."""
    if not isinstance(value, list):
        raise ArtifactError(f"{where} must be a list, got {type(value).__name__}")
    if len(value) < 2:
        raise ArtifactError(f"{where} must name at least two classes, got {len(value)}")
    seen: set[Any] = set()
    for label in value:
        if not (isinstance(label, (str, int)) or isinstance(label, float) and math.isfinite(label)):
            raise ArtifactError(f"{where} must be strings or numbers, got {str(label)[:40]!r}")
        if label in seen:  # 1, 1.0 and True are one dict key: the label map would merge them
            raise ArtifactError(f"{where} names {label!r} twice")
        seen.add(label)
    return value


def check_params(estimator: type[Estimator], params: Any, where: str = "params") -> dict[str, Any]:
    """Saved constructor parameters of `estimator` (a scikit-learn-style class): each one known, of its type."""
    if not isinstance(params, dict):
        raise ArtifactError(f"{where} must be an object, got {type(params).__name__}")
    names = estimator._get_param_names()
    unknown = sorted(str(k) for k in params if k not in names)
    if unknown:
        raise ConfigError(f"{where} has unknown settings {unknown[:5]} (a newer sentilstm's, or an edit)")
    hints = typing.get_type_hints(estimator.__init__, include_extras=True)  # keeps Annotated choices (pooling)
    for name, value in params.items():
        check_type(f"{where}.{name}", value, hints[name])
    return {name: _tuple_again(value, hints[name]) for name, value in params.items()}


def _tuple_again(value: Any, hint: Any) -> Any:
    """A JSON list back as the tuple a parameter declared ((2, 5) is saved as [2, 5]), so a loaded model's
    `get_params()` equals the one that was saved."""
    arms = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    wants_tuple = any(typing.get_origin(arm) is tuple for arm in arms)
    return tuple(value) if isinstance(value, list) and wants_tuple else value


def config_params(cls: type, params: dict[str, Any], skip: tuple[str, ...] = ()) -> Any:
    """The config `cls` made from the parameters named like its fields, validated (ConfigError says params.X)."""
    return from_dict(
        cls,
        {f.name: params[f.name] for f in fields(cls) if f.name in params and f.name not in skip},
        "params",
        strict=True,
    )


def check_classifier(
    payload: dict[str, Any], network: dict[str, torch.Tensor], estimator: type[Estimator], prefix: str = ""
) -> SavedClassifier:
    """Every part of the payload of `estimator` (`SentimentClassifier`) checked; `network` must hold exactly the
    network's tensors, each named `prefix` + its name in the network's state dict."""
    params = check_params(estimator, part(payload, "params"))
    for cls in (TextConfig, TrainConfig, ModelConfig):  # what fit would check, so a refit cannot fail on them
        config_params(cls, params, DERIVED_MODEL_FIELDS)
    labels = saved_labels(part(payload, "labels", list))
    text_config = from_dict(TextConfig, part(payload, "text_config"), "text_config", strict=True)
    if text_config.max_length is None:
        raise ArtifactError("text_config.max_length must be set in a trained model, got null")
    stripped = {name.removeprefix(prefix): tensor for name, tensor in network.items()}
    model_config = network_config(part(payload, "model_config"), stripped, len(labels))
    ngram_rows = text_config.ngram_buckets + 1 if text_config.ngram_sizes else 0
    _same("ngram_rows", model_config.ngram_rows, ngram_rows, "text_config asks for that many n-gram rows")
    expected = {prefix + name: shape for name, shape in expected_tensors(model_config).items()}
    check_tensors(expected, network, exact=True)
    tokenizer = TextTokenizer.from_json(part(payload, "tokenizer", str), embedding_rows=model_config.embedding_rows)
    return SavedClassifier(params, labels, text_config, model_config, tokenizer)


def check_checkpoint(
    tensors: dict[str, torch.Tensor], payload: dict[str, Any], estimator: type[Estimator]
) -> SavedClassifier:
    """The classifier's part of a training checkpoint (its network under "model.") checked, and consistent with
    the parameters from which a resumed `fit` rebuilds the network."""
    network = {name: tensor for name, tensor in tensors.items() if name.startswith("model.")}
    saved = check_classifier(payload, network, estimator, "model.")
    for name in (f.name for f in fields(ModelConfig)):  # embedding_dim may be the pretrained vectors' instead
        if name in saved.params and name not in (*DERIVED_MODEL_FIELDS, "embedding_dim"):
            if saved.params[name] != getattr(saved.model_config, name):
                raise ArtifactError(
                    f"params.{name} is {saved.params[name]!r} but model_config.{name} is "
                    f"{getattr(saved.model_config, name)!r}"
                )
    return saved


def network_config(values: Any, tensors: dict[str, torch.Tensor], num_labels: int) -> ModelConfig:
    """The saved `ModelConfig`, once every size it declares equals that of the tensors present (so that building
    its network allocates no more than the file holds); an ensemble's sizes are read from its first member."""
    config = from_dict(ModelConfig, current_names(values), "model_config", strict=True)
    held = len({name.split(".")[1] for name in tensors if name.startswith("members.")})
    _same("members", config.members, max(held, 1), f"the file holds {held} ensemble member(s)")
    if held:
        tensors = {k.removeprefix("members.0."): v for k, v in tensors.items() if k.startswith("members.0.")}
    if config.padding_idx != PAD_ID:
        raise ArtifactError(f"model_config.padding_idx must be {PAD_ID} ([PAD]), got {config.padding_idx}")
    rows, columns = _matrix_shape(tensors, "embedding.weight")
    _same("embedding_rows", config.embedding_rows, rows, f"the embedding tensor has {rows} rows")
    _same("embedding_dim", config.embedding_dim, columns, f"the embedding tensor has {columns} columns")
    classes = _matrix_shape(tensors, "head.weight")[0]
    _same("num_classes", config.num_classes, classes, f"the head tensor has {classes} rows")
    if num_labels != config.num_classes:
        raise ArtifactError(f"the file lists {num_labels} labels but model_config.num_classes is {config.num_classes}")
    hidden = _matrix_shape(tensors, "forward_rnns.0.weight_hh_l0")[1]
    _same("hidden_size", config.hidden_size, hidden, f"forward_rnns.0.weight_hh_l0 has {hidden} columns")
    layers = len({name.split(".")[1] for name in tensors if name.startswith("forward_rnns.")})
    _same("num_layers", config.num_layers, layers, f"the file holds {layers} forward RNN layer(s)")
    grams = _matrix_shape(tensors, "ngram_embedding.weight")[0] if "ngram_embedding.weight" in tensors else 0
    _same("ngram_rows", config.ngram_rows, grams, f"the n-gram embedding tensor has {grams} rows")
    conv = tensors.get("conv.weight")
    channels, kernel = (conv.shape[0], conv.shape[2]) if conv is not None and conv.dim() == 3 else (0, None)
    _same("conv_channels", config.conv_channels, channels, f"conv.weight has {channels} output channels")
    if channels:
        _same("conv_kernel_size", config.conv_kernel_size, kernel, f"conv.weight has width {kernel}")
    return config


def current_names(values: Any) -> Any:
    """A saved model_config with today's field names: files written before the rename call `embedding_rows` (the
    embedding table's rows) `vocab_size`, the name the tokenizer's cap `TextConfig.vocab_size` keeps."""
    if isinstance(values, dict) and "vocab_size" in values and "embedding_rows" not in values:
        return {("embedding_rows" if key == "vocab_size" else key): value for key, value in values.items()}
    return values  # a file naming both is refused: vocab_size is then an unknown setting


class _NoInit(TorchFunctionMode):
    """Skips parameter initialisers: on the meta device they compute nothing anyway, but the first `normal_` there
    imports ~800 modules (~70 MB of memory) that a loader has no use for."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        if getattr(func, "__module__", None) == "torch.nn.init" or getattr(func, "__name__", "") in INITIALISERS:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **(kwargs or {}))


INITIALISERS = ("normal_", "uniform_", "fill_", "zero_")  # the in-place tensor methods modules initialise with


def meta_network(config: ModelConfig) -> SentimentNet | EnsembleNet:
    """`make_network(config)` on the meta device: shapes and dtypes without storage, built in microseconds."""
    with torch.device("meta"), _NoInit():
        return make_network(config)


def expected_tensors(config: ModelConfig) -> Shapes:
    """Name -> (shape, dtype) of every tensor `make_network(config)` holds, found without allocating any."""
    return {name: (tuple(t.shape), t.dtype) for name, t in meta_network(config).state_dict().items()}


def build_network(config: ModelConfig, tensors: dict[str, torch.Tensor]) -> SentimentNet | EnsembleNet:
    """`make_network(config)` holding `tensors` themselves (checked by `check_classifier`): built on the meta
    device, then given the loaded tensors, so no second copy of the weights is ever made."""
    net = meta_network(config)
    net.load_state_dict(tensors, assign=True)
    return net.eval()


def check_tensors(
    expected: Shapes, tensors: dict[str, torch.Tensor], *, exact: bool = False, finite: bool = True
) -> None:
    """Raise ArtifactError unless `tensors` holds each expected tensor with its shape and dtype (and finite values);
    `exact`: and no other tensor."""
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise ArtifactError(f"the file is missing tensor(s) {missing[:5]}")
    unexpected = sorted(set(tensors) - set(expected)) if exact else []
    if unexpected:
        raise ArtifactError(f"the file holds unexpected tensor(s) {unexpected[:5]}")
    for name, (shape, dtype) in expected.items():
        tensor = tensors[name]
        if tuple(tensor.shape) != shape:
            raise ArtifactError(f"tensor {name} has shape {list(tensor.shape)} but the header implies {list(shape)}")
        if tensor.dtype != dtype:
            raise ArtifactError(
                f"tensor {name} is {str(tensor.dtype).removeprefix('torch.')}, not {str(dtype).removeprefix('torch.')}"
            )
        if finite and tensor.is_floating_point() and not _all_finite(tensor):
            raise ArtifactError(f"tensor {name} holds values that are not finite (NaN or infinity)")


def same_structure(name: str, value: Any, reference: Any, *, finite: bool) -> None:
    """Raise ArtifactError unless JSON `value` is shaped like `reference`: objects with keys among the reference's,
    lists of its length, numbers where it has numbers (finite if `finite`); "params" lists must be equal."""
    if isinstance(reference, dict):
        if not isinstance(value, dict):
            raise ArtifactError(f"{name} must be an object, got {type(value).__name__}")
        unknown = sorted(str(k) for k in value if k not in reference)
        if unknown:
            raise ArtifactError(f"{name} has unknown keys {unknown[:5]}")
        for key, item in value.items():
            same_structure(f"{name}.{key}", item, reference[key], finite=finite)
    elif isinstance(reference, (list, tuple)):
        if not isinstance(value, list) or len(value) != len(reference):
            raise ArtifactError(f"{name} must be a list of {len(reference)} items")
        if name.endswith(".params") and value != list(reference):
            raise ArtifactError(f"{name} must be {list(reference)[:10]}")
        for index, (item, expected) in enumerate(zip(value, reference)):
            same_structure(f"{name}[{index}]", item, expected, finite=finite)
    else:
        hint: Any = bool if isinstance(reference, bool) else str if isinstance(reference, str) else float
        if reference is None:  # e.g. AdamW's foreach: None here, perhaps a flag in the file
            hint = bool | float | str | None
        try:
            check_type(name, value, hint, finite=finite)
        except ConfigError as exc:
            raise ArtifactError(str(exc)) from None


def _all_finite(tensor: torch.Tensor) -> bool:
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16
        return bool(torch.isfinite(tensor).all())
    return bool(np.isfinite(tensor.numpy()).all())  # ~10x torch.isfinite on one thread (1 ms for 4M floats)


def _matrix_shape(tensors: dict[str, torch.Tensor], name: str) -> tuple[int, int]:
    tensor = tensors.get(name)
    if tensor is None or tensor.dim() != 2:
        raise ArtifactError(f"the file has no 2-D tensor {name}")
    return tensor.shape[0], tensor.shape[1]


def _same(field: str, declared: int, actual: int | None, reason: str) -> None:
    if declared != actual:
        raise ArtifactError(f"model_config.{field} is {declared} but {reason}")


__all__ = [
    "SavedClassifier",
    "build_network",
    "check_checkpoint",
    "check_classifier",
    "check_params",
    "check_tensors",
    "config_params",
    "expected_tensors",
    "meta_network",
    "network_config",
    "part",
    "same_structure",
    "saved_labels",
]
