"""IAM's and STS's durable state: roles, users, customer managed policies and their versions,
inline policies, attachments, users' access keys and STS sessions.

Everything is per account (the caller's, from its access key). IAM names are unique without
regard to case, so each entity also stores its lower-cased name (`lname`) as its key; the name
as created is what the API returns. AWS managed policies are not rows: they are package data
(managed.py); an attachment of one is a row in `iam_attachments` like any other.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

# The schema steps are in migrations.py: the schema imports them at start-up, these records
# (and their dataclasses) come with IAM's first use.

Tags = list[dict[str, str]]  # [{"Key": ..., "Value": ...}], in the order given


# -- roles ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RoleRecord:
    """An IAM role's row."""

    account: str
    lname: str
    name: str
    path: str
    role_id: str
    arn: str
    trust_policy: str
    description: str | None
    max_session: int
    tags: Tags
    created: float

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> RoleRecord:
        return cls(r["account"], r["lname"], r["name"], r["path"], r["role_id"], r["arn"], r["trust_policy"],
                   r["description"], r["max_session"], json.loads(r["tags"]), r["created"])


def find_role(conn: sqlite3.Connection, account: str, name: str) -> RoleRecord | None:
    row = conn.execute("SELECT * FROM iam_roles WHERE account = ? AND lname = ?", (account, name.lower())).fetchone()
    return RoleRecord.from_row(row) if row is not None else None


def roles_of(conn: sqlite3.Connection, account: str) -> list[RoleRecord]:
    return [RoleRecord.from_row(r) for r in conn.execute("SELECT * FROM iam_roles WHERE account = ? ORDER BY lname",
                                                            (account,))]


def insert_role(conn: sqlite3.Connection, r: RoleRecord) -> None:
    conn.execute(
        "INSERT INTO iam_roles (account, lname, name, path, role_id, arn, trust_policy, description, "
        "max_session, tags, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (r.account, r.lname, r.name, r.path, r.role_id, r.arn, r.trust_policy, r.description, r.max_session,
         json.dumps(r.tags), r.created))


def update_role(conn: sqlite3.Connection, account: str, lname: str, *, description: str | None = None,
                max_session: int | None = None, trust_policy: str | None = None, tags: Tags | None = None) -> None:
    """Change the given settings of a role (None: leave as is; a description cannot be unset)."""
    changes: dict[str, Any] = {"description": description, "max_session": max_session,
                               "trust_policy": trust_policy, "tags": None if tags is None else json.dumps(tags)}
    for column, value in changes.items():
        if value is not None:
            conn.execute(f"UPDATE iam_roles SET {column} = ? WHERE account = ? AND lname = ?", (value, account, lname))


def delete_role(conn: sqlite3.Connection, account: str, lname: str) -> None:
    conn.execute("DELETE FROM iam_roles WHERE account = ? AND lname = ?", (account, lname))


# -- users --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UserRecord:
    """An IAM user's row."""

    account: str
    lname: str
    name: str
    path: str
    user_id: str
    arn: str
    tags: Tags
    created: float

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> UserRecord:
        return cls(r["account"], r["lname"], r["name"], r["path"], r["user_id"], r["arn"], json.loads(r["tags"]),
                   r["created"])


def find_user(conn: sqlite3.Connection, account: str, name: str) -> UserRecord | None:
    row = conn.execute("SELECT * FROM iam_users WHERE account = ? AND lname = ?", (account, name.lower())).fetchone()
    return UserRecord.from_row(row) if row is not None else None


def users_of(conn: sqlite3.Connection, account: str) -> list[UserRecord]:
    return [UserRecord.from_row(r) for r in conn.execute("SELECT * FROM iam_users WHERE account = ? ORDER BY lname",
                                                            (account,))]


