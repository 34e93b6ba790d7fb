"""A `SentimentClassifier`'s model file and training checkpoint: the JSON payload written beside the tensors
(parameters, configs, labels, tokenizer, library versions), and every part of a file checked against the others
before a classifier is rebuilt from it, so a damaged, edited or forged file is an error naming the problem, never
a model that predicts something else. The facade (`classifier.py`) only assigns what these functions return.

    payload = classifier_payload(clf.get_params(), configs, label_map, pipeline, model_config)
    state = read_classifier(tensors, payload, SentimentClassifier)   # checked parts, built
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from sentilstm.artifact.format import library_versions
from sentilstm.artifact.schema import (
    build_network,
    check_checkpoint,
    check_classifier,
    config_params,
    meta_network,
    part,
)
from sentilstm.config import EXTRA_CONFIGS, ModelConfig, TrainConfig, check_type, from_dict
from sentilstm.data.labels import LabelMap
from sentilstm.errors import ArtifactError, ConfigError
from sentilstm.estimators.augmenting import CALLABLE_PREFIX
from sentilstm.estimators.baselines import LinearBaseline
from sentilstm.estimators.blend import BLEND_PREFIX, blend_weight
from sentilstm.network.ensemble import EnsembleNet
from sentilstm.network.model import SentimentNet
from sentilstm.text.pipeline import TextPipeline
from sentilstm.training.loop import History, check_resume_state, read_checkpoint, resume_error

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = logging.getLogger(__name__)
# what rebuilding a model from a file may raise: the checks' own errors, or Python's where a check this version
# lacks lets a bad value through to the constructors
LOAD_ERRORS = (ArtifactError, ConfigError, KeyError, TypeError, RuntimeError, ValueError, UnicodeDecodeError)


@dataclass
class SavedState:
    """The checked and rebuilt parts of a model file: a classifier's parameters and its learned state."""

    params: dict[str, Any]  # constructor arguments; a callable augment_translator (stored by name) becomes None
    pipeline: TextPipeline
    label_map: LabelMap
    network: SentimentNet | EnsembleNet
    blend_model: LinearBaseline | None
    blend_weight: float  # the network's share of a blended prediction; 1.0 without a blend
    history: History | None
    metrics: dict[str, Any]
    versions: dict[str, Any]


def classifier_payload(
    params: dict[str, Any],
    configs: Mapping[str, DataclassInstance],
    label_map: LabelMap,
    pipeline: TextPipeline,
    model_config: ModelConfig,
) -> dict[str, Any]:
    """The JSON part of a model file or checkpoint; `configs` are the `EXTRA_CONFIGS` sections, as dataclasses."""
    return {
        "params": json_params(params),
        "labels": label_map.to_list(),
        "text_config": dataclasses.asdict(pipeline.config),
        "model_config": dataclasses.asdict(model_config),
        **{name: json_params(dataclasses.asdict(config)) for name, config in configs.items()},
        "tokenizer": pipeline.tokenizer.to_json(),
        "versions": library_versions(),
    }


def read_classifier(tensors: dict[str, torch.Tensor], payload: dict[str, Any], estimator: type) -> SavedState:
    """Every part of a model file of `estimator` (`SentimentClassifier`) checked against the others
    (`sentilstm.artifact.schema`; ArtifactError or ConfigError naming the field), then built."""
    network = {k: v for k, v in tensors.items() if not k.startswith(BLEND_PREFIX)}
    saved = check_classifier(payload, network, estimator)
    check_extra_configs(payload, saved.params)
    blend = part(payload, "blend", required=False)
    history = part(payload, "history", required=False)
    if history is not None:
        check_type("history", history, History, finite=False)
    params = dict(saved.params)
    if str(params.get("augment_translator", "")).startswith(CALLABLE_PREFIX):
        params["augment_translator"] = None  # a Python callable is not stored in a model file
    pipeline, label_map = TextPipeline(saved.text_config, saved.tokenizer), LabelMap(saved.labels)
    net = build_network(saved.model_config, network)
    blend_model, weight = None, 1.0
    if blend is not None:
        weight = blend_weight(blend)
        blend_model = LinearBaseline.from_saved(part(blend, "model", where="blend."), tensors, BLEND_PREFIX)
        if blend_model.label_map_.labels != saved.labels:
            raise ArtifactError(
                f"the blend's labels {blend_model.label_map_.labels} differ from the network's {saved.labels}"
            )
    elif len(network) < len(tensors):
        raise ArtifactError(f"the file holds blend tensors {sorted(set(tensors) - set(network))[:3]} but no blend")
    return SavedState(
        params,
        pipeline,
        label_map,
        net,
        blend_model,
        weight,
        History.from_dict(history) if history else None,
        part(payload, "metrics", required=False) or {},
        part(payload, "versions", required=False) or {},
    )


