"""The intrinsic functions and conditions: a template value with `Ref`, `Fn::*` in it -> a plain value.

Pure functions over a `Scope` (parameters, pseudo parameters, mappings, conditions, and the
deployed resources' Ref values and attributes as the deployer knows them). `Ref: AWS::NoValue`
removes the property or list item it stands for, as CloudFormation does.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import TemplateError

NO_VALUE = object()  # Ref AWS::NoValue: removed from the enclosing dict or list

FUNCTIONS = frozenset({"Ref", "Condition", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::If",
                       "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::FindInMap", "Fn::GetAZs",
                       "Fn::ImportValue", "Fn::Base64", "Fn::Cidr", "Fn::Transform", "Fn::Length",
                       "Fn::ToJsonString"})

PSEUDO = frozenset({"AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::StackId", "AWS::Partition",
                    "AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs"})

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def pseudo_parameters(account: str, region: str, stack_name: str, stack_id: str,
                      notification_arns: list[str] | None = None) -> dict[str, Any]:
    return {
        "AWS::AccountId": account, "AWS::Region": region, "AWS::StackName": stack_name, "AWS::StackId": stack_id,
        "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": notification_arns or [],
    }


def _missing_ref(name: str) -> Any:
    raise TemplateError(f"Unresolved resource dependencies [{name}] in the Resources block of the template")


def _missing_att(name: str, attribute: str) -> Any:
    raise TemplateError(f"Unresolved resource dependencies [{name}] in the Resources block of the template")


def _missing_import(name: str) -> str:
    raise TemplateError(f"No export named {name} found.")


@dataclass
class Scope:
    """What the intrinsic functions see: the stack's parameters, mappings and conditions, and its
    deployed resources."""

    parameters: dict[str, Any]  # name -> value (str, or list[str] for list types)
    pseudo: dict[str, Any]
    mappings: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    ref: Callable[[str], Any] = _missing_ref  # a resource's Ref value
    get_att: Callable[[str, str], Any] = _missing_att
    import_value: Callable[[str], str] = _missing_import

    @property
    def region(self) -> str:
        return str(self.pseudo["AWS::Region"])


def resolve(value: Any, scope: Scope) -> Any:
    """`value` with every intrinsic function evaluated (NO_VALUE where AWS::NoValue stands alone)."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, arg), = value.items()
            if key in FUNCTIONS and key != "Condition":
                return _call(key, arg, scope)
        out = {}
        for k, v in value.items():
            r = resolve(v, scope)
            if r is not NO_VALUE:
                out[k] = r
        return out
    if isinstance(value, list):
        return [r for r in (resolve(v, scope) for v in value) if r is not NO_VALUE]
    return value


def _call(fn: str, arg: Any, scope: Scope) -> Any:
    if fn == "Ref":
        return _ref(arg, scope)
    if fn == "Fn::GetAtt":
        name, attribute = _getatt_args(arg, scope)
        return scope.get_att(name, attribute)
    if fn == "Fn::Sub":
        return _sub(arg, scope)
    if fn == "Fn::Join":
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Fn::Join requires a list of two elements")
        items = resolve(arg[1], scope)
        if not isinstance(items, list):
            raise TemplateError("Fn::Join requires a list of values to join")
        return str(resolve(arg[0], scope)).join(_text(v) for v in items)
    if fn == "Fn::Select":
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Fn::Select requires a list of two elements")
        index, items = resolve(arg[0], scope), resolve(arg[1], scope)
        try:
            i = int(index)
        except (TypeError, ValueError):
            raise TemplateError("Fn::Select index must be an integer") from None
        if not isinstance(items, list) or not 0 <= i < len(items):
            raise TemplateError("Fn::Select cannot select nonexistent value at index " + str(i))
        return items[i]
    if fn == "Fn::Split":
        if not isinstance(arg, list) or len(arg) != 2:
            raise TemplateError("Fn::Split requires a list of two elements")
        return str(resolve(arg[1], scope)).split(str(resolve(arg[0], scope)))
    if fn == "Fn::If":
        if not isinstance(arg, list) or len(arg) != 3:
            raise TemplateError("Fn::If requires a list argument with three elements")
        name = str(arg[0])
        if name not in scope.conditions:
            raise TemplateError(f"Unresolved condition dependency {name} in Fn::If")
        return resolve(arg[1] if scope.conditions[name] else arg[2], scope)
    if fn in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
        return condition_value({fn: arg}, scope)
    if fn == "Fn::FindInMap":
        return _find_in_map(arg, scope)
    if fn == "Fn::GetAZs":
        region = str(resolve(arg, scope) or scope.region)
        return [f"{region}{zone}" for zone in "abc"]  # AWS's zones vary per account; three is typical
    if fn == "Fn::ImportValue":
        return scope.import_value(str(resolve(arg, scope)))
    if fn == "Fn::Base64":
        return base64.b64encode(str(resolve(arg, scope)).encode()).decode()
    if fn == "Fn::Cidr":
        return _cidr(resolve(arg, scope))
    if fn == "Fn::Length":
        items = resolve(arg, scope)
        if not isinstance(items, list):
            raise TemplateError("Fn::Length requires a list")
        return len(items)
    if fn == "Fn::ToJsonString":
        return json.dumps(resolve(arg, scope), separators=(",", ":"))
    raise TemplateError(f"Unsupported function {fn}")  # Fn::Transform: expanded before deploying


