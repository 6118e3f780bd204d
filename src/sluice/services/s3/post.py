"""POST Object: an upload from an HTML form (or boto3's generate_presigned_post).

The protocol layer hands over the form's fields (lower-case names) and a reader for the file.
The policy is checked before the file is read; the file's real size (never the request's claim)
is checked against the policy's content-length-range while it streams to disk.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ... import realtime
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.http import Readable
from . import core, errors
from .access import Access, with_acl
from .checksums import ALGORITHMS, member_name
from .ingest import MAX_PUT_SIZE, ingest
from .post_policy import SizeRange, check_policy
from .records import ObjectRecord
from .state import S3State

_HEADER_FIELDS = {"cache-control": "CacheControl", "content-disposition": "ContentDisposition",
                  "content-encoding": "ContentEncoding",
                  "x-amz-website-redirect-location": "WebsiteRedirectLocation"}


class _Limited:
    """Reads at most `high` bytes; past that, counts the rest and refuses the upload as too large."""

    def __init__(self, inner: Readable, high: int) -> None:
        self._inner = inner
        self._high = high
        self.seen = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self._inner.read(n)
        self.seen += len(data)
        if self.seen > self._high:
            while more := self._inner.read(1024 * 1024):
                self.seen += len(more)
            raise errors.entity_too_large(self.seen, self._high)
        return data


class PostUploads:
    def __init__(self, state: S3State, access: Access) -> None:
        self.s = state
        self.access = access

    def post_object(self, ctx: RequestContext, Bucket: str, Fields: dict[str, str],
                    File: Readable | None = None, FileName: str = "", **_: Any) -> dict[str, Any]:
        core.bucket(self.s, Bucket)
        if "key" not in Fields:
            raise errors.invalid_argument("Bucket POST must contain a field named 'key'.  If it is specified, "
                                          "please check the order of the fields.", "key", "")
        # `${filename}` in the key is the file's name, and the policy's key conditions see the key
        # so made (s3-tests' test_post_object_set_key_from_filename: starts-with $key "foo").
        key = Fields["key"].replace("${filename}", FileName.replace("\\", "/").rsplit("/", 1)[-1])
        size_range: SizeRange | None = None
        if "policy" in Fields:
            # Real time: the client wrote the expiration with its own real clock (a manual clock
            # moved hours on must not expire every policy an SDK makes).
            size_range = check_policy(Fields["policy"], {**Fields, "key": key}, Bucket, realtime.wall())
        if File is None:
            raise errors.invalid_argument("POST requires exactly one file upload per request.", "file", "0")
        if not key:
            raise errors.invalid_argument("User key must have a length greater than 0.", "key", "")
        core.check_key(key)
        metadata = core.check_metadata({k[len("x-amz-meta-"):]: v for k, v in Fields.items()
                                         if k.startswith("x-amz-meta-")})
        object_acl = self.access.for_new_object(ctx, Bucket, {"ACL": Fields["acl"]} if "acl" in Fields else {})
        _form_tags(Fields.get("tagging"))  # refused before the body is read
        high = min(size_range.high, MAX_PUT_SIZE) if size_range else MAX_PUT_SIZE
        body = _Limited(File, high)
        # A checksum field (x-amz-checksum-sha256 ...) is checked against the file, as the header
        # is on PutObject.
        checks = {member_name(f[len("x-amz-checksum-"):].upper()): v for f, v in Fields.items()
                  if f.startswith("x-amz-checksum-") and f[len("x-amz-checksum-"):].upper() in ALGORITHMS}
        taken = ingest(self.s.blobs, body, checks)
        if size_range and taken.size < size_range.low:
            self.s.blobs.delete_later(taken.blob)
            raise ServiceError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                               ProposedSize=taken.size, MinSizeAllowed=size_range.low)
        record = ObjectRecord(
            bucket=Bucket, key=key, blob=taken.blob, data=taken.data, size=taken.size, etag=taken.etag,
            last_modified=self.s.clock.now(), content_type=Fields.get("content-type") or "binary/octet-stream",
            headers=with_acl(core.stored_headers({member: Fields[f] for f, member in _HEADER_FIELDS.items()
                                                  if f in Fields}), object_acl),
            metadata=metadata, tags=_form_tags(Fields.get("tagging")),
            checksum_algorithm=taken.checksum_algorithm, checksum=taken.checksum,
            checksum_type="FULL_OBJECT", storage_class=Fields.get("x-amz-storage-class") or "STANDARD",
        )
        version = core.commit_object(self.s, record, None, ctx, "ObjectCreated:Post")
        return {
            "Bucket": Bucket, "Key": key, "ETag": f'"{record.etag}"', "VersionId": version,
            "Location": f"{ctx.endpoint}/{Bucket}/{quote(key)}",
            "SuccessActionStatus": Fields.get("success_action_status"),
            "SuccessActionRedirect": Fields.get("success_action_redirect") or Fields.get("redirect"),
        }


def _form_tags(value: str | None) -> dict[str, str]:
    """The `tagging` form field: a <Tagging><TagSet><Tag><Key/><Value/></Tag>...</TagSet></Tagging>
    document, as PutObjectTagging's body."""
    if not value:
        return {}
    # Imported here: protocol.xml brings botocore's model module, which start-up does without.
    from ...protocol.xml import MalformedXML, local_name, parse_xml

    malformed = ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                             "against our published schema")
    try:
        root = parse_xml(value.encode("utf-8", "surrogateescape"))
    except MalformedXML:
        raise malformed from None
    if local_name(root.tag) != "Tagging":
        raise malformed
    tags: dict[str, str] = {}
    for tag_set in (e for e in root if local_name(e.tag) == "TagSet"):
        for tag in (e for e in tag_set if local_name(e.tag) == "Tag"):
            parts = {local_name(e.tag): e.text or "" for e in tag}
            if "Key" not in parts:
                raise malformed
            if parts["Key"] in tags:
                raise errors.invalid_tag("Cannot provide multiple Tags with the same key")
            tags[parts["Key"]] = parts.get("Value", "")
    return core.validate_tags(tags)
