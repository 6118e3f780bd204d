"""An in-process Sluice on a ManualClock: services and engine started, a scenario run, all stopped.

The engine tests drive time with `await clock.advance(seconds)` and assert on what ran: no real
sleeps, no server process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from sluice.clock import ManualClock
from sluice.protocol.context import RequestContext
from sluice.server import Sluice
from sluice.settings import Settings


def ctx(service: str, account: str = "000000000000") -> RequestContext:
    return RequestContext(request_id=f"test-{service}", host_id="test", account_id=account, region="us-east-1",
                          service=service, endpoint="http://127.0.0.1")


def run_manual(tmp_path: Path, scenario: Callable[[Sluice, ManualClock], Awaitable[None]], *,
               only: Sequence[str] | None = None, **settings: Any) -> None:
    """Build a server on a manual clock (`settings` as Settings' fields), start its services and
    engine, run `scenario`, stop it all. `only`: the names of the engine workers to start (None:
    all), for a scenario that advances days: every worker that wakes on a short period makes each
    advance step through it (CloudWatch alarms every 10 clock seconds, SQS pollers' recheck every
    30, the async invoker's look every 60: thousands of steps a day)."""
    app = Sluice.build(Settings(data_dir=tmp_path / "data", clock="manual", **settings))
    clock = app.clock
    assert isinstance(clock, ManualClock)
    if only is not None:
        app.engine.workers = [w for w in app.engine.workers if w.name in only]

    async def main() -> None:
        for service in app.services.values():
            await service.start()
        await app.engine.start()
        try:
            await scenario(app, clock)
        finally:
            await app.engine.stop()
            for service in app.services.values():
                await service.stop()

    try:
        asyncio.run(main())
    finally:
        app.close()
