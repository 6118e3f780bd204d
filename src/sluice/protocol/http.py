"""The HTTP request and response as the protocol layer sees them (no ASGI, no sockets)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol
from urllib.parse import parse_qsl


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass
class HttpRequest:
    """An HTTP request as the protocol layer sees it."""

    method: str
    path: str  # percent-encoded, as sent, without the query string
    query_string: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ","
    body: Readable = field(default_factory=lambda: io.BytesIO(b""))
    client_ip: str = "127.0.0.1"
    scheme: str = "http"

    @cached_property
    def query(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if not self.query_string:
            return out
        for k, v in parse_qsl(self.query_string, keep_blank_values=True):
            out.setdefault(k, []).append(v)
        return out

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        if value is None or not value.isdigit():
            return None
        return int(value)


class ResponseBody:
    """A response body produced in pieces (an object read from disk, say)."""

    def __init__(self, chunks: Iterable[bytes], length: int | None = None) -> None:
        self._chunks = chunks
        self.length = length

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


@dataclass
class HttpResponse:
    """An HTTP response as the protocol layer gives it back."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | ResponseBody = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None
