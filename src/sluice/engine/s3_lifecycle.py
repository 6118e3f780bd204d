"""S3 lifecycle on the Clock: the buckets' rules applied once a lifecycle day, at midnight UTC.

AWS evaluates lifecycle rules once a day and an object expires at the first midnight UTC after
its creation plus the rule's days; so this worker runs at start (to catch up on midnights passed
while Sluice was down) and then at every midnight of the Clock, and asks S3 to apply what is due
at exactly that midnight (`apply(at)`): S3 knows no time, the worker knows no rules.

With `--time-scale N` a lifecycle day is 86400/N clock seconds (its midnights are the multiples
of that since the epoch); a ManualClock runs the midnights its advance passes, in order.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from ..clock import Clock
from .lifecycle import finish_or_cancel, supervise

log = logging.getLogger("sluice.engine")

DAY = 86_400.0
PAUSE_GRACE = 5.0  # real seconds a run under way gets to finish when the engine pauses


class S3Lifecycle:
    name = "s3-lifecycle"

    def __init__(self, clock: Clock, apply: Callable[[float], object]) -> None:
        """`apply(at)`: apply what is due at the clock time `at` (blocking: run in an executor)."""
        self.clock = clock
        self.apply = apply
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def day(self) -> float:
        return self.clock.engine_seconds(DAY)

    def next_midnight(self, after: float) -> float:
        """The first lifecycle midnight strictly after the clock time `after`."""
        day = self.day()
        return (math.floor(after / day) + 1) * day

    async def start(self) -> None:
        self.resume()

    def resume(self) -> None:
        """Start (again) on the running loop: a run now, then one at every midnight."""
        self._stopping = False
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(supervise(self.name, self.clock, self._run),
                                                            name=f"sluice-{self.name}")

    async def pause(self) -> None:
        """Stand still while the store is emptied (the testing API's reset): a run under way
        finishes first (its transactions check every row again, so none outlives the reset)."""
        await self.stop(PAUSE_GRACE)

    def request_stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def stop(self, grace: float) -> None:
        self.request_stop()
        if self._task is not None:
            await finish_or_cancel({self._task}, grace)
            self._task = None

    async def run_at(self, at: float) -> None:
        """Apply what is due at `at`; a failure is logged, and the next midnight tries again."""
        with self.clock.working():
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.apply, at)
            except Exception:  # one bad run must not end lifecycle
                log.exception("S3 lifecycle run at %.0f failed", at)

    async def _run(self) -> None:
        at = self.clock.now()
        while not self._stopping:
            await self.run_at(at)
            at = self.next_midnight(at)
            # Wait for the midnight itself (not a duration), so the run sees exactly that time.
            await self.clock.wait_until(at, self._wake)
