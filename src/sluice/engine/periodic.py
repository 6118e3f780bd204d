"""Periodic work: run a function every `interval` (and when woken), on the Clock.

The interval is in AWS-seconds by default (the clock scales it; a ManualClock runs the work when
advanced past it), or in real seconds with `real_time=True` for work whose period is not an AWS
duration (flushing buffers). The work may block: give `in_executor(fn)` for a store read or write.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import TypeVar

from .. import realtime
from ..clock import Clock
from .lifecycle import CANCEL_WAIT, finish_or_cancel, supervise

log = logging.getLogger("sluice.engine")

FINAL_RUN_SECONDS = 2.0  # real seconds the final run (`run_last`) gets at least

R = TypeVar("R")


def in_executor(fn: Callable[[], R], executor: Executor | None = None) -> Callable[[], Awaitable[R]]:
    """`fn` as a coroutine function that runs it in `executor` (None: the loop's shared one)."""

    @functools.wraps(fn)
    async def run() -> R:
        return await asyncio.get_running_loop().run_in_executor(executor, fn)

    return run


class PeriodicTask:
    def __init__(self, name: str, clock: Clock, interval: float | Callable[[], float],
                 work: Callable[[], Awaitable[object]], *, real_time: bool = False, run_first: bool = True,
                 run_last: bool = False, wake: asyncio.Event | None = None) -> None:
        """`interval`: seconds between runs (a callable is asked before each wait); `run_first`:
        run once at start; `run_last`: run once more when stopping (e.g. a final flush);
        `wake`: an event that runs the work at once (and restarts the interval)."""
        self.name = name
        self.clock = clock
        self.interval = interval
        self.work = work
        self.real_time = real_time
        self.run_first = run_first
        self.run_last = run_last
        self.wake = wake or asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._paused = False  # a reset is emptying the store: no run starts (see `pause`)
        self._run_done: asyncio.Event | None = None  # set while no run is under way

    def _interval(self) -> float:
        return self.interval() if callable(self.interval) else self.interval

    async def start(self) -> None:
        self.begin()

    def begin(self) -> None:
        """`start` for a caller that is not a coroutine (on the running loop)."""
        self._stopping = False
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(supervise(self.name, self.clock, self._run), name=f"sluice-{self.name}")

    def request_stop(self) -> None:
        self._stopping = True
        self.wake.set()  # a wait ends now; a run under way finishes (stop's grace bounds it)

    async def stop(self, grace: float) -> None:
        self.request_stop()
        if self._task is not None:
            await finish_or_cancel({self._task}, grace)
            self._task = None
        if self.run_last:  # bounded too: a final export to a collector that never answers must not hold the exit
            final = asyncio.get_running_loop().create_task(self.run_once())
            for task in await realtime.wait_tasks({final}, max(grace, FINAL_RUN_SECONDS)):
                log.warning("periodic task %s: its final run did not finish in time", self.name)
                task.cancel()

    async def pause(self) -> None:
        """For a reset: no run starts from now on, and a run under way (in a worker thread,
        usually) is waited for, up to a second, so that it writes before the reset, not after."""
        self._paused = True
        if self._run_done is not None and not self._run_done.is_set():
            await realtime.wait(self._run_done, CANCEL_WAIT)

    def resume(self) -> None:
        self._paused = False

    async def run_once(self) -> None:
        """Run the work now; a failure is logged with the task's name, not raised."""
        if self._paused:
            return
        done = self._run_done = asyncio.Event()
        with self.clock.working():
            try:
                await self.work()
            except Exception:  # one bad run must not end the task
                log.exception("periodic task %s failed", self.name)
            finally:
                done.set()

    async def _run(self) -> None:
        if self.run_first and not self._stopping:
            await self.run_once()
        while not self._stopping:
            self.wake.clear()
            if self.real_time:
                await realtime.wait(self.wake, self._interval())
            else:
                await self.clock.sleep(self._interval(), self.wake)
            if self._stopping:
                return
            await self.run_once()
