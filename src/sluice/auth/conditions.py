"""The Condition element of IAM policies: operators compiled once, evaluated per request.

Rules (IAM User Guide, "Condition operators" and "Single-valued vs. multivalued context keys"):
several values for one key are ORed; several keys, and several operators, are ANDed. A key
missing from the request makes a positive operator false and a negated one (StringNotEquals,
NotIpAddress, ArnNotLike, ...) true; `...IfExists` makes a missing key true; `Null` tests
presence. `ForAnyValue:` is true when some request value matches (false on a missing or empty
key); `ForAllValues:` when every request value matches (true on a missing or empty key).
Condition key names are case-insensitive, values case-sensitive unless the operator says not.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Request context as evaluation sees it: lower-cased key -> the key's values.
Context = Mapping[str, Sequence[str]]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}


class ConditionError(ValueError):
    """A Condition element IAM refuses; str(err) is the MalformedPolicyDocument message."""


# --- wildcard patterns ----------------------------------------------------------------------

def glob_regex(pattern: str, star: str = ".*") -> str:
    """`*` and `?` wildcards as a regular expression; everything else literal."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append("." if star == ".*" else "[^:]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def arn_regex(pattern: str) -> str:
    """An ARN pattern: each of the first five colon-separated parts is matched on its own
    (a wildcard never crosses a colon); the sixth, the resource, may itself hold colons.

    In a pattern with fewer than six parts the last part plays the resource's role, so
    "arn:aws:s3:*" still covers every S3 ARN (our choice; IAM documents only full ARNs).
    """
    if pattern == "*":
        return ".*"
    parts = pattern.split(":", 5)
    head = [glob_regex(p, "[^:]*") for p in parts[:-1]]
    return ":".join([*head, glob_regex(parts[-1])])


# --- policy variables -----------------------------------------------------------------------

# A value after variable substitution: pieces of (text, literal). Literal text came from a
# variable and never acts as a wildcard.
Pieces = list[tuple[str, bool]]


def has_variables(value: str) -> bool:
    return "${" in value


def expand(template: str, context: Context) -> Pieces | None:
    """Substitute ${key} / ${key, 'default'} from the request; None when a key is missing
    (IAM: the element then does not match)."""
    pieces: Pieces = []
    pos = 0
    for m in _VARIABLE.finditer(template):
        if m.start() > pos:
            pieces.append((template[pos:m.start()], False))
        name, _, default = m.group(1).partition(",")
        name = name.strip()
        if name in _SPECIAL_VARIABLES:
            pieces.append((_SPECIAL_VARIABLES[name], True))
        else:
            values = context.get(name.lower())
            if values and len(values) == 1:
                pieces.append((values[0], True))
            elif default.strip():
                pieces.append((default.strip().strip("'"), True))
            else:
                return None
        pos = m.end()
    if pos < len(template):
        pieces.append((template[pos:], False))
    return pieces


def pieces_text(pieces: Pieces) -> str:
    return "".join(text for text, _ in pieces)


def pieces_regex(pieces: Pieces, arn: bool) -> str:
    if not arn:
        return "".join(re.escape(t) if lit else glob_regex(t) for t, lit in pieces)
    # Rebuild the pattern with literal pieces escaped as wildcard-free placeholders, then
    # translate segment by segment.
    marks: list[str] = []
    pattern = []
    for text, literal in pieces:
        if literal:
            marks.append(text)
            pattern.append(f"\x00{len(marks) - 1}\x00")
        else:
            pattern.append(text)
    regex = arn_regex("".join(pattern))
    return re.sub(r"\\?\x00(\d+)\\?\x00", lambda m: re.escape(marks[int(m.group(1))]), regex)


# --- operators ------------------------------------------------------------------------------

# One compiled policy value test: request value -> matches?
Test = Callable[[str], bool]


def _string_equals(value: str) -> Test:
    return value.__eq__


def _string_equals_ignore_case(value: str) -> Test:
    folded = value.casefold()
    return lambda v: v.casefold() == folded


def _string_like(value: str) -> Test:
    rx = re.compile(glob_regex(value), re.DOTALL)
    return lambda v: rx.fullmatch(v) is not None


def _arn_like(value: str) -> Test:
    rx = re.compile(arn_regex(value), re.DOTALL)
    return lambda v: rx.fullmatch(v) is not None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str], Test]:
    def build(value: str) -> Test:
        limit = _number(value)
        if limit is None:
            return lambda v: False

        def test(v: str) -> bool:
            n = _number(v)
            return n is not None and compare(n, limit)
        return test
    return build


