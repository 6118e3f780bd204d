"""CloudWatch's metric alarms API: PutMetricAlarm, DescribeAlarms(ForMetric), DeleteAlarms,
Enable/DisableAlarmActions, SetAlarmState, DescribeAlarmHistory.

An alarm's configuration is checked and stored here; its state moves in the evaluator
(evaluator.py), which SetAlarmState goes through too.
"""

from __future__ import annotations

from typing import Any

from ...protocol import safejson
from ...protocol.context import RequestContext
from . import errors
from .alarms import Alarm, HistoryItem
from .common import Shared, offset_of, page_size, token
from .dimensions import checked_dims, dims_dict
from .evaluation import OPERATORS, Verdict
from .evaluator import AlarmEvaluator
from .formats import json_date
from .statistics import STATISTICS, percentile_of

MAX_ACTIONS = 5
ALARM_SHORT_PERIODS = (10, 20, 30)
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
BAND_OPERATORS = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold")
HISTORY_TYPES = ("ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate",
                 "AlarmContributorAction")


class AlarmApi:
    def __init__(self, shared: Shared, evaluator: AlarmEvaluator) -> None:
        self.shared = shared
        self.clock = shared.clock
        self.alarms = shared.alarms
        self.evaluator = evaluator

    def _arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.shared.region}:{self.shared.account}:alarm:{name}"

    def put_metric_alarm(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        config = self._alarm_config(params)
        now = self.clock.now()
        name = config["AlarmName"]
        with self.shared.lock:
            old = self.alarms.get(name)
            alarm: Alarm = {**config, "AlarmArn": self._arn(name), "AlarmConfigurationUpdatedTimestamp": now}
            if old is None:
                alarm.update(StateValue="INSUFFICIENT_DATA", StateReason="Unchecked: Initial alarm creation",
                             StateUpdatedTimestamp=now, StateTransitionedTimestamp=now)
                item = HistoryItem(name, now, "ConfigurationUpdate", f'Alarm "{name}" created',
                                   {"type": "Create", "version": "1.0", "createdAlarm": _history_view(alarm)})
            else:
                for key in ("StateValue", "StateReason", "StateReasonData", "StateUpdatedTimestamp",
                            "StateTransitionedTimestamp"):
                    if key in old:
                        alarm[key] = old[key]
                item = HistoryItem(name, now, "ConfigurationUpdate", f'Alarm "{name}" updated',
                                   {"type": "Update", "version": "1.0", "originalAlarm": _history_view(old),
                                    "updatedAlarm": _history_view(alarm)})
            self.alarms.put([alarm], [item])
        return {}

    def _alarm_config(self, p: dict[str, Any]) -> dict[str, Any]:
        for member in ("AlarmName", "EvaluationPeriods", "ComparisonOperator"):
            if p.get(member) is None:
                raise errors.missing(member)
        name = p["AlarmName"]
        if not 1 <= len(name) <= 255:
            raise errors.invalid_value(name, "AlarmName")
        if p.get("Metrics") is not None:
            raise errors.combination("Sluice does not support alarms on metric math or several metrics "
                                     "(Metrics); give MetricName, Namespace, Statistic and Period.")
        operator = p["ComparisonOperator"]
        if operator in BAND_OPERATORS:
            raise errors.combination(f"The comparison operator {operator} is for anomaly detection alarms, which "
                                     "need Metrics and ThresholdMetricId; Sluice does not support them.")
        if operator not in OPERATORS:
            raise errors.one_of("ComparisonOperator", (*OPERATORS, *BAND_OPERATORS))
        for member in ("MetricName", "Namespace", "Period", "Threshold"):
            if p.get(member) is None:
                raise errors.missing(member)
        if p.get("Statistic") is not None and p.get("ExtendedStatistic") is not None:
            raise errors.combination("The parameters Statistic and ExtendedStatistic are mutually exclusive "
                                     "and you have specified both.")
        if p.get("Statistic") is None and p.get("ExtendedStatistic") is None:
            raise errors.missing("Statistic")
        if p.get("Statistic") is not None and p["Statistic"] not in STATISTICS:
            raise errors.one_of("Statistic", STATISTICS)
        if p.get("ExtendedStatistic") is not None and percentile_of(p["ExtendedStatistic"]) is None:
            raise errors.invalid_value(p["ExtendedStatistic"], "ExtendedStatistic")
        period = p["Period"]
        if period <= 0 or (period not in ALARM_SHORT_PERIODS and period % 60):
            raise errors.invalid("The parameter Period must be 10, 20, 30, or a multiple of 60.")
        periods = p["EvaluationPeriods"]
        if periods < 1:
            raise errors.invalid("The parameter EvaluationPeriods must be greater than or equal to 1.")
        span = 7 * 86400 if period >= 3600 else 86400
        if periods * period > span:
            raise errors.invalid(f"Metrics cannot be checked across more than {span // 86400} day"
                                 f"{'s' if span > 86400 else ''} (EvaluationPeriods * Period must be <= {span}).")
        to_alarm = p.get("DatapointsToAlarm")
        if to_alarm is not None and not 1 <= to_alarm <= periods:
            raise errors.invalid("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
        treat = p.get("TreatMissingData")
        if treat is not None and treat not in TREAT_MISSING:
            raise errors.one_of("TreatMissingData", TREAT_MISSING)
        low_sample = p.get("EvaluateLowSampleCountPercentile")
        if low_sample not in (None, "", "evaluate", "ignore"):
            raise errors.one_of("EvaluateLowSampleCountPercentile", ("evaluate", "ignore"))
        if p.get("Unit") is not None and p["Unit"] not in self.shared.units:
            raise errors.one_of("Unit", self.shared.units)
        dims = p.get("Dimensions") or []
        # Checked here, not only when evaluated: a stored alarm with a nameless dimension made
        # every evaluation fail, which stopped all the alarms listed after it.
        checked_dims(dims, "Dimensions")
        for kind in ("OKActions", "AlarmActions", "InsufficientDataActions"):
            actions = p.get(kind) or []
            if len(actions) > MAX_ACTIONS:
                raise errors.too_many(kind, MAX_ACTIONS)
            for i, arn in enumerate(actions, start=1):
                if not arn.startswith("arn:"):
                    raise errors.invalid_value(arn, f"{kind}.member.{i}")
        config = {k: p[k] for k in ("AlarmName", "AlarmDescription", "MetricName", "Namespace", "Statistic",
                                    "ExtendedStatistic", "Period", "Unit", "EvaluationPeriods",
                                    "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
                                    "EvaluateLowSampleCountPercentile") if p.get(k) is not None}
        config.update(ActionsEnabled=p.get("ActionsEnabled", True), Dimensions=dims,
                      OKActions=p.get("OKActions") or [], AlarmActions=p.get("AlarmActions") or [],
                      InsufficientDataActions=p.get("InsufficientDataActions") or [])
        config["Threshold"] = float(config["Threshold"])
        return config

    def describe_alarms(self, ctx: RequestContext, AlarmNames: list[str] | None = None,
                        AlarmNamePrefix: str | None = None, AlarmTypes: list[str] | None = None,
                        StateValue: str | None = None, ActionPrefix: str | None = None,
                        MaxRecords: int | None = None, NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        if len(AlarmNames or []) > 100:
            raise errors.too_many("AlarmNames", 100)
        if AlarmNames and AlarmNamePrefix is not None:
            raise errors.combination("The parameters AlarmNames and AlarmNamePrefix are mutually exclusive "
                                     "and you have specified both.")
        if StateValue is not None and StateValue not in STATES:
            raise errors.one_of("StateValue", STATES)
        for i, t in enumerate(AlarmTypes or [], start=1):
            if t not in ("MetricAlarm", "CompositeAlarm"):
                raise errors.one_of(f"AlarmTypes.member.{i}", ("MetricAlarm", "CompositeAlarm"))
        page = page_size(MaxRecords, 100, 50)
        alarms = self.alarms.all() if AlarmTypes is None or "MetricAlarm" in AlarmTypes else []
        names = set(AlarmNames or [])
        alarms = [a for a in alarms
                  if (not names or a["AlarmName"] in names)
                  and (AlarmNamePrefix is None or a["AlarmName"].startswith(AlarmNamePrefix))
                  and (StateValue is None or a["StateValue"] == StateValue)
                  and (ActionPrefix is None or any(arn.startswith(ActionPrefix) for kind in
                                                   ("OKActions", "AlarmActions", "InsufficientDataActions")
                                                   for arn in a.get(kind) or []))]
        offset = offset_of(NextToken)
        out: dict[str, Any] = {"MetricAlarms": alarms[offset:offset + page], "CompositeAlarms": []}
        if offset + page < len(alarms):
            out["NextToken"] = token(offset + page)
        return out

    @staticmethod
    def _page_size(value: int | None, high: int, default: int) -> int:
        if value is None:
            return default
        if not 1 <= value <= high:
            raise errors.invalid(f"The parameter MaxRecords must be between 1 and {high}.")
        return value

    def describe_alarms_for_metric(self, ctx: RequestContext, MetricName: str | None = None,
                                   Namespace: str | None = None, Statistic: str | None = None,
                                   ExtendedStatistic: str | None = None, Dimensions: list[dict[str, str]] | None = None,
                                   Period: int | None = None, Unit: str | None = None) -> dict[str, Any]:
        for member, value in (("MetricName", MetricName), ("Namespace", Namespace)):
            if value is None:
                raise errors.missing(member)
        dims = checked_dims(Dimensions, "Dimensions") if Dimensions is not None else None
        found = [a for a in self.alarms.all()
                 if a["MetricName"] == MetricName and a["Namespace"] == Namespace
                 and (dims is None or dims_dict(a.get("Dimensions")) == dims)
                 and (Statistic is None or a.get("Statistic") == Statistic)
                 and (ExtendedStatistic is None or a.get("ExtendedStatistic") == ExtendedStatistic)
                 and (Period is None or a["Period"] == Period)
                 and (Unit is None or a.get("Unit") == Unit)]
        return {"MetricAlarms": found}

    def delete_alarms(self, ctx: RequestContext, AlarmNames: list[str] | None = None) -> dict[str, Any]:
        names = AlarmNames or []
        if not names:
            raise errors.missing("AlarmNames")
        if len(names) > 100:
            raise errors.too_many("AlarmNames", 100)
        with self.shared.lock:
            absent = [n for n in names if self.alarms.get(n) is None]
            if absent:
                # AWS deletes nothing when any name is wrong.
                raise errors.not_found(f"{len(absent)} of {len(names)} alarm(s) not found: {', '.join(absent)}")
            now = self.clock.now()
            self.alarms.delete(names, [HistoryItem(n, now, "ConfigurationUpdate", f'Alarm "{n}" deleted',
                                                   {"type": "Delete", "version": "1.0"}) for n in names])
        return {}

    def _set_actions_enabled(self, names: list[str] | None, enabled: bool) -> dict[str, Any]:
        if not names:
            raise errors.missing("AlarmNames")
        with self.shared.lock:
            changed = []
            for n in names:
                alarm = self.alarms.get(n)
                if alarm is not None:
                    alarm["ActionsEnabled"] = enabled
                    changed.append(alarm)
            self.alarms.put(changed)
        return {}

    def enable_alarm_actions(self, ctx: RequestContext, AlarmNames: list[str] | None = None) -> dict[str, Any]:
        return self._set_actions_enabled(AlarmNames, True)

    def disable_alarm_actions(self, ctx: RequestContext, AlarmNames: list[str] | None = None) -> dict[str, Any]:
        return self._set_actions_enabled(AlarmNames, False)

    def set_alarm_state(self, ctx: RequestContext, AlarmName: str | None = None, StateValue: str | None = None,
                        StateReason: str | None = None, StateReasonData: str | None = None) -> dict[str, Any]:
        for member, value in (("AlarmName", AlarmName), ("StateValue", StateValue), ("StateReason", StateReason)):
            if value is None:
                raise errors.missing(member)
        assert AlarmName is not None and StateValue is not None and StateReason is not None
        if StateValue not in STATES:
            raise errors.one_of("StateValue", STATES)
        data: dict[str, Any] | None = None
        if StateReasonData is not None:
            try:
                data = safejson.loads(StateReasonData)
            except ValueError:
                raise errors.invalid_format("The parameter StateReasonData is not valid JSON.") from None
        if self.alarms.get(AlarmName) is None:
            raise errors.not_found(f"Alarm {AlarmName} not found")
        self.evaluator.transition(AlarmName, Verdict(StateValue, StateReason, data or {}), self.clock.now())
        return {}

    def describe_alarm_history(self, ctx: RequestContext, AlarmName: str | None = None,
                               HistoryItemType: str | None = None, StartDate: Any = None, EndDate: Any = None,
                               MaxRecords: int | None = None, NextToken: str | None = None,
                               ScanBy: str | None = None, AlarmTypes: list[str] | None = None,
                               **_: Any) -> dict[str, Any]:
        if HistoryItemType is not None and HistoryItemType not in HISTORY_TYPES:
            raise errors.one_of("HistoryItemType", HISTORY_TYPES)
        if ScanBy not in (None, "TimestampDescending", "TimestampAscending"):
            raise errors.one_of("ScanBy", ("TimestampDescending", "TimestampAscending"))
        page = page_size(MaxRecords, 100, 100)
        if AlarmTypes is not None and "MetricAlarm" not in AlarmTypes:
            return {"AlarmHistoryItems": []}
        rows = self.alarms.history(AlarmName, HistoryItemType,
                                   StartDate.timestamp() if StartDate is not None else None,
                                   EndDate.timestamp() if EndDate is not None else None,
                                   descending=ScanBy != "TimestampAscending")
        offset = offset_of(NextToken)
        items = [{"AlarmName": r["name"], "AlarmType": "MetricAlarm", "Timestamp": r["ts"],
                  "HistoryItemType": r["type"], "HistorySummary": r["summary"], "HistoryData": r["data"]}
                 for r in rows[offset:offset + page]]
        out: dict[str, Any] = {"AlarmHistoryItems": items}
        if offset + page < len(rows):
            out["NextToken"] = token(offset + page)
        return out


def _history_view(alarm: Alarm) -> dict[str, Any]:
    """An alarm as HistoryData shows it (timestamps as AWS's JSON dates)."""
    out = {k: v for k, v in alarm.items() if not k.startswith("State")}
    if "AlarmConfigurationUpdatedTimestamp" in out:
        out["AlarmConfigurationUpdatedTimestamp"] = json_date(out["AlarmConfigurationUpdatedTimestamp"])
    return out
