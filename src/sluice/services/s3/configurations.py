"""The rest of a bucket's configuration that tools read on every plan (Terraform's provider reads
each one): default encryption, website, logging, transfer acceleration, request payment,
replication and object lock. Each is one member of the bucket's configuration document; reads of
what was never set answer what AWS answers for a new bucket (a default, or its "not configured"
error), never NotImplemented.

Which of these take effect here: default encryption does (objects are written and described with
its algorithm, `encryption.py`); the others are stored and returned only (README: "Bucket
configuration").
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import bucket_config, core, errors, versions
from .records import buckets
from .state import S3State

ENCRYPTION = "Encryption"
WEBSITE = "Website"
LOGGING = "Logging"
ACCELERATE = "Accelerate"
REQUEST_PAYMENT = "RequestPayment"
REPLICATION = "Replication"
OBJECT_LOCK = "ObjectLock"

SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
# Since January 2023 every bucket encrypts new objects with SSE-S3 unless told otherwise.
DEFAULT_ENCRYPTION: dict[str, Any] = {
    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]}
# A bucket made as before 2023 (`--s3-legacy-bucket-defaults`) has no default encryption: it keeps this
# marker, which GetBucketEncryption answers as ServerSideEncryptionConfigurationNotFoundError.
NO_ENCRYPTION: dict[str, Any] = {"Rules": []}
_MALFORMED = "The XML you provided was not well-formed or did not validate against our published schema"


def _malformed() -> ServiceError:
    return ServiceError("MalformedXML", _MALFORMED)


def default_encryption(state: S3State, bucket: str) -> dict[str, Any] | None:
    """The bucket's ApplyServerSideEncryptionByDefault and BucketKeyEnabled (NoSuchBucket if no
    bucket); None for a bucket without default encryption (made as before 2023)."""
    # Read in place, not copied (bucket_config.read): on every object write's path, and only read.
    config = core.bucket(state, bucket).config.get(ENCRYPTION) or DEFAULT_ENCRYPTION
    if not config["Rules"]:
        return None
    rule = config["Rules"][0]
    return {**rule.get("ApplyServerSideEncryptionByDefault", {}), "BucketKeyEnabled": rule.get("BucketKeyEnabled")}


def enable_object_lock(state: S3State, bucket: str) -> None:
    """CreateBucket with `x-amz-bucket-object-lock-enabled: true`: AWS turns versioning on with it."""

    def txn(conn: sqlite3.Connection) -> None:
        document = buckets.config(conn, bucket)
        if document is None:
            raise errors.no_such_bucket(bucket)
        document["Versioning"] = {**document.get("Versioning", {}), "Status": versions.ENABLED}
        document.setdefault(OBJECT_LOCK, {"ObjectLockEnabled": "Enabled"})
        buckets.set_config(conn, bucket, document)

    state.db.write(txn)


class BucketSettings:
    def __init__(self, state: S3State, legacy_defaults: bool = False) -> None:
        """`legacy_defaults`: buckets as before 2023, without default encryption."""
        self.s = state
        self.legacy_defaults = legacy_defaults

    # -- default encryption --------------------------------------------------------------

    def put_bucket_encryption(self, ctx: RequestContext, Bucket: str,
                              ServerSideEncryptionConfiguration: dict[str, Any] | None = None,
                              **_: Any) -> dict[str, Any]:
        rules = list((ServerSideEncryptionConfiguration or {}).get("Rules") or [])
        if len(rules) != 1:
            raise _malformed()
        default = rules[0].get("ApplyServerSideEncryptionByDefault")
        if default is None or default.get("SSEAlgorithm") not in SSE_ALGORITHMS:
            raise _malformed()
        if default.get("KMSMasterKeyID") and default["SSEAlgorithm"] == "AES256":
            raise ServiceError("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm "
                               "is not aws:kms or aws:kms:dsse")
        rule = {"ApplyServerSideEncryptionByDefault": default,
                "BucketKeyEnabled": bool(rules[0].get("BucketKeyEnabled", False))}
        bucket_config.write(self.s, Bucket, ENCRYPTION, {"Rules": [rule]})
        return {}

    def get_bucket_encryption(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        config = bucket_config.read(self.s, Bucket, ENCRYPTION) or DEFAULT_ENCRYPTION
        if not config["Rules"]:
            raise ServiceError("ServerSideEncryptionConfigurationNotFoundError",
                               "The server side encryption configuration was not found", BucketName=Bucket)
        return {"ServerSideEncryptionConfiguration": config}

    def delete_bucket_encryption(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        # AWS: deleting it puts the bucket back on SSE-S3, the default every bucket has since 2023
        # (before, on none).
        bucket_config.write(self.s, Bucket, ENCRYPTION, NO_ENCRYPTION if self.legacy_defaults else None)
        return {}

    # -- website (stored only: Sluice serves no website endpoint) --------------------------

    def put_bucket_website(self, ctx: RequestContext, Bucket: str,
                           WebsiteConfiguration: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        config = dict(WebsiteConfiguration or {})
        if not config.get("RedirectAllRequestsTo"):
            suffix = (config.get("IndexDocument") or {}).get("Suffix")
            if not suffix:
                raise ServiceError("InvalidArgument",
                                   "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty")
            if "/" in suffix:
                raise ServiceError("InvalidArgument", "The IndexDocument Suffix is not well formed",
                                   ArgumentName="IndexDocument", ArgumentValue=suffix)
        elif any(config.get(k) for k in ("IndexDocument", "ErrorDocument", "RoutingRules")):
            raise ServiceError("InvalidArgument", "RedirectAllRequestsTo cannot be provided in conjunction with "
                               "other Routing Rules.", ArgumentName="RedirectAllRequestsTo")
        bucket_config.write(self.s, Bucket, WEBSITE, config)
        return {}

    def get_bucket_website(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        config = bucket_config.read(self.s, Bucket, WEBSITE)
        if config is None:
            raise ServiceError("NoSuchWebsiteConfiguration",
                               "The specified bucket does not have a website configuration", BucketName=Bucket)
        return dict(config)

    def delete_bucket_website(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        bucket_config.write(self.s, Bucket, WEBSITE, None)
        return {}

    # -- server access logging (stored only: no log objects are written) -------------------

    def put_bucket_logging(self, ctx: RequestContext, Bucket: str,
                           BucketLoggingStatus: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        enabled = (BucketLoggingStatus or {}).get("LoggingEnabled")
        if enabled:
            target = enabled.get("TargetBucket") or ""
            try:
                bucket_config.read(self.s, target, LOGGING)
            except ServiceError:
                raise ServiceError("InvalidTargetBucketForLogging", "The target bucket for logging does not exist",
                                   TargetBucket=target) from None
        bucket_config.write(self.s, Bucket, LOGGING, enabled or None)
        return {}

    def get_bucket_logging(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        enabled = bucket_config.read(self.s, Bucket, LOGGING)
        return {"LoggingEnabled": enabled} if enabled else {}

    # -- transfer acceleration (stored only) -----------------------------------------------

    def put_bucket_accelerate_configuration(self, ctx: RequestContext, Bucket: str,
                                            AccelerateConfiguration: dict[str, Any] | None = None,
                                            **_: Any) -> dict[str, Any]:
        status = (AccelerateConfiguration or {}).get("Status")
        if status not in ("Enabled", "Suspended"):
            raise _malformed()
        if "." in Bucket:
            raise ServiceError("InvalidRequest",
                               "S3 Transfer Acceleration is not supported for buckets with periods (.) in their names")
        bucket_config.write(self.s, Bucket, ACCELERATE, status)
        return {}

    def get_bucket_accelerate_configuration(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        status = bucket_config.read(self.s, Bucket, ACCELERATE)
        return {"Status": status} if status else {}

    # -- request payment (stored only: there is no bill) -----------------------------------

    def put_bucket_request_payment(self, ctx: RequestContext, Bucket: str,
                                   RequestPaymentConfiguration: dict[str, Any] | None = None,
                                   **_: Any) -> dict[str, Any]:
        payer = (RequestPaymentConfiguration or {}).get("Payer")
        if payer not in ("BucketOwner", "Requester"):
            raise _malformed()
        bucket_config.write(self.s, Bucket, REQUEST_PAYMENT, None if payer == "BucketOwner" else payer)
        return {}

    def get_bucket_request_payment(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        return {"Payer": bucket_config.read(self.s, Bucket, REQUEST_PAYMENT) or "BucketOwner"}

    # -- replication (stored only: there is one region here) --------------------------------

    def put_bucket_replication(self, ctx: RequestContext, Bucket: str,
                               ReplicationConfiguration: dict[str, Any] | None = None,
                               **_: Any) -> dict[str, Any]:
        if versions.status(self.s.db.reader, Bucket) != versions.ENABLED:  # NoSuchBucket first
            raise ServiceError("InvalidRequest",
                               "Versioning must be 'Enabled' on the bucket to apply a replication configuration")
        bucket_config.write(self.s, Bucket, REPLICATION, dict(ReplicationConfiguration or {}))
        return {}

    def get_bucket_replication(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        config = bucket_config.read(self.s, Bucket, REPLICATION)
        if config is None:
            raise ServiceError("ReplicationConfigurationNotFoundError",
                               "The replication configuration was not found", 404, BucketName=Bucket)
        return {"ReplicationConfiguration": config}

    def delete_bucket_replication(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        bucket_config.write(self.s, Bucket, REPLICATION, None)
        return {}

    # -- object lock (stored only: retention and legal holds are not enforced) ---------------

    def put_object_lock_configuration(self, ctx: RequestContext, Bucket: str,
                                      ObjectLockConfiguration: dict[str, Any] | None = None,
                                      **_: Any) -> dict[str, Any]:
        config = dict(ObjectLockConfiguration or {})
        if config.get("ObjectLockEnabled") != "Enabled":
            raise _malformed()
        if versions.status(self.s.db.reader, Bucket) != versions.ENABLED:  # NoSuchBucket first
            raise ServiceError("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a "
                               "Object Lock configuration", 409)
        bucket_config.write(self.s, Bucket, OBJECT_LOCK, config)
        return {}

    def get_object_lock_configuration(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        config = bucket_config.read(self.s, Bucket, OBJECT_LOCK)
        if config is None:
            raise ServiceError("ObjectLockConfigurationNotFoundError",
                               "Object Lock configuration does not exist for this bucket", 404, BucketName=Bucket)
        return {"ObjectLockConfiguration": config}
