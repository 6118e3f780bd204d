"""The alarm evaluator: each metric alarm's state from its latest periods, and what a change does
(its history item, its SNS actions).

The engine runs `evaluate_all` periodically (a PeriodicTask that server.py adds to the Engine,
every `cadence.evaluation_interval` engine seconds); SetAlarmState changes a state through `transition` too.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..delivery import Delivery
from .alarms import Alarm, HistoryItem
from .common import Shared
from .dimensions import Series, dims_dict
from .evaluation import Datapoint, Verdict, evaluate, evaluation_range
from .formats import json_date
from .metric_api import read_series
from .notification import message, subject
from .statistics import value_of

log = logging.getLogger(__name__)

class AlarmEvaluator:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.clock = shared.clock
        self.alarms = shared.alarms

    def evaluate_all(self) -> None:
        now = self.clock.now()
        for alarm in self.alarms.all():
            verdict = self.evaluate(alarm, now)
            if verdict.state is not None:
                self.transition(alarm["AlarmName"], verdict, now)

    def evaluate(self, alarm: Alarm, now: float) -> Verdict:
        period = int(alarm["Period"])
        n = int(alarm["EvaluationPeriods"])
        stat = alarm.get("Statistic") or alarm["ExtendedStatistic"]
        current = now // period * period
        q = Series(alarm["Namespace"], alarm["MetricName"], dims_dict(alarm.get("Dimensions")),
                   current - n * period, current + period, period, alarm.get("Unit"))
        data = {}
        for agg in read_series(self.shared, q, [stat]).values():
            value = value_of(stat, agg.count, agg.sum, agg.min, agg.max, agg.values)
            if value is not None:
                data[agg.start] = Datapoint(agg.start, value, agg.count)
        starts = evaluation_range(now, period, n, current in data)
        return evaluate(alarm, starts, data, now)

    def transition(self, name: str, verdict: Verdict, now: float) -> None:
        """Move an alarm to the verdict's state; on a change, record it and run the state's actions."""
        assert verdict.state is not None
        with self.shared.lock:
            alarm = self.alarms.get(name)
            if alarm is None or alarm["StateValue"] == verdict.state:
                return
            old = {"stateValue": alarm["StateValue"], "stateReason": alarm["StateReason"]}
            if alarm.get("StateReasonData"):
                old["stateReasonData"] = json.loads(alarm["StateReasonData"])
            new: dict[str, Any] = {"stateValue": verdict.state, "stateReason": verdict.reason}
            alarm.update(StateValue=verdict.state, StateReason=verdict.reason, StateUpdatedTimestamp=now,
                         StateTransitionedTimestamp=now)
            if verdict.reason_data:
                alarm["StateReasonData"] = json.dumps(verdict.reason_data, separators=(",", ":"))
                new["stateReasonData"] = verdict.reason_data
            else:
                alarm.pop("StateReasonData", None)
            item = HistoryItem(name, now, "StateUpdate", f"Alarm updated from {old['stateValue']} to {verdict.state}",
                               {"version": "1.0", "oldState": old, "newState": new})
            self.alarms.put([alarm], [item])
        if alarm.get("ActionsEnabled", True):
            self._run_actions(alarm, old["stateValue"], now)

    def _run_actions(self, alarm: Alarm, old_state: str, now: float) -> None:
        kind = {"OK": "OKActions", "ALARM": "AlarmActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
        arns = alarm.get(kind[alarm["StateValue"]]) or []
        if not arns:
            return
        body = message(alarm, old_state, self.shared.account, self.shared.region)
        items = []
        for arn in arns:
            stamp = json_date(now)
            if not arn.startswith("arn:aws:sns:"):
                items.append(HistoryItem(alarm["AlarmName"], self.clock.now(), "Action",
                                         f"Failed to execute action {arn}. Received error: "
                                         f"\"Sluice runs only SNS alarm actions\"",
                                         {"actionState": "Failed", "stateUpdateTimestamp": stamp,
                                          "error": "Sluice runs only SNS alarm actions"}))
                continue
            result = self.shared.deliveries.deliver(arn, Delivery(
                body=body, subject=subject(alarm, self.shared.region), source_arn=alarm["AlarmArn"],
                source_account=self.shared.account, principal="cloudwatch.amazonaws.com"))
            if result.ok:
                items.append(HistoryItem(alarm["AlarmName"], self.clock.now(), "Action",
                                         f"Successfully executed action {arn}",
                                         {"actionState": "Succeeded", "stateUpdateTimestamp": stamp,
                                          "notificationResource": arn, "publishedMessage": json.loads(body)}))
            else:
                log.info("alarm %s: action %s failed: %s %s", alarm["AlarmName"], arn, result.error, result.detail)
                items.append(HistoryItem(alarm["AlarmName"], self.clock.now(), "Action",
                                         f"Failed to execute action {arn}. Received error: \"{result.detail}\"",
                                         {"actionState": "Failed", "stateUpdateTimestamp": stamp,
                                          "notificationResource": arn, "error": result.detail}))
        self.alarms.add_history(items)


