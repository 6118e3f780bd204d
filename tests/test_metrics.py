"""The metrics Sluice emits (AWS/Lambda, AWS/SQS, AWS/Events, AWS/S3, embedded metric format),
on a real server with a fast clock, read back as CloudWatch users read them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from .conftest import make_client
from .lambda_helpers import create
from .server import SluiceProcess

SCALE = 60  # Lambda's 1- and 2-minute retry gaps last 1 s and 2 s; SQS gauges sampled every second

FAILING_HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("intentional failure")
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("metrics") / "data", "--time-scale", str(SCALE)).start()
    yield proc
    proc.stop()


STATISTICS = ("Sum", "SampleCount", "Minimum", "Maximum")


def statistics(server: SluiceProcess, namespace: str, name: str, dims: dict[str, str]) -> dict[str, float]:
    """A metric's statistics over the last hour (1-minute periods combined), read with GetMetricData."""
    cloudwatch = make_client("cloudwatch", server.endpoint)
    end = (time.time() // 60 + 2) * 60
    metric = {"Namespace": namespace, "MetricName": name,
              "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]}
    got = cloudwatch.get_metric_data(
        StartTime=end - 3600, EndTime=end,
        MetricDataQueries=[{"Id": stat.lower(), "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}}
                           for stat in STATISTICS])["MetricDataResults"]
    values = {r["Id"]: r["Values"] for r in got}
    return {"Sum": sum(values["sum"]), "SampleCount": sum(values["samplecount"]),
            "Minimum": min(values["minimum"], default=None), "Maximum": max(values["maximum"], default=None)}


def cli_statistics(server: SluiceProcess, namespace: str, name: str, dims: dict[str, str], period: int,
                   start: float, end: float, *statistics: str) -> list[dict[str, Any]]:
    """Datapoints from the real AWS CLI v1: `aws cloudwatch get-metric-statistics`."""
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint}
    iso = "%Y-%m-%dT%H:%M:%SZ"
    proc = subprocess.run(
        [sys.executable, "-m", "awscli", "cloudwatch", "get-metric-statistics", "--namespace", namespace,
         "--metric-name", name, "--period", str(period), "--statistics", *(statistics or ("Sum",)),
         "--start-time", time.strftime(iso, time.gmtime(start)), "--end-time", time.strftime(iso, time.gmtime(end)),
         "--dimensions", *(f"Name={k},Value={v}" for k, v in dims.items())],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["Datapoints"]


def epoch(timestamp: float | str) -> float:
    """The CLI prints timestamps as the wire carried them: epoch seconds (CBOR) or ISO 8601 (query)."""
    if isinstance(timestamp, (int, float)):
        return float(timestamp)
    return dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until `check` returns without an AssertionError (metrics are flushed asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_done(endpoint: str, request_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/_sluice/events/{request_id}", timeout=5) as r:
                if json.load(r)["state"] == "done":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"event {request_id} did not finish")


# -- AWS/Lambda ---------------------------------------------------------------------------------


def test_async_success_and_exhausted_failure(server: SluiceProcess) -> None:
    """The issue's proof: one success, one event failing 3 times (1 + 2 retries)."""
    lam = make_client("lambda", server.endpoint)
    name = create(lam, FAILING_HANDLER)
    ids = [lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
           ["ResponseMetadata"]["RequestId"] for event in ({}, {"fail": True})]
    for request_id in ids:
        wait_done(server.endpoint, request_id)
    dims = {"FunctionName": name, "Resource": name}

    def value(metric: str) -> float:
        return statistics(server, "AWS/Lambda", metric, dims)["Sum"]

    assert value("Invocations") == 4
    assert value("Errors") == 3
    assert value("AsyncEventsReceived") == 2
    assert value("AsyncEventsDropped") == 1
    assert value("Throttles") == 0
    assert statistics(server, "AWS/Lambda", "Duration", dims)["SampleCount"] == 4
    age = statistics(server, "AWS/Lambda", "AsyncEventAge", dims)
    assert age["SampleCount"] == 4
    # The third attempt waited the 1- and 2-minute retry gaps (engine time): 3 minutes at least.
    assert age["Maximum"] >= 180_000
    # The AWS CLI, by FunctionName alone (the dimension set people graph), over one hour.
    end = (time.time() // 3600 + 1) * 3600
    sums = {metric: sum(p["Sum"] for p in cli_statistics(server, "AWS/Lambda", metric, {"FunctionName": name},
                                                          3600, end - 7200, end))
            for metric in ("Invocations", "Errors", "AsyncEventsReceived", "AsyncEventsDropped")}
    assert sums == {"Invocations": 4, "Errors": 3, "AsyncEventsReceived": 2, "AsyncEventsDropped": 1}


def test_sync_throttle_counts_throttles_not_invocations(server: SluiceProcess) -> None:
    lam = boto3.client("lambda", endpoint_url=server.endpoint, region_name="us-east-1",
                       config=Config(retries={"mode": "standard", "total_max_attempts": 1}))  # one request
    name = create(lam, FAILING_HANDLER)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        lam.invoke(FunctionName=name, Payload=b"{}")
    dims = {"FunctionName": name, "Resource": name}
    eventually(lambda: _assert_equal(statistics(server, "AWS/Lambda", "Throttles", dims)["Sum"], 1))
    assert statistics(server, "AWS/Lambda", "Invocations", dims)["Sum"] == 0


def test_alias_invocations_carry_resource_and_executed_version(server: SluiceProcess) -> None:
    lam = make_client("lambda", server.endpoint)
    name = create(lam, FAILING_HANDLER)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    lam.invoke(FunctionName=f"{name}:{version}", Payload=b"{}")
    lam.invoke(FunctionName=name, Payload=b"{}")

    def invocations(dims: dict[str, str]) -> float:
        return statistics(server, "AWS/Lambda", "Invocations", dims)["Sum"]

    def check() -> None:
        _assert_equal([invocations(d) for d in (
            {"FunctionName": name},
            {"FunctionName": name, "Resource": f"{name}:live"},
            {"FunctionName": name, "Resource": f"{name}:live", "ExecutedVersion": version},
            {"FunctionName": name, "Resource": f"{name}:{version}"},
            {"FunctionName": name, "Resource": name},
        )], [3, 1, 1, 1, 1])

    eventually(check)


def test_destination_delivery_failure(server: SluiceProcess) -> None:
    """An on-failure destination that cannot take the record (a FIFO queue) counts a failure."""
    lam = make_client("lambda", server.endpoint)
    sqs = make_client("sqs", server.endpoint)
    fifo = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})
    fifo_arn = sqs.get_queue_attributes(QueueUrl=fifo["QueueUrl"], AttributeNames=["QueueArn"])
    name = create(lam, FAILING_HANDLER)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={
        "OnFailure": {"Destination": fifo_arn["Attributes"]["QueueArn"]}})
    request_id = lam.invoke(FunctionName=name, InvocationType="Event",
                            Payload=b'{"fail": true}')["ResponseMetadata"]["RequestId"]
    wait_done(server.endpoint, request_id)
    dims = {"FunctionName": name, "Resource": name}
    eventually(lambda: _assert_equal(statistics(server, "AWS/Lambda", "DestinationDeliveryFailures", dims)["Sum"], 1))
    assert statistics(server, "AWS/Lambda", "AsyncEventsDropped", dims)["Sum"] == 1


def _assert_equal(got: object, want: object) -> None:
    assert got == want, f"{got!r} != {want!r}"


# -- AWS/SQS ------------------------------------------------------------------------------------


def test_sqs_counters(server: SluiceProcess) -> None:
    sqs = make_client("sqs", server.endpoint)
    name = f"q-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x" * 10)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "y" * 20},
                                                  {"Id": "b", "MessageBody": "z" * 30}])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(got) == 3
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                    for i, m in enumerate(got[1:])])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # an empty receive
    dims = {"QueueName": name}

    def check() -> None:
        _assert_equal(statistics(server, "AWS/SQS", "NumberOfMessagesSent", dims)["Sum"], 3)
        _assert_equal(statistics(server, "AWS/SQS", "NumberOfMessagesReceived", dims)["Sum"], 3)
        _assert_equal(statistics(server, "AWS/SQS", "NumberOfMessagesDeleted", dims)["Sum"], 3)
        empties = statistics(server, "AWS/SQS", "NumberOfEmptyReceives", dims)["Sum"]
        assert empties >= 1, empties
        size = statistics(server, "AWS/SQS", "SentMessageSize", dims)
        _assert_equal((size["Sum"], size["SampleCount"], size["Minimum"], size["Maximum"]), (60, 3, 10, 30))

    eventually(check)
    listed = make_client("cloudwatch", server.endpoint).list_metrics(
        Namespace="AWS/SQS", Dimensions=[{"Name": "QueueName", "Value": name}])["Metrics"]
    assert {"NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted", "NumberOfEmptyReceives",
            "SentMessageSize"} <= {m["MetricName"] for m in listed}
    assert all(m["Dimensions"] == [{"Name": "QueueName", "Value": name}] for m in listed)


