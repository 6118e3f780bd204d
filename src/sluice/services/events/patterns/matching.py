"""Compiled event patterns and the events they match (the semantics in the package's docstring).

An event is flattened once (`flatten_event`: every leaf by dotted path, with the array elements
it came from) and matched against each rule's `EventPattern`: alternatives (`$or`) of field rules,
each a set of conditions on a leaf. The tests here are what the compiler builds conditions from.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Test = Callable[[Any], bool]


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def exact(expected: Any) -> Test:
    if expected is None or isinstance(expected, bool):
        return lambda v: v is expected
    if is_number(expected):
        target = float(expected)
        return lambda v: is_number(v) and float(v) == target
    return lambda v: isinstance(v, str) and v == expected


def prefix(p: str, ignore_case: bool = False) -> Test:
    if ignore_case:
        low = p.lower()
        return lambda v: isinstance(v, str) and v.lower().startswith(low)
    return lambda v: isinstance(v, str) and v.startswith(p)


def suffix(s: str, ignore_case: bool = False) -> Test:
    if ignore_case:
        low = s.lower()
        return lambda v: isinstance(v, str) and v.lower().endswith(low)
    return lambda v: isinstance(v, str) and v.endswith(s)


def ignore_case(s: str) -> Test:
    low = s.lower()
    return lambda v: isinstance(v, str) and v.lower() == low


def wildcard(pattern: str) -> Test:
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


NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def numeric(terms: list[tuple[str, float]]) -> Test:
    def test(v: Any) -> bool:
        if not is_number(v) or not math.isfinite(float(v)):
            return False
        x = float(v)
        return all(NUMERIC_OPS[op](x, bound) for op, bound in terms)

    return test


def cidr(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Test:
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
    """A pattern's conditions on one field, by dotted path (any one of them holding is enough)."""

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
    """A compiled event pattern: its text and its alternatives (`$or`) of field rules."""

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
