"""Periodic tasks and the Engine's supervision under a ManualClock: no real sleeps."""

from __future__ import annotations

import asyncio

from sluice.clock import ManualClock
from sluice.engine.lifecycle import Engine, supervise
from sluice.engine.periodic import PeriodicTask, in_executor


def test_periodic_task_runs_at_start_then_every_interval_of_engine_time() -> None:
    clock = ManualClock(start=0.0)
    runs: list[float] = []

    async def main() -> None:
        engine = Engine(clock)
        engine.add(PeriodicTask("sampler", clock, 60.0, in_executor(lambda: runs.append(clock.now())),
                                run_last=True))
        await engine.start()
        await clock.run_until_idle()
        assert runs == [0.0]
        await clock.advance(59)
        assert runs == [0.0]
        await clock.advance(130)
        assert runs == [0.0, 60.0, 120.0, 180.0]
        await engine.stop()

    asyncio.run(main())
    assert runs[-1] == 189.0  # run_last: once more when stopping (a final flush)


def test_a_wake_runs_the_work_at_once_and_a_failing_run_does_not_end_the_task(caplog) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock(start=0.0)
    runs: list[float] = []

    async def work() -> None:
        runs.append(clock.now())
        if len(runs) == 1:
            raise RuntimeError("first run fails")

    async def main() -> None:
        wake = asyncio.Event()
        task = PeriodicTask("evaluator", clock, lambda: 10.0, work, wake=wake)
        await task.start()
        await clock.run_until_idle()
        wake.set()
        await clock.run_until_idle()
        await clock.advance(10)
        await task.stop(1.0)

    asyncio.run(main())
    assert runs == [0.0, 0.0, 10.0]
    assert "periodic task evaluator failed" in caplog.text


def test_a_crashed_loop_is_logged_and_restarted_with_backoff(caplog) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock(start=0.0)
    starts: list[float] = []

    async def body() -> None:
        starts.append(clock.now())
        if len(starts) < 4:
            raise RuntimeError("loop bug")

    async def main() -> None:
        task = asyncio.create_task(supervise("flaky-loop", clock, body))
        await clock.advance(10)
        await task

    asyncio.run(main())
    assert starts == [0.0, 1.0, 3.0, 7.0]  # restarted after 1, 2, 4 s
    assert caplog.text.count("engine loop flaky-loop crashed") == 3
