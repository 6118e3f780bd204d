"""Sluice's own Lambda engine on a manual clock (`Settings(clock="manual")`), in process, with
real execution environments and a real store: time moves only when the test advances it, and an
advance runs exactly the retries due in it. The issue's proof, end to end: an async event whose
every attempt fails runs once; +60 s, exactly the second attempt; +120 s, the third, then its
dead-letter queue gets the event. No real sleeps: the test waits only for the work itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sluice.clock import ManualClock
from sluice.engine.introspect import event_state
from sluice.protocol.context import RequestContext
from sluice.server import Sluice
from sluice.settings import Settings

from .lambda_helpers import ROLE, zip_code

FAILING = """
def handler(event, context):
    raise RuntimeError("always fails")
"""


def ctx(service: str) -> RequestContext:
    return RequestContext(request_id=f"test-{service}", host_id="test", account_id="000000000000",
                          region="us-east-1", service=service, endpoint="http://127.0.0.1")


def test_failing_event_runs_its_retries_exactly_when_the_manual_clock_reaches_them(tmp_path: Path) -> None:
    app = Sluice.build(Settings(data_dir=tmp_path / "data", clock="manual", max_environments=2))
    clock = app.clock
    assert isinstance(clock, ManualClock)
    lam: Any = app.services["lambda"]
    sqs: Any = app.services["sqs"]
    db = app.store.db

    async def main() -> None:
        for service in app.services.values():
            await service.start()
        await app.engine.start()
        try:
            dlq = sqs.queues.create_queue(ctx("sqs"), QueueName="dlq")["QueueUrl"]
            dlq_arn = sqs.queues.get_queue_attributes(ctx("sqs"), QueueUrl=dlq, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            lam.operation("CreateFunction")(ctx("lambda"), FunctionName="fails", Role=ROLE, Runtime="python3.12",
                                            Handler="handler.handler", Code={"ZipFile": zip_code(FAILING)},
                                            DeadLetterConfig={"TargetArn": dlq_arn})
            invoke = ctx("lambda")
            await lam.operation("Invoke")(invoke, FunctionName="fails", InvocationType="Event", Payload=b'{"n": 1}')
            start = clock.now()

            await clock.run_until_idle()  # the first attempt runs at once (a real handler process)
            state = event_state(db, invoke.request_id)
            assert state is not None and (state["state"], state["attempts"]) == ("queued", 1)
            assert state["nextAttemptAt"] == start + 60
            assert state["lastResult"]["errorMessage"] == "always fails"  # the real handler ran

            await clock.advance(59.9)
            assert event_state(db, invoke.request_id)["attempts"] == 1  # type: ignore[index]
            await clock.advance(0.1)
            state = event_state(db, invoke.request_id)
            assert state is not None and (state["state"], state["attempts"]) == ("queued", 2)  # exactly the second

            await clock.advance(119.9)
            assert event_state(db, invoke.request_id)["attempts"] == 2  # type: ignore[index]
            await clock.advance(0.1)
            state = event_state(db, invoke.request_id)
            assert state is not None
            assert (state["state"], state["condition"], state["attempts"]) == ("done", "RetriesExhausted", 3)
            assert state["delivered"]  # the outcome's delivery ran within the same advance

            got = await sqs.receiving.receive_message(ctx("sqs"), QueueUrl=dlq, MessageAttributeNames=["All"])
            [message] = got["Messages"]
            assert message["Body"] == '{"n": 1}'
            assert message["MessageAttributes"]["RequestID"]["StringValue"] == invoke.request_id
        finally:
            await app.engine.stop()
            for service in app.services.values():
                await service.stop()

    try:
        asyncio.run(main())
    finally:
        app.close()
