"""CloudWatch alarms against a server whose engine runs 60x faster (an evaluation every second):
thresholds crossed, M out of N, missing data, SNS notifications read from an SQS queue,
history, SetAlarmState, and durability across a restart."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import make_client, wait_for
from .server import SluiceProcess

UTC = dt.timezone.utc
REGION_NAME = "US East (N. Virginia)"


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    server = SluiceProcess(tmp_path_factory.mktemp("alarms") / "data", "--time-scale", "60").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def clients(fast: SluiceProcess) -> dict[str, Any]:
    return {name: make_client(name, fast.endpoint) for name in ("cloudwatch", "sns", "sqs")}


@pytest.fixture
def cw(clients: dict[str, Any]) -> Any:
    return clients["cloudwatch"]


@pytest.fixture
def topic_and_queue(clients: dict[str, Any]) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed to it."""
    sns, sqs = clients["sns"], clients["sqs"]
    name = f"alarms-{uuid.uuid4().hex[:8]}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, queue


def state_of(cw: Any, name: str) -> dict[str, Any]:
    alarms = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0] if alarms else {}


def wait_state(cw: Any, name: str, state: str) -> dict[str, Any]:
    alarm = wait_for(lambda: (a := state_of(cw, name)).get("StateValue") == state and a)
    assert alarm, f"{name} never reached {state}: {state_of(cw, name)}"
    return alarm


