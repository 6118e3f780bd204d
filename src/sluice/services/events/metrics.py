"""AWS/Events metrics, counted in memory per minute and flushed through db.submit (PutEvents
is a hot path; a row per matched rule would cost more than the match).

Dimensions as AWS publishes them: `RuleName` for a rule on the default bus, `EventBusName` and
`RuleName` for a rule on a custom bus. Invocations and FailedInvocations count final outcomes
(a delivery retried and then delivered is one invocation), as AWS counts them.
"""

from __future__ import annotations

import functools

from ...clock import Clock
from ...engine.metrics import MetricBuffer, dimensions_key
from ...store.db import Database

NAMESPACE = "AWS/Events"
DEFAULT_BUS = "default"


@functools.lru_cache(maxsize=4096)
def rule_dimensions(rule_arn: str) -> str:
    """The stored dimensions of `arn:...:rule/name` (default bus) or `arn:...:rule/bus/name`."""
    path = rule_arn.split(":rule/", 1)[-1]
    bus, _, name = path.rpartition("/")
    if bus and bus != DEFAULT_BUS:
        return dimensions_key({"EventBusName": bus, "RuleName": name})
    return dimensions_key({"RuleName": name})


class EventsMetrics:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.buffer = MetricBuffer(db, clock)

    def _count(self, name: str, rule_arn: str) -> None:
        self.buffer.add(NAMESPACE, name, rule_dimensions(rule_arn), 1, "Count")

    def matched(self, rule_arn: str) -> None:
        """An event matched the rule's pattern: the rule ran."""
        self._count("MatchedEvents", rule_arn)
        self._count("TriggeredRules", rule_arn)

    def scheduled(self, rule_arn: str) -> None:
        """A schedule rule fired."""
        self._count("TriggeredRules", rule_arn)

    def delivered(self, rule_arn: str) -> None:
        self._count("Invocations", rule_arn)

    def failed(self, rule_arn: str, dead_letter: bool | None) -> None:
        """A delivery failed for good; `dead_letter`: sent to the target's DLQ (True), could not
        be (False), or there is none (None)."""
        self._count("Invocations", rule_arn)
        self._count("FailedInvocations", rule_arn)
        if dead_letter is True:
            self._count("InvocationsSentToDlq", rule_arn)
        elif dead_letter is False:
            self._count("InvocationsFailedToBeSentToDlq", rule_arn)
