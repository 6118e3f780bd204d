"""Multipart uploads: create, upload (or copy) parts, list, complete, abort."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import sqlite3
import uuid
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.http import Readable
from ...protocol.s3upload import Payload
from . import core, errors, versions
from .access import Access, object_acl, with_acl
from .checksums import b64, composite, member_name, new_hasher
from .conditions import check_read_conditions
from .ingest import ingest
from .lifecycle import abort_members, expiration_member
from .records import BucketRecord, ObjectRecord, PartRecord, UploadRecord, uploads
from .records import objects as objects_records
from .state import S3State

MIN_PART_SIZE = 5 * 1024 * 1024
# The account that started an upload, kept with the upload's headers (not the object's).
INITIATOR = "Initiator"
MAX_PART_NUMBER = 10000


def _new_upload_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")


class Multipart:
    def __init__(self, state: S3State, access: Access) -> None:
        self.s = state
        self.access = access

    def _upload(self, bucket: str, key: str, upload_id: str) -> UploadRecord:
        upload = uploads.find(self.s.db.reader, upload_id)
        if upload is None or upload.bucket != bucket or upload.key != key:
            core.bucket(self.s, bucket)
            raise errors.no_such_upload(upload_id)
        return upload

    def create_multipart_upload(self, ctx: RequestContext, Bucket: str, Key: str,
                                **params: Any) -> dict[str, Any]:
        core.check_key(Key)
        core.bucket(self.s, Bucket)
        algo = (params.get("ChecksumAlgorithm") or "").upper() or None
        ctype = params.get("ChecksumType")
        if algo and not ctype:
            ctype = "FULL_OBJECT" if algo == "CRC64NVME" else "COMPOSITE"
        if ctype == "FULL_OBJECT" and algo in ("SHA1", "SHA256"):
            raise errors.invalid_request(f"The FULL_OBJECT checksum type cannot be used with the "
                                         f"{algo.lower()} checksum algorithm.")
        object_acl = self.access.for_new_object(ctx, Bucket, params)
        upload = UploadRecord(
            upload_id=_new_upload_id(), bucket=Bucket, key=Key, initiated=self.s.clock.now(),
            content_type=params.get("ContentType") or "binary/octet-stream",
            headers={**with_acl(core.stored_headers(params), object_acl), INITIATOR: ctx.account_id},
            metadata=core.check_metadata(params.get("Metadata") or {}),
            tags=core.parse_tagging(params.get("Tagging")), checksum_algorithm=algo, checksum_type=ctype,
            storage_class=params.get("StorageClass") or "STANDARD",
        )

        def txn(conn: sqlite3.Connection) -> None:
            core.require_bucket(conn, Bucket)
            uploads.insert(conn, upload)

        self.s.db.write(txn)
        result: dict[str, Any] = {"Bucket": Bucket, "Key": Key, "UploadId": upload.upload_id,
                                  **abort_members(self.s, upload)}
        if algo:
            result["ChecksumAlgorithm"] = algo
            result["ChecksumType"] = ctype
        return result

    @staticmethod
    def _check_part_number(number: int) -> None:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise errors.invalid_argument("Part number must be an integer between 1 and 10000, inclusive",
                                          "partNumber", str(number))

    def _commit_part(self, part: PartRecord) -> None:
        def txn(conn: sqlite3.Connection) -> str | None:
            if not uploads.exists(conn, part.upload_id):
                raise errors.no_such_upload(part.upload_id)
            return uploads.put_part(conn, part)

        try:
            old = self.s.db.write(txn)
        except BaseException:
            self.s.blobs.delete_later(part.blob)
            raise
        self.s.blobs.delete_later(old)

    def upload_part(self, ctx: RequestContext, Bucket: str, Key: str, PartNumber: int, UploadId: str,
                    Body: Readable | None = None, payload: Payload | None = None, **params: Any) -> dict[str, Any]:
        self._check_part_number(PartNumber)
        upload = self._upload(Bucket, Key, UploadId)
        taken = ingest(self.s.blobs, Body or io.BytesIO(b""), params, payload, algorithm=upload.checksum_algorithm,
                       inline=False)
        assert taken.blob is not None
        part = PartRecord(UploadId, PartNumber, taken.blob, taken.size, taken.etag, self.s.clock.now(),
                          taken.checksum if upload.checksum_algorithm else None)
        self._commit_part(part)
        result: dict[str, Any] = {"ETag": f'"{part.etag}"'}
        if upload.checksum_algorithm:
            result[member_name(upload.checksum_algorithm)] = part.checksum
        return result

    def upload_part_copy(self, ctx: RequestContext, Bucket: str, Key: str, PartNumber: int,
                         UploadId: str, CopySource: str, **params: Any) -> dict[str, Any]:
        self._check_part_number(PartNumber)
        upload = self._upload(Bucket, Key, UploadId)
        src_bucket, src_key, src_version = core.parse_copy_source(CopySource)
        src = core.copy_source(self.s, src_bucket, src_key, src_version)
        check_read_conditions(src.etag, src.last_modified, params, prefix="CopySourceIf")
        first, length = 0, src.size
        rng = params.get("CopySourceRange")
        if rng:
            # Exactly bytes=first-last in digits: "0-2" (no unit), "bytes=0", "bytes=0-" or a list
            # of ranges are refused as S3 refuses them.
            m = re.fullmatch(r"bytes=(\d+)-(\d+)", rng.strip())
            if m is None:
                raise errors.invalid_argument("The x-amz-copy-source-range value must be of the form "
                                              "bytes=first-last where first and last are the zero-based "
                                              "offsets of the first and last bytes to copy",
                                              "x-amz-copy-source-range", rng)
            first, last = int(m.group(1)), int(m.group(2))
            if last < first or last >= src.size:
                raise errors.invalid_range(rng, src.size)
            length = last - first + 1
        hasher = new_hasher(upload.checksum_algorithm) if upload.checksum_algorithm else None
        written = self.s.blobs.write(core.body_range(self.s, src, first, length),
                                     [hasher.update] if hasher else [])
        part = PartRecord(UploadId, PartNumber, written.name, written.size, written.md5, self.s.clock.now(),
                          b64(hasher.digest()) if hasher else None)
        self._commit_part(part)
        result: dict[str, Any] = {"ETag": f'"{part.etag}"', "LastModified": part.last_modified}
        if hasher and upload.checksum_algorithm:
            result[member_name(upload.checksum_algorithm)] = part.checksum
        return {"CopyPartResult": result, "CopySourceVersionId": core.reported_version(self.s, src)}

    def complete_multipart_upload(self, ctx: RequestContext, Bucket: str, Key: str, UploadId: str,
                                  **params: Any) -> dict[str, Any]:
        requested = (params.get("MultipartUpload") or {}).get("Parts")
        upload = uploads.find(self.s.db.reader, UploadId)
        if upload is None or upload.bucket != Bucket or upload.key != Key:
            repeated = self._completed_before(ctx, Bucket, Key, requested or [])
            if repeated is not None:
                return repeated
            upload = self._upload(Bucket, Key, UploadId)
        if not requested:
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                               "against our published schema")
        stored = {p.part_number: p for p in uploads.parts(self.s.db.reader, UploadId)}
        numbers = [p.get("PartNumber") for p in requested]
        if any(n is None for n in numbers) or numbers != sorted(numbers):
            raise errors.invalid_part_order()
        # A part number listed twice in a row: the last entry counts (a client that re-sent a
        # part lists both; S3 completes with the part stored last, s3-tests'
        # test_multipart_resend_first_finishes_last).
        requested = list({p["PartNumber"]: p for p in requested}.values())
        chosen: list[PartRecord] = []
        algo = upload.checksum_algorithm
        for i, p in enumerate(requested):
            part = stored.get(p["PartNumber"])
            if part is None or (p.get("ETag") or "").strip('"') != part.etag:
                raise errors.invalid_part()
            if algo and p.get(member_name(algo)) and p[member_name(algo)] != part.checksum:
                raise errors.invalid_part()
            if i < len(requested) - 1 and part.size < MIN_PART_SIZE:
                raise errors.entity_too_small(part.size)
            chosen.append(part)

        etag = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in chosen)).hexdigest() + f"-{len(chosen)}"
        full_hasher = None
        if algo and upload.checksum_type == "FULL_OBJECT":
            full_hasher = new_hasher(algo)
        elif not algo:
            full_hasher = new_hasher("CRC64NVME")  # what AWS stores when the client chose none
        written = self.s.blobs.concat([p.blob for p in chosen], [full_hasher.update] if full_hasher else [])
        if algo and upload.checksum_type != "FULL_OBJECT":
            checksum_algo, checksum = algo, composite(algo, [p.checksum or "" for p in chosen])
            ctype = "COMPOSITE"
        else:
            checksum_algo = algo or "CRC64NVME"
            assert full_hasher is not None
            checksum = b64(full_hasher.digest())
            ctype = "FULL_OBJECT"
        # The whole object's checksum, when the client sends one, must be the one S3 computes:
        # the full-object value, or the composite one ("<checksum of checksums>-N").
        sent = params.get(member_name(checksum_algo))
        if sent and sent not in (checksum, checksum.rsplit("-", 1)[0]):
            self.s.blobs.delete(written.name)
            raise errors.checksum_mismatch(checksum_algo)
        part_checksums = [p.checksum or "" for p in chosen] if algo else None
        record = ObjectRecord(
            bucket=Bucket, key=Key, blob=written.name, size=written.size, etag=etag,
            last_modified=self.s.clock.now(), content_type=upload.content_type,
            headers={k: v for k, v in upload.headers.items() if k != INITIATOR},
            metadata=upload.metadata, tags=upload.tags, checksum_algorithm=checksum_algo, checksum=checksum,
            checksum_type=ctype, parts=[p.size for p in chosen], part_checksums=part_checksums,
            storage_class=upload.storage_class,
        )

        notified: list[str] = []
        conditions = {k: params[k] for k in ("IfMatch", "IfNoneMatch") if params.get(k)}

        def txn(conn: sqlite3.Connection) -> tuple[list[str], str | None]:
            nonlocal notified
            status = versions.status(conn, Bucket)
            if not uploads.exists(conn, UploadId):
                raise errors.no_such_upload(UploadId)
            # If-Match / If-None-Match: the upload completes only over the object they expect,
            # decided in the same transaction as the write, as PutObject's.
            core.check_write_conditions(conn, Bucket, Key, conditions)
            part_blobs = uploads.delete(conn, UploadId)
            doomed = versions.place(conn, record, status)
            # A suspended bucket's write is its key's "null" version, which S3's write response does
            # not name (no x-amz-version-id; reads do say "null"), as AWS's PutObject examples show.
            reported = record.version_id if status == versions.ENABLED else None
            notified = self.s.events.record(conn, ctx, Bucket, "ObjectCreated:CompleteMultipartUpload", Key,
                                            record.size, record.etag, record.last_modified, version_id=reported)
            return doomed + part_blobs, reported

        try:
            doomed, reported = self.s.db.write(txn)
        except BaseException:
            self.s.blobs.delete(written.name)
            raise
        if notified:
            self.s.notify(notified)
        for blob in doomed:
            self.s.blobs.delete_later(blob)
        result: dict[str, Any] = {
            "Location": f"{ctx.endpoint}/{Bucket}/{Key}", "Bucket": Bucket, "Key": Key, "ETag": f'"{etag}"',
            "VersionId": reported, **expiration_member(self.s, record),
        }
        if algo:
            result[member_name(checksum_algo)] = checksum
            result["ChecksumType"] = ctype
        return result

    def _completed_before(self, ctx: RequestContext, bucket: str, key: str,
                          requested: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The answer to a CompleteMultipartUpload repeated after it succeeded (SDKs retry it after
        a lost response; S3 answers 200 again), or None. The upload row is gone once completed;
        the object it made is recognized by its ETag, which the parts' ETags determine."""
        try:
            digests = [bytes.fromhex((p.get("ETag") or "").strip('"')) for p in requested]
        except ValueError:
            return None
        if not digests:
            return None
        etag = hashlib.md5(b"".join(digests)).hexdigest() + f"-{len(digests)}"
        current = objects_records.current(self.s.db.reader, bucket, key)
        if current is None or current.delete_marker or current.etag != etag:
            return None
        result: dict[str, Any] = {"Location": f"{ctx.endpoint}/{bucket}/{key}", "Bucket": bucket, "Key": key,
                                  "ETag": f'"{etag}"', "VersionId": core.reported_version(self.s, current)}
        if current.checksum_algorithm and current.checksum:
            result.update(core.checksum_members(current))
        return result

    def abort_multipart_upload(self, ctx: RequestContext, Bucket: str, Key: str, UploadId: str,
                               **_: Any) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> list[str]:
            core.require_bucket(conn, Bucket)
            upload = uploads.find(conn, UploadId)
            if upload is None or upload.key != Key or upload.bucket != Bucket:
                raise errors.no_such_upload(UploadId)
            return uploads.delete(conn, UploadId)

        for blob in self.s.db.write(txn):
            self.s.blobs.delete_later(blob)
        return {}

    def list_parts(self, ctx: RequestContext, Bucket: str, Key: str, UploadId: str,
                   **params: Any) -> dict[str, Any]:
        upload = self._upload(Bucket, Key, UploadId)
        marker = params.get("PartNumberMarker") or 0
        max_parts = min(params.get("MaxParts") or 1000, 1000)
        found = uploads.parts(self.s.db.reader, UploadId, marker, max_parts + 1)
        truncated = len(found) > max_parts
        parts = []
        for p in found[:max_parts]:
            item: dict[str, Any] = {"PartNumber": p.part_number, "LastModified": p.last_modified,
                                    "ETag": f'"{p.etag}"', "Size": p.size}
            if upload.checksum_algorithm and p.checksum:
                item[member_name(upload.checksum_algorithm)] = p.checksum
            parts.append(item)
        result: dict[str, Any] = {
            "Bucket": Bucket, "Key": Key, "UploadId": UploadId, "PartNumberMarker": marker,
            "MaxParts": max_parts, "IsTruncated": truncated, "StorageClass": upload.storage_class,
            "Initiator": _initiator(core.bucket(self.s, Bucket), upload),
            # Who will own the object: the writer, or the bucket owner (Object Ownership).
            "Owner": core.owner(object_acl(core.bucket(self.s, Bucket), upload.headers)["Owner"]),
            **abort_members(self.s, upload),
        }
        if parts:
            result["Parts"] = parts
            result["NextPartNumberMarker"] = parts[-1]["PartNumber"]
        if upload.checksum_algorithm:
            result["ChecksumAlgorithm"] = upload.checksum_algorithm
            result["ChecksumType"] = upload.checksum_type
        return result

    def list_multipart_uploads(self, ctx: RequestContext, Bucket: str,
                               **params: Any) -> dict[str, Any]:
        bucket = core.bucket(self.s, Bucket)
        prefix = params.get("Prefix") or ""
        key_marker = params.get("KeyMarker") or ""
        id_marker = params.get("UploadIdMarker") or ""
        max_uploads = min(params.get("MaxUploads") or 1000, 1000)
        delimiter = params.get("Delimiter") or ""
        found = uploads.in_bucket(self.s.db.reader, Bucket, key_marker, id_marker)
        enc = core.key_encoder(params.get("EncodingType"))
        listed: list[dict[str, Any]] = []
        common: list[str] = []
        truncated = False
        last_key = ""
        for u in (u for u in found if u.key.startswith(prefix)):
            if delimiter:
                idx = u.key.find(delimiter, len(prefix))
                if idx >= 0:
                    cp = u.key[: idx + len(delimiter)]
                    if cp not in common:
                        if len(listed) + len(common) >= max_uploads:
                            truncated = True
                            break
                        common.append(cp)
                    continue
            if len(listed) + len(common) >= max_uploads:
                truncated = True
                break
            last_key = u.key
            listed.append({
                "UploadId": u.upload_id, "Key": enc(u.key), "Initiated": u.initiated,
                "StorageClass": u.storage_class,
                # Each upload's own: under ObjectWriter another account's upload is that account's.
                "Owner": core.owner(object_acl(bucket, u.headers)["Owner"]),
                "Initiator": _initiator(bucket, u),
                **({"ChecksumAlgorithm": u.checksum_algorithm, "ChecksumType": u.checksum_type}
                   if u.checksum_algorithm else {}),
            })
        result: dict[str, Any] = {
            "Bucket": Bucket, "KeyMarker": enc(key_marker), "UploadIdMarker": id_marker, "MaxUploads": max_uploads,
            "IsTruncated": truncated, "Prefix": enc(prefix),
        }
        if listed:
            result["Uploads"] = listed
            if truncated:
                result["NextKeyMarker"] = enc(last_key)
                result["NextUploadIdMarker"] = listed[-1]["UploadId"]
        if delimiter:
            result["Delimiter"] = enc(delimiter)
        if common:
            result["CommonPrefixes"] = [{"Prefix": enc(p)} for p in common]
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        return result


def _initiator(bucket: BucketRecord, upload: UploadRecord) -> dict[str, str]:
    """Who started the upload (the account: Sluice names principals by account in S3); uploads
    from before it was kept: their object's owner, exact unless another account started one
    under BucketOwnerEnforced."""
    account = upload.headers.get(INITIATOR)
    return core.owner(account if account else object_acl(bucket, upload.headers)["Owner"])
