"""The policy of a browser upload (POST Object): expiration, and the conditions every form field must meet.

The policy is base64 JSON: {"expiration": "2025-01-01T12:00:00.000Z", "conditions": [...]}, a
condition being {"field": "value"} (exact), ["eq", "$field", "value"], ["starts-with", "$field",
"prefix"] or ["content-length-range", min, max]. Every form field must be named by a condition,
except the ones S3 exempts (the signature, the policy itself, the file, x-ignore-*).

As S3 does, the whole document is read first (a malformed one is a 400 InvalidPolicyDocument),
then checked against the clock and the form (a failure is a 403 AccessDenied). The messages are
the ones S3 was seen to send; where none was seen, they follow the same pattern.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from ...protocol import safejson
from ...protocol.errors import ServiceError

_EXEMPT = {"x-amz-signature", "signature", "awsaccesskeyid", "policy", "file"}
_MEMBERS = ("expiration", "conditions")
# ISO 8601 in UTC: S3 refuses an offset or a space for the 'T'.
_EXPIRATION = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z")


def _denied(reason: str) -> ServiceError:
    return ServiceError("AccessDenied", f"Invalid according to Policy: {reason}")


def _invalid(reason: str) -> ServiceError:
    return ServiceError("InvalidPolicyDocument", f"Invalid Policy: {reason}")


@dataclass
class SizeRange:
    """The body sizes, in bytes, a policy's content-length-range allows."""

    low: int
    high: int


@dataclass(frozen=True)
class _Condition:
    """One condition of a policy, read from the document and ready to check against the form."""

    op: str  # "eq", "starts-with" or "content-length-range"
    field: str  # lower-case form field name ("" for content-length-range)
    expected: Any
    shown: str  # as S3 prints it in "Policy Condition failed: ..."


def check_policy(encoded: str, fields: dict[str, str], bucket: str, now: float) -> SizeRange | None:
    """Raise AccessDenied unless the policy allows these fields now; return its content-length-range."""
    try:
        policy = safejson.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise _invalid("Invalid JSON.") from None
    if not isinstance(policy, dict):
        raise _invalid("Invalid JSON.")
    unexpected = [name for name in policy if name not in _MEMBERS]
    if unexpected:  # which one S3 names when there are several is not known: the first
        raise _invalid(f"Unexpected: '{unexpected[0].lower()}'")
    if "expiration" not in policy:
        raise _invalid("Policy missing expiration.")
    expires = _parse_expiration(policy["expiration"])
    conditions = policy.get("conditions")
    if conditions is None:
        raise _invalid("Policy missing conditions.")
    if not isinstance(conditions, list):
        raise _invalid("Invalid 'conditions' value: must be a List.")
    parsed = [_parse_condition(c) for c in conditions]
    if now > expires:
        raise _denied("Policy expired.")
    return _evaluate(parsed, fields, bucket)


def _parse_expiration(value: Any) -> float:
    if not isinstance(value, str):
        raise _invalid("Invalid 'expiration' value: " + json.dumps(value))
    if not _EXPIRATION.fullmatch(value):
        raise _invalid(f"Invalid 'expiration' value: '{value}'")
    try:
        return dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=dt.timezone.utc).timestamp()
    except ValueError:  # the right shape, but no such date or time (month 13)
        raise _invalid(f"Invalid 'expiration' value: '{value}'") from None


def _parse_condition(condition: Any) -> _Condition:
    if isinstance(condition, dict):
        if len(condition) != 1:
            raise _invalid("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
        (name, expected), = condition.items()
        if expected is None:
            raise _invalid("Invalid JSON.")
        if not isinstance(expected, str):
            raise _invalid("Invalid Simple-Condition: value must be a string.")
        return _Condition("eq", name.lower(), expected, json.dumps(["eq", f"${name}", expected]))
    if not isinstance(condition, list):
        raise _invalid("Invalid condition test: must be a List or Object.")
    if not condition or not isinstance(condition[0], str):
        raise _invalid("Invalid Condition: missing operation identifier.")
    op = condition[0].lower()
    if op not in ("eq", "starts-with", "content-length-range"):
        raise _invalid(f"Invalid Condition: unknown operation '{condition[0]}'.")
    if len(condition) != 3:
        raise _invalid(f"Invalid {condition[0]}: wrong number of arguments.")
    shown = json.dumps(condition)
    if op == "content-length-range":
        bounds = condition[1:]
        # Numbers and strings of digits are sizes; a float or any other type is not JSON S3 reads.
        if any(isinstance(b, (bool, float)) or not isinstance(b, (int, str)) for b in bounds):
            raise _invalid("Invalid JSON.")
        if any(isinstance(b, int) and b < 0 for b in bounds):
            raise _invalid("Invalid content-length-range condition: " + shown)
        return _Condition(op, "", bounds, shown)
    name, expected = condition[1], condition[2]
    if not isinstance(name, str) or not isinstance(expected, str):
        raise _invalid("Invalid JSON.")
    # A field named without its '$' is no field: S3 answers that the condition failed.
    return _Condition(op, name[1:].lower() if name.startswith("$") else "", expected, shown)


def _evaluate(conditions: list[_Condition], fields: dict[str, str], bucket: str) -> SizeRange | None:
    values = {**fields, "bucket": bucket}
    covered: set[str] = set()
    size: SizeRange | None = None
    for c in conditions:
        if c.op == "content-length-range":
            low, high = (str(b) for b in c.expected)
            if not (low.isdigit() and high.isdigit()):
                raise _denied(f"Policy Condition failed: {c.shown}")
            size = SizeRange(int(low), int(high))
            continue
        actual = values.get(c.field, "") if c.field else None
        if c.op == "eq":
            ok = actual == c.expected
        elif c.field == "content-type" and actual is not None:
            ok = all(part.strip().startswith(c.expected) for part in actual.split(","))
        else:
            ok = actual is not None and actual.startswith(c.expected)
        if not ok:
            raise _denied(f"Policy Condition failed: {c.shown}")
        covered.add(c.field)
    # x-amz-checksum-* fields need no condition: they are checked against the file instead
    # (s3-tests' test_post_object_upload_checksum, whose policy names none).
    extra = [n for n in fields if n not in covered and n not in _EXEMPT
             and not n.startswith(("x-ignore-", "x-amz-checksum-"))]
    if extra:
        raise _denied(f"Extra input fields: {', '.join(extra)}")
    return size
