"""sluice.workers with `idle_exit` (the engine's pool): the threads of a burst end once idle,
down to `keep`, closing their store readers; a job queued meanwhile never loses its thread."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from sluice.store.db import Database, Migration
from sluice.workers import Workers

SCHEMA = [Migration("t", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")]


def _until(condition: object, what: str) -> None:
    """Threads end in real time (no Clock is involved): poll, with a deadline that only a hang reaches."""
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"still not {what}")
        time.sleep(0.01)


def test_a_burst_s_threads_end_when_idle_and_close_their_readers(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", SCHEMA)
    workers = Workers(8, "burst", idle_exit=0.05, keep=1)
    gate = threading.Event()
    readers: list[sqlite3.Connection] = []
    lock = threading.Lock()

    def read() -> int:
        gate.wait(30)  # every job of the burst at once: each gets a thread of its own
        conn = db.reader
        with lock:
            readers.append(conn)
        return len(db.query("SELECT * FROM t"))

    try:
        futures = [workers.submit(read) for _ in range(6)]
        assert len(workers._threads) == 6
        gate.set()
        assert [f.result(timeout=30) for f in futures] == [0] * 6
        _until(lambda: len(workers._threads) == 1, "down to the one thread kept")
        # The threads that ended took their readers with them; only the kept one's may be open.
        # (A thread freed early may have run a second job of the burst, with the same reader.)
        distinct = list({id(conn): conn for conn in readers}.values())
        assert len(distinct) >= 2
        _until(lambda: sum(not _closed(conn) for conn in distinct) <= 1, "the readers closed")
        # Jobs after the burst, and while threads leave, still run.
        assert [workers.submit(pow, n, 2).result(timeout=30) for n in range(20)] == [n * n for n in range(20)]
    finally:
        gate.set()
        workers.shutdown(wait=True)
        db.close()


def _closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return True
    return False


def test_without_idle_exit_threads_stay() -> None:
    workers = Workers(4)
    gate = threading.Event()
    try:
        futures = [workers.submit(gate.wait, 30) for _ in range(3)]
        gate.set()
        assert all(f.result(timeout=30) for f in futures)
        threads = list(workers._threads)
        assert len(threads) == 3
        assert workers.submit(max, 1, 2).result(timeout=30) == 2
        assert workers._threads == threads and all(t.is_alive() for t in threads)
    finally:
        workers.shutdown(wait=True)
