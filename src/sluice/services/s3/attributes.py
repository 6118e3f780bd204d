"""What is said about an object beyond its body: GetObjectAttributes, and its tags."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from . import core, errors
from .checksums import member_name
from .records import ObjectRecord, objects
from .state import S3State


class ObjectAttributes:
    def __init__(self, state: S3State) -> None:
        self.s = state

    def get_object_attributes(self, ctx: RequestContext, Bucket: str, Key: str, ObjectAttributes: list[str],
                              **params: Any) -> dict[str, Any]:
        record = core.object_version(self.s, Bucket, Key, params.get("VersionId"))
        wanted = {a.strip() for a in ObjectAttributes}
        result: dict[str, Any] = {"LastModified": record.last_modified,
                                  "VersionId": core.reported_version(self.s, record)}
        if "ETag" in wanted:
            result["ETag"] = record.etag
        if "ObjectSize" in wanted:
            result["ObjectSize"] = record.size
        if "StorageClass" in wanted:
            result["StorageClass"] = record.storage_class
        if "Checksum" in wanted and record.checksum:
            result["Checksum"] = core.checksum_members(record)
        if "ObjectParts" in wanted and record.parts:
            max_parts = params.get("MaxParts") or 1000
            marker = params.get("PartNumberMarker") or 0
            numbers = list(range(marker + 1, len(record.parts) + 1))[:max_parts]
            result["ObjectParts"] = {
                "TotalPartsCount": len(record.parts), "PartNumberMarker": marker,
                "NextPartNumberMarker": numbers[-1] if numbers else marker, "MaxParts": max_parts,
                "IsTruncated": bool(numbers) and numbers[-1] < len(record.parts),
                "Parts": [_part(record, n) for n in numbers],
            }
        return result

    # -- tags ------------------------------------------------------------------------------

    def put_object_tagging(self, ctx: RequestContext, Bucket: str, Key: str, Tagging: dict[str, Any],
                           **params: Any) -> dict[str, Any]:
        tags = core.validate_tags({t["Key"]: t.get("Value", "") for t in Tagging.get("TagSet", [])})
        if len(tags) != len(Tagging.get("TagSet", [])):
            raise errors.invalid_tag("Cannot provide multiple Tags with the same key")
        return {"VersionId": self._set_tags(Bucket, Key, tags, params.get("VersionId"))}

    def get_object_tagging(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        record = core.object_version(self.s, Bucket, Key, params.get("VersionId"))
        # In key order, as S3 lists them (s3-tests' test_put_obj_with_tags: 'foo=bar&bar' reads back bar, foo).
        return {"TagSet": [{"Key": k, "Value": v} for k, v in sorted(record.tags.items())],
                "VersionId": core.reported_version(self.s, record)}

    def delete_object_tagging(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        return {"VersionId": self._set_tags(Bucket, Key, {}, params.get("VersionId"))}

    def _set_tags(self, bucket: str, key: str, tags: dict[str, str], version_id: str | None) -> str | None:
        """Tag the current version, or the one asked for; return the version id to report."""
        record = core.object_version(self.s, bucket, key, version_id, "PUT")

        def txn(conn: sqlite3.Connection) -> None:
            core.require_bucket(conn, bucket)
            if not objects.set_tags(conn, bucket, key, record.version_id, tags):
                raise errors.no_such_key(key)

        self.s.db.write(txn)
        return core.reported_version(self.s, record)


def _part(record: ObjectRecord, number: int) -> dict[str, Any]:
    """A part as GetObjectAttributes lists it: its size, and its checksum when the upload had an
    algorithm."""
    assert record.parts is not None
    part: dict[str, Any] = {"PartNumber": number, "Size": record.parts[number - 1]}
    if record.checksum_algorithm and record.part_checksums and record.part_checksums[number - 1]:
        part[member_name(record.checksum_algorithm)] = record.part_checksums[number - 1]
    return part
