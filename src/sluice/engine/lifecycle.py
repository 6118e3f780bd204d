"""The engine's background work, started and stopped in one place with one shutdown rule.

The composition root (server.py) builds one `Engine`, adds every background worker to it (outbox
dispatchers, periodic tasks, pollers, the execution environment pool) and starts and stops it.

The shutdown rule, the same for every worker:
1. `request_stop()` on every worker at once: nothing takes new work from then on (safe to call
   from a signal handler's callback, before the server drains its connections);
2. `stop(grace)`: work under way gets up to `grace` real seconds to finish and record its outcome;
3. what is still running is cancelled. A cancelled attempt recorded nothing, so its row is still
   due and runs again after the restart (at least once).
Workers are stopped in the reverse order of `add` (the execution environments, added first, go last).

A worker's loop that dies is logged with its name (`log.exception`) and restarted with backoff
(`supervise`), never silently gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar, runtime_checkable

from .. import realtime
from ..clock import Clock
from ..workers import Workers
from .policy import RESTART_BACKOFF, Retry

log = logging.getLogger("sluice.engine")

ENGINE_THREADS = 32
# Threads beyond the first that have had no work for this many real seconds end (with their
# store readers): the start-up burst, when every dispatcher reads its rows at once, would
# otherwise keep ~8 threads and their readers (~1.5 MB) for an idle server's life. A thread
# started again costs ~1 ms of CPU (its reader parses the schema), at most once per this period.
ENGINE_THREAD_IDLE_EXIT = 0.5
DEFAULT_GRACE = 2.0  # real seconds running work gets to finish when the server stops
CANCEL_WAIT = 1.0  # real seconds to let cancelled work unwind


class Worker(Protocol):
    """Background work the Engine starts and stops."""

    name: str

    async def start(self) -> None:
        """Begin (on the running event loop)."""

    def request_stop(self) -> None:
        """Take no new work from now on; returns at once (work under way goes on)."""

    async def stop(self, grace: float) -> None:
        """Stop: wait up to `grace` real seconds for work under way, then cancel the rest."""


@runtime_checkable
class Pausable(Protocol):
    """A worker that can stand still while the store is emptied (the testing API's reset)."""

    async def pause(self) -> None:
        """Start no new work, and cancel (or stop) the work under way."""

    def resume(self) -> None:
        """Take work again, looking at the store afresh."""


W = TypeVar("W", bound=Worker)
T = TypeVar("T")


class Resource:
    """A worker made of a start and a stop coroutine (e.g. the execution environment pool)."""

    def __init__(self, name: str, start: Callable[[], Awaitable[object]], stop: Callable[[], Awaitable[object]],
                 pause: Callable[[], Awaitable[object]] | None = None) -> None:
        """`pause`: what a reset does to it (the environment pool stops every environment)."""
        self.name = name
        self._start = start
        self._stop = stop
        self._pause = pause

    async def pause(self) -> None:
        if self._pause is not None:
            await self._pause()

    def resume(self) -> None:
        pass

    async def start(self) -> None:
        await self._start()

    def request_stop(self) -> None:
        pass

    async def stop(self, grace: float) -> None:
        await self._stop()


class _EngineThreads(ThreadPoolExecutor):
    """The engine's threads: sluice.workers' pool, whose threads end when idle (see
    ENGINE_THREAD_IDLE_EXIT). A ThreadPoolExecutor only because asyncio's default executor must
    be one; every call goes to the pool, the base class starts no thread."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self._pool = Workers(ENGINE_THREADS, "sluice-engine", idle_exit=ENGINE_THREAD_IDLE_EXIT, keep=1)

    def one_at_a_time(self) -> None:
        """What is submitted from now on runs in one thread, one job after the other, until
        `side_by_side`.

        The engine's start: every worker's first look at the store is submitted in the same
        turn of the loop, and each would start a thread of its own, with its own store
        connection (whose first query reads the whole schema): most of the engine's start-up
        CPU, as the server starts answering. In one thread they run one after the other, a
        fraction of a millisecond each; what is submitted later (deliveries) runs side by side."""
        self._pool.max_workers = 1

    def side_by_side(self) -> None:
        self._pool.max_workers = ENGINE_THREADS

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait, cancel_futures=cancel_futures)


class Engine:
    """Every background worker of one server: started, stopped, with one rule."""

    def __init__(self, clock: Clock, *, grace: float = DEFAULT_GRACE) -> None:
        self.clock = clock
        self.grace = grace
        self.workers: list[Worker] = []
        self._started = False
        self._stopping = False

    def add(self, worker: W) -> W:
        if self._started:
            raise RuntimeError("add workers before the engine starts")
        self.workers.append(worker)
        return worker

    async def start(self) -> None:
        self._started = True
        # The engine's blocking work (store reads and writes, deliveries into other services)
        # runs in the loop's default executor: size it for the dispatchers' concurrency, not
        # for the CPU count (asyncio's default is cores + 4, six threads on a 2-core machine).
        loop = asyncio.get_running_loop()
        threads = _EngineThreads()
        loop.set_default_executor(threads)
        threads.one_at_a_time()  # the workers' first looks (see there)
        for worker in self.workers:
            await worker.start()
        # After the first steps of the workers' tasks, queued before this: their first looks.
        loop.call_soon(threads.side_by_side)
        log.debug("engine started: %s", ", ".join(w.name for w in self.workers))

    def request_stop(self) -> None:
        """Every worker stops taking new work (call on the event loop)."""
        if self._stopping:
            return
        self._stopping = True
        for worker in reversed(self.workers):
            worker.request_stop()

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """Every worker stands still for the body (a reset emptying the store): nothing starts,
        the work under way is cancelled and records nothing, the execution environments stop.
        On exit each worker looks at the store again. The environments go last, once nothing
        can ask for one."""
        pausable = [w for w in reversed(self.workers) if isinstance(w, Pausable)]
        # All at once, so none starts work while another waits for its own to end (each stops
        # taking work before its first wait); the resources (environments) after them.
        workers = [w for w in pausable if not isinstance(w, Resource)]
        resources = [w for w in pausable if isinstance(w, Resource)]
        try:
            await asyncio.gather(*(w.pause() for w in workers))
            for resource in resources:
                await resource.pause()
            yield
        finally:
            for worker in pausable:
                worker.resume()

    async def stop(self) -> None:
        """Stop every worker; returns within about `grace` + a second or two whatever is running."""
        self.request_stop()
        if not self._started:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        for worker in reversed(self.workers):
            try:
                await worker.stop(max(0.1, deadline - loop.time()))
            except Exception:  # one worker failing to stop must not keep the others running
                log.exception("stopping %s failed", worker.name)
        self._started = False


class Signal:
    """A wake-up any thread may give (`set()`), that the engine waits on (`event`)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Attach to the running loop (a worker's `start` calls this)."""
        self._loop = asyncio.get_running_loop()

    def set(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self.event.set()  # not started yet: nothing waits, the flag is enough
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:  # no loop in this thread
            on_loop = False
        if on_loop:
            self.event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self.event.set)


async def supervise(name: str, clock: Clock, body: Callable[[], Awaitable[None]]) -> None:
    """Run `body` until it returns (it was asked to stop); if it raises, log it loudly and start
    it again after a backoff, so that a bug in a loop never silently ends its work."""
    crashes = 0
    while True:
        try:
            await body()
            return
        except Exception:
            crashes += 1
            decision = RESTART_BACKOFF.decide(crashes)
            delay = decision.delay if isinstance(decision, Retry) else 60.0
            log.exception("engine loop %s crashed (%d time(s)); restarting in %g s", name, crashes, delay)
            await clock.sleep(delay)


async def finish_or_cancel(tasks: set[asyncio.Task[None]], grace: float) -> None:
    """The shutdown rule for a worker's running tasks: up to `grace` real seconds to finish,
    then cancelled (and given a moment to unwind)."""
    pending = await realtime.wait_tasks({t for t in tasks if not t.done()}, grace)
    for task in pending:
        task.cancel()
    await realtime.wait_tasks(pending, CANCEL_WAIT)
