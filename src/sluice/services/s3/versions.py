"""Bucket versioning: version ids, which version is current, and what a write or delete replaces.

All functions run inside the caller's write transaction (or on a reader for lookups). The rules:
- a bucket that never had versioning writes the version "null", replacing the previous "null";
- an Enabled bucket gives every write (and every delete marker) a new version id;
- a Suspended bucket writes "null" again, replacing only the previous "null" version.
A key's current version is the one with the highest `seq`; it may be a delete marker.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import string

from . import errors
from .records import BucketRecord, ObjectRecord, buckets, objects
from .records.models import WriteTarget

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
    target = buckets.write_target(conn, bucket)
    if target is None:
        raise errors.no_such_bucket(bucket)
    return target.versioning


def of_bucket(bucket: BucketRecord) -> str | None:
    """The versioning status in a bucket's row as read (None: never versioned)."""
    value = bucket.config.get("Versioning", {}).get("Status")
    return value if isinstance(value, str) else None


def place(conn: sqlite3.Connection, record: ObjectRecord, versioning: str | None) -> list[str]:
    """Make `record` its key's current version; return the body files of versions it replaced."""
    doomed: list[str] = []
    if versioning == ENABLED:
        record.version_id = new_version_id()
    else:
        record.version_id = NULL
        _, blob = objects.delete_version(conn, record.bucket, record.key, NULL)
        if blob:
            doomed.append(blob)
    # A bucket never versioned holds one version of a key at most, its "null" one, just deleted:
    # there is no other current version to step down.
    objects.append_latest(conn, record, others=versioning is not None)
    return doomed


def place_write(conn: sqlite3.Connection, record: ObjectRecord, target: WriteTarget) -> list[str]:
    """`place`, for a write whose transaction read `target` with the key's "null" version. The
    usual overwrite of a key in a bucket never versioned replaces its one version in place."""
    if target.versioning is None and target.has_null:
        record.version_id = NULL
        if objects.overwrite_current_null(conn, record):
            return [target.null_blob] if target.null_blob else []
    if target.versioning != ENABLED and not target.has_null:
        record.version_id = NULL  # no "null" version to replace: none to delete first
        objects.append_latest(conn, record, others=target.versioning is not None)
        return []
    return place(conn, record, target.versioning)


def write_unversioned(conn: sqlite3.Connection, record: ObjectRecord) -> bool:
    """In a bucket never versioned: `record` as a new key's version, or over the key's one
    version when that keeps its body in its row (nothing to delete after); False, writing
    nothing, if the key's version has a body file. An IntegrityError if the bucket is gone."""
    record.version_id = NULL
    return objects.write_unversioned(conn, record)


def remove(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> ObjectRecord | None:
    """Delete one version for good; the next newest becomes current. Return what was deleted."""
    gone = objects.find(conn, bucket, key, version_id)
    if gone is None:
        return None
    objects.delete_version(conn, bucket, key, version_id)
    if gone.is_latest:
        objects.promote_newest(conn, bucket, key)
    return gone
