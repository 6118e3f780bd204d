"""EventBridge event patterns: validate and compile once, match many events. Pure functions.

The semantics are those of AWS's Event Ruler, which EventBridge runs:

- A pattern is a JSON object. Nested objects descend into the event; every leaf is an array of
  match conditions, any of which may match (`{"source": ["a", "b"]}` is a OR).
- Paths are joined with ".", in the pattern and in the event alike, so `{"a.b": [1]}` and
  `{"a": {"b": [1]}}` are the same pattern, and both match `{"a": {"b": 1}}` and `{"a.b": 1}`.
- Only leaves (strings, numbers, booleans, null) are matched. An event array is a set of leaves at
  the same path: a condition matches when any element matches; an empty array is no leaf at all.
  When several fields of one pattern come from the same array of objects, they must come from the
  same element (Ruler's array consistency).
- Exact values compare by type: the string "5" is not the number 5; numbers compare numerically.
- `prefix`, `suffix` (optionally `{"equals-ignore-case": ...}` inside), `equals-ignore-case`,
  `wildcard` and `cidr` only ever match strings. `numeric` only matches numbers.
- `anything-but` (a value, a list of strings or of numbers, or `{prefix|suffix|equals-ignore-case|
  wildcard: value or list}`) matches any leaf that is present and not excluded, whatever its type
  (null included); a missing field never matches it.
- `exists: true` matches a present leaf (null included); `exists: false` matches when the path has
  no leaf.
- `$or: [pattern, pattern, ...]` (objects) makes alternatives; siblings apply to each alternative.

`compile_pattern` raises `PatternError` with AWS's reason ("Event pattern is not valid. Reason:
...") and, like AWS (whose parser is Jackson), the location in the source for structural errors:
`\\n at [Source: (String)"<pattern>"; line: 1, column: 11]`.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["EventPattern", "PatternError", "compile_pattern", "flatten_event", "matches"]

PREFIX = "Event pattern is not valid. Reason: "
_EXPECTING_VALUE = "was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_SOURCE_LIMIT = 500  # Jackson shows at most this many characters of the source


class PatternError(ValueError):
    """The event pattern is not valid; `message` is what AWS answers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- a pull parser that reports locations as Jackson does ---------------------------------------

@dataclass
class _Tok:
    kind: str  # "{" "}" "[" "]" "field" "string" "number" "true" "false" "null"
    start: int
    end: int
    value: Any = None


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z0-9_$.+\-]+")
_DECODER = json.JSONDecoder()


