"""Bucket naming rules (general purpose buckets) and key limits."""

from __future__ import annotations

import re

_SHAPE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

MAX_KEY_BYTES = 1024


def valid_bucket_name(name: str) -> bool:
    return bool(
        _SHAPE.match(name)
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and not _IP.match(name)
        and not name.startswith(_RESERVED_PREFIXES)
        and not name.endswith(_RESERVED_SUFFIXES)
    )
