"""S3's durable state: buckets, objects, multipart uploads and parts."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from ...store.db import Migration

_S3_0001 = Migration(
    "s3-0001",
    """
    CREATE TABLE s3_buckets (
        name TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        created REAL NOT NULL,
        config TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE s3_objects (
        bucket TEXT NOT NULL REFERENCES s3_buckets(name),
        key TEXT NOT NULL,
        blob TEXT,
        data BLOB,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        last_modified REAL NOT NULL,
        content_type TEXT,
        headers TEXT NOT NULL DEFAULT '{}',
        metadata TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '{}',
        checksum_algorithm TEXT,
        checksum TEXT,
        checksum_type TEXT,
        parts TEXT,
        storage_class TEXT NOT NULL DEFAULT 'STANDARD',
        PRIMARY KEY (bucket, key)
    );
    CREATE TABLE s3_uploads (
        upload_id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL REFERENCES s3_buckets(name),
        key TEXT NOT NULL,
        initiated REAL NOT NULL,
        content_type TEXT,
        headers TEXT NOT NULL DEFAULT '{}',
        metadata TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '{}',
        checksum_algorithm TEXT,
        checksum_type TEXT,
        storage_class TEXT NOT NULL DEFAULT 'STANDARD'
    );
    CREATE INDEX s3_uploads_by_key ON s3_uploads(bucket, key, initiated);
    CREATE TABLE s3_parts (
        upload_id TEXT NOT NULL REFERENCES s3_uploads(upload_id) ON DELETE CASCADE,
        part_number INTEGER NOT NULL,
        blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        last_modified REAL NOT NULL,
        checksum TEXT,
        PRIMARY KEY (upload_id, part_number)
    );
    """,
)

# Event notifications: each bucket's configuration, a per-bucket event counter (the sequencer;
# kept when a bucket is deleted, so a re-created bucket's sequencers still grow), and the outbox
# of events to deliver, written in the same transaction as the object change.
_S3_0002 = Migration(
    "s3-0002",
    """
    CREATE TABLE s3_notifications (
        bucket TEXT PRIMARY KEY REFERENCES s3_buckets(name) ON DELETE CASCADE,
        config TEXT NOT NULL
    );
    CREATE TABLE s3_sequencers (
        bucket TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    CREATE TABLE s3_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bucket TEXT NOT NULL,
        account TEXT NOT NULL,
        target_arn TEXT NOT NULL,
        body TEXT NOT NULL,
        event TEXT,
        created REAL NOT NULL,
        next_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX s3_outbox_due ON s3_outbox(next_at);
    """,
)

# Versioning: every row of s3_objects is one version of a key (or a delete marker). `version_id`
# is "null" for what unversioned and suspended buckets write; `seq` orders a key's versions (the
# highest is the newest) and `is_latest` marks the current one. Objects written before this step
# become their key's "null" version. Each row owns its body file: no two rows share a blob name
# (copies get their own hard link), so deleting a row may delete its blob.
_S3_0003 = Migration(
    "s3-0003",
    """
    ALTER TABLE s3_objects RENAME TO s3_objects_unversioned;
    CREATE TABLE s3_objects (
        bucket TEXT NOT NULL REFERENCES s3_buckets(name),
        key TEXT NOT NULL,
        version_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        is_latest INTEGER NOT NULL,
        delete_marker INTEGER NOT NULL DEFAULT 0,
        blob TEXT,
        data BLOB,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        last_modified REAL NOT NULL,
        content_type TEXT,
        headers TEXT NOT NULL DEFAULT '{}',
        metadata TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '{}',
        checksum_algorithm TEXT,
        checksum TEXT,
        checksum_type TEXT,
        parts TEXT,
        storage_class TEXT NOT NULL DEFAULT 'STANDARD',
        PRIMARY KEY (bucket, key, version_id)
    );
    INSERT INTO s3_objects (bucket, key, version_id, seq, is_latest, delete_marker, blob, data, size, etag,
        last_modified, content_type, headers, metadata, tags, checksum_algorithm, checksum, checksum_type, parts,
        storage_class)
    SELECT bucket, key, 'null', 1, 1, 0, blob, data, size, etag, last_modified, content_type, headers, metadata,
        tags, checksum_algorithm, checksum, checksum_type, parts, storage_class FROM s3_objects_unversioned;
    DROP TABLE s3_objects_unversioned;
    CREATE UNIQUE INDEX s3_objects_order ON s3_objects(bucket, key, seq);
    CREATE INDEX s3_objects_current ON s3_objects(bucket, key) WHERE is_latest = 1 AND delete_marker = 0;
    """,
)
MIGRATIONS = (_S3_0001, _S3_0002, _S3_0003)

# Standard headers stored with an object and returned on GET/HEAD.
STORED_HEADERS = ("ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl", "Expires",
                  "WebsiteRedirectLocation")


@dataclass
class BucketRecord:
    name: str
    account: str
    region: str
    created: float
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> BucketRecord:
        return cls(row["name"], row["account"], row["region"], row["created"], json.loads(row["config"]))


@dataclass
class ObjectRecord:
    """An object. Its body is either `data` (small bodies, committed in the row itself, so one
    fsync makes body and metadata durable together) or the file `blob`."""

    bucket: str
    key: str
    blob: str | None
    size: int
    etag: str  # without quotes
    last_modified: float
    content_type: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    checksum: str | None = None
    checksum_type: str | None = None
    parts: list[int] | None = None  # part sizes, for multipart objects
    storage_class: str = "STANDARD"
    data: bytes | None = None
    version_id: str = "null"
    seq: int = 0
    is_latest: bool = True
    delete_marker: bool = False

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ObjectRecord:
        return cls(
            bucket=row["bucket"], key=row["key"], blob=row["blob"], data=row["data"], size=row["size"],
            etag=row["etag"],
            last_modified=row["last_modified"], content_type=row["content_type"],
            headers=json.loads(row["headers"]), metadata=json.loads(row["metadata"]),
            tags=json.loads(row["tags"]), checksum_algorithm=row["checksum_algorithm"],
            checksum=row["checksum"], checksum_type=row["checksum_type"],
            parts=json.loads(row["parts"]) if row["parts"] else None, storage_class=row["storage_class"],
            version_id=row["version_id"], seq=row["seq"], is_latest=bool(row["is_latest"]),
            delete_marker=bool(row["delete_marker"]),
        )

    def insert(self, conn: sqlite3.Connection) -> None:
        """Write this version's row (`versions.place` decides its id and what it replaces)."""
        conn.execute(
            "INSERT INTO s3_objects (bucket, key, version_id, seq, is_latest, delete_marker, blob, data, size, etag,"
            " last_modified, content_type, headers, metadata, tags, checksum_algorithm, checksum, checksum_type,"
            " parts, storage_class) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                self.bucket, self.key, self.version_id, self.seq, int(self.is_latest), int(self.delete_marker),
                self.blob, self.data, self.size, self.etag, self.last_modified, self.content_type,
                json.dumps(self.headers), json.dumps(self.metadata), json.dumps(self.tags),
                self.checksum_algorithm, self.checksum, self.checksum_type,
                json.dumps(self.parts) if self.parts else None, self.storage_class,
            ),
        )


@dataclass
class UploadRecord:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    content_type: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    checksum_type: str | None = None
    storage_class: str = "STANDARD"

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> UploadRecord:
        return cls(
            upload_id=row["upload_id"], bucket=row["bucket"], key=row["key"], initiated=row["initiated"],
            content_type=row["content_type"], headers=json.loads(row["headers"]),
            metadata=json.loads(row["metadata"]), tags=json.loads(row["tags"]),
            checksum_algorithm=row["checksum_algorithm"], checksum_type=row["checksum_type"],
            storage_class=row["storage_class"],
        )


@dataclass
class PartRecord:
    upload_id: str
    part_number: int
    blob: str
    size: int
    etag: str
    last_modified: float
    checksum: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> PartRecord:
        return cls(row["upload_id"], row["part_number"], row["blob"], row["size"], row["etag"],
                   row["last_modified"], row["checksum"])
