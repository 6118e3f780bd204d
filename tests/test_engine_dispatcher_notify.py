"""OutboxDispatcher.notify(rows): rows a writer has just committed start at once, from any thread,
without waiting for the dispatcher to look for them; a row whose key is running waits for that
handler to end (one handler per key: what S3 relies on to deliver each destination's events in
order). On a ManualClock and a real SQLite store, no real sleeps."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sluice.clock import ManualClock
from sluice.engine.dispatcher import OutboxDispatcher
from sluice.store.db import Database

from .test_engine_dispatcher import TEST_OUTBOX, Outbox, Row


class CountingOutbox(Outbox):
    """The test outbox, counting the dispatcher's looks."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.looks = 0

    def fetch_due(self, now: float, limit: int) -> Sequence[Row]:
        self.looks += 1
        return super().fetch_due(now, limit)

    def row(self, ident: str) -> Row:
        found = [r for r in super().fetch_due(float("inf"), 100) if r.id == ident]
        assert found, ident
        return found[0]


def test_notified_rows_start_without_a_look_and_one_key_runs_at_a_time(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite", [TEST_OUTBOX])
    clock = ManualClock()
    outbox = CountingOutbox(db)
    started: list[tuple[str, int]] = []  # (row, looks so far when its handler started)
    release: dict[str, asyncio.Event] = {}

    async def handle(row: Row) -> None:
        started.append((row.id, outbox.looks))
        if row.id in release:
            await release[row.id].wait()

        def done(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM test_outbox WHERE id=?", (row.id,))

        await asyncio.wrap_future(db.submit(done))

    dispatcher = OutboxDispatcher("test", clock, outbox, handle, key=lambda row: row.id[0], concurrency=4)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await dispatcher.start()
        await clock.run_until_idle()
        looks = outbox.looks

        # Written and notified from a worker thread, as a request's thread does.
        def write_and_notify(ident: str) -> None:
            outbox.add(ident, clock.now())
            dispatcher.notify([outbox.row(ident)])

        release["a1"] = asyncio.Event()
        await loop.run_in_executor(None, write_and_notify, "a1")
        await asyncio.sleep(0)  # the loop runs the offer the worker thread scheduled
        assert started == [("a1", looks)]  # started at once: no look was needed

        await loop.run_in_executor(None, write_and_notify, "a2")  # same key ("a"): a1 is still running
        await loop.run_in_executor(None, write_and_notify, "b1")  # another key: starts alongside
        await asyncio.sleep(0)
        assert [ident for ident, _ in started] == ["a1", "b1"]
        release["a1"].set()
        await clock.run_until_idle()
        assert [ident for ident, _ in started] == ["a1", "b1", "a2"]  # a2 after a1 ended, found by a look
        assert started[2][1] > looks
        assert outbox.fetch_due(float("inf"), 10) == []
        await dispatcher.stop(1.0)

    try:
        asyncio.run(main())
    finally:
        db.close()
