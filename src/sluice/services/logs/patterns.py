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

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ...protocol import safejson

__all__ = ["FilterPattern", "PatternError", "compile_pattern", "matches", "split_fields"]


class PatternError(ValueError):
    """The filter pattern cannot be parsed."""


# What a compiled pattern does with a message: None if it does not match, else the values it
# extracted (space-delimited fields, for TestMetricFilter; empty for the other kinds).
Matcher = Callable[[str], "dict[str, str] | None"]


@dataclass(frozen=True)
class FilterPattern:
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
        return FilterPattern(text, "json", _compile_json(text[1:-1]))
    if text[0] == "[":
        if text[-1] != "]":
            raise PatternError("unterminated space-delimited pattern")
        return FilterPattern(text, "delimited", _compile_delimited(text[1:-1]))
    kind = "regex" if len(text) >= 2 and text[0] == "%" and text[-1] == "%" and text.count("%") == 2 else "terms"
    return FilterPattern(text, kind, _compile_terms(text))


# -- regular expressions -----------------------------------------------------------------------

def _compile_regex(body: str) -> re.Pattern[str]:
    """AWS's regex subset: no groups (parentheses are refused), at most the documented operators."""
    if not body:
        raise PatternError("empty regular expression")
    unescaped = re.sub(r"\\.", "", body)
    if "(" in unescaped or ")" in unescaped:
        raise PatternError("parentheses are not supported in filter pattern regular expressions")
    try:
        return re.compile(body)
    except re.error as exc:
        raise PatternError(f"invalid regular expression: {exc}") from None


# -- unstructured terms ------------------------------------------------------------------------

@dataclass
class _Term:
    mode: str  # "all" | "any" | "none"
    test: Callable[[str], bool]


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """text[i] is '"'; return the unescaped content and the index after the closing quote."""
    out = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            out.append(text[j + 1])
            j += 2
            continue
        if c == '"':
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise PatternError("unterminated quoted string")


def _read_regex(text: str, i: int) -> tuple[str, int]:
    """text[i] is '%'; return the regex body and the index after the closing '%'."""
    j = i + 1
    while j < len(text):
        if text[j] == "\\" and j + 1 < len(text):
            j += 2
            continue
        if text[j] == "%":
            return text[i + 1:j], j + 1
        j += 1
    raise PatternError("unterminated regular expression")


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
            phrase, i = _read_quoted(text, i)
            if not phrase:
                raise PatternError("empty quoted term")
            test = _contains(phrase)
        elif c == "%":
            body, i = _read_regex(text, i)
            rx = _compile_regex(body)
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


# -- expression tokens (JSON and space-delimited conditions) -----------------------------------

_OPS = ("!=", "<=", ">=", "=", "<", ">")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SELECTOR_CHARS = re.compile(r"[A-Za-z0-9_\-.\[\]@:$]")


@dataclass
class _Tok:
    kind: str  # "(" ")" "&&" "||" "op" "str" "regex" "sel" "word"
    text: str


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        two = text[i:i + 2]
        if two in ("&&", "||"):
            toks.append(_Tok(two, two))
            i += 2
            continue
        if c in "()":
            toks.append(_Tok(c, c))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op:
            toks.append(_Tok("op", op))
            i += len(op)
            continue
        if c == '"':
            s, i = _read_quoted(text, i)
            toks.append(_Tok("str", s))
            continue
        if c == "%":
            body, i = _read_regex(text, i)
            toks.append(_Tok("regex", body))
            continue
        if c == "$" and i + 1 < n and text[i + 1] in ".[":
            j = i + 1
            while j < n and _SELECTOR_CHARS.match(text[j]):
                j += 1
            toks.append(_Tok("sel", text[i:j]))
            i = j
            continue
        j = i
        while j < n:
            ch = text[j]
            if ch.isspace() or ch in '()"' or text[j:j + 2] in ("&&", "||", "!="):
                break
            if ch in "=<>":
                break
            j += 1
        if j == i:
            raise PatternError(f"unexpected character {c!r}")
        toks.append(_Tok("word", text[i:j]))
        i = j
    return toks


# A parsed value on the right of an operator.
@dataclass(frozen=True)
class _Value:
    text: str
    number: float | None  # set for an unquoted numeric literal
    regex: re.Pattern[str] | None = None
    quoted: bool = False

    def string_test(self) -> Callable[[str], bool]:
        if self.regex is not None:
            rx = self.regex
            return lambda s: rx.search(s) is not None
        return _wildcard(self.text)


def _wildcard(value: str) -> Callable[[str], bool]:
    """`*` at the start and/or end is a wildcard; `*` alone matches anything."""
    if value == "*" or (len(value) >= 2 and set(value) == {"*"}):
        return lambda s: True
    lead = value.startswith("*")
    trail = value.endswith("*")
    core = value[1 if lead else 0:len(value) - 1 if trail else len(value)]
    if lead and trail:
        return lambda s: core in s
    if lead:
        return lambda s: s.endswith(core)
    if trail:
        return lambda s: s.startswith(core)
    return lambda s: s == core


