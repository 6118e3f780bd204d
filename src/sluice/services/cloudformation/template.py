"""Reading a template: JSON or YAML (with the short-form tags `!Ref`, `!GetAtt a.b`, `!Sub` ...),
into plain dicts and lists with the long-form intrinsic functions, and its first checks."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from . import errors, validate

# Short tags -> the long form's key. `!GetAtt a.b` is special-cased (a scalar splits on the first dot).
_TAGS = {
    "Ref": "Ref", "Condition": "Condition",
    **{name: f"Fn::{name}" for name in (
        "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap",
        "GetAZs", "ImportValue", "Base64", "Cidr", "Transform", "Length", "ToJsonString")},
}

TOP_LEVEL = frozenset({"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings",
                       "Conditions", "Transform", "Resources", "Outputs", "Hooks"})


class _Loader(yaml.SafeLoader):
    """SafeLoader with CloudFormation's tags; dates stay strings ("2010-09-09" is a version, not a
    date), as CloudFormation reads them; aliases are refused, as CloudFormation refuses them."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise errors.template_format(f"YAML aliases are not allowed in CloudFormation templates"
                                         f" (line {mark.line + 1}, column {mark.column + 1})")
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct(tag: str) -> Any:
    key = _TAGS[tag]

    def build(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt":
                resource, _, attribute = str(value).partition(".")
                value = [resource, attribute]
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return build


for _tag in _TAGS:
    _Loader.add_constructor(f"!{_tag}", _construct(_tag))


def _no_duplicates(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise errors.template_format(f"YAML not well-formed. (line {key_node.start_mark.line + 1},"
                                         f" column {key_node.start_mark.column + 1})")
        if key in seen:
            raise errors.template_format(f"Duplicate key '{key}' (line {key_node.start_mark.line + 1},"
                                         f" column {key_node.start_mark.column + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


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
        try:
            doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
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
