"""The search space of `sentilstm tune`: which `SentimentClassifier` parameters are searched and over what
(fixed values, categorical choices, int/float ranges, log scales, choices conditional on another parameter),
checked when it is built, drawn per Optuna trial, and read from a JSON or YAML file.

    space = SearchSpace.load("space.yaml")   # keys replace DEFAULT_SPACE's entries ("extend_default": false: none)
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentilstm.config import ModelConfig, Pooling, TextConfig, TrainConfig, allowed_values, check_choice
from sentilstm.errors import ConfigError
from sentilstm.estimators.classifier import DERIVED_MODEL_FIELDS, Blend, SentimentClassifier

if TYPE_CHECKING:  # optuna is imported when a search runs, so `import sentilstm` stays fast
    import optuna


SPEC_FORMS = (
    "a fixed value, {'type': 'categorical', 'choices': [...]}, {'type': 'int', 'low': 1, 'high': 4, 'step': 1, "
    "'log': false}, {'type': 'float', 'low': 0.0001, 'high': 0.01, 'log': true}, {'type': 'fixed', 'value': ...} "
    "or {'type': 'conditional', 'on': PARAM, 'cases': {VALUE: spec}}"
)
SPEC_KEYS = {
    "fixed": {"value"},
    "categorical": {"choices"},
    "int": {"low", "high", "step", "log"},
    "float": {"low", "high", "step", "log"},
    "conditional": {"on", "cases"},
}

# Every architecture, text and training option that matters for an LSTM sentiment model, over ranges that
# are sensible from a few thousand to a few hundred thousand texts. A key of a user's space file replaces
# the entry here; `"extend_default": false` in the file starts from an empty space instead.
DEFAULT_SPACE: dict[str, Any] = {
    "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
    "bidirectional": {"type": "categorical", "choices": [True, False]},
    "num_layers": {"type": "int", "low": 1, "high": 2},  # a third layer has not paid off for sentiment
    "hidden_size": {"type": "categorical", "choices": [64, 128, 256]},
    "embedding_dim": {"type": "categorical", "choices": [64, 128, 200]},
    "dropout": {"type": "float", "low": 0.1, "high": 0.5},
    "pooling": {"type": "categorical", "choices": allowed_values(Pooling)},  # every registered pooling
    "conv_channels": {"type": "categorical", "choices": [0, 64, 128]},  # 0: no Conv1D n-gram front
    "learning_rate": {"type": "float", "low": 3e-4, "high": 5e-3, "log": True},
    "weight_decay": {"type": "float", "low": 1e-5, "high": 0.1, "log": True},
    "batch_size": {"type": "categorical", "choices": [32, 64, 128]},
    "max_length": {"type": "categorical", "choices": [None, 64, 128, 256]},  # None: 95th percentile of lengths
    "tokenizer": {"type": "categorical", "choices": ["word", "bpe", "unigram"]},
    # a word vocabulary and a subword vocabulary of the same size are very different models
    "vocab_size": {
        "type": "conditional",
        "on": "tokenizer",
        "cases": {
            "word": {"type": "categorical", "choices": [10_000, 30_000, 60_000]},
            "bpe": {"type": "categorical", "choices": [4_000, 8_000, 16_000]},
            "unigram": {"type": "categorical", "choices": [4_000, 8_000, 16_000]},
        },
    },
    "class_weight": {"type": "categorical", "choices": [None, "balanced"]},
}


def _param_names() -> list[str]:
    return sorted(SentimentClassifier().get_params())


def check_param_name(name: Any, what: str) -> None:
    """Raise ConfigError unless `name` is a SentimentClassifier parameter, suggesting the closest one."""
    known = _param_names()
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{what} {name!r} is not a SentimentClassifier parameter{hint} "
            "(the names are those of SentimentClassifier().get_params())"
        )


def _case_key(value: Any) -> str:
    """How a parent's value names a case of a conditional spec: strings as they are, others as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def check_param_value(name: str, value: Any) -> None:
    """Raise ConfigError unless the classifier accepts `value` for `name` (as far as its configs can tell)."""
    for cls in (TextConfig, ModelConfig, TrainConfig):
        derived = DERIVED_MODEL_FIELDS if cls is ModelConfig else ()
        if name in {f.name for f in dataclasses.fields(cls)} and name not in derived:
            try:
                cls(**{name: value}).validate()
            except TypeError:
                raise ConfigError(f"{name} got {value!r}, a value of the wrong type") from None
            return
    if name == "blend" and value is not None:
        check_choice("blend", value, Blend)


