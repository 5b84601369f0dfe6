"""`StrategyConfig` to and from plain data (dicts, lists, strings, numbers: JSON-ready).

Enums travel as their values ("next_open", ">", "1d"), times as ISO 8601 strings, tuples as
lists. Reading is strict: an unknown key, a missing required field or a value of the wrong
type raises InvalidArgument naming its path (e.g. "rules.long_entry.rules[0].op"); whether
the values make sense is `validation.check`'s job.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

from backtest.config import StrategyConfig
from services.runtime.errors import InvalidArgument


def config_to_dict(config: StrategyConfig) -> dict[str, Any]:
    encoded = _encode(config)
    assert isinstance(encoded, dict)
    return encoded


def config_from_dict(data: Mapping[str, Any]) -> StrategyConfig:
    decoded = _decode(StrategyConfig, data, "")
    assert isinstance(decoded, StrategyConfig)
    return decoded


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def _bad(path: str, description: str) -> InvalidArgument:
    return InvalidArgument.for_field(path or "config", description)


def _decode(kind: Any, value: object, path: str) -> object:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if value is None:
            if type(None) in options:
                return None
            raise _bad(path, "must not be null")
        errors: list[InvalidArgument] = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(option, value, path)
            except InvalidArgument as exc:
                errors.append(exc)
        raise errors[0]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _bad(path, "must be a list")
        item = get_args(kind)[0]
        return tuple(_decode(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _decode_dataclass(kind, value, path)
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(value)
        except ValueError:
            choices = ", ".join(str(m.value) for m in kind)
            raise _bad(path, f"must be one of {choices}") from None
    return _decode_scalar(kind, value, path)


def _decode_dataclass(kind: type, value: object, path: str) -> object:
    if not isinstance(value, Mapping):
        raise _bad(path, "must be an object")
    hints = get_type_hints(kind)
    fields = {f.name: f for f in dataclasses.fields(kind)}
    for key in value:
        if key not in fields:
            raise _bad(_join(path, str(key)), "unknown field")
    arguments = {}
    for name, field in fields.items():
        where = _join(path, name)
        if name in value:
            arguments[name] = _decode(hints[name], value[name], where)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise _bad(where, "is required")
    return kind(**arguments)


def _decode_scalar(kind: Any, value: object, path: str) -> object:
    if kind is bool:
        if not isinstance(value, bool):
            raise _bad(path, "must be true or false")
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad(path, "must be an integer")
        return value
    if kind is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _bad(path, "must be a number")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise _bad(path, "must be a string")
        return value
    if kind is datetime:
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise _bad(path, "must be an ISO 8601 time")
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise _bad(path, "must be an ISO 8601 time") from None
    raise _bad(path, f"cannot read a {kind}")  # pragma: no cover (a field type not handled)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
