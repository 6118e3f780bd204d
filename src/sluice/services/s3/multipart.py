"""Multipart uploads: create, upload (or copy) parts, list, complete, abort."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.http import Readable
from . import errors, versions
from .checksums import b64, composite, member_name, new_hasher
from .conditions import check_read_conditions
from .core import S3Core, owner, parse_copy_source, parse_tagging_header
from .ingest import ingest
from .listing import key_encoder
from .records import ObjectRecord, PartRecord, UploadRecord

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10000


def _new_upload_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")


class MultipartOperations(S3Core):
    def _upload(self, bucket: str, key: str, upload_id: str) -> UploadRecord:
        row = self.db.query_one("SELECT * FROM s3_uploads WHERE upload_id=?", (upload_id,))
        if row is None or row["bucket"] != bucket or row["key"] != key:
            self._bucket(bucket)
            raise errors.no_such_upload(upload_id)
        return UploadRecord.from_row(row)

    def create_multipart_upload(self, ctx: RequestContext, Bucket: str, Key: str,
                                **params: Any) -> dict[str, Any]:
        self._check_key(Key)
        self._bucket(Bucket)
        algo = (params.get("ChecksumAlgorithm") or "").upper() or None
        ctype = params.get("ChecksumType")
        if algo and not ctype:
            ctype = "FULL_OBJECT" if algo == "CRC64NVME" else "COMPOSITE"
        if ctype == "FULL_OBJECT" and algo in ("SHA1", "SHA256"):
            raise errors.invalid_request(f"The FULL_OBJECT checksum type cannot be used with the "
                                         f"{algo.lower()} checksum algorithm.")
        upload = UploadRecord(
            upload_id=_new_upload_id(), bucket=Bucket, key=Key, initiated=self.clock.now(),
            content_type=params.get("ContentType") or "binary/octet-stream",
            headers=self._stored_headers(params), metadata=self._check_metadata(params.get("Metadata") or {}),
            tags=parse_tagging_header(params.get("Tagging")), checksum_algorithm=algo, checksum_type=ctype,
            storage_class=params.get("StorageClass") or "STANDARD",
        )

        def txn(conn: sqlite3.Connection) -> None:
            self._require_bucket(conn, Bucket)
            conn.execute(
                "INSERT INTO s3_uploads (upload_id, bucket, key, initiated, content_type, headers, metadata,"
                " tags, checksum_algorithm, checksum_type, storage_class) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (upload.upload_id, Bucket, Key, upload.initiated, upload.content_type, json.dumps(upload.headers),
                 json.dumps(upload.metadata), json.dumps(upload.tags), algo, ctype, upload.storage_class),
            )

        self.db.write(txn)
        result: dict[str, Any] = {"Bucket": Bucket, "Key": Key, "UploadId": upload.upload_id}
        if algo:
            result["ChecksumAlgorithm"] = algo
            result["ChecksumType"] = ctype
        return result

    def _check_part_number(self, number: int) -> None:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise errors.invalid_argument("Part number must be an integer between 1 and 10000, inclusive",
                                          "partNumber", str(number))

    def _commit_part(self, part: PartRecord) -> None:
        def txn(conn: sqlite3.Connection) -> str | None:
            if conn.execute("SELECT 1 FROM s3_uploads WHERE upload_id=?", (part.upload_id,)).fetchone() is None:
                raise errors.no_such_upload(part.upload_id)
            old = conn.execute("SELECT blob FROM s3_parts WHERE upload_id=? AND part_number=?",
                               (part.upload_id, part.part_number)).fetchone()
            conn.execute(
                "INSERT OR REPLACE INTO s3_parts (upload_id, part_number, blob, size, etag, last_modified,"
                " checksum) VALUES (?,?,?,?,?,?,?)",
                (part.upload_id, part.part_number, part.blob, part.size, part.etag, part.last_modified,
                 part.checksum),
            )
            return old["blob"] if old else None

        try:
            old = self.db.write(txn)
        except BaseException:
            self.blobs.delete_later(part.blob)
            raise
        self.blobs.delete_later(old)

    def upload_part(self, ctx: RequestContext, Bucket: str, Key: str, PartNumber: int, UploadId: str,
                    Body: Readable | None = None, **params: Any) -> dict[str, Any]:
        self._check_part_number(PartNumber)
        upload = self._upload(Bucket, Key, UploadId)
        if Body is None:
            Body = io.BytesIO(b"")
        taken = ingest(self.blobs, Body, params, ctx.headers, algorithm=upload.checksum_algorithm, inline=False)
        assert taken.blob is not None
        part = PartRecord(UploadId, PartNumber, taken.blob, taken.size, taken.etag, self.clock.now(),
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
        src_bucket, src_key, src_version = parse_copy_source(CopySource)
        src = self._copy_source(src_bucket, src_key, src_version)
        check_read_conditions(src.etag, src.last_modified, params, prefix="CopySourceIf")
        first, length = 0, src.size
        rng = params.get("CopySourceRange")
        if rng:
            spec = rng.strip()
            try:
                a, b = spec.removeprefix("bytes=").split("-")
                first, last = int(a), int(b)
            except ValueError:
                raise errors.invalid_argument("The x-amz-copy-source-range value must be of the form "
                                              "bytes=first-last where first and last are the zero-based "
                                              "offsets of the first and last bytes to copy",
                                              "x-amz-copy-source-range", rng) from None
            if last < first or last >= src.size:
                raise errors.invalid_range(rng, src.size)
            length = last - first + 1
        hasher = new_hasher(upload.checksum_algorithm) if upload.checksum_algorithm else None
        written = self.blobs.write(self._body_range(src, first, length),
                                   [hasher.update] if hasher else [])
        part = PartRecord(UploadId, PartNumber, written.name, written.size, written.md5, self.clock.now(),
                          b64(hasher.digest()) if hasher else None)
        self._commit_part(part)
        result: dict[str, Any] = {"ETag": f'"{part.etag}"', "LastModified": part.last_modified}
        if hasher and upload.checksum_algorithm:
            result[member_name(upload.checksum_algorithm)] = part.checksum
        return {"CopyPartResult": result, "CopySourceVersionId": self._reported_version(src)}

    def complete_multipart_upload(self, ctx: RequestContext, Bucket: str, Key: str, UploadId: str,
                                  **params: Any) -> dict[str, Any]:
        upload = self._upload(Bucket, Key, UploadId)
        requested = (params.get("MultipartUpload") or {}).get("Parts")
        if not requested:
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                               "against our published schema", 400)
        stored = {
            r["part_number"]: PartRecord.from_row(r)
            for r in self.db.query("SELECT * FROM s3_parts WHERE upload_id=?", (UploadId,))
        }
        numbers = [p.get("PartNumber") for p in requested]
        if any(n is None for n in numbers) or numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise errors.invalid_part_order()
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
        written = self.blobs.concat([p.blob for p in chosen], [full_hasher.update] if full_hasher else [])
        if algo and upload.checksum_type != "FULL_OBJECT":
            checksum_algo, checksum = algo, composite(algo, [p.checksum or "" for p in chosen])
            ctype = "COMPOSITE"
        else:
            checksum_algo = algo or "CRC64NVME"
            assert full_hasher is not None
            checksum = b64(full_hasher.digest())
            ctype = "FULL_OBJECT"
            sent = params.get(member_name(checksum_algo))
            if sent and sent != checksum:
                self.blobs.delete(written.name)
                raise errors.checksum_mismatch(checksum_algo)
        record = ObjectRecord(
            bucket=Bucket, key=Key, blob=written.name, size=written.size, etag=etag,
            last_modified=self.clock.now(), content_type=upload.content_type, headers=upload.headers,
            metadata=upload.metadata, tags=upload.tags, checksum_algorithm=checksum_algo, checksum=checksum,
            checksum_type=ctype, parts=[p.size for p in chosen], storage_class=upload.storage_class,
        )

        notified = False

        def txn(conn: sqlite3.Connection) -> tuple[list[str], str | None]:
            nonlocal notified
            state = versions.status(conn, Bucket)
            if conn.execute("SELECT 1 FROM s3_uploads WHERE upload_id=?", (UploadId,)).fetchone() is None:
                raise errors.no_such_upload(UploadId)
            part_blobs = [r[0] for r in conn.execute("SELECT blob FROM s3_parts WHERE upload_id=?", (UploadId,))]
            conn.execute("DELETE FROM s3_uploads WHERE upload_id=?", (UploadId,))
            doomed = versions.place(conn, record, state)
            reported = record.version_id if state else None
            notified = self.notifier.record(conn, ctx, Bucket, "ObjectCreated:CompleteMultipartUpload", Key,
                                            record.size, record.etag, record.last_modified, version_id=reported)
            return doomed + part_blobs, reported

        try:
            doomed, reported = self.db.write(txn)
        except BaseException:
            self.blobs.delete(written.name)
            raise
        if notified:
            self.notifier.wake()
        for blob in doomed:
            self.blobs.delete_later(blob)
        result: dict[str, Any] = {
            "Location": f"{ctx.endpoint}/{Bucket}/{Key}", "Bucket": Bucket, "Key": Key, "ETag": f'"{etag}"',
            "VersionId": reported,
        }
        if algo:
            result[member_name(checksum_algo)] = checksum
            result["ChecksumType"] = ctype
        return result

    def abort_multipart_upload(self, ctx: RequestContext, Bucket: str, Key: str, UploadId: str,
                               **_: Any) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> list[str]:
            self._require_bucket(conn, Bucket)
            row = conn.execute("SELECT bucket, key FROM s3_uploads WHERE upload_id=?", (UploadId,)).fetchone()
            if row is None or row["key"] != Key or row["bucket"] != Bucket:
                raise errors.no_such_upload(UploadId)
            blobs = [r[0] for r in conn.execute("SELECT blob FROM s3_parts WHERE upload_id=?", (UploadId,))]
            conn.execute("DELETE FROM s3_uploads WHERE upload_id=?", (UploadId,))
            return blobs

        for blob in self.db.write(txn):
            self.blobs.delete_later(blob)
        return {}

    def list_parts(self, ctx: RequestContext, Bucket: str, Key: str, UploadId: str,
                   **params: Any) -> dict[str, Any]:
        upload = self._upload(Bucket, Key, UploadId)
        marker = params.get("PartNumberMarker") or 0
        max_parts = min(params.get("MaxParts") or 1000, 1000)
        rows = self.db.query(
            "SELECT * FROM s3_parts WHERE upload_id=? AND part_number > ? ORDER BY part_number LIMIT ?",
            (UploadId, marker, max_parts + 1),
        )
        truncated = len(rows) > max_parts
        rows = rows[:max_parts]
        parts = []
        for r in rows:
            item: dict[str, Any] = {"PartNumber": r["part_number"], "LastModified": r["last_modified"],
                                    "ETag": f'"{r["etag"]}"', "Size": r["size"]}
            if upload.checksum_algorithm and r["checksum"]:
                item[member_name(upload.checksum_algorithm)] = r["checksum"]
            parts.append(item)
        result: dict[str, Any] = {
            "Bucket": Bucket, "Key": Key, "UploadId": UploadId, "PartNumberMarker": marker,
            "MaxParts": max_parts, "IsTruncated": truncated, "StorageClass": upload.storage_class,
            "Initiator": owner(ctx.account_id), "Owner": owner(ctx.account_id),
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
        self._bucket(Bucket)
        prefix = params.get("Prefix") or ""
        key_marker = params.get("KeyMarker") or ""
        id_marker = params.get("UploadIdMarker") or ""
        max_uploads = min(params.get("MaxUploads") or 1000, 1000)
        delimiter = params.get("Delimiter") or ""
        rows = self.db.query(
            "SELECT * FROM s3_uploads WHERE bucket=? AND (key > ? OR (key = ? AND upload_id > ?))"
            " ORDER BY key, initiated, upload_id",
            (Bucket, key_marker, key_marker, id_marker if id_marker else "\U0010ffff"),
        )
        enc = key_encoder(params.get("EncodingType"))
        uploads: list[dict[str, Any]] = []
        common: list[str] = []
        truncated = False
        last_key = ""
        for r in _with_prefix(rows, prefix):
            if delimiter:
                idx = r["key"].find(delimiter, len(prefix))
                if idx >= 0:
                    cp = r["key"][: idx + len(delimiter)]
                    if cp not in common:
                        if len(uploads) + len(common) >= max_uploads:
                            truncated = True
                            break
                        common.append(cp)
                    continue
            if len(uploads) + len(common) >= max_uploads:
                truncated = True
                break
            last_key = r["key"]
            uploads.append({
                "UploadId": r["upload_id"], "Key": enc(r["key"]), "Initiated": r["initiated"],
                "StorageClass": r["storage_class"], "Owner": owner(ctx.account_id),
                "Initiator": owner(ctx.account_id),
                **({"ChecksumAlgorithm": r["checksum_algorithm"], "ChecksumType": r["checksum_type"]}
                   if r["checksum_algorithm"] else {}),
            })
        result: dict[str, Any] = {
            "Bucket": Bucket, "KeyMarker": enc(key_marker), "UploadIdMarker": id_marker, "MaxUploads": max_uploads,
            "IsTruncated": truncated, "Prefix": enc(prefix),
        }
        if uploads:
            result["Uploads"] = uploads
            if truncated:
                result["NextKeyMarker"] = enc(last_key)
                result["NextUploadIdMarker"] = uploads[-1]["UploadId"]
        if delimiter:
            result["Delimiter"] = enc(delimiter)
        if common:
            result["CommonPrefixes"] = [{"Prefix": enc(p)} for p in common]
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        return result


def _with_prefix(rows: list[sqlite3.Row], prefix: str) -> Iterator[sqlite3.Row]:
    return (r for r in rows if r["key"].startswith(prefix))
