"""CloudWatch Logs' paging tokens: GetLogEvents' stream positions, FilterLogEvents' and the
describe operations' opaque tokens. A token Sluice did not issue is InvalidParameterException."""

from __future__ import annotations

import base64
import binascii
import re

from . import errors
from .records import DIGITS


def stream_token(direction: str, pos: int) -> str:
    return f"{direction}/{pos:0{DIGITS}d}/s"


_STREAM_TOKEN = re.compile(r"^([fb])/(\d{1,56})(?:/s)?$")


def decode_stream_token(token: str) -> tuple[bool, int]:
    m = _STREAM_TOKEN.match(token)
    if m is None:
        raise errors.invalid_token()
    return m.group(1) == "f", int(m.group(2))


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.invalid_token() from None


def encode_filter_token(ascending: bool, pos: int) -> str:
    return _b64(f"{'a' if ascending else 'd'}/{pos:0{DIGITS}d}")


def decode_filter_token(token: str) -> tuple[bool, int]:
    text = _unb64(token)
    m = re.fullmatch(r"([ad])/(\d{1,56})", text)
    if m is None:
        raise errors.invalid_token()
    return m.group(1) == "a", int(m.group(2))


def encode_name_token(name: str) -> str:
    return _b64("n/" + name)


def decode_name_token(token: str | None) -> str:
    if not token:
        return ""
    text = _unb64(token)
    if not text.startswith("n/"):
        raise errors.invalid_token()
    return text[2:]


def encode_offset_token(offset: int) -> str:
    return _b64(f"o/{offset}")


def decode_offset_token(token: str | None) -> int:
    if not token:
        return 0
    text = _unb64(token)
    if not re.fullmatch(r"o/\d+", text):
        raise errors.invalid_token()
    return int(text[2:])