@dataclass
class SearchSpace:
    """Parameter name -> spec: a fixed value or a dict such as {"type": "int", "low": 1, "high": 2}.

    Every name is a `SentimentClassifier` parameter; see `DEFAULT_SPACE` and `SPEC_FORMS`. A conditional spec
    draws from `cases[str(value of "on")]` (parameter named "NAME.VALUE" in Optuna), or leaves the
    library default when the parent's value has no case.
    """

    specs: dict[str, Any]

    def __post_init__(self) -> None:
        checked = {}
        for name, spec in self.specs.items():
            check_param_name(name, "search space key")
            checked[name] = self._checked(name, spec)
        self.specs = checked

    def _checked(self, name: str, spec: Any, nested: bool = False) -> Any:
        """`spec` validated and normalised (case keys as strings); ConfigError naming `name` otherwise."""

        def fail(problem: str) -> ConfigError:
            return ConfigError(f"search space key {name!r}: {problem}; allowed forms: {SPEC_FORMS}")

        if not isinstance(spec, Mapping):
            return self._checked(name, {"type": "fixed", "value": spec}, nested)
        kind = spec.get("type")
        if kind not in SPEC_KEYS or (nested and kind == "conditional"):
            allowed = [k for k in SPEC_KEYS if not (nested and k == "conditional")]
            raise fail(
                f"'type' must be one of {allowed}, got {kind!r} (a dict value is fixed with "
                "{'type': 'fixed', 'value': {...}})"
            )
        extra = set(spec) - SPEC_KEYS[kind] - {"type"}
        missing = SPEC_KEYS[kind] - {"step", "log"} - set(spec)
        if extra or missing:
            raise fail(
                f"a {kind} spec has {'unknown keys ' + str(sorted(extra)) if extra else ''}"
                f"{' and ' if extra and missing else ''}{'no ' + str(sorted(missing)) if missing else ''}"
            )
        spec = dict(spec)
        try:
            if kind == "fixed":
                check_param_value(name, spec["value"])
            elif kind == "categorical":
                choices = spec["choices"]
                if not isinstance(choices, list) or not choices:
                    raise fail(f"choices must be a non-empty list, got {choices!r}")
                for choice in choices:
                    if not (choice is None or isinstance(choice, (bool, int, float, str))):
                        raise fail(f"choices must be numbers, strings, booleans or null, got {choice!r}")
                    check_param_value(name, choice)
            elif kind in ("int", "float"):
                number = int if kind == "int" else (int, float)
                low, high, step, use_log = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)
                if not all(isinstance(v, number) and not isinstance(v, bool) for v in (low, high)) or low > high:
                    raise fail(f"low and high must be {kind} numbers with low <= high, got {low!r} and {high!r}")
                if not isinstance(use_log, bool) or (use_log and (low <= 0 or step not in (None, 1))):
                    raise fail("log must be true or false; a log range needs low > 0 and no step")
                if step is not None and (not isinstance(step, number) or isinstance(step, bool) or step <= 0):
                    raise fail(f"step must be a positive {kind} number, got {step!r}")
                check_param_value(name, low)
                check_param_value(name, high)
            else:
                parent = self.specs.get(spec["on"])
                parent_kind = parent.get("type", "fixed") if isinstance(parent, Mapping) else "fixed"
                if spec["on"] == name or spec["on"] not in self.specs or parent_kind not in ("categorical", "fixed"):
                    raise fail(
                        f"'on' must name another categorical or fixed parameter of the space, got {spec['on']!r}"
                    )
                if not isinstance(spec["cases"], Mapping) or not spec["cases"]:
                    raise fail(f"cases must map values of {spec['on']!r} to specs, got {spec['cases']!r}")
                spec["cases"] = {_case_key(k): self._checked(name, v, nested=True) for k, v in spec["cases"].items()}
        except ConfigError as exc:
            if str(exc).startswith("search space key"):
                raise
            raise ConfigError(f"search space key {name!r}: {exc}") from None
        return spec

    @classmethod
    def default(cls) -> SearchSpace:
        """The library's default space (`DEFAULT_SPACE`)."""
        return cls(copy.deepcopy(DEFAULT_SPACE))

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any] | None = None) -> SearchSpace:
        """The default space with the entries of a YAML/JSON file or mapping replacing or extending it.

        `"extend_default": false` in the source starts from an empty space instead of the default one.
        """
        if source is None:
            return cls.default()
        overrides = dict(source) if isinstance(source, Mapping) else _read_space_file(Path(source))
        extend = overrides.pop("extend_default", True)
        if not isinstance(extend, bool):
            raise ConfigError(f"extend_default must be true or false, got {extend!r}")
        return cls({**(copy.deepcopy(DEFAULT_SPACE) if extend else {}), **overrides})

    def updated(self, overrides: Mapping[str, Any]) -> SearchSpace:
        """A copy with `overrides` replacing or adding entries (a plain value fixes the parameter)."""
        return SearchSpace({**copy.deepcopy(self.specs), **overrides})

    @property
    def searched(self) -> list[str]:
        """Names of the parameters that are drawn, not fixed."""
        return [n for n, s in self.specs.items() if s["type"] != "fixed"]

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Draw one configuration: classifier keyword arguments, in the space's order."""
        params: dict[str, Any] = {}
        for name, spec in self.specs.items():
            if spec["type"] != "conditional":
                params[name] = _draw(trial, name, spec)
        for name, spec in self.specs.items():
            case = _case_key(params[spec["on"]]) if spec["type"] == "conditional" else None
            if case is not None and case in spec["cases"]:
                params[name] = _draw(trial, f"{name}.{case}", spec["cases"][case])
        return {name: params[name] for name in self.specs if name in params}

    def decode(self, optuna_params: Mapping[str, Any]) -> dict[str, Any]:
        """Classifier keyword arguments from a trial's Optuna parameters (as `suggest` drew them)."""
        import optuna

        return self.suggest(optuna.trial.FixedTrial(dict(optuna_params)))

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.specs)


def _draw(trial: optuna.trial.BaseTrial, name: str, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "fixed":
        return copy.deepcopy(spec["value"])
    if kind == "categorical":
        return trial.suggest_categorical(name, spec["choices"])
    log_scale = spec.get("log", False)
    if kind == "int":
        return trial.suggest_int(name, spec["low"], spec["high"], step=spec.get("step") or 1, log=log_scale)
    return trial.suggest_float(name, spec["low"], spec["high"], step=spec.get("step"), log=log_scale)


def _read_space_file(path: Path) -> dict[str, Any]:
    """A search space mapping from a .json file, or YAML (which also reads JSON) from anything else."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"search space file {str(path)!r} does not exist; give a YAML or JSON file")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        where = str(exc).splitlines()[-1].strip() if isinstance(exc, yaml.YAMLError) else str(exc)
        raise ConfigError(
            f"search space file {str(path)!r} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
            f"{where}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"search space file {str(path)!r} must hold a mapping name -> spec, got {type(data).__name__}"
        )
    return data


__all__ = ["DEFAULT_SPACE", "SPEC_FORMS", "SearchSpace", "check_param_name", "check_param_value"]