class _Parser:
    """Tokens of a JSON text, with the parser's position after each (1-based column = pos + 1).

    Jackson reads a string value lazily: until its text is asked for, the position is just past
    the opening quote. Errors about a value's type are reported there; errors about its content
    after the closing quote. The compiler below reads tokens in the order Event Ruler does.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.pos = 0
        self.stack: list[str] = []  # "{" or "["
        self.expect = "value"  # "value" | "field-or-end" | "field" | "value-or-end" | "sep"
        self.done = False

    # locations and errors

    def location(self, pos: int | None = None) -> str:
        p = self.pos if pos is None else pos
        line = self.text.count("\n", 0, p) + 1
        column = p - (self.text.rfind("\n", 0, p) + 1) + 1
        src = self.text
        if len(src) > _SOURCE_LIMIT:
            shown = f'"{src[:_SOURCE_LIMIT]}"[truncated {len(src) - _SOURCE_LIMIT} chars]'
        else:
            shown = f'"{src}"'
        return f"\n at [Source: (String){shown}; line: {line}, column: {column}]"

    def barf(self, reason: str, twice: bool = False) -> PatternError:
        where = self.location()
        return PatternError(PREFIX + reason + where + (where if twice else ""))

    def _syntax(self, message: str, pos: int) -> PatternError:
        return PatternError(PREFIX + message + self.location(pos))

    def text_of(self, tok: _Tok) -> Any:
        """The value of a token, moving past it (a string's closing quote)."""
        self.pos = tok.end
        return tok.value

    # tokens

    def _skip_ws(self) -> None:
        text, i = self.text, self.i
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        self.i = i

    def _unexpected(self, what: str) -> PatternError:
        i = self.i
        if i >= len(self.text):
            kind = "Object" if self.stack and self.stack[-1] == "{" else "Array"
            if not self.stack:
                return self._syntax("No content to map due to end-of-input", i)
            return self._syntax(f"Unexpected end-of-input: expected close marker for {kind.upper()}", i)
        c = self.text[i]
        if what == "value" and (c.isalpha() or c in "_$"):
            m = _WORD.match(self.text, i)
            word = m.group(0) if m else c
            return self._syntax(f"Unrecognized token '{word}': {_EXPECTING_VALUE}", i + len(word))
        expecting = {
            "value": "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
            "field": "was expecting double-quote to start field name",
            "colon": "was expecting a colon to separate field name and value",
            "sep{": "was expecting comma to separate Object entries",
            "sep[": "was expecting comma to separate Array entries",
        }[what]
        return self._syntax(f"Unexpected character ('{c}' (code {ord(c)})): {expecting}", i)

    def _string(self) -> tuple[str, int, int]:
        start = self.i
        try:
            value, end = json.decoder.scanstring(self.text, start + 1)  # type: ignore[attr-defined]
        except ValueError:
            raise self._syntax("Unexpected end-of-input: was expecting closing quote for a string value",
                               len(self.text)) from None
        self.i = end
        return value, start, end

    def _value(self) -> _Tok:
        self._skip_ws()
        text, i = self.text, self.i
        if i >= len(text):
            raise self._unexpected("value")
        c = text[i]
        if c in "{[":
            self.i = i + 1
            self.pos = i + 1
            self.stack.append(c)
            self.expect = "field-or-end" if c == "{" else "value-or-end"
            return _Tok(c, i, i + 1)
        if c == '"':
            value, start, end = self._string()
            self.pos = start + 1  # lazily read, as Jackson does
            self._after_value()
            return _Tok("string", start, end, value)
        m = _NUMBER.match(text, i)
        if m and (c == "-" or c.isdigit()):
            end = m.end()
            if end < len(text) and (text[end].isalnum() or text[end] in "._"):
                raise self._unexpected("value")
            literal = m.group(0)
            number: float | int = float(literal) if any(ch in literal for ch in ".eE") else int(literal)
            self.i = self.pos = end
            self._after_value()
            return _Tok("number", i, end, number)
        literals: tuple[tuple[str, Any], ...] = (("true", True), ("false", False), ("null", None))
        for word, literal_value in literals:
            if text.startswith(word, i) and not (i + len(word) < len(text) and text[i + len(word)].isalnum()):
                self.i = self.pos = i + len(word)
                self._after_value()
                return _Tok(word, i, i + len(word), literal_value)
        raise self._unexpected("value")

    def _after_value(self) -> None:
        if not self.stack:
            self.done = True
            self.expect = "end"
        else:
            self.expect = "sep"

    def next(self) -> _Tok:
        """The next token: values, brackets, and field names inside objects."""
        self._skip_ws()
        text = self.text
        if self.expect == "value":
            return self._value()
        if self.expect in ("field-or-end", "value-or-end") and self.i < len(text) and text[self.i] in "}]":
            return self._close()
        if self.expect == "value-or-end":
            return self._value()
        if self.expect == "sep":
            if self.i < len(text) and text[self.i] in "}]":
                return self._close()
            if self.i < len(text) and text[self.i] == ",":
                self.i += 1
                if self.stack[-1] == "[":
                    return self._value()
                self.expect = "field"
                return self.next()
            raise self._unexpected("sep" + self.stack[-1])
        if self.expect in ("field", "field-or-end"):
            if self.i >= len(text) or text[self.i] != '"':
                raise self._unexpected("field")
            name, start, end = self._string()
            self._skip_ws()
            if self.i >= len(text) or text[self.i] != ":":
                raise self._unexpected("colon")
            self.i += 1
            self.pos = end
            self.expect = "value"
            return _Tok("field", start, end, name)
        raise self._syntax("Unexpected content after the end of the pattern", self.i)

    def _close(self) -> _Tok:
        c = self.text[self.i]
        opener = self.stack.pop() if self.stack else ""
        if (opener, c) not in (("{", "}"), ("[", "]")):
            raise self._syntax(f"Unexpected close marker '{c}'", self.i + 1)
        self.i += 1
        self.pos = self.i
        self._after_value()
        return _Tok(c, self.i - 1, self.i)


# -- compiled conditions ---------------------------------------------------------------------

Test = Callable[[Any], bool]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _exact(expected: Any) -> Test:
    if expected is None or isinstance(expected, bool):
        return lambda v: v is expected
    if _is_number(expected):
        target = float(expected)
        return lambda v: _is_number(v) and float(v) == target
    return lambda v: isinstance(v, str) and v == expected


def _prefix(p: str, ignore_case: bool = False) -> Test:
    if ignore_case:
        low = p.lower()
        return lambda v: isinstance(v, str) and v.lower().startswith(low)
    return lambda v: isinstance(v, str) and v.startswith(p)


def _suffix(s: str, ignore_case: bool = False) -> Test:
    if ignore_case:
        low = s.lower()
        return lambda v: isinstance(v, str) and v.lower().endswith(low)
    return lambda v: isinstance(v, str) and v.endswith(s)


def _ignore_case(s: str) -> Test:
    low = s.lower()
    return lambda v: isinstance(v, str) and v.lower() == low


def _wildcard(pattern: str) -> Test:
    """`*` matches any run of characters; `\\*` is a literal star and `\\\\` a backslash."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else re.escape(c))
        i += 1
    rx = re.compile("".join(out), re.DOTALL)
    return lambda v: isinstance(v, str) and rx.fullmatch(v) is not None


_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric(terms: list[tuple[str, float]]) -> Test:
    def test(v: Any) -> bool:
        if not _is_number(v) or not math.isfinite(float(v)):
            return False
        x = float(v)
        return all(_NUMERIC_OPS[op](x, bound) for op, bound in terms)

    return test


def _cidr(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Test:
    def test(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        try:
            return ipaddress.ip_address(v) in network
        except ValueError:
            return False

    return test


@dataclass(frozen=True)
class Condition:
    """One match condition of a field: a test of a leaf, or a test of the field's existence."""

    test: Test | None  # None for `exists`
    exists: bool | None = None  # True/False for `{"exists": ...}`


@dataclass(frozen=True)
class FieldRule:
    path: str
    conditions: tuple[Condition, ...]

    @property
    def needs_leaf(self) -> bool:
        return any(c.exists is not False for c in self.conditions)

    @property
    def allows_absence(self) -> bool:
        return any(c.exists is False for c in self.conditions)

    def matches_leaf(self, value: Any) -> bool:
        for c in self.conditions:
            if c.exists is True:
                return True
            if c.test is not None and c.test(value):
                return True
        return False


# A leaf of a flattened event: its value and the array elements it came from.
Membership = tuple[tuple[int, int], ...]
Leaves = dict[str, list[tuple[Any, Membership]]]


def flatten_event(event: Any) -> Leaves:
    """Every leaf of the event by dotted path, with the (array id, index) pairs on its way."""
    leaves: Leaves = {}
    counter = [0]

    def walk(value: Any, path: str, member: Membership) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else str(k), member)
        elif isinstance(value, list):
            counter[0] += 1
            array_id = counter[0]
            for i, item in enumerate(value):
                walk(item, path, (*member, (array_id, i)))
        else:
            leaves.setdefault(path, []).append((value, member))

    walk(event, "", ())
    return leaves


