"""IAM's policy rows (the tables are records.py's): inline policies of roles and users,
attachments of managed policies, customer managed policies and their versions.

An owner is a role or a user: its kind ('role' | 'user') and its lower-cased name."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Literal

from .records import Tags

OwnerKind = Literal["role", "user"]


# -- inline policies --------------------------------------------------------------------------------

@dataclass(frozen=True)
class InlinePolicy:
    """An inline policy of a role or user."""

    name: str
    document: str


def inline_policies(conn: sqlite3.Connection, account: str, kind: OwnerKind, owner: str) -> list[InlinePolicy]:
    """The owner's inline policies, by name."""
    rows = conn.execute("SELECT name, document FROM iam_inline_policies WHERE account = ? AND owner_kind = ? "
                        "AND owner = ? ORDER BY lname", (account, kind, owner))
    return [InlinePolicy(r["name"], r["document"]) for r in rows]


def find_inline(conn: sqlite3.Connection, account: str, kind: OwnerKind, owner: str, name: str) -> InlinePolicy | None:
    row = conn.execute("SELECT name, document FROM iam_inline_policies WHERE account = ? AND owner_kind = ? "
                       "AND owner = ? AND lname = ?", (account, kind, owner, name.lower())).fetchone()
    return InlinePolicy(row["name"], row["document"]) if row is not None else None


def put_inline(conn: sqlite3.Connection, account: str, kind: OwnerKind, owner: str, name: str, document: str) -> None:
    """Create or replace (by name, whatever its case) an inline policy."""
    conn.execute(
        "INSERT INTO iam_inline_policies (account, owner_kind, owner, lname, name, document) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, owner_kind, owner, lname) "
        "DO UPDATE SET name = excluded.name, document = excluded.document",
        (account, kind, owner, name.lower(), name, document))


def delete_inline(conn: sqlite3.Connection, account: str, kind: OwnerKind, owner: str, name: str) -> bool:
    """False if the owner has no such policy."""
    cur = conn.execute("DELETE FROM iam_inline_policies WHERE account = ? AND owner_kind = ? AND owner = ? "
                       "AND lname = ?", (account, kind, owner, name.lower()))
    return cur.rowcount > 0


def has_policies(conn: sqlite3.Connection, account: str, kind: OwnerKind, owner: str) -> tuple[bool, bool]:
    """(has attached policies, has inline policies)."""
    attached = conn.execute("SELECT 1 FROM iam_attachments WHERE account = ? AND owner_kind = ? AND owner = ?",
                            (account, kind, owner)).fetchone()
    inline = conn.execute("SELECT 1 FROM iam_inline_policies WHERE account = ? AND owner_kind = ? AND owner = ?",
                          (account, kind, owner)).fetchone()
    return attached is not None, inline is not None


# -- attachments --------------------------------------------------------------------------------

def attached(conn: sqlite3.Connection, account: str, kind: OwnerKind, owner: str) -> list[str]:
    """The ARNs of the managed policies attached to the owner, in the order they were attached."""
    rows = conn.execute("SELECT policy_arn FROM iam_attachments WHERE account = ? AND owner_kind = ? AND owner = ? "
                        "ORDER BY seq", (account, kind, owner))
    return [r["policy_arn"] for r in rows]


def attach(conn: sqlite3.Connection, account: str, kind: OwnerKind, owner: str, arn: str) -> None:
    conn.execute("INSERT INTO iam_attachments (account, owner_kind, owner, policy_arn) VALUES (?, ?, ?, ?)",
                 (account, kind, owner, arn))


def detach(conn: sqlite3.Connection, account: str, kind: OwnerKind, owner: str, arn: str) -> bool:
    """False if the policy was not attached to the owner."""
    cur = conn.execute("DELETE FROM iam_attachments WHERE account = ? AND owner_kind = ? AND owner = ? "
                       "AND policy_arn = ?", (account, kind, owner, arn))
    return cur.rowcount > 0


def attachment_count(conn: sqlite3.Connection, account: str, arn: str) -> int:
    row = conn.execute("SELECT COUNT(*) FROM iam_attachments WHERE policy_arn = ? AND account = ?",
                       (arn, account)).fetchone()
    return int(row[0])


# -- customer managed policies and their versions ------------------------------------------------

@dataclass(frozen=True)
class PolicyRecord:
    """A customer managed policy's row; its documents are in its versions."""

    arn: str
    account: str
    lname: str
    name: str
    path: str
    policy_id: str
    description: str | None
    default_version: str
    next_version: int
    tags: Tags
    created: float
    updated: float


@dataclass(frozen=True)
class PolicyVersion:
    """One version of a customer managed policy."""

    version_id: str
    document: str
    created: float


