"""A change set's changes: the deployed resources against a template about to replace theirs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import TemplateError
from .intrinsics import resolve
from .plan import Plan
from .records import Resource

_UNKNOWN = "{{sluice:unknown}}"  # a value known only once a resource is made (it is new or replaced)


def changes(plan: Plan, pseudo: dict[str, Any], rows: list[Resource], old_template: dict[str, Any] | None,
            replace_on: Callable[[str], frozenset[str] | None]) -> list[dict[str, Any]]:
    """CloudFormation's `Changes` (Type Resource): Add, Modify (with each changed property and
    whether it replaces the resource), Remove."""
    deployed = {r.logical_id: r for r in rows if r.physical_id is not None and r.status not in
                ("DELETE_COMPLETE", "DELETE_SKIPPED")}
    old_resources = (old_template or {}).get("Resources") or {}
    scope = plan.scope(pseudo)
    replaced: set[str] = set()

    def ref(name: str) -> Any:
        row = deployed.get(name)
        return row.ref if row is not None and name not in replaced else _UNKNOWN

    def get_att(name: str, attribute: str) -> Any:
        row = deployed.get(name)
        if row is None or name in replaced:
            return _UNKNOWN
        return row.attributes.get(attribute, _UNKNOWN)

    scope.ref, scope.get_att = ref, get_att
    scope.import_value = lambda name: _UNKNOWN
    out: list[dict[str, Any]] = []
    for name in plan.order:
        definition = plan.resources[name]
        kind = str(definition["Type"])
        row = deployed.get(name)
        if row is None:
            out.append(_change("Add", name, kind, None))
            continue
        if row.type != kind:
            replaced.add(name)
            out.append(_change("Modify", name, kind, row.physical_id, replacement="True", scope_=["Properties"],
                               details=[]))
            continue
        try:
            new = resolve(definition.get("Properties") or {}, scope)
        except TemplateError:
            new = definition.get("Properties") or {}
        old = row.properties or {}
        raw_old = (old_resources.get(name) or {}).get("Properties") or {}
        raw_new = definition.get("Properties") or {}
        forcing = replace_on(kind) or frozenset()
        details: list[dict[str, Any]] = []
        replacement = "False"
        for key in sorted(set(old) | set(new)):
            if old.get(key) == new.get(key):
                continue
            dynamic = _UNKNOWN in repr(new.get(key))
            always = key in forcing
            if always:
                replacement = "Conditional" if dynamic and replacement != "True" else "True"
            # Tags are their own scope on AWS (Target Attribute "Tags", no Name).
            target = {"Attribute": "Tags"} if key == "Tags" else {"Attribute": "Properties", "Name": key}
            details.append({
                "Target": {**target, "RequiresRecreation": "Always" if always else "Never"},
                "Evaluation": "Dynamic" if dynamic else "Static",
                "ChangeSource": "ResourceReference" if dynamic else
                ("DirectModification" if raw_old.get(key) != raw_new.get(key) else "ParameterReference"),
            })
        if details:
            if replacement == "True":
                replaced.add(name)
            scopes = sorted({d["Target"]["Attribute"] for d in details})
            out.append(_change("Modify", name, kind, row.physical_id, replacement=replacement,
                               scope_=scopes, details=details))
    for name, row in deployed.items():
        if name not in plan.resources:
            out.append(_change("Remove", name, row.type, row.physical_id))
    return out


def _change(action: str, name: str, kind: str, physical_id: str | None, *, replacement: str | None = None,
            scope_: list[str] | None = None, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {"Action": action, "LogicalResourceId": name, "ResourceType": kind,
                              "Scope": scope_ or [], "Details": details or []}
    if physical_id is not None:
        change["PhysicalResourceId"] = physical_id
    if replacement is not None:
        change["Replacement"] = replacement
    return {"Type": "Resource", "ResourceChange": change}