def insert_user(conn: sqlite3.Connection, u: UserRecord) -> None:
    conn.execute("INSERT INTO iam_users (account, lname, name, path, user_id, arn, tags, created) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (u.account, u.lname, u.name, u.path, u.user_id, u.arn, json.dumps(u.tags), u.created))


def delete_user(conn: sqlite3.Connection, account: str, lname: str) -> None:
    conn.execute("DELETE FROM iam_users WHERE account = ? AND lname = ?", (account, lname))


# -- access keys --------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccessKeyRecord:
    """An access key of an IAM user, or of the account root itself."""

    access_key: str
    secret: str
    account: str
    user_lname: str  # "" for the account root's own key
    status: str  # Active | Inactive
    created: float


@dataclass(frozen=True)
class KeyOwner:
    """An access key and, if it belongs to a user that exists, that user's ARN and id."""

    key: AccessKeyRecord
    user_arn: str | None
    user_id: str | None


def _key(r: sqlite3.Row) -> AccessKeyRecord:
    return AccessKeyRecord(r["access_key"], r["secret"], r["account"], r["user_lname"], r["status"], r["created"])


def keys_of(conn: sqlite3.Connection, account: str, user_lname: str) -> list[AccessKeyRecord]:
    return [_key(r) for r in conn.execute("SELECT * FROM iam_access_keys WHERE account = ? AND user_lname = ? "
                                          "ORDER BY created", (account, user_lname))]


def has_keys(conn: sqlite3.Connection, account: str, user_lname: str) -> bool:
    return conn.execute("SELECT 1 FROM iam_access_keys WHERE account = ? AND user_lname = ?",
                        (account, user_lname)).fetchone() is not None


def insert_key(conn: sqlite3.Connection, k: AccessKeyRecord) -> None:
    conn.execute("INSERT INTO iam_access_keys (access_key, secret, account, user_lname, status, created) "
                 "VALUES (?, ?, ?, ?, ?, ?)", (k.access_key, k.secret, k.account, k.user_lname, k.status, k.created))


def set_key_status(conn: sqlite3.Connection, key: str, account: str, user_lname: str, status: str) -> bool:
    """False if the user has no such key."""
    cur = conn.execute("UPDATE iam_access_keys SET status = ? WHERE access_key = ? AND account = ? "
                       "AND user_lname = ?", (status, key, account, user_lname))
    return cur.rowcount > 0


def delete_key(conn: sqlite3.Connection, key: str, account: str, user_lname: str) -> bool:
    """False if the user has no such key."""
    cur = conn.execute("DELETE FROM iam_access_keys WHERE access_key = ? AND account = ? AND user_lname = ?",
                       (key, account, user_lname))
    return cur.rowcount > 0


def key_owner(conn: sqlite3.Connection, access_key: str) -> KeyOwner | None:
    row = conn.execute(
        "SELECT k.*, u.arn AS user_arn, u.user_id AS user_id FROM iam_access_keys k "
        "LEFT JOIN iam_users u ON u.account = k.account AND u.lname = k.user_lname WHERE k.access_key = ?",
        (access_key,)).fetchone()
    return KeyOwner(_key(row), row["user_arn"], row["user_id"]) if row is not None else None


# -- STS sessions -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionRecord:
    """An STS session's row: temporary credentials and who they act as, until they expire."""

    access_key: str
    secret: str
    token: str
    account: str
    arn: str
    kind: str
    user_id: str
    role_arn: str | None
    expires: float
    reuse_key: str | None = None  # role ARN + session name, for credentials Sluice issues itself
    created: float = 0.0


def _session(r: sqlite3.Row) -> SessionRecord:
    return SessionRecord(r["access_key"], r["secret"], r["token"], r["account"], r["arn"], r["kind"], r["user_id"],
                         r["role_arn"], r["expires"], r["reuse_key"], r["created"])


def find_session(conn: sqlite3.Connection, access_key: str) -> SessionRecord | None:
    row = conn.execute("SELECT * FROM sts_sessions WHERE access_key = ?", (access_key,)).fetchone()
    return _session(row) if row is not None else None


def reusable_session(conn: sqlite3.Connection, reuse_key: str, valid_after: float) -> SessionRecord | None:
    """The session issued for `reuse_key` that lasts longest, if it is still valid after `valid_after`."""
    row = conn.execute("SELECT * FROM sts_sessions WHERE reuse_key = ? AND expires > ? ORDER BY expires DESC LIMIT 1",
                       (reuse_key, valid_after)).fetchone()
    return _session(row) if row is not None else None


def insert_session(conn: sqlite3.Connection, s: SessionRecord, *, purge_before: float) -> None:
    """Record a new session, and forget the sessions that expired before `purge_before`."""
    conn.execute("DELETE FROM sts_sessions WHERE expires < ?", (purge_before,))
    conn.execute(
        "INSERT INTO sts_sessions (access_key, secret, token, account, arn, kind, user_id, role_arn, "
        "reuse_key, expires, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (s.access_key, s.secret, s.token, s.account, s.arn, s.kind, s.user_id, s.role_arn, s.reuse_key, s.expires,
         s.created))
