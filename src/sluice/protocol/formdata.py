"""multipart/form-data as S3's browser uploads (POST Object) send it, read as a stream.

The text fields before the file are read into memory (their total size is capped, as S3 caps
them); the file part is handed on as a reader that stops at the closing boundary, so a large
upload is never held in memory. Fields after the file are ignored, as S3 ignores them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ServiceError
from .http import Readable

MAX_FIELDS_BYTES = 20 * 1024  # S3's limit on what precedes the file
_MAX_PART_HEADERS = 8 * 1024
_READ = 64 * 1024
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def malformed() -> ServiceError:
    return ServiceError("MalformedPOSTRequest",
                        "The body of your POST request is not well-formed multipart/form-data.", 400)


def boundary_of(content_type: str) -> str | None:
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    for name, value in _PARAM.findall(content_type):
        if name.lower() == "boundary":
            value = value.strip()
            return value[1:-1] if value.startswith('"') else value or None
    return None


class _Stream:
    """A buffered view of the body that can read up to a delimiter."""

    def __init__(self, body: Readable) -> None:
        self._body = body
        self._buf = bytearray(b"\r\n")  # so the first boundary looks like every other one
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._body.read(_READ)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def until(self, delimiter: bytes, limit: int) -> bytes:
        """The bytes before `delimiter` (which is consumed); at most `limit` of them."""
        start = 0
        while True:
            idx = self._buf.find(delimiter, start)
            if idx >= 0:
                if idx > limit:
                    raise _TooLong()
                out = bytes(self._buf[:idx])
                del self._buf[:idx + len(delimiter)]
                return out
            if len(self._buf) > limit + len(delimiter):
                raise _TooLong()
            start = max(0, len(self._buf) - len(delimiter) + 1)
            if not self._fill():
                raise malformed()

    def chunk_until(self, delimiter: bytes) -> tuple[bytes, bool]:
        """Some bytes before `delimiter`, and whether the delimiter was reached (and consumed)."""
        while True:
            idx = self._buf.find(delimiter)
            if idx >= 0:
                out = bytes(self._buf[:idx])
                del self._buf[:idx + len(delimiter)]
                return out, True
            keep = len(delimiter) - 1
            if len(self._buf) > keep:
                out = bytes(self._buf[:-keep])
                del self._buf[:-keep]
                return out, False
            if not self._fill():
                raise malformed()

    def take(self, n: int) -> bytes:
        while len(self._buf) < n and self._fill():
            pass
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


class _TooLong(Exception):
    pass


class FilePart:
    """The file's bytes, read up to the boundary that ends them."""

    def __init__(self, stream: _Stream, delimiter: bytes, filename: str, content_type: str | None) -> None:
        self._stream = stream
        self._delimiter = delimiter
        self._buf = b""
        self._done = False
        self.filename = filename
        self.content_type = content_type

    def read(self, n: int = -1, /) -> bytes:
        while not self._done and (n < 0 or len(self._buf) < n):
            data, self._done = self._stream.chunk_until(self._delimiter)
            self._buf += data
        if n < 0 or n >= len(self._buf):
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


@dataclass
class Form:
    """A multipart form's fields up to its file part, and a reader for that file."""

    fields: dict[str, str] = field(default_factory=dict)  # lower-case names, in order
    file: FilePart | None = None


def parse_form(body: Readable, boundary: str) -> Form:
    """Read the fields up to the file part; return them with a reader for the file."""
    stream = _Stream(body)
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    form = Form()
    used = 0
    try:
        stream.until(delimiter, 1024 * 1024)  # any preamble
        while True:
            if stream.take(2) == b"--":
                return form  # the closing boundary: a form without a file
            headers = _part_headers(stream.until(b"\r\n\r\n", _MAX_PART_HEADERS))
            disposition = headers.get("content-disposition", "")
            params = {k.lower(): _unquote(v) for k, v in _PARAM.findall(disposition)}
            name = params.get("name", "").lower()
            if name == "file":
                form.file = FilePart(stream, delimiter, params.get("filename", ""), headers.get("content-type"))
                return form
            value = stream.until(delimiter, MAX_FIELDS_BYTES - used)
            used += len(value)
            try:
                # Strictly: a key that is not UTF-8 must not become U+FFFD (and another object).
                form.fields.setdefault(name, value.decode("utf-8"))
            except UnicodeDecodeError:
                raise malformed() from None
    except _TooLong:
        raise ServiceError("MaxPostPreDataLengthExceeded",
                           "Your POST request fields preceeding the upload file was too large.", 400,
                           MaxPostPreDataLength=MAX_FIELDS_BYTES) from None


def _part_headers(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = raw.decode("utf-8")  # the file name may become the key (${filename})
    except UnicodeDecodeError:
        raise malformed() from None
    for line in text.split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value