def _consistent(assigned: dict[int, int], member: Membership) -> dict[int, int] | None:
    out = None
    for array_id, index in member:
        have = assigned.get(array_id)
        if have is None:
            if out is None:
                out = dict(assigned)
            out[array_id] = index
        elif have != index:
            return None
    return out if out is not None else assigned


@dataclass(frozen=True)
class EventPattern:
    source: str
    branches: tuple[tuple[FieldRule, ...], ...] = field(repr=False)

    def matches(self, event: Any, leaves: Leaves | None = None) -> bool:
        if not isinstance(event, dict):
            return False
        flat = leaves if leaves is not None else flatten_event(event)
        return any(self._branch_matches(rules, flat) for rules in self.branches)

    @staticmethod
    def _branch_matches(rules: tuple[FieldRule, ...], flat: Leaves) -> bool:
        candidates: list[tuple[FieldRule, list[Membership]]] = []
        for rule in rules:
            present = flat.get(rule.path, [])
            if not present:
                if rule.allows_absence:
                    continue
                return False
            hits = [member for value, member in present if rule.matches_leaf(value)]
            if not hits:
                return False
            candidates.append((rule, hits))
        # the fewest choices first; then look for one consistent choice per field
        candidates.sort(key=lambda c: len(c[1]))

        def search(i: int, assigned: dict[int, int]) -> bool:
            if i == len(candidates):
                return True
            for member in candidates[i][1]:
                nxt = _consistent(assigned, member)
                if nxt is not None and search(i + 1, nxt):
                    return True
            return False

        return search(0, {})


