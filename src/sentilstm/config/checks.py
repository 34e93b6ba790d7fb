"""The checks every setting goes through: a value in range (`check_range`, `check_integer`, `check_positive`),
one of a `Literal`'s values (`check_choice`), of its field's kind (`check_field_kinds`), and, for settings read
back from a file and trusted in nothing, of its declared type (`check_type`, `check_fields`, `from_dict`). Each
failure is one ConfigError naming the setting, what it got and what is allowed.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import math
import numbers
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import numpy as np

from sentilstm.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class Choices:
    """Marks `Annotated[str, Choices(registry)]`: a setting whose values are a registry's names, read each time it
    is checked, so that an entry registered later counts (`ModelConfig.pooling`: `sentilstm.network.pooling`).
    An entry that is a string, or an entry's `help` attribute, is shown beside its name in `--help`."""

    def __init__(self, registry: collections.abc.Mapping[str, Any]) -> None:
        self.registry = registry

    def __repr__(self) -> str:
        return f"Choices({list(self.registry)})"


def allowed_values(kind: Any) -> list[Any] | None:
    """The values a `Literal[...]` or an `Annotated[str, Choices(registry)]` allows (a registry's names as they are
    now); None for any other type."""
    if get_origin(kind) is Literal:
        return list(get_args(kind))
    if get_origin(kind) is Annotated:
        marks = [extra for extra in kind.__metadata__ if isinstance(extra, Choices)]
        return list(marks[0].registry) if marks else None
    return None


def described_values(kind: Any) -> list[str]:
    """`allowed_values(kind)` as strings, each followed by its registry entry's help in parentheses where it has
    one: "attention (a learned weighted average)"."""
    marks = [extra for extra in getattr(kind, "__metadata__", ()) if isinstance(extra, Choices)]
    entries = marks[0].registry if marks else {}
    shown = []
    for value in allowed_values(kind) or []:
        entry = entries.get(value)
        text = entry if isinstance(entry, str) else getattr(entry, "help", "")
        shown.append(f"{value} ({text})" if text else str(value))
    return shown


def check_choice(name: str, value: Any, kind: Any) -> None:
    """Raise ConfigError unless `value` is one of the values `kind` (a Literal, or a `Choices` registry) allows."""
    allowed = allowed_values(kind)
    if allowed is None:
        raise TypeError(f"check_choice needs a Literal or an Annotated[str, Choices(...)], got {kind!r}")
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {allowed}, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_range(name: str, value: float, low: float, high: float | None = None) -> None:
    """Raise ConfigError unless value is a finite number with low <= value (<= high); NaN and inf never pass."""
    if not _is_number(value) or not math.isfinite(value) or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        kind = "" if _is_number(value) and math.isfinite(value) else "a finite number "
        raise ConfigError(f"{name} must be {kind}{bound}, got {value!r}")


def check_positive(name: str, value: float) -> None:
    """Raise ConfigError unless value is a finite number > 0."""
    if not _is_number(value) or not 0 < value < math.inf:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")


def check_integer(name: str, value: int, low: int, high: int | None = None) -> None:
    """Raise ConfigError unless value is a whole number with low <= value (<= high)."""
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, (bool, np.bool_))
        or value < low
        or (high is not None and value > high)
    ):
        bound = f">= {low}" if high is None else f"between {low} and {high:,}"
        raise ConfigError(f"{name} must be a whole number {bound}, got {value!r}")


def check_field_kinds(config: DataclassInstance) -> None:
    """Raise ConfigError for a config field whose value has the wrong kind for its annotation: a whole number
    where an int is declared (1.5 epochs), a finite number for a float (NaN, inf, "0.1"), True/False for a bool.
    Ranges are each config's `validate`; this is the type check every numeric field shares. Lenient where Python
    callers are (NumPy integers count as whole numbers); `check_fields` is the strict check of values read from
    files."""
    for item in dataclasses.fields(config):
        kinds = _field_kinds(type(config))[item.name]
        value = getattr(config, item.name)
        if value is None and type(None) in kinds:
            continue
        if int in kinds and bool not in kinds:
            if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"{item.name} must be a whole number, got {value!r}")
        elif float in kinds:
            if not _is_number(value) or not math.isfinite(value):
                raise ConfigError(f"{item.name} must be a finite number, got {value!r}")
        elif kinds == {bool} and not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{item.name} must be True or False, got {value!r}")


@functools.cache
def _field_kinds(cls: type) -> dict[str, set[Any]]:
    """Each field's plain types ({int, NoneType} for `int | None`; Literal and containers count as neither)."""
    kinds: dict[str, set[Any]] = {}
    for name, hint in get_type_hints(cls).items():
        options = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
        kinds[name] = {t for t in options if t in (int, float, bool, type(None))}
    return kinds


