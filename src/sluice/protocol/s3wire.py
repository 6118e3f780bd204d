"""S3's request-wide wire rules, checked before any operation runs, signed or not.

Keys, prefixes, markers and copy sources are UTF-8 once percent-decoded: a byte sequence that
is not UTF-8 is refused, never replaced (two different keys would both become U+FFFD and the
second upload would silently overwrite the first). `x-amz-content-sha256` must be one of the
values S3 knows. And what S3 answers beyond its model: success statuses (`s3_status`), and the
headers of errors about an object version (`error_headers`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from .errors import ServiceError
from .http import HttpRequest
from .rest import response_headers

if TYPE_CHECKING:  # botocore is imported when a protocol is first built, not at start-up
    from botocore.model import ServiceModel

UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
# SigV4a's streaming forms: valid header values, though Sluice verifies no SigV4a signature.
STREAMING_ECDSA = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
STREAMING_ECDSA_TRAILER = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
PAYLOAD_VALUES = frozenset({UNSIGNED, STREAMING, STREAMING_TRAILER, STREAMING_UNSIGNED_TRAILER, STREAMING_ECDSA,
                            STREAMING_ECDSA_TRAILER})
HEX64 = re.compile(r"^[0-9a-f]{64}$")

# Operations whose success status the model leaves out (200), as S3 answers them.
_STATUSES = {"PutBucketPolicy": 204}
# Reads that answer 206 Partial Content when they return a part of the object (a Range, a PartNumber).
_PARTIAL = frozenset({"GetObject", "HeadObject"})


class NotUtf8(ValueError):
    pass


def decode_component(text: str) -> str:
    """Percent-decode `text` as UTF-8; NotUtf8 when the bytes are not UTF-8.

    The gateway hands over the URI and headers as latin-1 text, so each character is one byte
    as sent; text with wider characters (built in Python, not read off the wire) is taken as
    UTF-8."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise NotUtf8(text) from None


def invalid_uri(path: str) -> ServiceError:
    # The URI member is what S3 Control sends with this error; S3's own is assumed the same.
    return ServiceError("InvalidURI", "Couldn't parse the specified URI.", 400, URI=path)


def check_uri(req: HttpRequest) -> None:
    """InvalidURI unless the path and every query parameter decode to UTF-8 (as AWS answers
    `GET /bucket/%83`)."""
    path, query = req.path, req.query_string
    if "%" not in path and "%" not in query and path.isascii() and query.isascii():
        return  # ASCII throughout (most requests): UTF-8 as it is
    try:
        decode_component(path)
        # Separators are ASCII, so checking the whole query string checks each name and value.
        decode_component(query)
    except NotUtf8:
        raise invalid_uri(req.path) from None


def valid_payload_hash(value: str) -> bool:
    return value in PAYLOAD_VALUES or HEX64.match(value) is not None


def invalid_payload_hash(value: str) -> ServiceError:
    return ServiceError(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid "
        "sha256 value.",
        400, ArgumentName="x-amz-content-sha256", ArgumentValue=value)


def check_payload_hash(req: HttpRequest) -> None:
    """A request may leave x-amz-content-sha256 out (unsigned, or verification off), but a value
    it sends must be one S3 knows, signed or not."""
    value = req.headers.get("x-amz-content-sha256")
    if value is not None and not valid_payload_hash(value):
        raise invalid_payload_hash(value)


def check_request(req: HttpRequest) -> None:
    """Every S3 request's wire rules, before its operation is even known."""
    check_uri(req)
    check_payload_hash(req)


def s3_status(operation: str, result: dict[str, Any]) -> int | None:
    """The success status S3 answers that its model does not give (None: the model's)."""
    if operation in _PARTIAL and result.get("ContentRange"):
        return 206
    return _STATUSES.get(operation)


def error_headers(err: ServiceError, model: ServiceModel) -> list[tuple[str, str]]:
    """An error about an object version states its facts in the headers HeadObject names them by
    (x-amz-delete-marker, x-amz-version-id, Last-Modified); a delete marker's MethodNotAllowed
    says what the marker allows."""
    headers = response_headers(model.operation_model("HeadObject"), err.members)[1] if err.members else []
    if err.code == "MethodNotAllowed" and err.fields.get("ResourceType") == "DeleteMarker":
        headers.append(("Allow", "DELETE"))
    return headers
