"""The S3 -> Lambda -> retries -> DLQ pipeline, built with real clients, for the tracing tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .conftest import make_client
from .lambda_helpers import create, unique

# Prints the trace header it was given, then fails (or not, per the event's key).
FAILING = """
import os

def handler(event, context):
    print("trace=" + os.environ.get("_X_AMZN_TRACE_ID", ""))
    key = event["Records"][0]["s3"]["object"]["key"] if "Records" in event else ""
    if "ok" in key:
        return {"ok": True}
    raise Exception("boom " + key)
"""


@dataclass
class Pipeline:
    endpoint: str
    bucket: str
    function: str
    function_arn: str
    dlq_url: str
    dlq_arn: str
    s3: Any
    lam: Any
    sqs: Any


def build(endpoint: str, source: str = FAILING, *, retries: int = 2, dead_letter: bool = True,
          **function_params: Any) -> Pipeline:
    s3, lam, sqs = (make_client(s, endpoint) for s in ("s3", "lambda", "sqs"))
    dlq_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    extra: dict[str, Any] = dict(function_params)
    if dead_letter:
        extra["DeadLetterConfig"] = {"TargetArn": dlq_arn}
    name = create(lam, source, **extra)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=retries)
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    bucket = f"trace-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"Id": "to-fn", "LambdaFunctionArn": fn_arn,
                                          "Events": ["s3:ObjectCreated:*"]}]})
    return Pipeline(endpoint, bucket, name, fn_arn, dlq_url, dlq_arn, s3, lam, sqs)


def dead_letters(p: Pipeline, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait for `count` DLQ messages (received, not deleted)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += p.sqs.receive_message(QueueUrl=p.dlq_url, WaitTimeSeconds=1, MaxNumberOfMessages=10,
                                     VisibilityTimeout=300, MessageAttributeNames=["All"],
                                     MessageSystemAttributeNames=["AWSTraceHeader"]).get("Messages", [])
    assert len(got) == count, f"{len(got)} DLQ message(s) after {timeout} s"
    return got


def sluice_cli(*args: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "sluice", *args, "--endpoint", endpoint],
                          capture_output=True, text=True, timeout=60)


def trace_json(target: str, endpoint: str, *extra: str) -> dict[str, Any]:
    done = sluice_cli("trace", target, "--json", *extra, endpoint=endpoint)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_trace(target: str, endpoint: str, done: Any, timeout: float = 30.0) -> dict[str, Any]:
    """Poll `sluice trace --json` until `done(journey)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        body = trace_json(target, endpoint)
        if done(body["journeys"][0]) or time.monotonic() > deadline:
            return body["journeys"][0]
        time.sleep(0.2)
