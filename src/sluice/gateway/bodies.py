"""Request bodies: read into memory when small, streamed from the socket when large."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn._types import ASGIReceiveCallable


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


class StreamingBody:
    """A file-like view of the request body for operations running in worker threads.

    Each `read` pulls from the ASGI `receive` channel on the event loop, so a 5 GB upload moves
    through in socket-sized pieces and never sits in memory. Never call it on the loop itself.
    """

    def __init__(self, receive: ASGIReceiveCallable, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop
        self._buf = bytearray()
        self._eof = False

    def _pull(self) -> None:
        message: Any = asyncio.run_coroutine_threadsafe(_next(self._receive), self._loop).result()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        self._buf += message.get("body", b"")
        if not message.get("more_body", False):
            self._eof = True

    def read(self, n: int = -1, /) -> bytes:
        while not self._eof and (n < 0 or len(self._buf) < n):
            self._pull()
        if n < 0 or n >= len(self._buf):
            data = bytes(self._buf)
            self._buf.clear()
            return data
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def drain(self) -> None:
        """Consume what the client still sends, so the connection can be reused."""
        while not self._eof:
            self._pull()
            self._buf.clear()


async def _next(receive: ASGIReceiveCallable) -> Any:
    return await receive()
