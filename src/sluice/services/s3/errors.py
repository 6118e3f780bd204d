"""S3's errors, with AWS's codes, statuses and messages."""

from __future__ import annotations

from typing import Any

from ...protocol.errors import ServiceError


def no_such_bucket(bucket: str) -> ServiceError:
    return ServiceError("NoSuchBucket", "The specified bucket does not exist", BucketName=bucket)


def no_such_key(key: str, delete_marker: str | None = None) -> ServiceError:
    """`delete_marker`: the version id of the delete marker that is the key's current version."""
    members = {"DeleteMarker": True, "VersionId": delete_marker} if delete_marker else None
    return ServiceError("NoSuchKey", "The specified key does not exist.", members=members, Key=key)


def no_such_version(key: str, version_id: str) -> ServiceError:
    return ServiceError("NoSuchVersion", "The specified version does not exist.", Key=key, VersionId=version_id)


def method_not_allowed(method: str, resource_type: str, members: dict[str, Any] | None = None) -> ServiceError:
    """`members`: what the response says of the resource (a delete marker's DeleteMarker, VersionId...)."""
    return ServiceError("MethodNotAllowed", "The specified method is not allowed against this resource.",
                        members=members, Method=method, ResourceType=resource_type)


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have "
        "been aborted or completed.",
        UploadId=upload_id,
    )


def invalid_bucket_name(bucket: str) -> ServiceError:
    return ServiceError("InvalidBucketName", "The specified bucket is not valid.", BucketName=bucket)


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> ServiceError:
    return ServiceError("InvalidArgument", message, ArgumentName=name, ArgumentValue=value)


def invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequest", message)


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError(
        "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
        Condition=condition,
    )


def bad_digest(message: str = "The Content-MD5 you specified did not match what we received.") -> ServiceError:
    return ServiceError("BadDigest", message)


def checksum_mismatch(algorithm: str) -> ServiceError:
    return ServiceError(
        "BadDigest", f"The {algorithm} you specified did not match the calculated checksum."
    )


def invalid_digest() -> ServiceError:
    return ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.")


def invalid_range(requested: str, size: int) -> ServiceError:
    return ServiceError(
        "InvalidRange", "The requested range is not satisfiable",
        RangeRequested=requested, ActualObjectSize=size,
    )


def invalid_part() -> ServiceError:
    return ServiceError(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, "
        "or the specified entity tag may not match the part's entity tag.",
    )


def invalid_part_order() -> ServiceError:
    return ServiceError(
        "InvalidPartOrder",
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
    )


def entity_too_small(size: int) -> ServiceError:
    return ServiceError(
        "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
        ProposedSize=size, MinSizeAllowed=5 * 1024 * 1024,
    )


def entity_too_large(size: int, limit: int) -> ServiceError:
    return ServiceError(
        "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
        ProposedSize=size, MaxSizeAllowed=limit,
    )


def missing_content_length() -> ServiceError:
    return ServiceError("MissingContentLength", "You must provide the Content-Length HTTP header.")


def incomplete_body() -> ServiceError:
    return ServiceError(
        "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header",
    )


def invalid_tag(message: str) -> ServiceError:
    return ServiceError("InvalidTag", message)
