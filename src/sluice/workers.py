"""Worker threads: where blocking operations run, off the event loop (the gateway's requests,
and the engine's store reads and deliveries).

A `concurrent.futures.Executor` (the console, CORS and the engine's callers use it as one), with
a cheaper path for the request path: `run` hands the event loop an asyncio future that the worker
completes through `call_soon_threadsafe`. `loop.run_in_executor` costs, per call, a concurrent
Future with its condition variable, a second future chained to it, the executor's semaphore and
an inspect check that the callable is no coroutine function: about a tenth of a small
GetObject's CPU, for a hand-off that needs one wake-up of a thread (sluice.wakeup) and one of the loop.

Threads start on demand, up to `max_workers`, when no started one is idle (as the standard
executor does). They stay for the server's life, unless `idle_exit` is given: then a thread
beyond the first `keep` that waited that many (real) seconds without a job ends, and what it held
goes with it (its thread-local store reader among them, about 0.2 MB each). A burst, such as the
engine's start-up when every dispatcher reads its rows at once, then leaves no threads behind;
when the last extra thread has gone, the freed heap is handed back to the OS (glibc keeps it
otherwise, and the process's RSS would not shrink).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from .wakeup import Wakeup

T = TypeVar("T")

# A job: run `fn(*args)`, then `done(ok, value)` with its result or its exception.
_Job = tuple[Callable[..., Any], tuple[Any, ...], Callable[[bool, Any], None]]


class Workers(Executor):
    def __init__(self, max_workers: int, thread_name_prefix: str = "sluice-op", *,
                 idle_exit: float | None = None, keep: int = 1) -> None:
        self.max_workers = max_workers
        self.prefix = thread_name_prefix
        self.idle_exit = idle_exit
        self.keep = keep
        self._started = 0  # threads ever started: each one's name
        self._jobs: deque[_Job] = deque()  # under _lock
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # Started threads waiting for a job, each on its own wake-up (sluice.wakeup: woken
        # without holding the GIL); the last to wait is woken first (its caches are warm, and
        # the others stay idle long enough to end under `idle_exit`).
        self._waiting: list[Wakeup] = []
        # Threads that finished a job and are about to look for the next: a job queued now is
        # theirs, no new thread is started for it (under _lock).
        self._finishing = 0
        self._closed = False

    def run(self, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`fn(*args)` in a worker thread; the future (of `loop`) resolves with its outcome."""
        future: asyncio.Future[T] = loop.create_future()

        def done(ok: bool, value: Any) -> None:
            loop.call_soon_threadsafe(settle, future, ok, value)

        self._put((fn, args, done))
        return future

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        if not future.set_running_or_notify_cancel():  # pragma: no cover - a new future is never cancelled
            return future

        def done(ok: bool, value: Any) -> None:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        self._put(((lambda: fn(*args, **kwargs)) if kwargs else fn, () if kwargs else args, done))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
            if cancel_futures:  # jobs not started: drop them (their callers are gone with the loop)
                self._jobs.clear()
            waiting, self._waiting = self._waiting, []
        for wakeup in waiting:  # the others see `_closed` when their job is done
            wakeup.set()
        if wait:
            for thread in threads:
                thread.join()

    def _put(self, job: _Job) -> None:
        wakeup = None
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.append(job)
            if self._waiting:
                wakeup = self._waiting.pop()  # this job is that thread's (or a busy one's, sooner)
            elif self._finishing:
                pass  # a thread that just finished a job takes it as it looks for the next
            elif len(self._threads) < self.max_workers:
                self._start_thread()
            # else every thread is busy: the first to finish takes it
        if wakeup is not None:
            wakeup.set()

    def _work(self) -> None:
        wakeup = Wakeup()
        try:
            job = self._next(wakeup, finished=False)
            while job is not None:
                try:
                    _run(job, self._finish)
                except BaseException:  # an outcome's hand-over failed: this thread ends, and
                    with self._lock:   # no job waits for it (it had said it would take the next)
                        self._finishing -= 1
                        self._threads.remove(threading.current_thread())
                        if self._jobs and not self._waiting and not self._closed:
                            self._start_thread()
                    raise
                del job  # nothing of a job outlives it while the thread waits for the next
                job = self._next(wakeup, finished=True)
        finally:
            wakeup.close()

    def _start_thread(self) -> None:
        """One more thread (the lock is held)."""
        thread = threading.Thread(target=self._work, name=f"{self.prefix}_{self._started}", daemon=True)
        self._started += 1
        self._threads.append(thread)
        thread.start()

    def _finish(self) -> None:
        with self._lock:
            self._finishing += 1

    def _next(self, wakeup: Wakeup, finished: bool) -> _Job | None:
        """The next job; None once this thread should end (closed, or idle past `idle_exit`).
        `finished`: this thread has just said so (`_finish`)."""
        while True:
            with self._lock:
                if finished:
                    self._finishing -= 1
                    finished = False
                if self._jobs:
                    return self._jobs.popleft()
                if self._closed:
                    return None
                self._waiting.append(wakeup)
            # The idle wait is real time, not the Clock's: it bounds how long an unused
            # thread holds memory, which a test's clock has nothing to do with.
            if not wakeup.wait(self.idle_exit) and self._leave(wakeup):
                return None

    def _leave(self, wakeup: Wakeup) -> bool:
        """After an idle wait: end this thread unless a job was handed to it meanwhile (its
        wake-up is no longer waiting: then it looks again) or no more than `keep` would remain."""
        with self._lock:
            if self._closed or wakeup not in self._waiting or len(self._threads) <= self.keep:
                return False  # (once closed, it is woken, or finds the pool closed when it looks)
            self._waiting.remove(wakeup)
            leaving = threading.current_thread()
            self._threads.remove(leaving)
            last = len(self._threads) == self.keep
        if last:  # the pool is back to its size before the burst: hand the burst's memory back
            with contextlib.suppress(RuntimeError):  # closed meanwhile: the process is ending
                self._put((_trim_heap_after, (leaving,), _ignore))
        return True


def _trim_heap_after(leaving: threading.Thread) -> None:
    """Once `leaving` has ended (and its thread-locals with it), give the heap's free pages back
    to the OS (glibc's malloc_trim; elsewhere nothing)."""
    leaving.join()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _ignore(ok: bool, value: Any) -> None:
    pass


def _run(job: _Job, finish: Callable[[], None]) -> None:
    """Run the job; say the thread is about to be free, then hand the outcome over, last: the
    woken caller may queue its next job at once, which this thread then takes (no new thread)."""
    fn, args, done = job
    try:
        value = fn(*args)
    except BaseException as exc:  # noqa: BLE001 - the caller gets whatever it raised
        ok, value = False, exc
    else:
        ok = True
    finish()
    try:  # noqa: SIM105 - once a job: cheaper than contextlib.suppress's with-block
        done(ok, value)
    except RuntimeError:  # its event loop is closed: nobody waits for the outcome any more
        pass


def settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Resolve `future` (on its loop) with a worker's outcome: `value` if `ok`, else raise it.
    A future already done (cancelled: its caller went away) keeps what it has."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
