"""GetTemplate, GetTemplateSummary, ValidateTemplate, ListExports, ListImports."""

from __future__ import annotations

import json
from typing import Any

from ...protocol.context import RequestContext
from . import errors, records, template
from .intake import Intake
from .parameters import check_declarations
from .shared import Shared


class TemplateApi:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    def get_template(self, ctx: RequestContext, StackName: str | None = None, ChangeSetName: str | None = None,
                     TemplateStage: str | None = None, **_: Any) -> dict[str, Any]:
        if ChangeSetName:
            found = records.change_set_by_id(self.db.reader, ChangeSetName) if ChangeSetName.startswith("arn:") \
                else None
            if found is None:
                stack = self.shared.stack(ctx, StackName, deleted_ok=True)
                found = records.change_set_by_name(self.db.reader, stack.stack_id, ChangeSetName)
            if found is None:
                raise errors.change_set_missing(ChangeSetName)
            body, processed = found.body, found.template
        else:
            stack = self.shared.stack(ctx, StackName, deleted_ok=True)
            body, processed = stack.body, stack.template
        stages = ["Original"]
        if template.transforms(template.parse(body)):
            stages.append("Processed")
        if TemplateStage == "Processed":
            return {"TemplateBody": json.dumps(processed), "StagesAvailable": stages}
        return {"TemplateBody": body, "StagesAvailable": stages}

    def _intake(self, ctx: RequestContext, body: str | None, url: str | None, stack_name: str | None,
                expand: bool) -> Intake:
        if stack_name and body is None and url is None:
            stack = self.shared.stack(ctx, stack_name, deleted_ok=True)
            return Intake(stack.body, stack.options.get("original") or stack.template, stack.template)
        return self.shared.templates.read(ctx, body, url, expand=expand)

    def validate_template(self, ctx: RequestContext, TemplateBody: str | None = None, TemplateURL: str | None = None,
                          **_: Any) -> dict[str, Any]:
        intake = self._intake(ctx, TemplateBody, TemplateURL, None, expand=False)
        doc = intake.original
        declarations = doc.get("Parameters") or {}
        check_declarations(declarations)
        out: dict[str, Any] = {"Parameters": _parameters(declarations)}
        if doc.get("Description"):
            out["Description"] = doc["Description"]
        caps = _capabilities(doc)
        if caps:
            out["Capabilities"] = caps[0]
            out["CapabilitiesReason"] = caps[1]
        transforms = template.transforms(doc)
        if transforms:
            out["DeclaredTransforms"] = transforms
        return out

    def get_template_summary(self, ctx: RequestContext, TemplateBody: str | None = None,
                             TemplateURL: str | None = None, StackName: str | None = None,
                             **_: Any) -> dict[str, Any]:
        intake = self._intake(ctx, TemplateBody, TemplateURL, StackName, expand=True)
        doc = intake.processed
        declarations = doc.get("Parameters") or {}
        out: dict[str, Any] = {
            "Parameters": [{**p, "ParameterType": str(declarations[p["ParameterKey"]].get("Type")),
                            "ParameterConstraints": ({"AllowedValues": [str(v) for v in
                                                                        declarations[p["ParameterKey"]]["AllowedValues"]]}
                                                     if "AllowedValues" in declarations[p["ParameterKey"]] else {})}
                           for p in _parameters(declarations)],
            "ResourceTypes": sorted({str(r.get("Type")) for r in doc["Resources"].values()}),
            "Version": str(doc.get("AWSTemplateFormatVersion", "2010-09-09")),
            "ResourceIdentifierSummaries": [],
        }
        if doc.get("Description"):
            out["Description"] = doc["Description"]
        if doc.get("Metadata"):
            out["Metadata"] = json.dumps(doc["Metadata"])
        caps = _capabilities(doc)
        if caps:
            out["Capabilities"], out["CapabilitiesReason"] = caps
        transforms = template.transforms(intake.original)
        if transforms:
            out["DeclaredTransforms"] = transforms
        return out

    def list_exports(self, ctx: RequestContext, NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        return {"Exports": [{"ExportingStackId": stack_id, "Name": name, "Value": value}
                            for name, value, stack_id in records.exports(self.db.reader, ctx.account_id, ctx.region)]}

    def list_imports(self, ctx: RequestContext, ExportName: str | None = None, NextToken: str | None = None,
                     **_: Any) -> dict[str, Any]:
        name = ExportName or ""
        if records.export(self.db.reader, ctx.account_id, ctx.region, name) is None:
            raise errors.validation(f"Export '{name}' does not exist.")
        importers = records.importers(self.db.reader, ctx.account_id, ctx.region, name)
        if not importers:
            raise errors.validation(f"Export '{name}' is not imported by any stack.")
        return {"Imports": importers}


def _parameters(declarations: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, decl in declarations.items():
        item: dict[str, Any] = {"ParameterKey": name, "NoEcho": str(decl.get("NoEcho", "false")).lower() == "true"}
        if "Default" in decl:
            default = decl["Default"]
            item["DefaultValue"] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
        if decl.get("Description"):
            item["Description"] = decl["Description"]
        out.append(item)
    return out


def _capabilities(doc: dict[str, Any]) -> tuple[list[str], str] | None:
    named = plain = False
    for res in doc["Resources"].values():
        kind = str(res.get("Type", ""))
        if kind.startswith("AWS::IAM::"):
            props = res.get("Properties") or {}
            if any(k in props for k in ("RoleName", "ManagedPolicyName", "UserName", "GroupName")):
                named = True
            plain = True
    if named:
        return ["CAPABILITY_NAMED_IAM"], "The following resource(s) require capabilities: [AWS::IAM::Role]"
    if plain:
        return ["CAPABILITY_IAM"], "The following resource(s) require capabilities: [AWS::IAM::Role]"
    if template.transforms(doc):
        return ["CAPABILITY_AUTO_EXPAND"], "The following resource(s) require capabilities: [AWS::Serverless]"
    return None
