"""The issue's user stories end to end, as a user meets them: a real S3 -> Lambda pipeline with a
DLQ on a server at --time-scale 60, CloudWatch alarms that act (SNS -> SQS) on AWS/Lambda Errors and
on the DLQ's depth, the metrics read back with boto3 and the AWS CLI, `sluice status` and
`sluice trace` during the failure.

Metric periods are wall-clock minutes (a fast clock never changes timestamps), so the way back to
OK comes from data: after the failing minute, one successful upload publishes Errors = 0 and the
drained DLQ is sampled at 0, in a new period. The story waits for at most one minute boundary.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client, wait_for
from .lambda_helpers import create, unique
from .pipeline_helpers import Pipeline, build, sluice_cli, trace_json, wait_trace
from .server import SluiceProcess

SCALE = 60  # retries after 1 s and 2 s; alarms evaluated and SQS gauges sampled every second
REGION_NAME = "US East (N. Virginia)"
BAD_KEY = "uploads/bad report.csv"
GOOD_KEY = "uploads/ok report.csv"
SLOW = """
import time

def handler(event, context):
    time.sleep(3)
"""


@dataclass
class Inbox:
    """An SQS queue subscribed to the alarms' SNS topic; keeps every notification it has read."""

    sqs: Any
    url: str
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def wait(self, alarm: str, old: str, new: str,
             timeout: float = 30.0) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The notification of `alarm` going from `old` to `new`."""
        deadline = time.monotonic() + timeout
        while True:
            for envelope, message in self.seen:
                if message["AlarmName"] == alarm and (message["OldStateValue"], message["NewStateValue"]) == (old, new):
                    return envelope, message
            if time.monotonic() > deadline:
                return None
            for m in self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=1,
                                              MaxNumberOfMessages=10).get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
                envelope = json.loads(m["Body"])
                self.seen.append((envelope, json.loads(envelope["Message"])))


@dataclass
class Story:
    """What a user saw while running the pipeline, step by step."""

    pipeline: Pipeline
    topic: str
    errors_alarm: str
    dlq_alarm: str
    inbox: Inbox
    bad_put: dict[str, Any]
    started: float
    status_failing: dict[str, Any] = field(default_factory=dict)
    status_failing_text: str = ""
    metrics_failing: dict[str, float] = field(default_factory=dict)
    dlq_message: dict[str, Any] = field(default_factory=dict)
    status_after: dict[str, Any] = field(default_factory=dict)
    slow: tuple[str, float] | None = None  # a function invoked just before a minute boundary, and when


def _status(endpoint: str) -> dict[str, Any]:
    done = sluice_cli("status", "--json", endpoint=endpoint)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _row(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return next((r for r in rows if r[key] == value), {})


def _sums(cloudwatch: Any, function: str, since: float, *names: str, stat: str = "Sum") -> dict[str, float]:
    """Each AWS/Lambda metric's `stat` for the function since `since`, added over 1-minute periods
    (GetMetricData, FunctionName dimension)."""
    end = (time.time() // 60 + 2) * 60
    queries = [{"Id": f"m{i}", "MetricStat": {"Metric": {
        "Namespace": "AWS/Lambda", "MetricName": name, "Dimensions": [{"Name": "FunctionName", "Value": function}]},
        "Period": 60, "Stat": stat}} for i, name in enumerate(names)]
    got = cloudwatch.get_metric_data(StartTime=since // 60 * 60, EndTime=end,
                                     MetricDataQueries=queries)["MetricDataResults"]
    return {names[int(r["Id"][1:])]: sum(r["Values"]) for r in got}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("observability") / "data", "--time-scale", str(SCALE)).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def story(server: SluiceProcess) -> Story:
    started = time.time()
    p = build(server.endpoint)  # fails on every key without "ok"; 2 retries; DLQ
    sns, sqs, cloudwatch = (make_client(s, server.endpoint) for s in ("sns", "sqs", "cloudwatch"))
    topic = sns.create_topic(Name=f"{p.function}-alarms")["TopicArn"]
    inbox_url = sqs.create_queue(QueueName=f"{p.function}-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(
        QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    errors_alarm, dlq_alarm = f"{p.function}-errors", f"{p.function}-dlq-not-empty"
    cloudwatch.put_metric_alarm(
        AlarmName=errors_alarm, AlarmDescription="the function failed", Namespace="AWS/Lambda",
        MetricName="Errors", Dimensions=[{"Name": "FunctionName", "Value": p.function}], Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching", AlarmActions=[topic], OKActions=[topic])
    cloudwatch.put_metric_alarm(
        AlarmName=dlq_alarm, Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": p.dlq_arn.rsplit(":", 1)[1]}], Statistic="Maximum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic], OKActions=[topic])
    inbox = Inbox(sqs, inbox_url)
    # Both start from OK (no errors: not breaching; an empty DLQ is sampled at 0), so the next
    # notifications are real transitions.
    inbox.wait(errors_alarm, "INSUFFICIENT_DATA", "OK")
    inbox.wait(dlq_alarm, "INSUFFICIENT_DATA", "OK")

    put = p.s3.put_object(Bucket=p.bucket, Key=BAD_KEY, Body=b"id,total\n1,oops\n")
    s = Story(p, topic, errors_alarm, dlq_alarm, inbox, put, started)
    inbox.wait(errors_alarm, "OK", "ALARM")
    inbox.wait(dlq_alarm, "OK", "ALARM")

    # While the DLQ holds the event: `sluice status` next to the metrics it summarizes.
    def failing_status() -> bool:
        s.status_failing = _status(server.endpoint)
        fn = _row(s.status_failing["functions"], "name", p.function)
        dlq = _row(s.status_failing["deadLetterQueues"], "arn", p.dlq_arn)
        return fn.get("errors5m") == 3 and dlq.get("messages") == 1

    wait_for(failing_status, timeout=30)
    s.metrics_failing = _sums(cloudwatch, p.function, started, "Invocations", "Errors")
    s.status_failing_text = sluice_cli("status", endpoint=server.endpoint).stdout

    # Drain the DLQ, as an operator would after reading the failed event.
    got = wait_for(lambda: sqs.receive_message(
        QueueUrl=p.dlq_url, WaitTimeSeconds=1, MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["AWSTraceHeader"]).get("Messages"), timeout=30)
    if got:
        s.dlq_message = got[0]
        sqs.delete_message(QueueUrl=p.dlq_url, ReceiptHandle=got[0]["ReceiptHandle"])

    # The success goes into the minute right after the errors' one (metrics are stamped when the
    # attempt started): the alarm sees its Errors = 0 before that minute could end empty. On the
    # way, an invocation of another function runs across the minute boundary.
    journey = wait_trace(f"{p.bucket}/{BAD_KEY}", p.endpoint,
                         lambda j: len((j["notifications"][0]["invocation"] or {}).get("attempts", [])) == 3)
    attempts = journey["notifications"][0]["invocation"]["attempts"]
    boundary = (max(a["started"] for a in attempts) // 60 + 1) * 60
    slow = create(p.lam, SLOW)
    if boundary - time.time() > 2.5:
        time.sleep(boundary - time.time() - 1.5)
        s.slow = (slow, time.time())
        p.lam.invoke(FunctionName=slow, Payload=b"{}")
    time.sleep(max(0.0, boundary + 0.5 - time.time()))
    p.s3.put_object(Bucket=p.bucket, Key=GOOD_KEY, Body=b"id,total\n1,42\n")
    inbox.wait(errors_alarm, "ALARM", "OK")
    # Drained in the errors' minute: OK in the next one; drained just after it: one minute more.
    inbox.wait(dlq_alarm, "ALARM", "OK", timeout=75)
    wait_trace(f"{p.bucket}/{GOOD_KEY}", p.endpoint,
               lambda j: "end" in (j["notifications"][0]["invocation"] or {}))
    s.status_after = _status(server.endpoint)
    return s


def _notifications(s: Story, alarm: str) -> list[tuple[str, str]]:
    return [(m["OldStateValue"], m["NewStateValue"]) for _, m in s.inbox.seen if m["AlarmName"] == alarm]


def _described(s: Story, alarm: str) -> dict[str, Any]:
    """The alarm as DescribeAlarms shows it now (for failure messages)."""
    cloudwatch = make_client("cloudwatch", s.pipeline.endpoint)
    return cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]


# -- 1. alarms that act -------------------------------------------------------------------------


def test_errors_alarm_fires_on_the_failing_upload_and_clears_on_successes(story: Story) -> None:
    s, p = story, story.pipeline
    assert _notifications(s, s.errors_alarm) == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")], \
        _described(s, s.errors_alarm)
    found = s.inbox.wait(s.errors_alarm, "OK", "ALARM", timeout=0)
    assert found is not None
    envelope, message = found
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == s.topic
    assert envelope["Subject"] == f'ALARM: "{s.errors_alarm}" in {REGION_NAME}'
    arn = f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{s.errors_alarm}"
    assert message["AlarmArn"] == arn and message["AWSAccountId"] == "000000000000"
    assert message["AlarmDescription"] == "the function failed" and message["Region"] == REGION_NAME
    assert message["OKActions"] == message["AlarmActions"] == [s.topic]
    assert re.fullmatch(r"Threshold Crossed: 1 datapoint \[[123]\.0 \(\d\d/\d\d/\d\d \d\d:\d\d:00\)\] "
                        r"was greater than the threshold \(0\.0\)\.", message["NewStateReason"]), message
    assert message["Trigger"] == {
        "MetricName": "Errors", "Namespace": "AWS/Lambda", "StatisticType": "Statistic", "Statistic": "SUM",
        "Unit": None, "Dimensions": [{"value": p.function, "name": "FunctionName"}], "Period": 60,
        "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0.0,
        "TreatMissingData": "- TreatMissingData: notBreaching", "EvaluateLowSampleCountPercentile": "",
    }
    # Back to OK from data: the success's Errors datapoint (0), not a missing period.
    ok = s.inbox.wait(s.errors_alarm, "ALARM", "OK", timeout=0)
    assert ok is not None
    assert re.fullmatch(r"Threshold Crossed: 1 datapoint \[0\.0 \(.*\)\] was not greater than the threshold "
                        r"\(0\.0\)\.", ok[1]["NewStateReason"]), ok[1]
    assert ok[0]["Subject"] == f'OK: "{s.errors_alarm}" in {REGION_NAME}'
    history = make_client("cloudwatch", p.endpoint).describe_alarm_history(
        AlarmName=s.errors_alarm, ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history if h["HistoryItemType"] != "ConfigurationUpdate"] == [
        "Alarm updated from INSUFFICIENT_DATA to OK", f"Successfully executed action {s.topic}",
        "Alarm updated from OK to ALARM", f"Successfully executed action {s.topic}",
        "Alarm updated from ALARM to OK", f"Successfully executed action {s.topic}"]


def test_dlq_depth_alarm_fires_when_the_event_lands_and_clears_when_drained(story: Story) -> None:
    s, p = story, story.pipeline
    assert _notifications(s, s.dlq_alarm) == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")], \
        _described(s, s.dlq_alarm)
    found = s.inbox.wait(s.dlq_alarm, "OK", "ALARM", timeout=0)
    assert found is not None
    message = found[1]
    assert message["Trigger"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert message["Trigger"]["Namespace"] == "AWS/SQS" and message["Trigger"]["Statistic"] == "MAXIMUM"
    assert message["Trigger"]["Dimensions"] == [{"value": p.dlq_arn.rsplit(":", 1)[1], "name": "QueueName"}]
    assert message["Trigger"]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert re.fullmatch(r"Threshold Crossed: 1 datapoint \[1\.0 \(.*\)\] was greater than or equal to the "
                        r"threshold \(1\.0\)\.", message["NewStateReason"]), message
    ok = s.inbox.wait(s.dlq_alarm, "ALARM", "OK", timeout=0)
    assert ok is not None and ok[1]["OldStateValue"] == "ALARM"
    assert ok[1]["NewStateReason"].startswith("Threshold Crossed: 1 datapoint [0.0 (")


# -- 2. metric values of the S3-driven sequence ---------------------------------------------------


def test_metrics_of_s3_events_read_back_with_boto3(story: Story) -> None:
    s, p = story, story.pipeline
    cloudwatch = make_client("cloudwatch", p.endpoint)
    # One failing upload (3 attempts) and one success.
    assert _sums(cloudwatch, p.function, s.started, "Invocations", "Errors", "AsyncEventsReceived",
                 "AsyncEventsDropped", "Throttles", "DeadLetterErrors") == {
        "Invocations": 4, "Errors": 3, "AsyncEventsReceived": 2, "AsyncEventsDropped": 1, "Throttles": 0,
        "DeadLetterErrors": 0}
    # Errors is a 0/1 indicator published for every invocation, as AWS does: its average is the error rate.
    counts = _sums(cloudwatch, p.function, s.started, "Errors", "Invocations", "Duration", stat="SampleCount")
    assert counts == {"Errors": 4, "Invocations": 4, "Duration": 4}
    dlq = {"Namespace": "AWS/SQS", "MetricName": "NumberOfMessagesSent",
           "Dimensions": [{"Name": "QueueName", "Value": p.dlq_arn.rsplit(":", 1)[1]}]}
    end = (time.time() // 60 + 2) * 60
    sent = cloudwatch.get_metric_data(
        StartTime=s.started // 60 * 60, EndTime=end,
        MetricDataQueries=[{"Id": "sent", "MetricStat": {"Metric": dlq, "Period": 60, "Stat": "Sum"}}])
    assert sum(sent["MetricDataResults"][0]["Values"]) == 1


def _aws(endpoint: str, *args: str, cwd: Path | None = None) -> Any:
    proc = subprocess.run([sys.executable, "-m", "awscli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "AWS_ENDPOINT_URL": endpoint}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _epoch(timestamp: float | str) -> float:
    """The CLI prints timestamps as the wire carried them: epoch seconds (CBOR) or ISO 8601."""
    if isinstance(timestamp, (int, float)):
        return float(timestamp)
    return dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def test_metrics_of_s3_events_read_back_with_the_aws_cli(story: Story) -> None:
    s, p = story, story.pipeline
    start, end = s.started // 60 * 60, (time.time() // 60 + 2) * 60
    got = {}
    for metric in ("Invocations", "Errors", "AsyncEventsReceived", "AsyncEventsDropped"):
        out = _aws(p.endpoint, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda",
                   "--metric-name", metric, "--dimensions", f"Name=FunctionName,Value={p.function}",
                   "--statistics", "Sum", "SampleCount", "--period", "60",
                   "--start-time", _iso(start), "--end-time", _iso(end))
        assert out["Label"] == metric and all(d["Unit"] == "Count" for d in out["Datapoints"])
        got[metric] = (sum(d["Sum"] for d in out["Datapoints"]), sum(d["SampleCount"] for d in out["Datapoints"]))
    assert got == {"Invocations": (4, 4), "Errors": (3, 4), "AsyncEventsReceived": (2, 2),
                   "AsyncEventsDropped": (1, 1)}


# -- 3. status and trace during the pipeline ------------------------------------------------------


def test_status_shows_dlq_depth_and_error_rate_consistent_with_metrics(story: Story) -> None:
    s, p = story, story.pipeline
    fn = _row(s.status_failing["functions"], "name", p.function)
    dlq = _row(s.status_failing["deadLetterQueues"], "arn", p.dlq_arn)
    assert dlq["messages"] == 1 and dlq["usedBy"] == [{"function": p.function, "as": "DeadLetterConfig"}]
    assert (fn["invocations5m"], fn["errors5m"], fn["errorRate5m"]) == (3, 3, 1.0)
    assert s.metrics_failing == {"Invocations": fn["invocations5m"], "Errors": fn["errors5m"]}
    line = next(row for row in s.status_failing_text.splitlines() if row.startswith(p.function))
    assert line.split()[-3:] == ["3", "3", "100.0%"]
    dlq_line = next(row for row in s.status_failing_text.splitlines() if row.startswith(dlq["name"]))
    assert dlq_line.split()[:2] == [dlq["name"], "1"]
    after = _row(s.status_after["functions"], "name", p.function)
    assert (after["invocations5m"], after["errors5m"], after["errorRate5m"]) == (4, 3, 0.75)
    assert _row(s.status_after["deadLetterQueues"], "arn", p.dlq_arn)["messages"] == 0


def test_trace_of_the_failing_upload_shows_three_attempts_and_the_dlq(story: Story) -> None:
    s, p = story, story.pipeline
    target = f"{p.bucket}/{BAD_KEY}"
    [journey] = trace_json(target, p.endpoint)["journeys"]
    invocation = journey["notifications"][0]["invocation"]
    assert [a["outcome"] for a in invocation["attempts"]] == ["Unhandled"] * 3
    end = invocation["end"]
    assert (end["condition"], end["attempts"], end["result"]) == ("RetriesExhausted", 3, "dead-letter")
    [send] = [x for x in end["sends"] if x["kind"] == "dead-letter"]
    assert send["ok"] and send["target"] == p.dlq_arn and send["messageId"] == s.dlq_message["MessageId"]
    assert invocation["requestId"] == s.dlq_message["MessageAttributes"]["RequestID"]["StringValue"]
    # One X-Ray root from the upload to the DLQ message.
    root = journey["traceHeader"].split(";")[0]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", root), journey["traceHeader"]
    assert s.dlq_message["Attributes"]["AWSTraceHeader"].split(";")[0] == root
    human = sluice_cli("trace", target, endpoint=p.endpoint)
    assert human.returncode == 0, human.stderr
    for n in (1, 2, 3):
        assert f"attempt {n}" in human.stdout
    assert (f"dead-letter queue (RetriesExhausted after 3 attempts), message {s.dlq_message['MessageId']}"
            in human.stdout)
    assert f"at --time-scale {SCALE}" in human.stdout


# -- 4. the README's CLI commands ---------------------------------------------------------------


def test_cli_list_metrics_and_get_metric_data_with_a_query_file(story: Story, tmp_path: Path) -> None:
    s, p = story, story.pipeline
    listed = _aws(p.endpoint, "cloudwatch", "list-metrics", "--namespace", "AWS/Lambda",
                  "--dimensions", f"Name=FunctionName,Value={p.function}")["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"Invocations", "Errors", "Duration", "AsyncEventsReceived", "AsyncEventAge",
            "AsyncEventsDropped"} <= names
    assert all(m["Namespace"] == "AWS/Lambda" for m in listed)
    # Both dimension sets AWS publishes: by function, and by function and resource.
    dims = [m["Dimensions"] for m in listed if m["MetricName"] == "Errors"]
    assert sorted(dims, key=len) == [[{"Name": "FunctionName", "Value": p.function}],
                                     [{"Name": "FunctionName", "Value": p.function},
                                      {"Name": "Resource", "Value": p.function}]]
    everything = _aws(p.endpoint, "cloudwatch", "list-metrics", "--namespace", "AWS/Lambda")["Metrics"]
    assert all(m["Namespace"] == "AWS/Lambda" for m in everything) and len(everything) >= len(listed)

    metric = {"Namespace": "AWS/Lambda", "Dimensions": [{"Name": "FunctionName", "Value": p.function}]}
    (tmp_path / "queries.json").write_text(json.dumps([
        {"Id": "errors", "MetricStat": {"Metric": {**metric, "MetricName": "Errors"}, "Period": 60, "Stat": "Sum"}},
        {"Id": "invocations", "Label": "Invocations per minute",
         "MetricStat": {"Metric": {**metric, "MetricName": "Invocations"}, "Period": 60, "Stat": "Sum"}},
    ]))
    start, end = s.started // 60 * 60, (time.time() // 60 + 2) * 60
    out = _aws(p.endpoint, "cloudwatch", "get-metric-data", "--metric-data-queries", "file://queries.json",
               "--start-time", _iso(start), "--end-time", _iso(end), cwd=tmp_path)
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert results["errors"]["Label"] == "Errors" and results["invocations"]["Label"] == "Invocations per minute"
    assert sum(results["errors"]["Values"]) == 3 and sum(results["invocations"]["Values"]) == 4
    for r in results.values():
        assert r["StatusCode"] == "Complete" and len(r["Timestamps"]) == len(r["Values"])
        stamps = [_epoch(t) for t in r["Timestamps"]]
        assert stamps == sorted(stamps, reverse=True) and all(t % 60 == 0 for t in stamps)


def test_standard_resolution_data_is_kept_per_minute(story: Story) -> None:
    """AWS's own metrics are standard resolution: asked for 10-second periods, CloudWatch returns
    them at the start of each minute (an alarm with a 10-second period sees them there only)."""
    s, p = story, story.pipeline
    start, end = s.started // 60 * 60, (time.time() // 60 + 2) * 60
    out = _aws(p.endpoint, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda",
               "--metric-name", "Invocations", "--dimensions", f"Name=FunctionName,Value={p.function}",
               "--statistics", "Sum", "--period", "10", "--start-time", _iso(start), "--end-time", _iso(end))
    assert sum(d["Sum"] for d in out["Datapoints"]) == 4
    assert all(_epoch(d["Timestamp"]) % 60 == 0 for d in out["Datapoints"]), out
    # PutMetricData: standard unless StorageResolution is 1.
    cloudwatch = make_client("cloudwatch", p.endpoint)
    space = f"Test/{p.function}"
    base = dt.datetime.fromtimestamp((time.time() // 60 - 2) * 60, tz=dt.timezone.utc)
    at = base + dt.timedelta(seconds=42)
    cloudwatch.put_metric_data(Namespace=space, MetricData=[
        {"MetricName": "Standard", "Value": 1, "Timestamp": at},
        {"MetricName": "High", "Value": 1, "Timestamp": at, "StorageResolution": 1}])

    def datapoints(name: str, begin: dt.datetime) -> list[tuple[dt.datetime, float]]:
        got = cloudwatch.get_metric_statistics(
            Namespace=space, MetricName=name, StartTime=begin, EndTime=base + dt.timedelta(minutes=1),
            Period=10, Statistics=["Sum"])["Datapoints"]
        return [(d["Timestamp"], d["Sum"]) for d in got]

    assert datapoints("Standard", base) == [(base, 1)]
    assert datapoints("High", base) == [(base + dt.timedelta(seconds=40), 1)]
    # From 10:00:30 on, the standard point (stored at 10:00:00) is before the range.
    assert datapoints("Standard", base + dt.timedelta(seconds=30)) == []


def test_invocation_metrics_are_stamped_when_the_invocation_started(story: Story) -> None:
    """AWS: "the timestamp on an error metric reflects when the function was invoked"."""
    if story.slow is None:
        pytest.skip("the story reached its minute boundary too late to run an invocation across it")
    function, invoked = story.slow
    cloudwatch = make_client("cloudwatch", story.pipeline.endpoint)
    minute = invoked // 60 * 60
    got = cloudwatch.get_metric_data(
        StartTime=minute - 60, EndTime=minute + 180, ScanBy="TimestampAscending",
        MetricDataQueries=[{"Id": name.lower(), "MetricStat": {"Metric": {
            "Namespace": "AWS/Lambda", "MetricName": name, "Dimensions": [{"Name": "FunctionName", "Value": function}]},
            "Period": 60, "Stat": "SampleCount"}} for name in ("Invocations", "Errors", "Duration")])
    for result in got["MetricDataResults"]:
        assert [(t.timestamp(), v) for t, v in zip(result["Timestamps"], result["Values"], strict=True)] == [
            (minute, 1)], result


def test_emf_storage_resolution_is_kept(server: SluiceProcess) -> None:
    """An EMF line's StorageResolution 1 makes a high-resolution metric, as PutMetricData's does."""
    logs, cloudwatch = make_client("logs", server.endpoint), make_client("cloudwatch", server.endpoint)
    name = unique("emf")
    group, space = f"/app/{name}", f"App/{name}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    base = (time.time() // 60 - 2) * 60
    at = int((base + 42) * 1000)
    lines = [json.dumps({"_aws": {"Timestamp": at, "CloudWatchMetrics": [{
        "Namespace": space, "Dimensions": [["Service"]],
        "Metrics": [{"Name": name, "Unit": "Count", **extra}]}]}, "Service": "api", name: 1})
        for name, extra in (("High", {"StorageResolution": 1}), ("Standard", {}))]

    def with_header(request: Any, **_: Any) -> None:
        request.headers["x-amzn-logs-format"] = "json/emf"

    logs.meta.events.register("before-sign.cloudwatch-logs.PutLogEvents", with_header)
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": at, "message": line} for line in lines])
    start = dt.datetime.fromtimestamp(base, tz=dt.timezone.utc)

    def stamps(name: str) -> list[float]:
        got = cloudwatch.get_metric_statistics(
            Namespace=space, MetricName=name, Dimensions=[{"Name": "Service", "Value": "api"}], StartTime=start,
            EndTime=start + dt.timedelta(minutes=1), Period=10, Statistics=["Sum"])["Datapoints"]
        return [d["Timestamp"].timestamp() for d in got]

    assert wait_for(lambda: stamps("High"), timeout=30) == [base + 40]
    assert stamps("Standard") == [base]


def test_high_resolution_alarm_at_real_speed(tmp_path: Path) -> None:
    """Without --time-scale a 10-second alarm is still checked every 10 seconds, as on AWS."""
    proc = SluiceProcess(tmp_path / "data").start()
    try:
        cloudwatch = make_client("cloudwatch", proc.endpoint)
        cloudwatch.put_metric_alarm(
            AlarmName="latency", Namespace="App", MetricName="Latency", Statistic="Maximum", Period=10,
            EvaluationPeriods=1, Threshold=100, ComparisonOperator="GreaterThanThreshold")
        cloudwatch.put_metric_data(Namespace="App", MetricData=[
            {"MetricName": "Latency", "Value": 250, "StorageResolution": 1}])

        def state() -> str | None:
            alarm = cloudwatch.describe_alarms(AlarmNames=["latency"])["MetricAlarms"][0]
            return alarm["StateReason"] if alarm["StateValue"] == "ALARM" else None

        reason = wait_for(state, timeout=25)
        assert reason and reason.startswith("Threshold Crossed: 1 datapoint [250.0 ("), reason
    finally:
        proc.stop()
