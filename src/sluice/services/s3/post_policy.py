"""The policy of a browser upload (POST Object): expiration, and the conditions every form field must meet.

The policy is base64 JSON: {"expiration": "2025-01-01T12:00:00.000Z", "conditions": [...]}, a
condition being {"field": "value"} (exact), ["eq", "$field", "value"], ["starts-with", "$field",
"prefix"] or ["content-length-range", min, max]. Every form field must be named by a condition,
except the ones S3 exempts (the signature, the policy itself, the file, x-ignore-*).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from ...protocol import safejson
from ...protocol.errors import ServiceError

_EXEMPT = {"x-amz-signature", "signature", "awsaccesskeyid", "policy", "file"}


def _denied(reason: str) -> ServiceError:
    return ServiceError("AccessDenied", f"Invalid according to Policy: {reason}", 403)


def _invalid(reason: str) -> ServiceError:
    return ServiceError("InvalidPolicyDocument", f"Invalid Policy: {reason}", 400)


@dataclass
class SizeRange:
    low: int
    high: int


def _format(condition: Any) -> str:
    if isinstance(condition, dict):
        (name, value), = condition.items()
        condition = ["eq", f"${name}", value]
    return json.dumps(condition)


def _parse_expiration(value: Any) -> float:
    if not isinstance(value, str):
        raise _invalid("Invalid 'expiration' value: " + json.dumps(value))
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _invalid(f"Invalid 'expiration' value: '{value}'") from None


def check_policy(encoded: str, fields: dict[str, str], bucket: str, now: float) -> SizeRange | None:
    """Raise AccessDenied unless the policy allows these fields now; return its content-length-range."""
    try:
        policy = safejson.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise _invalid("Invalid JSON.") from None
    if not isinstance(policy, dict):
        raise _invalid("Invalid JSON.")
    if "expiration" not in policy:
        raise _invalid("Policy missing expiration.")
    if now > _parse_expiration(policy["expiration"]):
        raise _denied("Policy expired.")
    conditions = policy.get("conditions")
    if not isinstance(conditions, list):
        raise _invalid("Policy missing conditions.")
    values = {**fields, "bucket": bucket}
    covered: set[str] = set()
    size: SizeRange | None = None
    for condition in conditions:
        if isinstance(condition, dict) and len(condition) == 1:
            (name, expected), = condition.items()
            op, name = "eq", str(name).lower()
        elif isinstance(condition, list) and len(condition) == 3 and str(condition[0]).lower() == "content-length-range":
            try:
                size = SizeRange(int(condition[1]), int(condition[2]))
            except (TypeError, ValueError):
                raise _invalid("Invalid content-length-range condition: " + _format(condition)) from None
            continue
        elif isinstance(condition, list) and len(condition) == 3 and isinstance(condition[1], str) \
                and condition[1].startswith("$"):
            op, name, expected = str(condition[0]).lower(), condition[1][1:].lower(), condition[2]
        else:
            raise _invalid("Invalid Policy condition: " + _format(condition))
        actual = values.get(name, "")
        if op == "eq":
            ok = actual == expected
        elif op == "starts-with":
            ok = isinstance(expected, str) and (
                actual.startswith(expected) if name != "content-type"
                else all(part.strip().startswith(expected) for part in actual.split(",")))
        else:
            raise _invalid("Invalid Policy condition: " + _format(condition))
        if not ok:
            raise _denied(f"Policy Condition failed: {_format(condition)}")
        covered.add(name)
    extra = [n for n in fields if n not in covered and n not in _EXEMPT and not n.startswith("x-ignore-")]
    if extra:
        raise _denied(f"Extra input fields: {', '.join(extra)}")
    return size
