"""SNS subscription filter policies: validation and matching, for both scopes.

A policy is a JSON object. Each key names a message attribute (scope `MessageAttributes`) or a
property of the JSON message body (scope `MessageBody`, where keys nest); its value is a list of
conditions, any of which may match (OR). All keys must match (AND). `$or` at any level takes a list
of alternative sub-policies. Conditions:

    "text" | 12.5 | true | null       exact value (strings are case-sensitive; numbers compare as numbers)
    {"prefix": "ab"}  {"suffix": "yz"}  {"equals-ignore-case": "AbC"}
    {"anything-but": v | [v, ...] | {"prefix": s} | {"suffix": s} | {"equals-ignore-case": s | [s, ...]}}
    {"numeric": ["=", 5]} | {"numeric": [">", 0, "<=", 150]}
    {"exists": true | false}
    {"cidr": "10.0.0.0/24"}            IP address (v4 or v6) inside the block

Message attributes of type String match string conditions, Number attributes numeric ones,
String.Array attributes match when any element does; Binary attributes are ignored (as if absent).
In the body, a list matches when any element does, and nested keys reach through lists of objects.

A policy compiles to alternatives (one per combination of `$or` branches), each a list of leaves
(a key path and its conditions): the message matches when every leaf of some alternative does.
AWS's limits are checked on that form: at most 5 keys per alternative, and a "combination count"
(the product over leaves of conditions x nesting depth, summed over alternatives) of at most 150.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...protocol import safejson

SCOPES = ("MessageAttributes", "MessageBody")
MAX_KEYS = 5
MAX_COMBINATIONS = 150
MAX_DEPTH = 5

# A value found in a message: str, float (numbers), bool, or None (JSON null).
Value = Any
_MISSING = object()


class FilterPolicyError(ValueError):
    """A policy AWS would refuse. `message` follows "Invalid parameter: " on the wire; `reason`
    errors are the ones AWS words as "Attributes Reason: FilterPolicy: ...\\n at ..."."""

    def __init__(self, message: str, reason: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


# -- conditions ------------------------------------------------------------------------------------

Test = Callable[[Value], bool]


@dataclass(frozen=True)
class Condition:
    """One compiled condition of a leaf: a test on the values, or whether the key exists."""

    kind: str  # "value", "exists", or the operator name
    test: Test | None = None  # for everything but exists
    exists: bool = True

    def matches(self, present: bool, values: list[Value]) -> bool:
        if self.kind == "exists":
            return present == self.exists
        if not present:
            return False
        assert self.test is not None
        return any(self.test(v) for v in values)


def _is_number(v: Value) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num_eq(a: float, b: float) -> bool:
    return round(float(a), 5) == round(float(b), 5)


def _equals(expected: Value) -> Test:
    if expected is None:
        return lambda v: v is None
    if isinstance(expected, bool):
        return lambda v: isinstance(v, bool) and v == expected
    if _is_number(expected):
        return lambda v: _is_number(v) and _num_eq(v, expected)
    return lambda v: isinstance(v, str) and v == expected


def _string_op(op: str, arg: str) -> Test:
    if op == "prefix":
        return lambda v: isinstance(v, str) and v.startswith(arg)
    if op == "suffix":
        return lambda v: isinstance(v, str) and v.endswith(arg)
    folded = arg.casefold()
    return lambda v: isinstance(v, str) and v.casefold() == folded


_RANGE_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda v, n: v < n,
    "<=": lambda v, n: v <= n,
    ">": lambda v, n: v > n,
    ">=": lambda v, n: v >= n,
}


def _numeric(spec: Any) -> Test:
    """`["=", n]`, `[op, n]` or `[lower-op, n, upper-op, m]`, with AWS's error for each misuse."""
    def bad(text: str) -> FilterPolicyError:
        return FilterPolicyError(f"FilterPolicy: {text}\n at ...", reason=True)

    def operator(i: int) -> str:
        op = spec[i]
        if not isinstance(op, str):
            raise bad(f"Invalid member in numeric match: {_show(op)}")
        if op != "=" and op not in _RANGE_OPS:
            raise bad(f"Unrecognized numeric range operator: {op}")
        if i + 1 >= len(spec) or not _is_number(spec[i + 1]):
            raise bad(f"Value of {op} must be numeric")
        return op

    if not isinstance(spec, list) or not spec:
        raise bad("Invalid member in numeric match: ]")
    first = operator(0)
    bottom = float(spec[1])
    if first == "=":
        if len(spec) > 2:
            raise bad("Too many elements in numeric expression")
        return lambda v: _is_number(v) and _num_eq(v, bottom)
    if len(spec) == 2:
        return lambda v: _is_number(v) and _RANGE_OPS[first](float(v), bottom)
    if first in ("<", "<="):
        raise bad("Too many elements in numeric expression")
    second = operator(2)
    if second not in ("<", "<="):
        raise bad(f"Bad numeric range operator: {second}")
    if len(spec) > 4:
        raise bad("Too many elements in numeric expression")
    top = float(spec[3])
    if top <= bottom:
        raise bad("Bottom must be less than top")
    low, high = _RANGE_OPS[first], _RANGE_OPS[second]
    return lambda v: _is_number(v) and low(float(v), bottom) and high(float(v), top)


