"""S3's notification outbox on the engine, in process, on a manual clock (`Settings(clock="manual")`),
with a real store and the real SQS service as destination: time moves only when the test advances
it, and each advance runs exactly the deliveries due in it. No real sleeps: the test waits only
for the work itself (ManualClock.run_until_idle)."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sluice.clock import ManualClock
from sluice.engine.journey import Journeys
from sluice.protocol.context import RequestContext
from sluice.server import Sluice

from .lambda_helpers import ROLE, zip_code
from .manual_clock import run_manual

ACCOUNT = "000000000000"
QUEUE = "arrives-later"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE}"
S3_MAY_SEND = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
    "Resource": QUEUE_ARN}]})


NO_OP = """
def handler(event, context):
    return None
"""


def ctx(service: str) -> RequestContext:
    return RequestContext(request_id=f"test-{service}", host_id="test", account_id=ACCOUNT, region="us-east-1",
                          service=service, endpoint="http://127.0.0.1")


def run(tmp_path: Path, scenario: Callable[[Sluice, ManualClock], Awaitable[None]]) -> None:
    run_manual(tmp_path, scenario)


def s3(app: Sluice, operation: str, **params: Any) -> Any:
    """Call an S3 operation as the gateway does (the service finds the part that implements it)."""
    fn = app.services["s3"].operation(operation)
    assert fn is not None
    return fn(ctx("s3"), **params)


def notify_missing_queue(app: Sluice) -> None:
    """A bucket whose ObjectCreated events go to a queue that does not exist yet, and one upload."""
    s3(app, "CreateBucket", Bucket="events")
    s3(app, "PutBucketNotificationConfiguration", Bucket="events", SkipDestinationValidation=True,
       NotificationConfiguration={"QueueConfigurations": [{"QueueArn": QUEUE_ARN, "Events": ["s3:ObjectCreated:*"]}]})
    s3(app, "PutObject", Bucket="events", Key="k", Body=io.BytesIO(b"v"))


def notification(app: Sluice) -> dict[str, Any]:
    """The upload's one notification, as `sluice trace` shows it (from the journal)."""
    (journey,) = Journeys(lambda: app.store.db.reader).find("events/k")
    (note,) = journey["notifications"]
    assert note["target"] == QUEUE_ARN
    return note


