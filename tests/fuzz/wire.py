"""A request as bytes on a socket, and what came back.

`Case` holds the pieces of one HTTP/1.1 request that the fuzzer builds and mutates; `exchange`
writes it on a fresh connection exactly as framed (Content-Length, chunked, lying lengths, early
EOF) and reads the answer with http.client's response parser, within a time bound.
"""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass, field
from typing import Any

FRAMINGS = ("length", "chunked", "none", "short", "eof-early", "huge")


@dataclass(repr=False)
class Case:
    service: str
    protocol: str
    operation: str
    method: str
    target: str  # path and query as sent on the request line
    headers: list[tuple[str, str]]  # no Content-Length / Transfer-Encoding: framing adds them
    body: bytes
    framing: str = "length"
    chunk_sizes: list[int] = field(default_factory=list)
    length_value: str = ""  # the Content-Length sent with the "huge" framing
    mutations: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)  # facts generators record for known-defect filters

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

    def set_header(self, name: str, value: str | None) -> None:
        lname = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lname]
        if value is not None:
            self.headers.append((name, value))

    @property
    def streamed(self) -> bool:
        """Whether Sluice's gateway sees this body as a stream (no length it can buffer)."""
        if self.framing in ("chunked", "none", "huge"):
            return True
        return self.declared_length > 1024 * 1024

    @property
    def declared_length(self) -> int:
        if self.framing == "length":
            return len(self.body)
        if self.framing == "short":
            return max(len(self.body) - 1, 0)
        if self.framing == "eof-early":
            return len(self.body) + 7
        return 0

    def head(self) -> bytes:
        lines = [f"{self.method} {self.target} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
        elif self.framing == "huge":
            lines.append(f"Content-Length: {self.length_value}")
        elif self.framing != "none":
            lines.append(f"Content-Length: {self.declared_length}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    def payload(self) -> bytes:
        if self.framing == "chunked":
            out = bytearray()
            pos = 0
            sizes = self.chunk_sizes or [len(self.body)]
            for size in sizes:
                piece = self.body[pos:pos + size]
                if not piece:
                    break
                out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                pos += len(piece)
            if pos < len(self.body):
                rest = self.body[pos:]
                out += f"{len(rest):x}\r\n".encode() + rest + b"\r\n"
            return bytes(out + b"0\r\n\r\n")
        if self.framing in ("none", "huge"):
            return b"" if self.framing == "none" else self.body[:16]
        return self.body

    @property
    def answer_optional(self) -> bool:
        """The client hangs up before its body is complete: nobody is left to answer."""
        return self.framing in ("eof-early", "huge")

    def __repr__(self) -> str:
        return self.describe(300)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints failing examples with its pretty printer: keep bodies short there too.
        printer.text(self.describe(300))

    def describe(self, limit: int = 600) -> str:
        raw = self.head() + self.payload()
        shown = raw[:limit]
        more = f" ... ({len(raw) - limit} more bytes)" if len(raw) > limit else ""
        return f"{self.service}/{self.protocol} {self.operation} mutations={self.mutations}\n{shown!r}{more}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


class NoAnswer(Exception):
    """The server closed the connection without an HTTP answer."""


class Hang(Exception):
    """No answer within the bound."""


def exchange(host: str, port: int, case: Case, bound: float) -> Answer | None:
    """Send `case` on a new connection; its answer, or None if the server (rightly) just closed
    a connection whose client hung up mid-body."""
    started = time.monotonic()
    sock = socket.create_connection((host, port), timeout=bound)
    try:
        try:
            sock.sendall(case.head())
            sock.sendall(case.payload())
            if case.answer_optional:
                sock.shutdown(socket.SHUT_WR)
        except TimeoutError:
            raise Hang(f"the request could not be sent within {bound} s") from None
        except OSError:
            pass  # the server answered (and closed) before reading everything: read that answer
        response = http.client.HTTPResponse(sock, method=case.method)
        try:
            response.begin()
            body = response.read()
        except TimeoutError:
            raise Hang(f"no answer within {bound} s") from None
        except (http.client.RemoteDisconnected, ConnectionResetError, http.client.IncompleteRead) as exc:
            if case.answer_optional:
                return None
            raise NoAnswer(f"{type(exc).__name__}: {exc}") from None
        elapsed = time.monotonic() - started
        if elapsed > bound:
            raise Hang(f"answer took {elapsed:.1f} s (bound {bound} s)")
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, headers, body, elapsed)
    finally:
        sock.close()