def _policy(r: sqlite3.Row) -> PolicyRecord:
    return PolicyRecord(r["arn"], r["account"], r["lname"], r["name"], r["path"], r["policy_id"], r["description"],
                        r["default_version"], r["next_version"], json.loads(r["tags"]), r["created"], r["updated"])


def find_policy(conn: sqlite3.Connection, account: str, arn: str) -> PolicyRecord | None:
    row = conn.execute("SELECT * FROM iam_policies WHERE arn = ? AND account = ?", (arn, account)).fetchone()
    return _policy(row) if row is not None else None


def policy_named(conn: sqlite3.Connection, account: str, name: str) -> bool:
    return conn.execute("SELECT 1 FROM iam_policies WHERE account = ? AND lname = ?",
                        (account, name.lower())).fetchone() is not None


def policies_of(conn: sqlite3.Connection, account: str) -> list[PolicyRecord]:
    return [_policy(r) for r in conn.execute("SELECT * FROM iam_policies WHERE account = ? ORDER BY lname", (account,))]


def insert_policy(conn: sqlite3.Connection, p: PolicyRecord, document: str) -> None:
    """A new policy with its first version (its default)."""
    conn.execute(
        "INSERT INTO iam_policies (arn, account, lname, name, path, policy_id, description, default_version, "
        "next_version, tags, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (p.arn, p.account, p.lname, p.name, p.path, p.policy_id, p.description, p.default_version, p.next_version,
         json.dumps(p.tags), p.created, p.updated))
    conn.execute("INSERT INTO iam_policy_versions (arn, version_id, document, created) VALUES (?, ?, ?, ?)",
                 (p.arn, p.default_version, document, p.created))


def delete_policy(conn: sqlite3.Connection, arn: str) -> None:
    """The policy and its versions."""
    conn.execute("DELETE FROM iam_policy_versions WHERE arn = ?", (arn,))
    conn.execute("DELETE FROM iam_policies WHERE arn = ?", (arn,))


def policy_attached(conn: sqlite3.Connection, account: str, arn: str) -> bool:
    return conn.execute("SELECT 1 FROM iam_attachments WHERE policy_arn = ? AND account = ?",
                        (arn, account)).fetchone() is not None


def version_count(conn: sqlite3.Connection, arn: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM iam_policy_versions WHERE arn = ?", (arn,)).fetchone()[0])


def add_version(conn: sqlite3.Connection, policy: PolicyRecord, document: str, now: float, make_default: bool) -> str:
    """Add the policy's next version; returns its id."""
    version = f"v{policy.next_version}"
    conn.execute("INSERT INTO iam_policy_versions (arn, version_id, document, created) VALUES (?, ?, ?, ?)",
                 (policy.arn, version, document, now))
    default = version if make_default else policy.default_version
    conn.execute("UPDATE iam_policies SET next_version = next_version + 1, default_version = ?, updated = ? "
                 "WHERE arn = ?", (default, now, policy.arn))
    return version


def find_version(conn: sqlite3.Connection, arn: str, version: str) -> PolicyVersion | None:
    row = conn.execute("SELECT version_id, document, created FROM iam_policy_versions WHERE arn = ? "
                       "AND version_id = ?", (arn, version)).fetchone()
    return PolicyVersion(row["version_id"], row["document"], row["created"]) if row is not None else None


def versions_of(conn: sqlite3.Connection, arn: str) -> list[PolicyVersion]:
    """Newest first."""
    rows = conn.execute("SELECT version_id, document, created FROM iam_policy_versions WHERE arn = ? "
                        "ORDER BY created DESC, CAST(substr(version_id, 2) AS INTEGER) DESC", (arn,))
    return [PolicyVersion(r["version_id"], r["document"], r["created"]) for r in rows]


def delete_version(conn: sqlite3.Connection, arn: str, version: str) -> bool:
    """False if there is no such version."""
    return conn.execute("DELETE FROM iam_policy_versions WHERE arn = ? AND version_id = ?",
                        (arn, version)).rowcount > 0


def set_default_version(conn: sqlite3.Connection, arn: str, version: str, now: float) -> None:
    conn.execute("UPDATE iam_policies SET default_version = ?, updated = ? WHERE arn = ?", (version, now, arn))


def default_document(conn: sqlite3.Connection, arn: str) -> str | None:
    """The document of a customer managed policy's default version."""
    row = conn.execute("SELECT v.document FROM iam_policies p JOIN iam_policy_versions v "
                       "ON v.arn = p.arn AND v.version_id = p.default_version WHERE p.arn = ?", (arn,)).fetchone()
    return row["document"] if row is not None else None
