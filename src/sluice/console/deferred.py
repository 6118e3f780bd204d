"""The console as the gateway holds it: built on its first request, not at start-up.

Jinja2, the templates, the static files and the page modules cost tens of milliseconds and
several MB; a server started for a test run seldom shows a page. The first console request
builds the console in the gateway's worker pool (off the event loop); concurrent first
requests wait for the same build."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..protocol.http import HttpRequest
from .views import PREFIX

if TYPE_CHECKING:
    from .app import Console

RunBlocking = Callable[..., Awaitable[Any]]


class DeferredConsole:
    def __init__(self, build: Callable[[], Console], run_blocking: RunBlocking) -> None:
        self._build = build
        self._run_blocking = run_blocking
        self._console: Console | None = None
        self._building: asyncio.Future[Console] | None = None

    @staticmethod
    def handles(path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    async def console(self) -> Console:
        if self._console is not None:
            return self._console
        if self._building is None:
            self._building = asyncio.ensure_future(self._run_blocking(self._build))
        try:
            console = await asyncio.shield(self._building)
        except BaseException:
            if self._building.done():  # a failed build is tried again by the next request
                self._building = None
            raise
        self._console = console
        return console

    async def serve(self, req: HttpRequest, receive: Any, send: Any) -> None:
        await (await self.console()).serve(req, receive, send)
