"""SQS's background work on the engine, in process, on a manual clock (`Settings(clock="manual")`):
the server's own composition (Sluice.build) with a real store; time moves only when the test
advances it, so each assertion is about what the clock's schedule ran, with no real sleeps.

- a message move task moves its rate's worth of messages per second of the clock, and nothing
  once cancelled;
- a move task that cannot tell where a message came from fails before moving anything;
- the retention sweep runs every 30 s of the clock;
- stopping the engine answers a parked long poll at once (no signal handler in SQS);
- messages visible since the same moment are received oldest first.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sluice.clock import ManualClock
from sluice.protocol.context import RequestContext
from sluice.server import Sluice
from sluice.services.sqs.service import SqsService

from .manual_clock import run_manual

MARGIN = 0.001  # clock seconds past a due time: float sums of clock times are not exact


def ctx() -> RequestContext:
    return RequestContext(request_id="test-sqs", host_id="test", account_id="000000000000", region="us-east-1",
                          service="sqs", endpoint="http://127.0.0.1")


def run(tmp_path: Path, body: Callable[[SqsService, ManualClock, Sluice], Awaitable[None]]) -> None:
    """Start the services and the engine of a manual-clock server, run `body`, stop it all."""
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        sqs = app.services["sqs"]
        assert isinstance(sqs, SqsService)
        await body(sqs, clock, app)

    run_manual(tmp_path, scenario)


def arn_of(sqs: SqsService, url: str) -> str:
    attrs = sqs.queues.get_queue_attributes(ctx(), QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def with_dlq(sqs: SqsService) -> tuple[str, str]:
    """A dead-letter queue (URL, ARN) that a source queue redrives to."""
    dlq = sqs.queues.create_queue(ctx(), QueueName="dlq")["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    sqs.queues.create_queue(ctx(), QueueName="src", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})
    return dlq, dlq_arn


def visible(sqs: SqsService, arn: str) -> int:
    depth = sqs.depth(arn)
    assert depth is not None
    return depth.visible


def test_move_task_moves_its_rate_per_second_of_the_clock_and_stops_when_cancelled(tmp_path: Path) -> None:
    async def body(sqs: SqsService, clock: ManualClock, app: Sluice) -> None:
        dlq, dlq_arn = with_dlq(sqs)
        dest = sqs.queues.create_queue(ctx(), QueueName="dest")["QueueUrl"]
        dest_arn = arn_of(sqs, dest)
        for i in range(10):
            await sqs.sending.send_message(ctx(), QueueUrl=dlq, MessageBody=f"d{i}")

        def task() -> dict[str, Any]:
            return dict(sqs.move_tasks.list_message_move_tasks(ctx(), SourceArn=dlq_arn)["Results"][0])

        started = await sqs.move_tasks.start_message_move_task(
            ctx(), SourceArn=dlq_arn, DestinationArn=dest_arn, MaxNumberOfMessagesPerSecond=2)
        await clock.run_until_idle()
        assert (task()["Status"], task()["ApproximateNumberOfMessagesMoved"]) == ("RUNNING", 2)  # the first step
        assert (visible(sqs, dest_arn), visible(sqs, dlq_arn)) == (2, 8)

        await clock.advance(1 - MARGIN)
        assert task()["ApproximateNumberOfMessagesMoved"] == 2  # the next step is due 2 / (2 per s) later
        await clock.advance(2 * MARGIN)
        assert task()["ApproximateNumberOfMessagesMoved"] == 4  # exactly one more step
        await clock.advance(1 - 2 * MARGIN)
        assert task()["ApproximateNumberOfMessagesMoved"] == 4
        await clock.advance(2 * MARGIN)
        assert task()["ApproximateNumberOfMessagesMoved"] == 6

        cancelled = sqs.move_tasks.cancel_message_move_task(ctx(), TaskHandle=started["TaskHandle"])
        assert cancelled == {"ApproximateNumberOfMessagesMoved": 6}
        await clock.advance(60)
        assert (task()["Status"], task()["ApproximateNumberOfMessagesMoved"]) == ("CANCELLED", 6)
        assert "TaskHandle" not in task()
        assert (visible(sqs, dest_arn), visible(sqs, dlq_arn)) == (6, 4)

    run(tmp_path, body)


def test_move_task_without_a_rate_moves_everything_at_once_then_completes(tmp_path: Path) -> None:
    async def body(sqs: SqsService, clock: ManualClock, app: Sluice) -> None:
        dlq, dlq_arn = with_dlq(sqs)
        dest = sqs.queues.create_queue(ctx(), QueueName="dest")["QueueUrl"]
        dest_arn = arn_of(sqs, dest)
        for start in range(0, 250, 10):
            await sqs.sending.send_message_batch(ctx(), QueueUrl=dlq, Entries=[
                {"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)])
        await sqs.move_tasks.start_message_move_task(ctx(), SourceArn=dlq_arn, DestinationArn=dest_arn)
        await clock.run_until_idle()  # three steps of at most 100, and the one that finds nothing left
        [done] = sqs.move_tasks.list_message_move_tasks(ctx(), SourceArn=dlq_arn)["Results"]
        assert (done["Status"], done["ApproximateNumberOfMessagesMoved"], done["ApproximateNumberOfMessagesToMove"]) \
            == ("COMPLETED", 250, 250)
        assert (visible(sqs, dest_arn), visible(sqs, dlq_arn)) == (250, 0)

    run(tmp_path, body)


def test_move_task_back_to_an_unknown_source_fails_before_moving_anything(tmp_path: Path) -> None:
    async def body(sqs: SqsService, clock: ManualClock, app: Sluice) -> None:
        dlq, dlq_arn = with_dlq(sqs)
        for i in range(3):  # sent to the DLQ directly: no source queue to go back to
            await sqs.sending.send_message(ctx(), QueueUrl=dlq, MessageBody=f"m{i}")
        await sqs.move_tasks.start_message_move_task(ctx(), SourceArn=dlq_arn)
        await clock.run_until_idle()
        [failed] = sqs.move_tasks.list_message_move_tasks(ctx(), SourceArn=dlq_arn)["Results"]
        assert (failed["Status"], failed["FailureReason"], failed["ApproximateNumberOfMessagesMoved"]) == (
            "FAILED", "CouldNotDetermineMessageSource", 0)
        assert visible(sqs, dlq_arn) == 3

    run(tmp_path, body)


def test_retention_sweep_runs_every_30_seconds_of_the_clock(tmp_path: Path) -> None:
    async def body(sqs: SqsService, clock: ManualClock, app: Sluice) -> None:
        url = sqs.queues.create_queue(ctx(), QueueName="short", Attributes={"MessageRetentionPeriod": "60"})[
            "QueueUrl"]
        arn = arn_of(sqs, url)
        await sqs.sending.send_message(ctx(), QueueUrl=url, MessageBody="expires")
        await clock.advance(59)
        assert visible(sqs, arn) == 1  # the sweep at 30 s left it: still within its retention
        await clock.advance(31)
        assert visible(sqs, arn) == 0  # past its retention at 60 s, dropped by the sweep at 60 or 90 s

    run(tmp_path, body)


def test_stopping_the_engine_answers_a_parked_long_poll_at_once(tmp_path: Path) -> None:
    async def body(sqs: SqsService, clock: ManualClock, app: Sluice) -> None:
        url = sqs.queues.create_queue(ctx(), QueueName="empty")["QueueUrl"]
        queue_id = sqs.state.by_url(url, "us-east-1").id
        poll = asyncio.ensure_future(sqs.receiving.receive_message(ctx(), QueueUrl=url, WaitTimeSeconds=20))
        for _ in range(100):  # until it is parked (it reads once, finds nothing and waits)
            if poll.done() or sqs.state.waiters.has_waiting(queue_id):
                break
            await asyncio.sleep(0)
        assert not poll.done()
        app.engine.request_stop()  # what the server does when it is asked to stop
        assert await asyncio.wait_for(poll, 10) == {}  # 10 s: a hang guard (the poll asked for 20)
        # A new poll while the server stops does not wait either.
        assert await asyncio.wait_for(sqs.receiving.receive_message(ctx(), QueueUrl=url, WaitTimeSeconds=20), 10) == {}

    run(tmp_path, body)


def test_messages_visible_since_the_same_moment_are_received_oldest_first(tmp_path: Path) -> None:
    # The clock stands still: every message here becomes visible at the same millisecond, so the
    # order among them is the one a receive gives equals (the store's index gives it).
    async def body(sqs: SqsService, clock: ManualClock, app: Sluice) -> None:
        url = sqs.queues.create_queue(ctx(), QueueName="ties")["QueueUrl"]
        for i in range(5):
            await sqs.sending.send_message(ctx(), QueueUrl=url, MessageBody=f"m{i}")

        async def receive(n: int) -> list[dict[str, Any]]:
            got = await sqs.receiving.receive_message(ctx(), QueueUrl=url, MaxNumberOfMessages=n, WaitTimeSeconds=0)
            return list(got.get("Messages", []))

        first = await receive(2)
        assert [m["Body"] for m in first] == ["m0", "m1"]
        # Visible again at once (the same millisecond as the others): it is still the oldest.
        await sqs.receiving.change_message_visibility(ctx(), QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"],
                                                      VisibilityTimeout=0)
        rest = await receive(10)
        assert [m["Body"] for m in rest] == ["m1", "m2", "m3", "m4"]
        for m in rest:
            await sqs.receiving.delete_message(ctx(), QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        assert await receive(10) == []

    run(tmp_path, body)