def _cidr(spec: Any) -> Test:
    if not isinstance(spec, str):
        raise FilterPolicyError("FilterPolicy: cidr match pattern must be a string")
    try:
        network = ipaddress.ip_network(spec, strict=False)
    except ValueError:
        raise FilterPolicyError(f"FilterPolicy: Malformed CIDR, one '/' required: {spec}"
                                if "/" not in spec else f"FilterPolicy: Nonstandard IP address: {spec}") from None

    def test(v: Value) -> bool:
        if not isinstance(v, str):
            return False
        try:
            return ipaddress.ip_address(v) in network
        except ValueError:
            return False

    return test


def _anything_but(spec: Any) -> Test:
    if isinstance(spec, dict):
        if len(spec) != 1:
            raise FilterPolicyError("FilterPolicy: Only one key allowed in match expression")
        (op, arg), = spec.items()
        if op not in ("prefix", "suffix", "equals-ignore-case"):
            raise FilterPolicyError(f"FilterPolicy: Unsupported anything-but pattern: {op}")
        if op == "equals-ignore-case" and isinstance(arg, list):
            if not arg or not all(isinstance(a, str) for a in arg):
                raise FilterPolicyError("FilterPolicy: Inside anything-but/equals-ignore-case list, "
                                        "number|start|null|boolean is not supported.")
            folded = {a.casefold() for a in arg}
            return lambda v: isinstance(v, str) and v.casefold() not in folded
        if not isinstance(arg, str):
            raise FilterPolicyError(f"FilterPolicy: {op} match pattern must be a string")
        inner = _string_op(op, arg)
        return lambda v: isinstance(v, str) and not inner(v)
    values = spec if isinstance(spec, list) else [spec]
    if not values:
        raise FilterPolicyError("FilterPolicy: Empty arrays are not allowed")
    tests = []
    for item in values:
        if isinstance(item, (dict, list)):
            raise FilterPolicyError("FilterPolicy: Match value must be String, number, true, false, or null")
        tests.append(_equals(item))
    return lambda v: not any(t(v) for t in tests)


def compile_condition(spec: Any) -> Condition:
    if spec is None or isinstance(spec, (str, bool, int, float)):
        if isinstance(spec, float) and not math.isfinite(spec):
            raise FilterPolicyError("FilterPolicy: Match value must be String, number, true, false, or null")
        return Condition("value", _equals(spec))
    if not isinstance(spec, dict):
        raise FilterPolicyError("FilterPolicy: Match value must be String, number, true, false, or null")
    if len(spec) != 1:
        raise FilterPolicyError("FilterPolicy: Only one key allowed in match expression")
    (op, arg), = spec.items()
    if op in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(arg, str):
            raise FilterPolicyError(f"FilterPolicy: {op} match pattern must be a string")
        return Condition(op, _string_op(op, arg))
    if op == "anything-but":
        return Condition(op, _anything_but(arg))
    if op == "exists":
        if not isinstance(arg, bool):
            raise FilterPolicyError("FilterPolicy: exists match pattern must be either true or false.")
        return Condition("exists", exists=arg)
    if op == "numeric":
        return Condition(op, _numeric(arg))
    if op == "cidr":
        return Condition(op, _cidr(arg))
    raise FilterPolicyError(f"FilterPolicy: Unrecognized match type {op}")


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


# -- policies --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    """A key path and its conditions: it matches when any condition does."""

    path: tuple[str, ...]
    conditions: tuple[Condition, ...]

    def matches(self, lookup: Callable[[tuple[str, ...]], list[Value] | None]) -> bool:
        values = lookup(self.path)
        present = values is not None
        return any(c.matches(present, values or []) for c in self.conditions)


@dataclass(frozen=True)
class FilterPolicy:
    """A compiled filter policy: it matches when every leaf of one of its alternatives does."""

    scope: str
    alternatives: tuple[tuple[Leaf, ...], ...]

    def matches_attributes(self, attributes: Mapping[str, Mapping[str, Any]]) -> bool:
        """`attributes`: name -> {"DataType", "StringValue" | "BinaryValue"}, as published."""
        values = attribute_values(attributes)

        def lookup(path: tuple[str, ...]) -> list[Value] | None:
            return values.get(path[0]) if len(path) == 1 else None

        return self._matches(lookup)

    def matches_body(self, body: str) -> bool:
        try:
            doc = safejson.loads(body)
        except ValueError:
            return False
        if not isinstance(doc, dict):
            return False
        return self._matches(lambda path: body_values(doc, path))

    def _matches(self, lookup: Callable[[tuple[str, ...]], list[Value] | None]) -> bool:
        return any(all(leaf.matches(lookup) for leaf in alt) for alt in self.alternatives)


