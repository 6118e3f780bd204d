"""IAM users and access keys (users' and the account root's own)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...auth.identity import ROOT
from ...protocol.context import RequestContext
from . import errors, ids
from .common import Shared, check_detached, page
from .records import (
    AccessKeyRecord,
    UserRecord,
    delete_key,
    delete_user,
    find_user,
    has_keys,
    insert_key,
    insert_user,
    keys_of,
    set_key_status,
    users_of,
)

MAX_ACCESS_KEYS = 2  # AccessKeysPerUser


class Users:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.clock = shared.clock

    def create_user(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self.shared.account(ctx)
        name, path = params["UserName"], params.get("Path") or "/"
        user = UserRecord(account, name.lower(), name, path, ids.unique_id(ids.USER_ID), ids.user_arn(account, path, name),
                          params.get("Tags") or [], self.clock.now())

        def insert(conn: sqlite3.Connection) -> None:
            if find_user(conn, account, name) is not None:
                raise errors.exists(f"User with name {name} already exists.")
            insert_user(conn, user)

        self.shared.write(insert)
        return {"User": _user_out(self.shared.user(account, name), with_tags=True)}

    def get_user(self, ctx: RequestContext, UserName: str | None = None) -> dict[str, Any]:
        caller = self.shared.caller(ctx)
        if UserName is None:
            if caller.kind == ROOT:  # the root user, as AWS answers it
                return {"User": {"UserId": caller.account, "Arn": caller.arn, "CreateDate": ids.timestamp(0)}}
            if caller.kind != "user":
                raise errors.validation("Must specify userName when calling with non-User credentials")
            UserName = caller.arn.rsplit("/", 1)[-1]
        return {"User": _user_out(self.shared.user(caller.account, UserName), with_tags=True)}

    def list_users(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        prefix = params.get("PathPrefix") or "/"
        users = [u for u in users_of(self.shared.db.reader, self.shared.account(ctx)) if u.path.startswith(prefix)]
        found, more = page(users, params)
        return {"Users": [_user_out(u) for u in found], **more}

    def delete_user(self, ctx: RequestContext, UserName: str) -> dict[str, Any]:
        account = self.shared.account(ctx)

        def delete(conn: sqlite3.Connection) -> None:
            user = find_user(conn, account, UserName)
            if user is None:
                raise errors.no_user(UserName)
            if has_keys(conn, account, user.lname):
                raise errors.delete_conflict("Cannot delete entity, must delete access keys first.")
            check_detached(conn, account, "user", user.lname)
            delete_user(conn, account, user.lname)

        self.shared.write(delete)
        return {}

    # -- access keys --

    def _key_owner(self, ctx: RequestContext, user_name: str | None) -> tuple[str, str, str]:
        """(account, user lname or "" for the root, user name as shown) of an access-key call."""
        caller = self.shared.caller(ctx)
        if user_name is None:
            if caller.kind == ROOT:
                return caller.account, "", ""
            if caller.kind == "user":
                user_name = caller.arn.rsplit("/", 1)[-1]
            else:
                raise errors.validation("Must specify userName when calling with non-User credentials")
        user = self.shared.user(caller.account, user_name)
        return caller.account, user.lname, user.name

    def create_access_key(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, lname, shown = self._key_owner(ctx, params.get("UserName"))
        key = AccessKeyRecord(ids.access_key_id(), ids.secret_access_key(), account, lname, "Active", self.clock.now())

        def insert(conn: sqlite3.Connection) -> None:
            if len(keys_of(conn, account, lname)) >= MAX_ACCESS_KEYS:
                raise errors.limit_exceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}")
            insert_key(conn, key)

        self.shared.write(insert)
        out = {"AccessKeyId": key.access_key, "Status": key.status, "SecretAccessKey": key.secret,
               "CreateDate": ids.timestamp(key.created)}
        if shown:
            out["UserName"] = shown
        return {"AccessKey": out}

    def list_access_keys(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, lname, shown = self._key_owner(ctx, params.get("UserName"))
        keys = []
        for k in keys_of(self.shared.db.reader, account, lname):
            meta = {"AccessKeyId": k.access_key, "Status": k.status, "CreateDate": ids.timestamp(k.created)}
            if shown:
                meta["UserName"] = shown
            keys.append(meta)
        found, more = page(keys, params)
        return {"AccessKeyMetadata": found, **more}

    def update_access_key(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, lname, _ = self._key_owner(ctx, params.get("UserName"))
        key = params["AccessKeyId"]

        def update(conn: sqlite3.Connection) -> None:
            if not set_key_status(conn, key, account, lname, params["Status"]):
                raise errors.no_access_key(key)

        self.shared.write(update)
        return {}

    def delete_access_key(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, lname, _ = self._key_owner(ctx, params.get("UserName"))
        key = params["AccessKeyId"]

        def delete(conn: sqlite3.Connection) -> None:
            if not delete_key(conn, key, account, lname):
                raise errors.no_access_key(key)

        self.shared.write(delete)
        return {}


def _user_out(user: UserRecord, with_tags: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"Path": user.path, "UserName": user.name, "UserId": user.user_id, "Arn": user.arn,
                           "CreateDate": ids.timestamp(user.created)}
    if with_tags and user.tags:
        out["Tags"] = user.tags
    return out
