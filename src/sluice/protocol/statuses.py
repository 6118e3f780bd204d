"""The HTTP status of an error: the wire's business, not the service's.

A service raises `ServiceError(code, message)`; the protocol layer answers with the status the
botocore model gives the error shape (`error.httpStatusCode`), else the one AWS sends for that
code as listed below (S3's and SQS's models leave most statuses out), else 400 for a client's
fault and 500 for ours. A `ServiceError` may still carry an explicit status where one code is
answered with several (the gateway's signature errors).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from .errors import ServiceError

if TYPE_CHECKING:  # botocore is imported when a protocol is first built, not at start-up
    from botocore.model import ServiceModel

# Codes whose status the botocore model does not say, per service, as AWS answers them.
_UNMODELLED: dict[str, dict[str, int]] = {
    "s3": {
        "BucketNotEmpty": 409,
        "InvalidRange": 416,
        "MethodNotAllowed": 405,
        "MissingContentLength": 411,
        "NoSuchBucketPolicy": 404,
        "NoSuchVersion": 404,
        "NoSuchTagSet": 404,
        "NoSuchCORSConfiguration": 404,
        "NoSuchLifecycleConfiguration": 404,
        "NoSuchWebsiteConfiguration": 404,
        "ServerSideEncryptionConfigurationNotFoundError": 404,
        "OwnershipControlsNotFoundError": 404,
        "NoSuchPublicAccessBlockConfiguration": 404,
        "PreconditionFailed": 412,
        "SignatureDoesNotMatch": 403,
        "InvalidAccessKeyId": 403,
        "RequestTimeTooSkewed": 403,
        "SlowDown": 503,
        "ServiceUnavailable": 503,
    },
    "sqs": {
        "PurgeQueueInProgress": 403,
        "ResourceNotFoundException": 404,
    },
    "lambda": {"RequestEntityTooLargeException": 413},  # the model names it RequestTooLarge
    "iam": {"AccessDenied": 403},
    "sts": {"AccessDenied": 403, "InvalidClientTokenId": 403},
}

# Codes every service answers the same way.
_EVERYWHERE = {"NotImplemented": 501, "InternalError": 500, "RequestEntityTooLarge": 413}


@cache
def _modelled(model: ServiceModel) -> dict[str, int]:
    statuses: dict[str, int] = {}
    for shape in model.error_shapes:
        meta = shape.metadata.get("error") or {}
        status = meta.get("httpStatusCode")
        if status:
            statuses[shape.name] = status
            if meta.get("code"):
                statuses[meta["code"]] = status
    return statuses


def http_status(err: ServiceError, model: ServiceModel | None) -> int:
    """The HTTP status AWS answers `err` with in `model`'s service."""
    if err.status is not None:
        return err.status
    if model is not None:
        status = _modelled(model).get(err.code) or _UNMODELLED.get(model.service_name, {}).get(err.code)
        if status:
            return status
    return _EVERYWHERE.get(err.code) or (400 if err.sender_fault else 500)
