"""AWS/S3 daily storage metrics: BucketSizeBytes and NumberOfObjects.

As on AWS, one datapoint per bucket per day, stamped 00:00 UTC of the day, Period 86400.
Sampled when Sluice starts and then once a day of engine time (a PeriodicTask on the Clock:
`--time-scale` compresses the day); a sample taken again the same day replaces that day's datapoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..clock import Clock
from ..store.db import Database
from .metrics import Point, replace_points
from .periodic import PeriodicTask, in_executor

NAMESPACE = "AWS/S3"
DAY = 86_400.0


class BucketTotals(Protocol):
    """What S3Service.storage_totals gives per bucket."""

    @property
    def bucket(self) -> str: ...
    @property
    def standard_bytes(self) -> int: ...
    @property
    def objects(self) -> int: ...


class S3StorageMetrics:
    def __init__(self, db: Database, clock: Clock, totals: Callable[[], Sequence[BucketTotals]]) -> None:
        self.db = db
        self.clock = clock
        self.totals = totals

    def points(self) -> list[Point]:
        day = self.clock.now() // DAY * DAY
        points: list[Point] = []
        for t in self.totals():
            points += [
                Point(NAMESPACE, "BucketSizeBytes", {"BucketName": t.bucket, "StorageType": "StandardStorage"},
                      t.standard_bytes, "Bytes", day),
                Point(NAMESPACE, "NumberOfObjects", {"BucketName": t.bucket, "StorageType": "AllStorageTypes"},
                      t.objects, "Count", day),
            ]
        return points

    def sample(self) -> None:
        points = self.points()
        if points:
            self.db.write(lambda conn: replace_points(conn, points))

    def task(self) -> PeriodicTask:
        """The engine's periodic task: a sample at start, then once a day of engine time."""
        return PeriodicTask("s3-storage-metrics", self.clock, DAY, in_executor(self.sample))