def test_sqs_gauges_sampled_every_engine_minute(server: SluiceProcess) -> None:
    sqs = make_client("sqs", server.endpoint)
    name = f"q-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    # In this order no count ever exceeds 1, so each gauge's Maximum is its final value.
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=900)
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    dims = {"QueueName": name}

    def check() -> None:
        for metric in ("ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
                       "ApproximateNumberOfMessagesDelayed"):
            _assert_equal((metric, statistics(server, "AWS/SQS", metric, dims)["Maximum"]), (metric, 1))
        assert statistics(server, "AWS/SQS", "ApproximateAgeOfOldestMessage", dims)["SampleCount"] >= 1

    eventually(check)


# -- AWS/Events ---------------------------------------------------------------------------------


def test_events_rule_metrics(server: SluiceProcess) -> None:
    events = make_client("events", server.endpoint)
    sqs = make_client("sqs", server.endpoint)
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = f"bus-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    source = f"test.{uuid.uuid4().hex[:8]}"
    pattern = json.dumps({"source": [source]})
    default_rule, custom_rule, failing_rule = (f"rule-{uuid.uuid4().hex[:8]}" for _ in range(3))
    events.put_rule(Name=default_rule, EventPattern=pattern)
    events.put_targets(Rule=default_rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    events.put_rule(Name=custom_rule, EventBusName=bus, EventPattern=pattern)
    events.put_targets(Rule=custom_rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    events.put_rule(Name=failing_rule, EventPattern=pattern)
    events.put_targets(Rule=failing_rule, Targets=[{
        "Id": "gone", "Arn": "arn:aws:sqs:us-east-1:000000000000:no-such-queue",
        "RetryPolicy": {"MaximumRetryAttempts": 0}}])
    for bus_name in ("default", bus):
        events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}", "EventBusName": bus_name}])
    events.put_events(Entries=[{"Source": "not.matched", "DetailType": "t", "Detail": "{}"}])

    def count(metric: str, dims: dict[str, str]) -> float:
        return statistics(server, "AWS/Events", metric, dims)["Sum"]

    def check() -> None:
        for dims in ({"RuleName": default_rule}, {"EventBusName": bus, "RuleName": custom_rule}):
            for metric in ("MatchedEvents", "TriggeredRules", "Invocations"):
                _assert_equal((metric, dims, count(metric, dims)), (metric, dims, 1))
            _assert_equal(count("FailedInvocations", dims), 0)
        failing = {"RuleName": failing_rule}
        _assert_equal([count(m, failing) for m in ("MatchedEvents", "Invocations", "FailedInvocations")], [1, 1, 1])

    eventually(check)


# -- embedded metric format ---------------------------------------------------------------------

EMF_HANDLER = """
import json, time

def handler(event, context):
    now = int(time.time() * 1000)
    # Hand-written EMF: two dimension sets, a list of values.
    print(json.dumps({"_aws": {"Timestamp": now, "CloudWatchMetrics": [{
        "Namespace": event["ns"], "Dimensions": [["Service"], ["Service", "Route"]],
        "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}]}]},
        "Service": "orders", "Route": "/buy", "Latency": [1, 2, 3]}))
    # As Lambda Powertools' Metrics utility writes it (single dimension set, StorageResolution).
    print(json.dumps({"_aws": {"Timestamp": now, "CloudWatchMetrics": [{
        "Namespace": event["ns"], "Dimensions": [["service"]],
        "Metrics": [{"Name": "SuccessfulBooking", "Unit": "Count", "StorageResolution": 60}]}]},
        "service": "booking", "SuccessfulBooking": [1.0], "function_request_id": context.aws_request_id}))
    # Invalid: the dimension's member is missing. Stays a log line, yields no metric.
    print(json.dumps({"_aws": {"Timestamp": now, "CloudWatchMetrics": [{
        "Namespace": event["ns"], "Dimensions": [["Missing"]], "Metrics": [{"Name": "Bad"}]}]}, "Bad": 1}))
    return "ok"
"""


def test_emf_lines_from_a_function_become_metrics(server: SluiceProcess) -> None:
    lam = make_client("lambda", server.endpoint)
    logs = make_client("logs", server.endpoint)
    name = create(lam, EMF_HANDLER)
    ns = f"App/{uuid.uuid4().hex[:8]}"
    assert lam.invoke(FunctionName=name, Payload=json.dumps({"ns": ns}))["StatusCode"] == 200

    def check() -> None:
        for dims in ({"Service": "orders"}, {"Service": "orders", "Route": "/buy"}):
            got = statistics(server, ns, "Latency", dims)
            _assert_equal((got["Sum"], got["SampleCount"], got["Minimum"], got["Maximum"]), (6, 3, 1, 3))
        _assert_equal(statistics(server, ns, "SuccessfulBooking", {"service": "booking"})["Sum"], 1)
        listed = make_client("cloudwatch", server.endpoint).list_metrics(Namespace=ns)["Metrics"]
        _assert_equal(sorted((m["MetricName"], len(m["Dimensions"])) for m in listed),
                      [("Latency", 1), ("Latency", 2), ("SuccessfulBooking", 1)])  # nothing from the invalid line
        messages = [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
        assert any('"Bad"' in m for m in messages), messages  # the invalid line is still a log line

    eventually(check)


def test_put_log_events_with_the_emf_header(server: SluiceProcess) -> None:
    logs = make_client("logs", server.endpoint)
    group, ns = f"/app/{uuid.uuid4().hex[:8]}", f"App/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    line = json.dumps({"_aws": {"Timestamp": now, "CloudWatchMetrics": [{
        "Namespace": ns, "Dimensions": [["Service"]], "Metrics": [{"Name": "Hits", "Unit": "Count"}]}]},
        "Service": "web", "Hits": 2})

    def with_header(request: Any, **_: Any) -> None:
        request.headers["x-amzn-logs-format"] = "json/emf"

    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": line}])
    assert statistics(server, ns, "Hits", {"Service": "web"})["SampleCount"] == 0  # no header: a log line only
    logs.meta.events.register("before-sign.cloudwatch-logs.PutLogEvents", with_header)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": line}])
    assert statistics(server, ns, "Hits", {"Service": "web"})["Sum"] == 2
    # A metric timestamp CloudWatch would refuse (three hours ahead): the line is logged, no metric.
    ahead = line.replace(f'"Timestamp": {now}', f'"Timestamp": {now + 3 * 3_600_000}').replace('"web"', '"later"')
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": ahead}])
    later = make_client("cloudwatch", server.endpoint).get_metric_statistics(
        Namespace=ns, MetricName="Hits", Dimensions=[{"Name": "Service", "Value": "later"}], Period=3600,
        StartTime=now / 1000 - 3600, EndTime=now / 1000 + 5 * 3600, Statistics=["SampleCount"])
    assert later["Datapoints"] == []
    assert any('"later"' in e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName="s")["events"])


