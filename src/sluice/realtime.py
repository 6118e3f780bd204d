"""Waits that are real time by design, named in one place.

Everything the engine schedules (retries, backoff, event age, schedules, periodic work) waits on
the `Clock`, so `--time-scale` compresses it and a `ManualClock` drives it. These waits do not:
they measure something the outside world experiences in real seconds, whatever the clock says.

- a handler's timeout and an execution environment's start-up (runtime/),
- an SQS visibility timeout and a long poll (`WaitTimeSeconds`) a caller asked for,
- an HTTP/S delivery's request timeout, an OTLP export's interval,
- the grace a stopping server gives running work before it cuts it;
- and one reading, `wall()`: checks against a client's own clock (a signature's request time, a
  presigned URL's expiry), made with the client's real time whatever the server's clock says.

Code under engine/ and services/ that needs one of these uses this module (or says in a comment
why its wait is real), so `grep` finds every real wait in one look.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection


def wall() -> float:
    """Real wall-clock time (epoch seconds), for comparing with times a client set."""
    return time.time()


def monotonic() -> float:
    """Real seconds, for measuring real durations (how long a handler ran)."""
    return time.monotonic()


async def sleep(seconds: float) -> None:
    """Sleep `seconds` of real time."""
    await asyncio.sleep(seconds)


async def wait(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait for `event` at most `timeout` real seconds (None: for ever); True if it was set."""
    if event.is_set():
        return True
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        return event.is_set()
    return True


async def wait_tasks(tasks: Collection[asyncio.Task[None]], timeout: float) -> set[asyncio.Task[None]]:
    """Wait up to `timeout` real seconds for `tasks` to finish; the ones still running."""
    pending = {t for t in tasks if not t.done()}
    if not pending or timeout <= 0:
        return pending
    _, still = await asyncio.wait(pending, timeout=timeout)
    return still
