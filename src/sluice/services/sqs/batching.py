"""One store transaction for the writes an event-loop turn produced.

The store already commits concurrent writers together (one fsync for many). Under load, SQS's
async operations issue many small writes in the same turn of the loop (sends, receives, deletes
from different connections): handing them to the writer as one submission saves a future, two
thread wake-ups and a savepoint per write. Each write still runs in a savepoint of its own, so
one write's error rolls back only that write and reaches only its caller.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from ...store.db import Database
from ...workers import settle

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]


class WriteBatcher:
    def __init__(self, db: Database, loop: asyncio.AbstractEventLoop) -> None:
        self.db = db
        self.loop = loop
        self._pending: list[tuple[Write, asyncio.Future[Any]]] = []

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Run `fn` in a write transaction; the future resolves once it is committed (event loop only)."""
        future: asyncio.Future[T] = self.loop.create_future()
        self._pending.append((fn, future))
        if len(self._pending) == 1:
            self.loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        loop = self.loop
        if len(batch) == 1:  # the usual case: the store's own transaction is the write's savepoint
            fn, future = batch[0]
            self.db.submit_then(fn, lambda ok, value: loop.call_soon_threadsafe(settle, future, ok, value))
            return
        writes = [fn for fn, _ in batch]

        def txn(conn: sqlite3.Connection) -> list[tuple[bool, Any]]:
            outcomes: list[tuple[bool, Any]] = []
            for fn in writes:
                conn.execute("SAVEPOINT sqs_write")
                try:
                    result = fn(conn)
                except Exception as exc:  # noqa: BLE001 - a write's error, whatever it is, is its caller's alone
                    conn.execute("ROLLBACK TO sqs_write")
                    conn.execute("RELEASE sqs_write")
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE sqs_write")
                    outcomes.append((True, result))
            return outcomes

        self.db.submit_then(txn, lambda ok, value: loop.call_soon_threadsafe(self._settle, batch, ok, value))

    @staticmethod
    def _settle(batch: list[tuple[Write, asyncio.Future[Any]]], committed: bool, outcome: Any) -> None:
        if not committed:  # the commit failed: no write of the batch is durable
            for _, future in batch:
                settle(future, False, outcome)
            return
        for (_, future), (ok, value) in zip(batch, outcome, strict=True):
            settle(future, ok, value)

