"""What every S3 operation shares: the state, the lookups and the checks."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from ...clock import Clock
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.s3wire import NotUtf8, decode_component
from ...protocol.values import as_datetime, rfc822
from ...store import Store
from ..base import Service
from ..delivery import Deliveries
from . import errors, versions
from .checksums import member_name
from .ingest import strip_aws_chunked
from .names import MAX_KEY_BYTES
from .notifications import Notifier
from .records import STORED_HEADERS, BucketRecord, ObjectRecord

_MAX_TAGS = 10
_MAX_METADATA = 2048


def owner(account: str) -> dict[str, str]:
    return {"ID": hashlib.sha256(account.encode()).hexdigest(), "DisplayName": "sluice"}


def parse_tagging_header(value: str | None) -> dict[str, str]:
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


class S3Core(Service):
    name = "s3"

    def __init__(self, store: Store, clock: Clock, deliveries: Deliveries | None = None) -> None:
        self.store = store
        self.db = store.db
        self.blobs = store.blobs
        self.clock = clock
        self.notifier = Notifier(self.db, clock, deliveries)

    async def start(self) -> None:
        referenced = {r[0] for r in self.db.query("SELECT blob FROM s3_objects WHERE blob IS NOT NULL")}
        referenced |= {r[0] for r in self.db.query("SELECT blob FROM s3_parts")}
        self.blobs.sweep(referenced)
        await self.notifier.start()

    async def stop(self) -> None:
        await self.notifier.stop()

    # -- helpers -------------------------------------------------------------------------

    def _bucket(self, name: str) -> BucketRecord:
        row = self.db.query_one("SELECT * FROM s3_buckets WHERE name=?", (name,))
        if row is None:
            raise errors.no_such_bucket(name)
        return BucketRecord.from_row(row)

    @staticmethod
    def _require_bucket(conn: sqlite3.Connection, name: str) -> None:
        if conn.execute("SELECT 1 FROM s3_buckets WHERE name=?", (name,)).fetchone() is None:
            raise errors.no_such_bucket(name)

    def _object(self, bucket: str, key: str, version_id: str | None = None, method: str = "GET") -> ObjectRecord:
        """The key's current version, or the version asked for, with AWS's errors for what is not
        there: NoSuchKey (current version is a delete marker: with its headers), NoSuchVersion,
        MethodNotAllowed (the version asked for is a delete marker)."""
        conn = self.db.reader
        if version_id is None:
            record = versions.current(conn, bucket, key)
            if record is None:
                self._bucket(bucket)
                raise errors.no_such_key(key)
            if record.delete_marker:
                err = errors.no_such_key(key)
                err.headers = {"x-amz-delete-marker": "true", "x-amz-version-id": record.version_id}
                raise err
            return record
        versions.check_version_id(version_id)
        record = versions.find(conn, bucket, key, version_id)
        if record is None:
            self._bucket(bucket)
            raise errors.no_such_version(key, version_id)
        if record.delete_marker:
            raise errors.method_not_allowed(method, "DeleteMarker", {
                "x-amz-delete-marker": "true", "x-amz-version-id": record.version_id,
                "Last-Modified": rfc822(record.last_modified), "Allow": "DELETE"})
        return record

    def _copy_source(self, bucket: str, key: str, version_id: str | None) -> ObjectRecord:
        if version_id is not None:
            versions.check_version_id(version_id)
            record = versions.find(self.db.reader, bucket, key, version_id)
            if record is not None and record.delete_marker:
                raise errors.invalid_request(
                    "The source of a copy request may not specifically refer to a delete marker by version id.")
        return self._object(bucket, key, version_id)

    def _reported_version(self, record: ObjectRecord) -> str | None:
        """The x-amz-version-id to return for `record`: none for buckets that were never versioned."""
        if record.version_id != versions.NULL:
            return record.version_id
        return versions.NULL if versions.status(self.db.reader, record.bucket) else None

    @staticmethod
    def _check_key(key: str) -> None:
        if len(key.encode()) > MAX_KEY_BYTES:
            raise ServiceError("KeyTooLongError", "Your key is too long", 400,
                               MaxSizeAllowed=MAX_KEY_BYTES, Size=len(key.encode()))

    @staticmethod
    def _stored_headers(params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in STORED_HEADERS:
            value = params.get(name)
            if value is None:
                continue
            if name == "ContentEncoding":
                value = strip_aws_chunked(value)
                if not value:
                    continue
            if name == "Expires":
                value = as_datetime(value).timestamp()
            out[name] = value
        return out

    @staticmethod
    def _check_metadata(metadata: dict[str, str]) -> dict[str, str]:
        size = sum(len(k) + len(v) for k, v in metadata.items())
        if size > _MAX_METADATA:
            raise ServiceError("MetadataTooLarge",
                               "Your metadata headers exceed the maximum allowed metadata size", 400,
                               Size=size, MaxSizeAllowed=_MAX_METADATA)
        return {k.lower(): v for k, v in metadata.items()}

    def _commit_object(self, record: ObjectRecord, conditions: dict[str, Any] | None = None,
                       ctx: RequestContext | None = None, event: str | None = None) -> str | None:
        """Write `record` as its key's new current version; with `event` (e.g. "ObjectCreated:Put"), its
        notifications in the same transaction. Return the version id to report (None: unversioned bucket)."""
        notified = False

        def txn(conn: sqlite3.Connection) -> tuple[list[str], str | None]:
            nonlocal notified
            state = versions.status(conn, record.bucket)
            if conditions:
                _check_write_conditions(conn, record.bucket, record.key, conditions)
            doomed = versions.place(conn, record, state)
            reported = record.version_id if state else None
            if event:
                notified = self.notifier.record(conn, ctx, record.bucket, event, record.key, record.size,
                                                record.etag, record.last_modified, version_id=reported)
            return doomed, reported

        try:
            doomed, reported = self.db.write(txn)
        except BaseException:
            self.blobs.delete_later(record.blob)
            raise
        if notified:
            self.notifier.wake()
        for blob in doomed:
            self.blobs.delete_later(blob)
        return reported

    def _body_range(self, record: ObjectRecord, first: int, length: int) -> Iterator[bytes]:
        if record.data is not None:
            yield record.data[first:first + length]
        elif record.blob:
            yield from self.blobs.read_range(record.blob, first, length)

    @staticmethod
    def _checksum_members(record: ObjectRecord) -> dict[str, Any]:
        if not record.checksum_algorithm or not record.checksum:
            return {}
        return {member_name(record.checksum_algorithm): record.checksum,
                "ChecksumType": record.checksum_type or "FULL_OBJECT"}


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    source, _, query = value.partition("?")
    try:
        source = decode_component(source).lstrip("/")
    except NotUtf8:
        raise errors.invalid_argument("Invalid copy source encoding", "x-amz-copy-source", value) from None
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise errors.invalid_argument("Invalid copy source object key", "x-amz-copy-source", value)
    version = dict(parse_qsl(query)).get("versionId")
    return bucket, key, version


def _check_write_conditions(conn: sqlite3.Connection, bucket: str, key: str, cond: dict[str, Any]) -> None:
    row = conn.execute("SELECT etag FROM s3_objects WHERE bucket=? AND key=? AND is_latest=1 AND delete_marker=0",
                       (bucket, key)).fetchone()
    if_none = cond.get("IfNoneMatch")
    if if_none is not None and row is not None and (if_none == "*" or if_none.strip('"') == row["etag"]):
        raise errors.precondition_failed("If-None-Match")
    if_match = cond.get("IfMatch")
    if if_match is not None:
        if row is None:
            raise errors.no_such_key(key)
        if if_match != "*" and if_match.strip('"') != row["etag"]:
            raise errors.precondition_failed("If-Match")
