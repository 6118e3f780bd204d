"""Metric data points, written in the same transactions as what they count.

Points are kept raw (one row per value) with their full dimension set; CloudWatch's API
aggregates them per period, statistic and dimension subset when read.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from ..store.db import register_schema

register_schema(
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


@dataclass(frozen=True)
class Point:
    namespace: str
    name: str
    dimensions: dict[str, str]
    value: float
    unit: str
    ts: float


def write_points(conn: sqlite3.Connection, points: list[Point]) -> None:
    conn.executemany(
        "INSERT INTO metric_points (namespace, name, dimensions, ts, value, unit) VALUES (?,?,?,?,?,?)",
        [(p.namespace, p.name, json.dumps(p.dimensions, sort_keys=True), p.ts, p.value, p.unit) for p in points],
    )


def lambda_point(name: str, fn: str, resource: str, version: str | None, value: float, unit: str,
                 ts: float) -> Point:
    dims = {"FunctionName": fn, "Resource": resource}
    if version:
        dims["ExecutedVersion"] = version
    return Point("AWS/Lambda", name, dims, value, unit, ts)