def _parse_value(tok: _Tok | None) -> _Value:
    if tok is None:
        raise PatternError("missing value")
    if tok.kind == "str":
        return _Value(tok.text, None, quoted=True)
    if tok.kind == "regex":
        return _Value(tok.text, None, regex=_compile_regex(tok.text))
    if tok.kind == "word":
        number = float(tok.text) if _NUMBER.fullmatch(tok.text) else None
        return _Value(tok.text, number)
    raise PatternError(f"unexpected {tok.text!r} where a value was expected")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        try:
            f = float(value)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _comparison(op: str, value: _Value) -> Callable[[Any], bool]:
    """A test on a resolved scalar (str, number, bool or None)."""
    if op in ("<", ">", "<=", ">="):
        if value.number is None:
            raise PatternError(f"{op} needs a number")
        target = value.number
        cmp = _NUMERIC_OPS[op]

        def numeric(v: Any) -> bool:
            n = _as_number(v)
            return n is not None and cmp(n, target)

        return numeric
    negate = op == "!="
    if value.number is not None:
        target_n = value.number
        literal = value.text

        def equal_number(v: Any) -> bool:
            if v is None:
                return False
            n = _as_number(v)
            same = n == target_n if n is not None else _as_text(v) == literal
            return same != negate

        return equal_number
    test = value.string_test()

    def equal_string(v: Any) -> bool:
        if v is None:
            return False
        return test(_as_text(v)) != negate

    return equal_string


# -- boolean expressions -----------------------------------------------------------------------

# An expression node evaluates against an environment (a JSON document or the field bindings).
Expr = Callable[[Any], bool]


class _Parser:
    def __init__(self, toks: list[_Tok], operand: Callable[[_Parser], Expr]) -> None:
        self.toks = toks
        self.pos = 0
        self.operand = operand

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> _Tok | None:
        tok = self.peek()
        if tok is not None:
            self.pos += 1
        return tok

    def parse(self) -> Expr:
        expr = self.parse_or()
        if self.peek() is not None:
            raise PatternError(f"unexpected {self.peek().text!r}")  # type: ignore[union-attr]
        return expr

    def parse_or(self) -> Expr:
        parts = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.kind == "||":
            self.take()
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda env: any(p(env) for p in parts)

    def parse_and(self) -> Expr:
        parts = [self.parse_primary()]
        while (tok := self.peek()) is not None and tok.kind == "&&":
            self.take()
            parts.append(self.parse_primary())
        if len(parts) == 1:
            return parts[0]
        return lambda env: all(p(env) for p in parts)

    def parse_primary(self) -> Expr:
        tok = self.peek()
        if tok is None:
            raise PatternError("unexpected end of pattern")
        if tok.kind == "(":
            self.take()
            inner = self.parse_or()
            closing = self.take()
            if closing is None or closing.kind != ")":
                raise PatternError("unbalanced parentheses")
            return inner
        return self.operand(self)


def _keyword(tok: _Tok | None, *words: str) -> str | None:
    if tok is not None and tok.kind == "word" and tok.text.upper() in words:
        return tok.text.upper()
    return None


# -- JSON patterns -----------------------------------------------------------------------------

_MISSING = object()
_PATH_PART = re.compile(r"\.([A-Za-z0-9_\-@:$]+)|\[(\d+)\]")

Step = str | int


def _parse_selector(text: str) -> list[Step]:
    if not text.startswith("$"):
        raise PatternError(f"invalid selector {text!r}")
    steps: list[Step] = []
    i = 1
    while i < len(text):
        m = _PATH_PART.match(text, i)
        if not m:
            raise PatternError(f"invalid selector {text!r}")
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        i = m.end()
    if not steps:
        raise PatternError("a selector needs at least one property")
    return steps


def _resolve(doc: Any, steps: list[Step]) -> Any:
    node = doc
    for step in steps:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
    return node


def _json_operand(p: _Parser) -> Expr:
    sel = p.take()
    if sel is None or sel.kind != "sel":
        raise PatternError("a JSON condition starts with a $ selector")
    steps = _parse_selector(sel.text)
    tok = p.take()
    if tok is None:
        raise PatternError("missing operator")
    if tok.kind == "op":
        test = _comparison(tok.text, _parse_value(p.take()))

        def compare(doc: Any) -> bool:
            v = _resolve(doc, steps)
            if v is _MISSING or isinstance(v, (dict, list)):
                return False
            return test(v)

        return compare
    word = _keyword(tok, "IS", "NOT")
    if word == "IS":
        what = _keyword(p.take(), "NULL", "TRUE", "FALSE")
        if what == "NULL":
            return lambda doc: _resolve(doc, steps) is None
        if what == "TRUE":
            return lambda doc: _resolve(doc, steps) is True
        if what == "FALSE":
            return lambda doc: _resolve(doc, steps) is False
        raise PatternError("IS must be followed by NULL, TRUE or FALSE")
    if word == "NOT":
        if _keyword(p.take(), "EXISTS") is None:
            raise PatternError("NOT must be followed by EXISTS")
        return lambda doc: _resolve(doc, steps) is _MISSING
    raise PatternError(f"unexpected {tok.text!r} after a selector")


