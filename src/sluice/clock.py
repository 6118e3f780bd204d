"""The one source of time, and the one place the engine waits.

Timestamps (Last-Modified, event times, log times) are wall-clock time, `Clock.now()`. The
engine's own waits (retry delays, backoff, event-age budgets, schedules, periodic work) are in
AWS-seconds ("engine seconds") and go through `Clock.sleep` / `Clock.wait_until`: `--time-scale N`
compresses them N times, and a `ManualClock` runs them only when a test (or `--clock manual`)
advances it. A due time stored in a row is `clock.now() + clock.engine_seconds(delay)`, so
`wait_until(due)` takes a deadline on the same scale as `now()`.

Waits that are real time by design (handler timeouts, long polls) live in `sluice.realtime`.

The engine's dispatchers tell the clock when they are working (`working()`, `work_started()` /
`work_finished()`): a `ManualClock` uses that to know when the work it released has finished,
so `advance(n)` returns only once everything due in those n seconds has run, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from . import realtime

CLOCK_MODES = ("real", "manual")


class Clock:
    """Wall-clock time plus a scale for the engine's own waits."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time scale must be positive")
        self.time_scale = time_scale
        self._busy = 0  # engine work under way (see `working`)

    # -- reading the time ------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the epoch: real time here, the test's time on a ManualClock."""
        return time.time()

    def utcnow(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now(), tz=dt.timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    @property
    def moves_by_itself(self) -> bool:
        """False on a ManualClock: a deadline in clock time comes only when the clock is advanced,
        so a real-time wait for it (a long poll waiting for a message's visibility) must not be
        timed by it, only woken by the advance (`ManualClock.when_moved`)."""
        return True

    def engine_seconds(self, seconds: float) -> float:
        """How long an engine wait of `seconds` AWS-seconds lasts on this clock."""
        return seconds / self.time_scale

    def engine_elapsed(self, since: float) -> float:
        """AWS-seconds elapsed since the clock time `since` (event ages, on the scaled clock)."""
        return (self.now() - since) * self.time_scale

    # -- waiting ---------------------------------------------------------------------------

    async def sleep(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """Wait `seconds` AWS-seconds (scaled), or until `wake` is set; True if woken early."""
        return await self.wait_until(self.now() + self.engine_seconds(seconds), wake)

    async def wait_until(self, deadline: float | None, wake: asyncio.Event | None = None) -> bool:
        """Wait until `now() >= deadline` (None: no deadline) or `wake` is set; True if woken.

        `wake` is not cleared: the caller clears it before it looks for work, so that a wake-up
        during the look is not lost."""
        if wake is None:
            if deadline is None:
                raise ValueError("wait_until needs a deadline or a wake event")
            await asyncio.sleep(max(0.0, deadline - self.now()))
            return False
        timeout = None if deadline is None else max(0.0, deadline - self.now())
        return await realtime.wait(wake, timeout)

    # -- engine work -----------------------------------------------------------------------

    def work_started(self) -> None:
        """Engine work began (a handler task was created, a dispatcher looks for work)."""
        self._busy += 1

    def work_finished(self) -> None:
        self._busy -= 1

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Mark a stretch of engine work, so a ManualClock waits for it before moving on."""
        self.work_started()
        try:
            yield
        finally:
            self.work_finished()

    @property
    def busy(self) -> int:
        """How many pieces of engine work are under way."""
        return self._busy


@dataclass(eq=False)
class _Waiter:
    """A `wait_until` on the manual clock: resumed at its deadline or by its wake event."""

    deadline: float  # inf: no deadline, only a wake event
    seq: int
    future: asyncio.Future[None]
    wake: asyncio.Event | None = None
    released: bool = False  # the clock resumed it (it holds a work token until its caller runs on)


class ManualClock(Clock):
    """A clock whose time moves only when it is advanced.

    `await advance(n)` runs exactly the work due in the next n seconds, in order: it steps to
    each waiter's deadline in turn, sets `now()` to it, resumes the waiters due then, and waits
    until the engine is idle (all work they started has finished) before the next step. Wake
    events still work at once (an Invoke runs now, without advancing). `monotonic()` is the same
    manual time, so durations measured by the engine are 0 unless the clock is advanced.
    """

    # Loop turns with no sign of activity before the engine counts as idle: a task resumed by an
    # asyncio.Event takes a few turns to run (event -> wait task -> waiter -> caller).
    IDLE_TURNS = 12
    # A hang guard: `run_until_idle` raises if the engine stays busy this long in real time.
    IDLE_TIMEOUT = 60.0

    def __init__(self, start: float = 1_700_000_000.0, time_scale: float = 1.0) -> None:
        super().__init__(time_scale)
        self._now = start
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._activity = 0  # moves on every sign of engine activity
        self._idle_event: asyncio.Event | None = None
        self._moved: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    @property
    def moves_by_itself(self) -> bool:
        return False

    def when_moved(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the loop) each time `advance` moves the time on: what waits in
        real time for a clock deadline (an SQS long poll for a message's visibility) looks again."""
        self._moved.append(callback)

    def _move_to(self, when: float) -> None:
        if when <= self._now:
            return
        self._now = when
        for callback in self._moved:
            callback()

    # -- waiting ---------------------------------------------------------------------------

    async def wait_until(self, deadline: float | None, wake: asyncio.Event | None = None) -> bool:
        if wake is None and deadline is None:
            raise ValueError("wait_until needs a deadline or a wake event")
        if wake is not None and wake.is_set():
            await asyncio.sleep(0)  # let others run: a caller looping on a set event must not spin
            return True
        if deadline is not None and deadline <= self._now:
            await asyncio.sleep(0)
            return False
        loop = asyncio.get_running_loop()
        waiter = _Waiter(float("inf") if deadline is None else deadline, next(self._seq), loop.create_future(), wake)
        self._waiters.append(waiter)
        self._touch()
        wake_task = loop.create_task(wake.wait()) if wake is not None else None
        try:
            if wake_task is None:
                await waiter.future
            else:
                await asyncio.wait((waiter.future, wake_task), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if wake_task is not None:
                wake_task.cancel()
            if not waiter.future.done():
                waiter.future.cancel()
            self._drop(waiter)
            if waiter.released:
                self.work_finished()  # the caller goes on synchronously: it is still "working"
            self._touch()
        return wake is not None and wake.is_set()

    def _drop(self, waiter: _Waiter) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _release(self, waiter: _Waiter) -> None:
        """Resume a waiter; it holds a work token until its caller has run on."""
        if waiter.released or waiter.future.done():
            return
        waiter.released = True
        self.work_started()
        waiter.future.set_result(None)

    # -- engine work -----------------------------------------------------------------------

    def work_started(self) -> None:
        super().work_started()
        self._touch()

    def work_finished(self) -> None:
        super().work_finished()
        self._touch()
        if self._busy == 0 and self._idle_event is not None:
            self._idle_event.set()

    def _touch(self) -> None:
        self._activity += 1

    # -- driving ---------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When the earliest waiter is due (None: nothing is waiting on time)."""
        live = [w.deadline for w in self._waiters if not w.released and w.deadline != float("inf")]
        return min(live) if live else None

    async def run_until_idle(self) -> None:
        """Run the work due now (and any work woken meanwhile) until the engine is idle."""
        started = time.monotonic()  # real: a guard against a test hanging, not engine time
        quiet = 0
        while quiet < self.IDLE_TURNS:
            if time.monotonic() - started > self.IDLE_TIMEOUT:
                raise TimeoutError(f"the engine is still busy after {self.IDLE_TIMEOUT:g} s ({self._busy} at work)")
            self._release_due()
            if self._busy > 0:
                self._idle_event = asyncio.Event()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._idle_event.wait(), 0.05)
                quiet = 0
                continue
            seen = self._activity
            await asyncio.sleep(0)
            quiet = quiet + 1 if seen == self._activity else 0

    def _release_due(self) -> None:
        """Resume the waiters due now, earliest deadline first (then in the order they began)."""
        now = self._now
        due = [w for w in self._waiters
               if not w.released and (w.deadline <= now or (w.wake is not None and w.wake.is_set()))]
        # Called on every loop turn of an advance: sort only what is due (usually nothing).
        for waiter in sorted(due, key=lambda w: (w.deadline, w.seq)):
            self._release(waiter)

    async def advance(self, seconds: float) -> int:
        """Move time on by `seconds`, running the work due on the way, step by step in order.

        Returns the number of steps: the distinct due times time stopped at on the way (the
        target itself counts when it is one of them)."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        target = self._now + seconds
        steps = 0
        await self.run_until_idle()
        while True:
            nxt = self.next_deadline()
            if nxt is None or nxt > target:
                break
            self._move_to(nxt)
            steps += 1
            await self.run_until_idle()
        self._move_to(target)
        await self.run_until_idle()
        return steps

    async def set_time(self, when: float) -> int:
        """Advance to the clock time `when` (not before now)."""
        return await self.advance(max(0.0, when - self._now))


def make_clock(mode: str, time_scale: float = 1.0) -> Clock:
    """The clock `--clock MODE` names: real (scaled by `time_scale`) or manual (starts at real now)."""
    if mode == "manual":
        return ManualClock(start=time.time(), time_scale=time_scale)
    if mode == "real":
        return Clock(time_scale)
    raise ValueError(f"unknown clock mode {mode!r}; one of {', '.join(CLOCK_MODES)}")
