"""The store's commit paths: a writer thread that commits its own write when the connection is
free, group commit under contention, the event loop's callback submissions, and the gateway's
worker threads that hand outcomes back to the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from sluice.store.db import Database, Migration
from sluice.workers import Workers

SCHEMA = [Migration("t", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")]


def _insert(value: str) -> Any:
    def txn(conn: sqlite3.Connection) -> int:
        return int(conn.execute("INSERT INTO t (v) VALUES (?) RETURNING id", (value,)).fetchone()[0])
    return txn


def _rows(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in conn.execute("SELECT v FROM t"))
    finally:
        conn.close()


def test_a_write_is_committed_when_it_returns_and_its_error_rolls_back_only_itself(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", SCHEMA)
    try:
        db.write(_insert("a"))

        def fails(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t (v) VALUES ('b')")
            conn.execute("INSERT INTO t (v) VALUES ('a')")  # UNIQUE: the whole write goes

        with pytest.raises(sqlite3.IntegrityError):
            db.write(fails)
        db.write(_insert("c"))
        # Another connection sees exactly the acknowledged writes.
        assert _rows(tmp_path / "s.db") == ["a", "c"]
    finally:
        db.close()


def test_concurrent_writers_all_commit_with_their_own_results_and_errors(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", SCHEMA)
    results: dict[str, Any] = {}
    start = threading.Barrier(16)

    def writer(n: int) -> None:
        start.wait()
        for i in range(20):
            value = f"{n}-{i}"
            try:
                results[value] = db.write(_insert("dup" if i == 7 else value))
            except sqlite3.IntegrityError as exc:
                results[value] = exc

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        rows = _rows(tmp_path / "s.db")
        # One "dup" got in; the 15 others failed alone, each in its own caller.
        failed = [k for k, v in results.items() if isinstance(v, sqlite3.IntegrityError)]
        assert len(failed) == 15
        assert rows.count("dup") == 1
        assert len(rows) == 16 * 19 + 1
        ids = [v for v in results.values() if isinstance(v, int)]
        assert len(set(ids)) == len(ids) == 16 * 19 + 1
    finally:
        db.close()


def test_a_write_inside_a_write_is_refused(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", SCHEMA)
    try:
        def nested(conn: sqlite3.Connection) -> None:
            db.write(_insert("inner"))

        with pytest.raises(RuntimeError, match="nested"):
            db.write(nested)
        assert _rows(tmp_path / "s.db") == []
    finally:
        db.close()


def test_submit_then_calls_back_once_committed_or_with_the_error(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", SCHEMA)
    outcomes: list[tuple[bool, Any, list[str]]] = []
    done = threading.Event()

    def then(ok: bool, value: Any) -> None:
        outcomes.append((ok, value, _rows(tmp_path / "s.db")))  # committed: visible to others
        if len(outcomes) == 2:
            done.set()

    try:
        db.submit_then(_insert("x"), then)
        db.submit_then(_insert("x"), then)
        assert done.wait(30)
        (ok1, value1, seen1), (ok2, value2, _) = outcomes
        assert ok1 and isinstance(value1, int) and seen1 == ["x"]
        assert not ok2 and isinstance(value2, sqlite3.IntegrityError)
    finally:
        db.close()


def test_workers_hand_results_and_exceptions_back_to_the_loop() -> None:
    workers = Workers(max_workers=4)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        caller = threading.get_ident()
        ran_in = await workers.run(loop, threading.get_ident)
        assert ran_in != caller
        assert await asyncio.gather(*(workers.run(loop, pow, n, 2) for n in range(50))) == [n * n for n in range(50)]
        with pytest.raises(ZeroDivisionError):
            await workers.run(loop, divmod, 1, 0)
        # As an Executor: run_in_executor and submit work too.
        assert await loop.run_in_executor(workers, sum, [1, 2, 3]) == 6
        assert workers.submit(max, 3, 9).result(timeout=10) == 9

    try:
        asyncio.run(main())
        assert len(workers._threads) <= 4
    finally:
        workers.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        workers.submit(max, 1, 2)



def test_writes_commit_in_the_order_they_were_queued_whoever_commits_them(tmp_path: Path) -> None:
    # The testing API's reset relies on it: a log line the event loop queued before a reset must
    # not be committed after the reset's write, recreating the group it just deleted.
    db = Database(tmp_path / "s.db", SCHEMA)
    committed: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def first(conn: sqlite3.Connection) -> None:
        holding.set()
        release.wait(10)  # the writer thread holds the connection while the others queue up
        committed.append("first")

    def named(name: str) -> Any:
        def txn(conn: sqlite3.Connection) -> None:
            committed.append(name)
        return txn

    try:
        held = db.submit(first)
        assert holding.wait(10)
        queued = db.submit(named("submitted"))
        later = threading.Thread(target=db.write, args=(named("written"),))
        later.start()
        threading.Event().wait(0.05)  # real time: let that thread reach the busy connection
        release.set()
        later.join(10)
        held.result(10)
        queued.result(10)
        assert committed == ["first", "submitted", "written"]
    finally:
        release.set()
        db.close()
