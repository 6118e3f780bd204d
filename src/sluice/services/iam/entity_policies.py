"""The policies of roles and users: their inline policies, and the managed policies attached to
them (AWS's and the account's own)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from . import documents, errors
from .common import Shared, page
from .managed import aws_policy
from .policy_records import (
    InlinePolicy,
    OwnerKind,
    attach,
    attached,
    delete_inline,
    detach,
    find_inline,
    find_policy,
    inline_policies,
    put_inline,
)

MAX_ATTACHED = 10  # PoliciesPerRole / PoliciesPerUser, AWS's default quota


class EntityPolicies:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def _owner(self, ctx: RequestContext, kind: OwnerKind, name: str) -> tuple[str, str, str]:
        """(account, the owner's lname, its name as created); NoSuchEntity if it does not exist."""
        account = self.shared.account(ctx)
        owner = self.shared.role(account, name) if kind == "role" else self.shared.user(account, name)
        return account, owner.lname, owner.name

    # -- inline policies --

    def put_role_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._put_inline(ctx, "role", params["RoleName"], params["PolicyName"], params["PolicyDocument"])
        return {}

    def put_user_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._put_inline(ctx, "user", params["UserName"], params["PolicyName"], params["PolicyDocument"])
        return {}

    def _put_inline(self, ctx: RequestContext, kind: OwnerKind, owner_name: str, name: str, document: str) -> None:
        account, owner, shown = self._owner(ctx, kind, owner_name)
        documents.check(document, "identity")
        limit = documents.ROLE_INLINE_LIMIT if kind == "role" else documents.USER_INLINE_LIMIT

        def put(conn: sqlite3.Connection) -> None:
            others = [p for p in inline_policies(conn, account, kind, owner) if p.name.lower() != name.lower()]
            total = documents.size(document) + sum(documents.size(p.document) for p in others)
            if total > limit:
                raise errors.limit_exceeded(f"Maximum policy size of {limit} bytes exceeded for {kind} {shown}")
            put_inline(conn, account, kind, owner, name, document)

        self.shared.write(put)

    def get_role_policy(self, ctx: RequestContext, RoleName: str, PolicyName: str) -> dict[str, Any]:
        shown, policy = self._inline(ctx, "role", RoleName, PolicyName)
        return {"RoleName": shown, "PolicyName": policy.name, "PolicyDocument": documents.wire(policy.document)}

    def get_user_policy(self, ctx: RequestContext, UserName: str, PolicyName: str) -> dict[str, Any]:
        shown, policy = self._inline(ctx, "user", UserName, PolicyName)
        return {"UserName": shown, "PolicyName": policy.name, "PolicyDocument": documents.wire(policy.document)}

    def _inline(self, ctx: RequestContext, kind: OwnerKind, owner_name: str, name: str) -> tuple[str, InlinePolicy]:
        account, owner, shown = self._owner(ctx, kind, owner_name)
        policy = find_inline(self.shared.db.reader, account, kind, owner, name)
        if policy is None:
            raise errors.no_inline(kind, name)
        return shown, policy

    def list_role_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        return self._list_inline(ctx, "role", params["RoleName"], params)

    def list_user_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        return self._list_inline(ctx, "user", params["UserName"], params)

    def _list_inline(self, ctx: RequestContext, kind: OwnerKind, owner_name: str,
                     params: dict[str, Any]) -> dict[str, Any]:
        account, owner, _ = self._owner(ctx, kind, owner_name)
        found, more = page([p.name for p in inline_policies(self.shared.db.reader, account, kind, owner)], params)
        return {"PolicyNames": found, **more}

    def delete_role_policy(self, ctx: RequestContext, RoleName: str, PolicyName: str) -> dict[str, Any]:
        self._delete_inline(ctx, "role", RoleName, PolicyName)
        return {}

    def delete_user_policy(self, ctx: RequestContext, UserName: str, PolicyName: str) -> dict[str, Any]:
        self._delete_inline(ctx, "user", UserName, PolicyName)
        return {}

    def _delete_inline(self, ctx: RequestContext, kind: OwnerKind, owner_name: str, name: str) -> None:
        account, owner, _ = self._owner(ctx, kind, owner_name)

        def delete(conn: sqlite3.Connection) -> None:
            if not delete_inline(conn, account, kind, owner, name):
                raise errors.no_inline(kind, name)

        self.shared.write(delete)

    # -- attachments --

    def attach_role_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._attach(ctx, "role", params["RoleName"], params["PolicyArn"])
        return {}

    def attach_user_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._attach(ctx, "user", params["UserName"], params["PolicyArn"])
        return {}

    def _attach(self, ctx: RequestContext, kind: OwnerKind, owner_name: str, arn: str) -> None:
        account, owner, _ = self._owner(ctx, kind, owner_name)
        if aws_policy(arn) is None and find_policy(self.shared.db.reader, account, arn) is None:
            raise errors.not_attachable(arn)
        quota = "PoliciesPerRole" if kind == "role" else "PoliciesPerUser"

        def add(conn: sqlite3.Connection) -> None:
            present = attached(conn, account, kind, owner)
            if arn in present:
                return  # attaching twice is a no-op, as in AWS
            if len(present) >= MAX_ATTACHED:
                raise errors.limit_exceeded(f"Cannot exceed quota for {quota}: {MAX_ATTACHED}")
            attach(conn, account, kind, owner, arn)

        self.shared.write(add)

    def detach_role_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._detach(ctx, "role", params["RoleName"], params["PolicyArn"])
        return {}

    def detach_user_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self._detach(ctx, "user", params["UserName"], params["PolicyArn"])
        return {}

    def _detach(self, ctx: RequestContext, kind: OwnerKind, owner_name: str, arn: str) -> None:
        account, owner, _ = self._owner(ctx, kind, owner_name)

        def remove(conn: sqlite3.Connection) -> None:
            if not detach(conn, account, kind, owner, arn):
                raise errors.no_policy(arn)

        self.shared.write(remove)

    def list_attached_role_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        return self._list_attached(ctx, "role", params["RoleName"], params)

    def list_attached_user_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        return self._list_attached(ctx, "user", params["UserName"], params)

    def _list_attached(self, ctx: RequestContext, kind: OwnerKind, owner_name: str,
                       params: dict[str, Any]) -> dict[str, Any]:
        account, owner, _ = self._owner(ctx, kind, owner_name)
        prefix = params.get("PathPrefix") or "/"
        out = []
        for arn in attached(self.shared.db.reader, account, kind, owner):
            path, name = policy_path_and_name(arn)
            if path.startswith(prefix):
                out.append({"PolicyName": name, "PolicyArn": arn})
        found, more = page(out, params)
        return {"AttachedPolicies": found, **more}


def policy_path_and_name(arn: str) -> tuple[str, str]:
    """arn:...:policy/path/Name -> ("/path/", "Name")."""
    rest = arn.split(":policy", 1)[-1]
    path, _, name = rest.rpartition("/")
    return path + "/", name
