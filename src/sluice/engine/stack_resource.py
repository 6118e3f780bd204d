"""One resource's steps in a stack operation: each provider call recorded before and after it runs."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from ..clock import Clock
from ..protocol.errors import ServiceError
from ..services.cloudformation import parameters, records
from ..services.cloudformation.custom import is_custom_resource
from ..services.cloudformation.providers import (
    InProgress,
    Provider,
    ProviderError,
    ResourceRequest,
    ResourceResult,
)
from ..services.cloudformation.records import Resource, Stack
from ..services.cloudformation.shared import resource_event
from ..services.cloudformation.stack_tags import with_stack_tags
from ..store.db import Database

log = logging.getLogger("sluice.engine")


def step_token(op: str, logical_id: str, action: str) -> str:
    """A step's request token: one per operation, resource and action (a resumed step reuses it)."""
    return f"{op}:{logical_id}:{action}"


def token_action(token: str | None, op: str) -> str | None:
    """The action of a step token of operation `op` (None: no step of that operation)."""
    if not token or not token.startswith(op + ":"):
        return None
    return token.rsplit(":", 1)[1]


class Waiting(Exception):
    """A step waits (a custom resource): the run ends here; the work row is due at its deadline."""


class Steps:
    def __init__(self, db: Database, clock: Clock, providers: Mapping[str, Provider], stack: Stack, op: str,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        self.stopping = stopping
        self.db = db
        self.clock = clock
        self.providers = providers
        self.stack = stack
        self.stack_id = stack.stack_id
        self.op = op  # the operation's id: every step's request token starts with it
        self.wait_due: float | None = None  # this run's earliest wait deadline
        # NoEcho parameter values: masked in the events' ResourceProperties, as AWS masks them
        self.hidden = parameters.secrets(stack.template.get("Parameters") or {}, stack.parameter_values())

    def step(self, row: Resource, action: str, verb: str, call: Callable[[Provider, ResourceRequest], Any],
              props: dict[str, Any], old_props: dict[str, Any] | None, note: str | None = None) -> bool:
        """Run one provider call for `row`, recorded before and after; False if it failed."""
        if self.stopping():
            raise Waiting()  # the server is stopping: this step is taken after the restart
        token = step_token(self.op, row.logical_id, action)
        resumed = row.token == token and row.status == f"{verb}_IN_PROGRESS"
        provider = self.providers.get(row.type)
        physical_before = row.physical_id
        custom_create = is_custom_resource(row.type) and verb == "CREATE"
        if not resumed:
            if custom_create:
                # Kept from the start: a creation that fails or is cancelled after its request
                # went out still gets the rollback's Delete, with these properties.
                row.properties = props
            row.token, row.status, row.reason = token, f"{verb}_IN_PROGRESS", note
            row.wait_until, row.wait_reason = None, None
            row.updated = self.clock.now()
            self.record(row, parameters.masked(props, self.hidden))
        if provider is None:
            self.fail(row, f"{verb}_FAILED", f"Unsupported resource type: {row.type}")
            return False
        if row.wait_until is not None and self.clock.now() >= row.wait_until:
            if custom_create:
                self.unanswered(row)
            self.fail(row, f"{verb}_FAILED", row.wait_reason or "Resource timed out waiting for completion")
            return False
        # The stack's tags (and AWS's aws:cloudformation:* ones) reach the provider, not the record.
        tags_now, tags_before = self.stack.tags, (self.stack.previous or {}).get("tags", self.stack.tags)
        if action == "revert":  # going back: the old tags are the ones to put back
            tags_now, tags_before = tags_before, tags_now
        given = with_stack_tags(row.type, props, tags_now, self.stack.name, self.stack_id, row.logical_id) or {}
        given_old = with_stack_tags(row.type, old_props, tags_before, self.stack.name, self.stack_id, row.logical_id)
        req = ResourceRequest(self.stack.name, self.stack_id, row.logical_id, row.type, given, given_old,
                              None if action in ("create", "replace") else physical_before,
                              self.stack.account, self.stack.region, token, row.name_suffix)
        try:
            result: ResourceResult | None = call(provider, req)
        except InProgress as waiting:
            self._wait(row, waiting)
            raise Waiting() from None
        except ServiceError as err:
            self.fail(row, f"{verb}_FAILED", handler_message(row.type, err, token))
            return False
        except ProviderError as err:
            if custom_create and err.physical_id and row.physical_id is None:
                row.physical_id = err.physical_id  # the rollback sends its Delete for this id
            self.fail(row, f"{verb}_FAILED", str(err))
            return False
        except Exception:  # a provider's bug: the resource fails, the stack rolls back, it is logged
            log.exception("cloudformation: %s %s (%s) failed", action, row.logical_id, row.type)
            self.fail(row, f"{verb}_FAILED", "Internal Failure")
            return False
        if result is not None:  # a delete answers nothing
            row.physical_id, row.properties, row.attributes = result.physical_id, props, dict(result.attributes)
            row.ref_value = result.ref_value
        row.status, row.reason, row.wait_until, row.wait_reason = f"{verb}_COMPLETE", None, None, None
        row.updated = self.clock.now()
        # As CloudFormation shows a creation: a second CREATE_IN_PROGRESS once the physical id is known.
        self.record(row, initiated=verb == "CREATE")
        return True

    def _wait(self, row: Resource, waiting: InProgress) -> None:
        now = self.clock.now()
        if row.wait_until is None:
            row.wait_until = now + self.clock.engine_seconds(waiting.timeout)
        row.wait_reason = waiting.timeout_reason  # shown if the wait times out
        # The run goes on with what does not depend on this step: it is due again at the earliest
        # of its waits' deadlines (or at once if it was woken meanwhile).
        due = row.wait_until if self.wait_due is None else min(self.wait_due, row.wait_until)
        self.wait_due = due

        def txn(conn: sqlite3.Connection) -> None:
            records.save_resource(conn, row)
            records.wait_until(conn, self.stack_id, due)

        self.db.write(txn)

    def unanswered(self, row: Resource) -> None:
        """A custom resource whose Create was sent but never answered (it timed out, or the stack
        gave up on it): CloudFormation still sends it a Delete when it rolls back, so the
        handler can undo what it may have made. Which PhysicalResourceId AWS puts in that
        request is not documented; the handler gets one (the documentation says a Delete always
        carries one), named as CloudFormation names the resources it makes: stack-logical-SUFFIX."""
        if row.physical_id is None:
            row.physical_id = f"{self.stack.name}-{row.logical_id}-{row.name_suffix}"

    def fail(self, row: Resource, status: str, reason: str) -> None:
        row.status, row.reason, row.updated, row.wait_until = status, reason, self.clock.now(), None
        self.record(row)

    def delete_row(self, row: Resource, *, keep: bool, record: bool = True) -> bool:
        """Delete `row`'s physical resource (keep: DELETE_SKIPPED); False if the delete failed."""
        now = self.clock.now()
        if keep or row.physical_id is None:
            status = "DELETE_SKIPPED" if keep and row.physical_id is not None else "DELETE_COMPLETE"

            def gone(conn: sqlite3.Connection) -> None:
                row.status, row.reason, row.updated = status, None, now
                if record:
                    records.save_resource(conn, row)
                resource_event(conn, row.stack_id, row.logical_id, row.physical_id, row.type, status, None, None, now)

            self.db.write(gone)
            return True
        return self.step(row, "delete", "DELETE", lambda p, req: p.delete(req), row.properties or {}, None) \
            if record else self.discard(row, row)

    def discard(self, owner: Resource, gone: Resource) -> bool:
        """Delete an old physical resource of `owner` (a replaced one: `gone`), with events but no
        row of its own; a delete that waits (a custom resource's) keeps its wait on `owner`."""
        if self.stopping():
            raise Waiting()
        provider = self.providers.get(gone.type)
        now = self.clock.now()
        status, reason = "DELETE_COMPLETE", None
        if owner.wait_until is None:
            self.db.write(lambda conn: resource_event(conn, gone.stack_id, gone.logical_id, gone.physical_id,
                                                      gone.type, "DELETE_IN_PROGRESS", None, None, now))
        elif now >= owner.wait_until:
            status, reason = "DELETE_FAILED", owner.wait_reason or "Resource timed out waiting for completion"
            provider = None
        req = ResourceRequest(self.stack.name, self.stack_id, gone.logical_id, gone.type, gone.properties or {},
                              None, gone.physical_id, self.stack.account, self.stack.region,
                              step_token(self.op, gone.logical_id, "discard"), gone.name_suffix)
        try:
            if provider is not None:
                provider.delete(req)
        except InProgress as waiting:
            self._wait(owner, waiting)
            raise Waiting() from None
        except ServiceError as err:
            status, reason = "DELETE_FAILED", handler_message(gone.type, err, req.request_token)
        except ProviderError as err:
            status, reason = "DELETE_FAILED", str(err)
        owner.wait_until, owner.wait_reason = None, None
        self.db.write(lambda conn: resource_event(conn, gone.stack_id, gone.logical_id, gone.physical_id, gone.type,
                                                  status, reason, None, self.clock.now()))
        return status == "DELETE_COMPLETE"

    def record(self, row: Resource, properties: dict[str, Any] | None = None, *, initiated: bool = False) -> None:
        """Save `row` and its event (its status and reason) in one transaction; `initiated`: after a
        "Resource creation Initiated" event."""

        def txn(conn: sqlite3.Connection) -> None:
            records.save_resource(conn, row)
            if initiated:
                resource_event(conn, row.stack_id, row.logical_id, row.physical_id, row.type, "CREATE_IN_PROGRESS",
                               "Resource creation Initiated", None, row.updated)
            resource_event(conn, row.stack_id, row.logical_id, row.physical_id, row.type, row.status, row.reason,
                           properties, row.updated)

        self.db.write(txn)


def handler_message(type_: str, err: ServiceError, token: str) -> str:
    """A service's AWS error as CloudFormation shows a resource handler's failure."""
    service = type_.split("::")[1] if type_.count("::") >= 2 else type_
    handler_code = "NotFound" if "NotFound" in err.code or "NoSuch" in err.code else \
        "AlreadyExists" if "AlreadyExists" in err.code or "Exists" in err.code else \
        "InvalidRequest" if err.sender_fault else "GeneralServiceException"
    return (f'Resource handler returned message: "{err.message} (Service: {service},'
            f' Error Code: {err.code})" (RequestToken: {token}, HandlerErrorCode: {handler_code})')
