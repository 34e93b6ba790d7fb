"""Parameters given on the command line: `--set KEY=VALUE` assignments and `--params FILE` (JSON or YAML), each
value coerced to the type of that parameter's default."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentilstm.errors import ConfigError, DataError
from sentilstm.selection.crossval import Estimator, check_names, default_params
from sentilstm.system.files import as_path


def parse_assignments(assignments: Sequence[str], estimator: Estimator) -> dict[str, Any]:
    """`KEY=VALUE` strings -> parameters, each value coerced to the type of that parameter's default.

    "none"/"null" give None; a parameter whose default is None takes a JSON literal (3, 0.5, true,
    {"pos": 2}) or else the string; a pair such as ngrams takes "1,3".

        parse_assignments(["epochs=5", "cell=gru", "bidirectional=false"], "lstm")
    """
    defaults = default_params(estimator)
    params: dict[str, Any] = {}
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip().replace("-", "_")
        if not equals or not name:
            raise ConfigError(f"--set expects KEY=VALUE such as epochs=5, got {assignment!r}")
        check_names(estimator, [name], defaults)
        params[name] = coerce_value(name, text.strip(), defaults[name])
    return params


def read_params(path: str | Path) -> dict[str, Any]:
    """Parameters from a JSON or YAML (.yaml/.yml) file holding one mapping {name: value}."""
    path = as_path(path, "a parameters file", ConfigError)
    if not path.is_file():
        raise DataError(f"parameters file {str(path)!r} does not exist; give a JSON or YAML file of {{name: value}}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # installed with optuna

            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
        raise ConfigError(f"parameters file {str(path)!r} could not be parsed: {str(exc).splitlines()[0]}") from None
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise ConfigError(
            f"parameters file {str(path)!r} must hold one mapping {{name: value}}, got {type(values).__name__}"
        )
    return values


TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def coerce_value(name: str, text: str, default: Any) -> Any:
    """One --set value as the type of the parameter's default."""
    if text.lower() in ("none", "null"):
        return None
    wanted = "true or false" if isinstance(default, bool) else type(default).__name__
    try:
        if isinstance(default, bool):
            if text.lower() not in TRUE + FALSE:
                raise ValueError(text)
            return text.lower() in TRUE
        if isinstance(default, (int, float)):
            return type(default)(text)
        if isinstance(default, (tuple, list)):
            kind = type(default[0]).__name__ if default else "value"
            wanted = f"comma-separated {kind}s such as {','.join(map(str, default))}"
            parts = [p.strip() for p in text.strip("()[]").split(",")]
            return type(default)(type(default[0])(p) for p in parts) if default else parts
    except ValueError:
        raise ConfigError(f"--set {name}={text}: {name} takes {wanted} (default {default!r}), got {text!r}") from None
    if isinstance(default, str):
        return text
    try:  # default None or a dict: a JSON literal when it is one ("128", "0.5", '{"pos": 2}'), else the string
        return json.loads(text)
    except ValueError:
        return text


__all__ = ["coerce_value", "parse_assignments", "read_params"]
