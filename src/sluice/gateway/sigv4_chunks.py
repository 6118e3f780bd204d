"""aws-chunked bodies whose chunks each carry a signature chained from the request's."""

from __future__ import annotations

import hashlib
import hmac

from ..protocol.errors import ServiceError
from ..protocol.http import Readable
from .signing import (
    EMPTY_SHA256,
    Signed,
    hmac_hex,
    s3_signature_mismatch,
)
from .sigv4_family import Family


class ChunkSignatureCheck:
    """Passes an aws-chunked body through unchanged while checking each chunk's signature.

    Chunk i signs "AWS4-HMAC-SHA256-PAYLOAD", the timestamp, the scope, the previous signature
    (the seed signature for the first chunk), the hash of the empty string and the hash of the
    chunk's data. With a trailer, "AWS4-HMAC-SHA256-TRAILER" over the last chunk's signature
    and the hash of the trailer lines signs the trailers. A failure raises S3's
    SignatureDoesNotMatch from `read`, so the upload is refused before it is stored.
    """

    _HEADER, _DATA, _DATA_END, _TRAILERS, _DONE = range(5)

    def __init__(self, raw: Readable, key: bytes, signed: Signed, family: Family, trailer: bool) -> None:
        self._raw = raw
        self._key = key
        self._signed = signed
        self._family = family
        self._trailer = trailer
        self._previous = signed.signature
        self._state = self._HEADER
        self._line = bytearray()
        self._left = 0
        self._expected = ""
        self._hash = hashlib.sha256()
        self._trailer_lines: list[str] = []
        self._trailer_signature = ""

    def read(self, n: int = -1, /) -> bytes:
        data = self._raw.read(n)
        if data:
            self._feed(data)
        elif self._state == self._TRAILERS:
            # The body ended without the blank line after the trailers: check what came.
            if self._line:
                self._on_line(bytes(self._line).rstrip(b"\r\n").decode("latin-1"))
                self._line.clear()
            if self._state == self._TRAILERS:
                self._on_line("")
        # Ending anywhere else is a truncated body, which the aws-chunked decoder refuses.
        return data

    def _feed(self, data: bytes) -> None:
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            if self._state == self._DATA:
                take = min(self._left, len(view) - pos)
                self._hash.update(view[pos:pos + take])
                self._left -= take
                pos += take
                if self._left == 0:
                    self._check_chunk()
                    self._state = self._DATA_END
                    self._line.clear()
                continue
            if self._state == self._DONE:
                return
            end = data.find(b"\n", pos)
            if end < 0:
                self._line += view[pos:]
                return
            self._line += view[pos:end + 1]
            pos = end + 1
            line = bytes(self._line).rstrip(b"\r\n").decode("latin-1")
            self._line.clear()
            self._on_line(line)

    def _on_line(self, line: str) -> None:
        if self._state == self._DATA_END:
            self._state = self._HEADER
            if line:
                raise self._mismatch("")
            return
        if self._state == self._HEADER:
            size_text, _, ext = line.partition(";")
            name, _, signature = ext.partition("=")
            try:
                size = int(size_text.strip(), 16)
            except ValueError:
                return  # not aws-chunked framing: the decoder refuses it
            if name.strip() != "chunk-signature":
                raise self._mismatch("")
            self._expected = signature.strip()
            self._hash = hashlib.sha256()
            if size == 0:
                self._check_chunk()
                self._state = self._TRAILERS
            else:
                self._left = size
                self._state = self._DATA
            return
        # trailers, up to the blank line
        if line:
            name, _, value = line.partition(":")
            if name.strip().lower() == "x-amz-trailer-signature":
                self._trailer_signature = value.strip()
            else:
                self._trailer_lines.append(f"{name.strip()}:{value.strip()}\n")
            return
        if self._trailer:
            self._check_trailer()
        self._state = self._DONE

    def _check_chunk(self) -> None:
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self._signed.timestamp, self._signed.scope,
                                    self._previous, EMPTY_SHA256, self._hash.hexdigest()])
        if not hmac.compare_digest(hmac_hex(self._key, string_to_sign), self._expected):
            raise self._mismatch(string_to_sign)
        self._previous = self._expected

    def _check_trailer(self) -> None:
        trailers = "".join(self._trailer_lines)
        string_to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", self._signed.timestamp, self._signed.scope,
                                    self._previous, hashlib.sha256(trailers.encode()).hexdigest()])
        if not hmac.compare_digest(hmac_hex(self._key, string_to_sign), self._trailer_signature):
            raise self._mismatch(string_to_sign)

    def _mismatch(self, string_to_sign: str) -> ServiceError:
        return s3_signature_mismatch(self._signed.access_key, string_to_sign or None, self._expected or None)
