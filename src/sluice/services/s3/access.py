"""Who may do what to a bucket beyond its policy: ACLs (Get/PutBucketAcl, Get/PutObjectAcl and the
ACL a write sets), Object Ownership controls, the bucket's Block Public Access settings, and the
ACL grants IAM enforcement reads.

Kept in the bucket's configuration document: "Acl" (the bucket's ACL), "Ownership"
(BucketOwnerEnforced | BucketOwnerPreferred | ObjectWriter) and "PublicAccessBlock" (its four
flags). An object's ACL rides in its stored headers under "Acl" (none: the bucket owner's
private ACL). As on AWS since April 2023, a new bucket is BucketOwnerEnforced (ACLs disabled)
with all four Block Public Access flags on; `legacy_defaults` gives the earlier behaviour (ACLs
on, no public access block), which S3-compatible test suites such as ceph's s3-tests expect.
Buckets made before this existed have neither setting: ACLs on, as the earlier behaviour.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import acl, core, errors
from .acl import Acl
from .configurations import ENCRYPTION, NO_ENCRYPTION
from .public import policy_is_public
from .records import BucketRecord, buckets
from .records import acls as records
from .state import S3State

ENFORCED, PREFERRED, WRITER = "BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"
_OWNERSHIPS = (ENFORCED, PREFERRED, WRITER)
_PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
_MALFORMED = "The XML you provided was not well-formed or did not validate against our published schema"
OBJECT_ACL = "Acl"  # the key of an object's ACL in its stored headers


def acls_not_supported() -> ServiceError:
    return ServiceError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)


def public_blocked() -> ServiceError:
    # What S3 answers when Block Public Access refuses a public ACL or policy.
    return ServiceError("AccessDenied", "Access Denied", 403)


def ownership(bucket: BucketRecord) -> str | None:
    return bucket.config.get("Ownership")


def public_access_block(bucket: BucketRecord) -> dict[str, bool]:
    return {flag: bool(bucket.config.get("PublicAccessBlock", {}).get(flag)) for flag in _PAB_FLAGS}


def bucket_acl(bucket: BucketRecord) -> Acl:
    if ownership(bucket) == ENFORCED:  # ACLs disabled: reads show the owner's full control
        return acl.private(bucket.account)
    return bucket.config.get("Acl") or acl.private(bucket.account)


def object_acl(bucket: BucketRecord, headers: Mapping[str, Any]) -> Acl:
    if ownership(bucket) == ENFORCED:
        return acl.private(bucket.account)
    return headers.get(OBJECT_ACL) or acl.private(bucket.account)


def with_acl(headers: dict[str, Any], object_acl_: Acl | None) -> dict[str, Any]:
    """An object's stored headers carrying `object_acl_` (None: the default, none stored)."""
    headers.pop(OBJECT_ACL, None)
    if object_acl_ is not None:
        headers[OBJECT_ACL] = object_acl_
    return headers


