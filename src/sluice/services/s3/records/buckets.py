"""Buckets in the store: their rows, their configuration document, and their totals."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .models import BucketRecord, BucketTotals, BucketView, WriteTarget


def find(conn: sqlite3.Connection, name: str) -> BucketRecord | None:
    row = conn.execute("SELECT * FROM s3_buckets WHERE name=?", (name,)).fetchone()
    return BucketRecord.from_row(row) if row else None


def view(conn: sqlite3.Connection, name: str) -> BucketView | None:
    """The bucket's row with its policy, lifecycle and notification configurations, in one read;
    None if there is no such bucket."""
    row = conn.execute(
        "SELECT b.*, p.policy, l.config AS lifecycle, n.config AS notifications FROM s3_buckets b"
        " LEFT JOIN s3_bucket_policies p ON p.bucket = b.name LEFT JOIN s3_lifecycle l ON l.bucket = b.name"
        " LEFT JOIN s3_notifications n ON n.bucket = b.name WHERE b.name=?", (name,)).fetchone()
    return BucketView.from_row(row) if row else None


def write_target(conn: sqlite3.Connection, name: str, key: str | None = None) -> WriteTarget | None:
    """What an object write needs of its bucket (inside its transaction), in one read: SQLite
    picks the versioning status out of the configuration document, which is not parsed here.
    With `key`: that key's "null" version too, if it has one. None if there is no such bucket."""
    if key is None:
        row = conn.execute(_TARGET.format(columns="", join=""), (name,)).fetchone()
    else:
        row = conn.execute(_TARGET.format(columns=_NULL_COLUMNS, join=_NULL_JOIN), (key, name)).fetchone()
    if row is None:
        return None
    status = row["versioning"]
    return WriteTarget(status if isinstance(status, str) else None, row["account"], row["region"],
                       row["notifications"], key is not None and row["null_seq"] is not None,
                       row["null_blob"] if key is not None else None)


_TARGET = ("SELECT json_extract(b.config, '$.Versioning.Status') AS versioning, b.account, b.region,"
           " n.config AS notifications{columns} FROM s3_buckets b LEFT JOIN s3_notifications n ON n.bucket = b.name"
           "{join} WHERE b.name=?")
_NULL_COLUMNS = ", o.seq AS null_seq, o.blob AS null_blob"
_NULL_JOIN = " LEFT JOIN s3_objects o ON o.bucket = b.name AND o.key = ? AND o.version_id = 'null'"


def exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM s3_buckets WHERE name=?", (name,)).fetchone() is not None


def insert(conn: sqlite3.Connection, bucket: BucketRecord) -> None:
    conn.execute("INSERT INTO s3_buckets (name, account, region, created) VALUES (?,?,?,?)",
                 (bucket.name, bucket.account, bucket.region, bucket.created))


def owned_by(conn: sqlite3.Connection, account: str, after: str) -> list[BucketRecord]:
    """The account's buckets named after `after`, by name."""
    rows = conn.execute("SELECT * FROM s3_buckets WHERE account=? AND name > ? ORDER BY name", (account, after))
    return [BucketRecord.from_row(r) for r in rows]


def is_empty(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM s3_objects WHERE bucket=? LIMIT 1", (name,)).fetchone() is None


def delete(conn: sqlite3.Connection, name: str) -> list[str]:
    """Delete the bucket and its multipart uploads; return the uploads' part files."""
    blobs = [r[0] for r in conn.execute(
        "SELECT p.blob FROM s3_parts p JOIN s3_uploads u USING (upload_id) WHERE u.bucket=?", (name,))]
    conn.execute("DELETE FROM s3_uploads WHERE bucket=?", (name,))
    conn.execute("DELETE FROM s3_buckets WHERE name=?", (name,))
    return blobs


def config(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    """The bucket's configuration document (versioning...); None if there is no such bucket."""
    row = conn.execute("SELECT config FROM s3_buckets WHERE name=?", (name,)).fetchone()
    return json.loads(row["config"]) if row else None


def set_config(conn: sqlite3.Connection, name: str, document: dict[str, Any]) -> None:
    conn.execute("UPDATE s3_buckets SET config=? WHERE name=?", (json.dumps(document), name))


def totals(conn: sqlite3.Connection) -> list[BucketTotals]:
    """Every bucket's STANDARD bytes and object rows, in one aggregate read."""
    rows = conn.execute(
        "SELECT b.name AS bucket, coalesce(sum(CASE WHEN o.storage_class='STANDARD' THEN o.size END), 0) AS size,"
        " count(o.key) AS objects FROM s3_buckets b LEFT JOIN s3_objects o ON o.bucket = b.name GROUP BY b.name")
    return [BucketTotals(r["bucket"], int(r["size"]), int(r["objects"])) for r in rows]