def notification(clients: dict[str, Any], queue: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The next SNS envelope on the queue and the alarm message inside it."""
    sqs = clients["sqs"]
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"))
    assert messages, "no notification arrived"
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
    envelope = json.loads(messages[0]["Body"])
    return envelope, json.loads(envelope["Message"])


def reason_date(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=UTC).strftime("%d/%m/%y %H:%M:%S")


def test_threshold_crossed_notifies_sns_then_back_to_ok(clients: dict[str, Any], cw: Any,
                                                         topic_and_queue: tuple[str, str]) -> None:
    topic, queue = topic_and_queue
    name = f"hot-{uuid.uuid4().hex[:6]}"
    space = f"Test/{uuid.uuid4().hex[:8]}"
    dims = [{"Name": "Room", "Value": "kitchen"}]
    cw.put_metric_alarm(AlarmName=name, AlarmDescription="too hot", MetricName="Temp", Namespace=space,
                        Statistic="Minimum", Dimensions=dims, Period=60, EvaluationPeriods=1, Threshold=0,
                        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic], OKActions=[topic])
    created = state_of(cw, name)
    assert created["StateValue"] == "INSUFFICIENT_DATA"
    assert created["StateReason"] == "Unchecked: Initial alarm creation"
    assert created["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}"
    # Stamped by the client, so the datapoint's minute is known even if the alarm is evaluated
    # in the next minute.
    stamp = dt.datetime.now(UTC)
    cw.put_metric_data(Namespace=space, MetricData=[{"MetricName": "Temp", "Value": 3, "Dimensions": dims,
                                                     "Timestamp": stamp}])
    alarm = wait_state(cw, name, "ALARM")
    minute = stamp.timestamp() // 60 * 60
    reason = f"Threshold Crossed: 1 datapoint [3.0 ({reason_date(minute)})] was greater than the threshold (0.0)."
    assert alarm["StateReason"] == reason
    data = json.loads(alarm["StateReasonData"])
    assert data["recentDatapoints"] == [3.0] and data["threshold"] == 0.0 and data["statistic"] == "Minimum"
    assert data["evaluatedDatapoints"][0]["value"] == 3.0

    envelope, message = notification(clients, queue)
    assert envelope["Subject"] == f'ALARM: "{name}" in {REGION_NAME}'
    assert envelope["TopicArn"] == topic
    assert message == {
        "AlarmName": name,
        "AlarmDescription": "too hot",
        "AWSAccountId": "000000000000",
        "AlarmConfigurationUpdatedTimestamp": message["AlarmConfigurationUpdatedTimestamp"],
        "NewStateValue": "ALARM",
        "NewStateReason": reason,
        "StateChangeTime": message["StateChangeTime"],
        "Region": REGION_NAME,
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": "INSUFFICIENT_DATA",
        "OKActions": [topic],
        "AlarmActions": [topic],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "Temp", "Namespace": space, "StatisticType": "Statistic", "Statistic": "MINIMUM",
            "Unit": None, "Dimensions": [{"value": "kitchen", "name": "Room"}], "Period": 60,
            "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0.0,
            "TreatMissingData": "- TreatMissingData: missing", "EvaluateLowSampleCountPercentile": "",
        },
    }
    assert message["StateChangeTime"].endswith("+0000")
    assert dt.datetime.strptime(message["StateChangeTime"], "%Y-%m-%dT%H:%M:%S.%f%z") == alarm["StateUpdatedTimestamp"]

    cw.put_metric_data(Namespace=space, MetricData=[{"MetricName": "Temp", "Value": 0, "Dimensions": dims}])
    ok = wait_state(cw, name, "OK")
    assert ok["StateReason"].startswith("Threshold Crossed: 1 datapoint [0.0 (")
    assert ok["StateReason"].endswith(")] was not greater than the threshold (0.0).")
    envelope, message = notification(clients, queue)
    assert envelope["Subject"] == f'OK: "{name}" in {REGION_NAME}'
    assert (message["OldStateValue"], message["NewStateValue"]) == ("ALARM", "OK")

    history = cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending")["AlarmHistoryItems"]
    kinds = [(h["HistoryItemType"], h["HistorySummary"]) for h in history]
    assert kinds == [
        ("ConfigurationUpdate", f'Alarm "{name}" created'),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("Action", f"Successfully executed action {topic}"),
        ("StateUpdate", "Alarm updated from ALARM to OK"),
        ("Action", f"Successfully executed action {topic}"),
    ]
    update = json.loads(history[1]["HistoryData"])
    assert update["version"] == "1.0"
    assert update["oldState"] == {"stateValue": "INSUFFICIENT_DATA", "stateReason": "Unchecked: Initial alarm creation"}
    assert update["newState"]["stateValue"] == "ALARM" and update["newState"]["stateReason"] == reason
    assert update["newState"]["stateReasonData"]["recentDatapoints"] == [3.0]
    only_state = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in only_state] == ["Alarm updated from ALARM to OK",
                                                         "Alarm updated from INSUFFICIENT_DATA to ALARM"]
    later = cw.describe_alarm_history(AlarmName=name, StartDate=history[-1]["Timestamp"])["AlarmHistoryItems"]
    assert later and all(h["Timestamp"] >= history[-1]["Timestamp"] for h in later)
    assert cw.describe_alarm_history(AlarmName=name, EndDate=history[0]["Timestamp"] - dt.timedelta(seconds=1)
                                     )["AlarmHistoryItems"] == []


def test_m_out_of_n_with_a_percentile(cw: Any) -> None:
    name = f"slow-{uuid.uuid4().hex[:6]}"
    space = f"Test/{uuid.uuid4().hex[:8]}"
    now = time.time()
    current = now // 60 * 60
    # Breaching (p90 > 100) two and one minutes ago, calm in the current minute: 2 of 3.
    for minute, values in ((current - 120, [50, 500]), (current - 60, [10, 300]), (current, [1, 2])):
        cw.put_metric_data(Namespace=space, MetricData=[
            {"MetricName": "Latency", "Values": values, "Unit": "Milliseconds",
             "Timestamp": dt.datetime.fromtimestamp(minute + 1, tz=UTC)}])
    cw.put_metric_alarm(AlarmName=name, MetricName="Latency", Namespace=space, ExtendedStatistic="p90",
                        Period=60, EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=100, Unit="Milliseconds",
                        ComparisonOperator="GreaterThanThreshold")
    alarm = wait_state(cw, name, "ALARM")
    assert alarm["StateReason"] == (
        f"Threshold Crossed: 2 out of the last 3 datapoints [300.0 ({reason_date(current - 60)}), "
        f"500.0 ({reason_date(current - 120)})] were greater than the threshold (100.0) "
        "(minimum 2 datapoints for INSUFFICIENT_DATA -> ALARM transition).")
    assert alarm["ExtendedStatistic"] == "p90" and "Statistic" not in alarm
    assert cw.describe_alarms_for_metric(MetricName="Latency", Namespace=space)["MetricAlarms"][0]["AlarmName"] == name
    assert cw.describe_alarms_for_metric(MetricName="Latency", Namespace=space, ExtendedStatistic="p99"
                                         )["MetricAlarms"] == []


@pytest.mark.parametrize(("treat", "state", "label"), [("breaching", "ALARM", "Breaching"),
                                                        ("notBreaching", "OK", "NonBreaching")])
def test_missing_data_treated_as_configured(cw: Any, treat: str, state: str, label: str) -> None:
    name = f"quiet-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(AlarmName=name, MetricName="Nothing", Namespace=f"Test/{uuid.uuid4().hex[:8]}",
                        Statistic="Sum", Period=60, EvaluationPeriods=2, Threshold=1,
                        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData=treat)
    alarm = wait_state(cw, name, state)
    assert alarm["StateReason"] == ("Threshold Crossed: no datapoints were received for 2 periods and "
                                    f"2 missing datapoints were treated as [{label}].")
    assert alarm["TreatMissingData"] == treat


def test_set_alarm_state_runs_the_actions(clients: dict[str, Any], cw: Any,
                                          topic_and_queue: tuple[str, str]) -> None:
    topic, queue = topic_and_queue
    name = f"manual-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(AlarmName=name, MetricName="M", Namespace="Test/manual", Statistic="Sum", Period=3600,
                        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[topic], TreatMissingData="ignore")
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing the pager",
                       StateReasonData='{"why": "drill"}')
    alarm = state_of(cw, name)
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "testing the pager")
    assert json.loads(alarm["StateReasonData"]) == {"why": "drill"}
    envelope, message = notification(clients, queue)
    assert envelope["Subject"] == f'ALARM: "{name}" in {REGION_NAME}'
    assert message["NewStateReason"] == "testing the pager"
    assert message["Trigger"]["TreatMissingData"] == "- TreatMissingData: ignore"
    # Disabled actions: the state still changes, nothing is published.
    cw.disable_alarm_actions(AlarmNames=[name])
    assert state_of(cw, name)["ActionsEnabled"] is False
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="back")
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="again")
    assert clients["sqs"].receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages") is None
    cw.enable_alarm_actions(AlarmNames=[name])
    assert state_of(cw, name)["ActionsEnabled"] is True
    with pytest.raises(ClientError) as exc:
        cw.set_alarm_state(AlarmName="no-such-alarm", StateValue="OK", StateReason="x")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="x", StateReasonData="{not json")
    assert exc.value.response["Error"]["Code"] == "InvalidFormat"


def test_describe_alarms_filters_pages_and_deletes(cw: Any) -> None:
    prefix = f"list-{uuid.uuid4().hex[:6]}-"
    topic = "arn:aws:sns:us-east-1:000000000000:pager"
    for i in range(3):
        cw.put_metric_alarm(AlarmName=f"{prefix}{i}", MetricName="M", Namespace="Test/list", Statistic="Sum",
                            Period=3600, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                            AlarmActions=[topic] if i == 1 else [], TreatMissingData="ignore")
    names = [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]]
    assert names == [f"{prefix}{i}" for i in range(3)]
    page = cw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=2)
    rest = cw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=2, NextToken=page["NextToken"])
    assert [a["AlarmName"] for a in page["MetricAlarms"] + rest["MetricAlarms"]] == names
    assert "NextToken" not in rest
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=prefix, ActionPrefix=topic)["MetricAlarms"]] == [
        f"{prefix}1"]
    cw.set_alarm_state(AlarmName=f"{prefix}2", StateValue="OK", StateReason="fine")
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=prefix, StateValue="OK")["MetricAlarms"]] == [
        f"{prefix}2"]
    assert cw.describe_alarms(AlarmNamePrefix=prefix, AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
    with pytest.raises(ClientError) as exc:
        cw.delete_alarms(AlarmNames=[f"{prefix}0", "no-such-alarm"])
    assert exc.value.response["Error"]["Code"] == "ResourceNotFound"
    assert len(cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]) == 3  # nothing deleted
    cw.delete_alarms(AlarmNames=[f"{prefix}0", f"{prefix}1"])
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]] == [f"{prefix}2"]


@pytest.mark.parametrize(("changes", "code", "message"), [
    ({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}, "InvalidParameterCombination",
     "The comparison operator LessThanLowerOrGreaterThanUpperThreshold is for anomaly detection alarms, which "
     "need Metrics and ThresholdMetricId; Sluice does not support them."),
    ({"TreatMissingData": "sometimes"}, "InvalidParameterValue",
     "The parameter TreatMissingData must be a value in the set [ breaching, notBreaching, ignore, missing ]."),
    ({"Period": 45}, "InvalidParameterValue", "The parameter Period must be 10, 20, 30, or a multiple of 60."),
    ({"ExtendedStatistic": "p99"}, "InvalidParameterCombination",
     "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both."),
    ({"DatapointsToAlarm": 3}, "InvalidParameterValue", "DatapointsToAlarm must be between 1 and EvaluationPeriods."),
    ({"EvaluationPeriods": 1441}, "InvalidParameterValue",
     "Metrics cannot be checked across more than 1 day (EvaluationPeriods * Period must be <= 86400)."),
])
def test_put_metric_alarm_validation(cw: Any, changes: dict[str, Any], code: str, message: str) -> None:
    params: dict[str, Any] = {"AlarmName": "bad", "MetricName": "M", "Namespace": "Test/bad", "Statistic": "Sum",
                              "Period": 60, "EvaluationPeriods": 2, "Threshold": 1,
                              "ComparisonOperator": "GreaterThanThreshold"}
    with pytest.raises(ClientError) as exc:
        cw.put_metric_alarm(**{**params, **changes})
    assert (exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]) == (code, message)
    assert state_of(cw, "bad") == {}


def test_alarms_and_history_survive_a_restart(tmp_path: Path) -> None:
    server = SluiceProcess(tmp_path / "data").start()
    try:
        cw: Any = make_client("cloudwatch", server.endpoint)
        cw.put_metric_alarm(AlarmName="durable", MetricName="M", Namespace="Test/durable", Statistic="Average",
                            Period=300, EvaluationPeriods=2, Threshold=5.5, Unit="Seconds",
                            ComparisonOperator="LessThanThreshold", TreatMissingData="ignore",
                            OKActions=["arn:aws:sns:us-east-1:000000000000:ops"])
        # "ignore": an evaluation between the two reads (no data) keeps the state it finds.
        cw.set_alarm_state(AlarmName="durable", StateValue="ALARM", StateReason="before the restart")
        before = state_of(cw, "durable")
        server.kill()  # no clean shutdown: what was acknowledged must be on disk
        server.start()
        cw = make_client("cloudwatch", server.endpoint)
        after = state_of(cw, "durable")
        assert after == before
        assert (after["StateValue"], after["Threshold"], after["Unit"], after["OKActions"]) == (
            "ALARM", 5.5, "Seconds", ["arn:aws:sns:us-east-1:000000000000:ops"])
        history = cw.describe_alarm_history(AlarmName="durable")["AlarmHistoryItems"]
        assert [h["HistoryItemType"] for h in history] == ["StateUpdate", "ConfigurationUpdate"]
    finally:
        server.stop()
