"""`sluice trace`: one event's journey from durable records, and one X-Ray trace header from the
upload to the handler and the DLQ (aws-reference §1-4, §9)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .pipeline_helpers import Pipeline, build, dead_letters, sluice_cli, trace_json, wait_trace
from .server import SluiceProcess

HEADER = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    # 1 and 2 minute retry delays become 0.1 and 0.2 s.
    proc = SluiceProcess(tmp_path_factory.mktemp("trace") / "data", "--time-scale", "600").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def failed(server: SluiceProcess) -> dict[str, Any]:
    """One upload whose event fails three times and lands in the DLQ."""
    p = build(server.endpoint)
    put = p.s3.put_object(Bucket=p.bucket, Key="in/red flower.jpg", Body=b"x" * 1024)
    [message] = dead_letters(p, 1)
    return {"pipeline": p, "put": put, "message": message}


def _journey(failed: dict[str, Any]) -> dict[str, Any]:
    p: Pipeline = failed["pipeline"]
    # The DLQ send is journaled, then the outcome's delivery mark: wait for the mark.
    return wait_trace(f"{p.bucket}/in/red flower.jpg", p.endpoint,
                      lambda j: j["notifications"][0]["invocation"]["end"]["deliveriesDone"])


def test_trace_json_of_a_failing_event(failed: dict[str, Any]) -> None:
    p: Pipeline = failed["pipeline"]
    journey = _journey(failed)
    upload = journey["upload"]
    assert upload["bucket"] == p.bucket and upload["key"] == "in/red flower.jpg"
    assert upload["requestId"] == failed["put"]["ResponseMetadata"]["RequestId"]
    assert upload["size"] == 1024 and upload["etag"] == failed["put"]["ETag"].strip('"')
    assert upload["operation"] == "PutObject" and upload["eventName"] == "ObjectCreated:Put"
    [note] = journey["notifications"]
    assert note["configurationId"] == "to-fn" and note["target"] == p.function_arn
    assert note["state"] == "delivered"
    invocation = note["invocation"]
    request_id = failed["message"]["MessageAttributes"]["RequestID"]["StringValue"]
    assert invocation["requestId"] == note["deliveryId"] == request_id
    attempts = invocation["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert {a["outcome"] for a in attempts} == {"Unhandled"}
    assert {a["errorType"] for a in attempts} == {"Exception"}
    assert attempts[0]["errorMessage"] == "boom in/red+flower.jpg"
    assert all(a["waitBefore"] > 0 for a in attempts[1:])
    for a in attempts:
        lines = [entry["message"] for entry in a["logs"]]
        assert lines[0].startswith(f"START RequestId: {request_id}")
        assert lines[-1].startswith(f"REPORT RequestId: {request_id}")
        assert any(line.startswith("trace=Root=1-") for line in lines)
    end = invocation["end"]
    assert end["condition"] == "RetriesExhausted" and end["attempts"] == 3 and end["result"] == "dead-letter"
    [sent] = end["sends"]
    assert sent == {**sent, "kind": "dead-letter", "target": p.dlq_arn, "ok": True,
                    "messageId": failed["message"]["MessageId"]}


def test_one_trace_header_from_upload_to_handler_and_dlq(failed: dict[str, Any]) -> None:
    journey = _journey(failed)
    note = journey["notifications"][0]
    header = note["traceHeader"]
    assert HEADER.match(header)
    # The handler saw it as _X_AMZN_TRACE_ID on every attempt; the DLQ message carries it.
    seen = {line["message"].removeprefix("trace=") for a in note["invocation"]["attempts"] for line in a["logs"]
            if line["message"].startswith("trace=")}
    assert seen == {header}
    assert failed["message"]["Attributes"]["AWSTraceHeader"] == header
    # Same root as the upload's: one trace across the path.
    assert journey["traceHeader"].split(";")[0] == header.split(";")[0]
    root = header.split(";")[0].removeprefix("Root=1-")
    assert journey["traceId"] == root.replace("-", "")


def test_trace_cli_human_output(failed: dict[str, Any]) -> None:
    p: Pipeline = failed["pipeline"]
    _journey(failed)
    done = sluice_cli("trace", f"{p.bucket}/in/red flower.jpg", endpoint=p.endpoint)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    request_id = failed["message"]["MessageAttributes"]["RequestID"]["StringValue"]
    assert f"s3://{p.bucket}/in/red flower.jpg" in out
    assert f"request {failed['put']['ResponseMetadata']['RequestId']}, 1024 bytes" in out
    assert "configuration 'to-fn' -> " + p.function_arn in out
    for n in (1, 2, 3):
        assert f"attempt {n}" in out
    assert out.count("Unhandled  Exception: boom in/red+flower.jpg") == 3
    assert out.count(f"| START RequestId: {request_id}") == 3
    assert out.count("waited ") == 2 and "in AWS time at --time-scale 600" in out
    assert f"dead-letter queue (RetriesExhausted after 3 attempts), message {failed['message']['MessageId']}" in out


def test_trace_by_request_ids(failed: dict[str, Any]) -> None:
    p: Pipeline = failed["pipeline"]
    journey = _journey(failed)
    s3_request = failed["put"]["ResponseMetadata"]["RequestId"]
    lambda_request = failed["message"]["MessageAttributes"]["RequestID"]["StringValue"]
    for target in (s3_request, lambda_request):
        [found] = trace_json(target, p.endpoint)["journeys"]
        assert found["traceId"] == journey["traceId"] and found["upload"]["requestId"] == s3_request


def test_trace_all_uploads_of_a_key_and_unknown_targets(server: SluiceProcess) -> None:
    p = build(server.endpoint, retries=0)
    first = p.s3.put_object(Bucket=p.bucket, Key="ok-1.txt", Body=b"1")
    wait_trace(f"{p.bucket}/ok-1.txt", p.endpoint, lambda j: "end" in (j["notifications"][0]["invocation"] or {}))
    second = p.s3.put_object(Bucket=p.bucket, Key="ok-1.txt", Body=b"22")
    latest = wait_trace(f"{p.bucket}/ok-1.txt", p.endpoint,
                        lambda j: "end" in (j["notifications"][0]["invocation"] or {}))
    assert latest["upload"]["requestId"] == second["ResponseMetadata"]["RequestId"]
    assert latest["notifications"][0]["invocation"]["end"]["result"] == "success"
    every = trace_json(f"{p.bucket}/ok-1.txt", p.endpoint, "--all")["journeys"]
    assert [j["upload"]["requestId"] for j in every] == [first["ResponseMetadata"]["RequestId"],
                                                         second["ResponseMetadata"]["RequestId"]]
    assert every[0]["traceId"] != every[1]["traceId"]
    human = sluice_cli("trace", f"{p.bucket}/ok-1.txt", endpoint=p.endpoint).stdout
    assert "success after 1 attempt" in human
    missing = sluice_cli("trace", f"{p.bucket}/never-uploaded", endpoint=p.endpoint)
    assert missing.returncode == 1 and "nothing recorded" in missing.stderr


def test_client_trace_header_is_kept(server: SluiceProcess) -> None:
    p = build(server.endpoint, retries=0)
    sent = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = sent

    p.s3.meta.events.register("before-sign.s3.PutObject", add_header)
    try:
        p.s3.put_object(Bucket=p.bucket, Key="ok.txt", Body=b"1")
    finally:
        p.s3.meta.events.unregister("before-sign.s3.PutObject", add_header)
    journey = wait_trace(f"{p.bucket}/ok.txt", p.endpoint,
                         lambda j: "end" in (j["notifications"][0]["invocation"] or {}))
    assert journey["traceHeader"] == sent  # the client's span is the upload's parent
    handler_saw = journey["notifications"][0]["invocation"]["attempts"][0]["logs"]
    header = next(e["message"].removeprefix("trace=") for e in handler_saw if e["message"].startswith("trace="))
    assert header.startswith("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=") and header.endswith(";Sampled=1")


@pytest.mark.parametrize(("source", "outcome", "error_type"), [
    ("import time\ndef handler(event, context):\n    time.sleep(5)\n", "timeout", "Sandbox.Timedout"),
    ("import os\ndef handler(event, context):\n    os._exit(3)\n", "crash", "Runtime.ExitError"),
])
def test_attempt_outcomes_timeout_and_crash(server: SluiceProcess, source: str, outcome: str,
                                            error_type: str) -> None:
    p = build(server.endpoint, source, retries=0, Timeout=1)
    p.s3.put_object(Bucket=p.bucket, Key="x", Body=b"1")
    journey = wait_trace(f"{p.bucket}/x", p.endpoint, lambda j: "end" in (j["notifications"][0]["invocation"] or {})
                         and j["notifications"][0]["invocation"]["end"]["deliveriesDone"])
    invocation = journey["notifications"][0]["invocation"]
    [attempt] = invocation["attempts"]
    assert attempt["outcome"] == outcome and attempt["errorType"] == error_type
    assert invocation["end"]["result"] == "dead-letter"


def test_zero_reserved_concurrency_is_dropped_with_its_reason(server: SluiceProcess) -> None:
    p = build(server.endpoint, dead_letter=False)
    p.lam.put_function_concurrency(FunctionName=p.function, ReservedConcurrentExecutions=0)
    p.s3.put_object(Bucket=p.bucket, Key="z", Body=b"1")
    journey = wait_trace(f"{p.bucket}/z", p.endpoint, lambda j: "end" in (j["notifications"][0]["invocation"] or {}))
    end = journey["notifications"][0]["invocation"]["end"]
    assert end["condition"] == "ZeroReservedConcurrency" and end["result"] == "dropped" and end["attempts"] == 0
    human = sluice_cli("trace", f"{p.bucket}/z", endpoint=p.endpoint).stdout
    assert "dropped: ZeroReservedConcurrency after 0 attempts (no DLQ or on-failure destination)" in human


def test_trace_needs_a_running_server(tmp_path: Path) -> None:
    done = sluice_cli("trace", "b/k", endpoint="http://127.0.0.1:9")
    assert done.returncode == 1 and "cannot reach Sluice" in done.stderr


def test_trace_of_a_direct_async_invoke(server: SluiceProcess) -> None:
    p = build(server.endpoint, retries=0)
    sent = "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad9;Sampled=0"

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = sent

    p.lam.meta.events.register("before-sign.lambda.Invoke", add_header)
    try:
        resp = p.lam.invoke(FunctionName=p.function, InvocationType="Event", Payload=b'{"direct": 1}')
    finally:
        p.lam.meta.events.unregister("before-sign.lambda.Invoke", add_header)
    request_id = resp["ResponseMetadata"]["RequestId"]
    journey = wait_trace(request_id, p.endpoint, lambda j: "end" in j["invocation"] and j["invocation"]["end"]["deliveriesDone"])
    assert journey["upload"] is None and journey["notifications"] == []
    assert journey["traceHeader"] == sent and journey["traceId"] == "5759e988bd862e3fe1be46a994272794"
    invocation = journey["invocation"]
    assert invocation["requestId"] == request_id and invocation["function"] == p.function
    assert [a["outcome"] for a in invocation["attempts"]] == ["Unhandled"]
    assert invocation["end"]["result"] == "dead-letter"
    [message] = dead_letters(p, 1)
    assert message["Attributes"]["AWSTraceHeader"] == sent