def test_a_failed_notification_is_retried_exactly_when_due_then_delivered(tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        sqs: Any = app.services["sqs"]
        start = clock.now()
        notify_missing_queue(app)
        await clock.run_until_idle()  # the first attempt runs at once, and fails: no such queue
        note = notification(app)
        assert (note["state"], note["attempts"], note["finished"]) == ("pending", 1, start)
        assert note["error"].startswith("NotFound")

        # Backoff 1, 2, 4 AWS-seconds: each retry runs when due, not a moment before.
        for attempts, due in ((2, 1.0), (3, 3.0), (4, 7.0)):
            await clock.set_time(start + due - 0.01)
            assert notification(app)["attempts"] == attempts - 1
            await clock.set_time(start + due)
            note = notification(app)
            assert (note["state"], note["attempts"], note["finished"]) == ("pending", attempts, start + due)

        url = sqs.operation("CreateQueue")(ctx("sqs"), QueueName=QUEUE, Attributes={"Policy": S3_MAY_SEND})["QueueUrl"]
        await clock.set_time(start + 14.99)
        assert notification(app)["attempts"] == 4  # the queue exists, but the next try is not due yet
        await clock.set_time(start + 15.0)  # the fifth attempt, 8 s after the fourth
        note = notification(app)
        assert (note["state"], note["attempts"], note["finished"], note["error"]) == ("delivered", 5, start + 15.0,
                                                                                     None)
        got = await sqs.operation("ReceiveMessage")(ctx("sqs"), QueueUrl=url)
        [message] = got["Messages"]
        [record] = json.loads(message["Body"])["Records"]
        assert (record["eventName"], record["s3"]["object"]["key"]) == ("ObjectCreated:Put", "k")

    run(tmp_path, scenario)


def test_a_notification_nobody_takes_is_dropped_once_a_day_old(tmp_path: Path) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        start = clock.now()
        notify_missing_queue(app)
        await clock.run_until_idle()
        await clock.set_time(start + 86_400.0)  # 1 + 2 + ... 256, then every 300 s: still within a day
        note = notification(app)
        assert note["state"] == "pending"
        tried = note["attempts"]
        await clock.advance(300.0)  # the first attempt past a day fails for good
        note = notification(app)
        assert (note["state"], note["attempts"]) == ("dropped", tried + 1)
        assert note["error"].startswith("NotFound")
        await clock.advance(86_400.0)
        assert notification(app)["attempts"] == tried + 1  # a dropped notification is never tried again

    run(tmp_path, scenario)


FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:collects"


def test_a_run_of_notifications_to_a_function_keeps_one_event_each_source_checked(tmp_path: Path) -> None:
    """Notifications due for one function are delivered as a run (queued in one transaction):
    each still gets its own outcome, the allowed ones their own event, and one whose bucket the
    function's policy does not name is refused and retried alone. (Events due together end in
    no set order: the dispatcher runs them side by side, and AWS orders async events no more.)"""
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        lam: Any = app.services["lambda"]
        lam.operation("CreateFunction")(ctx("lambda"), FunctionName="collects", Role=ROLE, Runtime="python3.12",
                                        Handler="handler.handler", Code={"ZipFile": zip_code(NO_OP)})
        # Reserved concurrency 0: each queued event ends at once (no environment to start), and
        # its outcome keeps the event S3 sent.
        lam.operation("PutFunctionConcurrency")(ctx("lambda"), FunctionName="collects",
                                                ReservedConcurrentExecutions=0)
        lam.operation("AddPermission")(ctx("lambda"), FunctionName="collects", StatementId="s3",
                                       Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                                       SourceArn="arn:aws:s3:::allowed")
        config = {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": FUNCTION_ARN,
                                                    "Events": ["s3:ObjectCreated:*"]}]}
        for bucket in ("allowed", "refused"):
            s3(app, "CreateBucket", Bucket=bucket)
            s3(app, "PutBucketNotificationConfiguration", Bucket=bucket, SkipDestinationValidation=True,
               NotificationConfiguration=config)
        uploads = ["allowed/a1", "refused/r1", "allowed/a2", "allowed/a3"]
        for upload in uploads:  # no await in between: due together, delivered as one run
            bucket, _, key = upload.partition("/")
            s3(app, "PutObject", Bucket=bucket, Key=key, Body=io.BytesIO(b"v"))
        start = clock.now()
        await clock.run_until_idle()

        notes = {u: Journeys(lambda: app.store.db.reader).find(u)[0]["notifications"][0] for u in uploads}
        refused = notes.pop("refused/r1")
        assert (refused["state"], refused["attempts"], refused["deliveryId"]) == ("pending", 1, None)
        assert refused["error"].startswith("AccessDenied")
        assert [(n["state"], n["attempts"]) for n in notes.values()] == [("delivered", 1)] * 3
        # One event each, the event S3 sent as its payload.
        outcomes = app.store.db.query("SELECT request_id, request_payload FROM lambda_outcomes")
        keys = {o["request_id"]: json.loads(o["request_payload"])["Records"][0]["s3"]["object"]["key"]
                for o in outcomes}
        assert keys == {notes[f"allowed/{key}"]["deliveryId"]: key for key in ("a1", "a2", "a3")}

        # Once the function lets the other bucket invoke it, the refused one's retry gets through.
        lam.operation("AddPermission")(ctx("lambda"), FunctionName="collects", StatementId="s3-refused",
                                       Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                                       SourceArn="arn:aws:s3:::refused")
        await clock.set_time(start + 1.0)
        refused = Journeys(lambda: app.store.db.reader).find("refused/r1")[0]["notifications"][0]
        assert (refused["state"], refused["attempts"], refused["error"]) == ("delivered", 2, None)

    run(tmp_path, scenario)
