"""ACLs in the store: an object version's ACL (kept in its headers document, under "Acl"), and
the accounts that own buckets (whose canonical ids grants may name)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def set_object_acl(conn: sqlite3.Connection, bucket: str, key: str, version_id: str, acl: dict[str, Any]) -> bool:
    """Replace one version's ACL; False if that version is gone."""
    cur = conn.execute(
        "UPDATE s3_objects SET headers=json_set(headers, '$.Acl', json(?)) WHERE bucket=? AND key=? AND version_id=?",
        (json.dumps(acl), bucket, key, version_id))
    return cur.rowcount > 0


def object_headers(conn: sqlite3.Connection, bucket: str, key: str) -> dict[str, Any] | None:
    """The stored headers of the key's current version; None if it has none or it is a delete marker."""
    row = conn.execute("SELECT headers FROM s3_objects WHERE bucket=? AND key=? AND is_latest=1 AND delete_marker=0",
                       (bucket, key)).fetchone()
    return json.loads(row["headers"]) if row else None


def bucket_owners(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT account FROM s3_buckets")]


def foreign_owner(conn: sqlite3.Connection, bucket: str, key: str) -> str | None:
    """The account owning the key's current version when ACLs are on (the bucket is not
    BucketOwnerEnforced) and it is not the bucket's owner; None otherwise. One read, on the
    path of every allowed object read under --enforce-iam: SQLite's JSON functions pick the two
    fields out, no document is parsed here."""
    row = conn.execute(
        "SELECT b.account, json_extract(b.config, '$.Ownership') AS ownership,"
        " json_extract(o.headers, '$.Acl.Owner') AS owner FROM s3_buckets b LEFT JOIN s3_objects o"
        " ON o.bucket = b.name AND o.key = ? AND o.is_latest = 1 AND o.delete_marker = 0 WHERE b.name = ?",
        (key, bucket)).fetchone()
    if row is None or row["ownership"] == "BucketOwnerEnforced" or row["owner"] in (None, row["account"]):
        return None
    return str(row["owner"])