def matches(pattern: str, event: Any) -> bool:
    return compile_pattern(pattern).matches(event)


# -- the compiler (Event Ruler's order of reading, so errors land where AWS puts them) ---------

@lru_cache(maxsize=1024)
def compile_pattern(text: str) -> EventPattern:
    p = _Parser(text)
    tok = p.next()
    if tok.kind != "{":
        raise p.barf("Filter is not an object")
    branches = _object(p, "")
    return EventPattern(text, tuple(tuple(b) for b in branches))


def _object(p: _Parser, path: str) -> list[list[FieldRule]]:
    """Fields of an object (its "{" already read) as alternatives: each a list of field rules."""
    branches: list[list[FieldRule]] = [[]]
    seen = False
    while True:
        tok = p.next()
        if tok.kind == "}":
            break
        seen = True
        name = tok.value
        value = p.next()
        full = f"{path}.{name}" if path else name
        if name == "$or" and value.kind == "[":
            first = p.next()
            if first.kind == "{":
                alternatives = _or(p, path, first)
                branches = [b + alt for b in branches for alt in alternatives]
            else:  # an array of plain values: "$or" is then just a field name
                rule = _rules(p, full, first=first)
                branches = [[*b, rule] for b in branches]
            continue
        if value.kind == "{":
            sub = _object(p, full)
            branches = [b + s for b in branches for s in sub]
        elif value.kind == "[":
            rule = _rules(p, full)
            branches = [[*b, rule] for b in branches]
        else:
            raise p.barf(f'"{name}" must be an object or an array')
    if not seen:
        raise p.barf("Empty objects are not allowed")
    # a key given twice: the last one counts, as for any JSON object
    out = []
    for b in branches:
        last: dict[str, FieldRule] = {}
        for rule in b:
            last.pop(rule.path, None)
            last[rule.path] = rule
        out.append(list(last.values()))
    return out


def _or(p: _Parser, path: str, first: _Tok) -> list[list[FieldRule]]:
    """`"$or": [ {...}, {...} ]` (the first "{" already read): the alternatives."""
    alternatives: list[list[FieldRule]] = []
    tok = first
    count = 0
    while True:
        if tok.kind != "{":
            raise p.barf("$or array must contain only objects")  # unconfirmed wording
        alternatives.extend(_object(p, path))
        count += 1
        tok = p.next()
        if tok.kind == "]":
            break
    if count < 2:
        raise p.barf("$or must have at least two members")  # unconfirmed wording
    return alternatives


def _rules(p: _Parser, path: str, first: _Tok | None = None) -> FieldRule:
    """A leaf's array of conditions (its "[" already read)."""
    conditions: list[Condition] = []
    tok = first if first is not None else p.next()
    while tok.kind != "]":
        if tok.kind == "{":
            conditions.append(_match_expression(p))
        elif tok.kind in ("string", "number", "true", "false", "null"):
            conditions.append(Condition(_exact(p.text_of(tok))))
        else:
            raise p.barf("Match value must be String, number, true, false, or null")
        tok = p.next()
    if not conditions:
        raise p.barf("Empty arrays are not allowed")
    return FieldRule(path, tuple(conditions))


