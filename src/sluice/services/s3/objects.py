"""Objects: write (put, copy), read (get, head) and delete, one key or many."""

from __future__ import annotations

import io
import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.http import Readable, ResponseBody
from ...protocol.s3upload import Payload
from . import core, errors, versions
from .access import Access, with_acl
from .checksums import b64, member_name, new_hasher
from .conditions import check_read_conditions, parse_range
from .ingest import ingest
from .lifecycle import expiration_member
from .records import STORED_HEADERS, ObjectRecord, objects
from .state import S3State

_MALFORMED = "The XML you provided was not well-formed or did not validate against our published schema"
# GET's response-* query parameters: the member each one overrides.
_OVERRIDES = {"Response" + member: member for member in (
    "ContentType", "ContentLanguage", "Expires", "CacheControl", "ContentDisposition", "ContentEncoding")}


class Objects:
    def __init__(self, state: S3State, access: Access) -> None:
        self.s = state
        self.access = access

    # -- writes ----------------------------------------------------------------------------

    def put_object(self, ctx: RequestContext, Bucket: str, Key: str, Body: Readable | None = None,
                   payload: Payload | None = None, **params: Any) -> dict[str, Any]:
        core.check_key(Key)
        if not isinstance(Body, io.BytesIO):
            core.bucket(self.s, Bucket)  # refuse before streaming a large body (small ones are in memory)
        metadata = params.get("Metadata")
        metadata = core.check_metadata(metadata) if metadata else {}
        tagging = params.get("Tagging")
        tags = core.parse_tagging(tagging) if tagging else {}
        object_acl = self.access.for_new_object(ctx, Bucket, params)
        taken = ingest(self.s.blobs, Body or io.BytesIO(b""), params, payload)
        record = ObjectRecord(
            bucket=Bucket, key=Key, blob=taken.blob, data=taken.data, size=taken.size, etag=taken.etag,
            last_modified=self.s.clock.now(), content_type=params.get("ContentType") or "binary/octet-stream",
            headers=with_acl(core.stored_headers(params), object_acl), metadata=metadata, tags=tags,
            checksum_algorithm=taken.checksum_algorithm, checksum=taken.checksum, checksum_type="FULL_OBJECT",
            storage_class=params.get("StorageClass") or "STANDARD",
        )
        conditions = ({k: params[k] for k in ("IfMatch", "IfNoneMatch") if params.get(k)}
                      if "IfMatch" in params or "IfNoneMatch" in params else None)
        version = core.commit_object(self.s, record, conditions, ctx, "ObjectCreated:Put")
        # No Size (x-amz-object-size): S3 answers it only for appends to directory buckets.
        result: dict[str, Any] = {"ETag": f'"{record.etag}"', "VersionId": version}
        result.update(core.checksum_members(record))
        result.update(expiration_member(self.s, record))
        return result

    def copy_object(self, ctx: RequestContext, Bucket: str, Key: str, CopySource: str,
                    **params: Any) -> dict[str, Any]:
        core.check_key(Key)
        src_bucket, src_key, src_version = core.parse_copy_source(CopySource)
        core.bucket(self.s, Bucket)
        src = core.copy_source(self.s, src_bucket, src_key, src_version)
        object_acl = self.access.for_new_object(ctx, Bucket, params)  # a copy never keeps the source's ACL
        check_read_conditions(src.etag, src.last_modified, params, prefix="CopySourceIf")
        directive = params.get("MetadataDirective") or "COPY"
        tagging_directive = params.get("TaggingDirective") or "COPY"
        # Copying an older version onto its key is how a version is restored: that is no copy to itself.
        to_itself = (src_bucket, src_key) == (Bucket, Key) and src_version is None
        if to_itself and directive != "REPLACE" and not params.get("StorageClass") \
                and tagging_directive != "REPLACE" and not params.get("ChecksumAlgorithm"):
            raise errors.invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing "
                "the object's metadata, storage class, website redirect location or encryption attributes.")
        new_blob = self.s.blobs.link_copy(src.blob) if src.blob else None
        record = ObjectRecord(
            bucket=Bucket, key=Key, blob=new_blob, data=src.data, size=src.size, etag=src.etag,
            last_modified=self.s.clock.now(), content_type=src.content_type, headers=dict(src.headers),
            metadata=dict(src.metadata), tags=dict(src.tags), checksum_algorithm=src.checksum_algorithm,
            checksum=src.checksum, checksum_type=src.checksum_type, parts=src.parts,
            part_checksums=src.part_checksums,
            storage_class=params.get("StorageClass") or src.storage_class,
        )
        if directive == "REPLACE":
            record.content_type = params.get("ContentType") or "binary/octet-stream"
            record.headers = core.stored_headers(params)
            record.metadata = core.check_metadata(params.get("Metadata") or {})
        with_acl(record.headers, object_acl)
        if tagging_directive == "REPLACE":
            record.tags = core.parse_tagging(params.get("Tagging"))
        algo = params.get("ChecksumAlgorithm")
        if algo and algo.upper() != (src.checksum_algorithm or ""):
            hasher = new_hasher(algo)
            for chunk in core.body_range(self.s, record, 0, record.size):
                hasher.update(chunk)
            record.checksum_algorithm, record.checksum = algo.upper(), b64(hasher.digest())
            record.checksum_type = "FULL_OBJECT"
        version = core.commit_object(self.s, record, None, ctx, "ObjectCreated:Copy")
        copy_result: dict[str, Any] = {"ETag": f'"{record.etag}"', "LastModified": record.last_modified}
        if record.checksum_algorithm and record.checksum and not (record.checksum or "").count("-"):
            copy_result[member_name(record.checksum_algorithm)] = record.checksum
            copy_result["ChecksumType"] = record.checksum_type
        return {"CopyObjectResult": copy_result, "VersionId": version,
                "CopySourceVersionId": core.reported_version(self.s, src), **expiration_member(self.s, record)}

    # -- reads -----------------------------------------------------------------------------

    def get_object(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        return self._read(Bucket, Key, params, body=True)

    def head_object(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        return self._read(Bucket, Key, params, body=False)

    def _read(self, bucket: str, key: str, params: dict[str, Any], body: bool) -> dict[str, Any]:
        record = core.object_version(self.s, bucket, key, params.get("VersionId"), "GET" if body else "HEAD")
        check_read_conditions(record.etag, record.last_modified, params)
        result = self._described(record, params)
        first, last = 0, record.size - 1
        part_number = params.get("PartNumber")
        if part_number:
            sizes = record.parts or [record.size]
            if not 1 <= part_number <= 10000:
                raise errors.invalid_argument("Part number must be an integer between 1 and 10000, inclusive",
                                              "partNumber", str(part_number))
            if part_number > len(sizes):
                # A part the object does not have (any beyond 1 of a non-multipart object):
                # InvalidPart, as s3-tests' test_multipart_get_part / test_non_multipart_get_part
                # (not marked fails_on_aws) expect of S3.
                raise errors.invalid_part()
            first = sum(sizes[: part_number - 1])
            last = first + sizes[part_number - 1] - 1
            result["PartsCount"] = len(sizes)
            if record.parts:
                result["ContentRange"] = f"bytes {first}-{last}/{record.size}"
            if params.get("ChecksumMode") == "ENABLED":
                result.update(_part_checksum(record, part_number))
        else:
            rng = parse_range(params.get("Range"), record.size)
            if rng is not None:
                first, last = rng
                result["ContentRange"] = f"bytes {first}-{last}/{record.size}"
        length = max(0, last - first + 1)
        result["ContentLength"] = length
        if body:
            if record.data is not None:
                result["Body"] = record.data[first:first + length]
            else:
                # A body in a file is read as it is sent, never here: GetObject runs on the event
                # loop (S3Service.runs_on_loop), which must not wait for a disk.
                result["Body"] = ResponseBody(core.body_range(self.s, record, first, length), length)
        return result

    def _described(self, record: ObjectRecord, params: dict[str, Any]) -> dict[str, Any]:
        """The members GET and HEAD return about the object (the Response* overrides applied)."""
        result: dict[str, Any] = {
            "ETag": f'"{record.etag}"',
            "LastModified": record.last_modified,
            "ContentType": record.content_type,
            "Metadata": record.metadata,
            "AcceptRanges": "bytes",
            "VersionId": core.reported_version(self.s, record),
        }
        if record.storage_class != "STANDARD":
            result["StorageClass"] = record.storage_class
        for name in STORED_HEADERS:
            if name in record.headers:
                result[name] = record.headers[name]
        if record.tags:
            result["TagCount"] = len(record.tags)
        result.update(expiration_member(self.s, record))
        if not _OVERRIDES.keys().isdisjoint(params):  # (rarely: presigned download links)
            for asked, member in _OVERRIDES.items():
                value = params.get(asked)
                if value is not None:
                    result[member] = value
        if params.get("ChecksumMode") == "ENABLED" and "Range" not in params and not params.get("PartNumber"):
            result.update(core.checksum_members(record))
        return result

    # -- deletes ---------------------------------------------------------------------------

    def delete_object(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        version_id = params.get("VersionId")
        if version_id is not None:
            versions.check_version_id(version_id)
        notified: list[str] = []

        def txn(conn: sqlite3.Connection) -> tuple[dict[str, Any], list[str]]:
            nonlocal notified
            status = versions.status(conn, Bucket)
            result, doomed, notified = self._delete_one(conn, ctx, Bucket, Key, version_id, params.get("IfMatch"),
                                                        status)
            return result, doomed

        result, doomed = self.s.db.write(txn)
        for blob in doomed:
            self.s.blobs.delete_later(blob)
        if notified:
            self.s.notify(notified)
        return result

    def delete_objects(self, ctx: RequestContext, Bucket: str, Delete: dict[str, Any] | None = None,
                       **params: Any) -> dict[str, Any]:
        if not Delete or "Objects" not in Delete or len(Delete["Objects"]) > 1000:
            raise ServiceError("MalformedXML", _MALFORMED)
        items = Delete["Objects"]
        notified: list[str] = []

        def txn(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
            nonlocal notified
            status = versions.status(conn, Bucket)
            deleted: list[dict[str, Any]] = []
            failed: list[dict[str, Any]] = []
            doomed: list[str] = []
            for index, item in enumerate(items):
                key, version_id = item.get("Key", ""), item.get("VersionId")
                if index in ctx.denied_items:  # IAM enforcement: the caller may not delete this one
                    failed.append({"Key": key, "VersionId": version_id, "Code": "AccessDenied",
                                   "Message": "Access Denied"})
                    continue
                try:
                    if version_id is not None:
                        versions.check_version_id(version_id)
                    result, blobs, sent = self._delete_one(conn, ctx, Bucket, key, version_id, None, status)
                except ServiceError:
                    failed.append({"Key": key, "VersionId": version_id, "Code": "NoSuchVersion",
                                   "Message": "The specified version does not exist."})
                    continue
                notified.extend(t for t in sent if t not in notified)
                doomed.extend(blobs)
                entry: dict[str, Any] = {"Key": key}
                if version_id is not None:
                    entry["VersionId"] = version_id
                if result.get("DeleteMarker"):
                    entry["DeleteMarker"] = True
                    entry["DeleteMarkerVersionId"] = result["VersionId"]
                deleted.append(entry)
            return deleted, failed, doomed

        deleted, failed, doomed = self.s.db.write(txn)
        for blob in doomed:
            self.s.blobs.delete_later(blob)
        if notified:
            self.s.notify(notified)
        out: dict[str, Any] = {}
        if deleted and not Delete.get("Quiet"):
            out["Deleted"] = deleted
        if failed:
            out["Errors"] = failed
        return out

    def _delete_one(self, conn: sqlite3.Connection, ctx: RequestContext, bucket: str, key: str,
                    version_id: str | None, if_match: str | None,
                    status: str | None) -> tuple[dict[str, Any], list[str], list[str]]:
        """Delete a key (a delete marker, on a versioned bucket) or one version of it, in `conn`'s
        transaction. Return the result members, the body files to delete, and the destinations of
        the notifications written."""
        events = self.s.events
        if version_id is not None:
            # Permanently deleting a version: a version that does not exist is already gone.
            gone = versions.remove(conn, bucket, key, version_id)
            result: dict[str, Any] = {"VersionId": version_id}
            if gone is None:
                return result, [], []
            if gone.delete_marker:
                result["DeleteMarker"] = True
            notified = events.record(conn, ctx, bucket, "ObjectRemoved:Delete", key,
                                     version_id=version_id if status else None)
            return result, [gone.blob] if gone.blob else [], notified
        latest = objects.current(conn, bucket, key)
        live = latest is not None and not latest.delete_marker
        if if_match and live and latest and if_match.strip('"') != latest.etag and if_match != "*":
            raise errors.precondition_failed("If-Match")
        if status is None:
            if latest is None:
                return {}, [], events.removed(conn, ctx, bucket, key, existed=False)
            versions.remove(conn, bucket, key, latest.version_id)
            return {}, [latest.blob] if latest.blob else [], events.removed(conn, ctx, bucket, key, existed=True)
        # A versioned bucket keeps the object: its new current version is a delete marker.
        marker = ObjectRecord(bucket=bucket, key=key, blob=None, size=0, etag="", last_modified=self.s.clock.now(),
                              content_type=None, delete_marker=True)
        doomed = versions.place(conn, marker, status)
        notified = events.record(conn, ctx, bucket, "ObjectRemoved:DeleteMarkerCreated", key,
                                 version_id=marker.version_id)
        return {"DeleteMarker": True, "VersionId": marker.version_id}, doomed, notified


def _part_checksum(record: ObjectRecord, number: int) -> dict[str, Any]:
    """The checksum members of a GET/HEAD of one part: a multipart object's part has its own
    checksum (the part's, as uploaded) beside the object's checksum type; a whole object read as
    part 1 has the object's."""
    if record.parts and record.part_checksums and record.checksum_algorithm:
        return {member_name(record.checksum_algorithm): record.part_checksums[number - 1],
                "ChecksumType": record.checksum_type or "COMPOSITE"}
    if not record.parts:
        return core.checksum_members(record)
    return {}
