"""CloudWatch's alarm evaluator is engine work on the Clock (a PeriodicTask that server.py adds to
the Engine): with a manual clock, in process, an alarm is evaluated exactly when an advance
reaches an evaluation, and never in between. No real sleeps: the test waits only for the work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sluice.clock import ManualClock
from sluice.protocol.context import RequestContext
from sluice.server import Sluice

from .manual_clock import run_manual


def ctx() -> RequestContext:
    return RequestContext(request_id="test-cloudwatch", host_id="test", account_id="000000000000",
                          region="us-east-1", service="cloudwatch", endpoint="http://127.0.0.1")


def call(service: Any, operation: str, **params: Any) -> Any:
    fn = service.operation(operation)
    assert fn is not None, operation
    return fn(ctx(), **params)


def state(cw: Any, name: str) -> str:
    [alarm] = call(cw, "DescribeAlarms", AlarmNames=[name])["MetricAlarms"]
    return str(alarm["StateValue"])


def run(tmp_path: Path, time_scale: float, body: Any) -> None:
    async def scenario(app: Sluice, clock: ManualClock) -> None:
        await body(clock, app.services["cloudwatch"])

    run_manual(tmp_path, scenario, time_scale=time_scale)


def test_alarm_is_evaluated_exactly_when_the_manual_clock_reaches_an_evaluation(tmp_path: Path) -> None:
    async def body(clock: ManualClock, cw: Any) -> None:
        call(cw, "PutMetricAlarm", AlarmName="busy", MetricName="Jobs", Namespace="Test/Manual", Statistic="Sum",
             Period=60, EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
        call(cw, "PutMetricData", Namespace="Test/Manual", MetricData=[{"MetricName": "Jobs", "Value": 10}])
        await clock.run_until_idle()
        assert state(cw, "busy") == "INSUFFICIENT_DATA"  # no evaluation at start: the first is due later

        # At time scale 1 an evaluation is due every 10 seconds of the clock (the high-resolution floor).
        await clock.advance(9.9)
        assert state(cw, "busy") == "INSUFFICIENT_DATA"
        await clock.advance(0.1)
        assert state(cw, "busy") == "ALARM"

        # Two minutes on, the datapoint is out of the evaluated period: missing data.
        await clock.advance(120)
        assert state(cw, "busy") == "INSUFFICIENT_DATA"
        history = call(cw, "DescribeAlarmHistory", AlarmName="busy", HistoryItemType="StateUpdate",
                       ScanBy="TimestampAscending")["AlarmHistoryItems"]
        assert [h["HistorySummary"] for h in history] == ["Alarm updated from INSUFFICIENT_DATA to ALARM",
                                                         "Alarm updated from ALARM to INSUFFICIENT_DATA"]

    run(tmp_path, 1.0, body)


def test_on_a_scaled_clock_an_evaluation_is_due_every_engine_minute(tmp_path: Path) -> None:
    async def body(clock: ManualClock, cw: Any) -> None:
        call(cw, "PutMetricAlarm", AlarmName="quiet", MetricName="Nothing", Namespace="Test/Manual",
             Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1, TreatMissingData="notBreaching",
             ComparisonOperator="GreaterThanOrEqualToThreshold")
        await clock.run_until_idle()
        # 60 engine seconds at time scale 60 are one second of the clock.
        await clock.advance(0.9)
        assert state(cw, "quiet") == "INSUFFICIENT_DATA"
        await clock.advance(0.1)
        assert state(cw, "quiet") == "OK"

    run(tmp_path, 60.0, body)
