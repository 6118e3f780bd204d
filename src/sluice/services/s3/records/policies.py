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
