"""Bucket versioning: version ids, which version is current, and what a write or delete replaces.

All functions run inside the caller's write transaction (or on a reader for lookups). The rules:
- a bucket that never had versioning writes the version "null", replacing the previous "null";
- an Enabled bucket gives every write (and every delete marker) a new version id;
- a Suspended bucket writes "null" again, replacing only the previous "null" version.
A key's current version is the one with the highest `seq`; it may be a delete marker.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import string

from . import errors
from .records import ObjectRecord

NULL = "null"
ENABLED = "Enabled"
SUSPENDED = "Suspended"

# AWS's ids are 32 characters of letters, digits, "." and "_" (URL-safe, opaque).
_ALPHABET = string.ascii_letters + string.digits + "._"
_SHAPE = re.compile(r"^[A-Za-z0-9._]{32}$")


def new_version_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))


def check_version_id(version_id: str) -> None:
    """Ids we could never have issued are malformed, as AWS answers for them."""
    if version_id != NULL and not _SHAPE.match(version_id):
        raise errors.invalid_argument("Invalid version id specified", "versionId", version_id)


def status(conn: sqlite3.Connection, bucket: str) -> str | None:
    """The bucket's versioning status (None: never versioned); NoSuchBucket if it does not exist."""
    row = conn.execute("SELECT config FROM s3_buckets WHERE name=?", (bucket,)).fetchone()
    if row is None:
        raise errors.no_such_bucket(bucket)
    value = json.loads(row["config"]).get("Versioning", {}).get("Status")
    return value if isinstance(value, str) else None


def current(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectRecord | None:
    row = conn.execute("SELECT * FROM s3_objects WHERE bucket=? AND key=? AND is_latest=1", (bucket, key)).fetchone()
    return ObjectRecord.from_row(row) if row else None


def find(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
    row = conn.execute("SELECT * FROM s3_objects WHERE bucket=? AND key=? AND version_id=?",
                       (bucket, key, version_id)).fetchone()
    return ObjectRecord.from_row(row) if row else None


def place(conn: sqlite3.Connection, record: ObjectRecord, versioning: str | None) -> list[str]:
    """Make `record` its key's current version; return the body files of versions it replaced."""
    doomed: list[str] = []
    if versioning == ENABLED:
        record.version_id = new_version_id()
    else:
        record.version_id = NULL
        old = conn.execute("DELETE FROM s3_objects WHERE bucket=? AND key=? AND version_id=? RETURNING blob",
                           (record.bucket, record.key, NULL)).fetchone()
        if old is not None and old["blob"]:
            doomed.append(old["blob"])
    top = conn.execute("SELECT MAX(seq) FROM s3_objects WHERE bucket=? AND key=?",
                       (record.bucket, record.key)).fetchone()[0]
    conn.execute("UPDATE s3_objects SET is_latest=0 WHERE bucket=? AND key=? AND is_latest=1",
                 (record.bucket, record.key))
    record.seq = (top or 0) + 1
    record.is_latest = True
    record.insert(conn)
    return doomed


def remove(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
    """Delete one version for good; the next newest becomes current. Return what was deleted."""
    gone = find(conn, bucket, key, version_id)
    if gone is None:
        return None
    conn.execute("DELETE FROM s3_objects WHERE bucket=? AND key=? AND version_id=?", (bucket, key, version_id))
    if gone.is_latest:
        conn.execute(
            "UPDATE s3_objects SET is_latest=1 WHERE bucket=? AND key=? AND seq="
            "(SELECT MAX(seq) FROM s3_objects WHERE bucket=? AND key=?)", (bucket, key, bucket, key))
    return gone
