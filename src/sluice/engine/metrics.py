"""Metric data points: the table CloudWatch's API reads, and the ways Sluice writes to it.

Points are kept raw (one row per value) with their full dimension set; CloudWatch's API
aggregates them per period, statistic and dimension subset when read. Hot paths (SQS, EventBridge)
aggregate in memory instead (`MetricBuffer`) and write statistic sets to `cloudwatch_stat_sets`,
the table where CloudWatch keeps PutMetricData's statistic sets (services/cloudwatch/datastore.py)
and which it reads together with this one.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from concurrent.futures import Future
from dataclasses import dataclass

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


def lambda_point(name: str, fn: str, resource: str, version: str | None, value: float, unit: str,
                 ts: float) -> Point:
    dims = {"FunctionName": fn, "Resource": resource}
    if version:
        dims["ExecutedVersion"] = version
    return Point("AWS/Lambda", name, dims, value, unit, ts)


@dataclass
class _Stats:
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

    def add(self, namespace: str, name: str, dimensions: str, value: float, unit: str, count: float = 1) -> None:
        """Count `count` samples adding up to `value` (their min and max are value / count).
        `dimensions` is the stored form (`dimensions_key`), which callers compute once per resource."""
        minute = self.clock.now() // 60 * 60
        key = (namespace, name, dimensions, unit, minute)
        each = value / count if count else value
        with self._lock:
            stats = self._pending.get(key)
            if stats is None:
                self._pending[key] = _Stats(value, count, each, each)
            else:
                stats.total += value
                stats.count += count
                stats.low = min(stats.low, each)
                stats.high = max(stats.high, each)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        sets = [StatSet(ns, name, dims, minute, s.count, s.total, s.low, s.high, unit)
                for (ns, name, dims, unit, minute), s in pending.items()]
        self.db.submit(lambda conn: write_stat_sets(conn, sets)).add_done_callback(_log_failure)

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
