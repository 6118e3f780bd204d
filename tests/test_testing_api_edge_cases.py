"""AWS's async edge cases driven through the testing API's manual clock, with no waiting: each
test covers minutes or hours of Lambda's schedule in well under a second of the clock's work
(handlers still run in real time)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client
from .lambda_helpers import create
from .pipeline_helpers import FAILING
from .testing_api_helpers import advance, call, manual_server, now, outcome

SIX_HOURS = 21_600


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for server in manual_server(tmp_path_factory):
        yield server.endpoint


def _event(lam: Any, fn: str) -> str:
    answer = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")
    assert answer["StatusCode"] == 202
    return str(answer["ResponseMetadata"]["RequestId"])


def test_a_max_event_age_of_90_s_ends_event_age_exceeded_after_exactly_two_attempts(manual: str) -> None:
    lam, sqs = make_client("lambda", manual), make_client("sqs", manual)
    dlq_url = sqs.create_queue(QueueName=f"age-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fn = create(lam, FAILING, DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(FunctionName=fn, MaximumEventAgeInSeconds=90)
    start = now(manual)
    request_id = _event(lam, fn)
    advance(manual, 600)
    record = outcome(manual, request_id)
    assert record["status"] == "EventAgeExceeded"
    # The first retry (at 60 s) started within 90 s; the second (60 s + 120 s) could not.
    assert [a["n"] for a in record["attempts"]] == [1, 2]
    assert record["attempts"][0]["startedAt"] == pytest.approx(start)
    assert record["attempts"][1]["startedAt"] - record["attempts"][0]["startedAt"] == pytest.approx(60.0)
    assert record["finishedAt"] - record["receivedAt"] == pytest.approx(60.0)  # given up at once
    assert record["dlq"]["target"] == dlq_arn and record["dlq"]["ok"] is True
    messages = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert messages[0]["MessageAttributes"]["RequestID"]["StringValue"] == request_id


# Blocks until the test lets it go, holding the function's one reserved slot: a synchronous
# call is not engine work, so the manual clock does not wait for it.
BLOCKING = """
import os, time

def handler(event, context):
    if event.get("hold"):
        open(os.path.join(os.environ["MARKERS"], "holding"), "w").close()
        release = os.path.join(os.environ["MARKERS"], "release")
        deadline = time.time() + 50
        while not os.path.exists(release) and time.time() < deadline:
            time.sleep(0.01)
        return "released"
    return "ran"
