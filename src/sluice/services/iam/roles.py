"""IAM roles: create, read, list, update (description, session duration, trust policy), delete,
and their tags."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from . import documents, errors, ids
from .common import Shared, check_detached, page
from .records import RoleRecord, delete_role, find_role, insert_role, roles_of, update_role

MAX_ROLE_TAGS = 50


class Roles:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.clock = shared.clock

    def create_role(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self.shared.account(ctx)
        name, path = params["RoleName"], params.get("Path") or "/"
        trust = params["AssumeRolePolicyDocument"]
        _check_trust(trust)
        role = RoleRecord(account, name.lower(), name, path, ids.unique_id(ids.ROLE_ID), ids.role_arn(account, path, name),
                          trust, params.get("Description"), params.get("MaxSessionDuration") or 3600,
                          params.get("Tags") or [], self.clock.now())

        def insert(conn: sqlite3.Connection) -> None:
            if find_role(conn, account, name) is not None:
                raise errors.exists(f"Role with name {name} already exists.")
            insert_role(conn, role)

        self.shared.write(insert)
        return {"Role": _role_out(self.shared.role(account, name), with_tags=True)}

    def get_role(self, ctx: RequestContext, RoleName: str) -> dict[str, Any]:
        role = _role_out(self.shared.role(self.shared.account(ctx), RoleName), with_tags=True)
        role["RoleLastUsed"] = {}
        return {"Role": role}

    def list_roles(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        prefix = params.get("PathPrefix") or "/"
        roles = [r for r in roles_of(self.shared.db.reader, self.shared.account(ctx)) if r.path.startswith(prefix)]
        found, more = page(roles, params)
        return {"Roles": [_role_out(r) for r in found], **more}

    def update_role(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self.shared.account(ctx)
        role = self.shared.role(account, params["RoleName"])
        self.shared.write(lambda conn: update_role(conn, account, role.lname, description=params.get("Description"),
                                                   max_session=params.get("MaxSessionDuration") or None))
        return {}

    def update_role_description(self, ctx: RequestContext, RoleName: str, Description: str) -> dict[str, Any]:
        self.update_role(ctx, RoleName=RoleName, Description=Description)
        return {"Role": _role_out(self.shared.role(self.shared.account(ctx), RoleName), with_tags=True)}

    def update_assume_role_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self.shared.account(ctx)
        role = self.shared.role(account, params["RoleName"])
        _check_trust(params["PolicyDocument"])
        self.shared.write(lambda conn: update_role(conn, account, role.lname, trust_policy=params["PolicyDocument"]))
        return {}

    def delete_role(self, ctx: RequestContext, RoleName: str) -> dict[str, Any]:
        account = self.shared.account(ctx)

        def delete(conn: sqlite3.Connection) -> None:
            role = find_role(conn, account, RoleName)
            if role is None:
                raise errors.no_role(RoleName)
            check_detached(conn, account, "role", role.lname)
            delete_role(conn, account, role.lname)

        self.shared.write(delete)
        return {}

    # -- tags --

    def tag_role(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self.shared.account(ctx)
        role = self.shared.role(account, params["RoleName"])
        tags = {t["Key"]: t["Value"] for t in role.tags}
        tags.update({t["Key"]: t.get("Value", "") for t in params["Tags"]})
        if len(tags) > MAX_ROLE_TAGS:
            raise errors.limit_exceeded(f"Cannot exceed quota for TagsPerRole: {MAX_ROLE_TAGS}.")
        self._set_tags(account, role.lname, tags)
        return {}

    def untag_role(self, ctx: RequestContext, RoleName: str, TagKeys: list[str]) -> dict[str, Any]:
        account = self.shared.account(ctx)
        role = self.shared.role(account, RoleName)
        self._set_tags(account, role.lname, {t["Key"]: t["Value"] for t in role.tags if t["Key"] not in TagKeys})
        return {}

    def _set_tags(self, account: str, lname: str, tags: dict[str, str]) -> None:
        value = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.shared.write(lambda conn: update_role(conn, account, lname, tags=value))

    def list_role_tags(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        role = self.shared.role(self.shared.account(ctx), params["RoleName"])
        found, more = page(role.tags, params)
        return {"Tags": found, **more}


def _check_trust(document: str) -> None:
    documents.check(document, "trust")
    if documents.size(document) > documents.TRUST_LIMIT:
        raise errors.limit_exceeded(f"Cannot exceed quota for ACLSizePerRole: {documents.TRUST_LIMIT}")


def _role_out(role: RoleRecord, with_tags: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": role.path, "RoleName": role.name, "RoleId": role.role_id, "Arn": role.arn,
        "CreateDate": ids.timestamp(role.created),
        "AssumeRolePolicyDocument": documents.wire(role.trust_policy),
        "MaxSessionDuration": role.max_session,
    }
    if role.description is not None:
        out["Description"] = role.description
    if with_tags and role.tags:
        out["Tags"] = role.tags
    return out
