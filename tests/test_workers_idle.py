"""sluice.workers with `idle_exit` (the engine's pool): the threads of a burst end once idle,
down to `keep`, closing their store readers; a job queued meanwhile never loses its thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from sluice.store.db import Database, Migration
from sluice.workers import Workers

SCHEMA = [Migration("t", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")]


def _until(condition: object, what: str) -> None:
    """Threads end in real time (no Clock is involved): poll, with a deadline only a hang reaches."""
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"still not {what}")
        time.sleep(0.01)


def test_a_burst_s_threads_end_when_idle_and_close_their_readers(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", SCHEMA)
    workers = Workers(8, "burst", idle_exit=0.05, keep=1)
    gate = threading.Event()
    readers: dict[threading.Thread, sqlite3.Connection] = {}
    lock = threading.Lock()

    def read() -> int:
        gate.wait(30)  # every job of the burst at once: each gets a thread of its own
        with lock:
            readers[threading.current_thread()] = db.reader
        return len(db.query("SELECT * FROM t"))

    try:
        futures = [workers.submit(read) for _ in range(6)]
        assert len(workers._threads) == 6
        gate.set()
        assert [f.result(timeout=30) for f in futures] == [0] * 6
        _until(lambda: len(workers._threads) == 1, "down to the one thread kept")
        # The threads that ended took their readers with them (closed as each thread ended; a
        # connection is looked at only once its thread has: never two threads on one). A thread
        # freed early may have run a second job of the burst: some threads never read.
        kept = workers._threads[0]
        ended = [thread for thread in readers if thread is not kept]
        assert len(ended) >= 1
        for thread in ended:
            thread.join(30)
            assert not thread.is_alive()
            assert _closed(readers[thread])
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


@pytest.mark.parametrize("idle_exit", [None, 0.001])
def test_jobs_queued_from_many_threads_at_once_each_run_once(idle_exit: float | None) -> None:
    # Threads wait on their own wake-ups (sluice.wakeup); a job queued while they wake, finish
    # or (with idle_exit) time out and leave must still run, once, on at most max_workers threads.
    workers = Workers(3, "many", idle_exit=idle_exit, keep=1)
    ran: list[int] = []
    lock = threading.Lock()

    def job(n: int) -> int:
        with lock:
            ran.append(n)
        return n

    def queue_some(start: int) -> list[int]:
        return [workers.submit(job, n).result(timeout=30) for n in range(start, start + 300)]

    try:
        results: list[list[int]] = []
        callers = [threading.Thread(target=lambda s=s: results.append(queue_some(s))) for s in range(0, 1800, 300)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=60)
        assert sorted(n for r in results for n in r) == list(range(1800))
        assert sorted(ran) == list(range(1800))
        assert workers._started <= 3 or idle_exit is not None  # idle threads may end and be replaced
        assert len(workers._threads) <= 3
    finally:
        workers.shutdown(wait=True)


def test_a_loop_waits_for_jobs_that_follow_one_another_on_one_thread() -> None:
    # Each job's caller queues the next as soon as it is woken: the thread that ran the last one
    # takes it, no thread is started per job.
    workers = Workers(8)

    async def chain() -> int:
        loop = asyncio.get_running_loop()
        total = 0
        for n in range(200):
            total += await workers.run(loop, abs, -n)
        return total

    try:
        assert asyncio.run(chain()) == sum(range(200))
        assert len(workers._threads) == 1
    finally:
        workers.shutdown(wait=True)
