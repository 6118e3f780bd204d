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
