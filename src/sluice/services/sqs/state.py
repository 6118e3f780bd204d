"""What the parts of SQS share: the store, the clock, the queue cache and the parked long polls.

SQLite is the truth; the cache mirrors the queues' rows for the hot path (a queue URL resolves
without a read). Writes from the event loop go through the WriteBatcher (one transaction per
loop turn, no thread held while the fsync happens); a part running in a worker thread writes
with `db.write` and wakes long polls with `notify`, which hops to the loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ...clock import Clock
from ...settings import Settings
from ...store import Store
from . import attributes as qattrs
from . import errors
from .batching import WriteBatcher
from .metrics import SqsMetrics
from .records import Queue, all_queues, queue_by_id
from .waiters import Waiters

T = TypeVar("T")
_URL_KEYS = 1024


class SqsState:
    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.db = store.db
        self.clock = clock
        self.settings = settings
        self.waiters = Waiters()
        self.metrics = SqsMetrics(self.db, clock)
        self.closing = False  # the server is stopping: long polls answer at once
        self._queues: dict[tuple[str, str, str], Queue] = {}
        # (QueueUrl, request region) -> its key in _queues: the URL's parse, once per URL (a
        # client sends the same few URLs over and over); bounded, emptied when full.
        self._url_keys: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._by_id: dict[int, Queue] = {}
        self._arn_keys: dict[str, tuple[str, str, str]] = {}  # queue ARN -> its key in _queues
        self._lock = threading.Lock()  # orders cache updates made by worker threads
        for queue in all_queues(self.db.reader):
            self.remember(queue)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._batcher: WriteBatcher | None = None
        # Queues that may hold visible messages, as the loop's own sends and receives and the
        # deliveries since last saw them (single set operations, from the loop or worker
        # threads): a receive from one of these skips its read and goes straight to the write
        # that takes messages. Only a hint: the write is the truth either way, and a queue not
        # in it (emptied, unknown, or made visible another way: a visibility timeout running
        # out, a move task) is read first, as before, so that polling an empty queue costs no
        # write. A wrong "may" costs one write that changes nothing (no fsync); nothing here
        # can hide a message.
        self.maybe_visible: set[int] = set()

    def bind(self) -> None:
        """Attach to the running event loop (the service's start)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._batcher = WriteBatcher(self.db, self._loop)

    # -- time, store, wake-ups ------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """A write from the event loop, committed with the others of the same loop turn: await
        the future (not a coroutine: every SQS write would pay one more frame for nothing)."""
        if self._batcher is None:
            return asyncio.wrap_future(self.db.submit(fn))
        return self._batcher.write(fn)

    def call_on_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def notify(self, *queue_ids: int) -> None:
        """Wake the long polls of these queues; callable from any thread."""
        if queue_ids:
            self.call_on_loop(self.waiters.wake, queue_ids)

    def end_long_polls(self) -> None:
        """The server is stopping: every long poll answers now, and new ones do not wait."""
        self.closing = True
        self.call_on_loop(self.waiters.wake_all)

    # -- the queue cache -----------------------------------------------------------------------

    def remember(self, queue: Queue) -> None:
        with self._lock:
            old = self._by_id.get(queue.id)
            if old is not None and old.key != queue.key:
                self._queues.pop(old.key, None)
            self._queues[queue.key] = queue
            self._by_id[queue.id] = queue

    def forget(self, queue: Queue) -> None:
        with self._lock:
            self._queues.pop(queue.key, None)
            self._by_id.pop(queue.id, None)
        self.maybe_visible.discard(queue.id)

    def forget_all(self) -> None:
        """The store was reset: no queue exists. Parked long polls wake (their queue is gone:
        they answer empty) and buffered metrics of the old queues are dropped."""
        with self._lock:
            self._queues.clear()
            self._by_id.clear()
        self.maybe_visible.clear()
        self.metrics.forget_all()
        self.call_on_loop(self.waiters.wake_all)

    def queues(self) -> list[Queue]:
        return list(self._by_id.values())

    def by_id(self, queue_id: int) -> Queue | None:
        return self._by_id.get(queue_id)

    def by_name(self, account: str, region: str, name: str) -> Queue | None:
        return self._queues.get((account, region, name))

    def by_arn(self, arn: str) -> Queue | None:
        # IAM's enforcement asks for the queue of every SQS request by ARN: the ARN's parse,
        # once per ARN (as the URL's in by_url); bounded, emptied when full.
        key = self._arn_keys.get(arn)
        if key is None:
            parsed = qattrs.parse_arn(arn)
            if parsed is None:
                return None
            region, account, name = parsed
            key = (account, region, name)
            if len(self._arn_keys) >= _URL_KEYS:
                self._arn_keys.clear()
            self._arn_keys[arn] = key
        return self._queues.get(key)

    def by_url(self, url: str | None, region: str) -> Queue:
        """The queue a QueueUrl names (any host; the region from an sqs.<region> host or a
        /queue/<region>/ path, else the request's)."""
        if not url:
            raise errors.missing_parameter("QueueUrl")
        asked = (url, region)
        key = self._url_keys.get(asked)
        if key is None:
            try:
                split = urlsplit(url if "://" in url else f"http://x/{url.lstrip('/')}")
            except ValueError:  # a host urllib cannot read ("http://[x/..."): no queue has that URL
                raise errors.queue_does_not_exist() from None
            parts = [p for p in split.path.split("/") if p]
            if len(parts) < 2:
                raise errors.queue_does_not_exist()
            host = split.hostname or ""
            if host.startswith("sqs.") and host.count(".") >= 2:
                region = host.split(".")[1]
            if len(parts) >= 4 and parts[-4] == "queue":
                region = parts[-3]
            key = (parts[-2], region, parts[-1])
            if len(self._url_keys) >= _URL_KEYS:
                self._url_keys.clear()
            self._url_keys[asked] = key
        queue = self._queues.get(key)
        if queue is None:
            raise errors.queue_does_not_exist()
        return queue

    @staticmethod
    def fresh(conn: sqlite3.Connection, queue_id: int) -> Queue:
        """The queue's row as stored now (inside a write), or QueueDoesNotExist."""
        queue = queue_by_id(conn, queue_id)
        if queue is None:
            raise errors.queue_does_not_exist()
        return queue
