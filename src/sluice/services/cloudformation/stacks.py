"""The stack operations: CreateStack, UpdateStack, DeleteStack, and what describes stacks.

An operation checks its input, records the stack's new status, its first event and a work row
in one transaction, and answers at once, as CloudFormation does; the deployer (engine/stacks.py)
does the work in the background and records every step."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from ...protocol.context import RequestContext
from . import errors, paging, parameters, records
from .intake import Intake, StackInput, check_capabilities, prepare
from .plan import Plan
from .records import Stack
from .shared import Shared, check_stack_name, stack_event

# CREATE_FAILED / UPDATE_FAILED: a stack whose rollback was disabled may be updated to fix it, as on AWS.
UPDATABLE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
                       "IMPORT_ROLLBACK_COMPLETE", "CREATE_FAILED", "UPDATE_FAILED"})
IN_PROGRESS_SUFFIX = "_IN_PROGRESS"


def begin(conn: sqlite3.Connection, shared: Shared, stack: Stack, status: str, reason: str | None) -> None:
    """Start an operation on `stack` (already saved): its status, its first event, its work row."""
    now = shared.now()
    stack.status, stack.reason = status, reason
    stack.options["operation"] = uuid.uuid4().hex[:12]
    stack.options["started"] = now  # TimeoutInMinutes counts from here (the engine enforces it)
    records.save_stack(conn, stack)
    stack_event(conn, stack, status, reason, now)
    records.schedule(conn, stack.stack_id, now)


def new_stack(ctx: RequestContext, shared: Shared, name: str, intake: Intake, values: dict[str, str],
              capabilities: list[str] | None, tags: list[dict[str, str]] | None, options: dict[str, Any],
              stack_id: str | None = None) -> Stack:
    return Stack(stack_id or shared.stack_id(ctx, name), name, ctx.account_id, ctx.region, "REVIEW_IN_PROGRESS",
                 None, shared.now(), None, None, intake.body, intake.processed,
                 [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
                 sorted(capabilities or []), list(tags or []), [],
                 {**options, "Description": intake.processed.get("Description"),
                  "original": intake.original if intake.original is not intake.processed else None})


def start_update(conn: sqlite3.Connection, shared: Shared, stack: Stack, intake: Intake, plan: Plan,
                 capabilities: list[str] | None, tags: list[dict[str, str]] | None) -> None:
    """UpdateStack / ExecuteChangeSet: remember what the stack was (for a rollback), snapshot each
    resource's deployed state, and start UPDATE_IN_PROGRESS."""
    stack.previous = {"body": stack.body, "template": stack.template, "parameters": stack.parameters,
                      "outputs": stack.outputs, "original": stack.options.get("original"),
                      "capabilities": stack.capabilities, "tags": stack.tags}
    stack.body, stack.template = intake.body, intake.processed
    stack.options["original"] = intake.original if intake.original is not intake.processed else None
    stack.options["Description"] = intake.processed.get("Description")
    stack.parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in plan.values.items()]
    stack.capabilities = sorted(capabilities or [])
    if tags is not None:
        stack.tags = list(tags)
    stack.updated = shared.now()
    for res in records.resources(conn, stack.stack_id):
        res.old = {"type": res.type, "physical_id": res.physical_id, "properties": res.properties,
                   "attributes": res.attributes, "ref_value": res.ref_value, "status": res.status,
                   "policy": res.policy}
        res.replaced = False
        records.save_resource(conn, res)
    begin(conn, shared, stack, "UPDATE_IN_PROGRESS", "User Initiated")


