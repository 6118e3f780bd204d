"""S3's business rules: buckets and objects. No HTTP, no XML: members in, members out."""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote_plus

from ...protocol import WireProtocol
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.http import HttpRequest, Readable, ResponseBody
from ...protocol.postobject import PostObjectProtocol, is_form_post
from ...protocol.restxml import RestXmlProtocol
from ..delivery import INVALID, NOT_FOUND, Delivery, DeliveryResult
from . import errors, versions
from .checksums import b64, member_name, new_hasher
from .conditions import check_read_conditions, parse_range
from .core import S3Core, owner, parse_copy_source, parse_tagging_header, validate_tags
from .ingest import ingest
from .listing import list_keys, list_versions
from .multipart import MultipartOperations
from .names import valid_bucket_name
from .policy import BucketPolicies
from .post import PostOperations
from .records import STORED_HEADERS, ObjectRecord

# Bodies up to this size are returned from memory; larger ones stream from disk.
_INLINE_BODY = 1024 * 1024


class S3Service(PostOperations, BucketPolicies, MultipartOperations, S3Core):
    """S3's business rules: buckets and objects. No HTTP, no XML: members in, members out."""

    @cached_property
    def post_protocol(self) -> WireProtocol:
        assert isinstance(self.protocol, RestXmlProtocol)
        return PostObjectProtocol(self.protocol.model, self.protocol)

    def protocol_for_request(self, req: HttpRequest) -> WireProtocol:
        # Browser uploads (POST Object) are forms, not a botocore operation.
        return self.post_protocol if is_form_post(req) else self.protocol

    # -- buckets -------------------------------------------------------------------------

    def create_bucket(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        if not valid_bucket_name(Bucket):
            raise errors.invalid_bucket_name(Bucket)
        config = params.get("CreateBucketConfiguration") or {}
        constraint = config.get("LocationConstraint")
        if constraint == "us-east-1":
            raise ServiceError("InvalidLocationConstraint", "The specified location-constraint is not valid",
                               400, LocationConstraint=constraint)
        if constraint:
            region = "eu-west-1" if constraint == "EU" else constraint
        elif ctx.region in ("us-east-1", "aws-global"):
            region = "us-east-1"
        else:
            raise ServiceError(
                "IllegalLocationConstraintException",
                "The unspecified location constraint is incompatible for the region specific endpoint "
                "this request was sent to.", 400,
            )
        now = self.clock.now()

        def txn(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT account, region FROM s3_buckets WHERE name=?", (Bucket,)).fetchone()
            if row is not None:
                if row["account"] != ctx.account_id:
                    raise ServiceError(
                        "BucketAlreadyExists",
                        "The requested bucket name is not available. The bucket namespace is shared by all "
                        "users of the system. Please select a different name and try again.", 409,
                        BucketName=Bucket)
                # AWS keeps answering 200 for this in us-east-1, for legacy compatibility.
                if region == "us-east-1" and row["region"] == "us-east-1":
                    return
                raise ServiceError(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    409, BucketName=Bucket)
            conn.execute("INSERT INTO s3_buckets (name, account, region, created) VALUES (?,?,?,?)",
                         (Bucket, ctx.account_id, region, now))

        self.db.write(txn)
        return {"Location": f"/{Bucket}"}

    def head_bucket(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        bucket = self._bucket(Bucket)
        return {"BucketRegion": bucket.region, "AccessPointAlias": False}

    def get_bucket_location(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        bucket = self._bucket(Bucket)
        return {"LocationConstraint": None if bucket.region == "us-east-1" else bucket.region}

    def list_buckets(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        prefix = params.get("Prefix") or ""
        region = params.get("BucketRegion")
        max_buckets = params.get("MaxBuckets")
        if max_buckets is not None and not 1 <= max_buckets <= 10_000:
            # AWS documents pages of 1 to 10,000 buckets; its exact wording here is not known,
            # this follows max-keys'. (0 or less emptied the page and then indexed it: a 500.)
            raise errors.invalid_argument("Argument max-buckets must be an integer between 1 and 10000",
                                          "max-buckets", str(max_buckets))
        token = params.get("ContinuationToken")
        after = _decode_token(token) if token else ""
        rows = self.db.query(
            "SELECT name, created, region FROM s3_buckets WHERE account=? AND name > ? ORDER BY name",
            (ctx.account_id, after),
        )
        buckets = [r for r in rows if r["name"].startswith(prefix) and (not region or r["region"] == region)]
        result: dict[str, Any] = {"Owner": owner(ctx.account_id)}
        if max_buckets is not None and len(buckets) > max_buckets:
            buckets = buckets[:max_buckets]
            result["ContinuationToken"] = _encode_token(buckets[-1]["name"])
        result["Buckets"] = [
            {"Name": r["name"], "CreationDate": r["created"], "BucketRegion": r["region"]} for r in buckets
        ]
        if prefix:
            result["Prefix"] = prefix
        return result

    def delete_bucket(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> list[str]:
            self._require_bucket(conn, Bucket)
            if conn.execute("SELECT 1 FROM s3_objects WHERE bucket=? LIMIT 1", (Bucket,)).fetchone():
                raise ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409,
                                   BucketName=Bucket)
            blobs = [r[0] for r in conn.execute(
                "SELECT p.blob FROM s3_parts p JOIN s3_uploads u USING (upload_id) WHERE u.bucket=?",
                (Bucket,))]
            conn.execute("DELETE FROM s3_uploads WHERE bucket=?", (Bucket,))
            conn.execute("DELETE FROM s3_buckets WHERE name=?", (Bucket,))
            return blobs

        for blob in self.db.write(txn):
            self.blobs.delete_later(blob)
        return {}

    # -- objects -------------------------------------------------------------------------

    def put_object(self, ctx: RequestContext, Bucket: str, Key: str, Body: Readable | None = None,
                   **params: Any) -> dict[str, Any]:
        self._check_key(Key)
        if not isinstance(Body, io.BytesIO):
            self._bucket(Bucket)  # refuse before streaming a large body (small ones are in memory)
        metadata = self._check_metadata(params.get("Metadata") or {})
        tags = parse_tagging_header(params.get("Tagging"))
        if Body is None:
            Body = io.BytesIO(b"")
        taken = ingest(self.blobs, Body, params, ctx.headers)
        record = ObjectRecord(
            bucket=Bucket, key=Key, blob=taken.blob, data=taken.data, size=taken.size, etag=taken.etag,
            last_modified=self.clock.now(), content_type=params.get("ContentType") or "binary/octet-stream",
            headers=self._stored_headers(params), metadata=metadata, tags=tags,
            checksum_algorithm=taken.checksum_algorithm, checksum=taken.checksum, checksum_type="FULL_OBJECT",
            storage_class=params.get("StorageClass") or "STANDARD",
        )
        version = self._commit_object(record, {k: params[k] for k in ("IfMatch", "IfNoneMatch") if params.get(k)},
                                      ctx, "ObjectCreated:Put")
        result: dict[str, Any] = {"ETag": f'"{record.etag}"', "Size": record.size, "VersionId": version}
        result.update(self._checksum_members(record))
        return result

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """Write `delivery.body` as a JSON object (Lambda's S3 failure destinations)."""
        bucket = arn.split(":::", 1)[1] if ":::" in arn else ""
        if not bucket or not delivery.object_key:
            return DeliveryResult.failed(INVALID, f"not an S3 bucket ARN with a key: {arn}")
        row = self.db.query_one("SELECT account, region FROM s3_buckets WHERE name=?", (bucket,))
        if row is None:
            return DeliveryResult.failed(NOT_FOUND, f"bucket {bucket} does not exist")
        ctx = RequestContext(request_id=os.urandom(8).hex().upper(), host_id="", account_id=row["account"],
                             region=row["region"], service="s3")
        try:
            self.put_object(ctx, Bucket=bucket, Key=delivery.object_key, Body=io.BytesIO(delivery.body.encode()),
                            ContentType="application/json")
        except ServiceError as err:
            return DeliveryResult.failed(NOT_FOUND if err.status == 404 else INVALID, err.message)
        return DeliveryResult(True, delivery.object_key)

    def _object_headers(self, record: ObjectRecord, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "ETag": f'"{record.etag}"',
            "LastModified": record.last_modified,
            "ContentType": record.content_type,
            "Metadata": record.metadata,
            "AcceptRanges": "bytes",
            "VersionId": self._reported_version(record),
        }
        if record.storage_class != "STANDARD":
            result["StorageClass"] = record.storage_class
        for name in STORED_HEADERS:
            if name in record.headers:
                result[name] = record.headers[name]
        if record.tags:
            result["TagCount"] = len(record.tags)
        for override in ("ContentType", "ContentLanguage", "Expires", "CacheControl", "ContentDisposition",
                         "ContentEncoding"):
            value = params.get("Response" + override)
            if value is not None:
                result[override] = value
        if params.get("ChecksumMode") == "ENABLED" and "Range" not in params and not params.get("PartNumber"):
            result.update(self._checksum_members(record))
        return result

    def _read(self, ctx: RequestContext, Bucket: str, Key: str, params: dict[str, Any],
              body: bool) -> dict[str, Any]:
        record = self._object(Bucket, Key, params.get("VersionId"), "GET" if body else "HEAD")
        check_read_conditions(record.etag, record.last_modified, params)
        result = self._object_headers(record, params)
        first, last = 0, record.size - 1
        part_number = params.get("PartNumber")
        if part_number:
            sizes = record.parts or [record.size]
            if part_number < 1 or part_number > len(sizes):
                raise errors.invalid_argument("Part number must be an integer between 1 and 10000, inclusive",
                                              "partNumber", str(part_number))
            first = sum(sizes[: part_number - 1])
            last = first + sizes[part_number - 1] - 1
            result["PartsCount"] = len(sizes)
            if record.parts:
                result["ContentRange"] = f"bytes {first}-{last}/{record.size}"
                ctx.status = 206
        else:
            rng = parse_range(params.get("Range"), record.size)
            if rng is not None:
                first, last = rng
                result["ContentRange"] = f"bytes {first}-{last}/{record.size}"
                ctx.status = 206
        length = max(0, last - first + 1)
        result["ContentLength"] = length
        if body:
            if record.data is not None:
                result["Body"] = record.data[first:first + length]
            elif length <= _INLINE_BODY:
                result["Body"] = b"".join(self._body_range(record, first, length))
            else:
                result["Body"] = ResponseBody(self._body_range(record, first, length), length)
        return result

    def get_object(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        return self._read(ctx, Bucket, Key, params, body=True)

    def head_object(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        return self._read(ctx, Bucket, Key, params, body=False)

    def delete_object(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        version_id = params.get("VersionId")
        if version_id is not None:
            versions.check_version_id(version_id)
        notified = False

        def txn(conn: sqlite3.Connection) -> tuple[dict[str, Any], list[str]]:
            nonlocal notified
            state = versions.status(conn, Bucket)
            result, doomed, notified = self._delete_one(conn, ctx, Bucket, Key, version_id, params.get("IfMatch"),
                                                        state)
            return result, doomed

        result, doomed = self.db.write(txn)
        for blob in doomed:
            self.blobs.delete_later(blob)
        if notified:
            self.notifier.wake()
        return result

    def _delete_one(self, conn: sqlite3.Connection, ctx: RequestContext, bucket: str, key: str,
                    version_id: str | None, if_match: str | None,
                    state: str | None) -> tuple[dict[str, Any], list[str], bool]:
        """Delete a key (a delete marker, on a versioned bucket) or one version of it, in `conn`'s
        transaction. Return the result members, the body files to delete, and whether an event was written."""
        if version_id is not None:
            # Permanently deleting a version: a version that does not exist is already gone.
            gone = versions.remove(conn, bucket, key, version_id)
            result: dict[str, Any] = {"VersionId": version_id}
            if gone is None:
                return result, [], False
            if gone.delete_marker:
                result["DeleteMarker"] = True
            notified = self.notifier.record(conn, ctx, bucket, "ObjectRemoved:Delete", key,
                                            version_id=version_id if state else None)
            return result, [gone.blob] if gone.blob else [], notified
        latest = versions.current(conn, bucket, key)
        live = latest is not None and not latest.delete_marker
        if if_match and live and latest and if_match.strip('"') != latest.etag and if_match != "*":
            raise errors.precondition_failed("If-Match")
        if state is None:
            if latest is None:
                return {}, [], self.notifier.removed(conn, ctx, bucket, key, existed=False)
            versions.remove(conn, bucket, key, latest.version_id)
            return {}, [latest.blob] if latest.blob else [], self.notifier.removed(conn, ctx, bucket, key,
                                                                                 existed=True)
        # A versioned bucket keeps the object: its new current version is a delete marker.
        marker = ObjectRecord(bucket=bucket, key=key, blob=None, size=0, etag="", last_modified=self.clock.now(),
                              content_type=None, delete_marker=True)
        doomed = versions.place(conn, marker, state)
        notified = self.notifier.record(conn, ctx, bucket, "ObjectRemoved:DeleteMarkerCreated", key,
                                        version_id=marker.version_id)
        return {"DeleteMarker": True, "VersionId": marker.version_id}, doomed, notified

    def delete_objects(self, ctx: RequestContext, Bucket: str, Delete: dict[str, Any] | None = None,
                       **params: Any) -> dict[str, Any]:
        if not Delete or "Objects" not in Delete or len(Delete["Objects"]) > 1000:
            raise errors.ServiceError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
                400)
        objects = Delete["Objects"]
        notified = False

        def txn(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
            nonlocal notified
            state = versions.status(conn, Bucket)
            deleted: list[dict[str, Any]] = []
            failed: list[dict[str, Any]] = []
            doomed: list[str] = []
            for index, item in enumerate(objects):
                key, version_id = item.get("Key", ""), item.get("VersionId")
                if index in ctx.denied_items:  # IAM enforcement: the caller may not delete this one
                    failed.append({"Key": key, "VersionId": version_id, "Code": "AccessDenied",
                                   "Message": "Access Denied"})
                    continue
                try:
                    if version_id is not None:
                        versions.check_version_id(version_id)
                    result, blobs, sent = self._delete_one(conn, ctx, Bucket, key, version_id, None, state)
                except ServiceError:
                    failed.append({"Key": key, "VersionId": version_id, "Code": "NoSuchVersion",
                                   "Message": "The specified version does not exist."})
                    continue
                notified = notified or sent
                doomed.extend(blobs)
                entry: dict[str, Any] = {"Key": key}
                if version_id is not None:
                    entry["VersionId"] = version_id
                if result.get("DeleteMarker"):
                    entry["DeleteMarker"] = True
                    entry["DeleteMarkerVersionId"] = result["VersionId"]
                deleted.append(entry)
            return deleted, failed, doomed

        deleted, failed, doomed = self.db.write(txn)
        for blob in doomed:
            self.blobs.delete_later(blob)
        if notified:
            self.notifier.wake()
        out: dict[str, Any] = {}
        if deleted and not Delete.get("Quiet"):
            out["Deleted"] = deleted
        if failed:
            out["Errors"] = failed
        return out

    def copy_object(self, ctx: RequestContext, Bucket: str, Key: str, CopySource: str,
                    **params: Any) -> dict[str, Any]:
        self._check_key(Key)
        src_bucket, src_key, src_version = parse_copy_source(CopySource)
        self._bucket(Bucket)
        src = self._copy_source(src_bucket, src_key, src_version)
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
        new_blob = self.blobs.link_copy(src.blob) if src.blob else None
        record = ObjectRecord(
            bucket=Bucket, key=Key, blob=new_blob, data=src.data, size=src.size, etag=src.etag,
            last_modified=self.clock.now(), content_type=src.content_type, headers=dict(src.headers),
            metadata=dict(src.metadata), tags=dict(src.tags), checksum_algorithm=src.checksum_algorithm,
            checksum=src.checksum, checksum_type=src.checksum_type, parts=src.parts,
            storage_class=params.get("StorageClass") or src.storage_class,
        )
        if directive == "REPLACE":
            record.content_type = params.get("ContentType") or "binary/octet-stream"
            record.headers = self._stored_headers(params)
            record.metadata = self._check_metadata(params.get("Metadata") or {})
        if tagging_directive == "REPLACE":
            record.tags = parse_tagging_header(params.get("Tagging"))
        algo = params.get("ChecksumAlgorithm")
        if algo and algo.upper() != (src.checksum_algorithm or ""):
            hasher = new_hasher(algo)
            for chunk in self._body_range(record, 0, record.size):
                hasher.update(chunk)
            record.checksum_algorithm, record.checksum = algo.upper(), b64(hasher.digest())
            record.checksum_type = "FULL_OBJECT"
        version = self._commit_object(record, None, ctx, "ObjectCreated:Copy")
        copy_result: dict[str, Any] = {"ETag": f'"{record.etag}"', "LastModified": record.last_modified}
        if record.checksum_algorithm and record.checksum and not (record.checksum or "").count("-"):
            copy_result[member_name(record.checksum_algorithm)] = record.checksum
            copy_result["ChecksumType"] = record.checksum_type
        return {"CopyObjectResult": copy_result, "VersionId": version,
                "CopySourceVersionId": self._reported_version(src)}

    # -- notifications -------------------------------------------------------------------

    def put_bucket_notification_configuration(self, ctx: RequestContext, Bucket: str,
                                              NotificationConfiguration: dict[str, Any] | None = None,
                                              **params: Any) -> dict[str, Any]:
        self._bucket(Bucket)
        self.notifier.configure(ctx, Bucket, NotificationConfiguration or {},
                                bool(params.get("SkipDestinationValidation")))
        return {}

    def get_bucket_notification_configuration(self, ctx: RequestContext, Bucket: str,
                                              **_: Any) -> dict[str, Any]:
        self._bucket(Bucket)
        return self.notifier.configuration(Bucket)

    # -- listing -------------------------------------------------------------------------

    def list_objects_v2(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        self._bucket(Bucket)
        max_keys = _max_keys(params)
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        token = params.get("ContinuationToken")
        after = _decode_token(token) if token is not None else params.get("StartAfter") or ""
        listing = list_keys(self.db.reader, Bucket, prefix, delimiter, after, max_keys)
        enc = _encoder(params.get("EncodingType"))
        fetch_owner = params.get("FetchOwner")
        contents = []
        for row in listing.objects:
            item: dict[str, Any] = {"Key": enc(row["key"]), "LastModified": row["last_modified"],
                                    "ETag": f'"{row["etag"]}"', "Size": row["size"],
                                    "StorageClass": row["storage_class"]}
            if row["checksum_algorithm"]:
                item["ChecksumAlgorithm"] = [row["checksum_algorithm"]]
                item["ChecksumType"] = row["checksum_type"] or "FULL_OBJECT"
            if fetch_owner:
                item["Owner"] = owner(ctx.account_id)
            contents.append(item)
        result: dict[str, Any] = {
            "Name": Bucket, "Prefix": enc(prefix), "MaxKeys": max_keys, "IsTruncated": listing.truncated,
            "KeyCount": len(listing.objects) + len(listing.common_prefixes),
        }
        if contents:
            result["Contents"] = contents
        if delimiter:
            result["Delimiter"] = enc(delimiter)
        if listing.common_prefixes:
            result["CommonPrefixes"] = [{"Prefix": enc(p)} for p in listing.common_prefixes]
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        if token is not None:
            result["ContinuationToken"] = token
        if params.get("StartAfter"):
            result["StartAfter"] = enc(params["StartAfter"])
        if listing.truncated and listing.last is not None:
            result["NextContinuationToken"] = _encode_token(listing.last)
        return result

    def list_objects(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        self._bucket(Bucket)
        max_keys = _max_keys(params)
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        marker = params.get("Marker") or ""
        listing = list_keys(self.db.reader, Bucket, prefix, delimiter, marker, max_keys)
        enc = _encoder(params.get("EncodingType"))
        result: dict[str, Any] = {
            "Name": Bucket, "Prefix": enc(prefix), "Marker": enc(marker), "MaxKeys": max_keys,
            "IsTruncated": listing.truncated,
        }
        contents = [
            {"Key": enc(r["key"]), "LastModified": r["last_modified"], "ETag": f'"{r["etag"]}"',
             "Size": r["size"], "StorageClass": r["storage_class"], "Owner": owner(ctx.account_id)}
            for r in listing.objects
        ]
        if contents:
            result["Contents"] = contents
        if delimiter:
            result["Delimiter"] = enc(delimiter)
            if listing.truncated and listing.last is not None:
                result["NextMarker"] = enc(listing.last)
        if listing.common_prefixes:
            result["CommonPrefixes"] = [{"Prefix": enc(p)} for p in listing.common_prefixes]
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        return result

    def list_object_versions(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        self._bucket(Bucket)
        max_keys = _max_keys(params)
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        key_marker = params.get("KeyMarker") or ""
        version_marker = params.get("VersionIdMarker") or ""
        after_seq = None
        if version_marker:
            if not key_marker:
                raise errors.invalid_argument("A version-id marker cannot be specified without a key marker.",
                                              "version-id-marker", version_marker)
            versions.check_version_id(version_marker)
            marker = versions.find(self.db.reader, Bucket, key_marker, version_marker)
            # A marker version that is gone: continue after all of its key's versions.
            after_seq = marker.seq if marker else None
        listing = list_versions(self.db.reader, Bucket, prefix, delimiter, key_marker, after_seq, max_keys)
        enc = _encoder(params.get("EncodingType"))
        result: dict[str, Any] = {
            "Name": Bucket, "Prefix": enc(prefix), "KeyMarker": enc(key_marker), "VersionIdMarker": version_marker,
            "MaxKeys": max_keys, "IsTruncated": listing.truncated,
        }
        found, markers = [], []
        for r in listing.versions:
            item: dict[str, Any] = {"Key": enc(r["key"]), "VersionId": r["version_id"], "IsLatest": bool(r["is_latest"]),
                                    "LastModified": r["last_modified"], "Owner": owner(ctx.account_id)}
            if r["delete_marker"]:
                markers.append(item)
                continue
            item.update({"ETag": f'"{r["etag"]}"', "Size": r["size"], "StorageClass": r["storage_class"]})
            if r["checksum_algorithm"]:
                item["ChecksumAlgorithm"] = [r["checksum_algorithm"]]
                item["ChecksumType"] = r["checksum_type"] or "FULL_OBJECT"
            found.append(item)
        if found:
            result["Versions"] = found
        if markers:
            result["DeleteMarkers"] = markers
        if delimiter:
            result["Delimiter"] = enc(delimiter)
        if listing.common_prefixes:
            result["CommonPrefixes"] = [{"Prefix": enc(p)} for p in listing.common_prefixes]
        if listing.truncated and listing.next_key is not None:
            result["NextKeyMarker"] = enc(listing.next_key)
            if listing.next_version is not None:
                result["NextVersionIdMarker"] = listing.next_version
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        return result

    # -- versioning ----------------------------------------------------------------------

    def put_bucket_versioning(self, ctx: RequestContext, Bucket: str,
                              VersioningConfiguration: dict[str, Any] | None = None,
                              **params: Any) -> dict[str, Any]:
        conf = VersioningConfiguration or {}
        state = conf.get("Status")
        mfa_delete = conf.get("MFADelete")
        if state not in (versions.ENABLED, versions.SUSPENDED) or mfa_delete not in (None, "Enabled", "Disabled"):
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                               "against our published schema", 400)
        if mfa_delete == "Enabled" or params.get("MFA"):
            # MFA delete needs the root account's MFA device: Sluice has none to check a code against.
            raise ServiceError("AccessDenied", "Mfa Authentication must be used for this request", 403)

        def txn(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT config FROM s3_buckets WHERE name=?", (Bucket,)).fetchone()
            if row is None:
                raise errors.no_such_bucket(Bucket)
            config = json.loads(row["config"])
            stored = {"Status": state, **({"MFADelete": mfa_delete} if mfa_delete else {})}
            config["Versioning"] = {**config.get("Versioning", {}), **stored}
            conn.execute("UPDATE s3_buckets SET config=? WHERE name=?", (json.dumps(config), Bucket))

        self.db.write(txn)
        return {}

    def get_bucket_versioning(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        return dict(self._bucket(Bucket).config.get("Versioning", {}))

    # -- attributes and tags -------------------------------------------------------------

    def get_object_attributes(self, ctx: RequestContext, Bucket: str, Key: str, ObjectAttributes: list[str],
                              **params: Any) -> dict[str, Any]:
        record = self._object(Bucket, Key, params.get("VersionId"))
        wanted = {a.strip() for a in ObjectAttributes}
        result: dict[str, Any] = {"LastModified": record.last_modified, "VersionId": self._reported_version(record)}
        if "ETag" in wanted:
            result["ETag"] = record.etag
        if "ObjectSize" in wanted:
            result["ObjectSize"] = record.size
        if "StorageClass" in wanted:
            result["StorageClass"] = record.storage_class
        if "Checksum" in wanted and record.checksum:
            result["Checksum"] = self._checksum_members(record)
        if "ObjectParts" in wanted and record.parts:
            max_parts = params.get("MaxParts") or 1000
            marker = params.get("PartNumberMarker") or 0
            numbers = list(range(marker + 1, len(record.parts) + 1))[:max_parts]
            result["ObjectParts"] = {
                "TotalPartsCount": len(record.parts), "PartNumberMarker": marker,
                "NextPartNumberMarker": numbers[-1] if numbers else marker, "MaxParts": max_parts,
                "IsTruncated": bool(numbers) and numbers[-1] < len(record.parts),
                "Parts": [{"PartNumber": n, "Size": record.parts[n - 1]} for n in numbers],
            }
        return result

    def put_object_tagging(self, ctx: RequestContext, Bucket: str, Key: str, Tagging: dict[str, Any],
                           **params: Any) -> dict[str, Any]:
        tags = validate_tags({t["Key"]: t.get("Value", "") for t in Tagging.get("TagSet", [])})
        if len(tags) != len(Tagging.get("TagSet", [])):
            raise errors.invalid_tag("Cannot provide multiple Tags with the same key")
        return {"VersionId": self._set_tags(Bucket, Key, tags, params.get("VersionId"))}

    def get_object_tagging(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        record = self._object(Bucket, Key, params.get("VersionId"))
        return {"TagSet": [{"Key": k, "Value": v} for k, v in record.tags.items()],
                "VersionId": self._reported_version(record)}

    def delete_object_tagging(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        return {"VersionId": self._set_tags(Bucket, Key, {}, params.get("VersionId"))}

    def _set_tags(self, bucket: str, key: str, tags: dict[str, str], version_id: str | None) -> str | None:
        """Tag the current version, or the one asked for; return the version id to report."""
        record = self._object(bucket, key, version_id, "PUT")

        def txn(conn: sqlite3.Connection) -> None:
            self._require_bucket(conn, bucket)
            cur = conn.execute("UPDATE s3_objects SET tags=? WHERE bucket=? AND key=? AND version_id=?",
                               (json.dumps(tags), bucket, key, record.version_id))
            if cur.rowcount == 0:
                raise errors.no_such_key(key)

        self.db.write(txn)
        return self._reported_version(record)

    # -- for the rest of Sluice ----------------------------------------------------------

    def storage_totals(self) -> list[BucketTotals]:
        """Every bucket's stored bytes (STANDARD storage class) and object count, for the daily
        AWS/S3 storage metrics. One aggregate read."""
        rows = self.db.query(
            "SELECT b.name AS bucket, coalesce(sum(CASE WHEN o.storage_class='STANDARD' THEN o.size END), 0) AS size,"
            " count(o.key) AS objects FROM s3_buckets b LEFT JOIN s3_objects o ON o.bucket = b.name GROUP BY b.name")
        return [BucketTotals(r["bucket"], int(r["size"]), int(r["objects"])) for r in rows]


@dataclass(frozen=True)
class BucketTotals:
    bucket: str
    standard_bytes: int
    objects: int


def _max_keys(params: dict[str, Any]) -> int:
    value = params.get("MaxKeys")
    if value is None:
        return 1000
    if value < 0:
        raise errors.invalid_argument("Argument maxKeys must be an integer between 0 and 2147483647",
                                      "maxKeys", str(value))
    return min(int(value), 1000)


def _encoder(encoding: str | None) -> Any:
    if encoding == "url":
        return lambda s: quote_plus(s, safe="/")
    return lambda s: s


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid_argument("The continuation token provided is incorrect",
                                      "continuation-token", token) from None