def _match_expression(p: _Parser) -> Condition:
    """`{"<match type>": value}` (its "{" already read)."""
    name_tok = p.next()
    if name_tok.kind != "field":
        raise p.barf("Match expression name not found")
    kind = name_tok.value
    value = p.next()
    condition: Condition
    if kind in ("prefix", "suffix"):
        if value.kind == "{":
            inner = _ignore_case_object(p, kind)
            condition = Condition(_prefix(inner, True) if kind == "prefix" else _suffix(inner, True))
        elif value.kind != "string":
            raise p.barf(f"{kind} match pattern must be a string")
        else:
            s = p.text_of(value)
            condition = Condition(_prefix(s) if kind == "prefix" else _suffix(s))
    elif kind == "equals-ignore-case":
        if value.kind != "string":
            raise p.barf("equals-ignore-case match pattern must be a string")
        condition = Condition(_ignore_case(p.text_of(value)))
    elif kind == "wildcard":
        if value.kind != "string":
            raise p.barf("wildcard match pattern must be a string")
        condition = Condition(_wildcard(_check_wildcard(p, p.text_of(value))))
    elif kind == "numeric":
        if value.kind != "[":
            raise p.barf("Value of numeric must be an array.")
        condition = Condition(_numeric(_numeric_terms(p)))
    elif kind == "exists":
        if value.kind not in ("true", "false"):
            raise p.barf("exists match pattern must be either true or false.")
        condition = Condition(None, exists=bool(p.text_of(value)))
    elif kind == "cidr":
        if value.kind != "string":
            raise p.barf("prefix match pattern must be a string")  # sic: AWS's message for cidr
        condition = Condition(_cidr(_network(p.text_of(value))))
    elif kind == "anything-but":
        condition = _anything_but(p, value)
    else:
        raise p.barf(f"Unrecognized match type {kind}")
    if p.next().kind != "}":
        raise p.barf("Only one key allowed in match expression")
    return condition


def _ignore_case_object(p: _Parser, outer: str) -> str:
    """`{"equals-ignore-case": "..."}` inside prefix/suffix (its "{" already read)."""
    tok = p.next()
    if tok.kind != "field" or tok.value != "equals-ignore-case":
        raise p.barf(f"Unsupported {outer} pattern: {tok.value if tok.kind == 'field' else tok.kind}")
    value = p.next()
    if value.kind != "string":
        raise p.barf("equals-ignore-case match pattern must be a string")
    s = p.text_of(value)
    if p.next().kind != "}":
        raise p.barf("Only one key allowed in match expression")
    return s


def _check_wildcard(p: _Parser, pattern: str) -> str:
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            if pattern[i + 1] not in "*\\":
                raise p.barf(f"Invalid escape character at pos {i + 1}")
            i += 2
            continue
        if pattern[i] == "*" and i + 1 < len(pattern) and pattern[i + 1] == "*":
            raise p.barf(f"Consecutive wildcard characters at pos {i + 1}")
        i += 1
    return pattern


def _numeric_terms(p: _Parser) -> list[tuple[str, float]]:
    """`[op, n]` or `[">"|">=", low, "<"|"<=", high]` (the "[" already read)."""
    tok = p.next()
    if tok.kind != "string":
        raise p.barf(f"Invalid member in numeric match: {_jackson_text(p, tok)}")
    op = p.text_of(tok)
    if op not in _NUMERIC_OPS:
        raise p.barf(f"Unrecognized numeric range operator: {op}")
    num = p.next()
    if num.kind != "number":
        raise p.barf(f"Value of {'equals' if op == '=' else op} must be numeric")
    terms = [(op, float(p.text_of(num)))]
    tok = p.next()
    if tok.kind == "]":
        return terms
    if op not in (">", ">="):
        raise p.barf("Too many elements in numeric expression")
    if tok.kind != "string":
        raise p.barf(f"Bad value in numeric range: {_jackson_text(p, tok)}")
    op2 = p.text_of(tok)
    if op2 not in ("<", "<="):
        raise p.barf(f"Bad numeric range operator: {op2}")
    num = p.next()
    if num.kind != "number":
        raise p.barf(f"Value of {op2} must be numeric")
    high = float(p.text_of(num))
    if high <= terms[0][1]:
        raise p.barf("Bottom must be less than top")
    terms.append((op2, high))
    if p.next().kind != "]":
        raise p.barf("Too many terms in numeric range expression")
    return terms


