"""A template made ready to deploy: parameter values, conditions, the resources that apply, and
their dependency order (Ref / Fn::GetAtt / Fn::Sub / DependsOn)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import errors, parameters
from .errors import TemplateError
from .intrinsics import PSEUDO, Scope, evaluate_conditions, references


@dataclass
class Plan:
    """A template made ready to deploy: the resources that apply and the order to deploy them in."""

    template: dict[str, Any]
    values: dict[str, str]  # parameter name -> raw value
    params: dict[str, Any]  # parameter name -> Ref value
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]  # logical id -> definition, for the resources whose Condition holds
    deps: dict[str, set[str]]  # logical id -> the resources it needs first
    order: list[str]  # every resource after the ones it needs

    def scope(self, pseudo: dict[str, Any]) -> Scope:
        return Scope(self.params, pseudo, self.template.get("Mappings") or {}, self.conditions)


def make_plan(template: dict[str, Any], values: dict[str, str], pseudo: dict[str, Any]) -> Plan:
    """The plan for `template` with parameter `values` (already checked by parameters.effective);
    ValidationError for what CloudFormation refuses before it starts."""
    declarations = template.get("Parameters") or {}
    params = parameters.typed(declarations, values)
    scope = Scope(params, pseudo, template.get("Mappings") or {})
    try:
        conditions = evaluate_conditions(template.get("Conditions") or {}, scope)
    except TemplateError as err:
        raise errors.template_format(str(err)) from None
    all_resources: dict[str, dict[str, Any]] = template["Resources"]
    resources = {}
    for name, res in all_resources.items():
        cond = res.get("Condition")
        if cond is not None:
            if str(cond) not in conditions:
                raise errors.template_format(f"Unresolved dependencies [{cond}]. Cannot reference resources in"
                                             " the Conditions block of the template")
            if not conditions[str(cond)]:
                continue
        resources[name] = res
    known = set(params) | PSEUDO
    deps: dict[str, set[str]] = {}
    unresolved: set[str] = set()
    for name, res in resources.items():
        needed = set()
        for ref in references(res.get("Properties") or {}, conditions):
            if ref in known:
                continue
            if ref in resources:
                needed.add(ref)
            else:
                unresolved.add(ref)
        depends = res.get("DependsOn") or []
        for dep in [depends] if isinstance(depends, str) else depends:
            if dep not in resources:
                raise errors.template_format(f"Unresolved resource dependencies [{dep}] in the Resources block of"
                                             " the template")
            needed.add(str(dep))
        deps[name] = needed
    for output in (template.get("Outputs") or {}).values():
        if isinstance(output, dict) and (output.get("Condition") is None or conditions.get(str(output["Condition"]))):
            unresolved.update(r for r in references(output.get("Value"), conditions)
                              if r not in known and r not in resources)
    if unresolved:
        raise errors.template_format(f"Unresolved resource dependencies [{', '.join(sorted(unresolved))}] in the"
                                     " Resources block of the template")
    return Plan(template, values, params, conditions, resources, deps, _order(deps))


def _order(deps: dict[str, set[str]]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):]
            raise errors.template_format(f"Circular dependency between resources: [{', '.join(sorted(cycle))}]")
        state[name] = 1
        for dep in sorted(deps[name]):
            visit(dep, [*path, name])
        state[name] = 2
        order.append(name)

    for name in deps:
        visit(name, [])
    return order
