"""Reading Sluice's own metrics as a user would: CloudWatch's API, never the data file."""

from __future__ import annotations

import datetime as dt
from typing import Any


def lambda_metric_sum(cw: Any, name: str, function: str) -> float:
    """The Sum of one function's AWS/Lambda metric over the last hour (GetMetricStatistics by
    FunctionName, the set every Lambda metric is published under); 0 when it has no data."""
    now = dt.datetime.now(dt.timezone.utc)
    got = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=name,
                                   Dimensions=[{"Name": "FunctionName", "Value": function}],
                                   StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
                                   Period=60, Statistics=["Sum"])
    return float(sum(p["Sum"] for p in got["Datapoints"]))


def lambda_metric_names(cw: Any, function: str) -> set[str]:
    """The names of the AWS/Lambda metrics one function has data for (ListMetrics)."""
    listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": function}])
    return {m["MetricName"] for m in listed["Metrics"]}
