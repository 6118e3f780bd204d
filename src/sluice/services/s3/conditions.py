"""Conditional requests (RFC 7232 as S3 applies it) and byte ranges."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ...protocol.errors import NotModified
from . import errors

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _etag_matches(header: str, etag: str) -> bool:
    for candidate in header.split(","):
        c = candidate.strip()
        if c == "*" or c.strip('"') == etag:
            return True
    return False


def _seconds(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


def check_read_conditions(
    etag: str, last_modified: float, params: dict[str, Any], prefix: str = "If"
) -> None:
    """Raise 412 or 304 as S3 would for GET/HEAD (prefix 'If') or a copy source ('CopySourceIf')."""
    lm = int(last_modified)  # HTTP dates have one-second resolution
    if_match = params.get(f"{prefix}Match")
    if_unmodified = params.get(f"{prefix}UnmodifiedSince")
    if_none_match = params.get(f"{prefix}NoneMatch")
    if_modified = params.get(f"{prefix}ModifiedSince")
    copy = prefix != "If"
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            raise errors.precondition_failed("If-Match" if not copy else "x-amz-copy-source-If-Match")
    elif if_unmodified is not None and lm > _seconds(if_unmodified):
        raise errors.precondition_failed(
            "If-Unmodified-Since" if not copy else "x-amz-copy-source-If-Unmodified-Since"
        )
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag):
            if copy:
                raise errors.precondition_failed("x-amz-copy-source-If-None-Match")
            raise NotModified(f'"{etag}"', last_modified)
    elif if_modified is not None and lm <= _seconds(if_modified):
        if copy:
            raise errors.precondition_failed("x-amz-copy-source-If-Modified-Since")
        raise NotModified(f'"{etag}"', last_modified)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive, or None for the whole object. Unparseable ranges are ignored."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first_s, last_s = m.groups()
    if not first_s:
        suffix = int(last_s)
        if suffix == 0 or size == 0:
            raise errors.invalid_range(header, size)
        return max(0, size - suffix), size - 1
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if last_s and last < first:
        return None
    if first >= size:
        raise errors.invalid_range(header, size)
    return first, min(last, size - 1)
