"""What IAM's parts share: the state they work on, who the caller is, the one write path (which
moves the change counter), entity lookups and IAM's Marker/MaxItems paging."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ...auth.identity import Identity, root_identity
from ...clock import Clock
from ...protocol.context import RequestContext
from ...settings import Settings
from ...store.db import Database
from . import errors
from .cache import ChangeCounter
from .credentials import Credentials
from .policy_records import OwnerKind, has_policies
from .records import RoleRecord, UserRecord, find_role, find_user

DEFAULT_MAX_ITEMS = 100

T = TypeVar("T")


@dataclass
class Shared:
    """The state IAM's parts work on, with who the caller is, the one write path and lookups."""

    db: Database
    clock: Clock
    settings: Settings
    # Bumped after every IAM write and new STS session: what enforcement asks on every request
    # (keys, policies) is remembered until it moves.
    changes: ChangeCounter
    credentials: Credentials

    def caller(self, ctx: RequestContext) -> Identity:
        """Who sent this request: its key's identity; unknown keys (without enforcement) are the
        root of the account the gateway's authorization put the request in (the default one, or
        a function's for its placeholder credentials)."""
        found = self.credentials.lookup(ctx.access_key).identity if ctx.access_key else None
        return found or root_identity(ctx.access_key or "", "", ctx.account_id)

    def account(self, ctx: RequestContext) -> str:
        """Every entity belongs to the caller's account (from its access key)."""
        return self.caller(ctx).account

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Every IAM write goes through here; once it has committed, the remembered answers
        are stale (a write that failed changed nothing, bumping anyway is only a cache miss)."""
        try:
            return self.db.write(fn)
        finally:
            self.changes.bump()

    def role(self, account: str, name: str) -> RoleRecord:
        found = find_role(self.db.reader, account, name)
        if found is None:
            raise errors.no_role(name)
        return found

    def user(self, account: str, name: str) -> UserRecord:
        found = find_user(self.db.reader, account, name)
        if found is None:
            raise errors.no_user(name)
        return found


def page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """IAM's Marker/MaxItems paging; the marker is the offset of the next item."""
    marker = params.get("Marker")
    start = 0
    if marker:
        if not marker.isdigit():
            raise errors.validation("Invalid Marker.")
        start = int(marker)
    size = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    items_page = items[start:start + size]
    if start + size < len(items):
        return items_page, {"IsTruncated": True, "Marker": str(start + size)}
    return items_page, {"IsTruncated": False}


def check_detached(conn: sqlite3.Connection, account: str, kind: OwnerKind, owner: str) -> None:
    """AWS refuses to delete a role or user that still has policies."""
    has_attached, has_inline = has_policies(conn, account, kind, owner)
    if has_attached:
        raise errors.delete_conflict("Cannot delete entity, must detach all policies first.")
    if has_inline:
        raise errors.delete_conflict("Cannot delete entity, must delete policies first.")
