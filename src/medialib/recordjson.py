"""Frozen dataclass records to JSON and back, for records kept across versions.

Pickled records break when a class moves or changes shape; a lecture's publish record
lives as long as the lecture. So records that outlive one run are stored as JSON with
their schema version, and read back field by field from the type hints: unknown fields
are ignored, missing fields take their defaults, and a record that cannot be read says
which field is wrong.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, TypeVar

from medialib.errors import OperatorError

T = TypeVar("T")


class RecordError(OperatorError):
    """A stored record does not fit the current code: rebuild it (process the recording again)."""


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts, tuples to lists; everything else must already be JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def from_jsonable(cls: type[T], data: Any, where: str = "record") -> T:
    """Rebuild a `cls` record from to_jsonable's output."""
    return _convert(cls, data, where)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(tp: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        last: Exception | None = None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(arg, data, where)
            except RecordError as e:
                last = e
        raise last or RecordError(f"{where}: {data!r} fits none of {tp}")
    if origin is tuple:
        if not isinstance(data, list):
            raise RecordError(f"{where}: expected a list, got {type(data).__name__}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if origin is dict:
        if not isinstance(data, dict):
            raise RecordError(f"{where}: expected an object, got {type(data).__name__}")
        _, vt = typing.get_args(tp)
        return {k: _convert(vt, v, f"{where}.{k}") for k, v in data.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise RecordError(f"{where}: expected an object for {tp.__name__}, got {type(data).__name__}")
        hints = _hints(tp)
        kwargs = {f.name: _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
                  for f in dataclasses.fields(tp) if f.init and f.name in data}
        try:
            return tp(**kwargs)
        except (TypeError, ValueError) as e:
            raise RecordError(f"{where}: cannot rebuild {tp.__name__} ({e})") from None
    if tp is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if isinstance(tp, type) and not isinstance(data, tp):
        raise RecordError(f"{where}: expected {tp.__name__}, got {type(data).__name__}")
    return data
