"""The template checks CloudFormation makes before it deploys anything: the sections' shapes and
every intrinsic function's arguments, so that what reaches the deployer is well formed (a
malformed template is a ValidationError to the caller, never a stack stuck half-way)."""

from __future__ import annotations

import re
from typing import Any

from . import errors

_POLICIES = frozenset({"Delete", "Retain", "Snapshot", "RetainExceptOnCreate"})
_CONDITION_FUNCTIONS = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"})


def sections(doc: dict[str, Any]) -> None:
    for section in ("Parameters", "Mappings", "Conditions", "Outputs", "Resources", "Metadata", "Rules"):
        value = doc.get(section)
        if value is not None:
            if not isinstance(value, dict):
                raise errors.template_format(f"{section} must be a JSON object")  # AWS's words for a non-map
            for key in value:
                if not isinstance(key, str):
                    raise errors.template_format(f"Every {section} member name must be a string ({key!r})")
    transform = doc.get("Transform")
    if transform is not None and not isinstance(transform, (str, dict)) and not (
            isinstance(transform, list) and all(isinstance(t, (str, dict)) for t in transform)):
        raise errors.template_format("Transform must be a string or a list of strings")
    _parameters(doc.get("Parameters") or {})
    for name, mapping in (doc.get("Mappings") or {}).items():
        if not isinstance(mapping, dict) or not all(isinstance(v, dict) for v in mapping.values()):
            raise errors.template_format(f"Every Mappings member {name} must be a map")
    for name, condition in (doc.get("Conditions") or {}).items():
        if not isinstance(condition, dict) or len(condition) != 1 or next(iter(condition)) not in _CONDITION_FUNCTIONS:
            raise errors.template_format(f"Condition {name}: Conditions can only be boolean operations on parameters"
                                         " and other conditions")
        functions(condition, f"Conditions/{name}")
    for logical_id, res in doc["Resources"].items():
        _resource(logical_id, res)
    conditions = doc.get("Conditions") or {}
    for name in _if_conditions(doc.get("Resources")) | _if_conditions(doc.get("Outputs")):
        if name not in conditions:
            raise errors.template_error(f"unresolved condition dependency {name} in Fn::If")
    for name, output in (doc.get("Outputs") or {}).items():
        if not isinstance(output, dict) or "Value" not in output:
            raise errors.template_format(f"Every Outputs member must contain a Value object ({name})")
        if "Condition" in output and not isinstance(output["Condition"], str):
            raise errors.template_format(f"Outputs member {name}: Condition must be a string")
        export = output.get("Export")
        if export is not None and (not isinstance(export, dict) or "Name" not in export):
            raise errors.template_format(f"Output {name} is malformed. The Export field must contain a Name")
        functions(output, f"Outputs/{name}")


def _parameters(declarations: dict[str, Any]) -> None:
    for name, decl in declarations.items():
        if not isinstance(decl, dict) or not isinstance(decl.get("Type"), str):
            raise errors.template_format(f"Every Parameters object must contain a Type member. ({name})")
        if "AllowedValues" in decl and not isinstance(decl["AllowedValues"], list):
            raise errors.template_format(f"Parameter {name}: AllowedValues must be a list")
        if "Default" in decl and isinstance(decl["Default"], dict):
            raise errors.template_format(f"Parameter {name}: Default must be a string, a number or a list")
        for key in ("MinLength", "MaxLength", "MinValue", "MaxValue"):
            if key in decl:
                try:
                    float(decl[key])
                except (TypeError, ValueError):
                    raise errors.template_format(f"Parameter {name}: {key} must be a number") from None
        if "AllowedPattern" in decl:
            try:
                re.compile(str(decl["AllowedPattern"]))
            except re.error:
                raise errors.template_format(f"Parameter {name}: AllowedPattern is not a valid pattern") from None


def _resource(logical_id: str, res: Any) -> None:
    where = f"Resources/{logical_id}"
    depends = res.get("DependsOn")
    if depends is not None and not isinstance(depends, str) and not (
            isinstance(depends, list) and all(isinstance(d, str) for d in depends)):
        raise errors.template_format(f"[/{where}/DependsOn] DependsOn must be a string or a list of strings")
    if "Condition" in res and not isinstance(res["Condition"], str):
        raise errors.template_format(f"[/{where}/Condition] Condition must be a string")
    for key in ("DeletionPolicy", "UpdateReplacePolicy"):
        if key in res and (not isinstance(res[key], str) or res[key] not in _POLICIES):
            raise errors.template_format(f"Unrecognized {key} {res[key]} for resource {logical_id}")
    functions(res.get("Properties"), where)


