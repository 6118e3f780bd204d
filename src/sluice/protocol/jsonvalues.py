"""JSON bodies driven by botocore shapes (json and rest-json protocols)."""

from __future__ import annotations

import base64
import datetime as dt
import functools
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from .values import InvalidValue, as_datetime, format_timestamp, parse_timestamp

# What from_json takes as it is, without a call (see _wire_members).
_TEXT, _INTEGER, _BOOLEAN = "string", "integer", "boolean"
_SCALAR_KINDS = {"string": _TEXT, "integer": _INTEGER, "long": _INTEGER, "boolean": _BOOLEAN}
_INT64 = range(-(2**63), 2**63)  # (`in` on a range of ints: two comparisons in C)


@functools.cache
def _wire_members(shape: StructureShape) -> tuple[tuple[str, str, Shape, str | None], ...]:
    """A structure's members as (wire key, name, shape, its plain scalar kind or None): shapes
    are model singletons, and looking each member's wire name up again per request was most of
    a small request's parse."""
    return tuple((member.serialization.get("name", name), name, member,
                  None if isinstance(member, (StructureShape, ListShape, MapShape))
                  else _SCALAR_KINDS.get(member.type_name))
                 for name, member in shape.members.items())


@functools.cache
def _body_members(shape: StructureShape) -> tuple[tuple[str, str, Shape, bool], ...]:
    """A structure's members that go in a JSON body, as (wire key, name, shape, written as it
    is?): strings, integers, booleans are; timestamps, blobs, floats and containers are not."""
    return tuple((member.serialization.get("name", name), name, member,
                  member.type_name in ("string", "integer", "long", "boolean")
                  and not isinstance(member, (StructureShape, ListShape, MapShape)))
                 for name, member in shape.members.items() if not member.serialization.get("location"))


def from_json(value: Any, shape: Shape, path: str = "") -> Any:
    """A decoded JSON value -> the Python value boto3 users see (datetimes, bytes)."""
    if value is None:
        return None
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise InvalidValue(path or shape.name, str(value)[:50], "structure")
        out = {}
        for key, name, member, kind in _wire_members(shape):
            if key in value:
                v = value[key]
                # What the scalar branches below answer for these, without the call.
                if (kind is _TEXT and type(v) is str and v.isascii()) or (kind is _INTEGER and type(v) is int
                                                                          and v in _INT64) \
                        or (kind is _BOOLEAN and type(v) is bool):
                    out[name] = v
                else:
                    out[name] = from_json(v, member, f"{path}.{name}" if path else name)
        return out
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise InvalidValue(path, str(value)[:50], "list")
        return [from_json(_present(v, shape.member, path), shape.member, path) for v in value]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise InvalidValue(path, str(value)[:50], "map")
        return {_text(k, path): from_json(_present(v, shape.value, path), shape.value, path)
                for k, v in value.items()}
    t = shape.type_name
    if t == "timestamp":
        if isinstance(value, (int, float)):
            try:
                return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
            except (OverflowError, OSError, ValueError):  # 1e300, NaN: no such moment
                raise InvalidValue(path, str(value)[:50], "timestamp") from None
        try:
            return parse_timestamp(str(value))
        except ValueError:
            raise InvalidValue(path, str(value), "timestamp") from None
    if t == "blob":
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        try:
            return base64.b64decode(value)
        except (ValueError, TypeError):
            raise InvalidValue(path, str(value)[:50], "base64 blob") from None
    # Beyond 64 bits no AWS service reads a number, and SQLite cannot hold one (it was a 500).
    if t in ("integer", "long") and (not isinstance(value, int) or isinstance(value, bool)
                                     or not -(2**63) <= value < 2**63):
        raise InvalidValue(path, str(value)[:50], "integer")
    if t == "boolean" and not isinstance(value, bool):
        raise InvalidValue(path, str(value)[:50], "boolean")
    if t == "string":
        if not isinstance(value, str):
            raise InvalidValue(path, str(value)[:50], "string")
        return _text(value, path)
    return value


def _text(value: str, path: str) -> str:
    # JSON may escape a lone surrogate ("\\ud800"); no Unicode text holds one, and nothing can
    # store or send it on (the database refused to encode it: a 500).
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue(path, value.encode("utf-8", "backslashreplace").decode()[:50], "string") from None
    return value


def _present(value: Any, shape: Shape, path: str) -> Any:
    # No model here marks a list or map `sparse`: a null member is not a value of its type (a
    # [null] reached the services as None, where they expect the member type).
    if value is None:
        raise InvalidValue(path, "null", shape.type_name)
    return value


@functools.cache
def _written_as_is(shape: Shape) -> bool:
    """to_json answers a value of this shape with the value itself (strings, integers, booleans)."""
    return shape.type_name in ("string", "integer", "long", "boolean") \
        and not isinstance(shape, (StructureShape, ListShape, MapShape))


def to_json(value: Any, shape: Shape, timestamp_format: str = "unixTimestamp") -> Any:
    """A Python value -> what goes in the JSON body for `shape`."""
    if value is None:
        return None
    if isinstance(shape, StructureShape):
        out: dict[str, Any] = {}
        if not isinstance(value, dict):
            return out
        for key, name, member, plain in _body_members(shape):
            v = value.get(name)
            if v is not None:
                out[key] = v if plain else to_json(v, member, timestamp_format)
        return out
    if isinstance(shape, ListShape):
        if _written_as_is(shape.member):
            return list(value)
        return [to_json(v, shape.member, timestamp_format) for v in value]
    if isinstance(shape, MapShape):
        if _written_as_is(shape.value):
            return dict(value)  # (GetQueueAttributes' attributes, message attributes' names)
        return {k: to_json(v, shape.value, timestamp_format) for k, v in value.items()}
    t = shape.type_name
    if t == "timestamp":
        fmt = shape.serialization.get("timestampFormat", timestamp_format)
        if fmt == "unixTimestamp":
            return round(as_datetime(value).timestamp(), 3)
        return format_timestamp(value, fmt)
    if t == "blob":
        raw = value if isinstance(value, (bytes, bytearray)) else str(value).encode()
        return base64.b64encode(raw).decode()
    if t in ("float", "double") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
