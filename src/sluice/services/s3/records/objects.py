"""Object versions in the store: one row per version (or delete marker) of a key.

`seq` orders a key's versions (the highest is the newest) and `is_latest` marks the current one;
versions.py holds the rules that decide which rows a write or a delete touches.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .models import OBJECT_COLUMNS, ObjectRecord, parts_column

_CURRENT = f"SELECT {OBJECT_COLUMNS} FROM s3_objects WHERE bucket=? AND key=? AND is_latest=1"
_VERSION = f"SELECT {OBJECT_COLUMNS} FROM s3_objects WHERE bucket=? AND key=? AND version_id=?"


def current(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectRecord | None:
    """The key's current version (possibly a delete marker)."""
    row = conn.execute(_CURRENT, (bucket, key)).fetchone()
    return ObjectRecord.from_row(row) if row else None


def find(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
    row = conn.execute(_VERSION, (bucket, key, version_id)).fetchone()
    return ObjectRecord.from_row(row) if row else None


def live_etag(conn: sqlite3.Connection, bucket: str, key: str) -> str | None:
    """The ETag of the key's current version, unless there is none or it is a delete marker."""
    row = conn.execute("SELECT etag FROM s3_objects WHERE bucket=? AND key=? AND is_latest=1 AND delete_marker=0",
                       (bucket, key)).fetchone()
    return str(row["etag"]) if row else None


def delete_version(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> tuple[bool, str | None]:
    """Delete one version's row: (whether there was one, its body file)."""
    row = conn.execute("DELETE FROM s3_objects WHERE bucket=? AND key=? AND version_id=? RETURNING blob",
                       (bucket, key, version_id)).fetchone()
    return (row is not None, row["blob"] if row else None)


def append_latest(conn: sqlite3.Connection, record: ObjectRecord, others: bool = True) -> None:
    """Write `record` (its version id chosen) as its key's newest version, the current one.
    `others` False: the key has no other version (then none is current to step down)."""
    if others:
        conn.execute("UPDATE s3_objects SET is_latest=0 WHERE bucket=? AND key=? AND is_latest=1",
                     (record.bucket, record.key))
    # The new seq is worked out by the INSERT itself: one statement, not a read then a write.
    record.seq = conn.execute(_INSERT + " RETURNING seq", _values(record)).fetchone()[0]
    record.is_latest = True


def write_unversioned(conn: sqlite3.Connection, record: ObjectRecord) -> bool:
    """In a bucket never versioned, in one statement: `record` (version "null") as a new key's
    only version, or over the key's one version, in place, when that keeps its body in its row
    (then nothing is left to delete, and only the row's page changes: no indexed column is set).
    False, writing nothing, when the key's version has a body file (or is not the current one).
    `record.seq` is not read back (nobody reads it after this write): RETURNING seq cost a
    third of the statement."""
    if conn.execute(_WRITE_UNVERSIONED, _values(record)).rowcount == 0:  # the upsert's WHERE held it back
        return False
    record.is_latest = True
    return True


_INSERT = (
    "INSERT INTO s3_objects (bucket, key, version_id, seq, is_latest, delete_marker, blob, data, size, etag,"
    " last_modified, content_type, headers, metadata, tags, checksum_algorithm, checksum, checksum_type,"
    " parts, storage_class) VALUES (?,?,?,"
    " (SELECT coalesce(MAX(seq), 0) + 1 FROM s3_objects WHERE bucket=?1 AND key=?2),"
    " 1,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
_INLINE_OVERWRITE = (
    " ON CONFLICT (bucket, key, version_id) DO UPDATE SET blob=excluded.blob, data=excluded.data,"
    " size=excluded.size, etag=excluded.etag, last_modified=excluded.last_modified,"
    " content_type=excluded.content_type, headers=excluded.headers, metadata=excluded.metadata,"
    " tags=excluded.tags, checksum_algorithm=excluded.checksum_algorithm, checksum=excluded.checksum,"
    " checksum_type=excluded.checksum_type, parts=excluded.parts, storage_class=excluded.storage_class"
    " WHERE s3_objects.blob IS NULL AND s3_objects.is_latest=1 AND s3_objects.delete_marker=0")
_WRITE_UNVERSIONED = _INSERT + _INLINE_OVERWRITE


def _values(record: ObjectRecord) -> tuple[Any, ...]:
    return (
        record.bucket, record.key, record.version_id,
        int(record.delete_marker), record.blob, record.data, record.size, record.etag, record.last_modified,
        record.content_type, _document(record.headers), _document(record.metadata), _document(record.tags),
        record.checksum_algorithm, record.checksum, record.checksum_type,
        parts_column(record), record.storage_class,
    )


def overwrite_current_null(conn: sqlite3.Connection, record: ObjectRecord) -> bool:
    """Write `record` over its key's "null" version where that is the current version and no
    delete marker, in place: the row's page alone changes, where a delete and an insert also
    rewrote a page of each of the table's three indexes (at commit, several times the WAL
    written and synced). False, changing nothing, if the key has no such version."""
    cur = conn.execute(
        "UPDATE s3_objects SET blob=?, data=?, size=?, etag=?, last_modified=?, content_type=?, headers=?,"
        " metadata=?, tags=?, checksum_algorithm=?, checksum=?, checksum_type=?, parts=?, storage_class=?"
        " WHERE bucket=? AND key=? AND version_id='null' AND is_latest=1 AND delete_marker=0 RETURNING seq",
        (
            record.blob, record.data, record.size, record.etag, record.last_modified, record.content_type,
            _document(record.headers), _document(record.metadata), _document(record.tags), record.checksum_algorithm,
            record.checksum, record.checksum_type, parts_column(record), record.storage_class,
            record.bucket, record.key,
        ),
    )
    row = cur.fetchone()
    if row is None:
        return False
    record.seq, record.is_latest = row[0], True
    return True


def _document(value: dict[str, Any]) -> str:
    if not value:
        return "{}"  # most objects have no metadata or tags
    if value == _SSE_S3:
        return _SSE_S3_TEXT  # the headers of most objects (encryption.py): not encoded again each write
    return json.dumps(value)


_SSE_S3 = {"ServerSideEncryption": "AES256"}
_SSE_S3_TEXT = json.dumps(_SSE_S3)


def promote_newest(conn: sqlite3.Connection, bucket: str, key: str) -> None:
    """Make the key's newest remaining version its current one."""
    conn.execute(
        "UPDATE s3_objects SET is_latest=1 WHERE bucket=? AND key=? AND seq="
        "(SELECT MAX(seq) FROM s3_objects WHERE bucket=? AND key=?)", (bucket, key, bucket, key))


def set_tags(conn: sqlite3.Connection, bucket: str, key: str, version_id: str, tags: dict[str, str]) -> bool:
    """Replace one version's tags; False if that version is gone."""
    cur = conn.execute("UPDATE s3_objects SET tags=? WHERE bucket=? AND key=? AND version_id=?",
                       (json.dumps(tags), bucket, key, version_id))
    return cur.rowcount > 0


def referenced_blobs(conn: sqlite3.Connection) -> set[str]:
    """Every body file a row still points to (objects' and multipart parts')."""
    referenced = {r[0] for r in conn.execute("SELECT blob FROM s3_objects WHERE blob IS NOT NULL")}
    referenced |= {r[0] for r in conn.execute("SELECT blob FROM s3_parts")}
    return referenced
