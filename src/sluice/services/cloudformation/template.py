"""Reading a template: JSON or YAML (with the short-form tags `!Ref`, `!GetAtt a.b`, `!Sub` ...),
into plain dicts and lists with the long-form intrinsic functions, and its first checks."""

from __future__ import annotations

import json
import re
from typing import Any

from . import errors, validate

TOP_LEVEL = frozenset({"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings",
                       "Conditions", "Transform", "Resources", "Outputs", "Hooks"})
MAX_RESOURCES = 500  # CloudFormation's quota of resources in a template (checked after a transform too)


def parse(body: str) -> dict[str, Any]:
    """The template `body` as a dict (JSON if it looks like JSON, else YAML), or
    ValidationError "Template format error: ..." as CloudFormation words it."""
    text = body.strip()
    if not text:
        raise errors.validation("Template format error: unsupported structure.")
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise errors.template_format(f"JSON not well-formed. (line {err.lineno},  column {err.colno})") from None
    else:
        import yaml  # with the YAML loader: on the first YAML template, not at start-up

        from . import template_yaml

        try:
            doc = template_yaml.load(text)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            raise errors.template_format(f"YAML not well-formed.{where}") from None
        except yaml.YAMLError:
            raise errors.template_format("YAML not well-formed.") from None
    if not isinstance(doc, dict):
        raise errors.validation("Template format error: unsupported structure.")
    return check(doc)


def check(doc: dict[str, Any]) -> dict[str, Any]:
    """The structural checks CloudFormation makes before anything else."""
    # `Globals` is SAM's: allowed in a template the SAM transform expands (which removes it).
    sam = "AWS::Serverless-2016-10-31" in transforms(doc)
    unknown = sorted(str(k) for k in doc if k not in TOP_LEVEL and not (sam and k == "Globals"))
    if unknown:
        raise errors.template_format(f"Invalid template property or properties [{', '.join(unknown)}]")
    version = doc.get("AWSTemplateFormatVersion")
    if version is not None and str(version) != "2010-09-09":
        raise errors.template_format(f"'{version}' is not a valid AWSTemplateFormatVersion value")
    resources = doc.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise errors.template_format("At least one Resources member must be defined.")
    if len(resources) > MAX_RESOURCES:
        raise errors.template_format(
            f"Number of resources, {len(resources)}, is greater than maximum allowed, {MAX_RESOURCES}")
    for logical_id, res in resources.items():
        if str(logical_id).startswith("Fn::ForEach") and "AWS::LanguageExtensions" in transforms(doc):
            raise errors.validation("Fn::ForEach (AWS::LanguageExtensions) is not supported by Sluice")
        if not _LOGICAL_ID.fullmatch(str(logical_id)):
            raise errors.template_format(f"Resource name {logical_id} is non alphanumeric.")
        if not isinstance(res, dict):
            raise errors.template_format(f"[/Resources/{logical_id}] resource definition is malformed")
        if "Type" not in res or not isinstance(res["Type"], str):
            raise errors.template_format(f"[/Resources/{logical_id}] Every Resources object must contain a Type member.")
        props = res.get("Properties")
        if props is not None and not isinstance(props, dict):
            raise errors.template_format(f"[/Resources/{logical_id}/Properties] 'null' values are not allowed in templates")
    validate.sections(doc)
    return doc


_LOGICAL_ID = re.compile(r"[A-Za-z0-9]+")


def transforms(doc: dict[str, Any]) -> list[str]:
    value = doc.get("Transform")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value.get("Name", ""))] if isinstance(value, dict) else []
