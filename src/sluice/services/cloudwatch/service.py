"""CloudWatch: metric data in and out (PutMetricData, GetMetricData, GetMetricStatistics,
ListMetrics) and metric alarms with their history, evaluator and SNS actions.

The same operations answer smithy-rpc-v2-cbor, json (X-Amz-Target) and query (form-encoded)
clients; the protocol layer does the wire, this module the rules.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

from ...clock import Clock
from ...engine.metrics import Point, StatSet, dimensions_key
from ...protocol import WireProtocol, protocol_for
from ...protocol.compression import Decompressing
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.http import HttpRequest
from ...protocol.models import service_model
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import Deliveries, Delivery
from . import errors
from .alarms import Alarm, AlarmStore, HistoryItem
from .datastore import Aggregate, MetricQuery, aggregate, dims_dict, list_metrics, write
from .evaluation import OPERATORS, Datapoint, Verdict, evaluate, evaluation_range
from .formats import json_date
from .notification import message, subject
from .statistics import STATISTICS, is_statistic, percentile_of, value_of

log = logging.getLogger(__name__)

MAX_METRIC_DATA = 1000
MAX_DIMENSIONS = 30
MAX_VALUES = 150
MAX_DATAPOINTS = 1440  # GetMetricStatistics
MAX_QUERIES = 500  # GetMetricData
DEFAULT_MAX_DATAPOINTS = 100_800
LIST_PAGE = 500
RETENTION_LISTED = 14 * 86400  # ListMetrics shows metrics with data in the last two weeks
RECENTLY_ACTIVE = 3 * 3600
MAX_ACTIONS = 5
EVALUATION_INTERVAL = 60.0  # engine seconds between two evaluations of every alarm
# ... but at least every 10 real seconds: periods are wall-clock, and a 10-second alarm checked
# once a minute would never see most of its periods (AWS evaluates those every 10 seconds).
HIGH_RESOLUTION_EVALUATION = 10.0
# AWS accepts values of magnitude 2^-360 .. 2^360 (or 0).
VALUE_MIN, VALUE_MAX = 8.515920e-109, 1.174271e108
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)
ALARM_SHORT_PERIODS = (10, 20, 30)
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
BAND_OPERATORS = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold")
HISTORY_TYPES = ("ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate",
                 "AlarmContributorAction")
_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


def _validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise errors.bad_token() from None
    if not isinstance(offset, int) or offset < 0:
        raise errors.bad_token()
    return offset


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


def _dimensions(dims: list[dict[str, str]], where: str) -> dict[str, str]:
    """Dimensions as a dict, once each has the Name and Value the model requires."""
    if len(dims) > MAX_DIMENSIONS:
        raise errors.too_many(where, MAX_DIMENSIONS)
    for j, d in enumerate(dims, start=1):
        for member in ("Name", "Value"):
            if not d.get(member):
                raise errors.missing(f"{where}.member.{j}.{member}")
    return dims_dict(dims)


def _check_period(period: int | None, name: str = "Period") -> int:
    if period is None:
        raise errors.missing(name)
    if period <= 0:
        raise errors.invalid(f"The parameter {name} must be greater than 0.")
    if period not in HIGH_RESOLUTION_PERIODS and period % 60:
        raise errors.invalid(f"The parameter {name} must be 1, 5, 10, 20, 30, or a multiple of 60.")
    return period


class CloudWatchService(Service):
    name = "cloudwatch"

    def __init__(self, store: Store, clock: Clock, settings: Settings, deliveries: Deliveries) -> None:
        self.db = store.db
        self.clock = clock
        self.account = settings.account_id
        self.region = settings.region
        self.deliveries = deliveries
        self.alarms = AlarmStore(store.db)
        self._lock = threading.Lock()  # one state transition at a time (evaluator, SetAlarmState)
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- wire ------------------------------------------------------------------------------------

    @cached_property
    def _wires(self) -> dict[str, WireProtocol]:
        model = service_model(self.name)
        return {name: Decompressing(protocol_for(model, name)) for name in ("smithy-rpc-v2-cbor", "json", "query")}

    def protocol_for_request(self, req: HttpRequest) -> WireProtocol:
        """botocore 1.44 prefers json (X-Amz-Target) to rpc-v2-cbor for CloudWatch; newer SDKs send
        CBOR to /service/...; old ones form-encoded query. PutMetricData bodies may be gzipped."""
        if "x-amz-target" in req.headers:
            return self._wires["json"]
        ctype = req.headers.get("content-type", "")
        if "x-www-form-urlencoded" in ctype or ("Action=" in req.query_string and req.method == "GET"):
            return self._wires["query"]
        return self._wires["smithy-rpc-v2-cbor"]

    @cached_property
    def units(self) -> list[str]:
        return list(service_model(self.name).shape_for("StandardUnit").enum)

    # -- metric data -----------------------------------------------------------------------------

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
        self.db.write(lambda conn: write(conn, points, sets))
        return {}

    def _datum(self, namespace: str, datum: dict[str, Any], where: str, now: float,
               points: list[Point], sets: list[StatSet]) -> None:
        name = datum.get("MetricName")
        if not name:
            raise errors.missing(f"{where}.MetricName")
        dims = datum.get("Dimensions") or []
        dimensions = _dimensions(dims, f"{where}.Dimensions")
        if len(dimensions) != len(dims):
            raise errors.invalid(f"The parameter {where}.Dimensions contains duplicate names.")
        unit = datum.get("Unit") or "None"
        if unit not in self.units:
            raise errors.one_of(f"{where}.Unit", self.units)
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

    def _series(self, q: MetricQuery, stats: list[str]) -> dict[int, Aggregate]:
        return aggregate(self.db, q, with_values=any(percentile_of(s) is not None for s in stats))

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
        if Unit is not None and Unit not in self.units:
            raise errors.one_of("Unit", self.units)
        dimensions = _dimensions(Dimensions or [], "Dimensions")
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
        series = self._series(MetricQuery(Namespace, MetricName, dimensions, start, end, period, Unit), stats)
        datapoints = []
        for _, agg in sorted(series.items()):
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
            raise _validation("The parameter StartTime must be less than the parameter EndTime.")
        if ScanBy not in (None, "TimestampDescending", "TimestampAscending"):
            raise errors.one_of("ScanBy", ("TimestampDescending", "TimestampAscending"))
        limit = DEFAULT_MAX_DATAPOINTS if MaxDatapoints is None else MaxDatapoints
        if limit <= 0:
            raise _validation("The parameter MaxDatapoints must be greater than 0.")
        seen: set[str] = set()
        for i, q in enumerate(queries, start=1):
            qid = q.get("Id") or ""
            if not _QUERY_ID.match(qid):
                raise _validation(f"The value {qid} for parameter MetricDataQueries.member.{i}.Id is invalid. "
                                  "An Id starts with a lowercase letter; then letters, digits and underscores.")
            if qid in seen:
                raise _validation("The values for parameter id in MetricDataQueries are not unique.")
            seen.add(qid)
            if q.get("Expression") is not None:
                raise _validation(f"Sluice does not support metric math or Metrics Insights expressions "
                                  f"(MetricDataQueries.member.{i}.Expression of query {qid}); use MetricStat.")
            if q.get("MetricStat") is None:
                raise _validation(f"Exactly one element of the metrics list should be a MetricStat or an "
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
            dimensions = _dimensions(metric.get("Dimensions") or [], f"{where}.Metric.Dimensions")
            period = _check_period(stat.get("Period"), f"{where}.Period")
            name = stat.get("Stat") or ""
            if not is_statistic(name):
                raise _validation(f"The value {name} for parameter {where}.Stat is invalid; Sluice computes "
                                  f"{', '.join(STATISTICS)} and percentiles pNN.NN.")
            unit = stat.get("Unit")
            if unit is not None and unit not in self.units:
                raise errors.one_of(f"{where}.Unit", self.units)
            aligned = _aligned_start(start, period, now)
            found = {} if not _period_has_data(start, period, now) else self._series(
                MetricQuery(metric["Namespace"], metric["MetricName"], dimensions, aligned, end, period, unit),
                [name])
            points = [(agg.start, v) for _, agg in sorted(found.items(), reverse=descending)
                      if (v := value_of(name, agg.count, agg.sum, agg.min, agg.max, agg.values)) is not None]
            if q.get("ReturnData", True):
                series.append(({"Id": q["Id"], "Label": q.get("Label") or metric["MetricName"]}, points))
        # Pages cut the concatenation of all results' datapoints after MaxDatapoints.
        skip = _offset(NextToken)
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
            out["NextToken"] = _token(skip + limit)
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
        metrics = [m for m in list_metrics(self.db, since, Namespace, MetricName)
                   if all(any(k == f.get("Name") and (f.get("Value") is None or v == f["Value"])
                              for k, v in m.dimensions) for f in filters)]
        offset = _offset(NextToken)
        page = metrics[offset:offset + LIST_PAGE]
        out: dict[str, Any] = {"Metrics": [
            {"Namespace": m.namespace, "MetricName": m.name,
             "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions]} for m in page]}
        if offset + LIST_PAGE < len(metrics):
            out["NextToken"] = _token(offset + LIST_PAGE)
        return out

    # -- alarms ----------------------------------------------------------------------------------

    def _arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{name}"

    def put_metric_alarm(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        config = self._alarm_config(params)
        now = self.clock.now()
        name = config["AlarmName"]
        with self._lock:
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

            def save(conn: Any) -> None:
                AlarmStore.save(conn, alarm)
                item.insert(conn)

            self.db.write(save)
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
        if p.get("Unit") is not None and p["Unit"] not in self.units:
            raise errors.one_of("Unit", self.units)
        dims = p.get("Dimensions") or []
        # Checked here, not only when evaluated: a stored alarm with a nameless dimension made
        # every evaluation fail, which stopped all the alarms listed after it.
        _dimensions(dims, "Dimensions")
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
        page = self._page_size(MaxRecords, 100, 50)
        alarms = self.alarms.all() if AlarmTypes is None or "MetricAlarm" in AlarmTypes else []
        names = set(AlarmNames or [])
        alarms = [a for a in alarms
                  if (not names or a["AlarmName"] in names)
                  and (AlarmNamePrefix is None or a["AlarmName"].startswith(AlarmNamePrefix))
                  and (StateValue is None or a["StateValue"] == StateValue)
                  and (ActionPrefix is None or any(arn.startswith(ActionPrefix) for kind in
                                                   ("OKActions", "AlarmActions", "InsufficientDataActions")
                                                   for arn in a.get(kind) or []))]
        offset = _offset(NextToken)
        out: dict[str, Any] = {"MetricAlarms": alarms[offset:offset + page], "CompositeAlarms": []}
        if offset + page < len(alarms):
            out["NextToken"] = _token(offset + page)
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
        dims = _dimensions(Dimensions, "Dimensions") if Dimensions is not None else None
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
        with self._lock:
            absent = [n for n in names if self.alarms.get(n) is None]
            if absent:
                # AWS deletes nothing when any name is wrong.
                raise errors.not_found(f"{len(absent)} of {len(names)} alarm(s) not found: {', '.join(absent)}")
            now = self.clock.now()

            def delete(conn: Any) -> None:
                for n in names:
                    conn.execute("DELETE FROM cloudwatch_alarms WHERE name = ?", (n,))
                    HistoryItem(n, now, "ConfigurationUpdate", f'Alarm "{n}" deleted',
                                {"type": "Delete", "version": "1.0"}).insert(conn)

            self.db.write(delete)
        return {}

    def _set_actions_enabled(self, names: list[str] | None, enabled: bool) -> dict[str, Any]:
        if not names:
            raise errors.missing("AlarmNames")
        with self._lock:
            changed = []
            for n in names:
                alarm = self.alarms.get(n)
                if alarm is not None:
                    alarm["ActionsEnabled"] = enabled
                    changed.append(alarm)

            def save(conn: Any) -> None:
                for a in changed:
                    AlarmStore.save(conn, a)

            self.db.write(save)
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
                data = json.loads(StateReasonData)
            except ValueError:
                raise ServiceError("InvalidFormatFault", "The parameter StateReasonData is not valid JSON.",
                                   400) from None
        if self.alarms.get(AlarmName) is None:
            raise errors.not_found(f"Alarm {AlarmName} not found")
        self._transition(AlarmName, Verdict(StateValue, StateReason, data or {}), self.clock.now())
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
        page = self._page_size(MaxRecords, 100, 100)
        if AlarmTypes is not None and "MetricAlarm" not in AlarmTypes:
            return {"AlarmHistoryItems": []}
        rows = self.alarms.history(AlarmName, HistoryItemType,
                                   StartDate.timestamp() if StartDate is not None else None,
                                   EndDate.timestamp() if EndDate is not None else None,
                                   descending=ScanBy != "TimestampAscending")
        offset = _offset(NextToken)
        items = [{"AlarmName": r["name"], "AlarmType": "MetricAlarm", "Timestamp": r["ts"],
                  "HistoryItemType": r["type"], "HistorySummary": r["summary"], "HistoryData": r["data"]}
                 for r in rows[offset:offset + page]]
        out: dict[str, Any] = {"AlarmHistoryItems": items}
        if offset + page < len(rows):
            out["NextToken"] = _token(offset + page)
        return out

    # -- evaluation and actions ------------------------------------------------------------------

    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sluice-alarms")
        self._task = asyncio.get_running_loop().create_task(self._evaluate_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._executor is not None:
            # Let an evaluation under way record its outcome before the store closes.
            self._executor.shutdown(wait=True, cancel_futures=True)

    async def _evaluate_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.clock.engine_sleep(min(EVALUATION_INTERVAL, HIGH_RESOLUTION_EVALUATION * self.clock.time_scale))
            try:
                await loop.run_in_executor(self._executor, self.evaluate_all)
            except Exception:  # one bad evaluation must not stop the evaluator
                log.exception("alarm evaluation failed")

    def evaluate_all(self) -> None:
        now = self.clock.now()
        for alarm in self.alarms.all():
            verdict = self._evaluate(alarm, now)
            if verdict.state is not None:
                self._transition(alarm["AlarmName"], verdict, now)

    def _evaluate(self, alarm: Alarm, now: float) -> Verdict:
        period = int(alarm["Period"])
        n = int(alarm["EvaluationPeriods"])
        stat = alarm.get("Statistic") or alarm["ExtendedStatistic"]
        current = now // period * period
        q = MetricQuery(alarm["Namespace"], alarm["MetricName"], dims_dict(alarm.get("Dimensions")),
                        current - n * period, current + period, period, alarm.get("Unit"))
        data = {}
        for agg in self._series(q, [stat]).values():
            value = value_of(stat, agg.count, agg.sum, agg.min, agg.max, agg.values)
            if value is not None:
                data[agg.start] = Datapoint(agg.start, value, agg.count)
        starts = evaluation_range(now, period, n, current in data)
        return evaluate(alarm, starts, data, now)

    def _transition(self, name: str, verdict: Verdict, now: float) -> None:
        """Move an alarm to the verdict's state; on a change, record it and run the state's actions."""
        assert verdict.state is not None
        with self._lock:
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

            def save(conn: Any) -> None:
                AlarmStore.save(conn, alarm)
                item.insert(conn)

            self.db.write(save)
        if alarm.get("ActionsEnabled", True):
            self._run_actions(alarm, old["stateValue"], now)

    def _run_actions(self, alarm: Alarm, old_state: str, now: float) -> None:
        kind = {"OK": "OKActions", "ALARM": "AlarmActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
        arns = alarm.get(kind[alarm["StateValue"]]) or []
        if not arns:
            return
        body = message(alarm, old_state, self.account, self.region)
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
            result = self.deliveries.deliver(arn, Delivery(
                body=body, subject=subject(alarm, self.region), source_arn=alarm["AlarmArn"],
                source_account=self.account, principal="cloudwatch.amazonaws.com"))
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

        def record(conn: Any) -> None:
            for item in items:
                item.insert(conn)

        self.db.write(record)


def _history_view(alarm: Alarm) -> dict[str, Any]:
    """An alarm as HistoryData shows it (timestamps as AWS's JSON dates)."""
    out = {k: v for k, v in alarm.items() if not k.startswith("State")}
    if "AlarmConfigurationUpdatedTimestamp" in out:
        out["AlarmConfigurationUpdatedTimestamp"] = json_date(out["AlarmConfigurationUpdatedTimestamp"])
    return out
