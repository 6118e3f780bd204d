"""JSON filter patterns: `{ $.a.b[0] = "x" && ($.n > 3 || $.c IS NULL) }` against a JSON message."""

from __future__ import annotations

import re
from typing import Any

from ...protocol import safejson
from .pattern_syntax import (
    Expr,
    Matcher,
    Parser,
    PatternError,
    comparison,
    keyword,
    parse_value,
    tokenize,
)

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


def _json_operand(p: Parser) -> Expr:
    sel = p.take()
    if sel is None or sel.kind != "sel":
        raise PatternError("a JSON condition starts with a $ selector")
    steps = _parse_selector(sel.text)
    tok = p.take()
    if tok is None:
        raise PatternError("missing operator")
    if tok.kind == "op":
        test = comparison(tok.text, parse_value(p.take()))

        def compare(doc: Any) -> bool:
            v = _resolve(doc, steps)
            if v is _MISSING or isinstance(v, (dict, list)):
                return False
            return test(v)

        return compare
    word = keyword(tok, "IS", "NOT")
    if word == "IS":
        what = keyword(p.take(), "NULL", "TRUE", "FALSE")
        if what == "NULL":
            return lambda doc: _resolve(doc, steps) is None
        if what == "TRUE":
            return lambda doc: _resolve(doc, steps) is True
        if what == "FALSE":
            return lambda doc: _resolve(doc, steps) is False
        raise PatternError("IS must be followed by NULL, TRUE or FALSE")
    if word == "NOT":
        if keyword(p.take(), "EXISTS") is None:
            raise PatternError("NOT must be followed by EXISTS")
        return lambda doc: _resolve(doc, steps) is _MISSING
    raise PatternError(f"unexpected {tok.text!r} after a selector")


def compile_json(body: str) -> Matcher:
    toks = tokenize(body)
    if not toks:
        raise PatternError("empty JSON pattern")
    expr = Parser(toks, _json_operand).parse()

    def match(message: str) -> dict[str, str] | None:
        try:
            doc = safejson.loads(message)
        except ValueError:
            return None
        if not isinstance(doc, (dict, list)):
            return None
        return {} if expr(doc) else None

    return match
