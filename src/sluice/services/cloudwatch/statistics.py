"""Statistic names and exact percentiles over raw values."""

from __future__ import annotations

import math
import re

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,3}(?:\.\d{1,10})?)$")


def percentile_of(stat: str) -> float | None:
    """`p99` -> 99.0, `p99.9` -> 99.9; None if `stat` is not a percentile in [0, 100]."""
    m = _PERCENTILE.match(stat)
    if not m:
        return None
    p = float(m.group(1))
    return p if 0 <= p <= 100 else None


def is_statistic(stat: str) -> bool:
    return stat in STATISTICS or percentile_of(stat) is not None


def percentile(values: list[tuple[float, float]], p: float) -> float:
    """Nearest rank over (value, weight) pairs sorted by value: the smallest value with at least
    p% of the total weight at or below it (p0 is the minimum). Exact, never interpolated."""
    total = sum(w for _, w in values)
    target = total * p / 100.0
    seen = 0.0
    for v, w in values:
        seen += w
        if seen >= target - 1e-9 * total and (seen > 0 or p == 0):
            return v
    return values[-1][0]


def value_of(stat: str, count: float, total: float, low: float, high: float,
             values: list[tuple[float, float]] | None) -> float | None:
    """One statistic of a period's aggregate; None when it cannot be computed (a percentile
    over statistic sets)."""
    if stat == "SampleCount":
        return count
    if stat == "Sum":
        return total
    if stat == "Average":
        return total / count if count else 0.0
    if stat == "Minimum":
        return low
    if stat == "Maximum":
        return high
    p = percentile_of(stat)
    if p is None or not values or not math.isclose(sum(w for _, w in values), count):
        return None
    return percentile(values, p)
