"""JSON from clients, with a bound on nesting: wire bodies and the documents inside members.

`json.loads` recurses once per level, so a body nested 100,000 levels deep raised RecursionError
(a 500), and one nested 900 levels parsed, was stored, and could overflow whatever walked it later
(validation, pattern matching, json.dumps in the engine). AWS documents no nesting limit for most
of these documents (Sluice's bound is its own): anything deeper than MAX_DEPTH is refused as not
JSON, so every caller answers with the error it already gives for malformed JSON, and nothing
stored can overflow code that reads it later.
"""

from __future__ import annotations

import json
from typing import Any

# Far more than any AWS request shape or policy needs; far enough below Python's recursion limit
# (1000 frames) that code walking a parsed document a few frames per level cannot reach it.
MAX_DEPTH = 256


class JsonError(ValueError):
    """Not JSON, or nested deeper than MAX_DEPTH (a ValueError, as json.JSONDecodeError is)."""


def loads(text: str | bytes | bytearray, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing documents nested deeper than `max_depth` arrays/objects."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonError(f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:  # bytes that are not UTF-8/16/32: also "not JSON"
        raise JsonError(str(exc)) from None
    if _brackets(text) > max_depth and _too_deep(value, max_depth):
        raise JsonError(f"JSON nested deeper than {max_depth} levels")
    return value


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
