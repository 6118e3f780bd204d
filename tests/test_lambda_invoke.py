"""Invoke through boto3 with real handlers in real execution environments."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import make_client
from .lambda_helpers import create, metric_sums
from .server import SluiceProcess


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def payload(resp: Any) -> Any:
    return json.loads(resp["Payload"].read())


def test_request_response_with_context(lam: Any) -> None:
    name = create(lam, """
        import os
        def handler(event, context):
            return {"event": event, "name": context.function_name, "memory": context.memory_limit_in_mb,
                    "arn": context.invoked_function_arn, "request": context.aws_request_id,
                    "remaining": context.get_remaining_time_in_millis() > 0,
                    "group": context.log_group_name, "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
                    "trace": os.environ.get("_X_AMZN_TRACE_ID", "")}
    """)
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"a": 1}))
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in resp
    out = payload(resp)
    assert out["event"] == {"a": 1}
    assert out["name"] == name
    assert out["memory"] == "128"
    assert out["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert out["request"] == resp["ResponseMetadata"]["RequestId"]
    assert out["remaining"] is True
    assert out["group"] == f"/aws/lambda/{name}"
    assert out["endpoint"].startswith("http://127.0.0.1:")
    assert out["trace"].startswith("Root=1-")


def test_unhandled_error_and_log_tail(lam: Any) -> None:
    name = create(lam, """
        def handler(event, context):
            print("about to fail")
            raise ValueError("boom")
    """)
    resp = lam.invoke(FunctionName=name, LogType="Tail")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    err = payload(resp)
    assert err["errorType"] == "ValueError"
    assert err["errorMessage"] == "boom"
    assert err["requestId"] == resp["ResponseMetadata"]["RequestId"]
    assert isinstance(err["stackTrace"], list)
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert "about to fail" in tail
    assert f"START RequestId: {err['requestId']} Version: $LATEST" in tail
    assert f"REPORT RequestId: {err['requestId']}\tDuration: " in tail


def test_timeout_reports_sandbox_timedout(lam: Any) -> None:
    name = create(lam, """
        import time
        def handler(event, context):
            time.sleep(10)
    """, Timeout=1)
    resp = lam.invoke(FunctionName=name)
    err = payload(resp)
    assert resp["FunctionError"] == "Unhandled"
    assert err["errorType"] == "Sandbox.Timedout"
    request_id = resp["ResponseMetadata"]["RequestId"]
    assert err["errorMessage"] == f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"


def test_process_exit_reports_runtime_exit_error(lam: Any) -> None:
    name = create(lam, """
        import sys
        def handler(event, context):
            sys.exit(3)
    """)
    err = payload(lam.invoke(FunctionName=name))
    assert err["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in err["errorMessage"]


def test_import_error(lam: Any) -> None:
    name = create(lam, "import not_a_module_anywhere\n\ndef handler(e, c):\n    return 1\n")
    err = payload(lam.invoke(FunctionName=name))
    assert err["errorType"] == "Runtime.ImportModuleError"
    assert err["errorMessage"].startswith("Unable to import module 'handler': ")


def test_invalid_json_payload_is_refused(lam: Any) -> None:
    name = create(lam, "def handler(e, c):\n    return 1\n")
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert exc.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_event_and_dry_run_status_codes(lam: Any) -> None:
    name = create(lam, "def handler(e, c):\n    return 1\n")
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204


def test_qualifiers_versions_and_aliases(lam: Any) -> None:
    from .lambda_helpers import zip_code

    name = create(lam, "def handler(e, c):\n    return 'one'\n")
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=zip_code("def handler(e, c):\n    return 'two'\n"))
    lam.create_alias(FunctionName=name, Name="stable", FunctionVersion="1")
    assert payload(lam.invoke(FunctionName=name)) == "two"
    by_version = lam.invoke(FunctionName=name, Qualifier="1")
    assert payload(by_version) == "one" and by_version["ExecutedVersion"] == "1"
    by_alias = lam.invoke(FunctionName=f"{name}:stable")
    assert payload(by_alias) == "one" and by_alias["ExecutedVersion"] == "1"


def test_zero_reserved_concurrency_throttles_sync_invoke(lam: Any) -> None:
    name = create(lam, "def handler(e, c):\n    return 1\n")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name)
    r = exc.value.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert r["Error"]["Code"] == "TooManyRequestsException"
    assert r["Error"]["Message"] == "Rate Exceeded."
    assert r["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_handler_uses_boto3_s3_unchanged(lam: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="in.txt", Body=b"hello from s3")
    name = create(lam, """
        import boto3
        s3 = boto3.client("s3")

        def handler(event, context):
            body = s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read().decode()
            s3.put_object(Bucket=event["bucket"], Key="out.txt", Body=body.upper())
            return body
    """)
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"bucket": bucket, "key": "in.txt"}))
    assert payload(resp) == "hello from s3"
    assert s3.get_object(Bucket=bucket, Key="out.txt")["Body"].read() == b"HELLO FROM S3"


def test_code_from_s3(lam: Any, s3: Any, bucket: str) -> None:
    from .lambda_helpers import ROLE, unique, zip_code

    s3.put_object(Bucket=bucket, Key="code.zip", Body=zip_code("def handler(e, c):\n    return 'from s3'\n"))
    name = unique()
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"S3Bucket": bucket, "S3Key": "code.zip"})
    assert payload(lam.invoke(FunctionName=name)) == "from s3"
    with pytest.raises(ClientError) as exc:
        lam.create_function(FunctionName=unique(), Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                            Code={"S3Bucket": bucket, "S3Key": "missing.zip"})
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "NoSuchKey" in exc.value.response["Error"]["Message"]


def test_invocation_logs_reach_cloudwatch_logs(lam: Any, endpoint: str) -> None:
    import re
    import time

    logs = make_client("logs", endpoint)
    name = create(lam, """
        import logging
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        def handler(event, context):
            logger.info("processing %s", event["k"])
            print("plain print")
            return 1
    """)
    first = lam.invoke(FunctionName=name, Payload=json.dumps({"k": "v1"}))
    second = lam.invoke(FunctionName=name, Payload=json.dumps({"k": "v2"}))
    group = f"/aws/lambda/{name}"
    deadline = time.monotonic() + 10
    messages: list[str] = []
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=group).get("events", []) if logs.describe_log_groups(
            logGroupNamePrefix=group)["logGroups"] else []
        messages = [e["message"] for e in events]
        if sum("REPORT RequestId" in m for m in messages) == 2:
            break
        time.sleep(0.1)
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1  # one warm environment served both invocations
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])
    for resp in (first, second):
        rid = resp["ResponseMetadata"]["RequestId"]
        assert any(m.startswith(f"START RequestId: {rid} Version: $LATEST") for m in messages)
        assert any(m.startswith(f"END RequestId: {rid}") for m in messages)
        report = next(m for m in messages if m.startswith(f"REPORT RequestId: {rid}"))
        assert re.match(rf"REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t", report)
    reports = [m for m in messages if m.startswith("REPORT")]
    assert "Init Duration" in reports[0] and "Init Duration" not in reports[1]  # cold, then warm
    assert any(re.match(r"\[INFO\]\t\S+Z\t[0-9a-f-]{36}\tprocessing v1", m) for m in messages), messages
    assert any(m.strip() == "plain print" for m in messages)


def test_metrics_are_recorded_per_function(lam: Any, sluice: SluiceProcess) -> None:
    import time

    name = create(lam, """
        def handler(event, context):
            if event.get("fail"):
                raise Exception("no")
            return 1
    """)
    lam.invoke(FunctionName=name, Payload=b"{}")
    lam.invoke(FunctionName=name, Payload=b'{"fail": true}')
    cloudwatch = make_client("cloudwatch", sluice.endpoint)
    metrics = ("Invocations", "Errors", "Duration", "Throttles")
    totals = metric_sums(cloudwatch, name, metrics)
    deadline = time.monotonic() + 5
    while totals.get("Invocations") != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        totals = metric_sums(cloudwatch, name, metrics)
    assert totals["Invocations"] == 2
    assert totals["Errors"] == 1
    assert totals["Duration"] > 0
    assert "Throttles" not in totals
