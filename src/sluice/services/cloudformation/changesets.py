"""Change sets: CreateChangeSet, DescribeChangeSet, ExecuteChangeSet, DeleteChangeSet, ListChangeSets.

A change set is computed when it is created (its status is CREATE_COMPLETE, or FAILED with
AWS's "didn't contain changes" reason, at once) and executed as CreateStack or UpdateStack
would be. `aws cloudformation deploy` depends on the exact FAILED reason for
`--no-fail-on-empty-changeset`."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import errors, parameters, records, template
from .diff import changes
from .intake import Intake, StackInput, check_capabilities, prepare
from .intrinsics import pseudo_parameters
from .records import ChangeSet, Stack
from .shared import Shared, check_stack_name, stack_event
from .stacks import UPDATABLE, begin, new_stack, start_update

SETTLE_SECONDS = 2.0  # how long ExecuteChangeSet holds its answer for a deploy to end (real seconds)
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


class ChangeSets:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    def create_change_set(self, ctx: RequestContext, StackName: str | None = None, ChangeSetName: str | None = None,
                          TemplateBody: str | None = None, TemplateURL: str | None = None,
                          UsePreviousTemplate: bool | None = None, Parameters: list[dict[str, Any]] | None = None,
                          Capabilities: list[str] | None = None, Tags: list[dict[str, str]] | None = None,
                          ChangeSetType: str | None = None, Description: str | None = None,
                          NotificationARNs: list[str] | None = None, RoleARN: str | None = None,
                          **_: Any) -> dict[str, Any]:
        name = check_stack_name(StackName)
        cs_name = _check_name(ChangeSetName)
        kind = ChangeSetType or "UPDATE"
        if kind not in ("CREATE", "UPDATE"):
            raise errors.validation(f"ChangeSetType {kind} is not supported by Sluice (CREATE or UPDATE)")
        stack = self.shared.find(ctx, name)
        if kind == "CREATE":
            if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                raise errors.validation(f"Stack [{name}] already exists and cannot be created again with the"
                                        f" changeSet [{cs_name}].")
        elif stack is None or stack.status == "REVIEW_IN_PROGRESS":
            raise errors.validation(f"Stack [{name}] does not exist")
        elif stack.status not in UPDATABLE:
            raise errors.bad_state(stack.stack_id, stack.status, "updated")
        stack_id = stack.stack_id if stack is not None else self.shared.stack_id(ctx, name)
        previous = stack.parameter_values() if stack is not None and kind == "UPDATE" else None
        refused: str | None = None
        if UsePreviousTemplate:
            if stack is None or kind == "CREATE":
                raise errors.validation("UsePreviousTemplate is only valid for an UPDATE change set")
            intake = Intake(stack.body, stack.options.get("original") or stack.template, stack.template)
        else:
            intake = self.shared.templates.read(ctx, TemplateBody, TemplateURL, expand=False)
        try:
            if UsePreviousTemplate:
                assert stack is not None
                intake = self.shared.templates.previous(ctx, stack.body, stack.options.get("original"),
                                                        stack.template, StackInput(name, stack_id, Parameters, previous))
            else:
                intake.processed = self.shared.templates.transform(
                    ctx, intake.original, StackInput(name, stack_id, Parameters, previous))
        except errors.TransformFailed as failed:
            # AWS accepts the change set and runs the transform while creating it: the change
            # set ends FAILED with the transform's message as its StatusReason (which
            # `aws cloudformation deploy` prints), and a CREATE change set's stack stays
            # in REVIEW_IN_PROGRESS.
            refused = failed.message
        if refused is None:
            check_capabilities(intake.processed, intake.original, Capabilities, change_set=True)
            self.shared.check_imports(ctx, intake.processed)
            plan = prepare(intake.processed, Parameters, previous, ctx.account_id, ctx.region, name, stack_id)
            values = plan.values
            rows = records.resources(self.db.reader, stack_id) if stack is not None else []
            found = changes(plan, pseudo_parameters(ctx.account_id, ctx.region, name, stack_id), rows,
                            stack.template if stack is not None and kind == "UPDATE" else None,
                            self.shared.replace_on)
        else:
            values = parameters.effective(intake.original.get("Parameters") or {}, Parameters, previous)
            found = []
        status, reason, execution = "CREATE_COMPLETE", None, "AVAILABLE"
        if refused is not None:
            status, reason, execution = "FAILED", refused, "UNAVAILABLE"
        elif kind == "UPDATE" and stack is not None and not found and intake.processed == stack.template \
                and values == stack.parameter_values() and (Tags is None or Tags == stack.tags):
            status, reason, execution = "FAILED", NO_CHANGES, "UNAVAILABLE"
        change_set_id = f"arn:aws:cloudformation:{ctx.region}:{ctx.account_id}:changeSet/{cs_name}/{uuid.uuid4()}"
        change_set = ChangeSet(change_set_id, cs_name, stack_id, kind, status, reason, execution, self.shared.now(),
                               intake.body, intake.processed,
                               [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
                               sorted(Capabilities or []), list(Tags or []) if Tags is not None else
                               (stack.tags if stack is not None else []), found, Description)
        options = {"DisableRollback": False, "NotificationARNs": NotificationARNs or [], "RoleARN": RoleARN,
                   "EnableTerminationProtection": False}

        def txn(conn: sqlite3.Connection) -> None:
            current = records.live_stack_by_name(conn, ctx.account_id, ctx.region, name)
            if kind == "CREATE" and current is None:
                fresh = new_stack(ctx, self.shared, name, intake, values, Capabilities, Tags, options, stack_id)
                records.insert_stack(conn, fresh)
                stack_event(conn, fresh, "REVIEW_IN_PROGRESS", "User Initiated", self.shared.now())
            elif current is None or current.stack_id != stack_id:
                raise errors.stack_missing(name)
            existing = records.change_set_by_name(conn, stack_id, cs_name)
            if existing is not None:
                if existing.execution_status == "AVAILABLE":
                    raise ServiceError("AlreadyExistsException", f"ChangeSet {cs_name} already exists")
                # A used-up change set (FAILED, or executed) of the same name gives way: `aws cloudformation
                # deploy` names its change sets after the current second, and Sluice deploys fast enough
                # for two deploys to fall in one second (on AWS a deploy takes longer than that).
                records.delete_change_set(conn, existing.change_set_id)
            records.save_change_set(conn, change_set)

        self.db.write(txn)
        return {"Id": change_set_id, "StackId": stack_id}

    def _find(self, ctx: RequestContext, change_set: str | None, stack_name: str | None,
              conn: sqlite3.Connection | None = None) -> tuple[ChangeSet, Stack]:
        reader = conn or self.db.reader
        if not change_set:
            raise errors.validation("1 validation error detected: Value null at 'changeSetName' failed to satisfy"
                                    " constraint: Member must not be null")
        found: ChangeSet | None = None
        if change_set.startswith("arn:"):
            found = records.change_set_by_id(reader, change_set)
        else:
            if not stack_name:
                raise errors.validation("StackName must be specified if ChangeSetName is not specified as an ARN.")
            stack = self.shared.find(ctx, stack_name, conn)
            if stack is None:
                raise errors.change_set_missing(change_set)
            found = records.change_set_by_name(reader, stack.stack_id, change_set)
        if found is None:
            raise errors.change_set_missing(change_set)
        owner = records.stack_by_id(reader, found.stack_id)
        if owner is None or owner.account != ctx.account_id or owner.region != ctx.region:
            raise errors.change_set_missing(change_set)
        return found, owner

    def describe_change_set(self, ctx: RequestContext, ChangeSetName: str | None = None,
                            StackName: str | None = None, NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        cs, stack = self._find(ctx, ChangeSetName, StackName)
        declarations = cs.template.get("Parameters") or {}
        out: dict[str, Any] = {
            "ChangeSetName": cs.name, "ChangeSetId": cs.change_set_id, "StackId": stack.stack_id,
            "StackName": stack.name, "CreationTime": cs.created, "ExecutionStatus": cs.execution_status,
            "Status": cs.status, "NotificationARNs": stack.options.get("NotificationARNs") or [],
            "Capabilities": cs.capabilities, "Tags": cs.tags, "Changes": cs.changes,
            "RollbackConfiguration": {}, "IncludeNestedStacks": False,
        }
        if cs.parameters:
            out["Parameters"] = parameters.shown(declarations, {p["ParameterKey"]: p["ParameterValue"]
                                                                for p in cs.parameters})
        if cs.reason:
            out["StatusReason"] = cs.reason
        if cs.description:
            out["Description"] = cs.description
        return out

    async def execute_change_set(self, ctx: RequestContext, ChangeSetName: str | None = None,
                                 StackName: str | None = None, DisableRollback: bool | None = None,
                                 **_: Any) -> dict[str, Any]:
        """AWS answers at once; Sluice holds the answer until the stack's operation has ended, for at
        most SETTLE_SECONDS real seconds: `aws cloudformation deploy` polls the stack once right
        after this call and then sleeps 30 s, so a local deploy of 50 ms would take 30 s. The stack
        goes through the same statuses and events either way."""
        loop = asyncio.get_running_loop()
        stack_id = await loop.run_in_executor(None, self._execute, ctx, ChangeSetName, StackName, DisableRollback)
        if self.shared.settled is not None:
            await self.shared.settled(stack_id, SETTLE_SECONDS)
        return {}

    def _execute(self, ctx: RequestContext, ChangeSetName: str | None, StackName: str | None,
                 DisableRollback: bool | None) -> str:
        executed: list[str] = []

        def txn(conn: sqlite3.Connection) -> None:
            cs, stack = self._find(ctx, ChangeSetName, StackName, conn)
            if cs.execution_status != "AVAILABLE":
                raise ServiceError("InvalidChangeSetStatus", f"ChangeSet [{cs.change_set_id}] cannot be executed in"
                                   f" its current execution status of [{cs.execution_status}]")
            original = template.parse(cs.body)
            intake = Intake(cs.body, original, cs.template)
            values = {p["ParameterKey"]: p["ParameterValue"] for p in cs.parameters}
            plan = prepare(cs.template, [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()], None,
                           stack.account, stack.region, stack.name, stack.stack_id)
            if DisableRollback is not None:
                stack.options["DisableRollback"] = bool(DisableRollback)
            if cs.type == "CREATE":
                if stack.status != "REVIEW_IN_PROGRESS":
                    raise errors.bad_state(stack.stack_id, stack.status, "created")
                stack.change_set_id = cs.change_set_id
                stack.body, stack.template, stack.parameters = cs.body, cs.template, cs.parameters
                stack.capabilities, stack.tags = cs.capabilities, cs.tags
                stack.options["original"] = original if original != cs.template else None
                stack.options["Description"] = cs.template.get("Description")
                begin(conn, self.shared, stack, "CREATE_IN_PROGRESS", "User Initiated")
            else:
                if stack.status not in UPDATABLE:
                    raise errors.bad_state(stack.stack_id, stack.status, "updated")
                stack.change_set_id = cs.change_set_id
                start_update(conn, self.shared, stack, intake, plan, cs.capabilities, cs.tags)
            # Executing a change set uses it up and discards the stack's other change sets, as on AWS.
            records.delete_change_sets(conn, stack.stack_id)
            cs.execution_status = "EXECUTE_COMPLETE"
            records.save_change_set(conn, cs)
            executed.append(stack.stack_id)

        self.db.write(txn)
        self.shared.wake()
        return executed[0]

    def delete_change_set(self, ctx: RequestContext, ChangeSetName: str | None = None,
                          StackName: str | None = None, **_: Any) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> None:
            cs, _stack = self._find(ctx, ChangeSetName, StackName, conn)
            if cs.execution_status == "EXECUTE_IN_PROGRESS":
                raise ServiceError("InvalidChangeSetStatus", f"ChangeSet [{cs.change_set_id}] cannot be deleted in"
                                   f" its current status of [{cs.execution_status}]")
            records.delete_change_set(conn, cs.change_set_id)

        self.db.write(txn)
        return {}

    def list_change_sets(self, ctx: RequestContext, StackName: str | None = None, NextToken: str | None = None,
                         **_: Any) -> dict[str, Any]:
        stack = self.shared.stack(ctx, StackName)
        return {"Summaries": [{
            "StackId": stack.stack_id, "StackName": stack.name, "ChangeSetId": cs.change_set_id,
            "ChangeSetName": cs.name, "ExecutionStatus": cs.execution_status, "Status": cs.status,
            "CreationTime": cs.created, **({"StatusReason": cs.reason} if cs.reason else {}),
            **({"Description": cs.description} if cs.description else {}),
        } for cs in records.change_sets(self.db.reader, stack.stack_id)]}


def _check_name(name: str | None) -> str:
    if not name:
        raise errors.validation("1 validation error detected: Value null at 'changeSetName' failed to satisfy"
                                " constraint: Member must not be null")
    try:
        return check_stack_name(name)
    except ServiceError:
        raise errors.validation(f"1 validation error detected: Value '{name}' at 'changeSetName' failed to satisfy"
                                " constraint: Member must satisfy regular expression pattern:"
                                " [a-zA-Z][-a-zA-Z0-9]*") from None