def _ref(arg: Any, scope: Scope) -> Any:
    if not isinstance(arg, str):
        raise TemplateError("Every Ref object must have a single String value.")
    if arg == "AWS::NoValue":
        return NO_VALUE
    if arg in scope.pseudo:
        return scope.pseudo[arg]
    if arg in scope.parameters:
        return scope.parameters[arg]
    return scope.ref(arg)


def _getatt_args(arg: Any, scope: Scope) -> tuple[str, str]:
    if isinstance(arg, str):
        name, _, attribute = arg.partition(".")
        return name, attribute
    if isinstance(arg, list) and len(arg) == 2:
        return str(arg[0]), str(resolve(arg[1], scope))
    raise TemplateError("Template error: every Fn::GetAtt object requires two non-empty parameters.")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError("Fn::Join and Fn::Sub can only combine strings")
    return str(value)


def _sub(arg: Any, scope: Scope) -> str:
    if isinstance(arg, str):
        text, variables = arg, {}
    elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
        text, variables = arg[0], {k: resolve(v, scope) for k, v in arg[1].items()}
    else:
        raise TemplateError("One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a"
                            " string as first argument, and an optional second argument to specify a mapping of"
                            " values to replace in the string")

    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        name = name.strip()
        if name in variables:
            return _text(variables[name])
        if name in scope.pseudo or name in scope.parameters:
            value = _ref(name, scope)
            return ",".join(value) if isinstance(value, list) else _text(value)
        if "." in name:
            resource, _, attribute = name.partition(".")
            return _text(scope.get_att(resource, attribute))
        return _text(scope.ref(name))

    return _SUB_VAR.sub(replace, text)


def _find_in_map(arg: Any, scope: Scope) -> Any:
    if not isinstance(arg, list) or len(arg) not in (3, 4):
        raise TemplateError("Fn::FindInMap requires a list of three elements")
    name, top, second = (str(resolve(a, scope)) for a in arg[:3])
    mapping = scope.mappings.get(name)
    if not isinstance(mapping, dict):
        raise TemplateError(f"Unable to get mapping for {name}::{top}::{second}")
    entry = mapping.get(top)
    if isinstance(entry, dict) and second in entry:
        return entry[second]
    if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
        return resolve(arg[3]["DefaultValue"], scope)
    raise TemplateError(f"Unable to get mapping for {name}::{top}::{second}")


def _cidr(arg: Any) -> list[str]:
    if not isinstance(arg, list) or len(arg) != 3:
        raise TemplateError("Fn::Cidr requires a list of three elements")
    try:
        network = ipaddress.ip_network(str(arg[0]), strict=False)
        count, bits = int(arg[1]), int(arg[2])
        prefix = network.max_prefixlen - bits
        subnets = network.subnets(new_prefix=prefix)
        return [str(next(subnets)) for _ in range(count)]
    except (ValueError, StopIteration):
        raise TemplateError("Fn::Cidr: invalid arguments") from None


