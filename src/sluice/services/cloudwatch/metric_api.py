"""CloudWatch's metric data API: PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics.

Checks the members as CloudWatch does and reads and writes the metric store (engine/metrics.py)
through dimensions.py, which knows under which dimension sets a stored point is visible.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ...engine.metrics import Aggregate, Point, StatSet, dimensions_key
from ...protocol.context import RequestContext
from . import errors
from .common import Shared, offset_of, token
from .dimensions import Series, checked_dims, listed, read
from .statistics import STATISTICS, is_statistic, percentile_of, value_of

MAX_METRIC_DATA = 1000
MAX_VALUES = 150
MAX_DATAPOINTS = 1440  # GetMetricStatistics
MAX_QUERIES = 500  # GetMetricData
DEFAULT_MAX_DATAPOINTS = 100_800
LIST_PAGE = 500
RETENTION_LISTED = 14 * 86400  # ListMetrics shows metrics with data in the last two weeks
RECENTLY_ACTIVE = 3 * 3600
# AWS accepts values of magnitude 2^-360 .. 2^360 (or 0).
VALUE_MIN, VALUE_MAX = 8.515920e-109, 1.174271e108
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)
_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


def _aligned_start(start: float, period: int, now: float) -> float:
    """CloudWatch rounds StartTime down: to the period for high-resolution periods, else to the
    minute (data under 15 days old), 5 minutes (under 63 days) or the hour."""
    age = now - start
    step = period if period < 60 else 3600 if age > 63 * 86400 else 300 if age > 15 * 86400 else 60
    return start // step * step


def _period_has_data(start: float, period: int, now: float) -> bool:
    """Older data is kept at coarser resolutions: a start time over 3 hours ago needs a period
    multiple of 60 (15 days: 300, 63 days: 3600), or there are no datapoints (not an error)."""
    age = now - start
    needed = 3600 if age > 63 * 86400 else 300 if age > 15 * 86400 else 60 if age > 3 * 3600 else 1
    return period % needed == 0


def _check_period(period: int | None, name: str = "Period") -> int:
    if period is None:
        raise errors.missing(name)
    if period <= 0:
        raise errors.invalid(f"The parameter {name} must be greater than 0.")
    if period not in HIGH_RESOLUTION_PERIODS and period % 60:
        raise errors.invalid(f"The parameter {name} must be 1, 5, 10, 20, 30, or a multiple of 60.")
    return period


def read_series(shared: Shared, q: Series, stats: list[str]) -> dict[int, Aggregate]:
    """The periods of `q` with data, with the values percentiles need when `stats` has one."""
    return read(shared.metrics, q, with_values=any(percentile_of(s) is not None for s in stats))


class MetricData:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.clock = shared.clock

    def put_metric_data(self, ctx: RequestContext, Namespace: str | None = None,
                        MetricData: list[dict[str, Any]] | None = None,
                        EntityMetricData: list[dict[str, Any]] | None = None, **_: Any) -> dict[str, Any]:
        if not Namespace:
            raise errors.missing("Namespace")
        if Namespace.startswith("AWS/") or Namespace.startswith(":"):
            raise errors.invalid_value(Namespace, "Namespace")
        data = list(MetricData or [])
        for entity in EntityMetricData or []:
            data.extend(entity.get("MetricData") or [])
        if not data:
            raise errors.missing("MetricData")
        if len(data) > MAX_METRIC_DATA:
            raise errors.too_many("MetricData", MAX_METRIC_DATA)
        now = self.clock.now()
        points: list[Point] = []
        sets: list[StatSet] = []
        for i, datum in enumerate(data, start=1):
            self._datum(Namespace, datum, f"MetricData.member.{i}", now, points, sets)
        self.shared.metrics.write(points, sets)
        return {}

    def _datum(self, namespace: str, datum: dict[str, Any], where: str, now: float,
               points: list[Point], sets: list[StatSet]) -> None:
        name = datum.get("MetricName")
        if not name:
            raise errors.missing(f"{where}.MetricName")
        dims = datum.get("Dimensions") or []
        dimensions = checked_dims(dims, f"{where}.Dimensions")
        if len(dimensions) != len(dims):
            raise errors.invalid(f"The parameter {where}.Dimensions contains duplicate names.")
        unit = datum.get("Unit") or "None"
        if unit not in self.shared.units:
            raise errors.one_of(f"{where}.Unit", self.shared.units)
        if datum.get("StorageResolution") not in (None, 1, 60):
            raise errors.invalid_value(datum["StorageResolution"], f"{where}.StorageResolution")
        resolution = datum.get("StorageResolution") or 60
        ts = datum["Timestamp"].timestamp() if datum.get("Timestamp") is not None else now
        if ts < now - 14 * 86400:
            raise errors.invalid(f"The parameter {where}.Timestamp must specify a time no more than "
                                 "two weeks in the past.")
        if ts > now + 2 * 3600:
            raise errors.invalid(f"The parameter {where}.Timestamp must specify a time no more than "
                                 "two hours in the future.")
        given = [k for k in ("Value", "Values", "StatisticValues") if datum.get(k) is not None]
        if len(given) > 1:
            raise errors.combination(f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually "
                                     "exclusive and you have specified both.")
        if not given:
            raise errors.missing(f"{where}.Value")

        def check(value: Any, member: str) -> float:
            v = float(value)
            if not math.isfinite(v) or (v != 0 and not VALUE_MIN <= abs(v) <= VALUE_MAX):
                raise errors.invalid_value(value, f"{where}.{member}")
            return v

        if "Value" in given:
            points.append(Point(namespace, name, dimensions, check(datum["Value"], "Value"), unit, ts, resolution))
        elif "Values" in given:
            values: list[Any] = datum["Values"]
            counts: list[Any] | None = datum.get("Counts")
            if len(values) > MAX_VALUES:
                raise errors.too_many(f"{where}.Values", MAX_VALUES)
            if counts is not None and len(counts) != len(values):
                raise errors.invalid(f"The parameters {where}.Values and {where}.Counts must be of the same size.")
            for k, raw in enumerate(values, start=1):
                v = check(raw, f"Values.member.{k}")
                c = float(counts[k - 1]) if counts is not None else 1.0
                if not math.isfinite(c) or c < 0:
                    raise errors.invalid_value(c, f"{where}.Counts.member.{k}")
                if c == 1:
                    points.append(Point(namespace, name, dimensions, v, unit, ts, resolution))
                elif c > 0:
                    sets.append(StatSet(namespace, name, dimensions_key(dimensions), ts, c, v * c, v, v, unit, resolution))
        else:
            stats = datum["StatisticValues"]
            for member in ("SampleCount", "Sum", "Minimum", "Maximum"):
                if stats.get(member) is None:
                    raise errors.missing(f"{where}.StatisticValues.{member}")
            count = check(stats["SampleCount"], "StatisticValues.SampleCount")
            low, high = check(stats["Minimum"], "StatisticValues.Minimum"), check(stats["Maximum"], "StatisticValues.Maximum")
            if count <= 0 or low > high:
                raise errors.invalid(f"The parameter {where}.StatisticValues is not a valid statistic set.")
            sets.append(StatSet(namespace, name, dimensions_key(dimensions), ts, count, check(stats["Sum"], "StatisticValues.Sum"),
                                low, high, unit, resolution))

    def get_metric_statistics(self, ctx: RequestContext, Namespace: str | None = None, MetricName: str | None = None,
                              Dimensions: list[dict[str, str]] | None = None, StartTime: Any = None,
                              EndTime: Any = None, Period: int | None = None, Statistics: list[str] | None = None,
                              ExtendedStatistics: list[str] | None = None, Unit: str | None = None) -> dict[str, Any]:
        for member, value in (("Namespace", Namespace), ("MetricName", MetricName), ("StartTime", StartTime),
                              ("EndTime", EndTime)):
            if value is None:
                raise errors.missing(member)
        assert Namespace is not None and MetricName is not None
        period = _check_period(Period)
        if not Statistics and not ExtendedStatistics:
            raise errors.missing("Statistics")
        if Statistics and ExtendedStatistics:
            raise errors.combination("The parameters Statistics and ExtendedStatistics are mutually exclusive "
                                     "and you have specified both.")
        for i, s in enumerate(Statistics or [], start=1):
            if s not in STATISTICS:
                raise errors.one_of(f"Statistics.member.{i}", STATISTICS)
        for i, s in enumerate(ExtendedStatistics or [], start=1):
            if percentile_of(s) is None:
                raise errors.invalid(f"The value {s} for parameter ExtendedStatistics.member.{i} is invalid; "
                                     "a percentile is p0.0 to p100.")
        if Unit is not None and Unit not in self.shared.units:
            raise errors.one_of("Unit", self.shared.units)
        dimensions = checked_dims(Dimensions or [], "Dimensions")
        start, end = StartTime.timestamp(), EndTime.timestamp()
        if start >= end:
            raise errors.invalid("The parameter StartTime must be less than the parameter EndTime.")
        wanted = math.ceil((end - start) / period)
        if wanted > MAX_DATAPOINTS:
            raise errors.combination(
                f"You have requested up to {wanted} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. "
                "You may reduce the datapoints requested by increasing Period, or decreasing the time range.")
        now = self.clock.now()
        if not _period_has_data(start, period, now):
            return {"Label": MetricName, "Datapoints": []}
        start = _aligned_start(start, period, now)
        stats = list(Statistics or []) + list(ExtendedStatistics or [])
        found = read_series(self.shared, Series(Namespace, MetricName, dimensions, start, end, period, Unit), stats)
        datapoints = []
        for _, agg in sorted(found.items()):
            point: dict[str, Any] = {"Timestamp": agg.start, "Unit": agg.unit}
            for s in Statistics or []:
                point[s] = value_of(s, agg.count, agg.sum, agg.min, agg.max, agg.values)
            extended = {s: v for s in ExtendedStatistics or []
                        if (v := value_of(s, agg.count, agg.sum, agg.min, agg.max, agg.values)) is not None}
            if extended:
                point["ExtendedStatistics"] = extended
            datapoints.append(point)
        return {"Label": MetricName, "Datapoints": datapoints}

    def get_metric_data(self, ctx: RequestContext, MetricDataQueries: list[dict[str, Any]] | None = None,
                        StartTime: Any = None, EndTime: Any = None, NextToken: str | None = None,
                        ScanBy: str | None = None, MaxDatapoints: int | None = None, **_: Any) -> dict[str, Any]:
        queries = MetricDataQueries or []
        if not queries:
            raise errors.missing("MetricDataQueries")
        if len(queries) > MAX_QUERIES:
            raise errors.too_many("MetricDataQueries", MAX_QUERIES)
        for member, value in (("StartTime", StartTime), ("EndTime", EndTime)):
            if value is None:
                raise errors.missing(member)
        start, end = StartTime.timestamp(), EndTime.timestamp()
        if start >= end:
            raise errors.validation("The parameter StartTime must be less than the parameter EndTime.")
        if ScanBy not in (None, "TimestampDescending", "TimestampAscending"):
            raise errors.one_of("ScanBy", ("TimestampDescending", "TimestampAscending"))
        limit = DEFAULT_MAX_DATAPOINTS if MaxDatapoints is None else MaxDatapoints
        if limit <= 0:
            raise errors.validation("The parameter MaxDatapoints must be greater than 0.")
        seen: set[str] = set()
        for i, q in enumerate(queries, start=1):
            qid = q.get("Id") or ""
            if not _QUERY_ID.match(qid):
                raise errors.validation(f"The value {qid} for parameter MetricDataQueries.member.{i}.Id is invalid. "
                                  "An Id starts with a lowercase letter; then letters, digits and underscores.")
            if qid in seen:
                raise errors.validation("The values for parameter id in MetricDataQueries are not unique.")
            seen.add(qid)
            if q.get("Expression") is not None:
                raise errors.validation(f"Sluice does not support metric math or Metrics Insights expressions "
                                  f"(MetricDataQueries.member.{i}.Expression of query {qid}); use MetricStat.")
            if q.get("MetricStat") is None:
                raise errors.validation(f"Exactly one element of the metrics list should be a MetricStat or an "
                                  f"Expression (query {qid}).")
        now = self.clock.now()
        descending = ScanBy != "TimestampAscending"
        series: list[tuple[dict[str, Any], list[tuple[float, float]]]] = []
        for i, q in enumerate(queries, start=1):
            stat = q["MetricStat"]
            where = f"MetricDataQueries.member.{i}.MetricStat"
            metric = stat.get("Metric") or {}
            if not metric.get("MetricName") or not metric.get("Namespace"):
                raise errors.missing(f"{where}.Metric.{'Namespace' if metric.get('MetricName') else 'MetricName'}")
            period = _check_period(stat.get("Period"), f"{where}.Period")
            name = stat.get("Stat") or ""
            if not is_statistic(name):
                raise errors.validation(f"The value {name} for parameter {where}.Stat is invalid; Sluice computes "
                                  f"{', '.join(STATISTICS)} and percentiles pNN.NN.")
            unit = stat.get("Unit")
            if unit is not None and unit not in self.shared.units:
                raise errors.one_of(f"{where}.Unit", self.shared.units)
            dimensions = checked_dims(metric.get("Dimensions") or [], f"{where}.Metric.Dimensions")
            aligned = _aligned_start(start, period, now)
            found = {} if not _period_has_data(start, period, now) else read_series(self.shared, Series(
                metric["Namespace"], metric["MetricName"], dimensions, aligned, end,
                period, unit), [name])
            points = [(agg.start, v) for _, agg in sorted(found.items(), reverse=descending)
                      if (v := value_of(name, agg.count, agg.sum, agg.min, agg.max, agg.values)) is not None]
            if q.get("ReturnData", True):
                series.append(({"Id": q["Id"], "Label": q.get("Label") or metric["MetricName"]}, points))
        # Pages cut the concatenation of all results' datapoints after MaxDatapoints.
        skip = offset_of(NextToken)
        budget = limit
        results = []
        position = 0
        for head, points in series:
            here = points[max(0, skip - position):]
            position += len(points)
            taken = here[:budget]
            budget -= len(taken)
            results.append({**head, "Timestamps": [t for t, _ in taken], "Values": [v for _, v in taken],
                            "StatusCode": "Complete" if len(taken) == len(here) else "PartialData", "Messages": []})
        out: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
        if skip + limit < position:
            out["NextToken"] = token(skip + limit)
        return out

    def list_metrics(self, ctx: RequestContext, Namespace: str | None = None, MetricName: str | None = None,
                     Dimensions: list[dict[str, str]] | None = None, NextToken: str | None = None,
                     RecentlyActive: str | None = None, **_: Any) -> dict[str, Any]:
        if RecentlyActive is not None and RecentlyActive != "PT3H":
            raise errors.one_of("RecentlyActive", ("PT3H",))
        filters = Dimensions or []
        if len(filters) > 10:
            raise errors.too_many("Dimensions", 10)
        now = self.clock.now()
        since = now - (RECENTLY_ACTIVE if RecentlyActive else RETENTION_LISTED)
        metrics = [m for m in listed(self.shared.metrics, since, Namespace, MetricName)
                   if all(any(k == f.get("Name") and (f.get("Value") is None or v == f["Value"])
                              for k, v in m.dimensions) for f in filters)]
        offset = offset_of(NextToken)
        page = metrics[offset:offset + LIST_PAGE]
        out: dict[str, Any] = {"Metrics": [
            {"Namespace": m.namespace, "MetricName": m.name,
             "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions]} for m in page]}
        if offset + LIST_PAGE < len(metrics):
            out["NextToken"] = token(offset + LIST_PAGE)
        return out