def functions(value: Any, where: str) -> None:
    """Every intrinsic function in `value` has arguments of the shape CloudFormation accepts."""
    if isinstance(value, list):
        for item in value:
            functions(item, where)
        return
    if not isinstance(value, dict):
        return
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" or key.startswith("Fn::"):
            _arguments(key, arg, where)
    for item in value.values():
        functions(item, where)


def _arguments(fn: str, arg: Any, where: str) -> None:
    def fail(shape: str) -> None:
        raise errors.template_error(f"every {fn} object requires {shape} ({where})")

    def is_function(v: Any) -> bool:
        return isinstance(v, dict) and len(v) == 1 and (next(iter(v)) == "Ref" or next(iter(v)).startswith("Fn::"))

    def text_or_function(v: Any) -> bool:
        return isinstance(v, (str, int, float)) and not isinstance(v, bool) or is_function(v)

    if fn == "Fn::Transform":
        raise errors.validation("Fn::Transform (macros such as AWS::Include) is not supported by Sluice")
    if fn == "Ref":
        if not isinstance(arg, str):
            fail("a single string value")
    elif fn == "Fn::GetAtt":
        ok = (isinstance(arg, str) and "." in arg) or (
            isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and text_or_function(arg[1]))
        if not ok:
            fail("two non-empty parameters, the resource name and the attribute")
    elif fn == "Fn::Sub":
        if not (isinstance(arg, str) or (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)
                                         and isinstance(arg[1], dict))):
            fail("a string, or a list of a string and a map of variables")
    elif fn == "Fn::Join":
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)
                and (isinstance(arg[1], list) or is_function(arg[1]))):
            fail("two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function"
                 " that returns a list of strings")
    elif fn == "Fn::Select":
        if not (isinstance(arg, list) and len(arg) == 2 and text_or_function(arg[0])
                and (isinstance(arg[1], list) or is_function(arg[1]))):
            fail("two parameters, an index and a list of objects or a function that returns a list")
    elif fn == "Fn::Split":
        if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and text_or_function(arg[1])):
            fail("two parameters, (1) a string delimiter and (2) a string or a function that returns a string")
    elif fn == "Fn::If":
        if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            fail("three parameters, a condition name and two values")
    elif fn == "Fn::Equals":
        if not (isinstance(arg, list) and len(arg) == 2):
            fail("two parameters")
    elif fn == "Fn::Not":
        if not (isinstance(arg, list) and len(arg) == 1):
            fail("one parameter in a list")
    elif fn in ("Fn::And", "Fn::Or"):
        if not (isinstance(arg, list) and 2 <= len(arg) <= 10):
            fail("between 2 and 10 parameters")
    elif fn == "Fn::FindInMap":
        if not (isinstance(arg, list) and len(arg) in (3, 4) and all(text_or_function(a) for a in arg[:3])):
            fail("three parameters, the map name, map key and the attribute for return value")
    elif fn in ("Fn::GetAZs", "Fn::ImportValue", "Fn::Base64"):
        if not text_or_function(arg):
            fail("a string or a function that returns one")
    elif fn == "Fn::Cidr" and not (isinstance(arg, list) and len(arg) == 3):
        fail("three parameters, the IP block, the count and the CIDR bits")


def _if_conditions(value: Any) -> set[str]:
    """The condition names Fn::If uses in `value`."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _if_conditions(item)
    elif isinstance(value, dict):
        arg = value.get("Fn::If") if len(value) == 1 else None
        if isinstance(arg, list) and arg and isinstance(arg[0], str):
            found.add(arg[0])
        for item in value.values():
            found |= _if_conditions(item)
    return found


def imported_names(value: Any) -> set[str]:
    """The export names `value` imports by literal name (Fn::ImportValue of a plain string)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= imported_names(item)
    elif isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("Fn::ImportValue"), str):
            found.add(value["Fn::ImportValue"])
        for item in value.values():
            found |= imported_names(item)
    return found
