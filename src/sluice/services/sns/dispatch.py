"""Working through the outbox in the background, off Publish's response path.

One task on the event loop finds the outbox rows that are due and hands each to a worker thread
(`attempt(row)` delivers it and records the outcome durably: the row is deleted, rescheduled, or
dead-lettered). It sleeps until the next row falls due or until `wake()` (a Publish committed new
rows). Rows of a FIFO topic go one at a time per `fifo_key`, oldest first, so a group's messages
reach a subscription in order. After a restart the same scan finds every row still pending: rows
that were in flight when the process died are attempted again (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ...clock import Clock
from ...store.db import Database

log = logging.getLogger(__name__)

SCAN_LIMIT = 256
IDLE_RECHECK = 5.0  # real seconds: a safety net; wake() is what normally ends a sleep


class Dispatcher:
    def __init__(self, db: Database, clock: Clock, attempt: Callable[[sqlite3.Row], None],
                 workers: int = 16) -> None:
        self.db = db
        self.clock = clock
        self.attempt = attempt
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[int] = set()
        self._busy_keys: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._finished: set[int] = set()  # rows whose attempt ended during the current scan

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sluice-sns")
        self._task = self._loop.create_task(self._run(), name="sns-dispatcher")

    async def stop(self, grace: float = 2.0) -> None:
        """Stop scanning; give attempts in flight a moment to record their outcome. Any that do not
        finish leave their row in the outbox: it is delivered again after the next start."""
        self.stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def wake(self) -> None:
        """Thread-safe: new rows were committed."""
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        assert self._loop is not None and self._event is not None
        while True:
            self._event.clear()
            self._finished.clear()
            try:
                rows, next_due = await self._loop.run_in_executor(None, self._scan)
            except Exception:
                log.exception("SNS outbox scan failed")
                rows, next_due = [], None
            for row in rows:
                # A row whose attempt finished while the scan ran may have been read before its
                # outcome was committed: it is stale, and the next scan sees it as it is now.
                if row["id"] not in self._finished and row["id"] not in self._in_flight \
                        and row["fifo_key"] not in self._busy_keys:
                    self._launch(row)
            timeout = IDLE_RECHECK
            if next_due is not None:
                timeout = min(timeout, max(0.0, next_due - self.clock.now()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)

    def _scan(self) -> tuple[list[sqlite3.Row], float | None]:
        """Rows due now and not in flight (FIFO rows only at the head of their key); the next due time."""
        now = self.clock.now()
        room = self.workers * 4 - len(self._in_flight)
        rows: list[sqlite3.Row] = []
        if room > 0:
            for row in self.db.query(
                "SELECT * FROM sns_outbox WHERE fifo_key IS NULL AND due <= ? ORDER BY due, id LIMIT ?",
                (now, SCAN_LIMIT),
            ):
                if row["id"] not in self._in_flight:
                    rows.append(row)
            for row in self.db.query(
                "SELECT * FROM sns_outbox WHERE id IN (SELECT min(id) FROM sns_outbox WHERE fifo_key IS NOT NULL"
                " GROUP BY fifo_key) AND due <= ? ORDER BY id LIMIT ?",
                (now, SCAN_LIMIT),
            ):
                if row["id"] not in self._in_flight and row["fifo_key"] not in self._busy_keys:
                    rows.append(row)
            rows = rows[:room]
        nxt = self.db.query_one("SELECT min(due) FROM sns_outbox WHERE due > ?", (now,))
        return rows, (float(nxt[0]) if nxt and nxt[0] is not None else None)

    def _launch(self, row: sqlite3.Row) -> None:
        assert self._loop is not None
        self._in_flight.add(row["id"])
        if row["fifo_key"]:
            self._busy_keys.add(row["fifo_key"])
        task = self._loop.create_task(self._attempt(row))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, row: sqlite3.Row) -> None:
        assert self._loop is not None and self._event is not None
        try:
            if self._pool is not None:
                await self._loop.run_in_executor(self._pool, self._attempt_quietly, row)
        finally:
            self._finished.add(row["id"])
            self._in_flight.discard(row["id"])
            if row["fifo_key"]:
                self._busy_keys.discard(row["fifo_key"])
            self._event.set()

    def _attempt_quietly(self, row: sqlite3.Row) -> None:
        try:
            self.attempt(row)
        except Exception:  # the row stays in the outbox and is tried again a little later
            log.exception("SNS delivery attempt %s failed unexpectedly", row["id"])
            due = self.clock.now() + self.clock.engine_seconds(1.0)
            if not self.stopping:
                with contextlib.suppress(Exception):
                    self.db.submit(lambda c: c.execute("UPDATE sns_outbox SET due = ? WHERE id = ?",
                                                       (due, row["id"]))).result(timeout=30)
