"""What a target receives: the event, `Input`, `InputPath` or `InputTransformer`. Pure functions.

- No input setting: the whole event, as compact JSON.
- `Input`: that text, as given.
- `InputPath`: the JSON value at a JSONPath (`$`, `$.detail`, `$.detail.items[0]`, `$['a b']`),
  as JSON (a string value arrives quoted: `"baz"`; a path the event lacks gives `null`).
- `InputTransformer`: `InputPathsMap` names JSONPaths; `InputTemplate` uses them as `<name>`,
  besides the predefined `<aws.events.rule-arn>`, `<aws.events.rule-name>`,
  `<aws.events.event.ingestion-time>`, `<aws.events.event>` (the envelope without `detail`) and
  `<aws.events.event.json>` (the whole event). Substitution depends on where the placeholder sits:
  * in a JSON template (starting with `{` or `[`) outside quotes: the value as JSON (a string
    gets its quotes);
  * inside quotes (in a JSON template, or a template that is one JSON string `"..."`): the value's
    text, escaped for the string it lands in;
  * in any other template (plain text): the value's text as is.
  A path that is not in the event gives an empty string (`""` outside quotes), as AWS does.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "MISSING", "TransformError", "compact", "json_path", "parse_path", "placeholders", "render_template",
    "target_input",
]

MISSING: Any = object()
PREDEFINED = (
    "aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time",
    "aws.events.event", "aws.events.event.json",
)
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


class TransformError(ValueError):
    pass


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- JSONPath (the subset EventBridge documents: child names and array indexes) ----------------

def parse_path(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise TransformError(f"{path} is not a JSONPath starting with $")
    steps: list[str | int] = []
    i, n = 1, len(path)
    while i < n:
        c = path[i]
        if c == ".":
            j = i + 1
            while j < n and path[j] not in ".[":
                j += 1
            name = path[i + 1:j]
            if not name or name == "*":
                raise TransformError(f"unsupported JSONPath step in {path}")
            steps.append(name)
            i = j
        elif c == "[":
            j = path.find("]", i)
            if j < 0:
                raise TransformError(f"unterminated [ in {path}")
            inner = path[i + 1:j].strip()
            if inner.isdigit():
                steps.append(int(inner))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                steps.append(inner[1:-1])
            else:
                raise TransformError(f"unsupported JSONPath step [{inner}] in {path}")
            i = j + 1
        else:
            raise TransformError(f"unexpected {c!r} in {path}")
    return steps


def json_path(document: Any, path: str) -> Any:
    """The value at `path`, or MISSING."""
    value = document
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return MISSING
            value = value[step]
    return value


# -- input templates -------------------------------------------------------------------------

def placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def _text(value: Any) -> str:
    if value is MISSING:
        return ""
    return value if isinstance(value, str) else compact(value)


def render_template(template: str, values: dict[str, Any]) -> str:
    """Substitute `<name>` in `template`; names not in `values` are left as they are."""
    stripped = template.lstrip()
    structured = stripped[:1] in ("{", "[", '"')
    out: list[str] = []
    in_string = False
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c == "<":
            m = _PLACEHOLDER.match(template, i)
            if m and m.group(1) in values:
                value = values[m.group(1)]
                if not structured:
                    out.append(_text(value))
                elif in_string:
                    out.append(json.dumps(_text(value), ensure_ascii=False)[1:-1])
                else:
                    out.append('""' if value is MISSING else compact(value))
                i = m.end()
                continue
        if structured:
            if c == "\\" and in_string and i + 1 < n:
                out.append(template[i:i + 2])
                i += 2
                continue
            if c == '"':
                in_string = not in_string
        out.append(c)
        i += 1
    return "".join(out)


def envelope_without_detail(event: dict[str, Any]) -> dict[str, Any]:
    """`<aws.events.event>`: what AWS gives (detail-type as detailType, no detail)."""
    return {
        "id": event.get("id"), "account": event.get("account"), "detailType": event.get("detail-type"),
        "time": event.get("time"), "source": event.get("source"), "region": event.get("region"),
        "resources": event.get("resources", []), "version": event.get("version"),
    }


def target_input(target: dict[str, Any], event: dict[str, Any], *, rule_arn: str, rule_name: str,
                 ingestion_time: str) -> str:
    """The body a target receives for `event`."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath") is not None:
        try:
            value = json_path(event, target["InputPath"])
        except TransformError:
            value = MISSING
        # A path the event lacks: JSON null (unconfirmed; an empty body could not reach SQS).
        return "null" if value is MISSING else compact(value)
    transformer = target.get("InputTransformer")
    if transformer:
        values: dict[str, Any] = {
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_name,
            "aws.events.event.ingestion-time": ingestion_time,
            "aws.events.event": envelope_without_detail(event),
            "aws.events.event.json": event,
        }
        for name, path in (transformer.get("InputPathsMap") or {}).items():
            try:
                values[name] = json_path(event, path)
            except TransformError:
                values[name] = MISSING
        return render_template(transformer.get("InputTemplate", ""), values)
    return compact(event)
