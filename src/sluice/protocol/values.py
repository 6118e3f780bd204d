"""Scalar values on the wire: timestamps, booleans, numbers, blobs."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import math
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # botocore is imported when a protocol is first built, not at start-up
    from botocore.model import Shape



class InvalidValue(ValueError):
    """A request value that does not fit its shape; each protocol names the AWS error."""

    def __init__(self, member: str, value: str, expected: str) -> None:
        super().__init__(f"Value '{value}' at '{member}' is not a valid {expected}")
        self.member = member
        self.value = value
        self.expected = expected


def parse_timestamp(text: str) -> dt.datetime:
    text = text.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return dt.datetime.fromtimestamp(float(text), tz=dt.timezone.utc)
        if "," in text or text.endswith("GMT"):
            return email.utils.parsedate_to_datetime(text).astimezone(dt.timezone.utc)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(text) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)


def iso8601(value: Any) -> str:
    d = as_datetime(value).astimezone(dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_last_rfc822: tuple[float, str] = (math.nan, "")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc822(value: Any) -> str:
    """email.utils.formatdate(..., usegmt=True)'s text, written directly: every S3 read and
    write answers a Last-Modified or Date, and formatdate goes through a datetime and back."""
    global _last_rfc822
    ts = value if isinstance(value, (int, float)) else as_datetime(value).timestamp()
    second = math.floor(ts)
    last = _last_rfc822
    if last[0] == second:  # the same object read again, or writes within one second
        return last[1]
    t = time.gmtime(second)
    text = (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")
    _last_rfc822 = (second, text)  # one tuple, replaced whole: safe across threads
    return text


def format_timestamp(value: Any, fmt: str) -> str:
    if fmt == "rfc822":
        return rfc822(value)
    if fmt == "unixTimestamp":
        ts = as_datetime(value).timestamp()
        return str(int(ts)) if ts == int(ts) else f"{ts:.3f}"
    return iso8601(value)


def parse_scalar(text: str, shape: Shape, member: str, timestamp_format: str = "iso8601") -> Any:
    """Turn a string from a header, query string or XML text into the shape's Python value."""
    t = shape.type_name
    if t == "string":
        return text
    if t in ("integer", "long"):
        try:
            return int(text.strip())
        except ValueError:
            raise InvalidValue(member, text, "integer") from None
    if t in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise InvalidValue(member, text, "number") from None
    if t == "boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise InvalidValue(member, text, "boolean")
        return lowered == "true"
    if t == "timestamp":
        try:
            return parse_timestamp(text)
        except ValueError:
            raise InvalidValue(member, text, "timestamp") from None
    if t == "blob":
        try:
            return base64.b64decode(text)
        except ValueError:
            raise InvalidValue(member, text, "base64 blob") from None
    return text


def format_scalar(value: Any, shape: Shape, timestamp_format: str = "iso8601") -> str:
    t = shape.type_name
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        return format_timestamp(value, shape.serialization.get("timestampFormat", timestamp_format))
    if t == "blob":
        raw = value if isinstance(value, bytes) else str(value).encode()
        return base64.b64encode(raw).decode()
    if t in ("float", "double") and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