# -- conditions ----------------------------------------------------------------------------

def condition_value(expr: Any, scope: Scope) -> bool:
    """One condition expression's truth (Fn::Equals/Not/And/Or, {"Condition": name})."""
    if isinstance(expr, dict) and len(expr) == 1:
        (fn, arg), = expr.items()
        if fn == "Condition":
            if str(arg) not in scope.conditions:
                raise TemplateError(f"Unresolved dependencies [{arg}]. Cannot reference resources in the"
                                    " Conditions block of the template")
            return scope.conditions[str(arg)]
        if fn == "Fn::Equals":
            if not isinstance(arg, list) or len(arg) != 2:
                raise TemplateError("Fn::Equals requires a list argument with two elements")
            a, b = (resolve(v, scope) for v in arg)
            return _text_or(a) == _text_or(b)
        if fn == "Fn::Not":
            if not isinstance(arg, list) or len(arg) != 1:
                raise TemplateError("Fn::Not requires a list argument with one function token")
            return not condition_value(arg[0], scope)
        if fn in ("Fn::And", "Fn::Or"):
            if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
                raise TemplateError(f"{fn} requires a list argument with between 2 and 10 function tokens")
            values = (condition_value(a, scope) for a in arg)
            return all(values) if fn == "Fn::And" else any(values)
    raise TemplateError("Conditions can only be boolean operations on parameters and other conditions")


def _text_or(value: Any) -> Any:
    return _text(value) if isinstance(value, (str, int, float, bool)) else value


def evaluate_conditions(conditions: dict[str, Any], scope: Scope) -> dict[str, bool]:
    """Every named condition's value (conditions may use each other, in any order)."""
    done: dict[str, bool] = {}
    visiting: set[str] = set()

    def value(name: str) -> bool:
        if name in done:
            return done[name]
        if name not in conditions:
            raise TemplateError(f"Unresolved dependencies [{name}]. Cannot reference resources in the"
                                " Conditions block of the template")
        if name in visiting:
            raise TemplateError(f"Circular dependency between conditions: [{name}]")
        visiting.add(name)
        inner = Scope(scope.parameters, scope.pseudo, scope.mappings, _Lazy(value))  # type: ignore[arg-type]
        done[name] = condition_value(conditions[name], inner)
        return done[name]

    for name in conditions:
        value(name)
    return done


class _Lazy(dict):  # type: ignore[type-arg]
    """A conditions mapping that evaluates a condition when it is first asked for."""

    def __init__(self, value: Callable[[str], bool]) -> None:
        super().__init__()
        self._value = value

    def __contains__(self, name: object) -> bool:
        return True

    def __getitem__(self, name: str) -> bool:
        return self._value(name)


# -- dependencies --------------------------------------------------------------------------

def references(value: Any, conditions: dict[str, bool] | None = None) -> Iterator[str]:
    """The names `value` refers to with Ref, Fn::GetAtt and Fn::Sub (parameters and pseudo
    parameters included: the caller keeps the resources). With `conditions`, only the branch of
    each Fn::If that applies is looked at."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref" and isinstance(arg, str):
                yield arg
                return
            if key == "Fn::GetAtt":
                if isinstance(arg, str):
                    yield arg.partition(".")[0]
                elif isinstance(arg, list) and arg:
                    yield str(arg[0])
                    yield from references(arg[1:], conditions)
                return
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1]) \
                    if isinstance(arg, list) and len(arg) == 2 else ("", {})
                if isinstance(variables, dict):
                    yield from references(list(variables.values()), conditions)
                for m in _SUB_VAR.finditer(str(text)):
                    name = m.group(1).strip()
                    if name.startswith("!") or (isinstance(variables, dict) and name in variables):
                        continue
                    yield name.partition(".")[0] if "." in name and not name.startswith("AWS::") else name
                return
            if key == "Fn::If" and conditions is not None and isinstance(arg, list) and len(arg) == 3:
                branch = arg[1] if conditions.get(str(arg[0]), False) else arg[2]
                yield from references(branch, conditions)
                return
        for v in value.values():
            yield from references(v, conditions)
    elif isinstance(value, list):
        for v in value:
            yield from references(v, conditions)
