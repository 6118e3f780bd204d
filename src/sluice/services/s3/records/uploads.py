"""Multipart uploads and their parts in the store."""

from __future__ import annotations

import json
import sqlite3

from .models import PartRecord, UploadRecord


def find(conn: sqlite3.Connection, upload_id: str) -> UploadRecord | None:
    row = conn.execute("SELECT * FROM s3_uploads WHERE upload_id=?", (upload_id,)).fetchone()
    return UploadRecord.from_row(row) if row else None


def exists(conn: sqlite3.Connection, upload_id: str) -> bool:
    return conn.execute("SELECT 1 FROM s3_uploads WHERE upload_id=?", (upload_id,)).fetchone() is not None


def insert(conn: sqlite3.Connection, upload: UploadRecord) -> None:
    conn.execute(
        "INSERT INTO s3_uploads (upload_id, bucket, key, initiated, content_type, headers, metadata,"
        " tags, checksum_algorithm, checksum_type, storage_class) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (upload.upload_id, upload.bucket, upload.key, upload.initiated, upload.content_type,
         json.dumps(upload.headers), json.dumps(upload.metadata), json.dumps(upload.tags), upload.checksum_algorithm,
         upload.checksum_type, upload.storage_class),
    )


def put_part(conn: sqlite3.Connection, part: PartRecord) -> str | None:
    """Store a part (replacing one of the same number); return the body file of the part it replaced."""
    old = conn.execute("SELECT blob FROM s3_parts WHERE upload_id=? AND part_number=?",
                       (part.upload_id, part.part_number)).fetchone()
    conn.execute(
        "INSERT OR REPLACE INTO s3_parts (upload_id, part_number, blob, size, etag, last_modified, checksum)"
        " VALUES (?,?,?,?,?,?,?)",
        (part.upload_id, part.part_number, part.blob, part.size, part.etag, part.last_modified, part.checksum),
    )
    return old["blob"] if old else None


def parts(conn: sqlite3.Connection, upload_id: str, after: int = 0, limit: int = -1) -> list[PartRecord]:
    """The upload's parts numbered after `after`, by number (`limit` -1: all)."""
    rows = conn.execute("SELECT * FROM s3_parts WHERE upload_id=? AND part_number > ? ORDER BY part_number LIMIT ?",
                        (upload_id, after, limit))
    return [PartRecord.from_row(r) for r in rows]


def delete(conn: sqlite3.Connection, upload_id: str) -> list[str]:
    """Delete the upload and its parts; return the parts' body files."""
    blobs = [r[0] for r in conn.execute("SELECT blob FROM s3_parts WHERE upload_id=?", (upload_id,))]
    conn.execute("DELETE FROM s3_uploads WHERE upload_id=?", (upload_id,))
    return blobs


def in_bucket(conn: sqlite3.Connection, bucket: str, key_marker: str, id_marker: str) -> list[UploadRecord]:
    """The bucket's uploads after (key_marker, id_marker), by key then initiation (no id marker:
    after every upload of key_marker)."""
    rows = conn.execute(
        "SELECT * FROM s3_uploads WHERE bucket=? AND (key > ? OR (key = ? AND upload_id > ?))"
        " ORDER BY key, initiated, upload_id",
        (bucket, key_marker, key_marker, id_marker if id_marker else "\U0010ffff"),
    )
    return [UploadRecord.from_row(r) for r in rows]
