"""Dead-letter queues and destinations for async events, end to end with real queues (§3, §4)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import make_client
from .lambda_helpers import create, metric_sums
from .server import SluiceProcess

HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("Test exception (this is intentional)")
    return {"echo": event}
"""


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    server = SluiceProcess(tmp_path_factory.mktemp("dest") / "data", "--time-scale", "600").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lam(fast: SluiceProcess) -> Any:
    return make_client("lambda", fast.endpoint)


@pytest.fixture(scope="module")
def sqs(fast: SluiceProcess) -> Any:
    return make_client("sqs", fast.endpoint)


def queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_one(sqs: Any, url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"],
                                  AttributeNames=["All"]).get("Messages", [])
        if got:
            return got[0]
    raise AssertionError("nothing arrived")


def test_failed_event_lands_in_the_dlq_with_awss_attributes(lam: Any, sqs: Any) -> None:
    url, arn = queue(sqs)
    name = create(lam, HANDLER, DeadLetterConfig={"TargetArn": arn})
    payload = json.dumps({"fail": True, "n": 1})
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    message = receive_one(sqs, url)
    assert message["Body"] == payload
    attrs = message["MessageAttributes"]
    assert attrs["RequestID"] == {"DataType": "String", "StringValue": resp["ResponseMetadata"]["RequestId"]}
    assert attrs["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attrs["ErrorMessage"] == {"DataType": "String", "StringValue": "Test exception (this is intentional)"}
    assert message["Attributes"]["AWSTraceHeader"].startswith("Root=1-")


def test_success_record_in_an_sqs_destination(lam: Any, sqs: Any) -> None:
    url, arn = queue(sqs)
    name = create(lam, HANDLER)
    lam.put_function_event_invoke_config(FunctionName=name,
                                         DestinationConfig={"OnSuccess": {"Destination": arn}})
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"k": "v"}))
    record = json.loads(receive_one(sqs, url)["Body"])
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": resp["ResponseMetadata"]["RequestId"],
        "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST",
        "condition": "Success", "approximateInvokeCount": 1}
    assert record["requestPayload"] == {"k": "v"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"k": "v"}}


def test_failure_record_after_retries(lam: Any, sqs: Any) -> None:
    url, arn = queue(sqs)
    name = create(lam, HANDLER)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True}))
    record = json.loads(receive_one(sqs, url)["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_zero_reserved_concurrency_record_has_no_response(lam: Any, sqs: Any) -> None:
    url, arn = queue(sqs)
    name = create(lam, HANDLER)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    record = json.loads(receive_one(sqs, url)["Body"])
    assert record["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record and "responsePayload" not in record


def test_deleted_dlq_counts_dead_letter_errors_and_nothing_crashes(lam: Any, sqs: Any, fast: SluiceProcess) -> None:
    url, arn = queue(sqs)
    name = create(lam, HANDLER, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    sqs.delete_queue(QueueUrl=url)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True}))
    cloudwatch = make_client("cloudwatch", fast.endpoint)
    deadline = time.monotonic() + 30
    errors = 0.0
    while time.monotonic() < deadline and not errors:
        errors = metric_sums(cloudwatch, name, ("DeadLetterErrors",)).get("DeadLetterErrors", 0.0)
        time.sleep(0.1)
    assert errors == 1
    assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200  # the server still serves


def test_sluice_dlq_redrive_replays_every_message(lam: Any, sqs: Any, fast: SluiceProcess) -> None:
    import subprocess
    import sys

    from .lambda_helpers import zip_code

    url, arn = queue(sqs)
    name = create(lam, HANDLER, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    for i in range(3):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True, "i": i}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        if depth["Attributes"]["ApproximateNumberOfMessages"] == "3":
            break
        time.sleep(0.1)
    # The bug is fixed: the same events now succeed.
    lam.update_function_code(FunctionName=name, ZipFile=zip_code("def handler(e, c):\n    return e['i']\n"))
    proc = subprocess.run([sys.executable, "-m", "sluice", "dlq", "redrive", name + "-dlq-unused", "--to", name,
                           "--endpoint", fast.endpoint], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "NonExistentQueue" in proc.stderr + proc.stdout  # a clear error, no trace
    proc = subprocess.run([sys.executable, "-m", "sluice", "dlq", "redrive", url, "--to", name,
                           "--endpoint", fast.endpoint], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [x for x in proc.stdout.splitlines() if "->" in x]
    assert len(lines) == 3
    assert all(": Success after 1 attempt(s)" in x for x in lines)
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_failure_record_in_an_s3_destination_under_awss_key(lam: Any, fast: SluiceProcess) -> None:
    import re

    s3 = make_client("s3", fast.endpoint)
    bucket = f"dest-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    name = create(lam, HANDLER)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True}))
    deadline = time.monotonic() + 30
    keys: list[str] = []
    while time.monotonic() < deadline and not keys:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        time.sleep(0.1)
    assert len(keys) == 1
    assert re.fullmatch(rf"aws/lambda/async/{name}/\d{{4}}/\d{{2}}/\d{{2}}/"
                        r"\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}-[0-9a-f-]{36}", keys[0])
    record = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    assert record["requestContext"]["requestId"] == resp["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