class Stacks:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    def create_stack(self, ctx: RequestContext, StackName: str | None = None, TemplateBody: str | None = None,
                     TemplateURL: str | None = None, Parameters: list[dict[str, Any]] | None = None,
                     Capabilities: list[str] | None = None, Tags: list[dict[str, str]] | None = None,
                     DisableRollback: bool | None = None, OnFailure: str | None = None,
                     TimeoutInMinutes: int | None = None, NotificationARNs: list[str] | None = None,
                     RoleARN: str | None = None, EnableTerminationProtection: bool | None = None,
                     **_: Any) -> dict[str, Any]:
        name = check_stack_name(StackName)
        if DisableRollback is not None and OnFailure is not None:
            raise errors.validation("You can specify either DisableRollback or OnFailure, but not both.")
        if TimeoutInMinutes is not None and TimeoutInMinutes < 1:
            raise errors.validation(f"1 validation error detected: Value '{TimeoutInMinutes}' at 'timeoutInMinutes'"
                                    " failed to satisfy constraint: Member must have value greater than or equal to 1")
        stack_id = self.shared.stack_id(ctx, name)
        intake = self.shared.templates.read(ctx, TemplateBody, TemplateURL,
                                            stack=StackInput(name, stack_id, Parameters))
        check_capabilities(intake.processed, intake.original, Capabilities, change_set=False)
        self.shared.check_imports(ctx, intake.processed)
        plan = prepare(intake.processed, Parameters, None, ctx.account_id, ctx.region, name, stack_id)
        options = {"DisableRollback": bool(DisableRollback) or OnFailure == "DO_NOTHING",
                   "DeleteOnFailure": OnFailure == "DELETE", "TimeoutInMinutes": TimeoutInMinutes,
                   "NotificationARNs": NotificationARNs or [], "RoleARN": RoleARN,
                   "EnableTerminationProtection": bool(EnableTerminationProtection)}
        stack = new_stack(ctx, self.shared, name, intake, plan.values, Capabilities, Tags, options, stack_id)

        def txn(conn: sqlite3.Connection) -> None:
            if records.live_stack_by_name(conn, ctx.account_id, ctx.region, name) is not None:
                raise errors.already_exists(name)
            records.insert_stack(conn, stack)
            begin(conn, self.shared, stack, "CREATE_IN_PROGRESS", "User Initiated")

        self.db.write(txn)
        self.shared.wake()
        return {"StackId": stack.stack_id}

    def update_stack(self, ctx: RequestContext, StackName: str | None = None, TemplateBody: str | None = None,
                     TemplateURL: str | None = None, UsePreviousTemplate: bool | None = None,
                     Parameters: list[dict[str, Any]] | None = None, Capabilities: list[str] | None = None,
                     Tags: list[dict[str, str]] | None = None, NotificationARNs: list[str] | None = None,
                     DisableRollback: bool | None = None, **_: Any) -> dict[str, Any]:
        stack = self.shared.stack(ctx, StackName)
        if stack.status not in UPDATABLE:
            raise errors.bad_state(stack.stack_id, stack.status, "updated")
        if UsePreviousTemplate:
            if TemplateBody is not None or TemplateURL is not None:
                raise errors.validation("You cannot specify both usePreviousTemplate and Template Body/Template URL")
            intake = self.shared.templates.previous(ctx, stack.body, stack.options.get("original"), stack.template,
                                                    StackInput(stack.name, stack.stack_id, Parameters,
                                                               stack.parameter_values()))
        else:
            intake = self.shared.templates.read(ctx, TemplateBody, TemplateURL, stack=StackInput(
                stack.name, stack.stack_id, Parameters, stack.parameter_values()))
        check_capabilities(intake.processed, intake.original, Capabilities, change_set=False)
        self.shared.check_imports(ctx, intake.processed)
        plan = prepare(intake.processed, Parameters, stack.parameter_values(), ctx.account_id, ctx.region,
                       stack.name, stack.stack_id)
        if (intake.processed == stack.template and plan.values == stack.parameter_values()
                and (Tags is None or Tags == stack.tags)):
            raise errors.no_updates()

        def txn(conn: sqlite3.Connection) -> None:
            current = self.shared.stack(ctx, stack.stack_id, conn)
            if current.status not in UPDATABLE:
                raise errors.bad_state(current.stack_id, current.status, "updated")
            if NotificationARNs is not None:
                current.options["NotificationARNs"] = list(NotificationARNs)
            if DisableRollback is not None:
                current.options["DisableRollback"] = bool(DisableRollback)
            start_update(conn, self.shared, current, intake, plan, Capabilities, Tags)

        self.db.write(txn)
        self.shared.wake()
        return {"StackId": stack.stack_id}

    def delete_stack(self, ctx: RequestContext, StackName: str | None = None, RetainResources: list[str] | None = None,
                     **_: Any) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> None:
            stack = self.shared.find(ctx, StackName, conn)
            if stack is None or stack.deleted is not None:
                return  # deleting a stack that does not exist succeeds, as on AWS
            if stack.options.get("EnableTerminationProtection"):
                raise errors.validation(f"Stack [{stack.name}] cannot be deleted while TerminationProtection is"
                                        " enabled")
            if stack.status == "DELETE_IN_PROGRESS":
                return
            if stack.status.endswith(IN_PROGRESS_SUFFIX) and stack.status != "REVIEW_IN_PROGRESS":
                raise errors.bad_state(stack.stack_id, stack.status, "deleted")
            stack.options["RetainResources"] = list(RetainResources or [])
            begin(conn, self.shared, stack, "DELETE_IN_PROGRESS", "User Initiated")

        self.db.write(txn)
        self.shared.wake()
        return {}

    def update_termination_protection(self, ctx: RequestContext, StackName: str | None = None,
                                      EnableTerminationProtection: bool | None = None, **_: Any) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> str:
            stack = self.shared.stack(ctx, StackName, conn)
            stack.options["EnableTerminationProtection"] = bool(EnableTerminationProtection)
            records.save_stack(conn, stack)
            return stack.stack_id

        return {"StackId": self.db.write(txn)}

    # -- describing --------------------------------------------------------------------------

    def describe_stacks(self, ctx: RequestContext, StackName: str | None = None, NextToken: str | None = None,
                        **_: Any) -> dict[str, Any]:
        if StackName:
            found = self.shared.find(ctx, StackName)
            if found is None or (found.deleted is not None and not StackName.startswith("arn:")):
                raise errors.stack_missing(StackName)
            return {"Stacks": [describe(found)]}
        live = records.stacks(self.db.reader, ctx.account_id, ctx.region, live_only=True)
        shown, token = paging.page(live, lambda s: s.stack_id, NextToken)
        return {"Stacks": [describe(s) for s in shown], **({"NextToken": token} if token else {})}

    def list_stacks(self, ctx: RequestContext, StackStatusFilter: list[str] | None = None, NextToken: str | None = None,
                    **_: Any) -> dict[str, Any]:
        wanted = set(StackStatusFilter or [])
        out = []
        listed = [s for s in records.stacks(self.db.reader, ctx.account_id, ctx.region, live_only=False)
                  if not wanted or s.status in wanted]
        shown, token = paging.page(listed, lambda s: s.stack_id, NextToken)
        for s in shown:
            item: dict[str, Any] = {"StackId": s.stack_id, "StackName": s.name, "CreationTime": s.created,
                                    "StackStatus": s.status, "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"}}
            if s.options.get("Description"):
                item["TemplateDescription"] = s.options["Description"]
            if s.updated is not None:
                item["LastUpdatedTime"] = s.updated
            if s.deleted is not None:
                item["DeletionTime"] = s.deleted
            if s.reason:
                item["StackStatusReason"] = s.reason
            out.append(item)
        return {"StackSummaries": out, **({"NextToken": token} if token else {})}

    def describe_stack_events(self, ctx: RequestContext, StackName: str | None = None, NextToken: str | None = None,
                              **_: Any) -> dict[str, Any]:
        stack = self.shared.stack(ctx, StackName, deleted_ok=True)
        after = _token(NextToken)
        page = records.events(self.db.reader, stack.stack_id, after, 101)
        out: dict[str, Any] = {"StackEvents": [{
            "StackId": stack.stack_id, "EventId": e.event_id, "StackName": stack.name,
            "LogicalResourceId": e.logical_id, "PhysicalResourceId": e.physical_id or "",
            "ResourceType": e.type, "Timestamp": e.ts, "ResourceStatus": e.status,
            **({"ResourceStatusReason": e.reason} if e.reason else {}),
            **({"ResourceProperties": e.properties} if e.properties else {}),
        } for e in page[:100]]}
        if len(page) > 100:
            out["NextToken"] = str(page[99].seq)
        return out

    def describe_stack_resources(self, ctx: RequestContext, StackName: str | None = None,
                                 LogicalResourceId: str | None = None, PhysicalResourceId: str | None = None,
                                 **_: Any) -> dict[str, Any]:
        if StackName is None and PhysicalResourceId is None:
            raise errors.validation("Either StackName or PhysicalResourceId must be specified.")
        if StackName is not None:
            stack = self.shared.stack(ctx, StackName, deleted_ok=True)
        else:
            owners = records.resources_by_physical_id(self.db.reader, str(PhysicalResourceId))
            if not owners:
                raise errors.validation(f"Stack for {PhysicalResourceId} does not exist")
            stack = self.shared.stack(ctx, owners[0].stack_id, deleted_ok=True)
        rows = [r for r in records.resources(self.db.reader, stack.stack_id)
                if LogicalResourceId is None or r.logical_id == LogicalResourceId]
        return {"StackResources": [{
            "StackName": stack.name, "StackId": stack.stack_id, "LogicalResourceId": r.logical_id,
            "PhysicalResourceId": r.physical_id or "", "ResourceType": r.type, "Timestamp": r.updated,
            "ResourceStatus": r.status, **({"ResourceStatusReason": r.reason} if r.reason else {}),
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        } for r in rows]}

    def describe_stack_resource(self, ctx: RequestContext, StackName: str | None = None,
                                LogicalResourceId: str | None = None, **_: Any) -> dict[str, Any]:
        stack = self.shared.stack(ctx, StackName, deleted_ok=True)
        found = records.resource(self.db.reader, stack.stack_id, LogicalResourceId or "")
        if found is None:
            raise errors.validation(f"Resource {LogicalResourceId} does not exist for stack {stack.name}")
        definition = (stack.template.get("Resources") or {}).get(found.logical_id) or {}
        return {"StackResourceDetail": {
            "StackName": stack.name, "StackId": stack.stack_id, "LogicalResourceId": found.logical_id,
            "PhysicalResourceId": found.physical_id or "", "ResourceType": found.type,
            "LastUpdatedTimestamp": found.updated, "ResourceStatus": found.status,
            **({"ResourceStatusReason": found.reason} if found.reason else {}),
            **({"Metadata": json.dumps(definition["Metadata"])} if "Metadata" in definition else {}),
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        }}

    def list_stack_resources(self, ctx: RequestContext, StackName: str | None = None, NextToken: str | None = None,
                             **_: Any) -> dict[str, Any]:
        stack = self.shared.stack(ctx, StackName, deleted_ok=True)
        shown, token = paging.page(records.resources(self.db.reader, stack.stack_id), lambda r: r.logical_id,
                                   NextToken)
        return {"StackResourceSummaries": [{
            "LogicalResourceId": r.logical_id, "PhysicalResourceId": r.physical_id or "", "ResourceType": r.type,
            "LastUpdatedTimestamp": r.updated, "ResourceStatus": r.status,
            **({"ResourceStatusReason": r.reason} if r.reason else {}),
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        } for r in shown], **({"NextToken": token} if token else {})}