def attribute_values(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Value]]:
    """The values filter policies see in message attributes (Binary ones are ignored)."""
    out: dict[str, list[Value]] = {}
    for name, attr in attributes.items():
        data_type = str(attr.get("DataType", ""))
        base = data_type.split(".", 1)[0]
        text = attr.get("StringValue")
        if base == "Binary" or text is None:
            continue
        if data_type == "String.Array":
            try:
                items = safejson.loads(text)
            except ValueError:
                continue
            if not isinstance(items, list):
                continue
            out[name] = [_scalar(i) for i in items if not isinstance(i, (dict, list))]
        elif base == "Number":
            try:
                out[name] = [float(text)]
            except ValueError:
                continue
        else:
            out[name] = [text]
    return out


def _scalar(v: Any) -> Value:
    if _is_number(v):
        return float(v)
    return v


def body_values(doc: Any, path: tuple[str, ...]) -> list[Value] | None:
    """Leaf values at `path` in a JSON document, reaching through lists; None when absent."""
    nodes: list[Any] = [doc]
    for key in path:
        nxt: list[Any] = []
        for node in _flatten(nodes):
            if isinstance(node, dict) and key in node:
                nxt.append(node[key])
        if not nxt:
            return None
        nodes = nxt
    return [_scalar(v) for v in _flatten(nodes) if not isinstance(v, dict)]


def _flatten(nodes: list[Any]) -> list[Any]:
    out: list[Any] = []
    for n in nodes:
        if isinstance(n, list):
            out.extend(_flatten(n))
        else:
            out.append(n)
    return out


def compile_policy(policy: Any, scope: str = "MessageAttributes") -> FilterPolicy:
    """Validate and compile a parsed policy; raises FilterPolicyError with AWS's wording."""
    if scope not in SCOPES:
        raise FilterPolicyError(f"FilterPolicyScope: Invalid value [{scope}]. "
                                "Please use either MessageBody or MessageAttributes")
    if not isinstance(policy, dict):
        raise FilterPolicyError("FilterPolicy: Filter policy must be a JSON object")
    alternatives = _expand(policy, (), scope, 1)
    if not alternatives:
        alternatives = [[]]
    # AWS: each alternative may name at most 5 keys; the combination count is bounded.
    if any(len(alt) > MAX_KEYS for alt in alternatives):
        raise FilterPolicyError("FilterPolicy: Filter policy can not have more than 5 keys")
    total = 0
    for alt in alternatives:
        product = 1
        for leaf, depth in alt:
            product *= len(leaf.conditions) * depth
        total += product
    if total > MAX_COMBINATIONS:
        raise FilterPolicyError("FilterPolicy: Filter policy is too complex")
    return FilterPolicy(scope, tuple(tuple(leaf for leaf, _ in alt) for alt in alternatives))


def _expand(obj: dict[str, Any], prefix: tuple[str, ...], scope: str,
            depth: int) -> list[list[tuple[Leaf, int]]]:
    """The alternatives of an object: a list of (leaf, depth) lists."""
    alternatives: list[list[tuple[Leaf, int]]] = [[]]
    for key, value in obj.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise FilterPolicyError('FilterPolicy: "$or" must be an array of at least 2 objects')
            branches: list[list[tuple[Leaf, int]]] = []
            for branch in value:
                branches.extend(_expand(branch, prefix, scope, depth))
            alternatives = [a + b for a in alternatives for b in branches]
        elif isinstance(value, dict):
            if scope == "MessageAttributes":
                raise FilterPolicyError("Filter policy scope MessageAttributes does not support nested filter policy")
            if depth >= MAX_DEPTH:
                raise FilterPolicyError("FilterPolicy: Filter policy can only have up to 5 levels of nesting")
            nested = _expand(value, (*prefix, key), scope, depth + 1)
            alternatives = [a + b for a in alternatives for b in nested]
        elif isinstance(value, list):
            if not value:
                raise FilterPolicyError(f'FilterPolicy: Empty arrays are not allowed ("{key}")')
            leaf = Leaf((*prefix, key), tuple(compile_condition(c) for c in value))
            alternatives = [a + [(leaf, depth)] for a in alternatives]
        else:
            raise FilterPolicyError(f'FilterPolicy: "{key}" must be an object or an array')
        if len(alternatives) > MAX_COMBINATIONS:
            raise FilterPolicyError("FilterPolicy: Filter policy is too complex")
    return alternatives


def parse_policy(text: str, scope: str = "MessageAttributes") -> FilterPolicy:
    try:
        policy = safejson.loads(text)
    except ValueError:
        raise FilterPolicyError("FilterPolicy: failed to parse JSON.", reason=True) from None
    return compile_policy(policy, scope)
