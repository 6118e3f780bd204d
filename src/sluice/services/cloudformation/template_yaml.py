"""CloudFormation's YAML: a SafeLoader with the short-form tags (`!Ref`, `!GetAtt a.b`, `!Sub`
...), dates kept as strings, aliases and duplicate keys refused.

A module of its own so that PyYAML is imported when a YAML template is first read, not when the
server starts."""

from __future__ import annotations

from typing import Any

import yaml

from . import errors

# Short tags -> the long form's key. `!GetAtt a.b` is special-cased (a scalar splits on the first dot).
_TAGS = {
    "Ref": "Ref", "Condition": "Condition",
    **{name: f"Fn::{name}" for name in (
        "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap",
        "GetAZs", "ImportValue", "Base64", "Cidr", "Transform", "Length", "ToJsonString")},
}

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


def load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
