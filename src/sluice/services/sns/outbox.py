"""SNS's delivery rules: what one outbox row becomes, and what its outcome means.

Publish commits a message and one outbox row per subscription (records.py); the engine's
`OutboxDispatcher` (built in server.py) finds the rows that are due (`records.Outbox`) and hands
each to `Deliverer.deliver`, which makes one attempt and records its outcome durably: the row is
removed (delivered), rescheduled to the due time the subscription's retry policy chose, or given
up (to the subscription's dead-letter queue, else dropped). SQS and Lambda are reached through
`Deliveries` (the SNS envelope, raw messages, or the Lambda event); http(s) endpoints through the
HTTP client the composition root gives (engine/sns_http.py), so no HTTP lives here.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ...clock import Clock
from ...engine.policy import GiveUp
from ...engine.sns_http import DELIVERED, HttpNotification, Outcome
from ...store.db import Database
from ..delivery import INVALID, Deliveries, Delivery, MessageAttribute
from . import messages, records
from .attributes import dead_letter_target
from .records import Pending, Subscription, Topic
from .retry import (
    AWS_MANAGED,
    CLIENT_ERROR,
    DEFAULT_CONTENT_TYPE,
    DeliveryRetry,
    http_delivery,
    http_retry,
)

log = logging.getLogger(__name__)

SERVICE_PRINCIPAL = "sns.amazonaws.com"
HTTP = ("http", "https")

SendHttp = Callable[[HttpNotification], Awaitable[Outcome]]


def delivery_target(topic: Topic, sub: Subscription) -> dict[str, Any]:
    """What an outbox row needs to know about its subscription when it is delivered (a snapshot:
    a confirmation still reaches an endpoint whose subscription has gone)."""
    target: dict[str, Any] = {
        "subscription": sub.arn, "topic": topic.arn, "protocol": sub.protocol, "endpoint": sub.endpoint,
        "raw": sub.attributes.get("RawMessageDelivery") == "true",
        "dlq": dead_letter_target(sub.attributes),
        "signature_version": topic.attributes.get("SignatureVersion", "1"),
    }
    if sub.protocol in HTTP:
        resolved = http_delivery(topic.delivery_policy(), sub.delivery_policy())
        target["retry"] = resolved.retry.as_json()
        target["content_type"] = resolved.content_type
    return target


def retry_policy(target: dict[str, Any]) -> DeliveryRetry:
    """The policy a row's failures follow: the HTTP/S subscription's own, else AWS's for SQS and Lambda."""
    return http_retry(target.get("retry")) if target["protocol"] in HTTP else AWS_MANAGED


class Deliverer:
    """One attempt at one outbox row, and its outcome recorded (the dispatcher's handler)."""

    def __init__(self, db: Database, clock: Clock, base_url: str, deliveries: Deliveries, send_http: SendHttp) -> None:
        self.db = db
        self.clock = clock
        self.base_url = base_url
        self.deliveries = deliveries
        self.send_http = send_http

    async def deliver(self, row: Pending) -> None:
        """Make one attempt at `row` and record its outcome: delivered, retried later, or given up.

        Only the sends to SQS and Lambda (and a dead-letter queue) take a worker thread: they write
        to the store; the outcome's own write is queued without holding one."""
        loop = asyncio.get_running_loop()
        if row.message is None:  # its message is gone (its topic was deleted meanwhile)
            await self._record(lambda c: records.finish(c, row.id, row.message_id))
            return
        if row.target["protocol"] in HTTP:
            outcome = await self.send_http(self._http_notification(row.message, row.target))
        else:
            outcome = await loop.run_in_executor(None, self._send, row.message, row.target)
        if outcome.ok:
            await self._record(lambda c: records.finish(c, row.id, row.message_id))
            return
        failures = row.attempts + 1
        decision = retry_policy(row.target).decide(failures, self.clock.engine_elapsed(row.created),
                                                   None if outcome.retry else CLIENT_ERROR)
        if isinstance(decision, GiveUp):
            await loop.run_in_executor(None, self._give_up, row.message, row.target, outcome)
            await self._record(lambda c: records.finish(c, row.id, row.message_id))
            return
        due = self.clock.now() + self.clock.engine_seconds(decision.delay)
        await self._record(lambda c: records.reschedule(c, row.id, failures, due))

    async def _record(self, txn: Callable[[sqlite3.Connection], None]) -> None:
        await asyncio.wrap_future(self.db.submit(txn))

    def _http_notification(self, msg: dict[str, Any], target: dict[str, Any]) -> HttpNotification:
        protocol = target["protocol"]
        raw = target["raw"] and msg["Type"] == messages.NOTIFICATION
        body = (messages.content_for(msg, protocol) if raw else
                messages.envelope(msg, protocol, target["subscription"], self.base_url, target["signature_version"]))
        return HttpNotification(
            url=target["endpoint"], body=body, message_type=msg["Type"], message_id=msg["MessageId"],
            topic_arn=msg["TopicArn"],
            subscription_arn=None if msg["Type"] == messages.SUBSCRIPTION_CONFIRMATION else target["subscription"],
            content_type=target.get("content_type") or DEFAULT_CONTENT_TYPE, raw=raw)

    def _send(self, msg: dict[str, Any], target: dict[str, Any]) -> Outcome:
        if target["protocol"] == "lambda":
            delivery = Delivery(
                body=messages.lambda_event(msg, target["subscription"], self.base_url, target["signature_version"]),
                source_arn=target["topic"], source_account=target["topic"].split(":")[4],
                principal=SERVICE_PRINCIPAL)
        else:
            delivery = self._sqs_delivery(msg, target)
        result = self.deliveries.deliver(target["endpoint"], delivery)
        if result.ok:
            return DELIVERED
        # Every failure Deliveries reports (missing, not permitted, too large, FIFO) is client-side:
        # AWS does not retry those; the message goes to the subscription's DLQ, if any.
        return Outcome(False, retry=False, code=result.error or INVALID, detail=result.detail)

    def _sqs_delivery(self, msg: dict[str, Any], target: dict[str, Any]) -> Delivery:
        attributes: dict[str, MessageAttribute] = {}
        if target["raw"]:
            body = messages.content_for(msg, "sqs")
            for name, attr in (msg.get("MessageAttributes") or {}).items():
                if "BinaryValue" in attr:
                    attributes[name] = MessageAttribute(attr["DataType"], None, base64.b64decode(attr["BinaryValue"]))
                else:
                    attributes[name] = MessageAttribute(attr["DataType"], attr["StringValue"])
        else:
            body = messages.envelope(msg, "sqs", target["subscription"], self.base_url, target["signature_version"])
        fifo_queue = target["endpoint"].endswith(".fifo")
        return Delivery(
            body=body, attributes=attributes,
            group_id=msg.get("MessageGroupId") if fifo_queue else None,
            deduplication_id=msg.get("MessageDeduplicationId") if fifo_queue else None,
            source_arn=target["topic"], source_account=target["topic"].split(":")[4], principal=SERVICE_PRINCIPAL)

    def _give_up(self, msg: dict[str, Any], target: dict[str, Any], outcome: Outcome) -> None:
        """The delivery failed for good: to the subscription's dead-letter queue, or dropped."""
        dlq = target.get("dlq")
        if not dlq or msg["Type"] != messages.NOTIFICATION:
            log.warning("SNS dropped message %s for %s (%s: %s)", msg["MessageId"], target["subscription"],
                        outcome.code, outcome.detail)
            return
        base = self._sqs_delivery(msg, {**target, "endpoint": dlq})
        attributes = dict(base.attributes)
        attributes["RequestID"] = MessageAttribute("String", str(uuid.uuid4()))
        attributes["ErrorCode"] = MessageAttribute("String", outcome.code or "Unknown")
        attributes["ErrorMessage"] = MessageAttribute("String", outcome.detail or outcome.code or "delivery failed")
        result = self.deliveries.deliver(dlq, Delivery(
            body=base.body, attributes=attributes, group_id=base.group_id, deduplication_id=base.deduplication_id,
            source_arn=target["topic"], source_account=base.source_account, principal=SERVICE_PRINCIPAL))
        if not result.ok:
            log.warning("SNS could not move message %s to its dead-letter queue %s (%s: %s); dropped",
                        msg["MessageId"], dlq, result.error, result.detail)
