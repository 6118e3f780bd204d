"""Bucket lifecycle in the store: each bucket's rules, and the rows a lifecycle run looks at.

The reads select only the columns a run needs (never a body), a bucket and a key prefix at a time.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VersionRow:
    """What a lifecycle rule looks at in one version of a key."""

    key: str
    version_id: str
    seq: int
    is_latest: bool
    delete_marker: bool
    size: int
    last_modified: float
    tags: dict[str, str]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> VersionRow:
        return cls(row["key"], row["version_id"], row["seq"], bool(row["is_latest"]), bool(row["delete_marker"]),
                   row["size"], row["last_modified"], json.loads(row["tags"]))


@dataclass(frozen=True)
class UploadRow:
    """What a lifecycle rule looks at in one multipart upload."""

    upload_id: str
    key: str
    initiated: float


def config(conn: sqlite3.Connection, bucket: str) -> dict[str, Any] | None:
    """The bucket's configuration ({"Rules": [...], ...}); None if it has none."""
    row = conn.execute("SELECT config FROM s3_lifecycle WHERE bucket=?", (bucket,)).fetchone()
    return json.loads(row["config"]) if row else None


def put(conn: sqlite3.Connection, bucket: str, document: dict[str, Any]) -> None:
    conn.execute("INSERT OR REPLACE INTO s3_lifecycle (bucket, config) VALUES (?, ?)", (bucket, json.dumps(document)))


def delete(conn: sqlite3.Connection, bucket: str) -> None:
    conn.execute("DELETE FROM s3_lifecycle WHERE bucket=?", (bucket,))


def configured(conn: sqlite3.Connection) -> list[tuple[str, list[dict[str, Any]]]]:
    """(bucket, rules) of every bucket with a lifecycle configuration."""
    return [(r["bucket"], json.loads(r["config"])["Rules"]) for r in
            conn.execute("SELECT bucket, config FROM s3_lifecycle ORDER BY bucket")]


_COLUMNS = "key, version_id, seq, is_latest, delete_marker, size, last_modified, tags"


def versions(conn: sqlite3.Connection, bucket: str, prefix: str, current_only: bool) -> list[VersionRow]:
    """The versions of the bucket's keys under `prefix`, by key then newest first (only the
    current ones with `current_only`)."""
    latest = " AND is_latest=1" if current_only else ""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM s3_objects WHERE bucket=? AND substr(key, 1, ?)=?{latest}"
                        " ORDER BY key, seq DESC", (bucket, len(prefix), prefix))
    return [VersionRow.from_row(row) for row in rows]


def lone_markers(conn: sqlite3.Connection, bucket: str, prefix: str) -> list[VersionRow]:
    """Delete markers under `prefix` that are their key's only version, by key."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM s3_objects o WHERE bucket=? AND substr(key, 1, ?)=? AND is_latest=1"
        " AND delete_marker=1 AND NOT EXISTS (SELECT 1 FROM s3_objects p WHERE p.bucket=o.bucket AND p.key=o.key"
        " AND p.seq<>o.seq) ORDER BY key", (bucket, len(prefix), prefix))
    return [VersionRow.from_row(row) for row in rows]


def version(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> VersionRow | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM s3_objects WHERE bucket=? AND key=? AND version_id=?",
                       (bucket, key, version_id)).fetchone()
    return VersionRow.from_row(row) if row else None


def version_count(conn: sqlite3.Connection, bucket: str, key: str) -> int:
    return int(conn.execute("SELECT count(*) FROM s3_objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()[0])


def uploads(conn: sqlite3.Connection, bucket: str, prefix: str) -> list[UploadRow]:
    rows = conn.execute("SELECT upload_id, key, initiated FROM s3_uploads WHERE bucket=? AND substr(key, 1, ?)=?"
                        " ORDER BY initiated", (bucket, len(prefix), prefix))
    return [UploadRow(r["upload_id"], r["key"], r["initiated"]) for r in rows]
