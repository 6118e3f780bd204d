"""The pattern compiler: a pattern's text to an `EventPattern`, or AWS's `PatternError`.

It reads the pattern in Event Ruler's order (through jackson.Parser), so that an invalid pattern
gets the reason and the location AWS answers with.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from functools import lru_cache

from .jackson import PREFIX, Parser, PatternError, Token
from .matching import (
    NUMERIC_OPS,
    Condition,
    EventPattern,
    FieldRule,
    Test,
    cidr,
    exact,
    ignore_case,
    numeric,
    prefix,
    suffix,
    wildcard,
)

# -- the compiler (Event Ruler's order of reading, so errors land where AWS puts them) ---------

@lru_cache(maxsize=1024)
def compile_pattern(text: str) -> EventPattern:
    p = Parser(text)
    tok = p.next()
    if tok.kind != "{":
        raise p.barf("Filter is not an object")
    branches = _object(p, "")
    return EventPattern(text, tuple(tuple(b) for b in branches))


def _object(p: Parser, path: str) -> list[list[FieldRule]]:
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


def _or(p: Parser, path: str, first: Token) -> list[list[FieldRule]]:
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


def _rules(p: Parser, path: str, first: Token | None = None) -> FieldRule:
    """A leaf's array of conditions (its "[" already read)."""
    conditions: list[Condition] = []
    tok = first if first is not None else p.next()
    while tok.kind != "]":
        if tok.kind == "{":
            conditions.append(_match_expression(p))
        elif tok.kind in ("string", "number", "true", "false", "null"):
            conditions.append(Condition(exact(p.text_of(tok))))
        else:
            raise p.barf("Match value must be String, number, true, false, or null")
        tok = p.next()
    if not conditions:
        raise p.barf("Empty arrays are not allowed")
    return FieldRule(path, tuple(conditions))


def _match_expression(p: Parser) -> Condition:
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
            condition = Condition(prefix(inner, True) if kind == "prefix" else suffix(inner, True))
        elif value.kind != "string":
            raise p.barf(f"{kind} match pattern must be a string")
        else:
            s = p.text_of(value)
            condition = Condition(prefix(s) if kind == "prefix" else suffix(s))
    elif kind == "equals-ignore-case":
        if value.kind != "string":
            raise p.barf("equals-ignore-case match pattern must be a string")
        condition = Condition(ignore_case(p.text_of(value)))
    elif kind == "wildcard":
        if value.kind != "string":
            raise p.barf("wildcard match pattern must be a string")
        condition = Condition(wildcard(_check_wildcard(p, p.text_of(value))))
    elif kind == "numeric":
        if value.kind != "[":
            raise p.barf("Value of numeric must be an array.")
        condition = Condition(numeric(_numeric_terms(p)))
    elif kind == "exists":
        if value.kind not in ("true", "false"):
            raise p.barf("exists match pattern must be either true or false.")
        condition = Condition(None, exists=bool(p.text_of(value)))
    elif kind == "cidr":
        if value.kind != "string":
            raise p.barf("prefix match pattern must be a string")  # sic: AWS's message for cidr
        condition = Condition(cidr(_network(p.text_of(value))))
    elif kind == "anything-but":
        condition = _anything_but(p, value)
    else:
        raise p.barf(f"Unrecognized match type {kind}")
    if p.next().kind != "}":
        raise p.barf("Only one key allowed in match expression")
    return condition


def _ignore_case_object(p: Parser, outer: str) -> str:
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


def _check_wildcard(p: Parser, pattern: str) -> str:
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


def _numeric_terms(p: Parser) -> list[tuple[str, float]]:
    """`[op, n]` or `[">"|">=", low, "<"|"<=", high]` (the "[" already read)."""
    tok = p.next()
    if tok.kind != "string":
        raise p.barf(f"Invalid member in numeric match: {_jackson_text(p, tok)}")
    op = p.text_of(tok)
    if op not in NUMERIC_OPS:
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


def _jackson_text(p: Parser, tok: Token) -> str:
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


def _anything_but(p: Parser, value: Token) -> Condition:
    if value.kind in ("string", "number"):
        excluded = exact(p.text_of(value))
        return Condition(lambda v: not excluded(v))
    if value.kind == "[":
        tests: list[Test] = []
        tok = p.next()
        while tok.kind != "]":
            if tok.kind not in ("string", "number"):
                raise p.barf("Inside anything but list, start|null|boolean is not supported.")
            tests.append(exact(p.text_of(tok)))
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
        "prefix": prefix, "suffix": suffix, "equals-ignore-case": ignore_case, "wildcard": wildcard,
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


def _checked_inner(p: Parser, kind: str, s: str, twice: bool = False) -> str:
    if kind in ("prefix", "suffix") and s == "":
        raise p.barf("Null prefix/suffix not allowed", twice=twice)
    if kind == "wildcard":
        _check_wildcard(p, s)
    return s


def _until_close(p: Parser) -> Iterator[Token]:
    while True:
        tok = p.next()
        if tok.kind == "]":
            return
        yield tok


def matches(pattern: str, event: object) -> bool:
    """Whether the event pattern `pattern` (text) matches `event`."""
    return compile_pattern(pattern).matches(event)
