"""S3 upload bodies on the wire: aws-chunked framing, its trailer, and which header carries what.

A PutObject or UploadPart body may come aws-chunked (`Content-Encoding: aws-chunked`, or an
`x-amz-content-sha256` of `STREAMING-...`): the data in chunks, and possibly a checksum trailing
after the last one (announced by `x-amz-trailer`). The service gets a plain Readable of the
object's bytes, its members as the client meant them (ContentLength: the decoded length, from
`x-amz-decoded-content-length`; ContentEncoding without `aws-chunked`), and a `Payload`: what the
wire says of the body that only reading the body can confirm.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from .chunked import AwsChunkedReader, ChunkedEncodingError
from .errors import ServiceError
from .http import HttpRequest
from .rest import bindings
from .s3wire import HEX64

if TYPE_CHECKING:  # botocore is imported when a protocol is first built, not at start-up
    from botocore.model import OperationModel, Shape

AWS_CHUNKED = "aws-chunked"


class Payload:
    """What the client said of an upload's body beyond its bytes."""

    def __init__(self, content_sha256: str | None = None, trailer: str | None = None,
                 reader: AwsChunkedReader | None = None, trailer_headers: dict[str, str] | None = None) -> None:
        self.content_sha256 = content_sha256  # the body's SHA-256 (hex) as the client signed it
        self.trailer = trailer  # the member whose value follows the body (e.g. "ChecksumCRC32")
        self._reader = reader
        self._headers = trailer_headers or {}  # member -> trailer header name

    def trailing(self, member: str) -> str | None:
        """A member sent after the body (an aws-chunked trailer): known once the body is read."""
        if self._reader is None:
            return None
        return self._reader.trailers.get(self._headers.get(member, ""))


class _Decoded:
    """An aws-chunked body as the object's bytes; bad framing is S3's IncompleteBody."""

    def __init__(self, reader: AwsChunkedReader) -> None:
        self._reader = reader

    def read(self, n: int = -1, /) -> bytes:
        try:
            return self._reader.read(n)
        except ChunkedEncodingError as exc:
            raise ServiceError("IncompleteBody",
                               f"The request body is not valid aws-chunked encoding: {exc}") from None


def decode_upload(op: OperationModel, req: HttpRequest, params: dict[str, object], member: str) -> None:
    """Put the upload's body in `params[member]`, as its bytes, and, when the wire says more of it
    than its bytes, its `Payload` in `params["payload"]` (not a model member: the service's view
    of the body's wire facts)."""
    headers = req.headers
    decoded_length = headers.get("x-amz-decoded-content-length")
    sha = headers.get("x-amz-content-sha256", "")
    # `Content-Encoding: aws-chunked` alone, with neither a STREAMING- payload hash nor a decoded
    # length, frames nothing: S3 stores such a body as sent (s3-tests'
    # test_object_content_encoding_aws_chunked, which AWS passes).
    chunked = sha.startswith("STREAMING-") or (
        decoded_length is not None and AWS_CHUNKED in headers.get("content-encoding", ""))
    # An aws-chunked body must say how long it is once decoded; S3 answers a missing or
    # non-numeric length (e.g. -1) as it answers a missing Content-Length.
    if (chunked or decoded_length is not None) and not _is_number(decoded_length):
        raise ServiceError("MissingContentLength", "You must provide the Content-Length HTTP header.")
    announced = headers.get("x-amz-trailer", "").strip().lower()
    trailer = None
    if announced:
        trailer = _checksum_members(op.input_shape)[0].get(announced)
        if trailer is None:
            raise ServiceError("InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
    reader = AwsChunkedReader(req.body) if chunked else None
    if reader is not None:
        params[member] = _Decoded(reader)
        params["ContentLength"] = int(decoded_length or 0)
    signed = sha if len(sha) == 64 and HEX64.match(sha) else None
    if reader is not None or trailer is not None or signed is not None:
        params["payload"] = Payload(signed, trailer, reader, _checksum_members(op.input_shape)[1])


def strip_aws_chunked(params: dict[str, object]) -> None:
    """ContentEncoding as the object's own: `aws-chunked` is the request's framing, not the object's."""
    value = params.get("ContentEncoding")
    if not isinstance(value, str):
        return
    parts = [p.strip() for p in value.split(",") if p.strip()]
    kept = [p for p in parts if p != AWS_CHUNKED]
    if kept == parts:
        return  # stored as sent ("deflate, gzip" stays so)
    if kept:
        params["ContentEncoding"] = ", ".join(kept)
    else:
        del params["ContentEncoding"]


@cache
def _checksum_members(shape: Shape | None) -> tuple[dict[str, str], dict[str, str]]:
    """An input's checksum members by header name (x-amz-checksum-crc32 -> ChecksumCRC32), and
    their header names by member."""
    by_header = {b.name.lower(): b.member for b in bindings(shape)
                 if b.location == "header" and b.name.lower().startswith("x-amz-checksum-")}
    return by_header, {m: h for h, m in by_header.items()}


def _is_number(value: str | None) -> bool:
    return value is not None and value.isascii() and value.isdigit()