def describe(s: Stack) -> dict[str, Any]:
    declarations = s.template.get("Parameters") or {}
    out: dict[str, Any] = {
        "StackId": s.stack_id, "StackName": s.name, "CreationTime": s.created, "StackStatus": s.status,
        "DisableRollback": bool(s.options.get("DisableRollback")),
        "NotificationARNs": s.options.get("NotificationARNs") or [],
        "Capabilities": s.capabilities, "Tags": s.tags,
        "EnableTerminationProtection": bool(s.options.get("EnableTerminationProtection")),
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }
    if s.parameters:
        out["Parameters"] = parameters.shown(declarations, s.parameter_values())
    if s.options.get("Description"):
        out["Description"] = s.options["Description"]
    if s.reason:
        out["StackStatusReason"] = s.reason
    if s.updated is not None:
        out["LastUpdatedTime"] = s.updated
    if s.deleted is not None:
        out["DeletionTime"] = s.deleted
    if s.outputs:
        out["Outputs"] = s.outputs
    if s.options.get("TimeoutInMinutes"):
        out["TimeoutInMinutes"] = s.options["TimeoutInMinutes"]
    if s.options.get("RoleARN"):
        out["RoleARN"] = s.options["RoleARN"]
    if s.change_set_id:
        out["ChangeSetId"] = s.change_set_id
    return out


def _token(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise errors.validation("Invalid NextToken") from None
