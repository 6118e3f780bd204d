"""Under which dimension sets a stored point is published, and how a query selects points.

CloudWatch matches a metric only with exactly its dimension set. Sluice stores each point once,
with its full dimension set; a namespace listed in PUBLISHED_SETS is also visible (and only
visible) under the listed subsets of that set, as AWS publishes it. Other namespaces (custom
metrics, EMF, AWS/SQS, ...) are visible under their exact set only. Add a row here when a
service's metrics are published under several sets.
"""

from __future__ import annotations

from typing import Any

from ...engine.metrics import dimensions_key

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


def published(namespace: str, dims: dict[str, str]) -> list[dict[str, str]]:
    """The dimension sets a point with full set `dims` is listed and queryable under."""
    sets = PUBLISHED_SETS.get(namespace)
    if sets is None:
        return [dims]
    return [{k: dims[k] for k in sorted(s)} for s in sets if s <= dims.keys()]


def match_sql(namespace: str, dims: dict[str, str]) -> tuple[str, list[Any]] | None:
    """A WHERE fragment selecting the points visible under exactly `dims`, or None if none can be."""
    sets = PUBLISHED_SETS.get(namespace)
    if sets is None:
        return "dimensions = ?", [dimensions_key(dims)]
    if frozenset(dims) not in sets:
        return None
    if not dims:
        return "1", []
    clauses = []
    params: list[Any] = []
    for k, v in sorted(dims.items()):
        clauses.append("json_extract(dimensions, ?) = ?")
        params += ['$."' + k.replace('"', '\\"') + '"', v]
    return " AND ".join(clauses), params
