"""How a metric alarm's state follows from its latest periods (pure: no I/O).

The evaluation range is the alarm's N most recent periods (aligned on multiples of Period since
the epoch, wall-clock time). The period in progress counts once it has data; until then the
range is the N periods before it, so an alarm does not flap to missing data at each boundary
(AWS likewise waits for late data before treating a period as missing). ALARM needs M
(DatapointsToAlarm, default N) breaching datapoints; otherwise OK. Missing periods follow
TreatMissingData: `missing` (all missing -> INSUFFICIENT_DATA), `ignore` (all missing -> state
unchanged), `breaching` and `notBreaching` (count as such).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .formats import java_double, json_date, reason_date

OPERATORS = {
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}


@dataclass(frozen=True)
class Datapoint:
    """One period of an alarm's metric, aggregated by the alarm's statistic."""

    ts: float  # period start
    value: float
    sample_count: float


@dataclass(frozen=True)
class Verdict:
    """An evaluation's outcome: the state the alarm should be in, and why."""

    state: str | None  # None: leave the state as it is (TreatMissingData ignore)
    reason: str
    reason_data: dict[str, Any]


def evaluation_range(now: float, period: int, periods: int, current_has_data: bool) -> list[float]:
    """Start times of the periods evaluated, oldest first."""
    current = now // period * period
    last = current if current_has_data else current - period
    return [last - i * period for i in range(periods - 1, -1, -1)]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _listing(points: list[Datapoint]) -> str:
    return ", ".join(f"{java_double(p.value)} ({reason_date(p.ts)})" for p in points)


def evaluate(alarm: dict[str, Any], starts: list[float], data: dict[float, Datapoint], now: float) -> Verdict:
    n = int(alarm["EvaluationPeriods"])
    m = int(alarm.get("DatapointsToAlarm") or n)
    threshold = float(alarm["Threshold"])
    phrase, breaches = OPERATORS[alarm["ComparisonOperator"]]
    treat = alarm.get("TreatMissingData") or "missing"
    present = [data[s] for s in reversed(starts) if s in data]  # newest first, as AWS lists them
    missing = n - len(present)
    breaching = [p for p in present if breaches(p.value, threshold)]
    calm = [p for p in present if not breaches(p.value, threshold)]
    reason_data = {
        "version": "1.0",
        "queryDate": json_date(now),
        "startDate": json_date(starts[0]),
        "statistic": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
        "period": int(alarm["Period"]),
        "recentDatapoints": [p.value for p in reversed(present)],
        "threshold": threshold,
        "evaluatedDatapoints": [{"timestamp": json_date(p.ts), "sampleCount": p.sample_count, "value": p.value}
                                for p in present],
    }
    if alarm.get("Unit"):
        reason_data["unit"] = alarm["Unit"]
    if not present and treat in ("missing", "ignore"):
        reason = f"Insufficient Data: {_plural(n, 'datapoint')} {'was' if n == 1 else 'were'} unknown."
        return Verdict(None if treat == "ignore" else "INSUFFICIENT_DATA", reason, reason_data)
    n_breaching = len(breaching) + (missing if treat == "breaching" else 0)
    state = "ALARM" if n_breaching >= m else "OK"
    if not present:
        label = "Breaching" if treat == "breaching" else "NonBreaching"
        reason = (f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
                  f"{_plural(n, 'missing datapoint')} {'was' if n == 1 else 'were'} treated as [{label}].")
        return Verdict(state, reason, reason_data)
    shown = breaching if state == "ALARM" else calm
    verb = "was" if len(shown) == 1 else "were"
    comparison = phrase if state == "ALARM" else f"not {phrase}"
    if alarm.get("DatapointsToAlarm") is None:
        reason = (f"Threshold Crossed: {_plural(len(shown), 'datapoint')} [{_listing(shown)}] {verb} "
                  f"{comparison} the threshold ({java_double(threshold)}).")
    else:
        needed = m if state == "ALARM" else n - m + 1
        old = alarm.get("StateValue", "INSUFFICIENT_DATA")
        reason = (f"Threshold Crossed: {len(shown)} out of the last {n} datapoints [{_listing(shown)}] {verb} "
                  f"{comparison} the threshold ({java_double(threshold)}) "
                  f"(minimum {_plural(needed, 'datapoint')} for {old} -> {state} transition).")
    return Verdict(state, reason, reason_data)