class Access:
    def __init__(self, state: S3State, emails: Mapping[str, str], legacy_defaults: bool = False) -> None:
        """`emails`: e-mail address -> account, for grants by e-mail (`--credentials` entries'
        "email"); `legacy_defaults`: new buckets as before 2023 (ACLs on, no public access block, no default
        encryption)."""
        self.s = state
        self.emails = {k.lower(): v for k, v in emails.items()}
        self.legacy_defaults = legacy_defaults

    def _email(self, address: str) -> str | None:
        return self.emails.get(address.lower())

    def _known_accounts(self) -> dict[str, str]:
        """canonical id -> account for the accounts Sluice knows (for grantees' display names)."""
        accounts = set(self.emails.values()) | set(records.bucket_owners(self.s.db.reader))
        return {acl.canonical_id(a): a for a in accounts}

    # -- a new bucket ---------------------------------------------------------------------------

    def new_bucket_config(self, ctx: RequestContext, params: Mapping[str, Any]) -> dict[str, Any]:
        """The configuration a CreateBucket request gives its bucket (ownership, public access
        block, ACL), with S3's errors for an ACL the ownership setting does not allow."""
        chosen = params.get("ObjectOwnership")
        if chosen is not None and chosen not in _OWNERSHIPS:
            raise errors.invalid_argument("Invalid x-amz-object-ownership header", "x-amz-object-ownership",
                                          str(chosen))
        config: dict[str, Any] = {}
        if chosen is None and not self.legacy_defaults:
            chosen = ENFORCED
        if chosen is not None:
            config["Ownership"] = chosen
        if not self.legacy_defaults:
            config["PublicAccessBlock"] = {flag: True for flag in _PAB_FLAGS}
        else:
            config[ENCRYPTION] = NO_ENCRYPTION  # and, as before January 2023, no default encryption
        name, headers = acl.requested(params)
        if name is None and not headers:
            return config
        owner = ctx.account_id
        wanted = acl.canned(name, owner, owner) if name else acl.from_headers(headers, owner, self._email)
        if chosen == ENFORCED and not acl.only_owner(wanted):
            raise ServiceError("InvalidBucketAclWithObjectOwnership",
                               "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)
        if config.get("PublicAccessBlock", {}).get("BlockPublicAcls") and acl.is_public(wanted):
            raise ServiceError("InvalidBucketAclWithBlockPublicAccessError",
                               "Bucket cannot have public ACLs set with BlockPublicAccess enabled", 400)
        config["Acl"] = wanted
        return config

    # -- the ACL of a new object ------------------------------------------------------------------

    def for_new_object(self, ctx: RequestContext, bucket_name: str, params: Mapping[str, Any]) -> Acl | None:
        """The ACL a write (PutObject, CopyObject, CreateMultipartUpload, a POST form) gives its
        object; None: the bucket owner's private ACL. Raises S3's errors for ACLs not allowed."""
        name, headers = acl.requested(params)
        if name is None and not headers:
            bucket = core.bucket(self.s, bucket_name)
            if ownership(bucket) == ENFORCED or ctx.account_id == bucket.account:
                return None
            return acl.private(ctx.account_id)  # ObjectWriter / Preferred: the writer owns it
        bucket = core.bucket(self.s, bucket_name)
        setting = ownership(bucket)
        writer = ctx.account_id
        if setting == ENFORCED:
            # Only "bucket owner full control" (or no ACL) is accepted, and changes nothing.
            asked = acl.canned(name, writer, bucket.account) if name else acl.from_headers(headers, writer, self._email)
            full = acl.user(bucket.account, acl.FULL_CONTROL)
            if name == "bucket-owner-full-control" or (not name and full in asked["Grants"]):
                return None
            raise acls_not_supported()
        owner = bucket.account if setting == PREFERRED and name == "bucket-owner-full-control" else writer
        wanted = acl.canned(name, owner, bucket.account) if name else acl.from_headers(headers, owner, self._email)
        if public_access_block(bucket)["BlockPublicAcls"] and acl.is_public(wanted):
            raise public_blocked()
        return wanted

    # -- operations -----------------------------------------------------------------------------

    def get_bucket_acl(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        return acl.members(bucket_acl(core.bucket(self.s, Bucket)), self._known_accounts())

    def put_bucket_acl(self, ctx: RequestContext, Bucket: str, **params: Any) -> dict[str, Any]:
        bucket = core.bucket(self.s, Bucket)
        if ownership(bucket) == ENFORCED:
            raise acls_not_supported()
        wanted = self._acl_of_request(bucket.account, bucket.account, params)
        if public_access_block(bucket)["BlockPublicAcls"] and acl.is_public(wanted):
            raise public_blocked()

        def txn(conn: sqlite3.Connection) -> None:
            document = buckets.config(conn, Bucket)
            if document is None:
                raise errors.no_such_bucket(Bucket)
            buckets.set_config(conn, Bucket, {**document, "Acl": wanted})

        self.s.db.write(txn)
        return {}

    def get_object_acl(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        record = core.object_version(self.s, Bucket, Key, params.get("VersionId"))
        bucket = core.bucket(self.s, Bucket)
        result = acl.members(object_acl(bucket, record.headers), self._known_accounts())
        return result

    def put_object_acl(self, ctx: RequestContext, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        version = params.get("VersionId")
        record = core.object_version(self.s, Bucket, Key, version, method="PUT")
        bucket = core.bucket(self.s, Bucket)
        if ownership(bucket) == ENFORCED:
            raise acls_not_supported()
        owner = object_acl(bucket, record.headers)["Owner"]
        wanted = self._acl_of_request(owner, bucket.account, params)
        if public_access_block(bucket)["BlockPublicAcls"] and acl.is_public(wanted):
            raise public_blocked()

        def txn(conn: sqlite3.Connection) -> None:
            if not records.set_object_acl(conn, Bucket, Key, record.version_id, wanted):
                raise errors.no_such_key(Key)

        self.s.db.write(txn)
        return {}

    def _acl_of_request(self, owner: str, bucket_owner: str, params: Mapping[str, Any]) -> Acl:
        """The ACL a Put*Acl request sets: a canned ACL, grant headers, or an AccessControlPolicy body."""
        name, headers = acl.requested(params)
        body = params.get("AccessControlPolicy")
        if body is not None and (name is not None or headers):
            raise ServiceError("UnexpectedContent", "This request does not support content", 400)
        if body is not None:
            return acl.from_body(body, owner, self._email)
        if headers:
            return acl.from_headers(headers, owner, self._email)
        if name is None:
            raise ServiceError("MissingSecurityHeader", "Your request was missing a required header", 400,
                               MissingHeaderName="x-amz-acl")
        return acl.canned(name, owner, bucket_owner)

    # -- Object Ownership ---------------------------------------------------------------------------

    def put_bucket_ownership_controls(self, ctx: RequestContext, Bucket: str,
                                      OwnershipControls: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        rules = (OwnershipControls or {}).get("Rules") or []
        if len(rules) != 1 or rules[0].get("ObjectOwnership") not in _OWNERSHIPS:
            raise ServiceError("MalformedXML", _MALFORMED)
        setting = rules[0]["ObjectOwnership"]

        def txn(conn: sqlite3.Connection) -> None:
            document = buckets.config(conn, Bucket)
            if document is None:
                raise errors.no_such_bucket(Bucket)
            found = buckets.find(conn, Bucket)
            assert found is not None
            if setting == ENFORCED and not acl.only_owner(document.get("Acl") or acl.private(found.account)):
                raise ServiceError(
                    "InvalidBucketAclWithObjectOwnership",
                    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)
            buckets.set_config(conn, Bucket, {**document, "Ownership": setting})

        self.s.db.write(txn)
        return {}

    def get_bucket_ownership_controls(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        setting = ownership(core.bucket(self.s, Bucket))
        if setting is None:
            raise ServiceError("OwnershipControlsNotFoundError", "The bucket ownership controls were not found",
                               404, BucketName=Bucket)
        return {"OwnershipControls": {"Rules": [{"ObjectOwnership": setting}]}}

    def delete_bucket_ownership_controls(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        self._drop(Bucket, "Ownership")
        return {}

    # -- Block Public Access ------------------------------------------------------------------------

    def put_public_access_block(self, ctx: RequestContext, Bucket: str,
                                PublicAccessBlockConfiguration: dict[str, Any] | None = None,
                                **_: Any) -> dict[str, Any]:
        given = PublicAccessBlockConfiguration or {}
        flags = {flag: bool(given.get(flag)) for flag in _PAB_FLAGS}

        def txn(conn: sqlite3.Connection) -> None:
            document = buckets.config(conn, Bucket)
            if document is None:
                raise errors.no_such_bucket(Bucket)
            buckets.set_config(conn, Bucket, {**document, "PublicAccessBlock": flags})

        self.s.db.write(txn)
        return {}

    def get_public_access_block(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        bucket = core.bucket(self.s, Bucket)
        if "PublicAccessBlock" not in bucket.config:
            raise ServiceError("NoSuchPublicAccessBlockConfiguration",
                               "The public access block configuration was not found", 404, BucketName=Bucket)
        return {"PublicAccessBlockConfiguration": public_access_block(bucket)}

    def delete_public_access_block(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        self._drop(Bucket, "PublicAccessBlock")
        return {}

    def _drop(self, bucket: str, setting: str) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            document = buckets.config(conn, bucket)
            if document is None:
                raise errors.no_such_bucket(bucket)
            document.pop(setting, None)
            buckets.set_config(conn, bucket, document)

        self.s.db.write(txn)

    # -- for IAM enforcement ------------------------------------------------------------------------

    def grants(self, arn: str, action: str, account: str | None) -> str | None:
        """Which ACL grant (acl.GROUP or acl.ACCOUNT; None: none) lets a caller of `account`
        (None: anonymous) perform `action` on
        arn:aws:s3:::bucket[/key]: the object's ACL for reads of an object and its ACL, the
        bucket's for the rest (writing and deleting objects is the bucket's WRITE). No ACL grants
        anything in a BucketOwnerEnforced bucket; IgnorePublicAcls ignores public grants."""
        name, _, key = arn.split(":::", 1)[-1].partition("/")
        view = self.s.views.get(name)
        bucket = view.record if view is not None else None
        if bucket is None or ownership(bucket) == ENFORCED:
            return None
        ignore = public_access_block(bucket)["IgnorePublicAcls"]
        if not key or action in acl.OBJECT_WRITES:
            return acl.permits(bucket_acl(bucket), action, False, account, ignore)
        headers = records.object_headers(self.s.db.reader, name, key)
        if headers is None:
            return None
        return acl.permits(object_acl(bucket, headers), action, True, account, ignore)

    def object_owner(self, arn: str, action: str) -> str | None:
        """The account owning the object arn:aws:s3:::bucket/key names when that is not the
        bucket's owner and `action` is one the object's ACL governs (reading it or its ACL):
        then only its ACL can let others in, the bucket owner included. None otherwise."""
        if not acl.governs_object(action):  # (writes never are: the ARN is not even split)
            return None
        name, _, key = arn.split(":::", 1)[-1].partition("/")
        if not key:
            return None
        view = self.s.views.get(name)
        if view is None or ownership(view.record) == ENFORCED:
            return None  # ACLs disabled: every object is the bucket owner's (no read of the object)
        return records.foreign_owner(self.s.db.reader, name, key)

    def restricts_public_policy(self, bucket_name: str) -> bool:
        """The bucket's policy is public and RestrictPublicBuckets is on: the policy grants only
        AWS service principals and callers of the bucket owner's account."""
        view = self.s.views.get(bucket_name)
        if view is None or not public_access_block(view.record)["RestrictPublicBuckets"]:
            return False
        return view.policy is not None and policy_is_public(view.policy)

