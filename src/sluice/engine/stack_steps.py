"""One run of a stack operation (see stacks.py): its phases; each resource's steps are stack_resource.py's."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from ..clock import Clock
from ..protocol.errors import ServiceError
from ..services.cloudformation import records
from ..services.cloudformation.custom import is_custom_resource
from ..services.cloudformation.errors import TemplateError
from ..services.cloudformation.intrinsics import NO_VALUE, Scope, pseudo_parameters, resolve
from ..services.cloudformation.plan import Plan, make_plan
from ..services.cloudformation.providers import Provider
from ..services.cloudformation.records import Resource, Stack
from ..services.cloudformation.shared import name_suffix, stack_event
from ..services.cloudformation.stack_tags import PROPAGATED
from ..store.db import Database
from .stack_resource import Steps, Waiting, step_token, token_action

_DONE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
_GONE = frozenset({"DELETE_COMPLETE", "DELETE_SKIPPED"})


class _Failed(Exception):
    def __init__(self, logical_id: str, verb: str) -> None:
        super().__init__(logical_id)
        self.logical_id = logical_id
        self.verb = verb  # "create" / "update" / "delete"


class _TimedOut(Exception):
    """The stack's creation ran past its TimeoutInMinutes."""


TIMED_OUT = "Stack creation time exceeded the specified timeout"


