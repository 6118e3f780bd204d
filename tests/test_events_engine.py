"""EventBridge's background work on a ManualClock, in process, with a real store: target retries
and schedule fires run exactly when the clock reaches them, in order, and only then.

The service and its engine workers are built as server.py builds them (`eventbridge_workers`);
the targets are a stand-in registered for SQS ARNs (`FlakyTargets`): `...:flaky` fails twice then
takes messages, `...:down` always fails, `...:dlq` and `...:ok` take everything. No real sleeps:
the tests wait only for the work the clock released.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sluice.clock import ManualClock
from sluice.engine.eventbridge import eventbridge_workers
from sluice.engine.lifecycle import Engine, Signal
from sluice.protocol.context import RequestContext
from sluice.schema import SCHEMA
from sluice.services.delivery import Deliveries, Delivery, DeliveryResult
from sluice.services.events.service import EventsService
from sluice.settings import Settings
from sluice.store import Store

ACCOUNT = "000000000000"
REGION = "us-east-1"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r"
START = 1_000_000.0  # the manual clock's start: small enough that fractions of a second stay exact


class FlakyTargets:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Delivery]] = []

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        self.calls.append((arn, delivery))
        if arn.endswith(":flaky") and sum(1 for a, _ in self.calls if a == arn) <= 2:
            return DeliveryResult.failed("Throttled", "busy")
        if arn.endswith(":down"):
            return DeliveryResult.failed("Unavailable", "down for maintenance")
        return DeliveryResult(True, str(uuid.uuid4()))

    def to(self, suffix: str) -> list[Delivery]:
        return [d for a, d in self.calls if a.endswith(suffix)]

    def counts(self, *suffixes: str) -> tuple[int, ...]:
        return tuple(len(self.to(s)) for s in suffixes)


class Rig:
    """The events service and its engine workers over `data_dir`, on `clock`."""

    def __init__(self, data_dir: Path, clock: ManualClock, targets: FlakyTargets) -> None:
        self.clock = clock
        self.store = Store(data_dir, SCHEMA)
        deliveries = Deliveries()
        deliveries.register("sqs", targets)
        outbox_due, schedules_due = Signal(), Signal()
        self.service = EventsService(self.store, clock, Settings(data_dir=data_dir), deliveries,
                                     outbox_changed=outbox_due.set, schedules_changed=schedules_due.set)
        self.engine = Engine(clock)
        for worker in eventbridge_workers(clock, self.service, outbox_due, schedules_due):
            self.engine.add(worker)
        self.ctx = RequestContext("r", "h", ACCOUNT, REGION, "events")

    def call(self, operation: str, **params: Any) -> Any:
        fn = self.service.operation(operation)
        assert fn is not None
        return fn(self.ctx, **params)

    def run(self, scenario: Callable[[], Awaitable[None]]) -> None:
        async def main() -> None:
            await self.engine.start()
            try:
                await scenario()
            finally:
                await self.engine.stop()

        try:
            asyncio.run(main())
        finally:
            self.store.close()


def test_target_retries_run_exactly_when_due_then_the_dead_letter_queue(tmp_path: Path) -> None:
    targets = FlakyTargets()
    rig = Rig(tmp_path / "data", ManualClock(START), targets)
    clock = rig.clock

    async def scenario() -> None:
        rig.call("PutRule", Name="r", EventPattern='{"source": ["app"]}')
        rig.call("PutTargets", Rule="r", Targets=[
            {"Id": "flaky", "Arn": f"{QUEUE}:flaky"},  # AWS's default policy: 1 s, 2 s, 4 s, ...
            {"Id": "down", "Arn": f"{QUEUE}:down", "DeadLetterConfig": {"Arn": f"{QUEUE}:dlq"},
             "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}},
        ])
        rig.call("PutEvents", Entries=[{"Source": "app", "DetailType": "T", "Detail": '{"n": 1}'}])

        await clock.run_until_idle()  # the first attempts run at once
        assert targets.counts(":flaky", ":down", ":dlq") == (1, 1, 0)
        assert rig.service.outbox.pending() == 2
        await clock.advance(0.5)
        assert targets.counts(":flaky", ":down", ":dlq") == (1, 1, 0)
        await clock.advance(0.5)  # 1 s after the first attempt: exactly the first retry
        assert targets.counts(":flaky", ":down", ":dlq") == (2, 2, 0)
        await clock.advance(1.5)
        assert targets.counts(":flaky", ":down", ":dlq") == (2, 2, 0)
        await clock.advance(0.5)  # 2 s later: the second retry, the last one `down` gets
        assert targets.counts(":flaky", ":down", ":dlq") == (3, 3, 1)
        assert rig.service.outbox.pending() == 0
        await clock.advance(86_400)  # a day later: nothing more
        assert targets.counts(":flaky", ":down", ":dlq") == (3, 3, 1)

    rig.run(scenario)
    flaky = targets.to(":flaky")
    assert json.loads(flaky[-1].body)["detail"] == {"n": 1}
    assert flaky[-1].source_arn == RULE_ARN and flaky[-1].principal == "events.amazonaws.com"
    [dead] = targets.to(":dlq")
    assert json.loads(dead.body)["detail"] == {"n": 1}
    assert {k: v.string_value for k, v in dead.attributes.items()} == {
        "RULE_ARN": RULE_ARN, "TARGET_ARN": f"{QUEUE}:down", "ERROR_CODE": "INTERNAL_ERROR",
        "ERROR_MESSAGE": "down for maintenance", "RETRY_ATTEMPTS": "2",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts"}


def test_event_age_ends_the_retries_on_the_clock(tmp_path: Path) -> None:
    """MaximumEventAgeInSeconds 60: the retries 1, 2, 4, ..., 32 s after each failure fit in a
    minute (attempts at 0, 1, 3, 7, 15, 31 s); the next one (64 s later) would not: given up at 31 s."""
    targets = FlakyTargets()
    rig = Rig(tmp_path / "data", ManualClock(START), targets)
    clock = rig.clock

    async def scenario() -> None:
        rig.call("PutRule", Name="r", EventPattern='{"source": ["app"]}')
        rig.call("PutTargets", Rule="r", Targets=[
            {"Id": "down", "Arn": f"{QUEUE}:down", "DeadLetterConfig": {"Arn": f"{QUEUE}:dlq"},
             "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60}}])
        rig.call("PutEvents", Entries=[{"Source": "app", "DetailType": "T", "Detail": "{}"}])
        await clock.run_until_idle()
        seen = []
        for _ in range(40):
            await clock.advance(1)
            seen.append(targets.counts(":down", ":dlq"))
        assert seen[0] == (2, 0) and seen[2] == (3, 0) and seen[6] == (4, 0) and seen[14] == (5, 0)
        assert seen[29] == (5, 0) and seen[30] == (6, 1) and seen[-1] == (6, 1)

    rig.run(scenario)
    [dead] = targets.to(":dlq")
    assert dead.attributes["EXHAUSTED_RETRY_CONDITION"].string_value == "MaximumEventAgeInSeconds"
    assert dead.attributes["RETRY_ATTEMPTS"].string_value == "5"


def scheduled(targets: FlakyTargets) -> list[dict[str, Any]]:
    events = [json.loads(d.body) for d in targets.to(":ok")]
    assert all(e["detail-type"] == "Scheduled Event" and e["source"] == "aws.events" for e in events)
    assert len({e["id"] for e in events}) == len(events)
    return events


def test_schedule_fires_exactly_at_each_minute_and_stops_when_disabled(tmp_path: Path) -> None:
    targets = FlakyTargets()
    rig = Rig(tmp_path / "data", ManualClock(START), targets)
    clock = rig.clock

    async def scenario() -> None:
        rig.call("PutRule", Name="tick", ScheduleExpression="rate(1 minute)")
        rig.call("PutTargets", Rule="tick", Targets=[{"Id": "q", "Arn": f"{QUEUE}:ok"}])
        await clock.run_until_idle()
        assert scheduled(targets) == []
        await clock.advance(59.5)
        assert scheduled(targets) == []
        await clock.advance(0.5)
        assert len(scheduled(targets)) == 1
        await clock.advance(240)
        assert len(scheduled(targets)) == 5  # one a minute, each at its minute
        rig.call("DisableRule", Name="tick")
        await clock.advance(600)
        assert len(scheduled(targets)) == 5
        rig.call("EnableRule", Name="tick")
        await clock.advance(60)
        assert len(scheduled(targets)) == 6

    rig.run(scenario)
    stamps = [e["time"] for e in scheduled(targets)]
    assert stamps[:5] == [iso(START + 60 * n) for n in range(1, 6)]
    assert stamps[5] == iso(START + 300 + 600 + 60)
    assert {tuple(e["resources"]) for e in scheduled(targets)} == {(f"arn:aws:events:{REGION}:{ACCOUNT}:rule/tick",)}


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_time_scale_compresses_the_schedule(tmp_path: Path) -> None:
    """--time-scale 600: rate(1 minute) fires every 0.1 s of clock time."""
    targets = FlakyTargets()
    rig = Rig(tmp_path / "data", ManualClock(START, time_scale=600), targets)
    clock = rig.clock

    async def scenario() -> None:
        rig.call("PutRule", Name="tick", ScheduleExpression="rate(1 minute)")
        rig.call("PutTargets", Rule="tick", Targets=[{"Id": "q", "Arn": f"{QUEUE}:ok"}])
        await clock.advance(0.05)
        assert scheduled(targets) == []
        await clock.advance(0.5)
        assert len(scheduled(targets)) == 5

    rig.run(scenario)


def test_schedule_survives_restart_without_a_burst(tmp_path: Path) -> None:
    """Fires missed while the server is down are made up once at the next start, not one by one."""
    targets = FlakyTargets()
    first = Rig(tmp_path / "data", ManualClock(START), targets)

    async def before() -> None:
        first.call("PutRule", Name="tick", ScheduleExpression="rate(1 minute)")
        first.call("PutTargets", Rule="tick", Targets=[{"Id": "q", "Arn": f"{QUEUE}:ok"}])
        await first.clock.advance(180)
        assert len(scheduled(targets)) == 3

    first.run(before)
    # Ten minutes down: ten fires missed.
    second = Rig(tmp_path / "data", ManualClock(START + 180 + 600), targets)

    async def after() -> None:
        await second.clock.run_until_idle()
        assert len(scheduled(targets)) == 4  # the missed fire, once
        await second.clock.advance(59.5)
        assert len(scheduled(targets)) == 4
        await second.clock.advance(0.5)
        assert len(scheduled(targets)) == 5  # then the schedule again, a minute on

    second.run(after)
    assert [e["time"] for e in scheduled(targets)][3:] == [iso(START + 780), iso(START + 840)]