def _compile_json(body: str) -> Matcher:
    toks = _tokenize(body)
    if not toks:
        raise PatternError("empty JSON pattern")
    expr = _Parser(toks, _json_operand).parse()

    def match(message: str) -> dict[str, str] | None:
        try:
            doc = safejson.loads(message)
        except ValueError:
            return None
        if not isinstance(doc, (dict, list)):
            return None
        return {} if expr(doc) else None

    return match


# -- space-delimited patterns ------------------------------------------------------------------

_FIELD_NAME = re.compile(r"[A-Za-z0-9_$]+")


def split_fields(message: str) -> list[str]:
    """A message's space-delimited fields: `"..."` and `[...]` are one field each, unwrapped."""
    fields: list[str] = []
    i, n = 0, len(message)
    while i < n:
        c = message[i]
        if c.isspace():
            i += 1
            continue
        if c in '"[':
            close = '"' if c == '"' else "]"
            j = message.find(close, i + 1)
            if j < 0:
                j = n
            fields.append(message[i + 1:j])
            i = j + 1
            continue
        j = i
        while j < n and not message[j].isspace():
            j += 1
        fields.append(message[i:j])
        i = j
    return fields


@dataclass
class _Slot:
    ellipsis: bool
    name: str = ""  # "" for an unnamed field (an empty entry between commas)
    condition: Expr | None = None


def _split_top(body: str) -> list[str]:
    """Split on commas outside quotes and regexes."""
    parts, cur = [], []
    i = 0
    while i < len(body):
        c = body[i]
        if c == '"':
            _, j = _read_quoted(body, i)
            cur.append(body[i:j])
            i = j
            continue
        if c == "%":
            _, j = _read_regex(body, i)
            cur.append(body[i:j])
            i = j
            continue
        if c == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _delimited_operand(p: _Parser) -> Expr:
    name_tok = p.take()
    if name_tok is None or name_tok.kind != "word" or not _FIELD_NAME.fullmatch(name_tok.text):
        raise PatternError("a condition starts with a field name")
    op = p.take()
    if op is None or op.kind != "op":
        raise PatternError("missing operator")
    test = _comparison(op.text, _parse_value(p.take()))
    name = name_tok.text
    return lambda env: name in env and test(env[name])


def _compile_delimited(body: str) -> Matcher:
    if not body.strip():
        raise PatternError("empty space-delimited pattern")
    slots: list[_Slot] = []
    for part in (s.strip() for s in _split_top(body)):
        if part in ("...", "\u2026"):
            slots.append(_Slot(True))
            continue
        if not part:
            # An empty entry is a field without a name: AWS's own example `[..., status_code=4*,]`
            # extracts the last field as `$7`.
            slots.append(_Slot(False))
            continue
        toks = _tokenize(part)
        if toks[0].kind != "word" or not _FIELD_NAME.fullmatch(toks[0].text):
            raise PatternError(f"invalid field {part!r}")
        cond = None if len(toks) == 1 else _Parser(toks, _delimited_operand).parse()
        slots.append(_Slot(False, toks[0].text, cond))

    def bind(fields: list[str]) -> dict[str, str] | None:
        env: dict[str, str] = {}

        def walk(si: int, fi: int) -> bool:
            if si == len(slots):
                return fi == len(fields) and all(s.condition is None or s.condition(env) for s in slots)
            slot = slots[si]
            if slot.ellipsis:
                return any(walk(si + 1, k) for k in range(fi, len(fields) + 1))
            if fi >= len(fields):
                return False
            if slot.name:
                env[slot.name] = fields[fi]
                positions[fi] = slot.name
            if walk(si + 1, fi + 1):
                return True
            if slot.name:
                env.pop(slot.name, None)
                positions.pop(fi, None)
            return False

        positions: dict[int, str] = {}
        if not walk(0, 0):
            return None
        extracted: dict[str, str] = {}
        for pos, value in enumerate(fields):
            name = positions.get(pos)
            extracted[f"${name}" if name and not name.isdigit() else f"${pos + 1}"] = value
        return extracted

    def match(message: str) -> dict[str, str] | None:
        return bind(split_fields(message))

    return match
