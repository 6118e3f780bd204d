"""The testing API's reset: every service's state emptied at once, the server left running.

One store transaction deletes every row (and writes the few a fresh server starts with, such as
EventBridge's default bus); object bodies go with one rename (`BlobStore.discard_all`). Around
it the engine stands still (`Engine.paused`): no work starts, the work under way is cancelled
before it can record anything, the execution environments stop; so nothing from before the
reset surfaces after it. Then each service forgets what it remembered in memory.

The settings, the clock (and its time) and the recorded schema steps stay.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Mapping

from .engine.lifecycle import Engine
from .services.base import Service
from .store import Store

log = logging.getLogger("sluice.reset")


class Reset:
    def __init__(self, store: Store, services: Mapping[str, Service], engine: Engine) -> None:
        self.store = store
        self.services = dict(services)
        self.engine = engine
        self._lock = asyncio.Lock()

    async def __call__(self) -> float:
        """Empty everything; returns how long it took, in milliseconds (call on the event loop)."""
        async with self._lock:
            started = time.perf_counter()
            async with self.engine.paused():
                paused = time.perf_counter()
                # The store's writer thread commits it; the loop serves other requests meanwhile.
                await asyncio.get_running_loop().run_in_executor(None, self.store.reset, self._fresh_rows)
                emptied = time.perf_counter()
                for service in self.services.values():
                    service.reset()
            ended = time.perf_counter()
            log.debug("reset: engine paused in %.1f ms, store emptied in %.1f ms, the rest %.1f ms",
                      (paused - started) * 1000, (emptied - paused) * 1000, (ended - emptied) * 1000)
            return (ended - started) * 1000

    def _fresh_rows(self, conn: sqlite3.Connection) -> None:
        for service in self.services.values():
            service.fresh_rows(conn)
