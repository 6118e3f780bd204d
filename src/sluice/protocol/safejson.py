"""JSON from clients, with a bound on nesting: wire bodies and the documents inside members; and
`dumps`, the JSON protocols' answers.

`json.loads` recurses once per level, so a body nested 100,000 levels deep raised RecursionError
(a 500), and one nested 900 levels parsed, was stored, and could overflow whatever walked it later
(validation, pattern matching, json.dumps in the engine). AWS documents no nesting limit for most
of these documents (Sluice's bound is its own): anything deeper than MAX_DEPTH is refused as not
JSON, so every caller answers with the error it already gives for malformed JSON, and nothing
stored can overflow code that reads it later.
"""

from __future__ import annotations

import json
import re
from _json import make_encoder
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

# Far more than any AWS request shape or policy needs; far enough below Python's recursion limit
# (1000 frames) that code walking a parsed document a few frames per level cannot reach it.
MAX_DEPTH = 256


# json.dumps(value) is "".join(_ENCODE(value, 0)): json's C encoder with json.dumps's defaults,
# made once instead of per call (json.dumps builds it again each time, half its cost for a small
# answer). No circular-reference check: what is encoded here is an answer, a tree.
_ENCODE = make_encoder(None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ",
                       False, False, True)


def dumps(value: Any) -> bytes:
    """`json.dumps(value).encode()`, the same bytes, for an answer's body."""
    return "".join(_ENCODE(value, 0)).encode()


class JsonError(ValueError):
    """Not JSON, or nested deeper than MAX_DEPTH (a ValueError, as json.JSONDecodeError is)."""


def loads(text: str | bytes | bytearray, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing documents nested deeper than `max_depth` arrays/objects."""
    try:
        value = _parse(text)
    except RecursionError:
        raise JsonError(f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:  # bytes that are not UTF-8/16/32: also "not JSON"
        raise JsonError(str(exc)) from None
    if _brackets(text) > max_depth and _too_deep(value, max_depth):
        raise JsonError(f"JSON nested deeper than {max_depth} levels")
    return value


_WS = re.compile(r"[ \t\n\r]*")
_WS_CHARS = " \t\n\r"  # (and "": an empty document's error comes from the scanner)
# json's own (C) scanner of one value at an index: (value, end); typeshed does not list it.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_WALKED_LEVELS = 2  # levels `check` walks itself: enough for {"Records": [...]} and [...]


def _parse(text: str | bytes | bytearray) -> Any:
    """`json.loads(text)`, the same value or error, with less Python around json's C scanner for
    the usual body (UTF-8, no BOM): json.loads's encoding detection, its decoder's two regex
    matches and checks were half a small request's parse."""
    if not isinstance(text, str):
        if len(text) < 2 or not (0 < text[0] < 0x80 and text[1]):  # maybe UTF-16/32 or a BOM
            return json.loads(text)
        text = text.decode("utf-8", "surrogatepass")  # what json.detect_encoding says of it
    if text.startswith("\ufeff"):
        return json.loads(text)  # json's own error
    idx = _skip(text, 0) if text[:1] in _WS_CHARS else 0
    try:
        value, end = _SCAN(text, idx)
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    if end != len(text):
        end = _skip(text, end)
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    return value


def check(data: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise what `loads` would if `data` is not JSON (or too deep), without keeping the document.

    For large documents checked in a worker thread: `json.loads` holds the GIL for the whole
    parse (a few hundred ms for 6 MB of small objects), stalling the event loop as if it ran
    there. Here the outer two levels are walked in Python and each value below them is parsed on
    its own and dropped, so other threads run in between and the garbage collector has little to
    chase. Error messages are json's, at the same positions."""
    try:
        text = data.decode(json.detect_encoding(data), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise JsonError(str(exc)) from None
    end = _check_value(text, _skip(text, 0), 0, max_depth)
    end = _skip(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)


def _skip(text: str, idx: int) -> int:
    """Past the JSON whitespace at `idx`."""
    found = _WS.match(text, idx)
    return found.end() if found is not None else idx


def _check_value(text: str, idx: int, depth: int, max_depth: int) -> int:
    """Check the value at `idx`, `depth` containers deep; where it ends."""
    opening = text[idx:idx + 1]
    if depth < _WALKED_LEVELS and opening in ("[", "{"):
        return _check_container(text, idx, depth, max_depth)
    try:
        value, end = _SCAN(text, idx)
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    except RecursionError:
        raise JsonError(f"JSON nested deeper than {max_depth} levels") from None
    if (type(value) is dict or type(value) is list) and \
            text.count("[", idx, end) + text.count("{", idx, end) > max_depth - depth and \
            _too_deep(value, max_depth - depth):
        raise JsonError(f"JSON nested deeper than {max_depth} levels")
    return end


def _check_container(text: str, idx: int, depth: int, max_depth: int) -> int:
    if depth + 1 > max_depth:
        raise JsonError(f"JSON nested deeper than {max_depth} levels")
    is_object = text[idx] == "{"
    closing = "}" if is_object else "]"
    idx = _skip(text, idx + 1)
    if text[idx:idx + 1] == closing:
        return idx + 1
    while True:
        if is_object:
            if text[idx:idx + 1] != '"':
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, idx)
            idx = _skip(text, _SCAN(text, idx)[1])  # the key: a string
            if text[idx:idx + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, idx)
            idx = _skip(text, idx + 1)
        idx = _skip(text, _check_value(text, idx, depth + 1, max_depth))
        following = text[idx:idx + 1]
        if following == closing:
            return idx + 1
        if following != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, idx)
        idx = _skip(text, idx + 1)


def _brackets(text: str | bytes | bytearray) -> int:
    """How many arrays and objects `text` could open: a cheap bound that spares most documents
    the walk below."""
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def _too_deep(value: Any, limit: int) -> bool:
    # Level by level, never recursing over a client's document (and 2x faster than a stack).
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            below.extend([v for v in (item.values() if type(item) is dict else item)
                          if type(v) is dict or type(v) is list])
        level = below
    return False
