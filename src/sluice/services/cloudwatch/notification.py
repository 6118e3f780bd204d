"""The message an alarm publishes to its SNS topics on a state change, as AWS writes it."""

from __future__ import annotations

import json
from typing import Any

from .formats import json_date, region_name

SUBJECT_LIMIT = 100  # SNS subjects; AWS cuts long alarm names short


def subject(alarm: dict[str, Any], region: str) -> str:
    text = f'{alarm["StateValue"]}: "{alarm["AlarmName"]}" in {region_name(region)}'
    return text[:SUBJECT_LIMIT]


def trigger(alarm: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"MetricName": alarm["MetricName"], "Namespace": alarm["Namespace"]}
    if alarm.get("ExtendedStatistic"):
        out.update({"StatisticType": "ExtendedStatistic", "ExtendedStatistic": alarm["ExtendedStatistic"]})
    else:
        out.update({"StatisticType": "Statistic", "Statistic": alarm["Statistic"].upper()})
    out.update({
        "Unit": alarm.get("Unit"),
        "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions") or []],
        "Period": alarm["Period"],
        "EvaluationPeriods": alarm["EvaluationPeriods"],
    })
    if alarm.get("DatapointsToAlarm") is not None:
        out["DatapointsToAlarm"] = alarm["DatapointsToAlarm"]
    out.update({
        "ComparisonOperator": alarm["ComparisonOperator"],
        "Threshold": float(alarm["Threshold"]),
        "TreatMissingData": f"- TreatMissingData: {alarm.get('TreatMissingData') or 'missing'}",
        "EvaluateLowSampleCountPercentile": alarm.get("EvaluateLowSampleCountPercentile") or "",
    })
    return out


def message(alarm: dict[str, Any], old_state: str, account: str, region: str) -> str:
    body = {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": json_date(alarm["AlarmConfigurationUpdatedTimestamp"]),
        "NewStateValue": alarm["StateValue"],
        "NewStateReason": alarm["StateReason"],
        "StateChangeTime": json_date(alarm["StateUpdatedTimestamp"]),
        "Region": region_name(region),
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": old_state,
        "OKActions": alarm.get("OKActions") or [],
        "AlarmActions": alarm.get("AlarmActions") or [],
        "InsufficientDataActions": alarm.get("InsufficientDataActions") or [],
        "Trigger": trigger(alarm),
    }
    return json.dumps(body)
