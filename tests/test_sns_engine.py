"""SNS's outbox on the engine, in process on a manual clock (`Settings(clock="manual")`), with a
real store, a real http endpoint on loopback, real SQS and a real Lambda function: time moves only
when the test advances it, so a retry runs exactly when its delay is reached, and after
`run_until_idle()` every delivery that was due has run (nothing left to wait for)."""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sluice.clock import ManualClock
from sluice.protocol.context import RequestContext
from sluice.server import Sluice
from sluice.services.deferred import DeferredService
from sluice.services.sns.service import SnsService

from .lambda_helpers import ROLE, read_jsonl, zip_code
from .manual_clock import run_manual

ACCOUNT = "000000000000"
REGION = "us-east-1"


def ctx(service: str) -> RequestContext:
    return RequestContext(request_id=f"test-{service}", host_id="test", account_id=ACCOUNT, region=REGION,
                          service=service, endpoint="http://127.0.0.1")


class Hook:
    """An http endpoint that takes confirmations (200) and fails every notification (500)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.received.append(body)
                self.send_response(500 if body["Type"] == "Notification" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def notifications(self) -> list[str]:
        return [m["MessageId"] for m in self.received if m["Type"] == "Notification"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def run(tmp_path: Path, body: Callable[[Sluice, ManualClock], Awaitable[None]]) -> None:
    run_manual(tmp_path, body, max_environments=2)


def test_http_retries_run_exactly_when_the_manual_clock_reaches_them(tmp_path: Path, hook: Hook) -> None:
    async def body(app: Sluice, clock: ManualClock) -> None:
        sns = app.services["sns"]
        assert isinstance(sns, DeferredService)  # built on its first use (services/deferred.py)
        sns = sns.built()
        assert isinstance(sns, SnsService)
        sqs: Any = app.services["sqs"]
        dlq = sqs.operation("CreateQueue")(ctx("sqs"), QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.operation("GetQueueAttributes")(ctx("sqs"), QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        topic = sns.topics.create_topic(ctx("sns"), Name="retried")["TopicArn"]
        policy = {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 20, "maxDelayTarget": 40}}
        sub = sns.subscriptions.subscribe(ctx("sns"), TopicArn=topic, Protocol="http", Endpoint=hook.url, ReturnSubscriptionArn=True,
                            Attributes={"DeliveryPolicy": json.dumps(policy),
                                        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})["SubscriptionArn"]
        await clock.run_until_idle()  # the SubscriptionConfirmation goes out at once
        [confirmation] = hook.received
        assert sns.subscriptions.confirm_subscription(ctx("sns"), TopicArn=topic, Token=confirmation["Token"]) == {
            "SubscriptionArn": sub}

        message_id = sns.publishing.publish(ctx("sns"), TopicArn=topic, Message="fails")["MessageId"]
        await clock.run_until_idle()
        assert hook.notifications() == [message_id]  # the first attempt, at once
        await clock.advance(19.5)
        assert len(hook.notifications()) == 1
        await clock.advance(0.5)
        assert len(hook.notifications()) == 2  # exactly the first retry, 20 s later (linear: 20, then 40)
        await clock.advance(39.5)
        assert len(hook.notifications()) == 2
        await clock.advance(0.5)
        assert hook.notifications() == [message_id] * 3  # the last retry; then the dead-letter queue
        assert sns.outbox.counts() == (0, 0)  # no delivery left, no message kept

        got = await sqs.operation("ReceiveMessage")(ctx("sqs"), QueueUrl=dlq, MessageAttributeNames=["All"])
        [dead] = got["Messages"]
        assert json.loads(dead["Body"])["MessageId"] == message_id
        assert dead["MessageAttributes"]["ErrorCode"]["StringValue"] == "HTTP 500"
        await clock.advance(3600)
        assert len(hook.notifications()) == 3  # nothing more, however long

    run(tmp_path, body)


RECORDING_HANDLER = """
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""


def test_a_filtered_out_message_never_reaches_the_function(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"

    async def body(app: Sluice, clock: ManualClock) -> None:
        sns = app.services["sns"]
        assert isinstance(sns, DeferredService)  # built on its first use (services/deferred.py)
        sns = sns.built()
        assert isinstance(sns, SnsService)
        lam: Any = app.services["lambda"]
        fn_arn = lam.operation("CreateFunction")(
            ctx("lambda"), FunctionName="records", Role=ROLE, Runtime="python3.12", Handler="handler.handler",
            Code={"ZipFile": zip_code(RECORDING_HANDLER)}, Environment={"Variables": {"OUT": str(out)}},
        )["FunctionArn"]
        topic = sns.topics.create_topic(ctx("sns"), Name="filtered")["TopicArn"]
        sns.subscriptions.subscribe(ctx("sns"), TopicArn=topic, Protocol="lambda", Endpoint=fn_arn,
                      Attributes={"FilterPolicy": json.dumps({"kind": ["wanted"]})})
        sns.publishing.publish(ctx("sns"), TopicArn=topic, Message="filtered out",
                    MessageAttributes={"kind": {"DataType": "String", "StringValue": "unwanted"}})
        wanted = sns.publishing.publish(ctx("sns"), TopicArn=topic, Message="hello",
                             MessageAttributes={"kind": {"DataType": "String", "StringValue": "wanted"}})
        await clock.run_until_idle()  # every delivery due has run, and the function's invocations
        events = read_jsonl(out)
        assert [e["Records"][0]["Sns"]["MessageId"] for e in events] == [wanted["MessageId"]]
        assert sns.outbox.counts() == (0, 0)

    run(tmp_path, body)
