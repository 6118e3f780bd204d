"""S3's records: buckets, objects (versions), multipart uploads and parts."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

# Standard headers stored with an object and returned on GET/HEAD.
STORED_HEADERS = ("ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl", "Expires",
                  "WebsiteRedirectLocation", "ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")


@dataclass
class BucketRecord:
    """A bucket's row; `config` is its configuration document (bucket_config.py)."""

    name: str
    account: str
    region: str
    created: float
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> BucketRecord:
        return cls(row["name"], row["account"], row["region"], row["created"], json.loads(row["config"]))


@dataclass(frozen=True)
class BucketView:
    """What requests on a bucket's objects read of it: its row, its policy (authorization), its
    lifecycle configuration (x-amz-expiration) and its notification configuration. Shared by
    every reader of the cache (bucket_views.py): nothing may change it in place."""

    record: BucketRecord
    policy: str | None
    lifecycle: dict[str, Any] | None
    notifications: str | None  # the notification configuration's text

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> BucketView:
        lifecycle = row["lifecycle"]
        return cls(BucketRecord.from_row(row), row["policy"], json.loads(lifecycle) if lifecycle else None,
                   row["notifications"])


@dataclass(frozen=True)
class WriteTarget:
    """What an object write reads of its bucket inside its transaction, in one statement: the
    versioning status (None: never versioned) and, when it has one, the notification
    configuration with the owner and region its events carry."""

    versioning: str | None
    account: str
    region: str
    notifications: str | None  # the configuration document's text
    has_null: bool = False  # the key written has a "null" version (when the read named the key)
    null_blob: str | None = None  # that version's body file


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
    part_checksums: list[str] | None = None  # each part's checksum, when the upload had an algorithm
    storage_class: str = "STANDARD"
    data: bytes | None = None
    version_id: str = "null"
    seq: int = 0
    is_latest: bool = True
    delete_marker: bool = False

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> ObjectRecord:
        """The record of a row read as `SELECT {OBJECT_COLUMNS}` (by position: looking 20 columns up
        by name was most of a GetObject's read of its row)."""
        (bucket, key, blob, data, size, etag, last_modified, content_type, headers, metadata, tags,
         checksum_algorithm, checksum, checksum_type, parts, storage_class, version_id, seq, is_latest,
         delete_marker) = row
        part_sizes, part_checksums = _parts(parts)
        # Positional, in the order the fields are declared above (keywords cost a third more).
        return cls(bucket, key, blob, size, etag, last_modified, content_type, _document(headers),
                   _document(metadata), _document(tags), checksum_algorithm, checksum, checksum_type,
                   part_sizes, part_checksums, storage_class, data, version_id, seq, bool(is_latest),
                   bool(delete_marker))


# The columns ObjectRecord.from_row reads, in its order.
OBJECT_COLUMNS = ("bucket, key, blob, data, size, etag, last_modified, content_type, headers, metadata, tags,"
                  " checksum_algorithm, checksum, checksum_type, parts, storage_class, version_id, seq, is_latest,"
                  " delete_marker")


def _document(text: str) -> dict[str, Any]:
    """A JSON object column; most objects' metadata and tags are empty, parsed without the decoder."""
    if text == "{}":
        return {}
    if text == _SSE_S3_TEXT:  # most objects' headers (records/objects.py writes this text): a fresh copy, not parsed
        return {"ServerSideEncryption": "AES256"}
    value: dict[str, Any] = json.loads(text)
    return value


_SSE_S3_TEXT = json.dumps({"ServerSideEncryption": "AES256"})


def _parts(column: str | None) -> tuple[list[int] | None, list[str] | None]:
    """The parts column: a JSON list of sizes, or {"sizes": [...], "checksums": [...]} once the
    parts' checksums are kept too (rows written before that are plain lists)."""
    if not column:
        return None, None
    value = json.loads(column)
    if isinstance(value, dict):
        return value["sizes"], value.get("checksums")
    return value, None


def parts_column(record: ObjectRecord) -> str | None:
    if not record.parts:
        return None
    if record.part_checksums:
        return json.dumps({"sizes": record.parts, "checksums": record.part_checksums})
    return json.dumps(record.parts)


@dataclass
class UploadRecord:
    """A multipart upload in progress, with what the object it completes into will carry."""

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
    """One uploaded part of a multipart upload, its body in a blob."""

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


@dataclass(frozen=True)
class BucketTotals:
    """A bucket's stored bytes (STANDARD storage class) and object count (all versions)."""

    bucket: str
    standard_bytes: int
    objects: int
