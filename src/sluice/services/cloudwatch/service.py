"""CloudWatch: metric data in and out (PutMetricData, GetMetricData, GetMetricStatistics,
ListMetrics) and metric alarms with their history, evaluator and SNS actions.

The same operations answer smithy-rpc-v2-cbor, json (X-Amz-Target) and query (form-encoded)
clients; the protocol layer does the wire. The service is a facade over its parts, one job each:
the metric data API (metric_api.py), the alarms API (alarm_api.py) and the alarm evaluator
(evaluator.py), which the engine runs periodically (server.py adds the task).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...clock import Clock
from ...engine.metrics import MetricStore
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import Deliveries
from .alarm_api import AlarmApi
from .alarms import AlarmStore
from .cadence import evaluation_interval
from .common import Shared
from .evaluator import AlarmEvaluator
from .metric_api import MetricData


class CloudWatchService(Service):
    name = "cloudwatch"

    def __init__(self, store: Store, clock: Clock, settings: Settings, deliveries: Deliveries) -> None:
        self.clock = clock
        shared = Shared(store.db, clock, settings.account_id, settings.region, deliveries,
                        MetricStore(store.db), AlarmStore(store.db))
        self.metrics = MetricData(shared)
        self.evaluator = AlarmEvaluator(shared)
        self.alarms = AlarmApi(shared, self.evaluator)

    def operation_owners(self) -> Sequence[object]:
        return (self.metrics, self.alarms)

    def evaluate_alarms(self) -> None:
        """Evaluate every metric alarm now (the engine's periodic task; blocking: store reads)."""
        self.evaluator.evaluate_all()

    def evaluation_interval(self) -> float:
        """Engine seconds until the next evaluation is due (see cadence.evaluation_interval)."""
        return evaluation_interval(self.clock)