def check_extra_configs(payload: dict[str, Any], params: dict[str, Any]) -> None:
    """The config sections beyond text_config and model_config, where the file has them (a file written before they
    existed has not, and is read from its params alone): each of its type, and saying what the params say."""
    for name, cls in EXTRA_CONFIGS.items():
        section = part(payload, name, required=False)
        if section is None:
            continue
        from_dict(cls, section, name, strict=True)
        for field in dataclasses.fields(cls):
            value = section.get(field.name, field.default)
            if field.name in params and value != params[field.name]:
                raise ArtifactError(
                    f"params.{field.name} is {str(params[field.name])[:40]!r} but "
                    f"{name}.{field.name} is {str(value)[:40]!r}"
                )


def read_checked_checkpoint(path: str | Path, estimator: type) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A training checkpoint of `estimator`, every part checked before a resumed fit builds anything from it: the
    training state (`read_checkpoint`), the classifier's payload and network tensors, and the optimiser and
    schedule state against that network (`check_resume_state`, on the meta device)."""
    tensors, payload = read_checkpoint(path)
    try:
        saved = check_checkpoint(tensors, payload, estimator)
        check_resume_state(tensors, payload, meta_network(saved.model_config), config_params(TrainConfig, saved.params))
    except (ArtifactError, ConfigError) as exc:
        raise resume_error(path, exc) from None
    return tensors, payload


def read_resume(path: str | Path | None, params: dict[str, Any], estimator: type) -> dict[str, Any] | None:
    """What a resumed fit of `estimator` with `params` continues from: the checkpoint's payload, its tensors and
    payload under "checkpoint"; None (training from the start) when no checkpoint was written yet."""
    if path is None:
        raise ConfigError("resume=True needs checkpoint_path, the file the interrupted run wrote")
    if not Path(path).exists():
        log.warning("no checkpoint at %s; training from the start", path)
        return None
    tensors, payload = read_checked_checkpoint(path, estimator)
    if payload.get("params") != json_params(params):
        raise ConfigError(
            f"checkpoint {str(path)!r} was made with other options; resume with the same options "
            "or start again without --resume"
        )
    return {**payload, "checkpoint": (tensors, payload)}


def load_error(path: str | Path, payload: dict[str, Any], exc: Exception) -> ArtifactError:
    """The one-line error for a model file that `LOAD_ERRORS`' `exc` kept from being rebuilt."""
    if isinstance(exc, (ArtifactError, ConfigError)):
        return ArtifactError(
            f"{str(path)!r} cannot be loaded: {exc}; it is damaged, edited or from an incompatible "
            f"sentilstm ({_writer(payload)}): retrain it or copy it again"
        )
    return ArtifactError(
        f"{str(path)!r} could not be rebuilt ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
        f"it was probably written by an incompatible sentilstm version ({_writer(payload)}); retrain it"
    )


def _writer(payload: dict[str, Any]) -> str:
    """Which sentilstm wrote a payload, as the payload says (it may say anything)."""
    versions = payload.get("versions")
    version = versions.get("sentilstm") if isinstance(versions, dict) else None
    return f"written by sentilstm {str(version)[:20]}" if version is not None else "writer unknown"


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as they come back from JSON (tuples -> lists, dict keys -> str)."""

    # a callable (augment_translator) is recorded by name: a resumed run can compare it, a loaded model drops it
    def name(value: Any) -> str:
        if not callable(value):
            return str(value)
        return CALLABLE_PREFIX + (getattr(value, "__qualname__", None) or type(value).__qualname__)

    result: dict[str, Any] = json.loads(json.dumps(params, default=name))
    return result


__all__ = [
    "LOAD_ERRORS",
    "SavedState",
    "check_extra_configs",
    "classifier_payload",
    "json_params",
    "load_error",
    "read_checked_checkpoint",
    "read_classifier",
    "read_resume",
]
