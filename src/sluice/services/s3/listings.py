"""Listing a bucket: ListObjects, ListObjectsV2 (current versions) and ListObjectVersions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...protocol.context import RequestContext
from . import core, errors, versions
from .records import objects
from .records.listing import ListedObject, list_keys, list_versions
from .state import S3State


class Listings:
    def __init__(self, state: S3State) -> None:
        self.s = state

    def list_objects_v2(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        core.bucket(self.s, Bucket)
        max_keys = core.max_keys(params)
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        token = params.get("ContinuationToken")
        after = core.decode_token(token) if token is not None else params.get("StartAfter") or ""
        listing = list_keys(self.s.db.reader, Bucket, prefix, delimiter, after, max_keys)
        enc = core.key_encoder(params.get("EncodingType"))
        fetch_owner = params.get("FetchOwner")
        contents = []
        for found in listing.objects:
            item = _listed(found, enc)
            if found.checksum_algorithm:
                item["ChecksumAlgorithm"] = [found.checksum_algorithm]
                item["ChecksumType"] = found.checksum_type or "FULL_OBJECT"
            if fetch_owner:
                item["Owner"] = core.owner(ctx.account_id)
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
            result["NextContinuationToken"] = core.encode_token(listing.last)
        return result

    def list_objects(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        core.bucket(self.s, Bucket)
        max_keys = core.max_keys(params)
        prefix = params.get("Prefix") or ""
        delimiter = params.get("Delimiter") or ""
        marker = params.get("Marker") or ""
        listing = list_keys(self.s.db.reader, Bucket, prefix, delimiter, marker, max_keys)
        enc = core.key_encoder(params.get("EncodingType"))
        # ListObjects (V1) echoes Prefix as sent even with EncodingType=url: S3 does (s3-tests'
        # test_bucket_list_prefix_unreadable, which AWS passes), and botocore decodes V1's
        # Delimiter, Marker, NextMarker and keys but not its Prefix.
        result: dict[str, Any] = {
            "Name": Bucket, "Prefix": prefix, "Marker": enc(marker), "MaxKeys": max_keys,
            "IsTruncated": listing.truncated,
        }
        contents = [{**_listed(found, enc), "Owner": core.owner(ctx.account_id)} for found in listing.objects]
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
        core.bucket(self.s, Bucket)
        max_keys = core.max_keys(params)
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
            marker = objects.find(self.s.db.reader, Bucket, key_marker, version_marker)
            # A marker version that is gone: continue after all of its key's versions.
            after_seq = marker.seq if marker else None
        listing = list_versions(self.s.db.reader, Bucket, prefix, delimiter, key_marker, after_seq, max_keys)
        enc = core.key_encoder(params.get("EncodingType"))
        result: dict[str, Any] = {
            "Name": Bucket, "Prefix": enc(prefix), "KeyMarker": enc(key_marker), "VersionIdMarker": version_marker,
            "MaxKeys": max_keys, "IsTruncated": listing.truncated,
        }
        found, markers = [], []
        for v in listing.versions:
            item: dict[str, Any] = {"Key": enc(v.key), "VersionId": v.version_id, "IsLatest": v.is_latest,
                                    "LastModified": v.last_modified, "Owner": core.owner(ctx.account_id)}
            if v.delete_marker:
                markers.append(item)
                continue
            item.update({"ETag": f'"{v.etag}"', "Size": v.size, "StorageClass": v.storage_class})
            if v.checksum_algorithm:
                item["ChecksumAlgorithm"] = [v.checksum_algorithm]
                item["ChecksumType"] = v.checksum_type or "FULL_OBJECT"
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


def _listed(found: ListedObject, enc: Callable[[str], str]) -> dict[str, Any]:
    return {"Key": enc(found.key), "LastModified": found.last_modified, "ETag": f'"{found.etag}"',
            "Size": found.size, "StorageClass": found.storage_class}
