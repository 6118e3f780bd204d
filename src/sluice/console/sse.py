"""Server-sent events: how a console page updates without reload.

A page answers with an `EventStream`: every `interval` real seconds the console asks its
`poll` for the events to send now ((event name, HTML) pairs), and writes them as
`text/event-stream`; htmx's SSE extension swaps each into the element that listens for its
name (`sse-swap="<name>"`). `watch` builds the usual poll: re-render a fragment and send it
only when it changed. `poll` runs on the event loop and must not block: it reads through the
console's operations (worker pool) like any page.

The waits here are real time on purpose (sluice.realtime): a person watches the page in real
seconds, whatever the engine's clock says. A stream ends after `lifetime` seconds or when the
browser goes away; EventSource reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .. import realtime

Events = list[tuple[str, str]]
Poll = Callable[[], Awaitable[Events]]

HEARTBEAT_SECONDS = 15.0  # a comment line now and then, so a proxy or browser keeps the stream
LIFETIME_SECONDS = 300.0


@dataclass
class EventStream:
    """A page's answer that keeps it up to date: server-sent events from `poll`, until it ends."""

    poll: Poll
    interval: float = 1.0
    lifetime: float = LIFETIME_SECONDS
    retry_ms: int = 1000  # how soon the browser reconnects after the stream ends

    @classmethod
    def watch(cls, event: str, render: Callable[[], Awaitable[str]], interval: float = 1.0) -> EventStream:
        """Send `render()`'s HTML as `event` at once and then whenever it changes."""
        last: list[str] = []

        async def poll() -> Events:
            html = await render()
            if last and last[0] == html:
                return []
            last[:] = [html]
            return [(event, html)]

        return cls(poll, interval)

    async def serve(self, send: Any, receive: Any, headers: list[tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"), *headers]})
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await send({"type": "http.response.body", "body": f"retry: {self.retry_ms}\n\n".encode(), "more_body": True})
            started = realtime.monotonic()
            quiet_since = started
            while not gone.done() and realtime.monotonic() - started < self.lifetime:
                events = await self.poll()
                if events:
                    await send({"type": "http.response.body", "body": encode(events), "more_body": True})
                    quiet_since = realtime.monotonic()
                elif realtime.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                    quiet_since = realtime.monotonic()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(gone), self.interval)
            if not gone.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the browser went away mid-write
        finally:
            gone.cancel()


def encode(events: Events) -> bytes:
    out: list[str] = []
    for name, data in events:
        out.append(f"event: {name}\n")
        out.extend(f"data: {line}\n" for line in data.splitlines() or [""])
        out.append("\n")
    return "".join(out).encode()


async def _disconnected(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
