"""SQS event source mappings: the SQS event shape, deletes on success, partial batch failures."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import make_client
from .lambda_helpers import create

RECORDER = """
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "fail" in r["body"]]
    return {"batchItemFailures": failures}
"""


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


@pytest.fixture(scope="module")
def sqs(endpoint: str) -> Any:
    return make_client("sqs", endpoint)


def new_queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"esm-{uuid.uuid4().hex[:10]}", Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def events_in(path: Path, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            events = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
            if sum(len(e["Records"]) for e in events) >= count:
                return events
        time.sleep(0.05)
    raise AssertionError(f"handler saw fewer than {count} records")


def test_mapping_api(lam: Any, sqs: Any) -> None:
    _, arn = new_queue(sqs)
    name = create(lam, RECORDER, Environment={"Variables": {"OUT": "/dev/null"}})
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=5, Enabled=False)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["BatchSize"] == 5 and created["EventSourceArn"] == arn
    got = lam.get_event_source_mapping(UUID=created["UUID"])
    assert got["State"] == "Disabled"
    assert got["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]
    updated = lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=7)
    assert updated["BatchSize"] == 7
    with pytest.raises(ClientError) as exc:
        lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=11)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert lam.delete_event_source_mapping(UUID=created["UUID"])["State"] == "Deleting"
    with pytest.raises(ClientError) as exc:
        lam.get_event_source_mapping(UUID=created["UUID"])
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_messages_reach_the_function_and_successes_are_deleted(lam: Any, sqs: Any, tmp_path: Path) -> None:
    url, arn = new_queue(sqs, VisibilityTimeout="2")
    out = tmp_path / "events.jsonl"
    name = create(lam, RECORDER, Environment={"Variables": {"OUT": str(out)}})
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    sqs.send_message(QueueUrl=url, MessageBody="ok-1",
                     MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    sqs.send_message(QueueUrl=url, MessageBody="please fail")
    sqs.send_message(QueueUrl=url, MessageBody="ok-2")
    events = events_in(out, 3)
    record = next(r for e in events for r in e["Records"] if r["body"] == "ok-1")
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["messageAttributes"]["k"]["stringValue"] == "v"
    assert record["messageAttributes"]["k"]["dataType"] == "String"
    assert {"ApproximateReceiveCount", "SentTimestamp"} <= set(record["attributes"])
    assert record["md5OfBody"] and record["receiptHandle"] and record["messageId"]
    # The reported failure comes back after its visibility timeout; the successes never do.
    events = events_in(out, 4, timeout=30)
    bodies = [r["body"] for e in events for r in e["Records"]]
    assert bodies.count("please fail") >= 2
    assert bodies.count("ok-1") == 1 and bodies.count("ok-2") == 1