def parse_date(text: str) -> float | None:
    """ISO 8601 (date, or date and time with Z/offset/fraction) or epoch seconds."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text) and len(text) != 8:
        return float(text)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            parsed = dt.datetime.strptime(text, "%Y%m%dT%H%M%SZ")
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def _date(compare: Callable[[float, float], bool]) -> Callable[[str], Test]:
    def build(value: str) -> Test:
        limit = parse_date(value)
        if limit is None:
            return lambda v: False

        def test(v: str) -> bool:
            t = parse_date(v)
            return t is not None and compare(t, limit)
        return test
    return build


def _bool(value: str) -> Test:
    want = value.lower()
    return lambda v: v.lower() == want


def _ip_address(value: str) -> Test:
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return lambda v: False

    def test(v: str) -> bool:
        try:
            return ipaddress.ip_address(v.strip()) in network
        except ValueError:
            return False
    return test


# operator -> (compiles one policy value into a test, negated?)
_OPERATORS: dict[str, tuple[Callable[[str], Test], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "NumericEquals": (_numeric(lambda a, b: a == b), False),
    "NumericNotEquals": (_numeric(lambda a, b: a == b), True),
    "NumericLessThan": (_numeric(lambda a, b: a < b), False),
    "NumericLessThanEquals": (_numeric(lambda a, b: a <= b), False),
    "NumericGreaterThan": (_numeric(lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, b: a >= b), False),
    "DateEquals": (_date(lambda a, b: a == b), False),
    "DateNotEquals": (_date(lambda a, b: a == b), True),
    "DateLessThan": (_date(lambda a, b: a < b), False),
    "DateLessThanEquals": (_date(lambda a, b: a <= b), False),
    "DateGreaterThan": (_date(lambda a, b: a > b), False),
    "DateGreaterThanEquals": (_date(lambda a, b: a >= b), False),
    "Bool": (_bool, False),
    "BinaryEquals": (_string_equals, False),
    "IpAddress": (_ip_address, False),
    "NotIpAddress": (_ip_address, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}
# Operators whose values may hold policy variables, and how a substituted value is matched.
_VARIABLE_KINDS = {
    "StringEquals": "exact", "StringNotEquals": "exact",
    "StringEqualsIgnoreCase": "fold", "StringNotEqualsIgnoreCase": "fold",
    "StringLike": "like", "StringNotLike": "like",
    "ArnEquals": "arn", "ArnLike": "arn", "ArnNotEquals": "arn", "ArnNotLike": "arn",
}


def _template_test(template: str, kind: str, context: Context) -> Test | None:
    pieces = expand(template, context)
    if pieces is None:
        return None
    if kind == "exact":
        text = pieces_text(pieces)
        return text.__eq__
    if kind == "fold":
        return _string_equals_ignore_case(pieces_text(pieces))
    rx = re.compile(pieces_regex(pieces, arn=kind == "arn"), re.DOTALL)
    return lambda v: rx.fullmatch(v) is not None


@dataclass(frozen=True)
class Clause:
    """One `"Operator": {"key": values}` entry for one key."""

    operator: str            # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str                 # lower-cased
    negated: bool
    if_exists: bool
    qualifier: str | None    # "ForAnyValue" | "ForAllValues" | None
    null_check: tuple[bool, ...] | None   # the Null operator: for each value, "key absent?"
    tests: tuple[Test, ...]  # compiled values without variables
    templates: tuple[str, ...]   # values with policy variables, compiled per request
    template_kind: str

    def _matches(self, value: str, templated: Sequence[Test]) -> bool:
        return any(t(value) for t in self.tests) or any(t(value) for t in templated)

    def holds(self, context: Context) -> bool:
        values = context.get(self.key)
        present = bool(values)
        if self.null_check is not None:
            return any(absent != present for absent in self.null_check)
        templated: list[Test] = []
        for template in self.templates:
            test = _template_test(template, self.template_kind, context)
            if test is not None:
                templated.append(test)
        if not present:
            if self.if_exists:
                return True
            if self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.negated
        assert values is not None
        # Per request value: a positive operator matches when some policy value matches; a
        # negated one when none does.
        outcomes = (self._matches(v, templated) != self.negated for v in values)
        if self.qualifier == "ForAllValues":
            return all(outcomes)
        return any(outcomes) if (self.qualifier == "ForAnyValue" or not self.negated) else all(outcomes)


def _as_values(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            out.append(str(item))
        else:
            raise ConditionError("Syntax errors in policy.")
    return out


def split_operator(operator: str) -> tuple[str | None, str, bool]:
    """"ForAnyValue:StringLikeIfExists" -> ("ForAnyValue", "StringLike", True)."""
    qualifier = None
    base = operator
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if base.startswith(prefix):
            qualifier = prefix[:-1]
            base = base[len(prefix):]
            break
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    return qualifier, base, if_exists


def compile_conditions(raw: Any, variables: bool) -> tuple[Clause, ...]:
    """The Condition element as clauses (all must hold). `variables`: the policy version
    (2012-10-17) substitutes ${...}; older versions take values literally."""
    if not isinstance(raw, dict):
        raise ConditionError("Syntax errors in policy.")
    clauses: list[Clause] = []
    for operator, body in raw.items():
        if not isinstance(body, dict):
            raise ConditionError("Syntax errors in policy.")
        qualifier, base, if_exists = split_operator(operator)
        known = base == "Null" or base in _OPERATORS
        if not known or (base == "Null" and if_exists):
            if body:
                raise ConditionError("Syntax errors in policy.")
            continue
        for key, raw_values in body.items():
            values = _as_values(raw_values)
            if base == "Null":
                clauses.append(Clause(operator, key.lower(), False, False, qualifier,
                                      tuple(v.lower() == "true" for v in values), (), (), ""))
                continue
            build, negated = _OPERATORS[base]
            kind = _VARIABLE_KINDS.get(base, "")
            templates = tuple(v for v in values if variables and kind and has_variables(v))
            tests = tuple(build(v) for v in values if v not in templates)
            clauses.append(Clause(operator, key.lower(), negated, if_exists, qualifier, None, tests, templates, kind))
    return tuple(clauses)


def all_hold(clauses: Sequence[Clause], context: Context) -> bool:
    return all(c.holds(context) for c in clauses)
