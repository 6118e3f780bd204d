"""The outbox dispatcher: durable rows due at a time -> a handler -> a policy decides retry / give up.

A service keeps *what* to deliver as rows with a due time (an outbox, a queue of events); the
dispatcher owns *when*. It asks its `DueSource` for the rows due now, runs the handler for each
(at most `concurrency` at a time, never two with the same key, never two of one group), and
sleeps on the Clock until the next row falls due or `wake` is set (new rows were committed, a
handler finished). The handler does the work and records the outcome durably: the row is
removed, or rescheduled to the due time its retry policy chose, or given up (dead-lettered).

Rows are at least once: a handler cut short (a crash, a stop) leaves its row due, and the next
look (after a restart) runs it again. A handler that raises is a bug: it is logged with the
dispatcher's name and its row is left alone for `crash_delay` AWS-seconds before it is tried again.

The source's two reads run in the loop's shared executor (or the one given), as a store read may
block; a hot source of quick indexed reads may run them on the loop (`inline_reads`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any, Generic, Protocol, TypeVar

from .. import realtime
from ..clock import Clock
from .lifecycle import CANCEL_WAIT, Signal, finish_or_cancel, supervise
from .policy import RESTART_BACKOFF, Retry

log = logging.getLogger("sluice.engine")

# Real seconds a reset waits for a dispatcher's running handlers before cancelling them: enough
# for a delivery (a few store writes), not for a handler that hangs.
PAUSE_GRACE = 1.0

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class DueSource(Protocol[T_co]):
    """Where a dispatcher finds its work (both methods may block: they run in an executor)."""

    def fetch_due(self, now: float, limit: int) -> Sequence[T_co]:
        """Up to `limit` rows due at clock time `now` (due <= now), the most overdue first."""
        ...

    def next_due(self, now: float) -> float | None:
        """The earliest due time after `now` (due > now), or None if nothing is scheduled."""
        ...


class OutboxDispatcher(Generic[T]):
    def __init__(self, name: str, clock: Clock, source: DueSource[T], handler: Callable[[T], Coroutine[Any, Any, None]], *,
                 key: Callable[[T], Hashable], concurrency: int, wake: asyncio.Event | Signal | None = None,
                 group: Callable[[T], Hashable | None] | None = None, recheck: float | None = None,
                 crash_delay: float = 1.0, executor: Executor | None = None, inline_reads: bool = False,
                 pause_grace: float = PAUSE_GRACE) -> None:
        """`key`: a row's identity (one handler per key at a time); `group`: rows of one group
        (e.g. a FIFO message group) run one at a time; `recheck`: AWS-seconds after which to look
        again even if nothing woke the dispatcher (a safety net); `executor`: where the source's
        reads run (None: the loop's shared executor); `inline_reads`: run them on the loop
        instead, for a hot queue whose reads are a few rows by index (SQLite WAL readers do not
        wait for the writer): a thread hop per look cost the Lambda async queue ~25% more CPU;
        `wake`: set when new rows are committed (a Signal if other threads set it);
        `pause_grace`: real seconds a reset lets running handlers finish before cancelling them
        (see `pause`)."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.name = name
        self.clock = clock
        self.source = source
        self.handler = handler
        self.key = key
        self.group = group
        self.concurrency = concurrency
        self._signal = wake if isinstance(wake, Signal) else None
        self.wake = wake.event if isinstance(wake, Signal) else wake or asyncio.Event()
        self.recheck = recheck
        self.crash_delay = crash_delay
        self.executor = executor
        self.inline_reads = inline_reads
        self.pause_grace = pause_grace
        self._running: dict[Hashable, asyncio.Task[None]] = {}
        self._settling: set[Hashable] = set()  # running keys whose slot was given back (see release_slot)
        self._busy_groups: set[Hashable] = set()
        self._finished: set[Hashable] = set()  # keys whose handler ended during the current look
        self._held: dict[Hashable, float] = {}  # key -> clock time before which a crashed row waits
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._paused = False  # a reset is emptying the store: start nothing (see `pause`)
        self._crashes = 0

    # -- for the owner ---------------------------------------------------------------------

    @property
    def running(self) -> Mapping[Hashable, asyncio.Task[None]]:
        """Handlers under way, by key."""
        return self._running

    @property
    def free(self) -> int:
        return self.concurrency - len(self._running) + len(self._settling)

    def release_slot(self, key: Hashable) -> None:
        """The handler for `key` is done with what its slot stands for (the Lambda invoker: an
        execution environment) and only records its outcome now: its slot may start another
        row meanwhile (call on the loop). The key stays running, so its row, still due until
        that record commits, is not started again. At most `concurrency` slots are given back
        at a time: a store slower than the handlers holds the next ones in their slots, so the
        handlers under way (and their rows in memory) stay bounded while a backlog drains."""
        if key in self._running and key not in self._settling and len(self._settling) < self.concurrency:
            self._settling.add(key)
            self.wake.set()

    def notify(self, rows: Iterable[T] = ()) -> None:
        """New rows may be due: look again (thread-safe). `rows`: rows the caller has just written,
        started at once where they can be (see `offer`), without waiting for a look."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.wake.set()  # not started yet: the first look finds them anyway
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._offer_all, tuple(rows))

    def _offer_all(self, rows: tuple[T, ...]) -> None:
        if not rows:
            self.wake.set()
            return
        for row in rows:
            # A row whose key is running is found by the look its handler's end triggers.
            if not self.offer(row) and self.key(row) not in self._running:
                self.wake.set()

    def offer(self, row: T) -> bool:
        """Run `row` now if a slot is free and it is not running already (call on the loop);
        True if it was started. For a row the caller has just written: it skips the look."""
        if self._stopping or self._paused or self.free <= 0:
            return False
        k = self.key(row)
        if k in self._running or k in self._held or self._group_busy(row):
            return False
        self._launch(k, row)
        return True

    # -- lifecycle (a Worker of the Engine) ---------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._signal is not None:
            self._signal.bind()
        self._stopping = False
        self._task = self._loop.create_task(supervise(self.name, self.clock, self._run), name=f"sluice-{self.name}")

    def request_stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()

    async def stop(self, grace: float) -> None:
        self.request_stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await finish_or_cancel(set(self._running.values()), grace)

    async def pause(self) -> None:
        """For a reset: start nothing from now on; the handlers under way get `pause_grace` real
        seconds to finish (a delivery in a worker thread cannot be cancelled: it is waited for,
        so that it writes before the reset, not after), then the rest are cancelled (a cancelled
        handler records nothing)."""
        self._paused = True
        running = await realtime.wait_tasks(set(self._running.values()), self.pause_grace)
        for task in running:
            task.cancel()
        await realtime.wait_tasks(running, CANCEL_WAIT)

    def resume(self) -> None:
        """After a reset: look again, at the emptied store."""
        self._paused = False
        self._held.clear()
        self.wake.set()

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self.wake.clear()  # before looking: a wake-up during the look is not lost
            try:
                with self.clock.working():
                    deadline = await self._look()
                self._crashes = 0
            except Exception:  # the source failed (a store error): log it, look again later
                self._crashes += 1
                log.exception("%s: looking for due work failed", self.name)
                decision = RESTART_BACKOFF.decide(self._crashes)
                delay = decision.delay if isinstance(decision, Retry) else 60.0
                deadline = self.clock.now() + self.clock.engine_seconds(delay)
            await self.clock.wait_until(deadline, self.wake)

    async def _look(self) -> float | None:
        """Start what is due; return when to look again (None: only when woken)."""
        now = self.clock.now()
        self._held = {k: until for k, until in self._held.items() if until > now}
        free = self.free
        self._finished = set()
        # Over-fetch by what is running: those rows are still due and would hide others.
        limit = free + len(self._running) if free > 0 else 0
        if self.inline_reads:
            rows, nxt = self._read(now, limit)
        else:
            rows, nxt = await asyncio.get_running_loop().run_in_executor(self.executor, self._read, now, limit)
        for row in rows:
            if free <= 0 or self._stopping or self._paused:
                break
            k = self.key(row)
            # A row whose handler ended during the read may have been read before its outcome
            # was committed: it is stale, and that handler's wake-up makes the next look see it.
            if k in self._running or k in self._finished or k in self._held or self._group_busy(row):
                continue
            self._launch(k, row)
            free -= 1
        candidates = [t for t in (nxt, *self._held.values()) if t is not None]
        if self.recheck is not None:
            candidates.append(now + self.clock.engine_seconds(self.recheck))
        return min(candidates) if candidates else None

    def _read(self, now: float, limit: int) -> tuple[Sequence[T], float | None]:
        rows = self.source.fetch_due(now, limit) if limit > 0 else ()
        return rows, self.source.next_due(now)

    def _group_busy(self, row: T) -> bool:
        return self.group is not None and (g := self.group(row)) is not None and g in self._busy_groups

    def _launch(self, k: Hashable, row: T) -> None:
        g = self.group(row) if self.group is not None else None
        if g is not None:
            self._busy_groups.add(g)
        self.clock.work_started()  # until the handler's task is done (see ManualClock)
        task = asyncio.get_running_loop().create_task(self.handler(row), name=f"sluice-{self.name}-{k}")
        self._running[k] = task
        task.add_done_callback(lambda t: self._done(k, g, t))

    def _done(self, k: Hashable, g: Hashable | None, task: asyncio.Task[None]) -> None:
        self._running.pop(k, None)
        self._settling.discard(k)
        if g is not None:
            self._busy_groups.discard(g)
        self._finished.add(k)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s: handler for %r failed; its row waits %g s", self.name, k, self.crash_delay,
                      exc_info=exc)
            self._held[k] = self.clock.now() + self.clock.engine_seconds(self.crash_delay)
        self.wake.set()
        self.clock.work_finished()


def in_executor_each(fn: Callable[[T], object], executor: Executor | None = None) -> Callable[[T], Coroutine[Any, Any, None]]:
    """A blocking per-row function as a dispatcher handler: it runs in `executor` (None: the
    loop's shared one). Cancelling the handler does not stop a thread already running it."""

    async def handle(row: T) -> None:
        await asyncio.get_running_loop().run_in_executor(executor, fn, row)

    return handle
