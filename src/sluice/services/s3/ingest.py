"""Taking an upload's body: decode aws-chunked, store it durably, and verify every checksum sent."""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ...protocol.chunked import AwsChunkedReader, ChunkedEncodingError
from ...protocol.errors import ServiceError
from ...protocol.http import Readable
from ...store.blobs import BlobStore
from . import errors
from .checksums import ALGORITHMS, DEFAULT_ALGORITHM, b64, header_name, member_name, new_hasher

MAX_PUT_SIZE = 5 * 1024**3
_READ = 1024 * 1024


# The trailers an upload may announce: one checksum header.
_TRAILERS = frozenset(header_name(name) for name in ALGORITHMS)

# Bodies up to this size are stored in the object's row: one group-committed fsync then makes
# body and metadata durable together, instead of one fsync for a file and another for the row.
INLINE_LIMIT = 128 * 1024


@dataclass
class Ingested:
    blob: str | None  # a file in the blob store, or
    data: bytes | None  # the bytes themselves, for small bodies
    size: int
    etag: str  # MD5 hex
    checksum_algorithm: str
    checksum: str  # base64 digest

    @property
    def inline(self) -> bool:
        return self.data is not None


def requested_algorithm(params: dict[str, Any], headers: dict[str, str]) -> str | None:
    """The checksum algorithm the client asked for, by parameter, value or trailer."""
    algo = params.get("ChecksumAlgorithm")
    if algo:
        return str(algo).upper()
    for name in ALGORITHMS:
        if params.get(member_name(name)):
            return name
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    for name in ALGORITHMS:
        if trailer == header_name(name):
            return name
    return None


def strip_aws_chunked(content_encoding: str | None) -> str | None:
    if not content_encoding:
        return None
    kept = [p.strip() for p in content_encoding.split(",") if p.strip() and p.strip() != "aws-chunked"]
    return ",".join(kept) or None


def ingest(
    blobs: BlobStore,
    body: Readable,
    params: dict[str, Any],
    headers: dict[str, str],
    algorithm: str | None = None,
    inline: bool = True,
) -> Ingested:
    """Take the body; raise the S3 error for any size or checksum it fails to match."""
    chunked = "aws-chunked" in (headers.get("content-encoding") or "") or headers.get(
        "x-amz-content-sha256", ""
    ).startswith("STREAMING-")
    reader: Readable = AwsChunkedReader(body) if chunked else body
    decoded_length = headers.get("x-amz-decoded-content-length")
    # An aws-chunked body must say how long it is once decoded; S3 answers a missing or
    # non-numeric length (e.g. -1) as it answers a missing Content-Length.
    if (chunked or decoded_length is not None) and not _is_number(decoded_length):
        raise errors.missing_content_length()
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer and trailer not in _TRAILERS:
        raise errors.invalid_request("The value specified in the x-amz-trailer header is not supported")
    declared = decoded_length if chunked else headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_PUT_SIZE:
        raise errors.entity_too_large(int(declared), MAX_PUT_SIZE)

    algo = (algorithm or requested_algorithm(params, headers) or DEFAULT_ALGORITHM).upper()
    if algo not in ALGORITHMS:
        raise errors.invalid_request(
            "Value for x-amz-checksum-algorithm header is invalid."
        )
    hasher = new_hasher(algo)
    observers: list[Callable[[bytes], None]] = [hasher.update]
    content_sha = headers.get("x-amz-content-sha256", "")
    sha256 = None
    if len(content_sha) == 64:
        sha256 = hashlib.sha256()
        observers.append(sha256.update)

    try:
        head = _read_up_to(reader, INLINE_LIMIT + 1 if inline else 0)
        if inline and len(head) <= INLINE_LIMIT:
            for fn in observers:
                fn(head)
            blob, data, size, md5 = None, head, len(head), hashlib.md5(head).hexdigest()
        else:
            written = blobs.write(itertools.chain([head], _chunks(reader)), observers)
            blob, data, size, md5 = written.name, None, written.size, written.md5
    except ChunkedEncodingError as exc:
        raise ServiceError("IncompleteBody", f"The request body is not valid aws-chunked encoding: {exc}",
                           400) from None
    try:
        _verify(size, md5, reader, params, headers, algo, hasher.digest(), sha256, declared)
    except BaseException:
        if blob:
            blobs.delete(blob)
        raise
    return Ingested(blob, data, size, md5, algo, b64(hasher.digest()))


def _is_number(value: str | None) -> bool:
    return value is not None and value.isascii() and value.isdigit()


def _read_up_to(reader: Readable, limit: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < limit:
        data = reader.read(limit - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def _chunks(reader: Readable) -> Iterator[bytes]:
    while data := reader.read(_READ):
        yield data


def _verify(
    size: int,
    md5: str,
    reader: Readable,
    params: dict[str, Any],
    headers: dict[str, str],
    algo: str,
    digest: bytes,
    sha256: Any,
    declared: str | None,
) -> None:
    if declared is not None and declared.isdigit() and int(declared) != size:
        raise errors.incomplete_body()
    md5_b64 = params.get("ContentMD5")
    if md5_b64:
        try:
            expected = base64.b64decode(md5_b64, validate=True)
        except (binascii.Error, ValueError):
            raise errors.invalid_digest() from None
        if len(expected) != 16:
            raise errors.invalid_digest()
        if expected.hex() != md5:
            raise errors.bad_digest()
    if sha256 is not None and sha256.hexdigest() != headers.get("x-amz-content-sha256"):
        raise ServiceError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            400,
            ClientComputedContentSHA256=headers.get("x-amz-content-sha256"),
            S3ComputedContentSHA256=sha256.hexdigest(),
        )
    sent = params.get(member_name(algo))
    if not sent and isinstance(reader, AwsChunkedReader):
        sent = reader.trailers.get(header_name(algo))
    if sent and sent != b64(digest):
        raise errors.checksum_mismatch(algo)
