"""SQLite state with group commit.

All writes go through one writer connection. Callers hand it a function that runs inside a
transaction; whoever commits runs every function that is waiting, each in its own savepoint,
then commits them together with one fsync (synchronous=FULL). So a write is durable when `write`
returns, and concurrent writers share the cost of the fsync instead of queueing behind it.

Who commits: a thread calling `write` commits itself when the connection is free (it takes the
commit lock and drains the queue), so an uncontended write costs no thread hand-off; while
another thread commits, it waits for the lock and then commits whatever queued meanwhile, its
own write included (group commit). `submit`, which must not block (the event loop's writes),
queues its write and wakes the writer thread, which commits the same way. Writes commit in the
order they were queued, whoever commits them: a write never lands before one queued ahead of
it (the testing API's reset relies on it: a log line queued before the reset must not be
written after it).
Reads use one connection per thread and never block on the writer (WAL).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

from ..wakeup import Wakeup

log = logging.getLogger(__name__)

T = TypeVar("T")

class _Settles(Protocol):
    """Where a write's outcome goes: a Future, or `_Then`'s callback."""

    def done(self) -> bool: ...

    def set_result(self, value: Any) -> None: ...

    def set_exception(self, exception: BaseException | None) -> None: ...


class _Item(NamedTuple):
    """A write waiting to be committed (a tuple: one is made per write)."""

    fn: Callable[[sqlite3.Connection], Any]
    future: _Settles
    synced: bool = True  # committed with an fsync before `future` resolves (see `write`)


class _Outcome:
    """What `write` waits with. Whoever commits a write settles it while holding the commit
    lock, and `write` looks only once it holds that lock itself: so no Future is needed, whose
    condition variable and wait were a tenth of a single write's Python."""

    __slots__ = ("_done", "_ok", "_value")

    def __init__(self) -> None:
        self._done = False
        self._ok = False
        self._value: Any = None

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any) -> None:
        self._done, self._ok, self._value = True, True, value

    def set_exception(self, exception: BaseException | None) -> None:
        self._done, self._value = True, exception

    def result(self) -> Any:
        if not self._done:  # pragma: no cover - a commit settles every write it takes
            raise RuntimeError("write not committed")
        if not self._ok:
            raise self._value
        return self._value


class _Then:
    """What `submit_then` waits with: the part of a Future the commit uses, calling back."""

    __slots__ = ("_then", "_done")

    def __init__(self, then: Callable[[bool, Any], object]) -> None:
        self._then = then
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, value: Any) -> None:
        self._done = True
        self._then(True, value)

    def set_exception(self, exception: BaseException | None) -> None:
        self._done = True
        self._then(False, exception)


@dataclass(frozen=True)
class Migration:
    """One schema step. It runs once per database (its name is recorded in `schema_steps`);
    a released step never changes, so a data dir written by an older Sluice still opens."""

    name: str
    script: str


