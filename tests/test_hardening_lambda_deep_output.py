"""A handler's output is untrusted: JSON nested 100,000 deep must not crash the engine where it
reads that output (destination records, ReportBatchItemFailures of an SQS event source mapping).

Such output is deeper than Sluice parses (protocol.safejson.MAX_DEPTH): a destination record
carries it as text, and a batch report that cannot be read fails the whole batch, as AWS does
with an unreadable report."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client
from .lambda_helpers import create
from .server import SluiceProcess

DEPTH = 100_000
DEEP = "[" * DEPTH + "]" * DEPTH
# awslambdaric sends bytes as they are (json.dumps would itself overflow at this depth).
HANDLER = f"""
def handler(event, context):
    return b"[" * {DEPTH} + b"]" * {DEPTH}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SluiceProcess]:
    """A server per test: its log holds only that test's story."""
    process = SluiceProcess(tmp_path / "data").start()
    yield process
    process.stop()


def new_queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"deep-{uuid.uuid4().hex[:10]}", Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive_one(sqs: Any, url: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        if got:
            return got[0]
    raise AssertionError("nothing arrived")


def event_state(server: SluiceProcess, request_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.endpoint}/_sluice/events/{request_id}", timeout=10) as r:
        return json.load(r)


def assert_healthy(server: SluiceProcess) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/_sluice/health", timeout=10) as r:
        assert r.status == 200
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]  # no engine loop or handler of the engine crashed


def test_async_success_destination_records_a_deep_response(server: SluiceProcess) -> None:
    lam, sqs = make_client("lambda", server.endpoint), make_client("sqs", server.endpoint)
    url, arn = new_queue(sqs)
    name = create(lam, HANDLER)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}})
    request_id = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    record = json.loads(receive_one(sqs, url)["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == DEEP  # deeper than Sluice parses: carried as text
    deadline = time.monotonic() + 30
    state = event_state(server, request_id)
    while not state.get("delivered") and time.monotonic() < deadline:  # marked just after the send
        time.sleep(0.1)
        state = event_state(server, request_id)
    assert (state["state"], state["condition"], state["delivered"]) == ("done", "Success", True)
    assert_healthy(server)


def test_sqs_mapping_fails_the_batch_of_a_deep_report(server: SluiceProcess) -> None:
    lam, sqs = make_client("lambda", server.endpoint), make_client("sqs", server.endpoint)
    dlq_url, dlq_arn = new_queue(sqs)
    url, arn = new_queue(sqs, VisibilityTimeout="1",
                         RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    name = create(lam, HANDLER)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    sqs.send_message(QueueUrl=url, MessageBody="deep")
    # The unreadable report fails the batch: the message comes back, and its redrive policy
    # moves it to the dead-letter queue.
    assert receive_one(sqs, dlq_url)["Body"] == "deep"
    assert_healthy(server)
