"""Under which dimension sets a stored point is published, and how a query selects points.

CloudWatch matches a metric only with exactly its dimension set. Sluice stores each point once,
with its full dimension set; a namespace listed in PUBLISHED_SETS is also visible (and only
visible) under the listed subsets of that set, as AWS publishes it. Other namespaces (custom
metrics, EMF, AWS/SQS, ...) are visible under their exact set only. Add a row here when a
service's metrics are published under several sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ...engine.metrics import Aggregate, DimensionMatch, MetricQuery, MetricStore
from . import errors

PUBLISHED_SETS: dict[str, tuple[frozenset[str], ...]] = {
    # Lambda points carry {FunctionName, Resource, ExecutedVersion?} (engine/metrics.py).
    "AWS/Lambda": (
        frozenset(),  # account-wide
        frozenset({"FunctionName"}),
        frozenset({"FunctionName", "Resource"}),
        frozenset({"FunctionName", "Resource", "ExecutedVersion"}),  # alias invocations only
    ),
    # EventBridge points carry {RuleName} (a rule on the default bus) or {EventBusName, RuleName}
    # (services/events/metrics.py); AWS also publishes Invocations & co account-wide. A query by
    # RuleName alone also sees a custom bus's rule of the same name (a Sluice simplification).
    "AWS/Events": (
        frozenset(),
        frozenset({"RuleName"}),
        frozenset({"EventBusName", "RuleName"}),
    ),
}


@dataclass(frozen=True)
class Series:
    """What a read asks for: one metric under one dimension set, per period."""

    namespace: str
    name: str
    dimensions: dict[str, str]
    start: float  # aligned, inclusive
    end: float  # exclusive
    period: int
    unit: str | None = None


@dataclass(frozen=True)
class Metric:
    """A metric as ListMetrics shows it: under one published dimension set."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted


def published(namespace: str, dims: dict[str, str]) -> list[dict[str, str]]:
    """The dimension sets a point with full set `dims` is listed and queryable under."""
    sets = PUBLISHED_SETS.get(namespace)
    if sets is None:
        return [dims]
    return [{k: dims[k] for k in sorted(s)} for s in sets if s <= dims.keys()]


def selector(namespace: str, dims: dict[str, str]) -> DimensionMatch | None:
    """The stored points visible under exactly `dims`, or None if none can be."""
    sets = PUBLISHED_SETS.get(namespace)
    if sets is None:
        return DimensionMatch(dims)
    if frozenset(dims) not in sets:
        return None
    return DimensionMatch(dims, exact=False)


def read(store: MetricStore, series: Series, with_values: bool = False) -> dict[int, Aggregate]:
    """Period index -> aggregate of the periods of `series` that have data."""
    match = selector(series.namespace, series.dimensions)
    if match is None:
        return {}
    return store.aggregate(MetricQuery(series.namespace, series.name, match, series.start, series.end,
                                       series.period, series.unit), with_values)


def listed(store: MetricStore, since: float, namespace: str | None, name: str | None) -> list[Metric]:
    """Every metric (namespace, name, published dimension set) with data since `since`, sorted."""
    found: set[Metric] = set()
    for m in store.metrics_since(since, namespace, name):
        for dims in published(m.namespace, m.dimensions):
            found.add(Metric(m.namespace, m.name, tuple(sorted(dims.items()))))
    return sorted(found, key=lambda m: (m.namespace, m.name, m.dimensions))


def dims_dict(dimensions: Iterable[dict[str, str]] | None) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in dimensions or ()}


MAX_DIMENSIONS = 30


def checked_dims(dims: list[dict[str, str]], where: str) -> dict[str, str]:
    """Dimensions as a dict, once each has the Name and Value the model requires (a nameless one
    stored in an alarm made every later evaluation fail)."""
    if len(dims) > MAX_DIMENSIONS:
        raise errors.too_many(where, MAX_DIMENSIONS)
    for j, d in enumerate(dims, start=1):
        for member in ("Name", "Value"):
            if not d.get(member):
                raise errors.missing(f"{where}.member.{j}.{member}")
    return dims_dict(dims)
