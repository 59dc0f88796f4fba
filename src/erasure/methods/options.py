"""Hyperparameters given by name (the command line's `--set key=value`, a notebook's keyword
arguments), read into a method's config with their declared types and checked before any work starts.

A method is a frozen dataclass whose fields are its hyperparameters; `coerce` turns text or JSON
values into each field's type and names the valid keys when a key is unknown, and each method's
`__post_init__` checks ranges with `require`, so a bad value fails at construction, not minutes later.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing

#: How each type is named in messages.
TYPE_NAMES = {int: "whole number", float: "number", str: "text", bool: "true or false"}
#: Accepted spellings of a boolean on the command line.
BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def describe(cls) -> str:
    """'name (type, default value), …' for every hyperparameter of a method's config."""
    hints = typing.get_type_hints(cls)
    return ", ".join(f"{f.name} ({_type_name(hints[f.name])}, default {f.default!r})" for f in dataclasses.fields(cls))


def _type_name(tp) -> str:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return " or ".join("null" if a is type(None) else _type_name(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return "list of " + _type_name(typing.get_args(tp)[0])
    return TYPE_NAMES.get(tp, tp.__name__)


def _convert(value, tp):
    """`value` as type `tp`, or ValueError. Strings are parsed (the command line gives strings when a
    value is not JSON); ints are accepted for floats; bools are never taken for numbers."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg)
            except ValueError:
                continue
        raise ValueError
    if typing.get_origin(tp) is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError
        return tuple(_convert(v, typing.get_args(tp)[0]) for v in items)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in BOOLEANS:
            return BOOLEANS[value.lower()]
        raise ValueError
    if isinstance(value, bool):
        raise ValueError
    if tp is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            return int(value)
        raise ValueError
    if tp is float:
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            return float(value)
        raise ValueError
    if tp is str:
        if isinstance(value, str):
            return value
        raise ValueError
    raise ValueError


def coerce(cls, settings: dict, extra: tuple[str, ...] = ()) -> dict:
    """`settings` with each value converted to the type of `cls`'s field of that name. Keys in `extra`
    (options a method's `for_profile` reads, such as AEGIS's `preset`) pass through unchanged."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    out = {}
    for key, value in settings.items():
        if key in extra:
            out[key] = value
            continue
        if key not in names:
            valid = describe(cls) + "".join(f", {e}" for e in extra)
            raise ValueError(f"{cls.name} has no hyperparameter {key!r}; choose from its hyperparameters: {valid}")
        try:
            out[key] = _convert(value, hints[key])
        except (ValueError, TypeError):
            raise ValueError(
                f"{cls.name}: {key}={value!r} must be {_type_name(hints[key])}; give e.g. --set {key}="
                f"{json_value(next(f.default for f in dataclasses.fields(cls) if f.name == key))}"
            ) from None
    return out


def json_value(value) -> str:
    """How a default is written on the command line."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "a,b"
    return str(value)


def require(condition: bool, method: str, message: str) -> None:
    """Raises ValueError('method: message') unless `condition` holds (a method's range checks)."""
    if not condition:
        raise ValueError(f"{method}: {message}")


def finite(x: float) -> bool:
    return math.isfinite(x)
