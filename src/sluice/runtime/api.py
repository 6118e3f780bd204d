"""The Lambda Runtime API, as the runtime interface client inside an environment sees it.

One listening socket per environment (127.0.0.1, ephemeral port): the port says which
environment a request belongs to, so there is no routing table and a dead environment's
socket simply closes. The HTTP/1.1 here is the small subset that runtime clients use
(awslambdaric's libcurl client keeps one connection alive; its init-error path uses
http.client): Content-Length or chunked bodies, Expect: 100-continue, keep-alive.

Every response leaves in one write on a TCP_NODELAY socket: a header write followed by a body
write meets Nagle's algorithm plus the client's delayed ACK and costs 40 ms per response.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import socket
import time
from typing import Protocol, cast

from .spec import MAX_RESPONSE_BYTES, InvocationRequest

PREFIX = "/2018-06-01/runtime/"
_MAX_HEAD = 64 * 1024
# Error documents and stack traces may be large, but not larger than a response may be.
MAX_BODY = MAX_RESPONSE_BYTES

_REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}

ACCEPTED = json.dumps({"status": "OK"}).encode()


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


class RuntimeApiHandler(Protocol):
    """What an environment answers; each method returns (status, body) or parks the request."""

    def api_next(self, conn: RuntimeApiConnection) -> None: ...

    def api_response(self, request_id: str, body: bytes) -> tuple[int, bytes]: ...

    def api_response_too_large(self, request_id: str) -> tuple[int, bytes]: ...

    def api_error(
        self, request_id: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]: ...

    def api_init_error(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]: ...

    def api_connection_lost(self, conn: RuntimeApiConnection) -> None: ...


_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER = range(6)


class RuntimeApiConnection(asyncio.Protocol):
    """One HTTP/1.1 connection from the runtime client; requests are handled in order."""

    def __init__(self, handler: RuntimeApiHandler) -> None:
        self._handler = handler
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._state = _HEAD
        self._remaining = 0
        self._method = ""
        self._path = ""
        self._headers: dict[str, str] = {}
        self._body = bytearray()
        self._body_len = 0
        self._close_after = False

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._handler.api_connection_lost(self)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while self._transport is not None and self._step():
            pass

    # -- responses

    @property
    def open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def send(
        self,
        status: int,
        body: bytes = b"",
        headers: str = "",
        content_type: str = "application/json",
    ) -> None:
        """Write a whole response at once. `headers` is preformatted "Name: value\\r\\n" lines."""
        transport = self._transport
        if transport is None:
            return
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
            f"Content-Type: {content_type}\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
        )
        transport.write(head.encode("utf-8") + body)
        if self._close_after:
            transport.close()

    # -- request parsing

    def _step(self) -> bool:
        """Advance the parser; True while there may be more to do with the buffered bytes."""
        buf = self._buf
        if self._state == _HEAD:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._close_after = True
                    self.send(431, error_body("RequestHeaderFieldsTooLarge", "Header too large"))
                return False
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            return self._start_request(head)
        if self._state in (_BODY, _CHUNK_DATA):
            take = min(self._remaining, len(buf))
            if take == 0:
                return False
            self._take_body(buf, take)
            self._remaining -= take
            if self._remaining == 0:
                if self._state == _BODY:
                    self._finish_request()
                else:
                    self._state = _CHUNK_END
            return True
        if self._state == _CHUNK_SIZE:
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            try:
                size = int(bytes(buf[:end]).split(b";")[0].strip() or b"0", 16)
            except ValueError:
                return self._bad_request("Malformed chunk size")
            del buf[: end + 2]
            if size == 0:
                self._state = _TRAILER
            else:
                self._state, self._remaining = _CHUNK_DATA, size
            return True
        if self._state == _CHUNK_END:
            if len(buf) < 2:
                return False
            del buf[:2]
            self._state = _CHUNK_SIZE
            return True
        # _TRAILER: header lines until an empty one
        end = buf.find(b"\r\n")
        if end < 0:
            return False
        del buf[: end + 2]
        if end == 0:
            self._finish_request()
        return True

    def _take_body(self, buf: bytearray, take: int) -> None:
        # Over the limit the bytes are counted, not kept: a runaway response costs no memory.
        if self._body_len + take <= MAX_BODY:
            self._body += buf[:take]
        self._body_len += take
        del buf[:take]

    def _start_request(self, head: str) -> bool:
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return self._bad_request("Malformed request line")
        self._method, self._path, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        self._headers = headers
        self._body = bytearray()
        self._body_len = 0
        connection = headers.get("connection", "").lower()
        self._close_after = connection == "close" or (
            version == "HTTP/1.0" and connection != "keep-alive"
        )
        if headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = _CHUNK_SIZE
            return True
        try:
            length = int(headers.get("content-length", "0") or "0")
        except ValueError:
            return self._bad_request("Malformed Content-Length")
        if length > 0:
            self._state, self._remaining = _BODY, length
        else:
            self._finish_request()
        return True

    def _bad_request(self, message: str) -> bool:
        self._close_after = True
        self.send(400, error_body("InvalidRequest", message))
        return False

    def _finish_request(self) -> None:
        self._state = _HEAD
        method, path, body = self._method, self._path, bytes(self._body)
        too_large = self._body_len > MAX_BODY
        self._body = bytearray()
        handler = self._handler
        if not path.startswith(PREFIX):
            self.send(404, error_body("NotFound", "Unknown path"))
            return
        route = path[len(PREFIX) :]
        if route == "invocation/next":
            if method != "GET":
                self.send(405, error_body("MethodNotAllowed", "Use GET"))
            else:
                handler.api_next(self)  # answers now or when an invocation arrives
            return
        if method != "POST":
            self.send(405, error_body("MethodNotAllowed", "Use POST"))
            return
        if route == "init/error":
            status, reply = handler.api_init_error(body, self._headers)
        elif route.startswith("invocation/"):
            request_id, _, action = route[len("invocation/") :].partition("/")
            if action == "response":
                if too_large:
                    status, reply = handler.api_response_too_large(request_id)
                else:
                    status, reply = handler.api_response(request_id, body)
            elif action == "error":
                status, reply = handler.api_error(request_id, body, self._headers)
            else:
                status, reply = 404, error_body("NotFound", "Unknown path")
        else:
            status, reply = 404, error_body("NotFound", "Unknown path")
        self.send(status, reply)


def header_value(value: str) -> str:
    """Header values come from callers (trace headers, client context): no line breaks."""
    if "\r" in value or "\n" in value:
        return value.replace("\r", "").replace("\n", "")
    return value


async def listen(handler: RuntimeApiHandler) -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: RuntimeApiConnection(handler), host="127.0.0.1", port=0, backlog=16
    )
    port = server.sockets[0].getsockname()[1]
    return server, port


def _trace_header() -> str:
    """Lambda gives every invocation a trace header, sampled or not."""
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


def _client_context_json(value: str | None) -> str | None:
    """X-Amz-Client-Context arrives base64-encoded; the runtime receives the JSON itself."""
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except ValueError:  # Invoke refuses what is not base64 of JSON; binascii's and UTF-8's errors alike
        return value


def next_headers(request: InvocationRequest, deadline_ms: int) -> str:
    """The headers of the answer to /invocation/next that delivers `request`."""
    headers = (
        f"Lambda-Runtime-Aws-Request-Id: {header_value(request.request_id)}\r\n"
        f"Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n"
        f"Lambda-Runtime-Invoked-Function-Arn: {header_value(request.invoked_arn)}\r\n"
        f"Lambda-Runtime-Trace-Id: {header_value(request.trace_header or _trace_header())}\r\n"
    )
    client_context = _client_context_json(request.client_context)
    if client_context:
        headers += f"Lambda-Runtime-Client-Context: {header_value(client_context)}\r\n"
    return headers
