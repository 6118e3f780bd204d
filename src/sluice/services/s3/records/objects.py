"""Object versions in the store: one row per version (or delete marker) of a key.

`seq` orders a key's versions (the highest is the newest) and `is_latest` marks the current one;
versions.py holds the rules that decide which rows a write or a delete touches.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .models import ObjectRecord, parts_column


def current(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectRecord | None:
    """The key's current version (possibly a delete marker)."""
    row = conn.execute("SELECT * FROM s3_objects WHERE bucket=? AND key=? AND is_latest=1", (bucket, key)).fetchone()
    return ObjectRecord.from_row(row) if row else None


def find(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
    row = conn.execute("SELECT * FROM s3_objects WHERE bucket=? AND key=? AND version_id=?",
                       (bucket, key, version_id)).fetchone()
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
    record.seq = conn.execute(
        "INSERT INTO s3_objects (bucket, key, version_id, seq, is_latest, delete_marker, blob, data, size, etag,"
        " last_modified, content_type, headers, metadata, tags, checksum_algorithm, checksum, checksum_type,"
        " parts, storage_class) VALUES (?,?,?,"
        " (SELECT coalesce(MAX(seq), 0) + 1 FROM s3_objects WHERE bucket=?1 AND key=?2),"
        " 1,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING seq",
        (
            record.bucket, record.key, record.version_id,
            int(record.delete_marker), record.blob, record.data, record.size, record.etag, record.last_modified,
            record.content_type, _document(record.headers), _document(record.metadata), _document(record.tags),
            record.checksum_algorithm, record.checksum, record.checksum_type,
            parts_column(record), record.storage_class,
        ),
    ).fetchone()[0]
    record.is_latest = True


def overwrite_current_null(conn: sqlite3.Connection, record: ObjectRecord, only_inline: bool = False) -> bool:
    """Write `record` over its key's "null" version where that is the current version and no
    delete marker, in place: the row's page alone changes, where a delete and an insert also
    rewrote a page of each of the table's three indexes (at commit, several times the WAL
    written and synced). False, changing nothing, if the key has no such version (`only_inline`:
    or that version's body is a file, whose name the caller did not read, to delete it)."""
    cur = conn.execute(
        "UPDATE s3_objects SET blob=?, data=?, size=?, etag=?, last_modified=?, content_type=?, headers=?,"
        " metadata=?, tags=?, checksum_algorithm=?, checksum=?, checksum_type=?, parts=?, storage_class=?"
        " WHERE bucket=? AND key=? AND version_id='null' AND is_latest=1 AND delete_marker=0"
        + (" AND blob IS NULL" if only_inline else "") + " RETURNING seq",
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
