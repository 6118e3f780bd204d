"""The one source of time.

Timestamps (Last-Modified, event times, log times) are always real wall-clock time. The engine's
own waits (retry delays, backoff, event-age budgets, schedules) go through `engine_seconds`, which
`--time-scale N` compresses N times. Tests can use `VirtualClock` to drive waits by hand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time


class Clock:
    """Wall-clock time plus a scale for the engine's own waits."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time scale must be positive")
        self.time_scale = time_scale

    def now(self) -> float:
        """Seconds since the epoch, real time."""
        return time.time()

    def utcnow(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now(), tz=dt.timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def engine_seconds(self, seconds: float) -> float:
        """How long an engine wait of `seconds` AWS-seconds really lasts here."""
        return seconds / self.time_scale

    def engine_elapsed(self, since: float) -> float:
        """AWS-seconds elapsed since the wall-clock time `since` (event ages, on the scaled clock)."""
        return (self.now() - since) * self.time_scale

    async def engine_sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.engine_seconds(seconds))


class VirtualClock(Clock):
    """A clock whose time only moves when a test advances it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__(1.0)
        self._now = start

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
