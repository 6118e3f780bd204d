"""The metric store: the one home of metric data, its tables and all their SQL.

Everything that emits metrics writes here (the invoker and destinations in the transaction they
already make, `write_points` / `write_stat_sets`; hot paths through `MetricBuffer`); CloudWatch's
API and `sluice status` read here (`MetricStore`). Nobody else touches `metric_points` or
`cloudwatch_stat_sets`.

Points are kept raw (one row per value) with their full dimension set; reads aggregate them per
period (and CloudWatch decides which dimension sets a point is visible under). Statistic sets
(PutMetricData's StatisticValues, counters aggregated in memory per minute by SQS and EventBridge)
have no single value and live in `cloudwatch_stat_sets`, read together with the raw points.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock
from ..store.db import Database, Migration
from .periodic import PeriodicTask

log = logging.getLogger("sluice.metrics")

_METRICS_0001 = Migration(
    "metrics-0001",
    """
    CREATE TABLE metric_points (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        dimensions TEXT NOT NULL,   -- JSON object, keys sorted
        ts REAL NOT NULL,           -- wall-clock seconds
        value REAL NOT NULL,
        unit TEXT NOT NULL
    );
    CREATE INDEX metric_points_by_name ON metric_points(namespace, name, ts);
    """,
)

FLUSH_SECONDS = 1.0  # real seconds between flushes of aggregated counters


# Statistic sets (PutMetricData StatisticValues, and counters aggregated in memory per minute):
# no single value to keep, so they are kept as count/sum/min/max beside the raw points.
_CLOUDWATCH_0001 = Migration(
    "cloudwatch-0001",
    """
    CREATE TABLE cloudwatch_stat_sets (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        dimensions TEXT NOT NULL,   -- JSON object, keys sorted (as metric_points)
        ts REAL NOT NULL,
        count REAL NOT NULL,
        sum REAL NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        unit TEXT NOT NULL
    );
    CREATE INDEX cloudwatch_stat_sets_by_name ON cloudwatch_stat_sets(namespace, name, ts);
    """,
)

# Storage resolution (PutMetricData StorageResolution): 1 for high-resolution data, 60 for
# standard data, which CloudWatch keeps at one-minute granularity: AWS's own metrics (Lambda,
# SQS, ...) are standard, so a 10-second period sees them only at the start of each minute.
_METRICS_0002 = Migration(
    "metrics-0002",
    """
    ALTER TABLE metric_points ADD COLUMN resolution INTEGER NOT NULL DEFAULT 60;
    ALTER TABLE cloudwatch_stat_sets ADD COLUMN resolution INTEGER NOT NULL DEFAULT 60;
    """,
)
MIGRATIONS = (_METRICS_0001, _CLOUDWATCH_0001, _METRICS_0002)


@dataclass(frozen=True)
class Point:
    """One raw value of a metric (a row of `metric_points`)."""

    namespace: str
    name: str
    dimensions: dict[str, str]
    value: float
    unit: str
    ts: float
    resolution: int = 60  # seconds: 1 (high resolution) or 60 (standard)


@dataclass(frozen=True)
class StatSet:
    """Samples known only by their count, sum, minimum and maximum."""

    namespace: str
    name: str
    dimensions: str  # the stored form (dimensions_key)
    ts: float
    count: float
    sum: float
    min: float
    max: float
    unit: str
    resolution: int = 60


def dimensions_key(dimensions: dict[str, str]) -> str:
    """How a dimension set is stored and matched: JSON, keys sorted."""
    return json.dumps(dimensions, sort_keys=True)


def write_points(conn: sqlite3.Connection, points: list[Point]) -> None:
    conn.executemany(
        "INSERT INTO metric_points (namespace, name, dimensions, ts, value, unit, resolution) VALUES (?,?,?,?,?,?,?)",
        [(p.namespace, p.name, dimensions_key(p.dimensions), p.ts, p.value, p.unit, p.resolution) for p in points],
    )


def replace_points(conn: sqlite3.Connection, points: list[Point]) -> None:
    """Write points, replacing any earlier point of the same metric, dimensions and timestamp
    (a daily storage sample taken again the same day)."""
    conn.executemany(
        "DELETE FROM metric_points WHERE namespace=? AND name=? AND ts=? AND dimensions=?",
        [(p.namespace, p.name, p.ts, dimensions_key(p.dimensions)) for p in points],
    )
    write_points(conn, points)


def write_stat_sets(conn: sqlite3.Connection, sets: list[StatSet]) -> None:
    conn.executemany(
        "INSERT INTO cloudwatch_stat_sets (namespace, name, dimensions, ts, count, sum, min, max, unit, resolution)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(s.namespace, s.name, s.dimensions, s.ts, s.count, s.sum, s.min, s.max, s.unit, s.resolution)
         for s in sets],
    )


# -- reading ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DimensionMatch:
    """The stored dimension sets a read selects: exactly `dimensions`, or (`exact=False`) every
    set that contains them (for a namespace CloudWatch publishes under subsets of the stored set)."""

    dimensions: dict[str, str]
    exact: bool = True


@dataclass(frozen=True)
class MetricQuery:
    """A read of one metric over a time range, aggregated per period."""

    namespace: str
    name: str
    match: DimensionMatch
    start: float  # aligned, inclusive
    end: float  # exclusive
    period: int
    unit: str | None = None


@dataclass
class Aggregate:
    """One period of one metric."""

    start: float
    count: float = 0.0
    sum: float = 0.0
    min: float = float("inf")
    max: float = float("-inf")
    unit: str = "None"
    values: list[tuple[float, float]] | None = field(default=None)  # sorted (value, weight)

    def add(self, count: float, total: float, low: float, high: float, unit: str) -> None:
        if not self.count:
            self.unit = unit
        self.count += count
        self.sum += total
        self.min = min(self.min, low)
        self.max = max(self.max, high)


@dataclass(frozen=True)
class StoredMetric:
    """A metric as stored: its namespace, name and full dimension set."""

    namespace: str
    name: str
    dimensions: dict[str, str]


# When a point counts: standard-resolution data is kept per minute (a point at 10:00:42 is in
# the 10:00:00 datapoint, for every period), high-resolution data at its own second.
STORED_AT = "(CASE WHEN resolution < 60 THEN ts ELSE CAST(ts / 60 AS INTEGER) * 60 END)"


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', '\\"') + '"'


def _match_sql(match: DimensionMatch) -> tuple[str, list[Any]]:
    if match.exact:
        return "dimensions = ?", [dimensions_key(match.dimensions)]
    if not match.dimensions:
        return "1", []
    clauses = []
    params: list[Any] = []
    for k, v in sorted(match.dimensions.items()):
        clauses.append("json_extract(dimensions, ?) = ?")
        params += [_json_path(k), v]
    return " AND ".join(clauses), params


def _where(q: MetricQuery) -> tuple[str, list[Any]]:
    match, match_params = _match_sql(q.match)
    # The raw ts bounds keep the index useful (a point is stored at most 60 s before its ts).
    sql = f"namespace = ? AND name = ? AND ts >= ? AND ts < ? AND {STORED_AT} >= ? AND {STORED_AT} < ? AND " + match
    params: list[Any] = [q.namespace, q.name, q.start, q.end + 60, q.start, q.end, *match_params]
    if q.unit is not None:
        sql += " AND unit = ?"
        params.append(q.unit)
    return sql, params


class MetricStore:
    """Reads of the metric data (and a standalone write), over the store's connections."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, points: list[Point], sets: list[StatSet]) -> None:
        """Write points and statistic sets in one transaction, durable on return."""

        def txn(conn: sqlite3.Connection) -> None:
            write_points(conn, points)
            write_stat_sets(conn, sets)

        self.db.write(txn)

    def aggregate(self, q: MetricQuery, with_values: bool = False) -> dict[int, Aggregate]:
        """Period index -> aggregate, for the periods that have data; `with_values` also gives
        each period's values (for exact percentiles)."""
        sql, params = _where(q)
        bucket = f"CAST(({STORED_AT} - ?) / ? AS INTEGER)"
        out: dict[int, Aggregate] = {}
        rows = self.db.query(
            f"SELECT {bucket} AS b, COUNT(*) AS n, SUM(value) AS s, MIN(value) AS lo, MAX(value) AS hi, "
            f"MIN(unit) AS unit FROM metric_points WHERE {sql} GROUP BY b "
            f"UNION ALL SELECT {bucket} AS b, SUM(count), SUM(sum), MIN(min), MAX(max), MIN(unit) "
            f"FROM cloudwatch_stat_sets WHERE {sql} GROUP BY b",
            (q.start, q.period, *params, q.start, q.period, *params))
        for r in rows:
            agg = out.setdefault(r["b"], Aggregate(q.start + r["b"] * q.period))
            agg.add(r["n"], r["s"], r["lo"], r["hi"], r["unit"])
        if with_values and out:
            # Every raw value, plus statistic sets that hold one value (min = max).
            for agg in out.values():
                agg.values = []
            rows = self.db.query(
                f"SELECT {bucket} AS b, value AS v, 1.0 AS w FROM metric_points WHERE {sql} "
                f"UNION ALL SELECT {bucket} AS b, min AS v, count AS w FROM cloudwatch_stat_sets "
                f"WHERE {sql} AND min = max ORDER BY b, v",
                (q.start, q.period, *params, q.start, q.period, *params))
            for r in rows:
                values = out[r["b"]].values
                assert values is not None
                values.append((r["v"], r["w"]))
        return out

    def metrics_since(self, since: float, namespace: str | None = None, name: str | None = None) -> list[StoredMetric]:
        """Every stored metric (namespace, name, full dimension set) with data since `since`."""
        sql = "ts >= ?"
        params: list[Any] = [since]
        if namespace is not None:
            sql += " AND namespace = ?"
            params.append(namespace)
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        rows = self.db.query(
            f"SELECT DISTINCT namespace, name, dimensions FROM metric_points WHERE {sql} "
            f"UNION SELECT DISTINCT namespace, name, dimensions FROM cloudwatch_stat_sets WHERE {sql}",
            (*params, *params))
        return [StoredMetric(r["namespace"], r["name"], json.loads(r["dimensions"])) for r in rows]

    def totals(self, namespace: str, names: Iterable[str], dimension: str, since: float) -> dict[tuple[str, str], float]:
        """(value of `dimension`, metric name) -> the sum of the metric's values since `since`,
        over every dimension set that has `dimension` (each sample is stored once)."""
        wanted = list(names)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        path = _json_path(dimension)
        rows = self.db.query(
            f"SELECT json_extract(dimensions, ?) AS d, name, SUM(value) AS total FROM metric_points"
            f" WHERE namespace = ? AND name IN ({marks}) AND ts >= ? GROUP BY d, name"
            f" UNION ALL SELECT json_extract(dimensions, ?) AS d, name, SUM(sum) FROM cloudwatch_stat_sets"
            f" WHERE namespace = ? AND name IN ({marks}) AND ts >= ? GROUP BY d, name",
            (path, namespace, *wanted, since, path, namespace, *wanted, since))
        out: dict[tuple[str, str], float] = {}
        for r in rows:
            if r["d"] is not None:
                key = (str(r["d"]), r["name"])
                out[key] = out.get(key, 0.0) + float(r["total"])
        return out


