"""Metric data: raw points in `metric_points` (shared with everything that emits metrics) plus
the statistic sets PutMetricData receives (StatisticValues, or Values with Counts other than 1),
which have no single value and live in their own table. Aggregation per period is SQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...engine.metrics import Point, StatSet, write_points, write_stat_sets
from ...store.db import Database
from .dimensions import match_sql, published


def write(conn: sqlite3.Connection, points: list[Point], sets: list[StatSet]) -> None:
    write_points(conn, points)
    write_stat_sets(conn, sets)


@dataclass(frozen=True)
class MetricQuery:
    namespace: str
    name: str
    dimensions: dict[str, str]
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


# When a point counts: standard-resolution data is kept per minute (a point at 10:00:42 is in
# the 10:00:00 datapoint, for every period), high-resolution data at its own second.
STORED_AT = "(CASE WHEN resolution < 60 THEN ts ELSE CAST(ts / 60 AS INTEGER) * 60 END)"


def _where(q: MetricQuery) -> tuple[str, list[Any]] | None:
    match = match_sql(q.namespace, q.dimensions)
    if match is None:
        return None
    # The raw ts bounds keep the index useful (a point is stored at most 60 s before its ts).
    sql = (f"namespace = ? AND name = ? AND ts >= ? AND ts < ? AND {STORED_AT} >= ? AND {STORED_AT} < ? AND "
           + match[0])
    params: list[Any] = [q.namespace, q.name, q.start, q.end + 60, q.start, q.end, *match[1]]
    if q.unit is not None:
        sql += " AND unit = ?"
        params.append(q.unit)
    return sql, params


def aggregate(db: Database, q: MetricQuery, with_values: bool = False) -> dict[int, Aggregate]:
    """Period index -> aggregate, for the periods that have data."""
    where = _where(q)
    if where is None:
        return {}
    sql, params = where
    bucket = f"CAST(({STORED_AT} - ?) / ? AS INTEGER)"
    out: dict[int, Aggregate] = {}
    rows = db.query(
        f"SELECT {bucket} AS b, COUNT(*) AS n, SUM(value) AS s, MIN(value) AS lo, MAX(value) AS hi, "
        f"MIN(unit) AS unit FROM metric_points WHERE {sql} GROUP BY b "
        f"UNION ALL SELECT {bucket} AS b, SUM(count), SUM(sum), MIN(min), MAX(max), MIN(unit) "
        f"FROM cloudwatch_stat_sets WHERE {sql} GROUP BY b",
        (q.start, q.period, *params, q.start, q.period, *params))
    for r in rows:
        agg = out.setdefault(r["b"], Aggregate(q.start + r["b"] * q.period))
        agg.add(r["n"], r["s"], r["lo"], r["hi"], r["unit"])
    if with_values and out:
        # Exact percentiles: every raw value, plus statistic sets that hold one value (min = max).
        for agg in out.values():
            agg.values = []
        rows = db.query(
            f"SELECT {bucket} AS b, value AS v, 1.0 AS w FROM metric_points WHERE {sql} "
            f"UNION ALL SELECT {bucket} AS b, min AS v, count AS w FROM cloudwatch_stat_sets "
            f"WHERE {sql} AND min = max ORDER BY b, v",
            (q.start, q.period, *params, q.start, q.period, *params))
        for r in rows:
            values = out[r["b"]].values
            assert values is not None
            values.append((r["v"], r["w"]))
    return out


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted


def list_metrics(db: Database, since: float, namespace: str | None, name: str | None) -> list[Metric]:
    """Every metric (namespace, name, published dimension set) with data since `since`, sorted."""
    sql = "ts >= ?"
    params: list[Any] = [since]
    if namespace is not None:
        sql += " AND namespace = ?"
        params.append(namespace)
    if name is not None:
        sql += " AND name = ?"
        params.append(name)
    rows = db.query(
        f"SELECT DISTINCT namespace, name, dimensions FROM metric_points WHERE {sql} "
        f"UNION SELECT DISTINCT namespace, name, dimensions FROM cloudwatch_stat_sets WHERE {sql}",
        (*params, *params))
    found: set[Metric] = set()
    for r in rows:
        for dims in published(r["namespace"], json.loads(r["dimensions"])):
            found.add(Metric(r["namespace"], r["name"], tuple(sorted(dims.items()))))
    return sorted(found, key=lambda m: (m.namespace, m.name, m.dimensions))


def dims_dict(dimensions: Iterable[dict[str, str]] | None) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in dimensions or ()}
