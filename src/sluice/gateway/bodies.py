"""Request bodies: read into memory on the event loop, or streamed to a worker thread.

Only operations that run in worker threads may be handed a `StreamingBody`; everything that runs
on the loop (routing, async operations) gets a body that is already in memory. A read of a
streaming body on the loop would wait for the loop itself, so it raises instead.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from uvicorn._types import ASGIReceiveCallable

# The largest Content-Length a signed 64-bit integer holds: AWS's front ends refuse more as a
# malformed request, and no operation here takes anywhere near it.
MAX_CONTENT_LENGTH = 2**63 - 1


class ClientDisconnected(Exception):
    pass


async def read_all(receive: ASGIReceiveCallable) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Any = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def read_up_to(receive: ASGIReceiveCallable, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to be longer than `limit` bytes (what
    follows is left unread, so a huge or endless chunked body costs no more than `limit`)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Any = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def discard(receive: ASGIReceiveCallable, limit: int) -> bool:
    """Read and drop the body; False once more than `limit` bytes came (the rest is left unread).
    For a request nothing will read: answered with its body unread, a client still sending it
    would find its connection reset before it could read the answer."""
    size = 0
    while True:
        message: Any = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        size += len(message.get("body", b""))
        if size > limit:
            return False
        if not message.get("more_body", False):
            return True


class OnLoopRead(RuntimeError):
    """A streaming body was read on the event loop: a bug, answered as an internal error."""


class StreamingBody:
    """A file-like view of the request body for operations running in worker threads.

    Each `read` pulls from the ASGI `receive` channel on the event loop, so a 5 GB upload moves
    through in socket-sized pieces and never sits in memory.
    """

    def __init__(self, receive: ASGIReceiveCallable, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop
        self._loop_thread = threading.get_ident()  # made on the loop, by the gateway
        self._buf = bytearray()
        self.received = 0  # bytes taken off the connection so far
        self.complete = False  # the client's last chunk has been received

    def _pull(self) -> None:
        if threading.get_ident() == self._loop_thread:
            # Waiting here would block the loop that must deliver the data: every connection
            # would hang. Fail this request loudly instead.
            raise OnLoopRead("a streaming request body was read on the event loop")
        message: Any = asyncio.run_coroutine_threadsafe(_next(self._receive), self._loop).result()
        self._take(message)

    def _take(self, message: Any) -> None:
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        self.received += len(chunk)
        self._buf += chunk
        if not message.get("more_body", False):
            self.complete = True

    def read(self, n: int = -1, /) -> bytes:
        while not self.complete and (n < 0 or len(self._buf) < n):
            self._pull()
        if n < 0 or n >= len(self._buf):
            data = bytes(self._buf)
            self._buf.clear()
            return data
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def read_rest(self) -> bytes:
        """What remains of the body, read on the loop (for an operation that runs there)."""
        while not self.complete:
            self._take(await self._receive())
        data = bytes(self._buf)
        self._buf.clear()
        return data


async def _next(receive: ASGIReceiveCallable) -> Any:
    return await receive()
