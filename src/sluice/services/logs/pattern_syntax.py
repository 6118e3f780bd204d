"""The grammar filter patterns share: quoted strings, `%regex%` bodies, the tokens and values of
conditions, their comparisons, and `&&` / `||` expressions with parentheses (patterns.py has the
syntax itself; pattern_json.py and pattern_fields.py compile conditions with these parts)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class PatternError(ValueError):
    """The filter pattern cannot be parsed."""


# What a compiled pattern does with a message: None if it does not match, else the values it
# extracted (space-delimited fields, for TestMetricFilter; empty for the other kinds).
Matcher = Callable[[str], "dict[str, str] | None"]


def compile_regex(body: str) -> re.Pattern[str]:
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


def read_quoted(text: str, i: int) -> tuple[str, int]:
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


def read_regex(text: str, i: int) -> tuple[str, int]:
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


# -- expression tokens (JSON and space-delimited conditions) -----------------------------------

_OPS = ("!=", "<=", ">=", "=", "<", ">")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SELECTOR_CHARS = re.compile(r"[A-Za-z0-9_\-.\[\]@:$]")


@dataclass
class Tok:
    """A token of a JSON or space-delimited condition."""

    kind: str  # "(" ")" "&&" "||" "op" "str" "regex" "sel" "word"
    text: str


def tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        two = text[i:i + 2]
        if two in ("&&", "||"):
            toks.append(Tok(two, two))
            i += 2
            continue
        if c in "()":
            toks.append(Tok(c, c))
            i += 1
            continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op:
            toks.append(Tok("op", op))
            i += len(op)
            continue
        if c == '"':
            s, i = read_quoted(text, i)
            toks.append(Tok("str", s))
            continue
        if c == "%":
            body, i = read_regex(text, i)
            toks.append(Tok("regex", body))
            continue
        if c == "$" and i + 1 < n and text[i + 1] in ".[":
            j = i + 1
            while j < n and _SELECTOR_CHARS.match(text[j]):
                j += 1
            toks.append(Tok("sel", text[i:j]))
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
        toks.append(Tok("word", text[i:j]))
        i = j
    return toks


@dataclass(frozen=True)
class Value:
    """A parsed value on the right of an operator."""

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


def parse_value(tok: Tok | None) -> Value:
    if tok is None:
        raise PatternError("missing value")
    if tok.kind == "str":
        return Value(tok.text, None, quoted=True)
    if tok.kind == "regex":
        return Value(tok.text, None, regex=compile_regex(tok.text))
    if tok.kind == "word":
        number = float(tok.text) if _NUMBER.fullmatch(tok.text) else None
        return Value(tok.text, number)
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


def comparison(op: str, value: Value) -> Callable[[Any], bool]:
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


class Parser:
    def __init__(self, toks: list[Tok], operand: Callable[[Parser], Expr]) -> None:
        self.toks = toks
        self.pos = 0
        self.operand = operand

    def peek(self) -> Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> Tok | None:
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


def keyword(tok: Tok | None, *words: str) -> str | None:
    if tok is not None and tok.kind == "word" and tok.text.upper() in words:
        return tok.text.upper()
    return None

