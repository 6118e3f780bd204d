"""The outbox dispatcher under a ManualClock, on a real SQLite store, with no real sleeps.

The proof the issue asks for: a durable async event whose every attempt fails runs once at
once; advancing 60 s runs exactly the second attempt; 120 s more, the third, then the DLQ."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sluice.clock import ManualClock
from sluice.engine.dispatcher import OutboxDispatcher
from sluice.engine.lifecycle import Engine
from sluice.engine.policy import GiveUp, LambdaAsyncRetry
from sluice.store.db import Database, Migration

TEST_OUTBOX = Migration("test-engine-outbox-0001", """
    CREATE TABLE test_outbox (id TEXT PRIMARY KEY, due REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                              received REAL NOT NULL, grp TEXT);
    CREATE TABLE test_dlq (id TEXT PRIMARY KEY, reason TEXT, attempts INTEGER, at REAL);
    CREATE TABLE test_attempts (id TEXT, number INTEGER, at REAL);
""")


@dataclass(frozen=True)
class Row:
    id: str
    due: float
    attempts: int
    received: float
    grp: str | None


class Outbox:
    """A DueSource over the test table (what a service's records module provides)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def fetch_due(self, now: float, limit: int) -> Sequence[Row]:
        return [Row(r["id"], r["due"], r["attempts"], r["received"], r["grp"]) for r in self.db.query(
            "SELECT * FROM test_outbox WHERE due <= ? ORDER BY due, id LIMIT ?", (now, limit))]

    def next_due(self, now: float) -> float | None:
        row = self.db.query_one("SELECT MIN(due) AS n FROM test_outbox WHERE due > ?", (now,))
        return float(row["n"]) if row and row["n"] is not None else None

    def add(self, ident: str, due: float, grp: str | None = None) -> None:
        self.db.write(lambda c: c.execute("INSERT INTO test_outbox (id, due, received, grp) VALUES (?,?,?,?)",
                                          (ident, due, due, grp)))


def attempts(db: Database) -> list[tuple[str, int, float]]:
    return [(r["id"], r["number"], r["at"]) for r in db.query("SELECT * FROM test_attempts ORDER BY rowid")]


def failing_handler(db: Database, clock: ManualClock):  # type: ignore[no-untyped-def]
    """Every attempt fails; Lambda's async policy decides the retry; the DLQ gets what gives up."""
    policy = LambdaAsyncRetry(max_retries=2, max_age=21600)

    async def handle(row: Row) -> None:
        number = row.attempts + 1
        decision = policy.decide(number, clock.engine_elapsed(row.received))

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO test_attempts VALUES (?,?,?)", (row.id, number, clock.now()))
            if isinstance(decision, GiveUp):
                conn.execute("DELETE FROM test_outbox WHERE id=?", (row.id,))
                conn.execute("INSERT INTO test_dlq VALUES (?,?,?,?)", (row.id, decision.reason, number, clock.now()))
            else:
                conn.execute("UPDATE test_outbox SET attempts=?, due=? WHERE id=?",
                             (number, clock.now() + clock.engine_seconds(decision.delay), row.id))

        await asyncio.wrap_future(db.submit(txn))

    return handle


def test_failing_event_retries_after_60_then_120_seconds_then_dead_letters(tmp_path: Path) -> None:
    db = Database(tmp_path / "sluice.db", [TEST_OUTBOX])
    clock = ManualClock(start=10_000.0)
    outbox = Outbox(db)

    async def main() -> None:
        dispatcher = OutboxDispatcher("test-outbox", clock, outbox, failing_handler(db, clock),
                                      key=lambda r: r.id, concurrency=4)
        engine = Engine(clock)
        engine.add(dispatcher)
        outbox.add("e1", clock.now())
        await engine.start()
        await clock.run_until_idle()
        assert attempts(db) == [("e1", 1, 10_000.0)]

        await clock.advance(59)
        assert len(attempts(db)) == 1  # not yet due
        await clock.advance(1)
        assert attempts(db) == [("e1", 1, 10_000.0), ("e1", 2, 10_060.0)]  # exactly the second

        await clock.advance(119)
        assert len(attempts(db)) == 2
        await clock.advance(1)
        assert attempts(db)[2:] == [("e1", 3, 10_180.0)]
        assert [tuple(r) for r in db.query("SELECT * FROM test_dlq")] == [("e1", "RetriesExhausted", 3, 10_180.0)]
        assert db.query("SELECT * FROM test_outbox") == []

        await clock.advance(3600)  # nothing more, ever
        assert len(attempts(db)) == 3
        await engine.stop()

    try:
        asyncio.run(main())
    finally:
        db.close()


def test_one_advance_runs_every_retry_due_in_it_in_order(tmp_path: Path) -> None:
    db = Database(tmp_path / "sluice.db", [TEST_OUTBOX])
    clock = ManualClock(start=0.0)
    outbox = Outbox(db)

    async def main() -> None:
        dispatcher = OutboxDispatcher("test-outbox", clock, outbox, failing_handler(db, clock),
                                      key=lambda r: r.id, concurrency=1)
        await dispatcher.start()
        outbox.add("a", 0.0)
        outbox.add("b", 30.0)  # due later: its attempts interleave with a's
        dispatcher.notify()
        await clock.advance(200)
        await dispatcher.stop(1.0)

    try:
        asyncio.run(main())
        assert attempts(db) == [("a", 1, 0.0), ("b", 1, 30.0), ("a", 2, 60.0), ("b", 2, 90.0),
                                ("a", 3, 180.0)]
        assert [r["id"] for r in db.query("SELECT id FROM test_dlq")] == ["a"]
    finally:
        db.close()


def test_concurrency_keys_and_groups_are_respected(tmp_path: Path) -> None:
    db = Database(tmp_path / "sluice.db", [TEST_OUTBOX])
    clock = ManualClock(start=0.0)
    outbox = Outbox(db)
    for i in range(6):
        outbox.add(f"r{i}", 0.0, grp="g" if i < 3 else None)
    peak = {"running": 0, "max": 0, "group": 0, "group_max": 0}
    done: list[str] = []

    async def handle(row: Row) -> None:
        peak["running"] += 1
        peak["max"] = max(peak["max"], peak["running"])
        if row.grp:
            peak["group"] += 1
            peak["group_max"] = max(peak["group_max"], peak["group"])
        await asyncio.sleep(0.01)
        await asyncio.wrap_future(db.submit(lambda c: c.execute("DELETE FROM test_outbox WHERE id=?", (row.id,))))
        done.append(row.id)
        peak["running"] -= 1
        if row.grp:
            peak["group"] -= 1

    async def main() -> None:
        dispatcher = OutboxDispatcher("test-outbox", clock, outbox, handle, key=lambda r: r.id, concurrency=2,
                                      group=lambda r: r.grp)
        await dispatcher.start()
        await clock.run_until_idle()
        await dispatcher.stop(1.0)

    try:
        asyncio.run(main())
        assert sorted(done) == [f"r{i}" for i in range(6)]
        assert [d for d in done if d in ("r0", "r1", "r2")] == ["r0", "r1", "r2"]  # a group keeps its order
        assert (peak["max"], peak["group_max"]) == (2, 1)
    finally:
        db.close()


def test_a_crashing_handler_is_logged_and_its_row_tried_again_later(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    db = Database(tmp_path / "sluice.db", [TEST_OUTBOX])
    clock = ManualClock(start=0.0)
    outbox = Outbox(db)
    outbox.add("bad", 0.0)
    calls: list[float] = []

    async def handle(row: Row) -> None:
        calls.append(clock.now())
        if len(calls) < 3:
            raise RuntimeError("a bug")
        await asyncio.wrap_future(db.submit(lambda c: c.execute("DELETE FROM test_outbox WHERE id=?", (row.id,))))

    async def main() -> None:
        dispatcher = OutboxDispatcher("crashy", clock, outbox, handle, key=lambda r: r.id, concurrency=2,
                                      crash_delay=5.0)
        await dispatcher.start()
        await clock.run_until_idle()
        assert calls == [0.0]  # held back, not spinning
        await clock.advance(12)
        await dispatcher.stop(1.0)

    try:
        asyncio.run(main())
        assert calls == [0.0, 5.0, 10.0]
        assert db.query("SELECT * FROM test_outbox") == []
        assert "crashy: handler for 'bad' failed" in caplog.text
    finally:
        db.close()


def test_offer_starts_a_row_at_once_and_stop_cuts_what_overruns_the_grace(tmp_path: Path) -> None:
    db = Database(tmp_path / "sluice.db", [TEST_OUTBOX])
    clock = ManualClock(start=0.0)
    outbox = Outbox(db)
    started: list[str] = []
    cancelled: list[str] = []

    async def handle(row: Row) -> None:
        started.append(row.id)
        try:
            await asyncio.Event().wait()  # a handler that never finishes by itself
        except asyncio.CancelledError:
            cancelled.append(row.id)
            raise

    async def main() -> float:
        dispatcher = OutboxDispatcher("stuck", clock, outbox, handle, key=lambda r: r.id, concurrency=1)
        engine = Engine(clock, grace=0.2)
        engine.add(dispatcher)
        await engine.start()
        assert dispatcher.offer(Row("x", 0.0, 0, 0.0, None))
        assert not dispatcher.offer(Row("y", 0.0, 0, 0.0, None))  # no free slot
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await engine.stop()
        assert not dispatcher.offer(Row("z", 0.0, 0, 0.0, None))  # stopped: takes nothing
        return loop.time() - began

    try:
        took = asyncio.run(main())
        assert started == ["x"] and cancelled == ["x"]
        assert took < 10  # a hang guard, not a timing assertion
    finally:
        db.close()


def test_a_released_slot_starts_the_next_row_while_the_first_is_never_run_twice(tmp_path: Path) -> None:
    """A handler that gives its slot back (its environment is free, only its record is left to
    commit) lets the next row start at once; its own row, still due until that record commits,
    is not started again meanwhile."""
    db = Database(tmp_path / "sluice.db", [TEST_OUTBOX])
    clock = ManualClock(start=0.0)
    outbox = Outbox(db)
    outbox.add("a", 0.0)
    outbox.add("b", 0.0)
    started: list[str] = []
    commit_a = asyncio.Event()
    b_done = asyncio.Event()

    async def handle(row: Row) -> None:
        started.append(row.id)
        dispatcher.release_slot(row.id)
        if row.id == "a":
            await commit_a.wait()  # a's record is slow to commit: b runs meanwhile
        await asyncio.wrap_future(db.submit(lambda c: c.execute("DELETE FROM test_outbox WHERE id=?", (row.id,))))
        if row.id == "b":
            b_done.set()

    dispatcher = OutboxDispatcher("test-outbox", clock, outbox, handle, key=lambda r: r.id, concurrency=1)

    async def main() -> None:
        await dispatcher.start()
        # b starts and ends while a still holds its row (without the released slot it never would:
        # the bound is a safety net for that failure, not a timing).
        await asyncio.wait_for(b_done.wait(), timeout=30)
        await asyncio.sleep(0)  # b's done-callback
        assert started == ["a", "b"] and list(dispatcher.running) == ["a"]  # a is still settling
        dispatcher.notify()  # a look while a's row is still in the table
        await asyncio.sleep(0)
        commit_a.set()
        await clock.run_until_idle()
        await dispatcher.stop(1.0)

    try:
        asyncio.run(main())
        assert started == ["a", "b"]
        assert db.query("SELECT * FROM test_outbox") == []
    finally:
        db.close()
