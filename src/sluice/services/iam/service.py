"""IAM's business rules: roles, users, inline and managed policies (AWS's and the account's own,
with versions), attachments, access keys, role tags; and, for the rest of Sluice, who an access
key belongs to and which policies apply to it (`Identities`).

Every entity belongs to the caller's account, taken from its access key: a role created with a
111111111111 key lives in 111111111111. No HTTP, no XML: members in, members out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from ...auth.identity import ASSUMED_ROLE, ROOT, Identity, root_identity
from ...auth.policy import Policy, parse_policy
from ...clock import Clock
from ...protocol.context import RequestContext
from ...settings import Settings
from ...store import Store
from ..base import Operation, Service
from . import documents, errors, ids
from .cache import ChangeCounter, Remembered
from .checks import checked
from .credentials import Credentials, Lookup, derived_role_id, role_account_and_name
from .managed import AWS_POLICY_PREFIX, ManagedPolicy, aws_policies, aws_policy

MAX_POLICY_VERSIONS = 5
MAX_ATTACHED = 10          # PoliciesPerRole / PoliciesPerUser, AWS's default quota
MAX_ACCESS_KEYS = 2        # AccessKeysPerUser
DEFAULT_MAX_ITEMS = 100
POLICY_CACHE_SIZE = 1024

Row = sqlite3.Row


class IamService(Service):
    name = "iam"

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.db = store.db
        self.clock = clock
        self.settings = settings
        # Bumped after every IAM write and new STS session: what enforcement asks on every
        # request (keys, policies) is remembered until it moves.
        self.changes = ChangeCounter()
        self.credentials = Credentials(store.db, clock, settings, self.changes)
        self._policies: dict[str, Policy] = {}  # document -> parsed, so requests don't re-parse
        self._identity_policies: Remembered[tuple[Policy, ...]] = Remembered(self.changes)

    # == Identities (the rest of Sluice asks these) ========================================

    def identity(self, access_key: str) -> Identity | None:
        return self.credentials.lookup(access_key).identity

    def lookup(self, access_key: str) -> Lookup:
        """Like identity(), and says whether an unknown key is an expired session."""
        return self.credentials.lookup(access_key)

    def caller(self, ctx: RequestContext) -> Identity:
        """Who sent this request: its key's identity; unknown keys are the default account's
        root (without enforcement any key is accepted)."""
        found = self.identity(ctx.access_key) if ctx.access_key else None
        return found or root_identity(ctx.access_key or "", "", self.settings.account_id)

    def role_credentials(self, role_arn: str, session_name: str) -> Identity:
        """Temporary credentials of `role_arn` for Sluice's own use (a function's execution
        role), reused until close to expiry."""
        account, name = role_account_and_name(role_arn)
        row = self._role_row(account, name)
        role_id = row["role_id"] if row is not None else derived_role_id(role_arn)
        return self.credentials.role_session(role_arn, role_id, session_name)

    def start_role_session(self, role: dict[str, Any], session_name: str, seconds: int) -> Identity:
        """New temporary credentials for a session of `role` (a record from role())."""
        return self.credentials.issue_session(
            account=role["account"], arn=ids.assumed_role_arn(role["account"], role["name"], session_name),
            kind=ASSUMED_ROLE, user_id=f"{role['role_id']}:{session_name}", role_arn=role["arn"], seconds=seconds)

    def start_session(self, caller: Identity, seconds: int) -> Identity:
        """New temporary credentials for the same user or root (GetSessionToken)."""
        return self.credentials.issue_session(account=caller.account, arn=caller.arn, kind=caller.kind,
                                              user_id=caller.user_id, role_arn=None, seconds=seconds)

    def role_exists(self, role_arn: str) -> bool:
        try:
            account, name = role_account_and_name(role_arn)
        except IndexError:
            return False
        row = self._role_row(account, name)
        return row is not None and row["arn"] == role_arn

    def role(self, role_arn: str) -> dict[str, Any] | None:
        """A role's record for STS: name, id, ARN, trust policy, max session duration."""
        try:
            account, name = role_account_and_name(role_arn)
        except IndexError:
            return None
        row = self._role_row(account, name)
        if row is None or row["arn"] != role_arn:
            return None
        return {"account": account, "name": row["name"], "role_id": row["role_id"], "arn": row["arn"],
                "trust_policy": row["trust_policy"], "max_session": row["max_session"]}

    def identity_policies(self, identity: Identity) -> list[Policy]:
        """The parsed identity-based policies that apply to `identity` ([] for root)."""
        owner = (identity.kind, identity.account, identity.arn, identity.role_arn)
        return list(self._identity_policies.get(owner, lambda: tuple(
            self._parsed(d) for d in self.identity_policy_documents(identity))))

    def _parsed(self, document: str) -> Policy:
        policy = self._policies.get(document)
        if policy is None:
            if len(self._policies) >= POLICY_CACHE_SIZE:
                self._policies.clear()
            policy = self._policies[document] = parse_policy(document, "identity")
        return policy

    def identity_policy_documents(self, identity: Identity) -> list[str]:
        """The documents of the identity-based policies of a user or role session: inline ones,
        then the default versions of attached managed ones. Root has none (it needs none)."""
        if identity.kind == ROOT:
            return []
        if identity.kind == ASSUMED_ROLE and identity.role_arn:
            account, name = role_account_and_name(identity.role_arn)
            owner_kind, row = "role", self._role_row(account, name)
        else:
            account, name = identity.account, identity.arn.rsplit("/", 1)[-1]
            owner_kind, row = "user", self._user_row(account, name)
        if row is None:
            return []
        lname = row["lname"]
        docs = [r["document"] for r in self.db.query(
            "SELECT document FROM iam_inline_policies WHERE account = ? AND owner_kind = ? AND owner = ? "
            "ORDER BY lname", (account, owner_kind, lname))]
        for r in self.db.query("SELECT policy_arn FROM iam_attachments WHERE account = ? AND owner_kind = ? "
                               "AND owner = ? ORDER BY seq", (account, owner_kind, lname)):
            document = self._default_document(r["policy_arn"])
            if document is not None:
                docs.append(document)
        return docs

    def _default_document(self, arn: str) -> str | None:
        managed = aws_policy(arn)
        if managed is not None:
            return managed.document
        row = self.db.query_one("SELECT v.document FROM iam_policies p JOIN iam_policy_versions v "
                                "ON v.arn = p.arn AND v.version_id = p.default_version WHERE p.arn = ?", (arn,))
        return row["document"] if row is not None else None

    # == helpers =============================================================================

    def _account(self, ctx: RequestContext) -> str:
        return self.caller(ctx).account

    def operation(self, op_name: str) -> Operation | None:
        return checked(self, op_name, super().operation(op_name))

    def _role_row(self, account: str, name: str) -> Row | None:
        return self.db.query_one("SELECT * FROM iam_roles WHERE account = ? AND lname = ?", (account, name.lower()))

    def _role(self, account: str, name: str) -> Row:
        row = self._role_row(account, name)
        if row is None:
            raise errors.no_role(name)
        return row

    def _user_row(self, account: str, name: str) -> Row | None:
        return self.db.query_one("SELECT * FROM iam_users WHERE account = ? AND lname = ?", (account, name.lower()))

    def _user(self, account: str, name: str) -> Row:
        row = self._user_row(account, name)
        if row is None:
            raise errors.no_user(name)
        return row

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Every IAM write goes through here; once it has committed, the remembered answers
        are stale (a write that failed changed nothing, bumping anyway is only a cache miss)."""
        try:
            return self.db.write(fn)
        finally:
            self.changes.bump()

    # == roles ===============================================================================

    def create_role(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        name, path = params["RoleName"], params.get("Path") or "/"
        trust = params["AssumeRolePolicyDocument"]
        self._check_trust(trust)
        tags = params.get("Tags") or []
        role_id = ids.unique_id(ids.ROLE_ID)
        arn = ids.role_arn(account, path, name)
        now = self.clock.now()

        def insert(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM iam_roles WHERE account = ? AND lname = ?",
                            (account, name.lower())).fetchone():
                raise errors.exists(f"Role with name {name} already exists.")
            conn.execute(
                "INSERT INTO iam_roles (account, lname, name, path, role_id, arn, trust_policy, description, "
                "max_session, tags, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (account, name.lower(), name, path, role_id, arn, trust, params.get("Description"),
                 params.get("MaxSessionDuration") or 3600, json.dumps(tags), now))

        self._write(insert)
        return {"Role": _role_out(self._role(account, name), with_tags=True)}

    def get_role(self, ctx: RequestContext, RoleName: str) -> dict[str, Any]:
        role = _role_out(self._role(self._account(ctx), RoleName), with_tags=True)
        role["RoleLastUsed"] = {}
        return {"Role": role}

    def list_roles(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        prefix = params.get("PathPrefix") or "/"
        rows = [r for r in self.db.query("SELECT * FROM iam_roles WHERE account = ? ORDER BY lname",
                                         (self._account(ctx),)) if r["path"].startswith(prefix)]
        page, more = _page(rows, params)
        return {"Roles": [_role_out(r) for r in page], **more}

    def update_role(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        role = self._role(account, params["RoleName"])
        description = params.get("Description", role["description"])
        max_session = params.get("MaxSessionDuration") or role["max_session"]
        self._write(lambda conn: conn.execute(
            "UPDATE iam_roles SET description = ?, max_session = ? WHERE account = ? AND lname = ?",
            (description, max_session, account, role["lname"])))
        return {}

    def update_role_description(self, ctx: RequestContext, RoleName: str, Description: str) -> dict[str, Any]:
        self.update_role(ctx, RoleName=RoleName, Description=Description)
        return {"Role": _role_out(self._role(self._account(ctx), RoleName), with_tags=True)}

    def update_assume_role_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        role = self._role(account, params["RoleName"])
        self._check_trust(params["PolicyDocument"])
        self._write(lambda conn: conn.execute(
            "UPDATE iam_roles SET trust_policy = ? WHERE account = ? AND lname = ?",
            (params["PolicyDocument"], account, role["lname"])))
        return {}

    def delete_role(self, ctx: RequestContext, RoleName: str) -> dict[str, Any]:
        account = self._account(ctx)

        def delete(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT lname FROM iam_roles WHERE account = ? AND lname = ?",
                               (account, RoleName.lower())).fetchone()
            if row is None:
                raise errors.no_role(RoleName)
            _check_detached(conn, account, "role", row["lname"])
            conn.execute("DELETE FROM iam_roles WHERE account = ? AND lname = ?", (account, row["lname"]))

        self._write(delete)
        return {}

    def _check_trust(self, document: str) -> None:
        documents.check(document, "trust")
        if documents.size(document) > documents.TRUST_LIMIT:
            raise errors.limit_exceeded(f"Cannot exceed quota for ACLSizePerRole: {documents.TRUST_LIMIT}")

    # -- role tags --

    def tag_role(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        role = self._role(account, params["RoleName"])
        tags = {t["Key"]: t["Value"] for t in json.loads(role["tags"])}
        tags.update({t["Key"]: t.get("Value", "") for t in params["Tags"]})
        if len(tags) > 50:
            raise errors.limit_exceeded("Cannot exceed quota for TagsPerRole: 50.")
        self._set_role_tags(account, role["lname"], tags)
        return {}

    def untag_role(self, ctx: RequestContext, RoleName: str, TagKeys: list[str]) -> dict[str, Any]:
        account = self._account(ctx)
        role = self._role(account, RoleName)
        tags = {t["Key"]: t["Value"] for t in json.loads(role["tags"]) if t["Key"] not in TagKeys}
        self._set_role_tags(account, role["lname"], tags)
        return {}

    def _set_role_tags(self, account: str, lname: str, tags: dict[str, str]) -> None:
        value = json.dumps([{"Key": k, "Value": v} for k, v in tags.items()])
        self._write(lambda conn: conn.execute("UPDATE iam_roles SET tags = ? WHERE account = ? AND lname = ?",
                                              (value, account, lname)))

    def list_role_tags(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        role = self._role(self._account(ctx), params["RoleName"])
        page, more = _page(json.loads(role["tags"]), params)
        return {"Tags": page, **more}

    # == users ===============================================================================

    def create_user(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        name, path = params["UserName"], params.get("Path") or "/"
        user_id, arn, now = ids.unique_id(ids.USER_ID), ids.user_arn(account, path, name), self.clock.now()
        tags = params.get("Tags") or []

        def insert(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM iam_users WHERE account = ? AND lname = ?",
                            (account, name.lower())).fetchone():
                raise errors.exists(f"User with name {name} already exists.")
            conn.execute("INSERT INTO iam_users (account, lname, name, path, user_id, arn, tags, created) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (account, name.lower(), name, path, user_id, arn, json.dumps(tags), now))

        self._write(insert)
        return {"User": _user_out(self._user(account, name), with_tags=True)}

    def get_user(self, ctx: RequestContext, UserName: str | None = None) -> dict[str, Any]:
        caller = self.caller(ctx)
        if UserName is None:
            if caller.kind == ROOT:  # the root user, as AWS answers it
                return {"User": {"UserId": caller.account, "Arn": caller.arn, "CreateDate": ids.timestamp(0)}}
            if caller.kind != "user":
                raise errors.validation("Must specify userName when calling with non-User credentials")
            UserName = caller.arn.rsplit("/", 1)[-1]
        return {"User": _user_out(self._user(caller.account, UserName), with_tags=True)}

    def list_users(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        prefix = params.get("PathPrefix") or "/"
        rows = [r for r in self.db.query("SELECT * FROM iam_users WHERE account = ? ORDER BY lname",
                                         (self._account(ctx),)) if r["path"].startswith(prefix)]
        page, more = _page(rows, params)
        return {"Users": [_user_out(r) for r in page], **more}

    def delete_user(self, ctx: RequestContext, UserName: str) -> dict[str, Any]:
        account = self._account(ctx)

        def delete(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT lname FROM iam_users WHERE account = ? AND lname = ?",
                               (account, UserName.lower())).fetchone()
            if row is None:
                raise errors.no_user(UserName)
            if conn.execute("SELECT 1 FROM iam_access_keys WHERE account = ? AND user_lname = ?",
                            (account, row["lname"])).fetchone():
                raise errors.delete_conflict("Cannot delete entity, must delete access keys first.")
            _check_detached(conn, account, "user", row["lname"])
            conn.execute("DELETE FROM iam_users WHERE account = ? AND lname = ?", (account, row["lname"]))

        self._write(delete)
        return {}

    # == inline policies =====================================================================

    def put_role_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        role = self._role(account, params["RoleName"])
        self._put_inline(account, "role", role, params["PolicyName"], params["PolicyDocument"])
        return {}

    def put_user_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        user = self._user(account, params["UserName"])
        self._put_inline(account, "user", user, params["PolicyName"], params["PolicyDocument"])
        return {}

    def _put_inline(self, account: str, kind: str, owner: Row, name: str, document: str) -> None:
        documents.check(document, "identity")
        limit = documents.ROLE_INLINE_LIMIT if kind == "role" else documents.USER_INLINE_LIMIT

        def put(conn: sqlite3.Connection) -> None:
            others = conn.execute("SELECT document FROM iam_inline_policies WHERE account = ? AND owner_kind = ? "
                                  "AND owner = ? AND lname != ?", (account, kind, owner["lname"], name.lower()))
            total = documents.size(document) + sum(documents.size(r["document"]) for r in others)
            if total > limit:
                raise errors.limit_exceeded(
                    f"Maximum policy size of {limit} bytes exceeded for {kind} {owner['name']}")
            conn.execute(
                "INSERT INTO iam_inline_policies (account, owner_kind, owner, lname, name, document) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, owner_kind, owner, lname) "
                "DO UPDATE SET name = excluded.name, document = excluded.document",
                (account, kind, owner["lname"], name.lower(), name, document))

        self._write(put)

    def get_role_policy(self, ctx: RequestContext, RoleName: str, PolicyName: str) -> dict[str, Any]:
        account = self._account(ctx)
        role = self._role(account, RoleName)
        row = self._inline(account, "role", role["lname"], PolicyName)
        return {"RoleName": role["name"], "PolicyName": row["name"], "PolicyDocument": documents.wire(row["document"])}

    def get_user_policy(self, ctx: RequestContext, UserName: str, PolicyName: str) -> dict[str, Any]:
        account = self._account(ctx)
        user = self._user(account, UserName)
        row = self._inline(account, "user", user["lname"], PolicyName)
        return {"UserName": user["name"], "PolicyName": row["name"], "PolicyDocument": documents.wire(row["document"])}

    def _inline(self, account: str, kind: str, owner: str, name: str) -> Row:
        row = self.db.query_one("SELECT * FROM iam_inline_policies WHERE account = ? AND owner_kind = ? "
                                "AND owner = ? AND lname = ?", (account, kind, owner, name.lower()))
        if row is None:
            raise errors.no_inline(kind, name)
        return row

    def list_role_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        role = self._role(account, params["RoleName"])
        return self._list_inline(account, "role", role["lname"], params)

    def list_user_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        user = self._user(account, params["UserName"])
        return self._list_inline(account, "user", user["lname"], params)

    def _list_inline(self, account: str, kind: str, owner: str, params: dict[str, Any]) -> dict[str, Any]:
        names = [r["name"] for r in self.db.query(
            "SELECT name FROM iam_inline_policies WHERE account = ? AND owner_kind = ? AND owner = ? ORDER BY lname",
            (account, kind, owner))]
        page, more = _page(names, params)
        return {"PolicyNames": page, **more}

    def delete_role_policy(self, ctx: RequestContext, RoleName: str, PolicyName: str) -> dict[str, Any]:
        account = self._account(ctx)
        self._delete_inline(account, "role", self._role(account, RoleName)["lname"], PolicyName)
        return {}

    def delete_user_policy(self, ctx: RequestContext, UserName: str, PolicyName: str) -> dict[str, Any]:
        account = self._account(ctx)
        self._delete_inline(account, "user", self._user(account, UserName)["lname"], PolicyName)
        return {}

    def _delete_inline(self, account: str, kind: str, owner: str, name: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            cur = conn.execute("DELETE FROM iam_inline_policies WHERE account = ? AND owner_kind = ? AND owner = ? "
                               "AND lname = ?", (account, kind, owner, name.lower()))
            if cur.rowcount == 0:
                raise errors.no_inline(kind, name)

        self._write(delete)

    # == attachments =========================================================================

    def attach_role_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        self._attach(account, "role", self._role(account, params["RoleName"]), params["PolicyArn"])
        return {}

    def attach_user_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        self._attach(account, "user", self._user(account, params["UserName"]), params["PolicyArn"])
        return {}

    def _attach(self, account: str, kind: str, owner: Row, arn: str) -> None:
        if aws_policy(arn) is None and not self._own_policy_exists(account, arn):
            raise errors.not_attachable(arn)
        quota = "PoliciesPerRole" if kind == "role" else "PoliciesPerUser"

        def attach(conn: sqlite3.Connection) -> None:
            attached = {r["policy_arn"] for r in conn.execute(
                "SELECT policy_arn FROM iam_attachments WHERE account = ? AND owner_kind = ? AND owner = ?",
                (account, kind, owner["lname"]))}
            if arn in attached:
                return  # attaching twice is a no-op, as in AWS
            if len(attached) >= MAX_ATTACHED:
                raise errors.limit_exceeded(f"Cannot exceed quota for {quota}: {MAX_ATTACHED}")
            conn.execute("INSERT INTO iam_attachments (account, owner_kind, owner, policy_arn) VALUES (?, ?, ?, ?)",
                         (account, kind, owner["lname"], arn))

        self._write(attach)

    def _own_policy_exists(self, account: str, arn: str) -> bool:
        return self.db.query_one("SELECT 1 FROM iam_policies WHERE arn = ? AND account = ?", (arn, account)) is not None

    def detach_role_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        self._detach(account, "role", self._role(account, params["RoleName"])["lname"], params["PolicyArn"])
        return {}

    def detach_user_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        self._detach(account, "user", self._user(account, params["UserName"])["lname"], params["PolicyArn"])
        return {}

    def _detach(self, account: str, kind: str, owner: str, arn: str) -> None:
        def detach(conn: sqlite3.Connection) -> None:
            cur = conn.execute("DELETE FROM iam_attachments WHERE account = ? AND owner_kind = ? AND owner = ? "
                               "AND policy_arn = ?", (account, kind, owner, arn))
            if cur.rowcount == 0:
                raise errors.no_policy(arn)

        self._write(detach)

    def list_attached_role_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        return self._list_attached(account, "role", self._role(account, params["RoleName"])["lname"], params)

    def list_attached_user_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        return self._list_attached(account, "user", self._user(account, params["UserName"])["lname"], params)

    def _list_attached(self, account: str, kind: str, owner: str, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("PathPrefix") or "/"
        out = []
        for r in self.db.query("SELECT policy_arn FROM iam_attachments WHERE account = ? AND owner_kind = ? "
                               "AND owner = ? ORDER BY seq", (account, kind, owner)):
            arn = r["policy_arn"]
            path, name = _policy_path_and_name(arn)
            if path.startswith(prefix):
                out.append({"PolicyName": name, "PolicyArn": arn})
        page, more = _page(out, params)
        return {"AttachedPolicies": page, **more}

    # == managed policies ====================================================================

    def create_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        name, path, document = params["PolicyName"], params.get("Path") or "/", params["PolicyDocument"]
        self._check_managed(document)
        arn, policy_id, now = ids.policy_arn(account, path, name), ids.unique_id(ids.POLICY_ID), self.clock.now()
        tags = params.get("Tags") or []

        def insert(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM iam_policies WHERE account = ? AND lname = ?",
                            (account, name.lower())).fetchone():
                raise errors.exists(f"A policy called {name} already exists. Duplicate names are not allowed.")
            conn.execute(
                "INSERT INTO iam_policies (arn, account, lname, name, path, policy_id, description, default_version, "
                "next_version, tags, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, 'v1', 2, ?, ?, ?)",
                (arn, account, name.lower(), name, path, policy_id, params.get("Description"), json.dumps(tags),
                 now, now))
            conn.execute("INSERT INTO iam_policy_versions (arn, version_id, document, created) VALUES (?, 'v1', ?, ?)",
                         (arn, document, now))

        self._write(insert)
        policy = self._policy_out(account, self._policy_row(account, arn))
        policy.pop("Description", None)  # CreatePolicy's answer leaves it out
        return {"Policy": policy}

    def _check_managed(self, document: str) -> None:
        documents.check(document, "identity")
        if documents.size(document) > documents.MANAGED_LIMIT:
            raise errors.limit_exceeded(f"Cannot exceed quota for PolicySize: {documents.MANAGED_LIMIT}")

    def _policy_row(self, account: str, arn: str) -> Row:
        row = self.db.query_one("SELECT * FROM iam_policies WHERE arn = ? AND account = ?", (arn, account))
        if row is None:
            raise errors.no_policy(arn)
        return row

    def _attachment_count(self, account: str, arn: str) -> int:
        row = self.db.query_one("SELECT COUNT(*) AS n FROM iam_attachments WHERE policy_arn = ? AND account = ?",
                                (arn, account))
        return int(row["n"]) if row is not None else 0

    def _policy_out(self, account: str, row: Row) -> dict[str, Any]:
        out = {
            "PolicyName": row["name"], "PolicyId": row["policy_id"], "Arn": row["arn"], "Path": row["path"],
            "DefaultVersionId": row["default_version"], "AttachmentCount": self._attachment_count(account, row["arn"]),
            "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
            "CreateDate": ids.timestamp(row["created"]), "UpdateDate": ids.timestamp(row["updated"]),
        }
        if row["description"]:
            out["Description"] = row["description"]
        tags = json.loads(row["tags"])
        if tags:
            out["Tags"] = tags
        return out

    def _aws_policy_out(self, account: str, p: ManagedPolicy) -> dict[str, Any]:
        return {
            "PolicyName": p.name, "PolicyId": p.policy_id, "Arn": p.arn, "Path": p.path,
            "DefaultVersionId": p.default_version, "AttachmentCount": self._attachment_count(account, p.arn),
            "PermissionsBoundaryUsageCount": 0, "IsAttachable": True, "Description": p.description,
            "CreateDate": p.created, "UpdateDate": p.updated,
        }

    def get_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn = self._account(ctx), params["PolicyArn"]
        managed = aws_policy(arn)
        if managed is not None:
            return {"Policy": self._aws_policy_out(account, managed)}
        return {"Policy": self._policy_out(account, self._policy_row(account, arn))}

    def list_policies(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account = self._account(ctx)
        scope, prefix = params.get("Scope") or "All", params.get("PathPrefix") or "/"
        found: list[dict[str, Any]] = []
        if scope in ("All", "AWS"):
            found += [self._aws_policy_out(account, p) for p in aws_policies().values()]
        if scope in ("All", "Local"):
            found += [self._policy_out(account, r) for r in self.db.query(
                "SELECT * FROM iam_policies WHERE account = ? ORDER BY lname", (account,))]
        found = [p for p in found if p["Path"].startswith(prefix)
                 and (not params.get("OnlyAttached") or p["AttachmentCount"] > 0)]
        for p in found:
            p.pop("Description", None)  # ListPolicies does not return descriptions
            p.pop("Tags", None)
        page, more = _page(found, params)
        return {"Policies": page, **more}

    def delete_policy(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn = self._account(ctx), params["PolicyArn"]
        self._refuse_aws_policy(ctx, "DeletePolicy", arn)

        def delete(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT * FROM iam_policies WHERE arn = ? AND account = ?", (arn, account)).fetchone()
            if row is None:
                raise errors.no_policy(arn)
            if conn.execute("SELECT 1 FROM iam_attachments WHERE policy_arn = ? AND account = ?",
                            (arn, account)).fetchone():
                raise errors.delete_conflict("Cannot delete a policy attached to entities.")
            if conn.execute("SELECT COUNT(*) FROM iam_policy_versions WHERE arn = ?", (arn,)).fetchone()[0] > 1:
                raise errors.delete_conflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the "
                    "policy's versions. The default version is deleted with the policy.")
            conn.execute("DELETE FROM iam_policy_versions WHERE arn = ?", (arn,))
            conn.execute("DELETE FROM iam_policies WHERE arn = ?", (arn,))

        self._write(delete)
        return {}

    def _refuse_aws_policy(self, ctx: RequestContext, operation: str, arn: str) -> None:
        """AWS managed policies are read-only; AWS answers changes to them with AccessDenied."""
        if arn.startswith(AWS_POLICY_PREFIX):
            raise errors.access_denied(f"User: {self.caller(ctx).arn} is not authorized to perform: "
                                       f"iam:{operation} on resource: policy {arn}")

    # -- versions --

    def create_policy_version(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn, document = self._account(ctx), params["PolicyArn"], params["PolicyDocument"]
        self._refuse_aws_policy(ctx, "CreatePolicyVersion", arn)
        self._check_managed(document)
        now = self.clock.now()

        def create(conn: sqlite3.Connection) -> str:
            row = conn.execute("SELECT * FROM iam_policies WHERE arn = ? AND account = ?", (arn, account)).fetchone()
            if row is None:
                raise errors.no_policy(arn)
            if conn.execute("SELECT COUNT(*) FROM iam_policy_versions WHERE arn = ?", (arn,)).fetchone()[0] \
                    >= MAX_POLICY_VERSIONS:
                raise errors.limit_exceeded(
                    f"A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new "
                    "version, you must delete an existing version.")
            version = f"v{row['next_version']}"
            conn.execute("INSERT INTO iam_policy_versions (arn, version_id, document, created) VALUES (?, ?, ?, ?)",
                         (arn, version, document, now))
            default = version if params.get("SetAsDefault") else row["default_version"]
            conn.execute("UPDATE iam_policies SET next_version = next_version + 1, default_version = ?, updated = ? "
                         "WHERE arn = ?", (default, now, arn))
            return version

        version = self._write(create)
        return {"PolicyVersion": {"VersionId": version, "IsDefaultVersion": bool(params.get("SetAsDefault")),
                                  "CreateDate": ids.timestamp(now)}}

    def get_policy_version(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn, version = self._account(ctx), params["PolicyArn"], params["VersionId"]
        managed = aws_policy(arn)
        if managed is not None:
            if version != managed.default_version:
                raise errors.no_version(arn, version)
            return {"PolicyVersion": {"Document": documents.wire(managed.document), "VersionId": version,
                                      "IsDefaultVersion": True, "CreateDate": managed.updated}}
        policy = self._policy_row(account, arn)
        row = self.db.query_one("SELECT * FROM iam_policy_versions WHERE arn = ? AND version_id = ?", (arn, version))
        if row is None:
            raise errors.no_version(arn, version)
        return {"PolicyVersion": {"Document": documents.wire(row["document"]), "VersionId": version,
                                  "IsDefaultVersion": version == policy["default_version"],
                                  "CreateDate": ids.timestamp(row["created"])}}

    def list_policy_versions(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn = self._account(ctx), params["PolicyArn"]
        managed = aws_policy(arn)
        if managed is not None:
            versions = [{"VersionId": managed.default_version, "IsDefaultVersion": True,
                         "CreateDate": managed.updated}]
        else:
            policy = self._policy_row(account, arn)
            rows = self.db.query("SELECT version_id, created FROM iam_policy_versions WHERE arn = ? "
                                 "ORDER BY created DESC, CAST(substr(version_id, 2) AS INTEGER) DESC", (arn,))
            versions = [{"VersionId": r["version_id"], "IsDefaultVersion": r["version_id"] == policy["default_version"],
                         "CreateDate": ids.timestamp(r["created"])} for r in rows]
        page, more = _page(versions, params)
        return {"Versions": page, **more}

    def delete_policy_version(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn, version = self._account(ctx), params["PolicyArn"], params["VersionId"]
        self._refuse_aws_policy(ctx, "DeletePolicyVersion", arn)

        def delete(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT * FROM iam_policies WHERE arn = ? AND account = ?", (arn, account)).fetchone()
            if row is None:
                raise errors.no_policy(arn)
            if version == row["default_version"]:
                raise errors.delete_conflict("Cannot delete the default version of a policy.")
            cur = conn.execute("DELETE FROM iam_policy_versions WHERE arn = ? AND version_id = ?", (arn, version))
            if cur.rowcount == 0:
                raise errors.no_version(arn, version)

        self._write(delete)
        return {}

    def set_default_policy_version(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, arn, version = self._account(ctx), params["PolicyArn"], params["VersionId"]
        self._refuse_aws_policy(ctx, "SetDefaultPolicyVersion", arn)
        now = self.clock.now()

        def set_default(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM iam_policies WHERE arn = ? AND account = ?", (arn, account)).fetchone() \
                    is None:
                raise errors.no_policy(arn)
            if conn.execute("SELECT 1 FROM iam_policy_versions WHERE arn = ? AND version_id = ?",
                            (arn, version)).fetchone() is None:
                raise errors.no_version(arn, version)
            conn.execute("UPDATE iam_policies SET default_version = ?, updated = ? WHERE arn = ?", (version, now, arn))

        self._write(set_default)
        return {}

    # == access keys =========================================================================

    def _key_owner(self, ctx: RequestContext, user_name: str | None) -> tuple[str, str, str]:
        """(account, user lname or "" for the root, user name as shown) of an access-key call."""
        caller = self.caller(ctx)
        if user_name is None:
            if caller.kind == ROOT:
                return caller.account, "", ""
            if caller.kind == "user":
                user_name = caller.arn.rsplit("/", 1)[-1]
            else:
                raise errors.validation("Must specify userName when calling with non-User credentials")
        user = self._user(caller.account, user_name)
        return caller.account, user["lname"], user["name"]

    def create_access_key(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, lname, shown = self._key_owner(ctx, params.get("UserName"))
        key, secret, now = ids.access_key_id(), ids.secret_access_key(), self.clock.now()

        def insert(conn: sqlite3.Connection) -> None:
            n = conn.execute("SELECT COUNT(*) FROM iam_access_keys WHERE account = ? AND user_lname = ?",
                             (account, lname)).fetchone()[0]
            if n >= MAX_ACCESS_KEYS:
                raise errors.limit_exceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}")
            conn.execute("INSERT INTO iam_access_keys (access_key, secret, account, user_lname, status, created) "
                         "VALUES (?, ?, ?, ?, 'Active', ?)", (key, secret, account, lname, now))

        self._write(insert)
        out = {"AccessKeyId": key, "Status": "Active", "SecretAccessKey": secret, "CreateDate": ids.timestamp(now)}
        if shown:
            out["UserName"] = shown
        return {"AccessKey": out}

    def list_access_keys(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, lname, shown = self._key_owner(ctx, params.get("UserName"))
        rows = self.db.query("SELECT access_key, status, created FROM iam_access_keys WHERE account = ? AND "
                             "user_lname = ? ORDER BY created", (account, lname))
        keys = []
        for r in rows:
            meta = {"AccessKeyId": r["access_key"], "Status": r["status"], "CreateDate": ids.timestamp(r["created"])}
            if shown:
                meta["UserName"] = shown
            keys.append(meta)
        page, more = _page(keys, params)
        return {"AccessKeyMetadata": page, **more}

    def update_access_key(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, lname, _ = self._key_owner(ctx, params.get("UserName"))
        key = params["AccessKeyId"]

        def update(conn: sqlite3.Connection) -> None:
            cur = conn.execute("UPDATE iam_access_keys SET status = ? WHERE access_key = ? AND account = ? "
                               "AND user_lname = ?", (params["Status"], key, account, lname))
            if cur.rowcount == 0:
                raise errors.no_access_key(key)

        self._write(update)
        return {}

    def delete_access_key(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        account, lname, _ = self._key_owner(ctx, params.get("UserName"))
        key = params["AccessKeyId"]

        def delete(conn: sqlite3.Connection) -> None:
            cur = conn.execute("DELETE FROM iam_access_keys WHERE access_key = ? AND account = ? AND user_lname = ?",
                               (key, account, lname))
            if cur.rowcount == 0:
                raise errors.no_access_key(key)

        self._write(delete)
        return {}


# == shaping records for the wire ============================================================

def _role_out(row: Row, with_tags: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": row["path"], "RoleName": row["name"], "RoleId": row["role_id"], "Arn": row["arn"],
        "CreateDate": ids.timestamp(row["created"]),
        "AssumeRolePolicyDocument": documents.wire(row["trust_policy"]),
        "MaxSessionDuration": row["max_session"],
    }
    if row["description"] is not None:
        out["Description"] = row["description"]
    tags = json.loads(row["tags"])
    if with_tags and tags:
        out["Tags"] = tags
    return out


def _user_out(row: Row, with_tags: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"Path": row["path"], "UserName": row["name"], "UserId": row["user_id"],
                           "Arn": row["arn"], "CreateDate": ids.timestamp(row["created"])}
    tags = json.loads(row["tags"])
    if with_tags and tags:
        out["Tags"] = tags
    return out


def _policy_path_and_name(arn: str) -> tuple[str, str]:
    """arn:...:policy/path/Name -> ("/path/", "Name")."""
    rest = arn.split(":policy", 1)[-1]
    path, _, name = rest.rpartition("/")
    return path + "/", name


def _check_detached(conn: sqlite3.Connection, account: str, kind: str, owner: str) -> None:
    """AWS refuses to delete a role or user that still has policies."""
    if conn.execute("SELECT 1 FROM iam_attachments WHERE account = ? AND owner_kind = ? AND owner = ?",
                    (account, kind, owner)).fetchone():
        raise errors.delete_conflict("Cannot delete entity, must detach all policies first.")
    if conn.execute("SELECT 1 FROM iam_inline_policies WHERE account = ? AND owner_kind = ? AND owner = ?",
                    (account, kind, owner)).fetchone():
        raise errors.delete_conflict("Cannot delete entity, must delete policies first.")


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """IAM's Marker/MaxItems paging; the marker is the offset of the next item."""
    marker = params.get("Marker")
    start = 0
    if marker:
        if not marker.isdigit():
            raise errors.validation("Invalid Marker.")
        start = int(marker)
    size = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    page = items[start:start + size]
    if start + size < len(items):
        return page, {"IsTruncated": True, "Marker": str(start + size)}
    return page, {"IsTruncated": False}
