"""Function names, ARNs and qualifiers, as Lambda accepts them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...protocol.errors import ServiceError

_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
_QUALIFIER = re.compile(r"^(\$LATEST|[0-9]+|[a-zA-Z0-9-_]+)$")
_FULL = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:(?P<name>[^:]+)(:(?P<q>[^:]+))?$"
)
_PARTIAL = re.compile(r"^(?P<account>\d{12}):function:(?P<name>[^:]+)(:(?P<q>[^:]+))?$")
_SHORT = re.compile(r"^(?P<name>[^:]+)(:(?P<q>[^:]+))?$")

LATEST = "$LATEST"


@dataclass(frozen=True)
class FunctionRef:
    """A function as a request names it (name, partial or full ARN), with its qualifier if any."""

    name: str
    qualifier: str | None
    account: str | None = None
    region: str | None = None


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message)


def parse_function_name(value: str, qualifier: str | None = None) -> FunctionRef:
    """Accept `name`, `name:qualifier`, `account:function:name[:q]` or a full ARN."""
    m = _FULL.match(value) or _PARTIAL.match(value) or _SHORT.match(value)
    if m is None or not _NAME.match(m.group("name")):
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
            "([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
        )
    derived = m.group("q")
    if derived and qualifier and derived != qualifier:
        raise invalid("The derived qualifier from the function name does not match the specified qualifier.")
    q = derived or qualifier
    if q is not None and not _QUALIFIER.match(q):
        raise ServiceError("ValidationException",
                           f"1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: "
                           "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)")
    groups = m.groupdict()
    return FunctionRef(m.group("name"), q, groups.get("account"), groups.get("region"))


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn
