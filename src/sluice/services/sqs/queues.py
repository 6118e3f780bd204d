"""Queues: create, find, list, delete and purge them, and read and set their attributes."""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from typing import Any

from ...protocol import safejson
from ...protocol.context import RequestContext
from . import attributes as qattrs
from . import errors
from . import records as rec
from .message_records import counts
from .records import DELETED_RECENTLY_MS, Queue, queue_arn
from .state import SqsState

LIST_LIMIT = 1000
PURGE_INTERVAL_MS = 60_000
MAX_TAGS = 50
_DEPTH_INDEX = {"ApproximateNumberOfMessages": 0, "ApproximateNumberOfMessagesNotVisible": 1,
                "ApproximateNumberOfMessagesDelayed": 2}


def check_tags(queue_name: str, tags: dict[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        if not key or len(key) > 128 or value is None or len(value) > 256:
            raise errors.invalid_parameter(f"Tag {key} is invalid.")
    if len(tags) > MAX_TAGS:
        raise errors.invalid_parameter(f"Too many tags added for queue {queue_name}.")
    return dict(tags)


def page(names: list[str], token: str | None, limit: int | None) -> tuple[list[str], str | None]:
    """One page of sorted names, and the token of the next page if MaxResults cut it."""
    if limit is not None and not 1 <= limit <= LIST_LIMIT:
        raise errors.invalid_value(limit, "MaxResults", "MaxResults must be an integer between 1 and 1000.")
    if token:
        try:
            after = safejson.loads(base64.b64decode(token))["after"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise errors.invalid_parameter("Invalid NextToken value.") from None
        names = [n for n in names if n > after]
    size = limit or LIST_LIMIT
    first = names[:size]
    more = limit is not None and len(names) > size
    next_token = base64.b64encode(json.dumps({"after": first[-1]}).encode()).decode() if more and first else None
    return first, next_token


class Queues:
    def __init__(self, state: SqsState) -> None:
        self.state = state

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
            self.check_redrive(arn, fifo, given["RedrivePolicy"], changes["RedrivePolicy"])
        tag_map = check_tags(QueueName, tags or {})
        now = self.state.now_ms()

        def txn(conn: sqlite3.Connection) -> Queue:
            existing = rec.queue_by_name(conn, ctx.account_id, ctx.region, QueueName)
            if existing is not None:
                for name, value in changes.items():
                    if existing.attributes.get(name, "") != value:
                        raise errors.queue_name_exists(name)
                return existing
            deleted = rec.deleted_at(conn, ctx.account_id, ctx.region, QueueName)
            if deleted is not None and now - deleted < DELETED_RECENTLY_MS:
                raise errors.queue_deleted_recently()
            return rec.insert_queue(conn, ctx.account_id, ctx.region, QueueName, fifo, qattrs.initial(fifo, changes),
                                    tag_map, now // 1000)

        queue = self.state.db.write(txn)
        self.state.remember(queue)
        return {"QueueUrl": queue.url(ctx.endpoint)}

    def check_redrive(self, source_arn: str, source_fifo: bool, raw: str, normalized: str) -> None:
        target_arn = json.loads(normalized)["deadLetterTargetArn"]
        target = self.state.by_arn(target_arn)
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

    def get_queue_url(self, ctx: RequestContext, QueueName: str | None = None,
                      QueueOwnerAWSAccountId: str | None = None, **_: Any) -> dict[str, Any]:
        if not QueueName:
            raise errors.missing_parameter("QueueName")
        queue = self.state.by_name(QueueOwnerAWSAccountId or ctx.account_id, ctx.region, QueueName)
        if queue is None:
            raise errors.queue_does_not_exist()
        return {"QueueUrl": queue.url(ctx.endpoint)}

    def list_queues(self, ctx: RequestContext, QueueNamePrefix: str | None = None, NextToken: str | None = None,
                    MaxResults: int | None = None, **_: Any) -> dict[str, Any]:
        names = sorted(q.name for q in self.state.queues()
                       if q.account == ctx.account_id and q.region == ctx.region
                       and (not QueueNamePrefix or q.name.startswith(QueueNamePrefix)))
        shown, token = page(names, NextToken, MaxResults)
        out: dict[str, Any] = {}
        if shown:
            out["QueueUrls"] = [f"{ctx.endpoint.rstrip('/')}/{ctx.account_id}/{n}" for n in shown]
        if token:
            out["NextToken"] = token
        return out

    def list_dead_letter_source_queues(self, ctx: RequestContext, QueueUrl: str | None = None,
                                       NextToken: str | None = None, MaxResults: int | None = None,
                                       **_: Any) -> dict[str, Any]:
        target = self.state.by_url(QueueUrl, ctx.region)
        sources = {q.name: q for q in self.state.queues() if q.redrive and q.redrive[0] == target.arn}
        shown, token = page(sorted(sources), NextToken, MaxResults)
        out: dict[str, Any] = {"queueUrls": [sources[n].url(ctx.endpoint) for n in shown]}
        if token:
            out["NextToken"] = token
        return out

    def delete_queue(self, ctx: RequestContext, QueueUrl: str | None = None, **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        now = self.state.now_ms()
        self.state.db.write(lambda conn: rec.delete_queue(conn, queue, now))
        self.state.forget(queue)
        self.state.notify(queue.id)  # its long polls answer (empty)
        return {}

    def purge_queue(self, ctx: RequestContext, QueueUrl: str | None = None, **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        now = self.state.now_ms()

        def txn(conn: sqlite3.Connection) -> Queue:
            fresh = self.state.fresh(conn, queue.id)
            if fresh.purged_ms is not None and now - fresh.purged_ms < PURGE_INTERVAL_MS:
                raise errors.purge_in_progress(queue.name)
            rec.purge_queue(conn, queue.id, now)
            fresh.purged_ms = now
            return fresh

        self.state.remember(self.state.db.write(txn))
        return {}

    def get_queue_attributes(self, ctx: RequestContext, QueueUrl: str | None = None,
                             AttributeNames: list[str] | None = None, **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        names = AttributeNames or []
        for name in names:
            if name != "All" and name not in qattrs.KNOWN:
                raise errors.unknown_attribute(name)
        wanted = set(qattrs.ORDER) if "All" in names else set(names)
        depth = None
        if any(n.startswith("ApproximateNumber") for n in wanted):
            depth = counts(self.state.db.reader, queue.id, self.state.now_ms())
        out: dict[str, str] = {}
        for name in qattrs.ORDER:
            if name not in wanted:
                continue
            value = _attribute(queue, name, depth)
            if value is not None:
                out[name] = value
        return {"Attributes": out} if out else {}

    def set_queue_attributes(self, ctx: RequestContext, QueueUrl: str | None = None,
                             Attributes: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        given = dict(Attributes or {})
        if queue.fifo and str(given.get("FifoQueue", "")).lower() == "true":
            given.pop("FifoQueue")  # restating the type is allowed; changing it is not
        changes = qattrs.validate(given, queue.fifo, creating=False)
        if changes.get("RedrivePolicy"):
            self.check_redrive(queue.arn, queue.fifo, given["RedrivePolicy"], changes["RedrivePolicy"])
        if not changes:
            return {}
        now = self.state.now_ms()

        def txn(conn: sqlite3.Connection) -> Queue:
            fresh = self.state.fresh(conn, queue.id)
            fresh.attributes = qattrs.apply(fresh.attributes, changes)
            fresh.modified = now // 1000
            rec.save_queue(conn, fresh)
            return fresh

        self.state.remember(self.state.db.write(txn))
        self.state.notify(queue.id)  # a shorter delay or a new redrive policy may change what a poll sees
        return {}


def _attribute(queue: Queue, name: str, depth: tuple[int, int, int] | None) -> str | None:
    if name == "QueueArn":
        return queue.arn
    if depth is not None and name in _DEPTH_INDEX:
        return str(depth[_DEPTH_INDEX[name]])
    if name == "CreatedTimestamp":
        return str(queue.created)
    if name == "LastModifiedTimestamp":
        return str(queue.modified)
    return queue.attributes.get(name)
