"""Space-delimited filter patterns: `[ip, user, ..., status_code = 4*, bytes > 1000]` binds a
message's fields to names, then tests the conditions on them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .pattern_syntax import (
    Expr,
    Matcher,
    Parser,
    PatternError,
    comparison,
    parse_value,
    read_quoted,
    read_regex,
    tokenize,
)

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
    """One entry of a space-delimited pattern: `...` (any number of fields), or one field."""

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
            _, j = read_quoted(body, i)
            cur.append(body[i:j])
            i = j
            continue
        if c == "%":
            _, j = read_regex(body, i)
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


def _delimited_operand(p: Parser) -> Expr:
    name_tok = p.take()
    if name_tok is None or name_tok.kind != "word" or not _FIELD_NAME.fullmatch(name_tok.text):
        raise PatternError("a condition starts with a field name")
    op = p.take()
    if op is None or op.kind != "op":
        raise PatternError("missing operator")
    test = comparison(op.text, parse_value(p.take()))
    name = name_tok.text
    return lambda env: name in env and test(env[name])


def compile_delimited(body: str) -> Matcher:
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
        toks = tokenize(part)
        if toks[0].kind != "word" or not _FIELD_NAME.fullmatch(toks[0].text):
            raise PatternError(f"invalid field {part!r}")
        cond = None if len(toks) == 1 else Parser(toks, _delimited_operand).parse()
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
