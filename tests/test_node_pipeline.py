"""A Node.js function failing in the S3 -> Lambda -> retries -> DLQ pipeline, in process on a
manual clock: the same async engine as for Python, so the same three attempts 60 s and 120 s
apart, then the dead-letter message with AWS's attributes. No real sleeps: time moves only when
the test advances it."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sluice.clock import ManualClock
from sluice.server import Sluice

from .lambda_helpers import ROLE, read_jsonl
from .manual_clock import ctx, run_manual
from .node_helpers import zip_files

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

# Records each attempt (its request id and the object key) in a file, then fails.
FAILING = """
const fs = require('node:fs');
exports.handler = async (event, context) => {
  const key = event.Records[0].s3.object.key;
  fs.appendFileSync(process.env.ATTEMPTS, JSON.stringify({ id: context.awsRequestId, key }) + '\\n');
  throw new Error(`cannot process ${key}`);
};
"""


def test_a_failing_node_function_gets_three_attempts_then_its_dlq_message(tmp_path: Path) -> None:
    attempts_file = tmp_path / "attempts.jsonl"

    async def scenario(app: Sluice, clock: ManualClock) -> None:
        lam: Any = app.services["lambda"]
        sqs: Any = app.services["sqs"]
        s3: Any = app.services["s3"]
        dlq = sqs.operation("CreateQueue")(ctx("sqs"), QueueName="node-dlq")["QueueUrl"]
        dlq_arn = sqs.operation("GetQueueAttributes")(ctx("sqs"), QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        fn_arn = lam.operation("CreateFunction")(
            ctx("lambda"), FunctionName="node-fails", Role=ROLE, Runtime="nodejs20.x", Handler="index.handler",
            Code={"ZipFile": zip_files({"index.js": FAILING})}, DeadLetterConfig={"TargetArn": dlq_arn},
            Environment={"Variables": {"ATTEMPTS": str(attempts_file)}})["FunctionArn"]
        lam.operation("AddPermission")(ctx("lambda"), FunctionName="node-fails", StatementId="s3",
                                       Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                                       SourceArn="arn:aws:s3:::uploads")
        s3.operation("CreateBucket")(ctx("s3"), Bucket="uploads")
        s3.operation("PutBucketNotificationConfiguration")(ctx("s3"), Bucket="uploads", NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:*"]}]})
        s3.operation("PutObject")(ctx("s3"), Bucket="uploads", Key="photo.jpg", Body=io.BytesIO(b"jpeg"))

        await clock.run_until_idle()  # S3's notification, then the first attempt: a real node process
        assert len(read_jsonl(attempts_file)) == 1
        await clock.advance(59.9)
        assert len(read_jsonl(attempts_file)) == 1
        await clock.advance(0.1)
        assert len(read_jsonl(attempts_file)) == 2  # exactly 60 s later
        await clock.advance(119.9)
        assert len(read_jsonl(attempts_file)) == 2
        await clock.advance(0.1)
        attempts = read_jsonl(attempts_file)
        assert len(attempts) == 3  # exactly 120 s after the second, and no more
        assert len({a["id"] for a in attempts}) == 1  # every attempt of one event has its request id
        assert {a["key"] for a in attempts} == {"photo.jpg"}

        got = await sqs.operation("ReceiveMessage")(ctx("sqs"), QueueUrl=dlq, MessageAttributeNames=["All"])
        [message] = got["Messages"]
        [record] = json.loads(message["Body"])["Records"]
        assert (record["eventName"], record["s3"]["object"]["key"]) == ("ObjectCreated:Put", "photo.jpg")
        assert message["MessageAttributes"] == {
            "RequestID": {"DataType": "String", "StringValue": attempts[0]["id"]},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": "cannot process photo.jpg"},
        }
        await clock.advance(3600)
        assert len(read_jsonl(attempts_file)) == 3

    run_manual(tmp_path, scenario, max_environments=2)
