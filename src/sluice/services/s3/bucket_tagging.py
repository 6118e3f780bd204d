"""A bucket's tags: Put/Get/DeleteBucketTagging, kept in the bucket's configuration document
(CloudFormation's AWS::S3::Bucket Tags land here too)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import core, errors
from .records import buckets
from .state import S3State

MAX_TAGS = 50  # a bucket's limit (an object's is 10)


def _check(tag_set: list[dict[str, Any]], *, cloudformation: bool = False) -> list[dict[str, str]]:
    """The tag set checked as S3 checks it; `cloudformation`: the caller is CloudFormation itself,
    which alone may set its aws:cloudformation:* tags on the buckets it makes."""
    seen: set[str] = set()
    out = []
    for tag in tag_set:
        key, value = str(tag.get("Key") or ""), str(tag.get("Value") or "")
        if key in seen:
            raise errors.invalid_tag("Cannot provide multiple Tags with the same key")
        if not key or len(key) > 128:
            raise errors.invalid_tag("The TagKey you have provided is invalid")
        if len(value) > 256:
            raise errors.invalid_tag("The TagValue you have provided is invalid")
        if key.lower().startswith("aws:") and not (cloudformation and key.startswith("aws:cloudformation:")):
            raise errors.invalid_tag("Your TagKey cannot be prefixed with aws:")
        seen.add(key)
        out.append({"Key": key, "Value": value})
    if len(out) > MAX_TAGS:
        raise errors.invalid_tag(f"Bucket tag count cannot be greater than {MAX_TAGS}")
    return out


class BucketTagging:
    def __init__(self, state: S3State) -> None:
        self.s = state

    def _set(self, name: str, tags: list[dict[str, str]] | None) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            document = buckets.config(conn, name)
            if document is None:
                raise errors.no_such_bucket(name)
            if tags is None:
                document.pop("Tagging", None)
            else:
                document["Tagging"] = tags
            buckets.set_config(conn, name, document)

        self.s.db.write(txn)

    def put_bucket_tagging(self, ctx: RequestContext, Bucket: str, Tagging: dict[str, Any] | None = None,
                           **_: Any) -> dict[str, Any]:
        # host_id "cloudformation": a call from CloudFormation's resource providers (providers/calls.py).
        self._set(Bucket, _check(list((Tagging or {}).get("TagSet") or []),
                                 cloudformation=ctx.host_id == "cloudformation"))
        return {}

    def get_bucket_tagging(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        tags = core.bucket(self.s, Bucket).config.get("Tagging")
        if tags is None:
            raise ServiceError("NoSuchTagSet", "The TagSet does not exist", BucketName=Bucket)
        return {"TagSet": list(tags)}

    def delete_bucket_tagging(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        self._set(Bucket, None)
        return {}
