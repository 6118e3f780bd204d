"""Buckets: create, look up, list, delete, and their versioning configuration."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import configurations, core, errors, versions
from .access import Access
from .names import valid_bucket_name
from .records import BucketRecord, buckets
from .state import S3State

_MALFORMED = "The XML you provided was not well-formed or did not validate against our published schema"


class Buckets:
    def __init__(self, state: S3State, access: Access) -> None:
        self.s = state
        self.access = access

    def create_bucket(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        if not valid_bucket_name(Bucket):
            raise errors.invalid_bucket_name(Bucket)
        config = params.get("CreateBucketConfiguration") or {}
        constraint = config.get("LocationConstraint")
        if constraint == "us-east-1":
            raise ServiceError("InvalidLocationConstraint", "The specified location-constraint is not valid",
                               LocationConstraint=constraint)
        if constraint:
            region = "eu-west-1" if constraint == "EU" else constraint
        elif ctx.region in ("us-east-1", "aws-global"):
            region = "us-east-1"
        else:
            raise ServiceError(
                "IllegalLocationConstraintException",
                "The unspecified location constraint is incompatible for the region specific endpoint "
                "this request was sent to.",
            )
        new = BucketRecord(Bucket, ctx.account_id, region, self.s.clock.now())
        settings = self.access.new_bucket_config(ctx, params)  # ownership, public access block, ACL

        def txn(conn: sqlite3.Connection) -> None:
            found = buckets.find(conn, Bucket)
            if found is not None:
                if found.account != ctx.account_id:
                    raise ServiceError(
                        "BucketAlreadyExists",
                        "The requested bucket name is not available. The bucket namespace is shared by all "
                        "users of the system. Please select a different name and try again.", BucketName=Bucket)
                # AWS keeps answering 200 for this in us-east-1, for legacy compatibility, and
                # resets the bucket's ACL to what this request asks (none: the owner's private one).
                if region == "us-east-1" and found.region == "us-east-1":
                    if "Acl" in settings or "Acl" in found.config:
                        kept = {k: v for k, v in found.config.items() if k != "Acl"}
                        buckets.set_config(conn, Bucket, {**kept, **({"Acl": settings["Acl"]} if "Acl" in settings
                                                                      else {})})
                    return
                raise ServiceError(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    BucketName=Bucket)
            buckets.insert(conn, new)
            buckets.set_config(conn, Bucket, settings)

        self.s.db.write(txn)
        if params.get("ObjectLockEnabledForBucket"):
            configurations.enable_object_lock(self.s, Bucket)
        return {"Location": f"/{Bucket}"}

    def head_bucket(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        return {"BucketRegion": core.bucket(self.s, Bucket).region, "AccessPointAlias": False}

    def get_bucket_location(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        region = core.bucket(self.s, Bucket).region
        return {"LocationConstraint": None if region == "us-east-1" else region}

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
        after = core.decode_token(token) if token else ""
        found = [b for b in buckets.owned_by(self.s.db.reader, ctx.account_id, after)
                 if b.name.startswith(prefix) and (not region or b.region == region)]
        result: dict[str, Any] = {"Owner": core.owner(ctx.account_id)}
        if max_buckets is not None and len(found) > max_buckets:
            found = found[:max_buckets]
            result["ContinuationToken"] = core.encode_token(found[-1].name)
        result["Buckets"] = [{"Name": b.name, "CreationDate": b.created, "BucketRegion": b.region} for b in found]
        if prefix:
            result["Prefix"] = prefix
        return result

    def delete_bucket(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> list[str]:
            core.require_bucket(conn, Bucket)
            if not buckets.is_empty(conn, Bucket):
                raise ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty", BucketName=Bucket)
            return buckets.delete(conn, Bucket)

        for blob in self.s.db.write(txn):
            self.s.blobs.delete_later(blob)
        return {}

    # -- versioning ------------------------------------------------------------------------

    def put_bucket_versioning(self, ctx: RequestContext, Bucket: str,
                              VersioningConfiguration: dict[str, Any] | None = None,
                              **params: Any) -> dict[str, Any]:
        conf = VersioningConfiguration or {}
        state = conf.get("Status")
        mfa_delete = conf.get("MFADelete")
        if state not in (versions.ENABLED, versions.SUSPENDED) or mfa_delete not in (None, "Enabled", "Disabled"):
            raise ServiceError("MalformedXML", _MALFORMED)
        if mfa_delete == "Enabled" or params.get("MFA"):
            # MFA delete needs the root account's MFA device: Sluice has none to check a code against.
            raise ServiceError("AccessDenied", "Mfa Authentication must be used for this request")

        def txn(conn: sqlite3.Connection) -> None:
            document = buckets.config(conn, Bucket)
            if document is None:
                raise errors.no_such_bucket(Bucket)
            stored = {"Status": state, **({"MFADelete": mfa_delete} if mfa_delete else {})}
            document["Versioning"] = {**document.get("Versioning", {}), **stored}
            buckets.set_config(conn, Bucket, document)

        self.s.db.write(txn)
        return {}

    def get_bucket_versioning(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        return dict(core.bucket(self.s, Bucket).config.get("Versioning", {}))