def from_dict(cls: type, values: Any, where: str | None = None, *, strict: bool = False) -> Any:
    """Rebuild a config dataclass from a dict, ignoring keys that are no field of it (e.g. a full parameter set).

    `strict=True` is for settings read from a file, trusted in nothing: every key must be a field (an unknown one
    is a setting this version would silently ignore), every value of its field's type, and the result must pass
    `validate()`; missing keys take their defaults (files from versions with fewer settings). Raises ConfigError
    naming `where.field` (`where` defaults to the class name).
    """
    if not strict:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})
    where = where or cls.__name__
    check_fields(cls, values, where)
    config = cls(**values)
    try:
        config.validate()
    except ConfigError as exc:  # its messages start with the field's name
        raise ConfigError(f"{where}.{exc}") from None
    return config


def check_fields(cls: type, values: Any, where: str, *, finite: bool = True) -> None:
    """Raise ConfigError unless `values` is a dict whose every key is a field of dataclass `cls`, of its type."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be an object, got {_shown(values)}")
    hints = typing.get_type_hints(cls, include_extras=True)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(str(k) for k in values if k not in names)
    if unknown:
        raise ConfigError(f"{where} has unknown settings {unknown[:5]} (a newer sentilstm's, or an edit)")
    for name, value in values.items():
        check_type(f"{where}.{name}", value, hints[name], finite=finite)


def check_type(name: str, value: Any, hint: Any, *, finite: bool = True) -> None:
    """Raise ConfigError unless `value`, as read back from JSON, fits the type hint (`finite`: floats must be)."""
    if not _fits(value, hint, finite):
        raise ConfigError(f"{name} must be {_describe(hint)}, got {_shown(value)}")


def _fits(value: Any, hint: Any, finite: bool) -> bool:
    origin, args = get_origin(hint) or (hint if hint in (list, dict) else None), get_args(hint)
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg, finite) for arg in args)
    if origin is Literal:  # type too: True == 1, but a bool is not the number 1
        return any(value == arg and type(value) is type(arg) for arg in args)
    if origin is Annotated:  # a registry's names (`Choices`), else the annotated type itself
        allowed = allowed_values(hint)
        return _fits(value, args[0], finite) if allowed is None else isinstance(value, str) and value in allowed
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # JSON writes 1.0 as 1; a whole number is finite however large
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            or (isinstance(value, float) and (math.isfinite(value) or not finite))
        )
    if hint is str:
        return isinstance(value, str)
    if origin is tuple and args and args[-1] is not Ellipsis:  # JSON has no tuples: a list of that length
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(args)
            and all(_fits(v, a, finite) for v, a in zip(value, args))
        )
    if origin in (list, tuple, collections.abc.Sequence):
        return isinstance(value, (list, tuple)) and all(_fits(v, args[0] if args else Any, finite) for v in value)
    if origin in (dict, collections.abc.Mapping):
        key, item = args or (Any, Any)
        return isinstance(value, dict) and all(
            _fits(k, key, finite) and _fits(v, item, finite) for k, v in value.items()
        )
    if origin is collections.abc.Callable:
        return False  # a saved file holds no code
    if typing.is_typeddict(hint):
        spec = typing.get_type_hints(hint)
        return (
            isinstance(value, dict)
            and set(value) == set(spec)
            and all(_fits(value[key], item, finite) for key, item in spec.items())
        )
    # a nested record, e.g. History.epochs: list[EpochStats]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        try:
            check_fields(hint, value, hint.__name__, finite=finite)
        except ConfigError:
            return False
        return True
    raise TypeError(f"check_type cannot check {hint!r}")  # a new kind of field: teach _fits about it


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint) or (hint if hint in (list, dict) else None), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is Literal or origin is Annotated and allowed_values(hint) is not None:
        return f"one of {allowed_values(hint)}"
    if origin is Annotated:
        return _describe(args[0])
    if origin in (list, tuple, collections.abc.Sequence):
        return f"a list of {len(args)} items" if origin is tuple and args and args[-1] is not Ellipsis else "a list"
    names = {
        bool: "true or false",
        int: "a whole number",
        float: "a finite number",
        str: "a string",
        type(None): "null",
        None: "null",
        Any: "anything",
    }
    if origin in (dict, collections.abc.Mapping) or dataclasses.is_dataclass(hint) or typing.is_typeddict(hint):
        return "an object" + (f" with keys {list(typing.get_type_hints(hint))}" if typing.is_typeddict(hint) else "")
    return names.get(hint, "a callable" if origin is collections.abc.Callable else str(hint))


def _shown(value: Any) -> str:
    """A short, one-line repr of a value read from a file (which may be huge)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