class Operation:
    def __init__(self, db: Database, clock: Clock, providers: Mapping[str, Provider], stack_id: str,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        self.db = db
        self.clock = clock
        self.providers = providers
        self.stack_id = stack_id
        self.stopping = stopping  # the server is stopping: take no new step (the restart resumes)

    # -- the phases ----------------------------------------------------------------------------

    def run(self) -> None:
        stack = records.stack_by_id(self.db.reader, self.stack_id)
        if stack is None:
            self.db.write(lambda conn: records.finish_work(conn, self.stack_id))
            return
        self.stack = stack
        self.op = str(stack.options.get("operation", ""))
        self.steps = Steps(self.db, self.clock, self.providers, stack, self.op, self.stopping)
        self.db.write(lambda conn: records.begin_run(conn, self.stack_id))
        try:
            self._phases()
        except Waiting:
            return

    def abandon(self, reason: str) -> None:
        """End the operation FAILED (after a bug), in the failed status of the phase it was in."""
        stack = records.stack_by_id(self.db.reader, self.stack_id)
        if stack is None:
            return
        self.stack = stack
        self.steps = Steps(self.db, self.clock, self.providers, stack, str(stack.options.get("operation", "")))
        failed = {"CREATE_IN_PROGRESS": "CREATE_FAILED", "ROLLBACK_IN_PROGRESS": "ROLLBACK_FAILED",
                  "DELETE_IN_PROGRESS": "DELETE_FAILED"}.get(stack.status, "UPDATE_ROLLBACK_FAILED")
        if stack.status.endswith("_IN_PROGRESS"):
            self._end(failed, reason)

    def _phases(self) -> None:
        status = self.stack.status
        if status in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"):
            self._forward()
            status = self.stack.status
        if status in ("ROLLBACK_IN_PROGRESS", "DELETE_IN_PROGRESS"):
            self._delete_all()
        elif status == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":
            self._cleanup(rollback=False)
        elif status == "UPDATE_ROLLBACK_IN_PROGRESS":
            self._revert()
            if self.stack.status == "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS":
                self._cleanup(rollback=True)
        elif status == "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS":
            self._cleanup(rollback=True)
        else:
            self.db.write(lambda conn: records.finish_work(conn, self.stack_id))

    def _pseudo(self) -> dict[str, Any]:
        s = self.stack
        return pseudo_parameters(s.account, s.region, s.name, s.stack_id, s.options.get("NotificationARNs"))

    def _plan(self, template: dict[str, Any], parameters: list[dict[str, str]]) -> Plan:
        values = {p["ParameterKey"]: p["ParameterValue"] for p in parameters}
        return make_plan(template, values, self._pseudo())

    def _forward(self) -> None:
        stack = self.stack
        creating = stack.status == "CREATE_IN_PROGRESS"
        plan = self._plan(stack.template, stack.parameters)
        rows = {r.logical_id: r for r in records.resources(self.db.reader, stack.stack_id)}
        imports: set[str] = set()
        scope = self._scope(plan, rows, imports)
        waiting: set[str] = set()  # resources whose step waits, and what depends on them
        deadline = self._deadline() if creating else None
        try:
            for name in plan.order:
                if deadline is not None and self.clock.now() >= deadline:
                    raise _TimedOut()
                if plan.deps[name] & waiting:
                    waiting.add(name)
                    continue
                try:
                    self._apply(name, plan.resources[name], rows, scope)
                except Waiting:
                    # Independent resources go on meanwhile (as CloudFormation creates them in parallel).
                    waiting.add(name)
            if waiting:
                if deadline is not None:
                    # The run is due again at the stack's deadline at the latest.
                    self.db.write(lambda conn: records.wait_until(
                        conn, self.stack_id, min(deadline, self.steps.wait_due or deadline)))
                raise Waiting()
            outputs, exports = self._outputs(plan, scope)
        except (_Failed, _TimedOut) as failed:
            # Steps still waiting are given up, as CloudFormation cancels what is in progress.
            for name in sorted(waiting | set(rows)):
                row = rows.get(name)
                if row is not None and row.status in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"):
                    verb = row.status.split("_", 1)[0]
                    if verb == "CREATE" and row.wait_until is not None:
                        # Its request went out: the rollback sends it a Delete, as AWS does.
                        self.steps.unanswered(row)
                    self.steps.fail(row, f"{verb}_FAILED", "Resource creation cancelled" if verb == "CREATE"
                                    else "Resource update cancelled")
            if isinstance(failed, _TimedOut):
                self._forward_failed(creating, None, TIMED_OUT)
            else:
                self._forward_failed(creating, failed)
            return
        except TemplateError as err:  # an output that cannot be resolved, an export taken
            self._forward_failed(creating, None, str(err))
            return

        def done(conn: sqlite3.Connection) -> None:
            stack.outputs = outputs
            records.replace_exports(conn, stack.account, stack.region, stack.stack_id, exports)
            records.replace_imports(conn, stack.account, stack.region, stack.stack_id, sorted(imports))
            if creating:
                self._set_status(conn, "CREATE_COMPLETE", None)
                records.finish_work(conn, stack.stack_id)
            else:
                self._set_status(conn, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None)

        self.db.write(done)

    def _deadline(self) -> float | None:
        """When the stack's creation times out (CreateStack's TimeoutInMinutes), on the engine clock."""
        minutes = self.stack.options.get("TimeoutInMinutes")
        started = self.stack.options.get("started", self.stack.created)
        if not minutes:
            return None
        return float(started) + self.clock.engine_seconds(float(minutes) * 60)

    def _forward_failed(self, creating: bool, failed: _Failed | None, reason: str | None = None) -> None:
        if failed is not None:
            reason = f"The following resource(s) failed to {failed.verb}: [{failed.logical_id}]. "
        elif reason is not None and not reason.endswith(". "):
            reason = reason.rstrip(".") + ". "
        if creating:
            if self.stack.options.get("DisableRollback"):
                status = "CREATE_FAILED"
            else:
                status = "ROLLBACK_IN_PROGRESS"
                reason = (reason or "") + "Rollback requested by user."
        else:
            status = "UPDATE_FAILED" if self.stack.options.get("DisableRollback") else "UPDATE_ROLLBACK_IN_PROGRESS"

        def txn(conn: sqlite3.Connection) -> None:
            self._set_status(conn, status, reason)
            if status.endswith("_FAILED"):
                records.finish_work(conn, self.stack_id)

        self.db.write(txn)

    def _outputs(self, plan: Plan, scope: Scope) -> tuple[list[dict[str, Any]], dict[str, str]]:
        outputs: list[dict[str, Any]] = []
        exports: dict[str, str] = {}
        for key, out in (plan.template.get("Outputs") or {}).items():
            cond = out.get("Condition")
            if cond is not None and not plan.conditions.get(str(cond)):
                continue
            value = resolve(out.get("Value"), scope)
            if value is NO_VALUE:
                continue
            item: dict[str, Any] = {"OutputKey": key, "OutputValue": _text(value)}
            if out.get("Description"):
                item["Description"] = out["Description"]
            if "Export" in out:
                name = _text(resolve((out["Export"] or {}).get("Name"), scope))
                taken = records.export(self.db.reader, self.stack.account, self.stack.region, name)
                if taken is not None and taken[1] != self.stack_id:
                    raise TemplateError(f"Export with name {name} is already exported by stack "
                                        f"{taken[1].split('/')[1]}")
                exports[name] = item["OutputValue"]
                item["ExportName"] = name
            outputs.append(item)
        # An export another stack imports may not change or go away.
        for name, value, owner in records.exports(self.db.reader, self.stack.account, self.stack.region):
            if owner == self.stack_id and exports.get(name) != value:
                users = records.importers(self.db.reader, self.stack.account, self.stack.region, name)
                if users:
                    raise TemplateError(f"Cannot update export {name} as it is in use by {', '.join(users)}")
        return outputs, exports

    def _delete_all(self) -> None:
        stack = self.stack
        deleting = stack.status == "DELETE_IN_PROGRESS"
        if deleting:
            for name, _value, owner in records.exports(self.db.reader, stack.account, stack.region):
                users = records.importers(self.db.reader, stack.account, stack.region, name) if owner == stack.stack_id \
                    else []
                users = [u for u in users if u != stack.name]
                if users:
                    self._end("DELETE_FAILED", f"Export {name} cannot be deleted as it is in use by {', '.join(users)}")
                    return
        rows = records.resources(self.db.reader, stack.stack_id)
        retain = set(stack.options.get("RetainResources") or []) if deleting else set()
        failed = []
        for row in self._reverse(rows):
            if row.status in _GONE:
                continue
            if not self.steps.delete_row(row, keep=row.policy.get("DeletionPolicy") == "Retain" or row.logical_id in retain):
                failed.append(row.logical_id)
        if failed:
            reason: str | None = f"The following resource(s) failed to delete: [{', '.join(failed)}]. "
            final = "DELETE_FAILED" if deleting else "ROLLBACK_FAILED"
        else:
            reason, final = None, "DELETE_COMPLETE" if deleting else "ROLLBACK_COMPLETE"

        def txn(conn: sqlite3.Connection) -> None:
            if final == "DELETE_COMPLETE":
                stack.deleted = self.clock.now()
                records.replace_exports(conn, stack.account, stack.region, stack.stack_id, {})
                records.replace_imports(conn, stack.account, stack.region, stack.stack_id, [])
                records.delete_change_sets(conn, stack.stack_id)
            self._set_status(conn, final, reason)
            if final == "ROLLBACK_COMPLETE" and stack.options.get("DeleteOnFailure"):
                # CreateStack's OnFailure=DELETE: the rolled-back stack is deleted next.
                self._set_status(conn, "DELETE_IN_PROGRESS", None)
                records.schedule(conn, stack.stack_id, self.clock.now())
                return
            records.finish_work(conn, stack.stack_id)

        self.db.write(txn)
        if self.stack.status == "DELETE_IN_PROGRESS":
            self._delete_all()

    def _reverse(self, rows: list[Resource]) -> list[Resource]:
        """Rows in the order to delete them: dependents before what they depend on."""
        try:
            order = self._plan(self.stack.template, self.stack.parameters).order
        except ServiceError:
            order = []
        rank = {name: i for i, name in enumerate(order)}
        return sorted(rows, key=lambda r: (rank.get(r.logical_id, len(order)), rows.index(r)), reverse=True)

    def _cleanup(self, *, rollback: bool) -> None:
        """After an update: the replaced resources' old physical ones and the resources the new
        template dropped are deleted (rollback: what the failed update made). Failures here do not
        fail the stack, as on AWS."""
        stack = self.stack
        current = self._plan(stack.template, stack.parameters)
        for row in self._reverse(records.resources(self.db.reader, stack.stack_id)):
            if rollback and row.old is None and token_action(row.token, self.op) is not None:
                if row.status not in _GONE:
                    self.steps.delete_row(row, keep=False)
                self._drop(row)
                continue
            if row.logical_id not in current.resources:
                if row.status not in _GONE:
                    self.steps.delete_row(row, keep=row.policy.get("DeletionPolicy") == "Retain")
                self._drop(row)
                continue
            if row.replaced and row.old is not None:
                discard = row.old.get("discard") if rollback else row.old
                if discard and discard.get("physical_id"):
                    keep = not rollback and row.policy.get("UpdateReplacePolicy") == "Retain"
                    gone = Resource(row.stack_id, row.logical_id, discard["type"], "UPDATE_COMPLETE", None,
                                    discard["physical_id"], discard.get("properties"), {}, None, row.updated,
                                    row.name_suffix, policy=row.policy)
                    if keep:
                        self.steps.delete_row(gone, keep=True, record=False)
                    else:
                        self.steps.discard(row, gone)  # a custom resource's Delete waits for its answer
            if row.old is not None or row.replaced:
                row.old, row.replaced, row.wait_until, row.wait_reason = None, False, None, None
                self._save(row)
        final = "UPDATE_ROLLBACK_COMPLETE" if rollback else "UPDATE_COMPLETE"

        def txn(conn: sqlite3.Connection) -> None:
            stack.previous = None
            self._set_status(conn, final, None)
            records.finish_work(conn, stack.stack_id)

        self.db.write(txn)

    def _revert(self) -> None:
        """UPDATE_ROLLBACK_IN_PROGRESS: every resource the update changed goes back to what it was."""
        stack = self.stack
        previous = stack.previous or {}
        rows = records.resources(self.db.reader, stack.stack_id)
        failed = []
        for row in self._reverse(rows):
            action = token_action(row.token, self.op)
            # A revert step cut short (a restart) runs again; one that finished is done.
            resumed = action == "revert" and row.status == "UPDATE_IN_PROGRESS"
            if (action not in ("update", "replace") and not resumed) or row.old is None:
                continue
            old = row.old
            if action == "replace" and row.replaced:
                # The replacement, if it was made, is deleted in the cleanup; the old one is current again.
                made = row.status == "UPDATE_COMPLETE" and row.physical_id != old["physical_id"]
                row.old = {"discard": {"type": row.type, "physical_id": row.physical_id,
                                       "properties": row.properties} if made else None, "restored": old}
                row.type, row.physical_id, row.properties = old["type"], old["physical_id"], old["properties"]
                row.attributes, row.ref_value = old["attributes"], old["ref_value"]
                row.token, row.status, row.reason = step_token(self.op, row.logical_id, "revert"), "UPDATE_COMPLETE", None
                row.updated = self.clock.now()
                self.steps.record(row)
                continue
            req_props = old.get("properties") or {}
            if not self.steps.step(row, "revert", "UPDATE", lambda p, req: p.update(req), req_props, row.properties):
                failed.append(row.logical_id)
            elif row.old is not None:
                row.old = old
                self._save(row)
        if failed:
            reason = f"The following resource(s) failed to update: [{', '.join(failed)}]. "

            def broken(conn: sqlite3.Connection) -> None:
                self._set_status(conn, "UPDATE_ROLLBACK_FAILED", reason)
                records.finish_work(conn, stack.stack_id)

            self.db.write(broken)
            return

        def restored(conn: sqlite3.Connection) -> None:
            stack.body = previous.get("body", stack.body)
            stack.template = previous.get("template", stack.template)
            stack.parameters = previous.get("parameters", stack.parameters)
            stack.outputs = previous.get("outputs", stack.outputs)
            stack.options["original"] = previous.get("original")
            stack.capabilities = previous.get("capabilities", stack.capabilities)
            stack.tags = previous.get("tags", stack.tags)
            exports = {o["ExportName"]: o["OutputValue"] for o in stack.outputs if "ExportName" in o}
            records.replace_exports(conn, stack.account, stack.region, stack.stack_id, exports)
            self._set_status(conn, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None)

        self.db.write(restored)

    # -- one resource ------------------------------------------------------------------------

    def _scope(self, plan: Plan, rows: dict[str, Resource], imports: set[str]) -> Scope:
        scope = plan.scope(self._pseudo())

        def ref(name: str) -> Any:
            row = rows.get(name)
            if row is None or row.physical_id is None or name not in plan.resources:
                raise TemplateError(f"Unresolved resource dependencies [{name}] in the Resources block of the template")
            return row.ref

        def get_att(name: str, attribute: str) -> Any:
            row = rows.get(name)
            if row is None or row.physical_id is None or name not in plan.resources:
                raise TemplateError(f"Unresolved resource dependencies [{name}] in the Resources block of the template")
            if attribute not in row.attributes:
                raise TemplateError(f"Template error: resource {name} does not support attribute type {attribute}"
                                    " in Fn::GetAtt")
            return row.attributes[attribute]

        def import_value(name: str) -> str:
            found = records.export(self.db.reader, self.stack.account, self.stack.region, name)
            if found is None:
                raise TemplateError(f"No export named {name} found. Rollback requested by user.")
            imports.add(name)
            return found[0]

        scope.ref, scope.get_att, scope.import_value = ref, get_att, import_value
        return scope

    def _apply(self, name: str, definition: dict[str, Any], rows: dict[str, Resource], scope: Scope) -> None:
        type_ = str(definition["Type"])
        policy: dict[str, str] = {k: str(definition[k]) for k in ("DeletionPolicy", "UpdateReplacePolicy") if k in definition}
        row = rows.get(name)
        if row is not None and token_action(row.token, self.op) is not None and row.status in _DONE:
            return  # done earlier in this operation (a resumed run)
        # (A custom resource whose Create failed has a physical id, for the rollback's Delete: it
        # is created anew, as a resource that never was.)
        if row is None or row.physical_id is None or row.status == "CREATE_FAILED":
            if row is None:
                row = Resource(self.stack_id, name, type_, "CREATE_IN_PROGRESS", None, None, None, {}, None,
                               self.clock.now(), name_suffix())
                rows[name] = row
            row.type, row.policy = type_, policy
            props = self._resolve(row, definition, scope, "CREATE")
            if not self.steps.step(row, "create", "CREATE", lambda p, req: p.create(req), props, None):
                raise _Failed(name, "create")
            return
        props = self._resolve(row, definition, scope, "UPDATE")
        provider = self.providers.get(type_)
        replace = row.type != type_ or (provider is not None and any(
            (row.properties or {}).get(k) != props.get(k) for k in provider.replace_on))
        resumed_replace = token_action(row.token, self.op) == "replace"
        if resumed_replace or (replace and row.properties != props) or row.type != type_:
            if not resumed_replace:  # the new resource gets a generated name of its own (the old one lives on)
                row.name_suffix = name_suffix()
            row.replaced, row.type, row.policy = True, type_, policy
            if not self.steps.step(row, "replace", "UPDATE", lambda p, req: p.create(req), props, None,
                              note="Requested update requires the creation of a new physical resource;"
                                   " hence creating one."):
                raise _Failed(name, "update")
            return
        # New stack tags update every resource they propagate to, its own properties unchanged.
        previous_tags = (self.stack.previous or {}).get("tags")
        retag = type_ in PROPAGATED and previous_tags is not None and previous_tags != self.stack.tags
        if row.properties == props and row.policy == policy and not retag:
            return
        row.policy = policy
        if row.properties == props and not retag:
            self.db.write(lambda conn: records.save_resource(conn, row))
            return
        before = row.physical_id
        if not self.steps.step(row, "update", "UPDATE", lambda p, req: p.update(req), props, row.properties):
            raise _Failed(name, "update")
        if row.physical_id != before and is_custom_resource(type_):
            # The handler answered the Update with a new PhysicalResourceId: CloudFormation takes
            # it as a replacement — the old id gets a Delete in the cleanup phase, and a rollback
            # goes back to the old one and deletes the new. (Only custom resources: Sluice's own
            # providers replace through replace_on, never by answering an update with a new id.)
            row.replaced, row.token = True, step_token(self.op, name, "replace")
            self._save(row)

    def _resolve(self, row: Resource, definition: dict[str, Any], scope: Scope, verb: str) -> dict[str, Any]:
        try:
            props = resolve(definition.get("Properties") or {}, scope)
        except TemplateError as err:
            self.steps.fail(row, f"{verb}_FAILED", str(err))
            raise _Failed(row.logical_id, verb.lower()) from None
        return props if isinstance(props, dict) else {}

    def _end(self, status: str, reason: str | None) -> None:
        """The operation ends with the stack in `status`."""

        def txn(conn: sqlite3.Connection) -> None:
            self._set_status(conn, status, reason)
            records.finish_work(conn, self.stack_id)

        self.db.write(txn)

    def _save(self, row: Resource) -> None:
        self.db.write(lambda conn: records.save_resource(conn, row))

    def _drop(self, row: Resource) -> None:
        self.db.write(lambda conn: records.delete_resource(conn, row.stack_id, row.logical_id))

    def _set_status(self, conn: sqlite3.Connection, status: str, reason: str | None) -> None:
        self.stack.status, self.stack.reason = status, reason
        records.save_stack(conn, self.stack)
        stack_event(conn, self.stack, status, reason, self.clock.now())


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


__all__ = ["Operation", "Stack"]
