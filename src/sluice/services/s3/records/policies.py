"""Bucket policies in the store: one JSON document per bucket."""

from __future__ import annotations

import sqlite3


def get(conn: sqlite3.Connection, bucket: str) -> str | None:
    row = conn.execute("SELECT policy FROM s3_bucket_policies WHERE bucket=?", (bucket,)).fetchone()
    return str(row["policy"]) if row else None


def put(conn: sqlite3.Connection, bucket: str, policy: str) -> None:
    conn.execute("INSERT OR REPLACE INTO s3_bucket_policies (bucket, policy) VALUES (?,?)", (bucket, policy))


def delete(conn: sqlite3.Connection, bucket: str) -> None:
    conn.execute("DELETE FROM s3_bucket_policies WHERE bucket=?", (bucket,))


def with_owner(conn: sqlite3.Connection, bucket: str) -> tuple[str | None, str] | None:
    """(the bucket's policy or None, its owner account); None if there is no such bucket."""
    row = conn.execute(
        "SELECT b.account, p.policy FROM s3_buckets b LEFT JOIN s3_bucket_policies p ON p.bucket = b.name"
        " WHERE b.name=?", (bucket,)).fetchone()
    return (row["policy"], row["account"]) if row else None
