"""SQS: queues, messages, visibility, FIFO, dead-letter queues, move tasks.

No HTTP, no JSON or XML, no threads or waits of its own: members in, members out. The
operations live in parts of one job each, sharing one SqsState (store, clock, queue cache,
parked long polls):

  queues.py       CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, PurgeQueue, attributes
  permissions.py  tags, AddPermission / RemovePermission
  sending.py      SendMessage(Batch), and `deliver` for the rest of Sluice
  receiving.py    ReceiveMessage (long polls), DeleteMessage(Batch), ChangeMessageVisibility(Batch)
  move_tasks.py   Start-, List-, CancelMessageMoveTask, and what one step of a task does

SQLite holds every message from send to delete (records.py, message_records.py,
move_records.py). The background work (the retention sweep, the metric sample and flush, move
task steps) is the engine's: server.py adds it (engine/sqs.py) and this facade offers the work
to do. When the server stops, the composition root calls `end_long_polls` so that parked
ReceiveMessage calls answer at once.

Other services reach queues through `deliver` (the Deliveries interface) and read a queue's
depth with `depth`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...clock import Clock
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import Delivery, DeliveryResult
from .message_records import counts
from .move_tasks import MoveTasks
from .permissions import TagsAndPermissions
from .queues import Queues
from .receiving import Receiving
from .records import Queue, sweep
from .sending import Sending
from .state import SqsState


@dataclass(frozen=True)
class QueueDepth:
    """A queue's approximate message counts, as GetQueueAttributes names them."""

    visible: int  # ApproximateNumberOfMessages
    in_flight: int  # ApproximateNumberOfMessagesNotVisible
    delayed: int  # ApproximateNumberOfMessagesDelayed


def _nothing() -> None:
    pass


class SqsService(Service):
    name = "sqs"

    def __init__(self, store: Store, clock: Clock, settings: Settings,
                 on_move_task: Callable[[], None] = _nothing) -> None:
        """`on_move_task`: called on the event loop when a message move task starts (the engine's
        dispatcher of move-task steps waits on it)."""
        self.state = SqsState(store, clock, settings)
        self.queues = Queues(self.state)
        self.tags_and_permissions = TagsAndPermissions(self.state)
        self.sending = Sending(self.state)
        self.receiving = Receiving(self.state)
        self.move_tasks = MoveTasks(self.state, on_move_task)

    def operation_owners(self) -> Sequence[object]:
        # The hot operations' parts first: the gateway looks an operation up on every request.
        return (self.receiving, self.sending, self.queues, self.tags_and_permissions, self.move_tasks)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.state.bind()

    async def stop(self) -> None:
        self.end_long_polls()

    def reset(self) -> None:
        self.state.forget_all()

    def end_long_polls(self) -> None:
        """The server is stopping: parked long polls answer now (empty) and new ones do not
        wait, so that they do not hold a clean exit for up to 20 s (call on the event loop or
        from any thread)."""
        self.state.end_long_polls()

    # -- background work (run by the engine) -------------------------------------------------------

    async def sweep(self) -> None:
        """Drop messages past their retention period and expired deduplication records."""
        queues = self.state.queues()
        now = self.state.now_ms()
        await self.state.write(lambda conn: sweep(conn, queues, now))

    def sample_metrics(self) -> None:
        """Take one sample of the queues' gauges (a read and a write: in a worker thread)."""
        self.state.metrics.sample(self.state.queues())

    async def flush_metrics(self) -> None:
        """Hand the buffered counters to the store's writer (without waiting for it)."""
        self.state.metrics.buffer.flush()

    # -- for the rest of Sluice --------------------------------------------------------------

    def queue_by_arn(self, arn: str) -> Queue | None:
        return self.state.by_arn(arn)

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(the queue's Policy attribute, its account) for IAM enforcement."""
        queue = self.state.by_arn(arn)
        return (queue.attributes.get("Policy"), queue.account) if queue else (None, None)

    def depth(self, arn: str) -> QueueDepth | None:
        """A queue's approximate message counts (one indexed read), or None if it does not exist."""
        queue = self.state.by_arn(arn)
        if queue is None:
            return None
        return QueueDepth(*counts(self.state.db.reader, queue.id, self.state.now_ms()))

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """SendMessage on behalf of another service (see Sending.deliver): from a worker thread."""
        return self.sending.deliver(arn, delivery)
