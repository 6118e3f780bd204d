"""The HTTP request and response as the protocol layer sees them (no ASGI, no sockets)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, overload
from urllib.parse import parse_qsl

T = TypeVar("T")


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class _Once(Generic[T]):
    """functools.cached_property without its lock (before Python 3.12 each first access takes an
    RLock, a third of the cost of parsing an empty query): a request is handled by one thread at
    a time, and working a value out twice would be harmless anyway."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Once[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | _Once[T]:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)  # later reads find it there
        return value


@dataclass
class HttpRequest:
    method: str
    path: str  # percent-encoded, as sent, without the query string
    query_string: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ","
    body: Readable = field(default_factory=lambda: io.BytesIO(b""))
    client_ip: str = "127.0.0.1"
    scheme: str = "http"

    @_Once
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
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | ResponseBody = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None
