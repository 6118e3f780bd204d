"""Hypothesis strategies for operation inputs, read from botocore's service models.

Values are mostly of the member's type and within its documented bounds (so requests get past
parsing and into the services' own rules), sometimes outside them, and identifiers are often the
names of the playground resources so operations find something to act on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape
from hypothesis import strategies as st

# Characters that have broken parsers and serializers before: XML specials, form specials,
# NUL and other controls, a lone surrogate's neighbours, right-to-left marks, emoji.
_NASTY = "\x00\x01\x08\x0b\x1f\x7f\u0085\u2028\ufeff\ufffe\U0001f600<>&\"'%+=;/\\?#[]{}*\t\n\r "
_PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."

# Long waits a request may legitimately ask for (SQS long polls, Lambda's synchronous run):
# kept short so the per-request answer bound stays meaningful.
_WAIT_MEMBERS = {"WaitTimeSeconds": 1, "ReceiveMessageWaitTimeSeconds": 1}

# How deep nested structures go before only required members are generated.
_MAX_DEPTH = 5


def text(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    plain = st.text(alphabet=_PLAIN, min_size=max(min_size, 0), max_size=max_size)
    nasty = st.text(alphabet=st.sampled_from(_NASTY) | st.characters(exclude_categories=["Cs"]),
                    min_size=0, max_size=max_size)
    return st.one_of(plain, plain, plain, nasty)


class Inputs:
    """Builds input strategies for one service model; `names` maps member names to playground
    identifiers that operations should often be given (e.g. Bucket -> the playground buckets),
    `special` member names to strategies of their own (e.g. ZipFile -> deployment packages)."""

    def __init__(self, names: Mapping[str, list[str]],
                 special: Mapping[str, st.SearchStrategy[Any]] | None = None) -> None:
        self.names = names
        self.special = special or {}
        self._cache: dict[tuple[str, int], st.SearchStrategy[Any]] = {}

    def for_shape(self, shape: Shape | None, depth: int = 0, member: str = "") -> st.SearchStrategy[Any]:
        if shape is None:
            return st.just({})
        key = (f"{member}:{shape.name}", depth)
        if key not in self._cache:
            self._cache[key] = self._build(shape, depth, member)
        return self._cache[key]

    def _build(self, shape: Shape, depth: int, member: str) -> st.SearchStrategy[Any]:
        known = self.names.get(member)
        base = self._typed(shape, depth, member)
        if known and shape.type_name == "string":
            base = st.one_of(st.sampled_from(known), st.sampled_from(known), base)
        if member in self.special:
            return st.one_of(self.special[member], self.special[member], base)
        if known and shape.type_name == "string":
            return base
        if known and shape.type_name == "list" and isinstance(shape, ListShape) \
                and shape.member.type_name == "string":
            return st.one_of(st.lists(st.sampled_from(known), min_size=1, max_size=3), base)
        return base

    def _typed(self, shape: Shape, depth: int, member: str) -> st.SearchStrategy[Any]:
        t = shape.type_name
        meta = shape.metadata
        if isinstance(shape, StructureShape):
            return self._structure(shape, depth)
        if isinstance(shape, ListShape):
            lo = int(meta.get("min", 0))
            item = self.for_shape(shape.member, depth + 1, shape.member.name)
            return st.lists(item, min_size=min(lo, 3), max_size=min(max(lo, 3), 4))
        if isinstance(shape, MapShape):
            # Attribute maps (SNS, SQS) hold documents under well-known names.
            attributes = member == "Attributes"
            keys = self.for_shape(shape.key, depth + 1, "AttributeName" if attributes else "")
            values = self.for_shape(shape.value, depth + 1, "AttributeValue" if attributes else "")
            return st.dictionaries(keys, values, max_size=3)
        if t == "string":
            if shape.enum:
                return st.one_of(st.sampled_from(list(shape.enum)), st.sampled_from(list(shape.enum)), text())
            lo = int(meta.get("min", 0))
            hi = int(meta.get("max", 64))
            return st.one_of(text(min(lo, 64), min(max(hi, lo), 64)), text(min(lo, 64), min(max(hi, lo), 64)),
                             st.text(max_size=3), st.just("x" * min(hi + 1, 4096)))
        if t in ("integer", "long"):
            if member in _WAIT_MEMBERS:
                return st.integers(0, _WAIT_MEMBERS[member])
            lo = int(meta.get("min", -(2**31)))
            hi = int(meta.get("max", 2**31 - 1))
            inside = st.integers(max(lo, -1000), min(hi, 100_000)) if lo <= min(hi, 100_000) else st.just(lo)
            edges = st.sampled_from([lo, hi, lo - 1, hi + 1, 0, -1, 2**63, -(2**63) - 1])
            return st.one_of(inside, inside, inside, edges)
        if t in ("float", "double"):
            return st.one_of(st.floats(-1e6, 1e6), st.floats(allow_nan=True, allow_infinity=True))
        if t == "boolean":
            return st.booleans()
        if t == "timestamp":
            return st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1),
                                timezones=st.just(dt.timezone.utc))
        if t == "blob":
            big = 2048 if shape.serialization.get("streaming") or meta.get("streaming") else 64
            return st.binary(max_size=big)
        return st.none()  # document types: absent

    def _structure(self, shape: StructureShape, depth: int) -> st.SearchStrategy[dict[str, Any]]:
        required = set(shape.required_members)
        req = {n: self.for_shape(m, depth + 1, n) for n, m in shape.members.items() if n in required}
        if depth >= _MAX_DEPTH:
            return st.fixed_dictionaries(req)
        optional = {n: self.for_shape(m, depth + 1, n) for n, m in shape.members.items() if n not in required}
        # Every member is optional sometimes: what a careless client leaves out matters too.
        dropped = st.fixed_dictionaries({}, optional={**req, **optional})
        return st.one_of(st.fixed_dictionaries(req, optional=optional), dropped)
