"""Listing keys (current versions) and all versions in S3's order (UTF-8 bytes), with prefix, delimiter and
pagination."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

# Sorts after every other character, so "prefix" + HIGH skips all keys under a common prefix.
HIGH = "\U0010ffff"
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ListedObject:
    """A key's current version as a listing shows it."""

    key: str
    size: int
    etag: str
    last_modified: float
    storage_class: str
    checksum_algorithm: str | None
    checksum_type: str | None


@dataclass(frozen=True, slots=True)
class ListedVersion:
    """A version or delete marker of a key as ListObjectVersions shows it."""

    key: str
    version_id: str
    is_latest: bool
    delete_marker: bool
    size: int
    etag: str
    last_modified: float
    storage_class: str
    checksum_algorithm: str | None
    checksum_type: str | None


_OBJECT_COLUMNS = "key, size, etag, last_modified, storage_class, checksum_algorithm, checksum_type"
_VERSION_COLUMNS = ("key, version_id, is_latest, delete_marker, size, etag, last_modified, storage_class,"
                    " checksum_algorithm, checksum_type")


@dataclass
class Listing:
    """One page of a bucket's keys (current versions) and common prefixes."""

    objects: list[ListedObject] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or common prefix returned: the next marker


def list_keys(
    conn: sqlite3.Connection,
    bucket: str,
    prefix: str = "",
    delimiter: str = "",
    after: str = "",
    max_keys: int = 1000,
) -> Listing:
    out = Listing()
    if max_keys <= 0:
        return out
    cursor = after
    inclusive = False
    while True:
        op = ">=" if inclusive else ">"
        rows = conn.execute(
            f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE bucket=? AND key {op} ? AND key >= ?"
            " AND is_latest=1 AND delete_marker=0 ORDER BY key LIMIT ?",
            (bucket, cursor, prefix, _BATCH),
        ).fetchall()
        inclusive = False
        if not rows:
            return out
        for row in rows:
            key: str = row["key"]
            if not key.startswith(prefix):
                if key > prefix:  # past every key with the prefix
                    return out
                continue
            if delimiter:
                idx = key.find(delimiter, len(prefix))
                if idx >= 0:
                    common = key[: idx + len(delimiter)]
                    if common == after:
                        # The previous page ended on this common prefix: skip all of it.
                        cursor = common + HIGH
                        break
                    if len(out.objects) + len(out.common_prefixes) >= max_keys:
                        out.truncated = True
                        return out
                    out.common_prefixes.append(common)
                    out.last = common
                    cursor = common + HIGH
                    break
            if len(out.objects) + len(out.common_prefixes) >= max_keys:
                out.truncated = True
                return out
            out.objects.append(ListedObject(*row))
            out.last = key
            cursor = key
        else:
            if len(rows) < _BATCH:
                return out


@dataclass
class VersionListing:
    """One page of a bucket's versions and delete markers, and common prefixes."""

    versions: list[ListedVersion] = field(default_factory=list)  # versions and delete markers, in order
    common_prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    next_key: str | None = None
    next_version: str | None = None  # None when the page ended on a common prefix


def list_versions(
    conn: sqlite3.Connection,
    bucket: str,
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    after_seq: int | None = None,
    max_keys: int = 1000,
) -> VersionListing:
    """Versions ordered by key, newest first within a key. Start after `key_marker`'s versions, or,
    with `after_seq`, after its version of that seq (a VersionIdMarker)."""
    out = VersionListing()
    if max_keys <= 0:
        return out
    cur_key, cur_seq = key_marker, -1 if after_seq is None else after_seq
    count = 0
    while True:
        rows = conn.execute(
            f"SELECT seq, {_VERSION_COLUMNS} FROM s3_objects"
            " WHERE bucket=? AND key>=? AND NOT (key=? AND seq>=?) ORDER BY key, seq DESC LIMIT ?",
            (bucket, max(cur_key, prefix), cur_key, cur_seq, _BATCH),
        ).fetchall()
        if not rows:
            return out
        for row in rows:
            key: str = row["key"]
            if not key.startswith(prefix):
                if key > prefix:
                    return out
                continue
            if delimiter:
                idx = key.find(delimiter, len(prefix))
                if idx >= 0:
                    common = key[: idx + len(delimiter)]
                    cur_key, cur_seq = common + HIGH, -1
                    if common == key_marker:  # the previous page ended on this common prefix
                        break
                    if count >= max_keys:
                        out.truncated = True
                        return out
                    out.common_prefixes.append(common)
                    out.next_key, out.next_version = common, None
                    count += 1
                    break
            if count >= max_keys:
                out.truncated = True
                return out
            out.versions.append(ListedVersion(
                key, row["version_id"], bool(row["is_latest"]), bool(row["delete_marker"]), row["size"], row["etag"],
                row["last_modified"], row["storage_class"], row["checksum_algorithm"], row["checksum_type"]))
            out.next_key, out.next_version = key, row["version_id"]
            cur_key, cur_seq = key, row["seq"]
            count += 1
        else:
            if len(rows) < _BATCH:
                return out