def lambda_point(name: str, fn: str, resource: str, version: str | None, value: float, unit: str,
                 ts: float) -> Point:
    dims = {"FunctionName": fn, "Resource": resource}
    if version:
        dims["ExecutedVersion"] = version
    return Point("AWS/Lambda", name, dims, value, unit, ts)


@dataclass(slots=True)
class _Stats:
    """The statistic set `MetricBuffer` adds up for one metric, dimensions, unit and minute."""

    total: float
    count: float
    low: float
    high: float


class MetricBuffer:
    """Counters aggregated in memory per metric, dimensions and minute, flushed about once a
    second as statistic sets through `db.submit`: a hot path pays a dict update, not a row and
    not a wait (`db.write` would add the writer's commit to the operation). What is not yet
    flushed (at most FLUSH_SECONDS of counts) is lost on a crash, as CloudWatch metrics are
    best effort; acknowledged data never depends on it."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, str, str, float], _Stats] = {}
        self._task: PeriodicTask | None = None

    def add(self, namespace: str, name: str, dimensions: str, value: float, unit: str, count: float = 1,
            at: float | None = None) -> None:
        """Count `count` samples adding up to `value` (their min and max are value / count), taken
        at `at` (clock seconds; now if None: a caller with several samples reads the clock once).
        `dimensions` is the stored form (`dimensions_key`), which callers compute once per resource."""
        minute = (self.clock.now() if at is None else at) // 60 * 60
        key = (namespace, name, dimensions, unit, minute)
        each = value / count if count else value
        with self._lock:
            stats = self._pending.get(key)
            if stats is None:
                self._pending[key] = _Stats(value, count, each, each)
            else:
                stats.total += value
                stats.count += count
                if each < stats.low:  # a hot path: comparisons, not min() and max() calls
                    stats.low = each
                if each > stats.high:
                    stats.high = each

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        sets = [StatSet(ns, name, dims, minute, s.count, s.total, s.low, s.high, unit)
                for (ns, name, dims, unit, minute), s in pending.items()]
        self.db.submit(lambda conn: write_stat_sets(conn, sets)).add_done_callback(_log_failure)

    def discard(self) -> None:
        """Drop what is not flushed yet (the store was reset: those counts belong to nothing)."""
        with self._lock:
            self._pending = {}

    def task(self, name: str = "metric-flush") -> PeriodicTask:
        """The flush as an engine worker: about every FLUSH_SECONDS (real time: buffering, not an
        AWS duration), and once more when stopped."""
        return PeriodicTask(name, self.clock, FLUSH_SECONDS, self._flush, real_time=True, run_first=False,
                            run_last=True)

    def start(self) -> None:
        """Run `task()` now, outside an Engine (for a service that starts its own)."""
        if self._task is None:
            self._task = self.task()
            self._task.begin()

    async def stop(self) -> None:
        if self._task is not None:
            await self._task.stop(grace=0.0)
            self._task = None
        else:
            self.flush()

    async def _flush(self) -> None:
        self.flush()  # quick: hands the statistic sets to the writer without waiting


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("writing metric points failed: %s", exc)
