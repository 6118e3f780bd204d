"""What the CloudFormation service's parts share, and the lookups they all use."""

from __future__ import annotations

import re
import secrets
import sqlite3
import string
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ...clock import Clock
from ...protocol.context import RequestContext
from ...store.db import Database
from . import errors, records, validate
from .intake import Templates
from .records import Stack

_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")
_ALNUM = string.ascii_uppercase + string.digits


@dataclass
class Shared:
    """What the CloudFormation service's parts share: its state and the deployer's hooks."""

    db: Database
    clock: Clock
    templates: Templates
    wake: Callable[[], None]  # work rows were committed: the deployer looks (thread-safe)
    replace_on: Callable[[str], frozenset[str] | None]  # a type's replacement properties (None: unsupported)
    # Awaits (on the loop) until a stack's operation has ended or waits, for at most the given
    # real seconds (the deployer's `settled`); None: never wait.
    settled: Callable[[str, float], Awaitable[None]] | None = None

    def stack(self, ctx: RequestContext, name_or_id: str | None, conn: sqlite3.Connection | None = None,
              *, deleted_ok: bool = False) -> Stack:
        """The stack named (live) or identified by ARN (deleted ones too when `deleted_ok`)."""
        found = self.find(ctx, name_or_id, conn)
        if found is None or (found.deleted is not None and not deleted_ok):
            raise errors.stack_missing(name_or_id or "")
        return found

    def find(self, ctx: RequestContext, name_or_id: str | None, conn: sqlite3.Connection | None = None) -> Stack | None:
        if not name_or_id:
            raise errors.validation("1 validation error detected: Value null at 'stackName' failed to satisfy"
                                    " constraint: Member must not be null")
        reader = conn or self.db.reader
        if name_or_id.startswith("arn:"):
            found = records.stack_by_id(reader, name_or_id)
            if found is not None and (found.account != ctx.account_id or found.region != ctx.region):
                return None
            return found
        return records.live_stack_by_name(reader, ctx.account_id, ctx.region, name_or_id)

    def stack_id(self, ctx: RequestContext, name: str) -> str:
        return f"arn:aws:cloudformation:{ctx.region}:{ctx.account_id}:stack/{name}/{uuid.uuid4()}"

    def check_imports(self, ctx: RequestContext, template: dict[str, Any]) -> None:
        """Every export the template imports by name exists (CloudFormation checks on submission)."""
        for name in sorted(validate.imported_names([template.get("Resources"), template.get("Outputs")])):
            if records.export(self.db.reader, ctx.account_id, ctx.region, name) is None:
                raise errors.validation(f"No export named {name} found.")

    def now(self) -> float:
        return self.clock.now()


def check_stack_name(name: str | None) -> str:
    if not name:
        raise errors.validation("1 validation error detected: Value null at 'stackName' failed to satisfy"
                                " constraint: Member must not be null")
    if len(name) > 128 or not _NAME.fullmatch(name):
        raise errors.validation(f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy"
                                " constraint: Member must satisfy regular expression pattern:"
                                " [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*")
    return name


def name_suffix() -> str:
    """The random part of a generated physical name: 13 upper-case letters and digits."""
    return "".join(secrets.choice(_ALNUM) for _ in range(13))


def stack_event(conn: sqlite3.Connection, stack: Stack, status: str, reason: str | None, ts: float) -> None:
    records.add_event(conn, stack.stack_id, str(uuid.uuid4()), stack.name, stack.stack_id,
                      "AWS::CloudFormation::Stack", status, reason, None, ts)


def resource_event(conn: sqlite3.Connection, stack_id: str, logical_id: str, physical_id: str | None, type_: str,
                   status: str, reason: str | None, properties: dict[str, Any] | None, ts: float) -> None:
    records.add_event(conn, stack_id, f"{logical_id}-{uuid.uuid4()}", logical_id, physical_id or "", type_, status,
                      reason, properties, ts)
