"""SQS's business rules: queues, messages, visibility, FIFO, dead-letter queues, move tasks.

No HTTP, no JSON or XML: members in, members out. SQLite holds every message from send to
delete (see records.py); visibility timeouts are wall-clock deadlines in its rows, so a restart
resumes them. The hot operations (send, receive, delete, change visibility) are `async`: they
validate on the event loop and hand one transaction to the store's group-committing writer,
so they hold no thread while the fsync happens and none at all during a long poll.

Long polls wait on one asyncio.Event per queue, set by whatever makes a message receivable
(a send, a visibility change to 0, a FIFO delete that unblocks a group, a redrive), or until
the next visibility deadline the store knows of: no polling loop. Users' waits (visibility
timeouts, delays, long polls) are real time; --time-scale never touches them.

Other services reach queues through `deliver` (the Deliveries interface) and read a queue's
depth with `depth`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import json
import logging
import signal
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ...auth.resources import checks_service_principal, service_may_send
from ...clock import Clock
from ...protocol import safejson
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.models import service_model
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import (
    ACCESS_DENIED,
    FIFO_NOT_ALLOWED,
    INVALID,
    NOT_FOUND,
    TOO_LARGE,
    Deliveries,
    Delivery,
    DeliveryResult,
)
from . import attributes as qattrs
from . import errors
from . import messages as m
from .batching import WriteBatcher
from .metrics import SqsMetrics, message_size
from .records import (
    DELETED_RECENTLY_MS,
    NewMessage,
    Queue,
    SendOutcome,
    counts,
    insert_message,
    message_row,
    queue_arn,
    sequence_number,
)
from .waiters import Waiter, Waiters

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_WAIT_SECONDS = 20
MAX_VISIBILITY = 43_200
MAX_DELAY = 900
LIST_LIMIT = 1000
SWEEP_SECONDS = 30.0
PURGE_INTERVAL_MS = 60_000
MAX_TAGS = 50
MOVE_BATCH = 100
TASK_STATES_ACTIVE = ("RUNNING",)


@dataclass(frozen=True)
class QueueDepth:
    visible: int  # ApproximateNumberOfMessages
    in_flight: int  # ApproximateNumberOfMessagesNotVisible
    delayed: int  # ApproximateNumberOfMessagesDelayed


@dataclass
class _Received:
    row: dict[str, Any]
    token: str


class _MoveFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _finish_task(conn: sqlite3.Connection, task_id: str, status: str, failure: str | None = None) -> None:
    conn.execute("UPDATE sqs_move_tasks SET status=?, failure=? WHERE task_id=? AND status='RUNNING'",
                 (status, failure, task_id))


def _is_query(ctx: RequestContext) -> bool:
    return "x-amz-target" not in ctx.headers


def _check_range(value: int, low: int, high: int, parameter: str, reason: str) -> int:
    if not low <= value <= high:
        raise errors.invalid_value(value, parameter, reason)
    return value


class SqsService(Service):
    name = "sqs"

    def __init__(self, store: Store, clock: Clock, settings: Settings, deliveries: Deliveries | None = None) -> None:
        self.db = store.db
        self.clock = clock
        self.settings = settings
        self.deliveries = deliveries
        self._queues: dict[tuple[str, str, str], Queue] = {}
        self._by_id: dict[int, Queue] = {}
        self._lock = threading.Lock()  # orders cache updates made by worker threads
        for row in self.db.query("SELECT * FROM sqs_queues"):
            self._remember(Queue.from_row(row))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.waiters = Waiters()
        self._batcher: WriteBatcher | None = None
        self._closing = False  # the server is stopping: long polls answer at once
        self._background: set[asyncio.Task[Any]] = set()
        self.metrics = SqsMetrics(self.db, clock)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._batcher = WriteBatcher(self.db, self._loop)
        self._spawn(self._sweeper())
        self.metrics.buffer.start()
        self._spawn(self.metrics.sample_forever(lambda: list(self._by_id.values())))
        for row in self.db.query("SELECT task_id FROM sqs_move_tasks WHERE status='RUNNING'"):
            self._spawn(self._run_move(row["task_id"]))
        self._watch_exit_signals()

    def _watch_exit_signals(self) -> None:
        """End long polls as soon as the server is asked to stop.

        The server drains open requests before it tells services it is stopping; a parked
        ReceiveMessage would hold a clean exit for up to 20 s. So SIGINT/SIGTERM (whose
        handlers the server has installed by now) first answer every long poll, empty."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(signum: int, frame: Any, previous: Callable[..., Any] = previous) -> None:
                self._closing = True
                self._call_on_loop(self.waiters.wake_all)
                previous(signum, frame)

            try:
                signal.signal(sig, handler)
            except ValueError:  # not the main thread (an embedded server): nothing to chain to
                return

    async def stop(self) -> None:
        self._closing = True
        self.waiters.wake_all()
        for task in list(self._background):
            task.cancel()
        self._background.clear()
        await self.metrics.buffer.stop()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- time, store, wake-ups ------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A write from the event loop, committed with the others of the same loop turn."""
        if self._batcher is None:
            return await asyncio.wrap_future(self.db.submit(fn))
        return await self._batcher.write(fn)

    def _call_on_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def _notify(self, *queue_ids: int) -> None:
        """Wake the long polls of these queues; callable from any thread."""
        if queue_ids:
            self._call_on_loop(self.waiters.wake, queue_ids)

    def _insert(self, conn: sqlite3.Connection, queue: Queue, msg: NewMessage, now: int,
                claimed: list[Waiter]) -> SendOutcome:
        """Insert a message; on a standard queue with a parked long poll, hand it over in flight."""
        if queue.fifo or msg.delay_seconds or not self.waiters.has_waiting(queue.id):
            return insert_message(conn, queue, msg, now)
        waiter = self.waiters.claim(queue.id, claimed)
        if waiter is None:
            return insert_message(conn, queue, msg, now)
        token = m.new_token()
        outcome = insert_message(conn, queue, msg, now, (token, now + waiter.visibility * 1000))
        waiter.taken.append(_Received(message_row(msg, outcome.row_id or 0, now), token))
        return outcome

    async def _send(self, queue: Queue, msgs: list[NewMessage]) -> list[SendOutcome]:
        """Insert messages in one transaction (from the event loop) and answer or wake long polls."""
        claimed: list[Waiter] = []
        now = self._now_ms()

        def txn(conn: sqlite3.Connection) -> list[SendOutcome]:
            return [self._insert(conn, queue, msg, now, claimed) for msg in msgs]

        try:
            outcomes = await self._write(txn)
        except BaseException:
            self.waiters.release(claimed)
            raise
        self.waiters.settle(claimed)
        self.metrics.sent(queue, [message_size(msg) for msg, o in zip(msgs, outcomes, strict=True) if o.row_id is not None])
        if any(o.row_id is not None for o in outcomes) and sum(len(w.taken) for w in claimed) < len(msgs):
            self.waiters.wake((queue.id,))
        return outcomes

    # -- the queue cache (SQLite is the truth; this mirrors it for the hot path) ----------------

    def _remember(self, queue: Queue) -> None:
        with self._lock:
            old = self._by_id.get(queue.id)
            if old is not None and old.key != queue.key:
                self._queues.pop(old.key, None)
            self._queues[queue.key] = queue
            self._by_id[queue.id] = queue

    def _forget(self, queue: Queue) -> None:
        with self._lock:
            self._queues.pop(queue.key, None)
            self._by_id.pop(queue.id, None)

    def _queue(self, ctx: RequestContext, url: str | None) -> Queue:
        if not url:
            raise errors.missing_parameter("QueueUrl")
        split = urlsplit(url if "://" in url else f"http://x/{url.lstrip('/')}")
        parts = [p for p in split.path.split("/") if p]
        if len(parts) < 2:
            raise errors.queue_does_not_exist(_is_query(ctx))
        region = ctx.region
        host = split.hostname or ""
        if host.startswith("sqs.") and host.count(".") >= 2:
            region = host.split(".")[1]
        if len(parts) >= 4 and parts[-4] == "queue":
            region = parts[-3]
        queue = self._queues.get((parts[-2], region, parts[-1]))
        if queue is None:
            raise errors.queue_does_not_exist(_is_query(ctx))
        return queue

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(the queue's Policy attribute, its account) for IAM enforcement."""
        queue = self.queue_by_arn(arn)
        return (queue.attributes.get("Policy"), queue.account) if queue else (None, None)

    def queue_by_arn(self, arn: str) -> Queue | None:
        parsed = qattrs.parse_arn(arn)
        if parsed is None:
            return None
        region, account, name = parsed
        return self._queues.get((account, region, name))

    def _fresh(self, conn: sqlite3.Connection, queue_id: int, ctx: RequestContext) -> Queue:
        row = conn.execute("SELECT * FROM sqs_queues WHERE id=?", (queue_id,)).fetchone()
        if row is None:
            raise errors.queue_does_not_exist(_is_query(ctx))
        return Queue.from_row(row)

    # -- queues ------------------------------------------------------------------------------

    def create_queue(self, ctx: RequestContext, QueueName: str | None = None, Attributes: dict[str, str] | None = None,
                     tags: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
        if not QueueName:
            raise errors.missing_parameter("QueueName")
        given = Attributes or {}
        fifo = qattrs.is_fifo_request(given)
        if not fifo and "FifoQueue" in given:
            raise errors.unknown_attribute("FifoQueue")
        qattrs.validate_name(QueueName, fifo)
        changes = qattrs.validate(given, fifo, creating=True)
        arn = queue_arn(ctx.region, ctx.account_id, QueueName)
        if changes.get("RedrivePolicy"):
            self._check_redrive(arn, fifo, given["RedrivePolicy"], changes["RedrivePolicy"])
        tag_map = self._check_tags(QueueName, tags or {})
        now = self._now_ms()

        def txn(conn: sqlite3.Connection) -> Queue:
            row = conn.execute("SELECT * FROM sqs_queues WHERE account=? AND region=? AND name=?",
                               (ctx.account_id, ctx.region, QueueName)).fetchone()
            if row is not None:
                existing = Queue.from_row(row)
                for name, value in changes.items():
                    if existing.attributes.get(name, "") != value:
                        raise errors.queue_name_exists(name)
                return existing
            deleted = conn.execute("SELECT deleted_ms FROM sqs_deleted WHERE account=? AND region=? AND name=?",
                                   (ctx.account_id, ctx.region, QueueName)).fetchone()
            if deleted is not None and now - deleted[0] < DELETED_RECENTLY_MS:
                raise errors.queue_deleted_recently()
            stored = qattrs.initial(fifo, changes)
            cur = conn.execute(
                "INSERT INTO sqs_queues (account, region, name, fifo, attributes, tags, created, modified)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (ctx.account_id, ctx.region, QueueName, int(fifo), json.dumps(stored), json.dumps(tag_map),
                 now // 1000, now // 1000))
            return Queue(int(cur.lastrowid or 0), ctx.account_id, ctx.region, QueueName, fifo, stored, tag_map,
                         now // 1000, now // 1000)

        queue = self.db.write(txn)
        self._remember(queue)
        return {"QueueUrl": queue.url(ctx.endpoint)}

    def _check_redrive(self, source_arn: str, source_fifo: bool, raw: str, normalized: str) -> None:
        target_arn = json.loads(normalized)["deadLetterTargetArn"]
        target = self.queue_by_arn(target_arn)
        if target is None:
            raise errors.invalid_value(raw, "RedrivePolicy", "Dead letter target does not exist.")
        if target.fifo != source_fifo:
            raise errors.invalid_value(raw, "RedrivePolicy",
                                       "Dead-letter queue must be same type of queue as the source..")
        allow = target.attributes.get("RedriveAllowPolicy")
        if allow:
            doc = json.loads(allow)
            permission = doc.get("redrivePermission")
            if permission == "denyAll" or (permission == "byQueue" and source_arn not in doc.get("sourceQueueArns", [])):
                raise errors.invalid_value(raw, "RedrivePolicy",
                                           f"Queue {target_arn} does not allow this queue to use it as a dead-letter "
                                           "queue.")

    @staticmethod
    def _check_tags(queue_name: str, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            if not key or len(key) > 128 or value is None or len(value) > 256:
                raise errors.invalid_parameter(f"Tag {key} is invalid.")
        if len(tags) > MAX_TAGS:
            raise errors.invalid_parameter(f"Too many tags added for queue {queue_name}.")
        return dict(tags)

    def get_queue_url(self, ctx: RequestContext, QueueName: str | None = None,
                      QueueOwnerAWSAccountId: str | None = None, **_: Any) -> dict[str, Any]:
        if not QueueName:
            raise errors.missing_parameter("QueueName")
        queue = self._queues.get((QueueOwnerAWSAccountId or ctx.account_id, ctx.region, QueueName))
        if queue is None:
            raise errors.queue_does_not_exist(_is_query(ctx))
        return {"QueueUrl": queue.url(ctx.endpoint)}

    def list_queues(self, ctx: RequestContext, QueueNamePrefix: str | None = None, NextToken: str | None = None,
                    MaxResults: int | None = None, **_: Any) -> dict[str, Any]:
        names = sorted(q.name for q in list(self._queues.values())
                       if q.account == ctx.account_id and q.region == ctx.region
                       and (not QueueNamePrefix or q.name.startswith(QueueNamePrefix)))
        page, token = self._page(names, NextToken, MaxResults)
        out: dict[str, Any] = {}
        if page:
            out["QueueUrls"] = [f"{ctx.endpoint.rstrip('/')}/{ctx.account_id}/{n}" for n in page]
        if token:
            out["NextToken"] = token
        return out

    @staticmethod
    def _page(names: list[str], token: str | None, limit: int | None) -> tuple[list[str], str | None]:
        if limit is not None and not 1 <= limit <= LIST_LIMIT:
            raise errors.invalid_value(limit, "MaxResults", "MaxResults must be an integer between 1 and 1000.")
        if token:
            try:
                after = safejson.loads(base64.b64decode(token))["after"]
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise errors.invalid_parameter("Invalid NextToken value.") from None
            names = [n for n in names if n > after]
        size = limit or LIST_LIMIT
        page = names[:size]
        more = limit is not None and len(names) > size
        next_token = base64.b64encode(json.dumps({"after": page[-1]}).encode()).decode() if more and page else None
        return page, next_token

    def list_dead_letter_source_queues(self, ctx: RequestContext, QueueUrl: str | None = None,
                                       NextToken: str | None = None, MaxResults: int | None = None,
                                       **_: Any) -> dict[str, Any]:
        target = self._queue(ctx, QueueUrl)
        sources = {q.name: q for q in list(self._queues.values()) if q.redrive and q.redrive[0] == target.arn}
        page, token = self._page(sorted(sources), NextToken, MaxResults)
        out: dict[str, Any] = {"queueUrls": [sources[n].url(ctx.endpoint) for n in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_queue(self, ctx: RequestContext, QueueUrl: str | None = None, **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        now = self._now_ms()

        def txn(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM sqs_messages WHERE queue_id=?", (queue.id,))
            conn.execute("DELETE FROM sqs_dedup WHERE queue_id=?", (queue.id,))
            conn.execute("DELETE FROM sqs_queues WHERE id=?", (queue.id,))
            conn.execute("INSERT OR REPLACE INTO sqs_deleted (account, region, name, deleted_ms) VALUES (?,?,?,?)",
                         (queue.account, queue.region, queue.name, now))

        self.db.write(txn)
        self._forget(queue)
        self._notify(queue.id)
        return {}

    def purge_queue(self, ctx: RequestContext, QueueUrl: str | None = None, **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        now = self._now_ms()

        def txn(conn: sqlite3.Connection) -> Queue:
            fresh = self._fresh(conn, queue.id, ctx)
            if fresh.purged_ms is not None and now - fresh.purged_ms < PURGE_INTERVAL_MS:
                raise errors.purge_in_progress(queue.name)
            conn.execute("DELETE FROM sqs_messages WHERE queue_id=? AND sent_ms<=?", (queue.id, now))
            conn.execute("UPDATE sqs_queues SET purged_ms=? WHERE id=?", (now, queue.id))
            fresh.purged_ms = now
            return fresh

        self._remember(self.db.write(txn))
        return {}

    def get_queue_attributes(self, ctx: RequestContext, QueueUrl: str | None = None,
                             AttributeNames: list[str] | None = None, **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        names = AttributeNames or []
        for name in names:
            if name != "All" and name not in qattrs.KNOWN:
                raise errors.unknown_attribute(name)
        wanted = set(qattrs.ORDER) if "All" in names else set(names)
        depth = None
        if any(n.startswith("ApproximateNumber") for n in wanted):
            depth = counts(self.db.reader, queue.id, self._now_ms())
        out: dict[str, str] = {}
        for name in qattrs.ORDER:
            if name not in wanted:
                continue
            value = self._attribute(queue, name, depth)
            if value is not None:
                out[name] = value
        return {"Attributes": out} if out else {}

    @staticmethod
    def _attribute(queue: Queue, name: str, depth: tuple[int, int, int] | None) -> str | None:
        if name == "QueueArn":
            return queue.arn
        if depth is not None and name.startswith("ApproximateNumber"):
            index = {"ApproximateNumberOfMessages": 0, "ApproximateNumberOfMessagesNotVisible": 1,
                     "ApproximateNumberOfMessagesDelayed": 2}[name]
            return str(depth[index])
        if name == "CreatedTimestamp":
            return str(queue.created)
        if name == "LastModifiedTimestamp":
            return str(queue.modified)
        return queue.attributes.get(name)

    def set_queue_attributes(self, ctx: RequestContext, QueueUrl: str | None = None,
                             Attributes: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        given = dict(Attributes or {})
        if queue.fifo and str(given.get("FifoQueue", "")).lower() == "true":
            given.pop("FifoQueue")  # restating the type is allowed; changing it is not
        changes = qattrs.validate(given, queue.fifo, creating=False)
        if changes.get("RedrivePolicy"):
            self._check_redrive(queue.arn, queue.fifo, given["RedrivePolicy"], changes["RedrivePolicy"])
        if not changes:
            return {}
        now = self._now_ms()

        def txn(conn: sqlite3.Connection) -> Queue:
            fresh = self._fresh(conn, queue.id, ctx)
            fresh.attributes = qattrs.apply(fresh.attributes, changes)
            fresh.modified = now // 1000
            conn.execute("UPDATE sqs_queues SET attributes=?, modified=? WHERE id=?",
                         (json.dumps(fresh.attributes), fresh.modified, queue.id))
            return fresh

        self._remember(self.db.write(txn))
        self._notify(queue.id)  # a shorter delay or a new redrive policy may change what a poll sees
        return {}

    # -- tags and permissions ----------------------------------------------------------------------

    def _update_queue(self, ctx: RequestContext, queue: Queue, change: Callable[[Queue], None]) -> None:
        def txn(conn: sqlite3.Connection) -> Queue:
            fresh = self._fresh(conn, queue.id, ctx)
            change(fresh)
            conn.execute("UPDATE sqs_queues SET attributes=?, tags=? WHERE id=?",
                         (json.dumps(fresh.attributes), json.dumps(fresh.tags), queue.id))
            return fresh

        self._remember(self.db.write(txn))

    def tag_queue(self, ctx: RequestContext, QueueUrl: str | None = None, Tags: dict[str, str] | None = None,
                  **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        if not Tags:
            raise errors.missing_parameter("Tags")
        self._check_tags(queue.name, Tags)

        def change(fresh: Queue) -> None:
            fresh.tags.update(Tags)
            self._check_tags(queue.name, fresh.tags)

        self._update_queue(ctx, queue, change)
        return {}

    def untag_queue(self, ctx: RequestContext, QueueUrl: str | None = None, TagKeys: list[str] | None = None,
                    **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        if not TagKeys:
            raise errors.missing_parameter("TagKeys")

        def change(fresh: Queue) -> None:
            for key in TagKeys:
                fresh.tags.pop(key, None)

        self._update_queue(ctx, queue, change)
        return {}

    def list_queue_tags(self, ctx: RequestContext, QueueUrl: str | None = None, **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        return {"Tags": dict(queue.tags)} if queue.tags else {}

    def add_permission(self, ctx: RequestContext, QueueUrl: str | None = None, Label: str | None = None,
                       AWSAccountIds: list[str] | None = None, Actions: list[str] | None = None,
                       **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        if not Label:
            raise errors.missing_parameter("Label")
        if not AWSAccountIds:
            raise errors.missing_parameter("AWSAccountId")
        if not Actions:
            raise errors.missing_parameter("ActionName")
        valid = set(service_model(self.name).operation_names) | {"*"}
        for action in Actions:
            if action not in valid:
                raise errors.invalid_value(f"SQS:{action}", "ActionName",
                                           "Please refer to the appropriate WSDL for a list of valid actions. ")
        principals = [f"arn:aws:iam::{a}:root" for a in AWSAccountIds]
        statement = {"Sid": Label, "Effect": "Allow",
                     "Principal": {"AWS": principals if len(principals) > 1 else principals[0]},
                     "Action": [f"SQS:{a}" for a in Actions] if len(Actions) > 1 else f"SQS:{Actions[0]}",
                     "Resource": queue.arn}

        def change(fresh: Queue) -> None:
            policy = json.loads(fresh.attributes.get("Policy") or "null") or {
                "Version": "2008-10-17", "Id": f"{fresh.arn}/SQSDefaultPolicy", "Statement": []}
            statements = policy.setdefault("Statement", [])
            if any(s.get("Sid") == Label for s in statements):
                raise errors.invalid_value(Label, "Label", "Already exists.")
            statements.append(statement)
            fresh.attributes["Policy"] = qattrs.compact(policy)

        self._update_queue(ctx, queue, change)
        return {}

    def remove_permission(self, ctx: RequestContext, QueueUrl: str | None = None, Label: str | None = None,
                          **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        if not Label:
            raise errors.missing_parameter("Label")

        def change(fresh: Queue) -> None:
            policy = json.loads(fresh.attributes.get("Policy") or "null") or {"Statement": []}
            statements = policy.get("Statement", [])
            if not any(s.get("Sid") == Label for s in statements):
                raise errors.invalid_value(Label, "Label", "can't find label.")
            policy["Statement"] = [s for s in statements if s.get("Sid") != Label]
            if policy["Statement"]:
                fresh.attributes["Policy"] = qattrs.compact(policy)
            else:
                fresh.attributes.pop("Policy", None)

        self._update_queue(ctx, queue, change)
        return {}

    # -- sending -----------------------------------------------------------------------------

    def _prepare(self, queue: Queue, sender: str, body: str | None, delay: int | None,
                 attributes: dict[str, Any] | None, system: dict[str, Any] | None, dedup_id: str | None,
                 group_id: str | None, trace_header: str | None = None) -> NewMessage:
        text = m.validate_body(body)
        attrs = m.validate_attributes(attributes)
        sysattrs = m.validate_system_attributes(system)
        if m.utf8_len(text) + m.attributes_size(attrs) > queue.max_message_size:
            raise errors.message_too_long(queue.max_message_size)
        if delay is not None:
            _check_range(delay, 0, MAX_DELAY, "DelaySeconds", "DelaySeconds must be >= 0 and <= 900.")
            if queue.fifo and delay != 0:
                raise errors.invalid_value(delay, "DelaySeconds",
                                           "The request include parameter that is not valid for this queue type.")
        if queue.fifo:
            if not group_id:
                raise errors.missing_parameter("MessageGroupId")
            m.validate_fifo_id(group_id, "MessageGroupId")
            m.validate_fifo_id(dedup_id, "MessageDeduplicationId")
            if not dedup_id and queue.content_based_dedup:
                dedup_id = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
            if not dedup_id:
                raise errors.invalid_parameter("The queue should either have ContentBasedDeduplication enabled or "
                                               "MessageDeduplicationId provided explicitly")
        else:
            if dedup_id is not None:
                raise errors.invalid_value(dedup_id, "MessageDeduplicationId",
                                           "The request includes a parameter that is not valid for this queue type.")
            m.validate_fifo_id(group_id, "MessageGroupId")  # fair queues: standard queues accept a group
        trace = sysattrs["AWSTraceHeader"]["StringValue"] if "AWSTraceHeader" in sysattrs else trace_header
        return NewMessage(
            message_id=m.new_message_id(), body=text, md5_body=m.md5_of_body(text), attributes=attrs,
            stored_attributes=json.dumps(m.attributes_to_json(attrs)) if attrs else None,
            md5_attributes=m.md5_of_attributes(attrs), md5_system=m.md5_of_attributes(sysattrs),
            trace_header=trace, sender_id=sender, delay_seconds=queue.delay_seconds if delay is None else delay,
            group_id=group_id or None, dedup_id=dedup_id)

    @staticmethod
    def _sent(msg: NewMessage, outcome: SendOutcome) -> dict[str, Any]:
        out: dict[str, Any] = {"MD5OfMessageBody": msg.md5_body}
        if msg.md5_attributes:
            out["MD5OfMessageAttributes"] = msg.md5_attributes
        if msg.md5_system:
            out["MD5OfMessageSystemAttributes"] = msg.md5_system
        out["MessageId"] = outcome.message_id
        if outcome.sequence:
            out["SequenceNumber"] = outcome.sequence
        return out

    async def send_message(self, ctx: RequestContext, QueueUrl: str | None = None, MessageBody: str | None = None,
                           DelaySeconds: int | None = None, MessageAttributes: dict[str, Any] | None = None,
                           MessageSystemAttributes: dict[str, Any] | None = None,
                           MessageDeduplicationId: str | None = None, MessageGroupId: str | None = None,
                           **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        msg = self._prepare(queue, ctx.account_id, MessageBody, DelaySeconds, MessageAttributes,
                            MessageSystemAttributes, MessageDeduplicationId, MessageGroupId,
                            ctx.headers.get("x-amzn-trace-id"))
        (outcome,) = await self._send(queue, [msg])
        return self._sent(msg, outcome)

    async def send_message_batch(self, ctx: RequestContext, QueueUrl: str | None = None,
                                 Entries: list[dict[str, Any]] | None = None, **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        entries = m.validate_batch_ids(Entries, "SendMessageBatchRequestEntry")
        total = sum(m.utf8_len(e.get("MessageBody") or "") + m.attributes_size(
            {k: v for k, v in (e.get("MessageAttributes") or {}).items() if isinstance(v, dict) and v.get("DataType")})
            for e in entries)
        limit = max(qattrs.DEFAULT_MAX_MESSAGE_SIZE, queue.max_message_size)
        if total > limit:
            raise errors.batch_too_long(limit, total)
        if queue.fifo:
            if any(not e.get("MessageGroupId") for e in entries):
                raise errors.invalid_parameter("The request must contain the parameter MessageGroupId.")
            if not queue.content_based_dedup and any(not e.get("MessageDeduplicationId") for e in entries):
                raise errors.invalid_parameter("The queue should either have ContentBasedDeduplication enabled or "
                                               "MessageDeduplicationId provided explicitly")
        trace = ctx.headers.get("x-amzn-trace-id")
        prepared: list[tuple[str, NewMessage]] = []
        failed: list[dict[str, Any]] = []
        for entry in entries:
            try:
                prepared.append((entry["Id"], self._prepare(
                    queue, ctx.account_id, entry.get("MessageBody"), entry.get("DelaySeconds"),
                    entry.get("MessageAttributes"), entry.get("MessageSystemAttributes"),
                    entry.get("MessageDeduplicationId"), entry.get("MessageGroupId"), trace)))
            except ServiceError as err:
                failed.append({"Id": entry["Id"], "SenderFault": err.sender_fault, "Code": err.code,
                               "Message": err.message})
        outcomes = await self._send(queue, [msg for _, msg in prepared]) if prepared else []
        successful = [{"Id": entry_id, **self._sent(msg, outcome)}
                      for (entry_id, msg), outcome in zip(prepared, outcomes, strict=True)]
        return {"Successful": successful, "Failed": failed}

    # -- receiving ---------------------------------------------------------------------------

    async def receive_message(self, ctx: RequestContext, QueueUrl: str | None = None,
                              AttributeNames: list[str] | None = None,
                              MessageSystemAttributeNames: list[str] | None = None,
                              MessageAttributeNames: list[str] | None = None, MaxNumberOfMessages: int | None = None,
                              VisibilityTimeout: int | None = None, WaitTimeSeconds: int | None = None,
                              **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        count = 1 if MaxNumberOfMessages is None else MaxNumberOfMessages
        _check_range(count, 1, 10, "MaxNumberOfMessages", "Must be between 1 and 10, if provided.")
        visibility = queue.visibility_timeout if VisibilityTimeout is None else VisibilityTimeout
        _check_range(visibility, 0, MAX_VISIBILITY, "VisibilityTimeout", "Must be >= 0 and <= 43200, if provided.")
        wait = queue.number("ReceiveMessageWaitTimeSeconds") if WaitTimeSeconds is None else WaitTimeSeconds
        _check_range(wait, 0, MAX_WAIT_SECONDS, "WaitTimeSeconds", "Must be >= 0 and <= 20, if provided.")
        system_names = set(AttributeNames or ()) | set(MessageSystemAttributeNames or ())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        received: list[_Received] = []
        while not received:
            current = self._by_id.get(queue.id)
            if current is None:  # deleted while we waited
                return {}
            queue = current
            # Registered before looking, so a wake during the look is not lost.
            waiter = self.waiters.arm(queue.id, count, visibility, loop)
            try:
                now = self._now_ms()
                next_ms = self._next_visible(queue, now) if not queue.fifo else None
                if queue.fifo or next_ms == now:
                    received, next_ms, moved = await self._write(functools.partial(
                        self._receive_txn, queue=queue, count=count, visibility=visibility, now=now))
                    if moved:
                        self.waiters.wake(tuple(moved))
            except BaseException:
                self.waiters.disarm(waiter)
                raise
            remaining = deadline - loop.time()
            if received or remaining <= 0 or self._closing:
                self.waiters.disarm(waiter)
                break
            if not self.waiters.park(waiter):
                continue  # woken while looking: look again
            timeout = remaining
            if next_ms is not None:  # a message becomes visible before the poll ends
                timeout = min(remaining, max(0.0, (next_ms - self._now_ms()) / 1000) + 0.001)
            try:
                await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
            except asyncio.TimeoutError:
                if not self.waiters.disarm(waiter):
                    await waiter.future  # a send claimed us just now: its answer is committing
            received = waiter.taken
            if not received and loop.time() >= deadline:
                break
        self.metrics.received(queue, len(received))
        if not received:
            return {}
        return {"Messages": [self._render(queue, r, system_names, MessageAttributeNames) for r in received]}

    def _next_visible(self, queue: Queue, now: int) -> int | None:
        """`now` if a message is visible, else when the next one becomes visible (a read; no write)."""
        row = self.db.query_one(
            "SELECT 1 FROM sqs_messages WHERE queue_id=? AND visible_ms<=? LIMIT 1", (queue.id, now))
        if row is not None:
            return now
        row = self.db.query_one("SELECT min(visible_ms) FROM sqs_messages WHERE queue_id=? AND visible_ms>?",
                                (queue.id, now))
        return None if row is None or row[0] is None else int(row[0])

    def _receive_txn(self, conn: sqlite3.Connection, queue: Queue, count: int, visibility: int,
                     now: int) -> tuple[list[_Received], int | None, set[int]]:
        """Take up to `count` messages in flight (inside Database.write): (messages, next visibility
        deadline when none, DLQs that received redriven messages)."""
        redrive = queue.redrive
        dlq = self.queue_by_arn(redrive[0]) if redrive else None
        max_receives = redrive[1] if redrive and dlq is not None and dlq.id != queue.id else None
        cutoff = now - queue.retention_ms
        taken: list[_Received] = []
        moved: set[int] = set()
        updates: list[tuple[int, int, str, int]] = []

        def consider(row: sqlite3.Row) -> bool:
            """Take or redrive one visible message; False when it was not taken."""
            if row["sent_ms"] <= cutoff:
                conn.execute("DELETE FROM sqs_messages WHERE id=?", (row["id"],))
                return False
            if max_receives is not None and dlq is not None and row["receive_count"] >= max_receives:
                conn.execute("UPDATE sqs_messages SET queue_id=?, visible_ms=?, receipt=NULL, dlq_source=? WHERE id=?",
                             (dlq.id, now, queue.arn, row["id"]))
                moved.add(dlq.id)
                return False
            token = m.new_token()
            data = dict(row)
            data["receive_count"] += 1
            if data["first_receive_ms"] is None:
                data["first_receive_ms"] = now
            updates.append((now, now + visibility * 1000, token, row["id"]))
            taken.append(_Received(data, token))
            return True

        if queue.fifo:
            heads = conn.execute(
                "SELECT * FROM sqs_messages WHERE id IN (SELECT min(id) FROM sqs_messages WHERE queue_id=?"
                " AND group_id IS NOT NULL GROUP BY group_id) AND visible_ms<=? ORDER BY id", (queue.id, now)).fetchall()
            for head in heads:
                if len(taken) >= count:
                    break
                last = 0
                done = False
                while not done and len(taken) < count:
                    rows = conn.execute(
                        "SELECT * FROM sqs_messages WHERE queue_id=? AND group_id=? AND id>? ORDER BY id LIMIT 20",
                        (queue.id, head["group_id"], last)).fetchall()
                    if not rows:
                        break
                    for row in rows:
                        last = row["id"]
                        if row["visible_ms"] > now:  # in flight or delayed: the group's order stops here
                            done = True
                            break
                        consider(row)
                        if len(taken) >= count:
                            break
        else:
            seen: list[int] = []
            while len(taken) < count:
                exclude = f" AND id NOT IN ({','.join(map(str, seen))})" if seen else ""
                rows = conn.execute(
                    f"SELECT * FROM sqs_messages WHERE queue_id=? AND visible_ms<=?{exclude}"
                    " ORDER BY visible_ms, id LIMIT ?", (queue.id, now, count - len(taken))).fetchall()
                if not rows:
                    break
                for row in rows:
                    seen.append(row["id"])
                    consider(row)
        if updates:
            conn.executemany(
                "UPDATE sqs_messages SET receive_count=receive_count+1, first_receive_ms=coalesce(first_receive_ms, ?),"
                " visible_ms=?, receipt=? WHERE id=?", updates)
        next_ms = None
        if not taken:
            row = conn.execute("SELECT min(visible_ms) FROM sqs_messages WHERE queue_id=? AND visible_ms>?",
                               (queue.id, now)).fetchone()
            next_ms = None if row[0] is None else int(row[0])
        return taken, next_ms, moved

    def _render(self, queue: Queue, received: _Received, system_names: set[str],
                attribute_names: list[str] | None) -> dict[str, Any]:
        row = received.row
        out: dict[str, Any] = {
            "MessageId": row["message_id"],
            "ReceiptHandle": m.encode_receipt(queue.id, row["id"], received.token),
            "MD5OfBody": row["md5_body"],
            "Body": row["body"],
        }
        if system_names:
            values = {
                "SenderId": row["sender_id"],
                "ApproximateFirstReceiveTimestamp": str(row["first_receive_ms"]),
                "ApproximateReceiveCount": str(row["receive_count"]),
                "SentTimestamp": str(row["sent_ms"]),
            }
            if queue.fifo:
                values["SequenceNumber"] = sequence_number(row["id"])
                values["MessageDeduplicationId"] = row["dedup_id"]
            if row["group_id"]:
                values["MessageGroupId"] = row["group_id"]
            if row["trace_header"]:
                values["AWSTraceHeader"] = row["trace_header"]
            if row["dlq_source"]:
                values["DeadLetterQueueSourceArn"] = row["dlq_source"]
            every = "All" in system_names
            attrs = {k: values[k] for k in m.RECEIVE_SYSTEM_ATTRIBUTES
                     if k in values and (every or k in system_names)}
            if attrs:
                out["Attributes"] = attrs
        if attribute_names and row["attributes"]:
            stored = m.attributes_from_json(json.loads(row["attributes"]))
            chosen = m.select_attributes(stored, attribute_names)
            if chosen:
                out["MD5OfMessageAttributes"] = (row["md5_attributes"] if len(chosen) == len(stored)
                                                 else m.md5_of_attributes(chosen))
                out["MessageAttributes"] = chosen
        return out

    # -- deleting and changing visibility ---------------------------------------------------------

    def _receipt(self, queue: Queue, handle: str | None) -> m.Receipt:
        if not handle:
            raise errors.missing_parameter("ReceiptHandle")
        receipt = m.decode_receipt(handle)
        if receipt is None or receipt.queue_id != queue.id:
            raise errors.receipt_handle_invalid(handle)
        return receipt

    @staticmethod
    def _delete_one(conn: sqlite3.Connection, queue: Queue, receipt: m.Receipt, handle: str, now: int) -> bool:
        """Delete the message a receipt names; True if a FIFO group may have been unblocked."""
        row = conn.execute("SELECT queue_id, receipt, visible_ms FROM sqs_messages WHERE id=?",
                           (receipt.message_row,)).fetchone()
        if row is None or row["queue_id"] != queue.id:
            return False  # already deleted (or moved on): deleting again succeeds
        if queue.fifo and (row["receipt"] != receipt.token or row["visible_ms"] <= now):
            raise errors.receipt_handle_expired(handle)
        # Standard queues: an older handle of the message still deletes it, as on AWS.
        conn.execute("DELETE FROM sqs_messages WHERE id=?", (receipt.message_row,))
        return queue.fifo

    async def delete_message(self, ctx: RequestContext, QueueUrl: str | None = None,
                             ReceiptHandle: str | None = None, **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        receipt = self._receipt(queue, ReceiptHandle)
        now = self._now_ms()
        assert ReceiptHandle is not None
        if await self._write(lambda conn: self._delete_one(conn, queue, receipt, ReceiptHandle, now)):
            self.waiters.wake((queue.id,))
        self.metrics.deleted(queue, 1)
        return {}

    async def delete_message_batch(self, ctx: RequestContext, QueueUrl: str | None = None,
                                   Entries: list[dict[str, Any]] | None = None, **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        entries = m.validate_batch_ids(Entries, "DeleteMessageBatchRequestEntry")
        now = self._now_ms()

        def one(conn: sqlite3.Connection, entry: dict[str, Any]) -> bool:
            handle = entry.get("ReceiptHandle") or ""
            return self._delete_one(conn, queue, self._receipt(queue, handle), handle, now)

        successful, failed, wake = await self._batch(entries, one)
        if wake:
            self.waiters.wake((queue.id,))
        self.metrics.deleted(queue, len(successful))
        return {"Successful": successful, "Failed": failed}

    async def _batch(self, entries: list[dict[str, Any]],
                     one: Callable[[sqlite3.Connection, dict[str, Any]], bool]
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        def txn(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
            successful: list[dict[str, Any]] = []
            failed: list[dict[str, Any]] = []
            wake = False
            for entry in entries:
                try:
                    wake = one(conn, entry) or wake
                    successful.append({"Id": entry["Id"]})
                except ServiceError as err:
                    failed.append({"Id": entry["Id"], "SenderFault": err.sender_fault, "Code": err.code,
                                   "Message": err.message})
            return successful, failed, wake

        return await self._write(txn)

    @staticmethod
    def _change_one(conn: sqlite3.Connection, queue: Queue, receipt: m.Receipt, handle: str, visibility: int,
                    now: int) -> bool:
        row = conn.execute("SELECT queue_id, receipt, visible_ms, receive_count FROM sqs_messages WHERE id=?",
                           (receipt.message_row,)).fetchone()
        if row is None or row["queue_id"] != queue.id or row["receipt"] != receipt.token:
            raise errors.visibility_unavailable(handle)
        if row["visible_ms"] <= now:
            raise errors.message_not_inflight()
        conn.execute("UPDATE sqs_messages SET visible_ms=? WHERE id=?", (now + visibility * 1000, receipt.message_row))
        return visibility == 0

    async def change_message_visibility(self, ctx: RequestContext, QueueUrl: str | None = None,
                                        ReceiptHandle: str | None = None, VisibilityTimeout: int | None = None,
                                        **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        receipt = self._receipt(queue, ReceiptHandle)
        if VisibilityTimeout is None:
            raise errors.missing_parameter("VisibilityTimeout")
        _check_range(VisibilityTimeout, 0, MAX_VISIBILITY, "VisibilityTimeout",
                     "Must be >= 0 and <= 43200, if provided.")
        now = self._now_ms()
        assert ReceiptHandle is not None
        if await self._write(lambda c: self._change_one(c, queue, receipt, ReceiptHandle, VisibilityTimeout, now)):
            self.waiters.wake((queue.id,))
        return {}

    async def change_message_visibility_batch(self, ctx: RequestContext, QueueUrl: str | None = None,
                                              Entries: list[dict[str, Any]] | None = None,
                                              **_: Any) -> dict[str, Any]:
        queue = self._queue(ctx, QueueUrl)
        entries = m.validate_batch_ids(Entries, "ChangeMessageVisibilityBatchRequestEntry")
        now = self._now_ms()

        def one(conn: sqlite3.Connection, entry: dict[str, Any]) -> bool:
            handle = entry.get("ReceiptHandle") or ""
            visibility = entry.get("VisibilityTimeout")
            if visibility is None:
                raise errors.missing_parameter("VisibilityTimeout")
            _check_range(visibility, 0, MAX_VISIBILITY, "VisibilityTimeout",
                         "Must be >= 0 and <= 43200, if provided.")
            return self._change_one(conn, queue, self._receipt(queue, handle), handle, visibility, now)

        successful, failed, wake = await self._batch(entries, one)
        if wake:
            self.waiters.wake((queue.id,))
        return {"Successful": successful, "Failed": failed}

    # -- message move tasks (DLQ redrive) ---------------------------------------------------------

    @staticmethod
    def _task_handle(task_id: str, source_arn: str) -> str:
        return base64.b64encode(json.dumps({"taskId": task_id, "sourceArn": source_arn}).encode()).decode()

    def _move_source(self, arn: str | None) -> Queue:
        if not arn or qattrs.parse_arn(arn) is None:
            raise errors.invalid_parameter("You must use this format to specify the SourceArn: "
                                           "arn:<partition>:<service>:<region>:<account-id>:<resource-id>")
        source = self.queue_by_arn(arn)
        if source is None:
            raise errors.resource_not_found("The resource that you specified for the SourceArn parameter "
                                            "doesn't exist.")
        return source

    def start_message_move_task(self, ctx: RequestContext, SourceArn: str | None = None,
                                DestinationArn: str | None = None, MaxNumberOfMessagesPerSecond: int | None = None,
                                **_: Any) -> dict[str, Any]:
        source = self._move_source(SourceArn)
        if not any(q.redrive and q.redrive[0] == source.arn for q in list(self._queues.values())):
            raise errors.invalid_parameter("Source queue must be configured as a Dead Letter Queue.")
        if DestinationArn and (qattrs.parse_arn(DestinationArn) is None
                               or self.queue_by_arn(DestinationArn) is None):
                raise errors.resource_not_found("The resource that you specified for the DestinationArn parameter "
                                                "doesn't exist.")
        rate = MaxNumberOfMessagesPerSecond
        if rate is not None:
            _check_range(rate, 1, 500, "MaxNumberOfMessagesPerSecond",
                         "MaxNumberOfMessagesPerSecond must be between 1 and 500.")
        task_id = str(uuid.uuid4())
        now = self._now_ms()

        def txn(conn: sqlite3.Connection) -> None:
            active = conn.execute("SELECT 1 FROM sqs_move_tasks WHERE source_arn=? AND status='RUNNING'",
                                  (source.arn,)).fetchone()
            if active is not None:
                raise errors.invalid_parameter("There is already a task running. Only one active task is allowed "
                                               "for a source queue arn at a given time.")
            visible = counts(conn, source.id, now)[0]
            conn.execute(
                "INSERT INTO sqs_move_tasks (task_id, account, region, source_arn, destination_arn, rate, status,"
                " started_ms, to_move) VALUES (?,?,?,?,?,?,'RUNNING',?,?)",
                (task_id, source.account, source.region, source.arn, DestinationArn or None, rate, now, visible))

        self.db.write(txn)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._spawn, self._run_move(task_id))
        return {"TaskHandle": self._task_handle(task_id, source.arn)}

    def list_message_move_tasks(self, ctx: RequestContext, SourceArn: str | None = None,
                                MaxResults: int | None = None, **_: Any) -> dict[str, Any]:
        source = self._move_source(SourceArn)
        limit = 1 if MaxResults is None else MaxResults
        _check_range(limit, 1, 10, "MaxResults", "You must enter a number that's between 1 and 10.")
        rows = self.db.query("SELECT * FROM sqs_move_tasks WHERE source_arn=? ORDER BY started_ms DESC, rowid DESC"
                             " LIMIT ?", (source.arn, limit))
        results = []
        for row in rows:
            entry: dict[str, Any] = {}
            if row["status"] == "RUNNING":
                entry["TaskHandle"] = self._task_handle(row["task_id"], row["source_arn"])
            entry["Status"] = row["status"]
            entry["SourceArn"] = row["source_arn"]
            if row["destination_arn"]:
                entry["DestinationArn"] = row["destination_arn"]
            if row["rate"] is not None:
                entry["MaxNumberOfMessagesPerSecond"] = row["rate"]
            entry["ApproximateNumberOfMessagesMoved"] = row["moved"]
            entry["ApproximateNumberOfMessagesToMove"] = row["to_move"]
            if row["failure"]:
                entry["FailureReason"] = row["failure"]
            entry["StartedTimestamp"] = row["started_ms"]
            results.append(entry)
        return {"Results": results}

    def cancel_message_move_task(self, ctx: RequestContext, TaskHandle: str | None = None,
                                 **_: Any) -> dict[str, Any]:
        try:
            doc = safejson.loads(base64.b64decode(TaskHandle or "", validate=True))
            task_id, source_arn = str(doc["taskId"]), str(doc["sourceArn"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise errors.invalid_parameter("Value for parameter TaskHandle is invalid.") from None
        source = self._move_source(source_arn)

        def txn(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT status, moved FROM sqs_move_tasks WHERE task_id=? AND source_arn=?",
                               (task_id, source.arn)).fetchone()
            if row is None:
                raise errors.resource_not_found("Task does not exist.")
            if row["status"] != "RUNNING":
                raise errors.invalid_parameter("Only active tasks can be cancelled.")
            conn.execute("UPDATE sqs_move_tasks SET status='CANCELLED' WHERE task_id=?", (task_id,))
            return int(row["moved"])

        return {"ApproximateNumberOfMessagesMoved": self.db.write(txn)}

    async def _run_move(self, task_id: str) -> None:
        """Move a DLQ's messages to a destination, or back to the queues they came from."""
        try:
            while True:
                task = self.db.query_one("SELECT * FROM sqs_move_tasks WHERE task_id=?", (task_id,))
                if task is None or task["status"] != "RUNNING":
                    return
                remaining = task["to_move"] - task["moved"]
                batch = min(remaining, task["rate"] or MOVE_BATCH)
                moved = 0
                targets: set[int] = set()
                if batch > 0:
                    try:
                        moved, targets = await self._write(functools.partial(self._move_txn, task=task, limit=batch))
                    except _MoveFailed as failure:
                        await self._write(functools.partial(_finish_task, task_id=task_id, status="FAILED",
                                                            failure=failure.reason))
                        return
                    self.waiters.wake(tuple(targets))
                if moved == 0:
                    await self._write(functools.partial(_finish_task, task_id=task_id, status="COMPLETED"))
                    return
                if task["rate"]:
                    await asyncio.sleep(moved / task["rate"])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("message move task %s failed", task_id)

    def _move_txn(self, conn: sqlite3.Connection, task: sqlite3.Row, limit: int) -> tuple[int, set[int]]:
        status = conn.execute("SELECT status FROM sqs_move_tasks WHERE task_id=?", (task["task_id"],)).fetchone()
        if status is None or status[0] != "RUNNING":
            return 0, set()
        source = self.queue_by_arn(task["source_arn"])
        if source is None:
            raise _MoveFailed("AWS.SimpleQueueService.NonExistentQueue")
        destination = None
        if task["destination_arn"]:
            destination = self.queue_by_arn(task["destination_arn"])
            if destination is None:
                raise _MoveFailed("AWS.SimpleQueueService.NonExistentQueue")
        now = self._now_ms()
        rows = conn.execute("SELECT id, dlq_source FROM sqs_messages WHERE queue_id=? AND visible_ms<=?"
                            " ORDER BY visible_ms, id LIMIT ?", (source.id, now, limit)).fetchall()
        targets: set[int] = set()
        for row in rows:
            target = destination
            if target is None:
                if not row["dlq_source"]:
                    raise _MoveFailed("CouldNotDetermineMessageSource")
                target = self.queue_by_arn(row["dlq_source"])
                if target is None:
                    raise _MoveFailed("AWS.SimpleQueueService.NonExistentQueue")
            conn.execute("UPDATE sqs_messages SET queue_id=?, visible_ms=?, receive_count=0, first_receive_ms=NULL,"
                         " receipt=NULL, dlq_source=NULL WHERE id=?", (target.id, now, row["id"]))
            targets.add(target.id)
        conn.execute("UPDATE sqs_move_tasks SET moved=moved+? WHERE task_id=?", (len(rows), task["task_id"]))
        return len(rows), targets

    # -- housekeeping ------------------------------------------------------------------------

    async def _sweeper(self) -> None:
        """Drop messages past their retention period and expired deduplication records."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self._write(self._sweep)
            except Exception:
                log.exception("SQS sweep failed")

    def _sweep(self, conn: sqlite3.Connection) -> None:
        now = self._now_ms()
        for queue in list(self._by_id.values()):
            conn.execute("DELETE FROM sqs_messages WHERE queue_id=? AND sent_ms<=?", (queue.id, now - queue.retention_ms))
        conn.execute("DELETE FROM sqs_dedup WHERE expires_ms<=?", (now,))
        conn.execute("DELETE FROM sqs_deleted WHERE deleted_ms<=?", (now - DELETED_RECENTLY_MS,))

    # -- for the rest of Sluice --------------------------------------------------------------

    def depth(self, arn: str) -> QueueDepth | None:
        """A queue's approximate message counts (one indexed read), or None if it does not exist."""
        queue = self.queue_by_arn(arn)
        if queue is None:
            return None
        return QueueDepth(*counts(self.db.reader, queue.id, self._now_ms()))

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """SendMessage on behalf of another service (DLQs, destinations, SNS, EventBridge, S3).

        Applies SendMessage's rules; returns once the message is durable. It waits for the
        store's commit, so call it from a worker thread, not from the event loop."""
        queue = self.queue_by_arn(arn)
        if queue is None:
            return DeliveryResult.failed(NOT_FOUND, f"queue {arn} does not exist")
        if queue.fifo and not delivery.allow_fifo:
            return DeliveryResult.failed(FIFO_NOT_ALLOWED, f"{arn} is a FIFO queue")
        if checks_service_principal(delivery.principal, self.settings.enforce_iam) and not service_may_send(
                queue.attributes.get("Policy"), delivery.principal or "", "sqs:SendMessage", queue.arn,
                delivery.source_arn or "", delivery.source_account or ""):
            return DeliveryResult.failed(ACCESS_DENIED, f"the queue policy does not allow {delivery.principal}")
        attributes: dict[str, Any] = {}
        for name, attr in delivery.attributes.items():
            value: dict[str, Any] = {"DataType": attr.data_type}
            if attr.binary_value is not None:
                value["BinaryValue"] = attr.binary_value
            else:
                value["StringValue"] = attr.string_value
            attributes[name] = value
        size = m.utf8_len(delivery.body) + m.attributes_size(attributes)
        if size > queue.max_message_size:
            return DeliveryResult.failed(TOO_LARGE, f"message of {size} bytes; the queue takes "
                                                    f"{queue.max_message_size}")
        system = {}
        trace = delivery.system_attributes.get("AWSTraceHeader")
        if trace:
            system["AWSTraceHeader"] = {"DataType": "String", "StringValue": trace}
        try:
            msg = self._prepare(queue, delivery.source_account or queue.account, delivery.body, None, attributes,
                                system, delivery.deduplication_id if queue.fifo else None,
                                delivery.group_id if queue.fifo else None)
        except ServiceError as err:
            return DeliveryResult.failed(INVALID, err.message)
        now = self._now_ms()
        claimed: list[Waiter] = []
        try:
            outcome = self.db.write(lambda conn: self._insert(conn, queue, msg, now, claimed))
        except BaseException:
            self.waiters.release(claimed)
            raise
        self._call_on_loop(self.waiters.settle, claimed)
        if not claimed:
            self._notify(queue.id)
        if outcome.row_id is not None:
            self.metrics.sent(queue, [message_size(msg)])
        return DeliveryResult(True, outcome.message_id)
