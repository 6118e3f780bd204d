"""Whether a bucket policy is "public", as S3 decides it for GetBucketPolicyStatus and Block
Public Access: an Allow statement that grants to everyone (a wildcard principal) without a
condition that pins the caller down to fixed values.

AWS's rule ("The meaning of public"): a policy is non-public only if every Allow statement names
fixed principals, or carries a condition with a fixed (wildcard-free) value on one of the keys
that identify the caller or its network: aws:SourceArn, aws:SourceVpc, aws:SourceVpce,
aws:SourceAccount, aws:SourceOwner, aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn,
aws:userid, aws:PrincipalServiceName, s3:DataAccessPointArn, s3:DataAccessPointAccount, or
aws:SourceIp with a range narrower than the whole address space.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

_FIXING_KEYS = {"aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount", "aws:sourceowner",
                "aws:principalorgid", "aws:principalaccount", "aws:principalarn", "aws:userid",
                "aws:principalservicename", "s3:dataaccesspointarn", "s3:dataaccesspointaccount"}
# Operators whose values are matched literally (StringLike and ArnLike treat "*" as a wildcard).
_NEGATED = ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike", "NotIpAddress")


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any("*" in str(v) for k, values in principal.items() if k != "Service" for v in _values(values))
    return False


def _narrow_ip(value: str) -> bool:
    try:
        return ipaddress.ip_network(value, strict=False).prefixlen > 0
    except ValueError:
        return False


def _pins_caller(conditions: Any) -> bool:
    if not isinstance(conditions, dict):
        return False
    for operator, block in conditions.items():
        if not isinstance(block, dict) or str(operator).startswith(_NEGATED) or "IfExists" in str(operator):
            continue
        for key, value in block.items():
            values = [str(v) for v in _values(value)]
            if not values:
                continue
            name = str(key).lower()
            if name == "aws:sourceip" and all(_narrow_ip(v) for v in values):
                return True
            if name in _FIXING_KEYS and not any("*" in v or "?" in v for v in values):
                return True
    return False


def policy_is_public(text: str) -> bool:
    try:
        document = json.loads(text)
    except ValueError:
        return False
    statements = document.get("Statement") if isinstance(document, dict) else None
    for s in _values(statements):
        if not isinstance(s, dict) or s.get("Effect") != "Allow":
            continue
        if _wildcard_principal(s.get("Principal")) and not _pins_caller(s.get("Condition")):
            return True
    return False