def test_invalid_emf_yields_no_metric(server: SluiceProcess) -> None:
    logs = make_client("logs", server.endpoint)
    cloudwatch = make_client("cloudwatch", server.endpoint)
    group, ns = f"/app/{uuid.uuid4().hex[:8]}", f"App/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)

    def doc(name: str, value: Any = 1, namespace: str = ns, dims: Any = (("Service",),), **metric: Any) -> str:
        directive = {"Namespace": namespace, "Dimensions": [list(d) for d in dims] if isinstance(dims, tuple) else dims,
                     "Metrics": [{"Name": name, **metric}]}
        return json.dumps({"_aws": {"Timestamp": now, "CloudWatchMetrics": [directive]}, "Service": "s", name: value})

    invalid = [
        doc("NotANumber", value="12"),
        doc("TooManyValues", value=list(range(101))),
        doc("BadUnit", Unit="Furlongs"),
        doc("BadResolution", StorageResolution=5),
        doc("Reserved", namespace="AWS/Lambda"),
        doc("DimensionsNotAList", dims="Service"),
        doc("DimensionMissing", dims=(("Nope",),)),
        json.dumps({"_aws": {"CloudWatchMetrics": []}, "NoTimestamp": 1}),
        '{"_aws": not json',
    ]
    valid = doc("Valid", value=[1, 2], Unit="Count", StorageResolution=1)

    def with_header(request: Any, **_: Any) -> None:
        request.headers["x-amzn-logs-format"] = "json/emf"

    logs.meta.events.register("before-sign.cloudwatch-logs.PutLogEvents", with_header)
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": now, "message": m} for m in [*invalid, valid]])
    assert [m["MetricName"] for m in cloudwatch.list_metrics(Namespace=ns)["Metrics"]] == ["Valid"]
    assert cloudwatch.list_metrics(Namespace="AWS/Lambda", MetricName="Reserved")["Metrics"] == []
    stored = logs.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert len(stored) == len(invalid) + 1  # every line is still a log event


