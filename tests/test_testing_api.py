"""Testing API v1 against a real `sluice up --clock manual`: the clock, reset, outcomes, queue
peeks and the refusal of cross-origin requests (docs/testing-api.md)."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client
from .lambda_helpers import create
from .pipeline_helpers import FAILING, build
from .server import SluiceProcess
from .testing_api_helpers import advance, call, manual_server, now, outcome, reset


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for server in manual_server(tmp_path_factory):
        yield server.endpoint


def _lambda_request_id(endpoint: str, bucket: str, key: str) -> str:
    status, trace = call(endpoint, "GET", f"/_sluice/trace?target={bucket}/{key}")
    assert status == 200, trace
    assert trace["api"] == 1
    return str(trace["journeys"][0]["notifications"][0]["deliveryId"])


# -- the clock --------------------------------------------------------------------------------


def test_health_names_the_clock_and_the_testing_api(manual: str) -> None:
    status, health = call(manual, "GET", "/_sluice/health")
    assert status == 200
    assert health["clock"] == "manual"
    assert health["testing_api"] == 1


def test_the_manual_clock_moves_only_when_advanced(manual: str) -> None:
    status, clock = call(manual, "GET", "/_sluice/clock")
    assert status == 200
    assert clock["api"] == 1 and clock["mode"] == "manual"
    before = clock["now"]
    assert now(manual) == before
    answer = advance(manual, 90)
    assert answer["api"] == 1
    assert answer["now"] == pytest.approx(before + 90)
    assert now(manual) == pytest.approx(before + 90)
    # Zero seconds runs what is due now and leaves the time where it is.
    assert advance(manual, 0)["now"] == pytest.approx(before + 90)
    status, idle = call(manual, "POST", "/_sluice/clock/run-until-idle")
    assert status == 200 and idle["now"] == pytest.approx(before + 90)


def test_next_due_is_a_time_ahead_of_now(manual: str) -> None:
    status, clock = call(manual, "GET", "/_sluice/clock")
    assert status == 200
    # The engine's periodic work (alarm evaluation, sweeps) is always scheduled somewhere ahead.
    assert clock["next_due"] is not None and clock["next_due"] > clock["now"]


def test_advance_runs_the_first_attempt_and_both_retries_60_and_120_s_apart_then_the_dlq(manual: str) -> None:
    p = build(manual)
    sqs = make_client("sqs", manual)
    p.s3.put_object(Bucket=p.bucket, Key="bad.txt", Body=b"x")
    start = now(manual)
    advance(manual, 240)
    record = outcome(manual, _lambda_request_id(manual, p.bucket, "bad.txt"))
    assert record["status"] == "RetriesExhausted"
    attempts = record["attempts"]
    assert [a["n"] for a in attempts] == [1, 2, 3]
    assert all(a["status"] == "Unhandled" and a["errorMessage"] == "boom bad.txt" for a in attempts)
    started = [a["startedAt"] for a in attempts]
    assert started[0] == pytest.approx(start)
    assert started[1] - started[0] == pytest.approx(60.0)
    assert started[2] - started[1] == pytest.approx(120.0)
    assert record["dlq"]["target"] == p.dlq_arn and record["dlq"]["ok"] is True
    messages = sqs.receive_message(QueueUrl=p.dlq_url, MessageAttributeNames=["All"]).get("Messages", [])
    assert len(messages) == 1
    assert messages[0]["MessageAttributes"]["RequestID"]["StringValue"] == record["requestId"]
    assert messages[0]["MessageAttributes"]["ErrorMessage"]["StringValue"] == "boom bad.txt"


def test_log_lines_carry_the_manual_clock_time_of_their_attempt(manual: str) -> None:
    p = build(manual)
    advance(manual, 3600)  # the clock an hour ahead of real time: log windows are in clock time
    p.s3.put_object(Bucket=p.bucket, Key="bad.txt", Body=b"x")
    advance(manual, 240)
    status, trace = call(manual, "GET", f"/_sluice/trace?target={p.bucket}/bad.txt")
    assert status == 200
    attempts = trace["journeys"][0]["notifications"][0]["invocation"]["attempts"]
    assert len(attempts) == 3
    for attempt in attempts:
        lines = attempt["logs"]
        assert lines[0]["message"].startswith("START RequestId:") and lines[-1]["message"].startswith("REPORT")
        assert {line["timestamp"] for line in lines} == {int(attempt["started"] * 1000)}


def test_advancing_less_than_the_first_retry_delay_runs_only_the_first_attempt(manual: str) -> None:
    p = build(manual)
    p.s3.put_object(Bucket=p.bucket, Key="bad.txt", Body=b"x")
    advance(manual, 59)
    record = outcome(manual, _lambda_request_id(manual, p.bucket, "bad.txt"))
    assert record["status"] == "Pending"
    assert len(record["attempts"]) == 1
    advance(manual, 1)
    assert len(outcome(manual, record["requestId"])["attempts"]) == 2


@pytest.mark.parametrize("body", [{}, {"seconds": "60"}, {"seconds": -1}, {"seconds": True}, {"seconds": 1e12},
                                  ["seconds", 60]])
def test_a_bad_advance_body_is_a_400_with_a_json_error(manual: str, body: Any) -> None:
    status, answer = call(manual, "POST", "/_sluice/clock/advance", body)
    assert status == 400
    assert answer["api"] == 1 and answer["error"] in ("InvalidParameter", "InvalidJson") and answer["message"]


def test_invalid_json_is_a_400(manual: str) -> None:
    status, answer = call(manual, "POST", "/_sluice/clock/advance", raw=b"{seconds: 1",
                          headers={"Content-Type": "application/json"})
    assert (status, answer["error"]) == (400, "InvalidJson")


def test_advance_on_a_real_clock_is_a_409(endpoint: str) -> None:
    status, answer = call(endpoint, "POST", "/_sluice/clock/advance", {"seconds": 60})
    assert status == 409
    assert answer == {"api": 1, "error": "ClockNotManual", "message": answer["message"]}
    status, clock = call(endpoint, "GET", "/_sluice/clock")
    assert status == 200 and clock["mode"] == "real" and clock["next_due"] is None


# -- outcomes ---------------------------------------------------------------------------------

OK = "def handler(event, context):\n    return {'ok': True}\n"


def test_the_outcome_of_an_event_that_succeeds(manual: str) -> None:
    lam = make_client("lambda", manual)
    fn = create(lam, OK)
    request_id = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    advance(manual, 0)
    record = outcome(manual, request_id)
    assert record["api"] == 1
    assert (record["requestId"], record["function"], record["qualifier"]) == (request_id, fn, "$LATEST")
    assert record["status"] == "Success"
    assert [(a["n"], a["status"], a["errorType"]) for a in record["attempts"]] == [(1, "Success", None)]
    assert record["destination"] is None and record["dlq"] is None


def test_the_outcome_names_the_on_failure_destination(manual: str) -> None:
    lam, sqs = make_client("lambda", manual), make_client("sqs", manual)
    queue_url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fn = create(lam, FAILING)
    lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    request_id = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    advance(manual, 0)
    record = outcome(manual, request_id)
    assert record["status"] == "RetriesExhausted"
    assert [a["errorMessage"] for a in record["attempts"]] == ["boom "]
    assert record["destination"]["kind"] == "on-failure"
    assert record["destination"]["target"] == queue_arn and record["destination"]["ok"] is True
    assert record["dlq"] is None


def test_reserved_concurrency_zero_drops_the_event_with_no_attempt(manual: str) -> None:
    lam = make_client("lambda", manual)
    fn = create(lam, OK)
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    request_id = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    advance(manual, 0)
    record = outcome(manual, request_id)
    assert record["status"] == "ZeroReservedConcurrency"
    assert record["attempts"] == []


def test_an_unknown_request_id_is_a_404(manual: str) -> None:
    status, answer = call(manual, "GET", f"/_sluice/outcomes/{uuid.uuid4()}")
    assert status == 404
    assert answer["api"] == 1 and answer["error"] == "OutcomeNotFound"


# -- queue peeks and SQS time on a manual clock ---------------------------------------------------


def _queue(manual: str, visibility: int = 30) -> tuple[Any, str, str]:
    sqs = make_client("sqs", manual)
    name = f"peek-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility)})["QueueUrl"]
    return sqs, name, url


def _peek(manual: str, queue: str) -> dict[str, Any]:
    status, answer = call(manual, "GET", f"/_sluice/queues/messages?queue={queue}")
    assert status == 200, answer
    return answer


def test_peeking_shows_messages_without_consuming_them(manual: str) -> None:
    sqs, name, url = _queue(manual)
    sqs.send_message(QueueUrl=url, MessageBody="hello",
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}})
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for ref in (name, url, arn):
        peeked = _peek(manual, ref)
        assert peeked["api"] == 1 and peeked["queue"] == name and peeked["count"] == 1
        message = peeked["messages"][0]
        assert message["Body"] == "hello" and message["visible"] is True and message["receiveCount"] == 0
        assert message["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "greeting"}}
    received = sqs.receive_message(QueueUrl=url)["Messages"]
    assert received[0]["Body"] == "hello"  # the peeks took nothing
    message = _peek(manual, name)["messages"][0]
    assert (message["visible"], message["receiveCount"]) == (False, 1)


def test_peeking_an_unknown_queue_is_a_404_and_no_queue_a_400(manual: str) -> None:
    status, answer = call(manual, "GET", "/_sluice/queues/messages?queue=no-such-queue")
    assert (status, answer["error"]) == (404, "QueueNotFound")
    status, answer = call(manual, "GET", "/_sluice/queues/messages")
    assert (status, answer["error"]) == (400, "MissingParameter")


def test_a_visibility_timeout_runs_on_the_manual_clock(manual: str) -> None:
    sqs, name, url = _queue(manual, visibility=30)
    sqs.send_message(QueueUrl=url, MessageBody="again")
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1
    advance(manual, 29)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    advance(manual, 1)
    again = sqs.receive_message(QueueUrl=url)["Messages"]
    assert again[0]["Body"] == "again"


def test_a_delay_runs_on_the_manual_clock(manual: str) -> None:
    sqs, name, url = _queue(manual)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=10)
    assert _peek(manual, name)["messages"][0]["visible"] is False
    advance(manual, 10)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "later"


def test_an_advance_wakes_a_long_poll_waiting_for_a_visibility_timeout(manual: str) -> None:
    sqs, name, url = _queue(manual, visibility=30)
    sqs.send_message(QueueUrl=url, MessageBody="woken")
    sqs.receive_message(QueueUrl=url)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=20)
        advance(manual, 30)
        # Answered at the advance (a poll still timed by the message's 30 s would come back empty).
        assert poll.result(timeout=30)["Messages"][0]["Body"] == "woken"


# -- reset ----------------------------------------------------------------------------------


def test_reset_empties_every_service_and_leaves_the_server_usable(manual: str) -> None:
    s3, sqs, lam, sns, events, logs, iam, cloudwatch = (make_client(s, manual) for s in (
        "s3", "sqs", "lambda", "sns", "events", "logs", "iam", "cloudwatch"))
    bucket = f"reset-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"body")
    queue_url = sqs.create_queue(QueueName="reset-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="m")
    fn = create(lam, FAILING, name="reset-fn")
    lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")
    sns.create_topic(Name="reset-topic")
    events.create_event_bus(Name="reset-bus")
    events.put_rule(Name="reset-rule", EventPattern='{"source": ["x"]}')
    logs.create_log_group(logGroupName="/reset/group")
    iam.create_user(UserName="reset-user")
    cloudwatch.put_metric_alarm(AlarmName="reset-alarm", Namespace="AWS/Lambda", MetricName="Errors",
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanOrEqualToThreshold")
    before = now(manual)

    elapsed = reset(manual)

    assert elapsed >= 0
    assert now(manual) == before  # the clock keeps its time
    assert s3.list_buckets()["Buckets"] == []
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert lam.list_functions()["Functions"] == []
    assert sns.list_topics()["Topics"] == []
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default"]
    assert events.list_rules()["Rules"] == []
    assert logs.describe_log_groups()["logGroups"] == []
    assert iam.list_users()["Users"] == []
    assert iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")["Policy"]  # AWS-managed stay
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    # The same names work again at once (no "deleted recently" rule survives a reset).
    s3.create_bucket(Bucket=bucket)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    queue_url = sqs.create_queue(QueueName="reset-queue")["QueueUrl"]
    assert sqs.receive_message(QueueUrl=queue_url).get("Messages", []) == []
    create(lam, "def handler(event, context):\n    return {'again': True}\n", name="reset-fn")
    assert lam.invoke(FunctionName="reset-fn")["Payload"].read() == b'{"again": true}'


def test_work_in_flight_at_a_reset_does_not_surface_after_it(manual: str) -> None:
    p = build(manual)
    p.s3.put_object(Bucket=p.bucket, Key="bad.txt", Body=b"x")
    request_id = _lambda_request_id(manual, p.bucket, "bad.txt")
    reset(manual)
    advance(manual, 600)  # the retries would have run and the DLQ been written by now
    status, _ = call(manual, "GET", f"/_sluice/outcomes/{request_id}")
    assert status == 404
    assert make_client("sqs", manual).list_queues().get("QueueUrls", []) == []
    status, _ = call(manual, "GET", f"/_sluice/trace?target={p.bucket}/bad.txt")
    assert status == 404


def test_reset_works_on_a_real_clock_too(tmp_path: Path) -> None:
    # Not the shared session server: a reset would empty it under the other tests.
    server = SluiceProcess(tmp_path / "data").start()
    try:
        s3 = make_client("s3", server.endpoint)
        s3.create_bucket(Bucket="real-clock")
        status, answer = call(server.endpoint, "POST", "/_sluice/reset")
        assert status == 200 and answer["reset_ms"] >= 0
        assert s3.list_buckets()["Buckets"] == []
    finally:
        server.stop()


# -- the guard on mutating endpoints ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/_sluice/reset", "/_sluice/clock/advance", "/_sluice/clock/run-until-idle"])
def test_a_cross_origin_request_is_refused(manual: str, path: str) -> None:
    s3 = make_client("s3", manual)
    bucket = f"kept-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    before = now(manual)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        status, answer = call(manual, "POST", path, {"seconds": 60}, headers=headers)
        assert status == 403, headers
        assert answer["error"] == "CrossOriginRefused"
    assert now(manual) == before
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_the_servers_own_origin_is_accepted(manual: str) -> None:
    status, _ = call(manual, "POST", "/_sluice/clock/run-until-idle", headers={"Origin": manual,
                                                                              "Sec-Fetch-Site": "same-origin"})
    assert status == 200


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
def test_a_form_body_is_refused(manual: str, content_type: str) -> None:
    status, answer = call(manual, "POST", "/_sluice/reset", raw=b"seconds=60", headers={"Content-Type": content_type})
    assert (status, answer["error"]) == (415, "UnsupportedMediaType")


@pytest.mark.parametrize("path", ["/_sluice/reset", "/_sluice/clock/advance"])
def test_mutating_endpoints_answer_post_only(manual: str, path: str) -> None:
    status, answer = call(manual, "GET", path)
    assert (status, answer["error"]) == (405, "MethodNotAllowed")


def test_read_endpoints_answer_get_only(manual: str) -> None:
    status, answer = call(manual, "POST", "/_sluice/clock", {"seconds": 1})
    assert (status, answer["error"]) == (405, "MethodNotAllowed")


def test_requests_signed_with_real_time_work_after_the_clock_moved_hours_on(manual: str) -> None:
    s3 = make_client("s3", manual)
    bucket = f"signed-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"still here")
    advance(manual, 3 * 3600)
    # boto3 presigns with the machine's real time: an hour's URL is valid, as it would be on AWS.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=3600)
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"still here"
    # A browser upload's policy expiration too.
    post = s3.generate_presigned_post(bucket, "posted", ExpiresIn=3600)
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             for k, v in post["fields"].items()]
    body = ("".join(parts) + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n'
            f"\r\nposted body\r\n--{boundary}--\r\n").encode()
    request = urllib.request.Request(post["url"], data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 204
    assert s3.get_object(Bucket=bucket, Key="posted")["Body"].read() == b"posted body"
