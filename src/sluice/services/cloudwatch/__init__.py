"""CloudWatch: metrics (PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics) and alarms."""

from .service import CloudWatchService

__all__ = ["CloudWatchService"]
