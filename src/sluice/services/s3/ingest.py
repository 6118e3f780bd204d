"""Taking an upload's body: store it durably, and verify its size and every digest sent.

The protocol layer hands over the object's bytes (aws-chunked framing already removed), the
members (ContentLength, ContentMD5, ChecksumAlgorithm, ChecksumCRC32 ...) and a `Payload` for
what only the body can confirm (the signed SHA-256, a checksum trailing the body).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ...protocol.errors import ServiceError
from ...protocol.http import Readable
from ...protocol.s3upload import Payload
from ...store.blobs import BlobStore
from . import errors
from .checksums import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    MEMBERS,
    b64,
    digest_of,
    member_name,
    new_hasher,
)

MAX_PUT_SIZE = 5 * 1024**3
_READ = 1024 * 1024

# Bodies up to this size are stored in the object's row: one group-committed fsync then makes
# body and metadata durable together, instead of one fsync for a file and another for the row.
INLINE_LIMIT = 128 * 1024

_NO_PAYLOAD = Payload()
# The members _verify compares a body with, besides its length.
_NOTHING_TO_CHECK = frozenset({"ContentMD5", *MEMBERS.values()})

try:
    # CPython's own MD5 for a body in memory: OpenSSL's (hashlib.md5) sets up a digest context
    # through its provider tables on each call, which for a small body costs three times the
    # hashing itself (measured in the server: 3.5 against 10.7 us for 1 KiB).
    from _md5 import md5 as _small_md5
except ImportError:  # pragma: no cover - a Python built without its own hashes
    _small_md5 = hashlib.md5


@dataclass
class Ingested:
    """An upload's body once taken and verified: in a blob, or in memory when small."""

    blob: str | None  # a file in the blob store, or
    data: bytes | None  # the bytes themselves, for small bodies
    size: int
    etag: str  # MD5 hex
    checksum_algorithm: str
    checksum: str  # base64 digest


def _trailer_algorithm(payload: Payload) -> str | None:
    """The algorithm of the checksum trailing the body; InvalidRequest for one S3 does not take."""
    if payload.trailer is None:
        return None
    algo = payload.trailer.removeprefix("Checksum")
    if algo not in ALGORITHMS:
        raise errors.invalid_request("The value specified in the x-amz-trailer header is not supported")
    return algo


def _requested_algorithm(params: dict[str, Any], trailer: str | None) -> str | None:
    """The checksum algorithm the client asked for, by member, by value or by trailer."""
    algo = params.get("ChecksumAlgorithm")
    if algo:
        return str(algo).upper()
    if _NOTHING_TO_CHECK.isdisjoint(params):  # no checksum member (nor Content-MD5) at all
        return trailer
    for name, member in MEMBERS.items():
        if params.get(member):
            return name
    return trailer


def ingest(
    blobs: BlobStore,
    body: Readable,
    params: dict[str, Any],
    payload: Payload | None = None,
    algorithm: str | None = None,
    inline: bool = True,
) -> Ingested:
    """Take the body; raise the S3 error for any size or checksum it fails to match."""
    payload = payload or _NO_PAYLOAD
    trailer = _trailer_algorithm(payload)
    declared = params.get("ContentLength")
    if declared is not None and declared > MAX_PUT_SIZE:
        raise errors.entity_too_large(declared, MAX_PUT_SIZE)

    algo = (algorithm or _requested_algorithm(params, trailer) or DEFAULT_ALGORITHM).upper()
    if algo not in ALGORITHMS:
        raise errors.invalid_request("Value for x-amz-checksum-algorithm header is invalid.")
    head = _read_up_to(body, INLINE_LIMIT + 1 if inline else 0)
    size = len(head)
    if inline and size <= INLINE_LIMIT:
        # All in memory: each digest in one call, no file to remove on a mismatch.
        digest = digest_of(algo, head)
        md5 = _small_md5(head).hexdigest()
        if payload is _NO_PAYLOAD and (declared is None or declared == size) and _NOTHING_TO_CHECK.isdisjoint(params):
            # Nothing sent to compare the body with (the usual small upload): no _verify.
            return Ingested(None, head, size, md5, algo, b64(digest))
        signed = hashlib.sha256(head) if payload.content_sha256 is not None else None
        _verify(size, md5, params, payload, algo, digest, signed, declared)
        return Ingested(None, head, size, md5, algo, b64(digest))

    hasher = new_hasher(algo)
    observers: list[Callable[[bytes], None]] = [hasher.update]
    sha256 = None
    if payload.content_sha256 is not None:
        sha256 = hashlib.sha256()
        observers.append(sha256.update)
    written = blobs.write(itertools.chain([head], _chunks(body)), observers)
    digest = hasher.digest()
    try:
        _verify(written.size, written.md5, params, payload, algo, digest, sha256, declared)
    except BaseException:
        blobs.delete(written.name)
        raise
    return Ingested(written.name, None, written.size, written.md5, algo, b64(digest))


def _read_up_to(reader: Readable, limit: int) -> bytes:
    if isinstance(reader, io.BytesIO):
        return reader.read(limit)  # all it holds up to the limit, at once
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


def _verify(size: int, md5: str, params: dict[str, Any], payload: Payload, algo: str, digest: bytes,
            sha256: Any, declared: int | None) -> None:
    if declared is not None and declared != size:
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
    if sha256 is not None and sha256.hexdigest() != payload.content_sha256:
        raise ServiceError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ClientComputedContentSHA256=payload.content_sha256,
            S3ComputedContentSHA256=sha256.hexdigest(),
        )
    member = member_name(algo)
    sent = params.get(member) or payload.trailing(member)
    if sent and sent != b64(digest):
        raise errors.checksum_mismatch(algo)
