"""S3's errors, with AWS's codes, statuses and messages."""

from __future__ import annotations

from ...protocol.errors import ServiceError


def no_such_bucket(bucket: str) -> ServiceError:
    return ServiceError("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket)


def no_such_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def no_such_version(key: str, version_id: str) -> ServiceError:
    return ServiceError("NoSuchVersion", "The specified version does not exist.", 404, Key=key, VersionId=version_id)


def method_not_allowed(method: str, resource_type: str, headers: dict[str, str] | None = None) -> ServiceError:
    return ServiceError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405,
                        headers=headers, Method=method, ResourceType=resource_type)


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have "
        "been aborted or completed.",
        404,
        UploadId=upload_id,
    )


def invalid_bucket_name(bucket: str) -> ServiceError:
    return ServiceError("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=bucket)


def invalid_argument(message: str, name: str | None = None, value: str | None = None) -> ServiceError:
    return ServiceError("InvalidArgument", message, 400, ArgumentName=name, ArgumentValue=value)


def invalid_request(message: str) -> ServiceError:
    return ServiceError("InvalidRequest", message, 400)


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError(
        "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
        Condition=condition,
    )


def bad_digest(message: str = "The Content-MD5 you specified did not match what we received.") -> ServiceError:
    return ServiceError("BadDigest", message, 400)


def checksum_mismatch(algorithm: str) -> ServiceError:
    return ServiceError(
        "BadDigest", f"The {algorithm} you specified did not match the calculated checksum.", 400
    )


def invalid_digest() -> ServiceError:
    return ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)


def invalid_range(requested: str, size: int) -> ServiceError:
    return ServiceError(
        "InvalidRange", "The requested range is not satisfiable", 416,
        RangeRequested=requested, ActualObjectSize=size,
    )


def invalid_part() -> ServiceError:
    return ServiceError(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, "
        "or the specified entity tag may not match the part's entity tag.",
        400,
    )


def invalid_part_order() -> ServiceError:
    return ServiceError(
        "InvalidPartOrder",
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
        400,
    )


def entity_too_small(size: int) -> ServiceError:
    return ServiceError(
        "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", 400,
        ProposedSize=size, MinSizeAllowed=5 * 1024 * 1024,
    )


def entity_too_large(size: int, limit: int) -> ServiceError:
    return ServiceError(
        "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400,
        ProposedSize=size, MaxSizeAllowed=limit,
    )


def missing_content_length() -> ServiceError:
    return ServiceError("MissingContentLength", "You must provide the Content-Length HTTP header.", 411)


def incomplete_body() -> ServiceError:
    return ServiceError(
        "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header",
        400,
    )


def invalid_tag(message: str) -> ServiceError:
    return ServiceError("InvalidTag", message, 400)
