"""Worker threads: where blocking operations run, off the event loop (the gateway's requests,
and the engine's store reads and deliveries).

A `concurrent.futures.Executor` (the console, CORS and the engine's callers use it as one), with
a cheaper path for the request path: `run` hands the event loop an asyncio future that the worker
completes through `call_soon_threadsafe`. `loop.run_in_executor` costs, per call, a concurrent
Future with its condition variable, a second future chained to it, the executor's semaphore and
an inspect check that the callable is no coroutine function: about a tenth of a small
GetObject's CPU, for a hand-off that needs one queue put and one wake-up of the loop.

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
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

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
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # started threads waiting for a job (under _lock)
        self._closed = False

    def run(self, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`fn(*args)` in a worker thread; the future (of `loop`) resolves with its outcome."""
        future: asyncio.Future[T] = loop.create_future()

        def done(ok: bool, value: Any) -> None:
            loop.call_soon_threadsafe(_settle, future, ok, value)

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
            with contextlib.suppress(queue.Empty):
                while True:
                    self._jobs.get_nowait()
        for _ in threads:
            self._jobs.put(None)
        if wait:
            for thread in threads:
                thread.join()

    def _put(self, job: _Job) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            if self._idle:
                self._idle -= 1  # this job is that thread's
            elif len(self._threads) < self.max_workers:
                thread = threading.Thread(target=self._work, name=f"{self.prefix}_{self._started}", daemon=True)
                self._started += 1
                self._threads.append(thread)
                thread.start()
            self._jobs.put(job)

    def _work(self) -> None:
        while True:
            try:
                # The idle wait is real time, not the Clock's: it bounds how long an unused
                # thread holds memory, which a test's clock has nothing to do with.
                job = self._jobs.get(timeout=self.idle_exit)
            except queue.Empty:
                if self._leave():
                    return
                continue
            if job is None:
                return
            _run(job, self._ready)
            del job  # nothing of a job outlives it while the thread waits for the next

    def _leave(self) -> bool:
        """After an idle wait: end this thread if more threads are free than jobs promised to
        them (so no queued job loses its thread) and more than `keep` would remain."""
        with self._lock:
            if self._closed or self._idle < 1 or len(self._threads) <= self.keep:
                return False  # (once closed, the thread waits for its stop marker)
            self._idle -= 1
            leaving = threading.current_thread()
            self._threads.remove(leaving)
            last = len(self._threads) == self.keep
        if last:  # the pool is back to its size before the burst: hand the burst's memory back
            with contextlib.suppress(RuntimeError):  # closed meanwhile: the process is ending
                self._put((_trim_heap_after, (leaving,), _ignore))
        return True

    def _ready(self) -> None:
        with self._lock:
            self._idle += 1


def _trim_heap_after(leaving: threading.Thread) -> None:
    """Once `leaving` has ended (and its thread-locals with it), give the heap's free pages back
    to the OS (glibc's malloc_trim; elsewhere nothing)."""
    leaving.join()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _ignore(ok: bool, value: Any) -> None:
    pass


def _run(job: _Job, ready: Callable[[], None]) -> None:
    """Run the job; say the thread is free, then hand the outcome over, last: the woken caller
    wants the GIL, which this thread gives up as soon as it waits for its next job."""
    fn, args, done = job
    try:
        value = fn(*args)
    except BaseException as exc:  # noqa: BLE001 - the caller gets whatever it raised
        ready()
        done(False, exc)
    else:
        ready()
        done(True, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