# -- AWS/S3 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    """A server whose engine day lasts a second (samplers still run at most once a real second)."""
    proc = SluiceProcess(tmp_path_factory.mktemp("days") / "data", "--time-scale", "86400").start()
    yield proc
    proc.stop()


def test_s3_daily_storage_metrics(days: SluiceProcess) -> None:
    """The daily sample is retaken every (engine) day and replaces the day's one datapoint."""
    s3 = make_client("s3", days.endpoint)
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key="b", Body=b"y" * 28)
    size_dims = {"BucketName": bucket, "StorageType": "StandardStorage"}
    count_dims = {"BucketName": bucket, "StorageType": "AllStorageTypes"}
    midnight = time.time() // 86400 * 86400

    def daily(metric: str, dims: dict[str, str]) -> list[tuple[float, float, float, str]]:
        points = cli_statistics(days, "AWS/S3", metric, dims, 86400, midnight - 86400, midnight + 86400,
                                "Average", "SampleCount")
        return [(epoch(p["Timestamp"]), p["Average"], p["SampleCount"], p["Unit"]) for p in points]

    eventually(lambda: _assert_equal(
        (daily("BucketSizeBytes", size_dims), daily("NumberOfObjects", count_dims)),
        ([(midnight, 128, 1, "Bytes")], [(midnight, 2, 1, "Count")])))
    s3.delete_object(Bucket=bucket, Key="a")
    eventually(lambda: _assert_equal(
        (daily("BucketSizeBytes", size_dims), daily("NumberOfObjects", count_dims)),
        ([(midnight, 28, 1, "Bytes")], [(midnight, 1, 1, "Count")])))


def test_sqs_gauges_stop_for_an_inactive_queue(days: SluiceProcess) -> None:
    """AWS publishes an empty queue's gauges for six hours after it was last used: here six
    engine hours last a quarter of a second, while a queue holding a message stays active."""
    sqs = make_client("sqs", days.endpoint)
    idle, busy = (f"q-{uuid.uuid4().hex[:8]}" for _ in range(2))
    idle_url = sqs.create_queue(QueueName=idle)["QueueUrl"]
    sqs.create_queue(QueueName=busy)
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=busy)["QueueUrl"], MessageBody="kept")
    sqs.send_message(QueueUrl=idle_url, MessageBody="taken")
    message = sqs.receive_message(QueueUrl=idle_url)["Messages"][0]
    sqs.delete_message(QueueUrl=idle_url, ReceiptHandle=message["ReceiptHandle"])

    def samples(queue: str) -> float:
        return statistics(days, "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue})["SampleCount"]

    eventually(lambda: _assert_equal(samples(busy) >= 3, True))
    stopped_at = samples(idle)
    eventually(lambda: _assert_equal(samples(busy) >= stopped_at + 3, True))
    assert samples(idle) == stopped_at
