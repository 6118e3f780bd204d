"""AWS/SQS metrics: counters from the operations, gauges from a per-minute sample.

Counters go through a MetricBuffer (aggregated in memory per queue and minute, flushed about
once a second through db.submit by the engine): SendMessage and ReceiveMessage are SQS's hot
path and a metric row per message would cost more than the message itself. The gauges are
sampled once a minute of engine time (`--time-scale 60`: every real second; the engine's
PeriodicTask calls `sample`), as AWS samples them, for active queues only: AWS publishes a queue's metrics while it holds messages and for six hours
after an API action used it (here: a send, receive or delete, or Sluice's start).
Dimension: QueueName, the one dimension set AWS publishes for these metrics. A counter's
sample is one API call (a SendMessageBatch of 10 is one sample of 10); SentMessageSize has a
sample per message.
"""

from __future__ import annotations

import functools
import sqlite3

from ...clock import Clock
from ...engine.metrics import MetricBuffer, Point, dimensions_key, write_points
from ...store.db import Database
from .message_records import counts, oldest_sent
from .records import Queue

NAMESPACE = "AWS/SQS"
ACTIVE_SECONDS = 6 * 3600.0  # engine seconds an empty queue stays active after its last use


def _dims(queue: Queue) -> dict[str, str]:
    return {"QueueName": queue.name}


@functools.lru_cache(maxsize=4096)
def _key(queue_name: str) -> str:
    return dimensions_key({"QueueName": queue_name})


class SqsMetrics:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.buffer = MetricBuffer(db, clock)
        self._last_used: dict[int, float] = {}  # queue id -> wall time of its last send/receive/delete

    def forget_all(self) -> None:
        self.buffer.discard()
        self._last_used.clear()

    # -- counters ----------------------------------------------------------------------------

    def sent(self, queue: Queue, sizes: list[int]) -> None:
        if not sizes:
            return
        now = self._last_used[queue.id] = self.clock.now()
        dims = _key(queue.name)
        add = self.buffer.add
        add(NAMESPACE, "NumberOfMessagesSent", dims, len(sizes), "Count", 1, now)
        for size in sizes:
            add(NAMESPACE, "SentMessageSize", dims, size, "Bytes", 1, now)

    def received(self, queue: Queue, n: int) -> None:
        now = self._last_used[queue.id] = self.clock.now()
        if n:
            self.buffer.add(NAMESPACE, "NumberOfMessagesReceived", _key(queue.name), n, "Count", 1, now)
        else:
            self.buffer.add(NAMESPACE, "NumberOfEmptyReceives", _key(queue.name), 1, "Count", 1, now)

    def deleted(self, queue: Queue, n: int) -> None:
        now = self._last_used[queue.id] = self.clock.now()
        if n:
            self.buffer.add(NAMESPACE, "NumberOfMessagesDeleted", _key(queue.name), n, "Count", 1, now)

    # -- gauges ------------------------------------------------------------------------------

    def gauges(self, conn: sqlite3.Connection, queues: list[Queue]) -> list[Point]:
        now = self.clock.now()
        now_ms = int(now * 1000)
        points: list[Point] = []
        for queue in queues:
            dims = _dims(queue)
            visible, inflight, delayed = counts(conn, queue.id, now_ms)
            last_used = self._last_used.setdefault(queue.id, now)
            if not (visible or inflight or delayed) and self.clock.engine_elapsed(last_used) > ACTIVE_SECONDS:
                continue  # inactive: AWS stops publishing its metrics
            points += [
                Point(NAMESPACE, "ApproximateNumberOfMessagesVisible", dims, visible, "Count", now),
                Point(NAMESPACE, "ApproximateNumberOfMessagesNotVisible", dims, inflight, "Count", now),
                Point(NAMESPACE, "ApproximateNumberOfMessagesDelayed", dims, delayed, "Count", now),
            ]
            oldest = oldest_sent(conn, queue.id)
            if oldest is not None:  # AWS reports the age only while the queue holds a message
                age = max(0.0, (now_ms - int(oldest)) / 1000)
                points.append(Point(NAMESPACE, "ApproximateAgeOfOldestMessage", dims, age, "Seconds", now))
        return points

    def sample(self, queues: list[Queue]) -> None:
        """Take one sample of every queue's gauges (in a worker thread)."""
        points = self.gauges(self.db.reader, queues)
        if points:
            self.db.write(lambda conn: write_points(conn, points))