"""


def _throttle_schedule(max_age: float) -> list[float]:
    """The ages (AWS-seconds) at which Lambda throttles an event that never finds a free slot:
    1 s doubling to 5 min between them, until the next retry could not start within max_age."""
    ages, age, k = [], 0.0, 1
    while True:
        ages.append(age)
        delay = min(300.0, 2.0 ** (k - 1))
        if age + delay > max_age:
            return ages
        age += delay
        k += 1


def test_a_throttled_event_keeps_its_backoff_and_ends_event_age_exceeded_after_six_hours(
        manual: str, tmp_path: Path) -> None:
    lam = make_client("lambda", manual, read_timeout=70)
    fn = create(lam, BLOCKING, Timeout=60, Environment={"Variables": {"MARKERS": str(tmp_path)}})
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=1)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(lam.invoke, FunctionName=fn, Payload=b'{"hold": true}')
        deadline = time.monotonic() + 30  # real time: the handler's process starting, not the clock
        while not (tmp_path / "holding").exists():
            assert time.monotonic() < deadline and not held.done(), "the blocking handler never started"
            time.sleep(0.01)
        try:
            start = now(manual)
            request_id = _event(lam, fn)
            schedule = _throttle_schedule(SIX_HOURS)
            # The first throttles, one by one: 1 s, 2 s, 4 s ... apart.
            advance(manual, 0)
            for k in range(1, 10):
                record = outcome(manual, request_id)
                assert (record["status"], record["throttles"], record["attempts"]) == ("Pending", k, [])
                assert record["nextAttemptAt"] - start == pytest.approx(schedule[k])
                advance(manual, schedule[k] - (now(manual) - start))
            # Then 5 minutes apart, until the sixth hour.
            began = time.perf_counter()
            advance(manual, SIX_HOURS + 60 - (now(manual) - start))
            print(f"\nsix hours of throttles advanced in {time.perf_counter() - began:.3f} s real time")
            record = outcome(manual, request_id)
        finally:
            (tmp_path / "release").touch()
        assert held.result(timeout=60)["Payload"].read() == b'"released"'
    assert record["status"] == "EventAgeExceeded"
    assert record["attempts"] == []  # it never ran
    assert record["finishedAt"] - start == pytest.approx(schedule[-1])
    throttles = _metric_sum(manual, fn, "Throttles", start)
    assert throttles == len(schedule)


def _metric_sum(manual: str, fn: str, metric: str, start: float) -> float:
    import datetime as dt

    cloudwatch = make_client("cloudwatch", manual)
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": fn}],
        StartTime=dt.datetime.fromtimestamp(start - 60, dt.timezone.utc),
        EndTime=dt.datetime.fromtimestamp(start + SIX_HOURS + 600, dt.timezone.utc),
        Period=SIX_HOURS * 2, Statistics=["Sum"])
    return float(sum(p["Sum"] for p in answer["Datapoints"]))


def test_a_reset_stops_an_environment_held_by_a_blocked_synchronous_call(manual: str, tmp_path: Path) -> None:
    lam = make_client("lambda", manual, read_timeout=70)
    fn = create(lam, BLOCKING, Timeout=60, Environment={"Variables": {"MARKERS": str(tmp_path)}})
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(lam.invoke, FunctionName=fn, Payload=b'{"hold": true}')
        deadline = time.monotonic() + 30
        while not (tmp_path / "holding").exists():
            assert time.monotonic() < deadline and not held.done(), "the blocking handler never started"
            time.sleep(0.01)
        status, _ = call(manual, "POST", "/_sluice/reset")
        assert status == 200
        # The call ends as the environment is stopped under it, not when the handler gives up.
        answer = held.result(timeout=30)
    assert answer.get("FunctionError") == "Unhandled"
    assert not (tmp_path / "release").exists()
    assert lam.list_functions()["Functions"] == []


def test_an_attempt_running_at_a_reset_records_nothing_after_it(manual: str, tmp_path: Path) -> None:
    lam, sqs, logs = (make_client(s, manual) for s in ("lambda", "sqs", "logs"))
    dlq_url = sqs.create_queue(QueueName=f"reset-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fn = create(lam, BLOCKING, Timeout=60, Environment={"Variables": {"MARKERS": str(tmp_path)}},
                DeadLetterConfig={"TargetArn": dlq_arn})
    answer = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"hold": true}')
    request_id = answer["ResponseMetadata"]["RequestId"]
    deadline = time.monotonic() + 30  # real time: the handler's process starting
    while not (tmp_path / "holding").exists():
        assert time.monotonic() < deadline, "the attempt never started"
        time.sleep(0.01)
    status, _ = call(manual, "POST", "/_sluice/reset")  # the attempt is running now
    assert status == 200
    (tmp_path / "release").touch()
    advance(manual, 600)  # its retries and DLQ send would all be due by now
    status, _ = call(manual, "GET", f"/_sluice/outcomes/{request_id}")
    assert status == 404
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert logs.describe_log_groups()["logGroups"] == []  # the stopped environment's last lines were dropped
    assert lam.list_functions()["Functions"] == []


def test_an_advance_waits_for_a_running_handler_while_other_requests_are_served(manual: str, tmp_path: Path) -> None:
    lam, s3 = make_client("lambda", manual), make_client("s3", manual)
    fn = create(lam, BLOCKING, Timeout=60, Environment={"Variables": {"MARKERS": str(tmp_path)}})
    request_id = lam.invoke(FunctionName=fn, InvocationType="Event",
                            Payload=b'{"hold": true}')["ResponseMetadata"]["RequestId"]
    with ThreadPoolExecutor(1) as pool:
        advancing = pool.submit(advance, manual, 0)
        deadline = time.monotonic() + 30  # real time: the handler's process starting
        while not (tmp_path / "holding").exists():
            assert time.monotonic() < deadline, "the attempt never started"
            time.sleep(0.01)
        # The handler holds the advance; the server answers everything else meanwhile.
        s3.create_bucket(Bucket=f"during-{uuid.uuid4().hex[:8]}")
        status, record = call(manual, "GET", f"/_sluice/outcomes/{request_id}")
        assert status == 200 and record["status"] == "Pending"
        assert not advancing.done()
        (tmp_path / "release").touch()
        advancing.result(timeout=30)
    assert outcome(manual, request_id)["status"] == "Success"
