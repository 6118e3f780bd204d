"""CloudWatch embedded metric format: metrics carried in structured log events.

A log event that is a JSON object with an `_aws` metadata block (`Timestamp` in ms,
`CloudWatchMetrics` directives: `Namespace`, `Dimensions` — a list of dimension sets — and
`Metrics` — `Name`, optional `Unit` and `StorageResolution`) yields one point per metric value
per dimension set, in the directive's namespace, at `Timestamp`. The event itself stays an
ordinary log event. An event that breaks the specification yields no metric at all, as
CloudWatch Logs drops an invalid EMF document's metrics and keeps the log line.
"""

from __future__ import annotations

import math
from typing import Any

from ...engine.metrics import Point
from ...protocol import safejson

MARKER = '"_aws"'  # cheap pre-check: most log lines are not EMF
MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100
MAX_NAME = 1024
MAX_AGE = 14 * 86400.0  # PutMetricData's window for timestamps, which EMF extraction shares
MAX_AHEAD = 2 * 3600.0
UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
})


class _Invalid(Exception):
    pass


def extract(message: str, now: float) -> list[Point]:
    """The metric points an EMF log event carries; [] if it is not (valid) EMF. A Timestamp
    CloudWatch would refuse (over two weeks old, over two hours ahead of `now`) yields none."""
    if MARKER not in message:
        return []
    try:
        doc = safejson.loads(message)
    except ValueError:
        return []
    if not isinstance(doc, dict) or "_aws" not in doc:
        return []
    try:
        return _points(doc, now)
    except _Invalid:
        return []


def _check(condition: bool) -> None:
    if not condition:
        raise _Invalid


def _name(value: Any) -> str:
    _check(isinstance(value, str) and 0 < len(value) <= MAX_NAME and value.strip() != "")
    return str(value)


def _values(value: Any) -> list[float]:
    numbers = value if isinstance(value, list) else [value]
    _check(0 < len(numbers) <= MAX_VALUES)
    for n in numbers:
        _check(isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n))
    return [float(n) for n in numbers]


def _points(doc: dict[str, Any], now: float) -> list[Point]:
    meta = doc["_aws"]
    _check(isinstance(meta, dict))
    stamp = meta.get("Timestamp")
    _check(isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and stamp >= 0)
    directives = meta.get("CloudWatchMetrics")
    _check(isinstance(directives, list))
    ts = float(stamp) / 1000
    _check(now - MAX_AGE <= ts <= now + MAX_AHEAD)
    points: list[Point] = []
    for directive in directives:
        _check(isinstance(directive, dict))
        namespace = _name(directive.get("Namespace"))
        _check(not namespace.startswith("AWS/"))  # reserved for AWS services, as in PutMetricData
        dimension_sets = directive.get("Dimensions")
        _check(isinstance(dimension_sets, list))
        metrics = directive.get("Metrics")
        _check(isinstance(metrics, list) and len(metrics) <= MAX_METRICS)
        resolved: list[dict[str, str]] = []
        for keys in dimension_sets:
            _check(isinstance(keys, list) and len(keys) <= MAX_DIMENSIONS)
            dims: dict[str, str] = {}
            for key in keys:
                _check(isinstance(key, str) and isinstance(doc.get(key), str))
                dims[key] = doc[key]
            resolved.append(dims)
        for metric in metrics:
            _check(isinstance(metric, dict))
            name = _name(metric.get("Name"))
            unit = metric.get("Unit", "None")
            _check(unit in UNITS)
            resolution = metric.get("StorageResolution", 60)
            _check(resolution in (1, 60))
            _check(name in doc)
            values = _values(doc[name])
            for dims in resolved:
                points += [Point(namespace, name, dims, v, unit, ts, resolution) for v in values]
    return points
