"""`Content-Encoding: aws-chunked` bodies, as current SDKs send them.

Each chunk is `<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n`; a zero-size chunk ends the
data and may be followed by trailer lines (`x-amz-checksum-crc32:<b64>`) and a blank line.
Signatures are kept for a verifier to check; decoding never trusts a size beyond the limit.
"""

from __future__ import annotations

from .http import Readable

_MAX_LINE = 8192
_MAX_CHUNK = 1 << 34  # no single chunk is larger than S3's 5 GiB object limit


class ChunkedEncodingError(ValueError):
    pass


class AwsChunkedReader:
    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._buf = bytearray()
        self._left_in_chunk = 0
        self._done = False
        self.trailers: dict[str, str] = {}
        self.chunk_signatures: list[str] = []

    def _fill(self, want: int) -> bool:
        while len(self._buf) < want:
            data = self._raw.read(max(65536, want - len(self._buf)))
            if not data:
                return False
            self._buf += data
        return True

    def _line(self) -> str:
        while True:
            idx = self._buf.find(b"\r\n")
            if idx >= 0:
                line = bytes(self._buf[:idx])
                del self._buf[: idx + 2]
                return line.decode("latin-1")
            if len(self._buf) > _MAX_LINE:
                raise ChunkedEncodingError("chunk header line too long")
            data = self._raw.read(65536)
            if not data:
                if self._buf:
                    line = bytes(self._buf)
                    self._buf.clear()
                    return line.decode("latin-1")
                raise ChunkedEncodingError("body ended inside a chunk header")
            self._buf += data

    def _next_chunk(self) -> None:
        header = self._line()
        size_text, _, ext = header.partition(";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise ChunkedEncodingError(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0 or size > _MAX_CHUNK:
            raise ChunkedEncodingError("chunk size out of range")
        if ext.startswith("chunk-signature="):
            self.chunk_signatures.append(ext[len("chunk-signature="):])
        if size == 0:
            self._read_trailers()
            self._done = True
            return
        self._left_in_chunk = size

    def _read_trailers(self) -> None:
        while True:
            try:
                line = self._line()
            except ChunkedEncodingError:
                return  # no trailer section at all
            if not line:
                return
            name, sep, value = line.partition(":")
            if sep:
                self.trailers[name.strip().lower()] = value.strip()

    def read(self, n: int = -1, /) -> bytes:
        out = bytearray()
        while not self._done and (n < 0 or len(out) < n):
            if self._left_in_chunk == 0:
                self._next_chunk()
                continue
            want = self._left_in_chunk if n < 0 else min(self._left_in_chunk, n - len(out))
            if not self._buf:
                self._fill(1)
                if not self._buf:
                    raise ChunkedEncodingError("body ended inside a chunk")
            take = min(want, len(self._buf))
            out += self._buf[:take]
            del self._buf[:take]
            self._left_in_chunk -= take
            if self._left_in_chunk == 0:
                if not self._fill(2) or self._buf[:2] != b"\r\n":
                    raise ChunkedEncodingError("chunk not followed by CRLF")
                del self._buf[:2]
        return bytes(out)
