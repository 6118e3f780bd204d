"""The Clock and the ManualClock: every engine wait goes through them; a manual clock advanced
by N seconds runs exactly the waits due in those N seconds, in order, and nothing else."""

from __future__ import annotations

import asyncio

import pytest

from sluice.clock import Clock, ManualClock, make_clock


def test_engine_seconds_are_scaled() -> None:
    clock = Clock(time_scale=60)
    assert clock.engine_seconds(120) == 2
    with pytest.raises(ValueError):
        Clock(time_scale=0)


def test_real_clock_wait_returns_true_when_woken() -> None:
    async def main() -> tuple[bool, bool]:
        clock = Clock(time_scale=1000)  # 1 AWS-second = 1 ms
        wake = asyncio.Event()
        asyncio.get_running_loop().call_soon(wake.set)
        woken = await clock.sleep(3600, wake)
        timed_out = await clock.sleep(1, asyncio.Event())
        return woken, timed_out

    assert asyncio.run(main()) == (True, False)


def test_manual_clock_runs_waits_in_deadline_order_and_only_those_due() -> None:
    async def main() -> list[tuple[str, float]]:
        clock = ManualClock(start=1000.0)
        seen: list[tuple[str, float]] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            seen.append((name, clock.now()))

        tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 30), ("a", 10), ("b", 20), ("late", 100))]
        await clock.run_until_idle()
        assert seen == []
        await clock.advance(25)
        assert clock.now() == 1025.0
        after_25 = list(seen)
        await clock.advance(5)
        assert seen[len(after_25):] == [("c", 1030.0)]
        assert clock.next_deadline() == 1100.0
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return after_25

    assert asyncio.run(main()) == [("a", 1010.0), ("b", 1020.0)]


def test_manual_clock_waits_for_work_a_waiter_starts_before_the_next_step() -> None:
    """Work started by a waiter (here: a chain of retries, each 10 s after the previous one
    finished some real work) all runs within one advance, each step at its own time."""

    async def main() -> list[float]:
        clock = ManualClock(start=0.0)
        runs: list[float] = []

        async def chain() -> None:
            for _ in range(3):
                await clock.sleep(10)
                with clock.working():
                    await asyncio.sleep(0.01)  # real work in between (a handler, a commit)
                    runs.append(clock.now())

        task = asyncio.create_task(chain())
        await clock.advance(25)
        first = list(runs)
        await clock.advance(5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return first + runs[len(first):]

    assert asyncio.run(main()) == [10.0, 20.0, 30.0]


def test_manual_clock_wake_events_still_work_at_once() -> None:
    async def main() -> tuple[bool, float]:
        clock = ManualClock(start=0.0)
        wake = asyncio.Event()
        task = asyncio.create_task(clock.sleep(3600, wake))
        await clock.run_until_idle()
        wake.set()
        await clock.run_until_idle()
        assert task.done()
        return task.result(), clock.now()

    assert asyncio.run(main()) == (True, 0.0)


def test_manual_clock_never_goes_back_and_make_clock_names_modes() -> None:
    clock = ManualClock(start=5.0)
    with pytest.raises(ValueError):
        asyncio.run(clock.advance(-1))
    asyncio.run(clock.set_time(7.5))
    assert clock.now() == 7.5
    assert isinstance(make_clock("manual"), ManualClock)
    assert type(make_clock("real", 2.0)) is Clock
    with pytest.raises(ValueError):
        make_clock("sundial")
