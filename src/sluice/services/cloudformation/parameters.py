"""Template parameters: the values a stack gets (given, previous, or default) and their checks."""

from __future__ import annotations

import re
from typing import Any

from . import errors

MASK = "****"
_LIST_TYPES = ("List<Number>", "CommaDelimitedList")
_BASIC = ("String", "Number", *_LIST_TYPES)


def declared_type(decl: dict[str, Any]) -> str:
    return str(decl.get("Type", ""))


def check_declarations(declarations: dict[str, Any]) -> None:
    """Refuse a parameter type CloudFormation does not know (or that Sluice cannot resolve)."""
    for name, decl in declarations.items():
        if not isinstance(decl, dict) or "Type" not in decl:
            raise errors.template_format(f"Every Parameters object must contain a Type member. ({name})")
        kind = declared_type(decl)
        if kind.startswith("AWS::SSM::Parameter::"):
            # Resolving them needs SSM Parameter Store, which Sluice does not have: say so plainly.
            raise errors.validation(f"Parameter '{name}' has type {kind}: SSM parameter types are not supported"
                                    " by Sluice (no SSM Parameter Store); use a String parameter instead")
        if kind in _BASIC or kind.startswith("AWS::") or (kind.startswith("List<AWS::") and kind.endswith(">")):
            continue
        raise errors.template_format(f"Unrecognized parameter type: {kind}")


def effective(declarations: dict[str, Any], given: list[dict[str, Any]] | None,
              previous: dict[str, str] | None = None) -> dict[str, str]:
    """name -> raw string value for every declared parameter: given, else previous (with
    UsePreviousValue), else Default; checked against the declaration."""
    values: dict[str, str] = {}
    for item in given or []:
        key = item.get("ParameterKey")
        if key is None:
            continue
        if key not in declarations:
            raise errors.validation(f"Parameters: [{key}] do not exist in the template")
        if item.get("UsePreviousValue"):
            if previous is None or key not in previous:
                raise errors.validation(f"Invalid input for parameter key {key}. Cannot specify usePreviousValue"
                                        " as true for a parameter key not in the previous template")
            values[key] = previous[key]
        elif item.get("ParameterValue") is not None:
            values[key] = str(item["ParameterValue"])
    missing = []
    for name, decl in declarations.items():
        if name in values:
            continue
        if "Default" in decl:
            default = decl["Default"]
            values[name] = ",".join(str(v) for v in default) if isinstance(default, list) else _plain(default)
        else:
            missing.append(name)
    if missing:
        raise errors.validation(f"Parameters: [{', '.join(missing)}] must have values")
    for name, decl in declarations.items():
        _check(name, decl, values[name])
    return values


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(name: str, decl: dict[str, Any], value: str) -> None:
    kind = declared_type(decl)
    description = decl.get("ConstraintDescription")

    def fail(default_message: str) -> None:
        raise errors.validation(f"Parameter '{name}' {description}" if description else default_message)

    items = [v.strip() for v in value.split(",")] if kind in _LIST_TYPES or kind.startswith("List<") else [value]
    for item in items:
        if kind in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                raise errors.validation(f"Parameter '{name}' must be a number.") from None
            if "MinValue" in decl and number < float(decl["MinValue"]):
                fail(f"Parameter '{name}' must be a number not less than {decl['MinValue']}")
            if "MaxValue" in decl and number > float(decl["MaxValue"]):
                fail(f"Parameter '{name}' must be a number not greater than {decl['MaxValue']}")
    if "AllowedValues" in decl:
        allowed = [_plain(v) for v in decl["AllowedValues"]]
        for item in items:
            if item not in allowed:
                fail(f"Parameter '{name}' must be one of AllowedValues")
    if kind == "String":
        if "MinLength" in decl and len(value) < int(decl["MinLength"]):
            fail(f"Parameter '{name}' must contain at least {decl['MinLength']} characters")
        if "MaxLength" in decl and len(value) > int(decl["MaxLength"]):
            fail(f"Parameter '{name}' must contain at most {decl['MaxLength']} characters")
        if "AllowedPattern" in decl and not re.fullmatch(str(decl["AllowedPattern"]), value):
            fail(f"Parameter '{name}' must match pattern {decl['AllowedPattern']}")


def typed(declarations: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """What `Ref` gives for each parameter: a string, or a list of strings for list types."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind = declared_type(declarations.get(name, {}))
        if kind in _LIST_TYPES or kind.startswith("List<"):
            out[name] = [v.strip() for v in value.split(",")] if value else []
        else:
            out[name] = value
    return out


def shown(declarations: dict[str, Any], values: dict[str, str]) -> list[dict[str, str]]:
    """DescribeStacks' Parameters: NoEcho values masked."""
    return [{"ParameterKey": k, "ParameterValue": MASK if _no_echo(declarations.get(k, {})) else v}
            for k, v in values.items()]


def _no_echo(decl: dict[str, Any]) -> bool:
    return str(decl.get("NoEcho", "false")).lower() == "true"


def secrets(declarations: dict[str, Any], values: dict[str, str]) -> set[str]:
    """The NoEcho parameters' values (masked wherever the stack is described)."""
    return {v for k, v in values.items() if v and _no_echo(declarations.get(k, {}))}


def masked(value: Any, hidden: set[str]) -> Any:
    """`value` with every NoEcho value in its strings shown as ****."""
    if not hidden:
        return value
    if isinstance(value, str):
        for secret in hidden:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, list):
        return [masked(v, hidden) for v in value]
    if isinstance(value, dict):
        return {k: masked(v, hidden) for k, v in value.items()}
    return value
