"""SQS's background work, as engine workers: SQS says what to do, these say when.

- sqs-metric-flush: the buffered AWS/SQS counters go to the store about every second (real time:
  buffering, not an AWS duration), and once more when the engine stops;
- sqs-sweeper: messages past their retention period, expired deduplication and deleted-name
  records go every 30 real seconds. Retention is real time by design (a caller asked for it), so
  sweeping more often under --time-scale would only cost the writer; the wait is still the
  Clock's, so a ManualClock drives it (30 of its seconds);
- sqs-metric-sampler: the queues' gauges, once a minute of engine time as AWS samples them, but
  never more often than every real second (the samples carry wall-clock stamps);
- sqs-move-tasks: message move tasks, one step at a time when each is due (a dispatcher over
  the tasks' rows; the steps' pacing is on the Clock);
- sqs-long-polls: no work of its own; when the server is asked to stop, parked long polls answer
  at once (the server drains open requests before its lifespan ends, and a ReceiveMessage
  waiting 20 s would hold a clean exit).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ..clock import Clock
from .dispatcher import DueSource, OutboxDispatcher
from .lifecycle import Worker
from .metrics import FLUSH_SECONDS
from .periodic import PeriodicTask, in_executor

SWEEP_SECONDS = 30.0  # real seconds between retention sweeps
SAMPLE_SECONDS = 60.0  # engine seconds between gauge samples
MIN_SAMPLE_INTERVAL = 1.0  # real seconds
MOVE_CONCURRENCY = 4  # move tasks stepping at once (each step is one short transaction)


class MoveSteps(DueSource[Any], Protocol):
    async def step(self, task: Any) -> None:
        """Run one step of a task and record its outcome."""


class SqsWork(Protocol):
    """What SqsService offers the engine."""

    @property
    def move_tasks(self) -> MoveSteps: ...

    async def sweep(self) -> None: ...

    def sample_metrics(self) -> None: ...

    async def flush_metrics(self) -> None: ...

    def end_long_polls(self) -> None: ...


class _EndLongPolls:
    name = "sqs-long-polls"

    def __init__(self, sqs: SqsWork) -> None:
        self.sqs = sqs

    async def start(self) -> None:
        pass

    def request_stop(self) -> None:
        self.sqs.end_long_polls()

    async def stop(self, grace: float) -> None:
        self.sqs.end_long_polls()


def sqs_workers(clock: Clock, sqs: SqsWork, moves_due: asyncio.Event) -> list[Worker]:
    """SQS's workers, in the order to add them to the Engine (it stops them in reverse: the last
    counters are flushed after the rest has stopped). `moves_due`: set when a move task starts."""
    return [
        PeriodicTask("sqs-metric-flush", clock, FLUSH_SECONDS, sqs.flush_metrics, real_time=True, run_first=False,
                     run_last=True),
        PeriodicTask("sqs-sweeper", clock, lambda: SWEEP_SECONDS * clock.time_scale, sqs.sweep, run_first=False),
        PeriodicTask("sqs-metric-sampler", clock, lambda: max(SAMPLE_SECONDS, MIN_SAMPLE_INTERVAL * clock.time_scale),
                     in_executor(sqs.sample_metrics)),
        OutboxDispatcher("sqs-move-tasks", clock, sqs.move_tasks, sqs.move_tasks.step, key=lambda task: task.task_id,
                         concurrency=MOVE_CONCURRENCY, wake=moves_due),
        _EndLongPolls(sqs),
    ]
