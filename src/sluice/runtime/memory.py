"""An execution environment's memory: sampled while it runs, cut at the function's limit.

Lambda's cgroup kills a sandbox the moment it passes its memory size; here the process tree's
resident memory is read from /proc every `POLL_INTERVAL` real seconds while the environment
initializes or invokes, and the tree is killed past the limit (Runtime.OutOfMemory). The peak
seen is what REPORT's "Max Memory Used" shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .procfs import ProcessTree

# How often a running environment's memory is checked: fast enough to stop a runaway
# allocation near the limit, cheap enough (one /proc read) to leave the loop idle.
POLL_INTERVAL = 0.025
# Descendant processes are rediscovered once a second of running (a /proc scan is slow).
DISCOVER_EVERY = 40


class MemoryWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int, on_exceeded: Callable[[], None]) -> None:
        """`limit`: bytes; `on_exceeded`: called once (on the loop) when a sample passes it."""
        self.limit = limit
        self.peak = 0
        self._loop = loop
        self._on_exceeded = on_exceeded
        self._tree: ProcessTree | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._polls = 0

    def attach(self, pid: int) -> None:
        """Watch the process tree rooted at `pid` (the environment's worker)."""
        self._tree = ProcessTree(pid)

    def start(self) -> None:
        self._polls = 0
        if self._tree is not None:
            self._handle = self._loop.call_later(POLL_INTERVAL, self._poll)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def sample(self, alive: bool) -> int:
        """The peak so far, with a last reading of the kernel's own high-water mark while the
        tree is `alive` (a spike between two polls still counts)."""
        if alive and self._tree is not None:
            self.peak = max(self.peak, self._tree.peak_rss())
        return self.peak

    def close(self) -> None:
        self.stop()
        if self._tree is not None:
            self._tree.close()

    def _poll(self) -> None:
        tree = self._tree
        if tree is None:
            return
        self._polls += 1
        if self._polls % DISCOVER_EVERY == 0:
            tree.discover()
        rss = tree.rss()
        self.peak = max(self.peak, rss)
        if rss > self.limit:
            self._handle = None
            self._on_exceeded()
            return
        self._handle = self._loop.call_later(POLL_INTERVAL, self._poll)
