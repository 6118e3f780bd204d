"""What the S3 service's parts share: lookups with AWS's errors, checks, and writing an object."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.s3wire import NotUtf8, decode_component
from ...protocol.values import as_datetime
from . import errors, versions
from .checksums import member_name
from .names import MAX_KEY_BYTES
from .records import STORED_HEADERS, BucketRecord, BucketView, ObjectRecord, buckets, objects
from .records.models import WriteTarget
from .state import S3State

_MAX_TAGS = 10
_MAX_METADATA = 2048


# -- lookups -------------------------------------------------------------------------------


def bucket(state: S3State, name: str) -> BucketRecord:
    return bucket_view(state, name).record


def bucket_view(state: S3State, name: str) -> BucketView:
    """The bucket's row, policy and lifecycle configuration (kept between requests: see
    bucket_views.py; never change it in place); NoSuchBucket if there is none."""
    found = state.views.get(name)
    if found is None:
        raise errors.no_such_bucket(name)
    return found


def require_bucket(conn: sqlite3.Connection, name: str) -> None:
    """NoSuchBucket unless the bucket exists (inside a write transaction)."""
    if not buckets.exists(conn, name):
        raise errors.no_such_bucket(name)


def object_version(state: S3State, bucket_name: str, key: str, version_id: str | None = None,
                   method: str = "GET") -> ObjectRecord:
    """The key's current version, or the version asked for, with AWS's errors for what is not
    there: NoSuchKey (current version is a delete marker: with its headers), NoSuchVersion,
    MethodNotAllowed (the version asked for is a delete marker)."""
    conn = state.db.reader
    if version_id is None:
        record = objects.current(conn, bucket_name, key)
        if record is None:
            bucket(state, bucket_name)
            raise errors.no_such_key(key)
        if record.delete_marker:
            raise errors.no_such_key(key, delete_marker=record.version_id)
        return record
    versions.check_version_id(version_id)
    record = objects.find(conn, bucket_name, key, version_id)
    if record is None:
        bucket(state, bucket_name)
        raise errors.no_such_version(key, version_id)
    if record.delete_marker:
        raise errors.method_not_allowed(method, "DeleteMarker", {
            "DeleteMarker": True, "VersionId": record.version_id, "LastModified": record.last_modified})
    return record


def copy_source(state: S3State, bucket_name: str, key: str, version_id: str | None) -> ObjectRecord:
    if version_id is not None:
        versions.check_version_id(version_id)
        record = objects.find(state.db.reader, bucket_name, key, version_id)
        if record is not None and record.delete_marker:
            raise errors.invalid_request(
                "The source of a copy request may not specifically refer to a delete marker by version id.")
    return object_version(state, bucket_name, key, version_id)


def reported_version(state: S3State, record: ObjectRecord) -> str | None:
    """The version id to return for `record`: none for buckets that were never versioned."""
    if record.version_id != versions.NULL:
        return record.version_id
    return versions.NULL if versions.of_bucket(bucket(state, record.bucket)) else None


def body_range(state: S3State, record: ObjectRecord, first: int, length: int) -> Iterator[bytes]:
    if record.data is not None:
        yield record.data[first:first + length]
    elif record.blob:
        yield from state.blobs.read_range(record.blob, first, length)


# -- checks --------------------------------------------------------------------------------


def check_key(key: str) -> None:
    # At most 4 UTF-8 bytes a character: a short key needs no encoding to know it fits.
    if len(key) > MAX_KEY_BYTES // 4 and len(key.encode()) > MAX_KEY_BYTES:
        raise ServiceError("KeyTooLongError", "Your key is too long", MaxSizeAllowed=MAX_KEY_BYTES,
                           Size=len(key.encode()))


def stored_headers(params: dict[str, Any]) -> dict[str, Any]:
    """The standard members kept with an object and returned on GET/HEAD."""
    out = {name: params[name] for name in STORED_HEADERS if params.get(name) is not None}
    if "Expires" in out:
        out["Expires"] = as_datetime(out["Expires"]).timestamp()
    return out


def check_metadata(metadata: dict[str, str]) -> dict[str, str]:
    if not metadata:
        return {}  # most writes carry none
    size = sum(len(k) + len(v) for k, v in metadata.items())
    if size > _MAX_METADATA:
        raise ServiceError("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size",
                           Size=size, MaxSizeAllowed=_MAX_METADATA)
    return {k.lower(): v for k, v in metadata.items()}


def parse_tagging(value: str | None) -> dict[str, str]:
    """The Tagging member of a write: URL query parameters."""
    if not value:
        return {}
    try:
        pairs = parse_qsl(value, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise errors.invalid_argument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL "
                                      "query parameters without tag name duplicates.", "x-amz-tagging", value) from None
    return validate_tags(dict(pairs))


def validate_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > _MAX_TAGS:
        raise errors.invalid_tag("Object tags cannot be greater than 10")
    for k, v in tags.items():
        if not k or len(k) > 128:
            raise errors.invalid_tag("The TagKey you have provided is invalid")
        if len(v) > 256:
            raise errors.invalid_tag("The TagValue you have provided is invalid")
    return tags


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    source, _, query = value.partition("?")
    try:
        source = decode_component(source).lstrip("/")
    except NotUtf8:
        raise errors.invalid_argument("Invalid copy source encoding", "x-amz-copy-source", value) from None
    bucket_name, _, key = source.partition("/")
    if not bucket_name or not key:
        raise errors.invalid_argument("Invalid copy source object key", "x-amz-copy-source", value)
    version = dict(parse_qsl(query)).get("versionId")
    return bucket_name, key, version


def check_write_conditions(conn: sqlite3.Connection, bucket_name: str, key: str, cond: dict[str, Any]) -> None:
    etag = objects.live_etag(conn, bucket_name, key)
    if_none = cond.get("IfNoneMatch")
    if if_none is not None and etag is not None and (if_none == "*" or if_none.strip('"') == etag):
        raise errors.precondition_failed("If-None-Match")
    if_match = cond.get("IfMatch")
    if if_match is not None:
        if etag is None:
            raise errors.no_such_key(key)
        if if_match != "*" and if_match.strip('"') != etag:
            raise errors.precondition_failed("If-Match")


# -- writing -------------------------------------------------------------------------------


def commit_object(state: S3State, record: ObjectRecord, conditions: dict[str, Any] | None = None,
                  ctx: RequestContext | None = None, event: str | None = None) -> str | None:
    """Write `record` as its key's new current version; with `event` (e.g. "ObjectCreated:Put"), its
    notifications in the same transaction. Return the version id to report (None: unversioned bucket)."""
    notified: list[str] = []
    generation = state.views.generation
    view = state.views.get(record.bucket)
    # The usual write, in a bucket never versioned as its view says, of a new key or over a key's
    # version that keeps its body in its row: one statement, the bucket not read again. Only if
    # no bucket operation finished since the view was read (the generation): one still running
    # may be ordered after this write, as it could have been.
    quick = view is not None and not conditions and versions.of_bucket(view.record) is None

    def txn(conn: sqlite3.Connection) -> tuple[list[str], str | None]:
        nonlocal notified
        if quick and view is not None and state.views.generation == generation and _quick_write(conn, record):
            if event and view.notifications is not None:  # (most buckets notify nothing: no event to record)
                notified = state.events.record(
                    conn, ctx, record.bucket, event, record.key, record.size, record.etag, record.last_modified,
                    target=WriteTarget(None, view.record.account, view.record.region, view.notifications))
            return [], None
        # Read in the transaction: a bucket deleted or versioned meanwhile is exact.
        target = buckets.write_target(conn, record.bucket, record.key)
        if target is None:
            raise errors.no_such_bucket(record.bucket)
        if conditions:
            check_write_conditions(conn, record.bucket, record.key, conditions)
        doomed = versions.place_write(conn, record, target)
        # A suspended bucket's write is its key's "null" version, which S3's write response
        # does not name (no x-amz-version-id; reads do say "null"), as AWS's PutObject examples show.
        reported = record.version_id if target.versioning == versions.ENABLED else None
        if event:
            notified = state.events.record(conn, ctx, record.bucket, event, record.key, record.size, record.etag,
                                           record.last_modified, version_id=reported, target=target)
        return doomed, reported

    try:
        doomed, reported = state.db.write(txn)
    except BaseException:
        state.blobs.delete_later(record.blob)
        raise
    if notified:
        state.notify(notified)
    for blob in doomed:
        state.blobs.delete_later(blob)
    return reported


def _quick_write(conn: sqlite3.Connection, record: ObjectRecord) -> bool:
    try:
        return versions.write_unversioned(conn, record)
    except sqlite3.IntegrityError:
        return False  # the bucket was deleted since its view was read: the exact path says NoSuchBucket


# -- results -------------------------------------------------------------------------------


def owner(account: str) -> dict[str, str]:
    """An account as S3 names an owner: its canonical id (64 hex) and display name (acl.py)."""
    return {"ID": hashlib.sha256(account.encode()).hexdigest(), "DisplayName": account}


def checksum_members(record: ObjectRecord) -> dict[str, Any]:
    if not record.checksum_algorithm or not record.checksum:
        return {}
    return {member_name(record.checksum_algorithm): record.checksum,
            "ChecksumType": record.checksum_type or "FULL_OBJECT"}


def key_encoder(encoding: str | None) -> Callable[[str], str]:
    """How a listing writes keys, prefixes and markers: EncodingType=url percent-encodes them (the
    only way to send control characters in XML 1.0), otherwise as they are. A space is `%20`, as
    S3 writes it, not the `+` of form encoding (`+` itself is `%2B`)."""
    if encoding == "url":
        return lambda s: quote(s, safe="/")
    return lambda s: s


def max_keys(params: dict[str, Any]) -> int:
    value = params.get("MaxKeys")
    if value is None:
        return 1000
    if value < 0:
        raise errors.invalid_argument("Argument maxKeys must be an integer between 0 and 2147483647",
                                      "maxKeys", str(value))
    return min(int(value), 1000)


def encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid_argument("The continuation token provided is incorrect",
                                      "continuation-token", token) from None