def _jackson_text(p: _Parser, tok: _Tok) -> str:
    if tok.kind in "{}[]":
        return tok.kind
    p.text_of(tok)
    if tok.kind in ("true", "false", "null", "number"):
        return p.text[tok.start:tok.end]
    return str(tok.value)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    # Raised without a location, as AWS does for these.
    parts = text.split("/")
    if len(parts) != 2:
        raise PatternError(PREFIX + "Malformed CIDR, one '/' required")
    ip, bits = parts
    try:
        mask = int(bits)
    except ValueError:
        raise PatternError(PREFIX + "Malformed CIDR, mask bits must be an integer") from None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise PatternError(PREFIX + f"Nonstandard IP address: {ip}") from None
    if not 0 <= mask <= address.max_prefixlen:
        raise PatternError(PREFIX + f"Malformed CIDR, mask bits must be between 0 and {address.max_prefixlen}")
    return ipaddress.ip_network(f"{ip}/{mask}", strict=False)


def _anything_but(p: _Parser, value: _Tok) -> Condition:
    if value.kind in ("string", "number"):
        excluded = _exact(p.text_of(value))
        return Condition(lambda v: not excluded(v))
    if value.kind == "[":
        tests: list[Test] = []
        tok = p.next()
        while tok.kind != "]":
            if tok.kind not in ("string", "number"):
                raise p.barf("Inside anything but list, start|null|boolean is not supported.")
            tests.append(_exact(p.text_of(tok)))
            tok = p.next()
        if not tests:
            raise p.barf("Empty arrays are not allowed")
        return Condition(lambda v: not any(t(v) for t in tests))
    if value.kind != "{":
        raise p.barf("Value of anything-but must be an array or single string/number value.")
    name = p.next()
    if name.kind != "field":
        raise p.barf("Match expression name not found")
    kind = name.value
    if kind not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
        raise p.barf(f"Unsupported anything-but pattern: {kind}")
    makers: dict[str, Callable[[str], Test]] = {
        "prefix": _prefix, "suffix": _suffix, "equals-ignore-case": _ignore_case, "wildcard": _wildcard,
    }
    make = makers[kind]
    reason = {
        "prefix": "prefix/suffix match pattern must be a string",
        "suffix": "prefix/suffix match pattern must be a string",
        "equals-ignore-case": "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
        "wildcard": "wildcard match pattern must be a string",
    }[kind]
    inner = p.next()
    values: list[str] = []
    if inner.kind == "[":
        for tok in _until_close(p):
            if tok.kind != "string":
                raise p.barf(reason, twice=True)
            values.append(_checked_inner(p, kind, p.text_of(tok), twice=True))
        if not values:
            raise p.barf("Empty arrays are not allowed")
    elif inner.kind == "string":
        values.append(_checked_inner(p, kind, p.text_of(inner)))
    elif inner.kind == "{" and kind in ("prefix", "suffix"):
        raise p.barf("Value of anything-but must be an array or single string/number value.")
    else:
        raise p.barf(reason)
    if p.next().kind != "}":
        raise p.barf("Only one key allowed in match expression")
    tests = [make(v) for v in values]
    return Condition(lambda v: not any(t(v) for t in tests))


def _checked_inner(p: _Parser, kind: str, s: str, twice: bool = False) -> str:
    if kind in ("prefix", "suffix") and s == "":
        raise p.barf("Null prefix/suffix not allowed", twice=twice)
    if kind == "wildcard":
        _check_wildcard(p, s)
    return s


def _until_close(p: _Parser) -> Iterator[_Tok]:
    while True:
        tok = p.next()
        if tok.kind == "]":
            return
        yield tok
