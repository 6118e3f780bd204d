"""CloudWatch Logs filter patterns: parse once, match many messages. Pure functions.

The syntax (AWS's "Filter pattern syntax for metric filters, subscription filters, filter log
events, and Live Tail"):

- empty: every event matches.
- unstructured terms: `ERROR Exception` (every term appears, case-sensitive, as a substring:
  `ERROR` matches `ERRORCODE`), `"exact phrase"`, `?ERROR ?WARN` (any of them), `-term` or
  `-"phrase"` (must not appear), `%regex%` (a regular expression, searched).
- JSON: `{ $.eventType = "UpdateTrail" }`, `{ $.a.b[0] != value }`, numeric `<, >, <=, >=, =, !=`,
  `&&` and `||` with parentheses (`&&` binds tighter), `IS NULL`, `NOT EXISTS`, `IS TRUE`,
  `IS FALSE`. A string value may start and/or end with `*` (prefix/suffix/substring match; an `*`
  inside a value is literal, as AWS documents), or be a `%regex%`. A selector must reach a value
  node: an object or an array never matches `=` nor `!=`. A message that is not JSON never matches.
- space-delimited: `[ip, user, ..., status_code = 4*, bytes > 1000]`: the message is split on
  spaces, text inside `"..."` or `[...]` being one field; `...` stands for any number of fields;
  a field may carry conditions (`=`, `!=` with wildcards or regex; numeric comparisons) joined by
  `&&` / `||`, which may name other fields.

`compile_pattern` raises `PatternError` for a pattern that cannot be parsed; the service answers
that with InvalidParameterException "Invalid filter pattern".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from .pattern_fields import compile_delimited, split_fields
from .pattern_json import compile_json
from .pattern_syntax import Matcher, PatternError, compile_regex, read_quoted, read_regex

__all__ = ["FilterPattern", "PatternError", "compile_pattern", "matches", "split_fields"]


@dataclass(frozen=True)
class FilterPattern:
    """A parsed filter pattern, ready to match many messages."""

    source: str
    kind: str  # "all" | "terms" | "regex" | "json" | "delimited"
    _matcher: Matcher = field(repr=False, compare=False)

    def matches(self, message: str) -> bool:
        return self._matcher(message) is not None

    def extract(self, message: str) -> dict[str, str] | None:
        """None when the message does not match; otherwise the extracted values."""
        return self._matcher(message)


def matches(pattern: str | None, message: str) -> bool:
    return compile_pattern(pattern).matches(message)


@lru_cache(maxsize=512)
def compile_pattern(pattern: str | None) -> FilterPattern:
    text = (pattern or "").strip()
    if not text:
        return FilterPattern("", "all", lambda _m: {})
    if text[0] == "{":
        if text[-1] != "}":
            raise PatternError("unterminated JSON pattern")
        return FilterPattern(text, "json", compile_json(text[1:-1]))
    if text[0] == "[":
        if text[-1] != "]":
            raise PatternError("unterminated space-delimited pattern")
        return FilterPattern(text, "delimited", compile_delimited(text[1:-1]))
    kind = "regex" if len(text) >= 2 and text[0] == "%" and text[-1] == "%" and text.count("%") == 2 else "terms"
    return FilterPattern(text, kind, _compile_terms(text))


# -- unstructured terms ------------------------------------------------------------------------

@dataclass
class _Term:
    """An unstructured term: one that must appear, `?` one of several, or `-` one that must not."""

    mode: str  # "all" | "any" | "none"
    test: Callable[[str], bool]


def _compile_terms(text: str) -> Matcher:
    terms: list[_Term] = []
    i, n = 0, len(text)
    pending: str | None = None  # a '?' or '-' standing alone before the next term
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        mode = "all"
        if c in "?-" and pending is None:
            if i + 1 >= n or text[i + 1].isspace():
                pending = c  # `"ERROR" - "Exiting"`, as AWS's own examples write it
                i += 1
                continue
            mode = "any" if c == "?" else "none"
            i += 1
            c = text[i]
        elif pending is not None:
            mode = "any" if pending == "?" else "none"
        pending = None
        test: Callable[[str], bool]
        if c == '"':
            phrase, i = read_quoted(text, i)
            if not phrase:
                raise PatternError("empty quoted term")
            test = _contains(phrase)
        elif c == "%":
            body, i = read_regex(text, i)
            rx = compile_regex(body)
            test = _searches(rx)
        else:
            j = i
            while j < n and not text[j].isspace():
                j += 1
            word = text[i:j]
            if '"' in word:
                raise PatternError(f"invalid term {word!r}")
            i = j
            test = _contains(word)
        terms.append(_Term(mode, test))
    if pending is not None:
        raise PatternError("dangling operator")
    required = [t.test for t in terms if t.mode == "all"]
    optional = [t.test for t in terms if t.mode == "any"]
    excluded = [t.test for t in terms if t.mode == "none"]

    def match(message: str) -> dict[str, str] | None:
        if not all(t(message) for t in required):
            return None
        if optional and not any(t(message) for t in optional):
            return None
        if any(t(message) for t in excluded):
            return None
        return {}

    return match


def _contains(needle: str) -> Callable[[str], bool]:
    return lambda message: needle in message


def _searches(rx: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda message: rx.search(message) is not None