class Database:
    MAX_BATCH = 256

    def __init__(self, path: Path, migrations: Sequence[Migration]) -> None:
        names = [m.name for m in migrations]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:  # a step listed twice would run once: the list is wrong, say so
            raise ValueError(f"schema steps listed more than once: {', '.join(repeated)}")
        self.path = path
        self._migrations = tuple(migrations)
        self._local = threading.local()
        # Held by whoever runs a transaction on the writer connection (see the module's doc).
        self._commit_lock = threading.Lock()
        # Writes waiting, in order (deque's append and popleft are atomic), and the writer thread's
        # wake-ups: it takes a wake-up, not a write, so it never holds a write outside the lock
        # while another thread commits the ones queued after it.
        self._queue: deque[_Item] = deque()
        self._wakeup = Wakeup()  # the writer thread's (see sluice.wakeup)
        self._writer_conn = self._connect()
        self._writer_conn.execute("PRAGMA synchronous=FULL")
        self._migrate()
        # The steps (dozens on a new data dir) filled the writer's page cache with pages no
        # request needs: give that memory back; the pages are read again when used.
        self._writer_conn.execute("PRAGMA shrink_memory")
        self._closed = False
        self._thread = threading.Thread(target=self._writer_loop, name="sluice-db-writer", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _migrate(self) -> None:
        # Not waiting for an fsync (synchronous=NORMAL, as `write(synced=False)`), neither for
        # the steps' own table nor for the steps: they acknowledge nothing, a crash keeps them,
        # a power cut loses them whole (the WAL drops an unsynced transaction) and the next
        # start applies them again; and the first synced commit, which every acknowledged
        # write waits for, fsyncs the log they are in. `sluice up` on a fresh data dir waits
        # for them.
        conn = self._writer_conn
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            self._apply_pending(conn)
        finally:
            conn.execute("PRAGMA synchronous=FULL")

    def _apply_pending(self, conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_steps (name TEXT PRIMARY KEY)")
        done = {row[0] for row in conn.execute("SELECT name FROM schema_steps")}
        pending = [step for step in self._migrations if step.name not in done]
        if not pending:
            return
        # Every pending step in one transaction. A failed step rolls back the steps before it
        # too; the next start applies them all again, in order.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for step in pending:
                log.debug("applying schema step %s", step.name)
                for statement in _split_sql(step.script):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_steps(name) VALUES (?)", (step.name,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- reads ---------------------------------------------------------------------------

    @property
    def reader(self) -> sqlite3.Connection:
        held: _Reader | None = getattr(self._local, "reader", None)
        if held is None:
            conn = self._connect()
            # One per worker thread: keep each page cache small (the OS caches the file anyway).
            conn.execute("PRAGMA cache_size=-1024")
            held = self._local.reader = _Reader(conn)
        return held.conn

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.reader.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Row | None:
        return self.reader.execute(sql, params).fetchone()

    # -- writes --------------------------------------------------------------------------

    def write(self, fn: Callable[[sqlite3.Connection], T], *, synced: bool = True) -> T:
        """Run `fn` in a write transaction; return once it is committed to disk.

        An exception raised by `fn` rolls back only `fn`'s changes and is re-raised here.
        `synced=False`: commit it in a transaction of its own without waiting for the fsync
        (synchronous=NORMAL: safe from a process kill, and made durable by the next synced
        commit, which fsyncs the log it follows in); for the testing API's reset, where an fsync
        would be most of the time taken and losing it to a power cut loses nothing acknowledged.
        """
        if getattr(self._local, "committing", False):
            raise RuntimeError("nested Database.write from inside a write transaction")
        outcome = _Outcome()
        # Queued without waking the writer thread: this thread commits it, behind whatever was
        # queued before it, as soon as the connection is free (at once if it is).
        self._queue.append(_Item(fn, outcome, synced))
        with self._commit_lock:
            if not outcome.done():  # done: another committer took it with its batch
                self._commit_queued()
        result: T = outcome.result()
        return result

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Like `write`, without waiting: the future resolves once committed."""
        future: Future[T] = Future()
        self._queue.append(_Item(fn, future))
        self._wakeup.set()
        return future

    def submit_then(self, fn: Callable[[sqlite3.Connection], T], then: Callable[[bool, Any], object]) -> None:
        """Like `submit`, calling `then(True, result)` or `then(False, exception)` once committed
        (in the committing thread), without a Future: the event loop's writes (SQS) pass a
        callback that wakes the loop, and a Future's condition and callbacks cost as much again."""
        self._queue.append(_Item(fn, _Then(then)))
        self._wakeup.set()

    def _writer_loop(self) -> None:
        while True:
            self._wakeup.wait()
            with self._commit_lock:
                self._commit_queued()
            if self._closed:  # what was queued before `close` is committed by now
                return

    def _next_queued(self) -> _Item | None:
        # Only the commit lock's holder takes writes: what it sees queued stays there. (Not
        # popleft's IndexError: every commit ends on an empty queue, and raising costs.)
        return self._queue.popleft() if self._queue else None

    def _commit_queued(self) -> None:
        """Commit what is queued, in order: synced writes together (up to MAX_BATCH), an unsynced
        one alone. The commit lock is held."""
        conn = self._writer_conn
        self._local.committing = True
        try:
            item = self._next_queued()
            while item is not None:
                if not item.synced:
                    self._run_unsynced(conn, item)
                    item = self._next_queued()
                    continue
                batch = [(item.fn, item.future)]
                item = None
                while len(batch) < self.MAX_BATCH:
                    nxt = self._next_queued()
                    if nxt is None:
                        break
                    if not nxt.synced:
                        item = nxt  # after this batch, alone
                        break
                    batch.append((nxt.fn, nxt.future))
                self._run_batch(conn, batch)
        finally:
            self._local.committing = False

    def _run_unsynced(self, conn: sqlite3.Connection, item: _Item) -> None:
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            self._run_batch(conn, [(item.fn, item.future)])
        finally:
            conn.execute("PRAGMA synchronous=FULL")

    def _run_batch(
        self, conn: sqlite3.Connection, batch: list[tuple[Callable[[sqlite3.Connection], Any], _Settles]]
    ) -> None:
        if len(batch) == 1:
            self._run_one(conn, *batch[0])
            return
        outcomes: list[tuple[_Settles, bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, future in batch:
                conn.execute("SAVEPOINT op")
                try:
                    result = fn(conn)
                except BaseException as exc:  # noqa: BLE001 - whatever it is, the caller gets it; the batch goes on
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    outcomes.append((future, False, exc))
                else:
                    conn.execute("RELEASE op")
                    outcomes.append((future, True, result))
            conn.execute("COMMIT")
        except BaseException as exc:  # the commit itself failed: nobody's write is durable
            log.exception("store commit failed")
            self._failed(conn, batch, exc)
            return
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _run_one(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any], future: _Settles) -> None:
        """A batch of one (the usual case without concurrency): its transaction is its savepoint,
        so an error rolls the transaction back; two statements fewer than a savepoint's."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException as exc:  # noqa: BLE001 - whatever it is, the caller gets it
                try:
                    conn.execute("ROLLBACK")
                finally:
                    future.set_exception(exc)
                return
            conn.execute("COMMIT")
        except BaseException as exc:  # no transaction, or the commit failed: not durable
            log.exception("store commit failed")
            self._failed(conn, [(fn, future)], exc)
            return
        future.set_result(result)

    @staticmethod
    def _failed(conn: sqlite3.Connection, batch: list[tuple[Callable[[sqlite3.Connection], Any], _Settles]],
                exc: BaseException) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wakeup.set()
        self._thread.join(timeout=10)
        if not self._thread.is_alive():  # else it may still wait on it: the process is ending
            self._wakeup.close()
        with self._commit_lock:  # not under a thread that is committing
            self._writer_conn.close()


class _Reader:
    """A thread's reader connection, closed when the thread ends (its thread-local goes then).

    Not left to the connection's own finalizer: a sqlite3.Connection sits in a reference cycle
    (its statement cache refers back to it), so only a full garbage collection would free it,
    and with it the ~160 KB of schema and page cache SQLite holds per connection; a pool thread
    that ends when idle (sluice.workers) would leave that behind."""

    __slots__ = ("conn", "owner")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.owner = threading.get_ident()

    def __del__(self) -> None:
        # Only in the thread that read with it, as it ends: then nothing else can be using the
        # connection (closing one that another thread is querying crashes the sqlite3 module).
        # Elsewhere (the Database itself collected) the connection is left to the GC, as before.
        if threading.get_ident() == self.owner:
            self.conn.close()


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
