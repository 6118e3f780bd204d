"""Publishing: Publish, PublishBatch, and SNS as a delivery target for the other services.

A message is validated in the order AWS checks, then committed with one outbox row per confirmed
subscription whose filter policy accepts it (filter policies are applied now, at Publish), in one
transaction; the outbox dispatcher delivers it after Publish has answered.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from ...auth.resources import checks_service_principal, service_may_send
from ...protocol import safejson
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.values import iso8601
from ..delivery import (
    ACCESS_DENIED,
    FIFO_NOT_ALLOWED,
    INVALID,
    NOT_FOUND,
    TOO_LARGE,
    Delivery,
    DeliveryResult,
)
from . import errors, messages, records
from .attributes import MAX_MESSAGE_BYTES, message_attributes, message_size
from .filters import FilterPolicy, FilterPolicyError, parse_policy
from .names import parse_topic_arn
from .outbox import delivery_target
from .records import Subscription
from .shared import Shared, topic_policy

MAX_BATCH = 10
DEDUP_WINDOW = 300.0  # seconds: FIFO topics' deduplication interval
MAX_CACHED_POLICIES = 4096
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@dataclass
class Outgoing:
    """A message ready to publish (validated)."""
    message: str | dict[str, str]
    text: str  # the Message parameter as sent
    subject: str | None
    attributes: dict[str, dict[str, str]]
    group_id: str | None
    dedup_id: str | None


class Publishing:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db
        self._policies: dict[tuple[str, str], FilterPolicy | None] = {}  # parsed filter policies
        self._policies_lock = threading.Lock()

    def publish(self, ctx: RequestContext, TopicArn: str | None = None, TargetArn: str | None = None,
                PhoneNumber: str | None = None, Message: str | None = None, Subject: str | None = None,
                MessageStructure: str | None = None, MessageAttributes: dict[str, Any] | None = None,
                MessageDeduplicationId: str | None = None, MessageGroupId: str | None = None,
                **_: Any) -> dict[str, Any]:
        if PhoneNumber is not None and TopicArn is None and TargetArn is None:
            raise errors.invalid("PhoneNumber Reason: Sluice does not send SMS: it never sends traffic off this "
                                 "machine")
        target = TopicArn if TopicArn is not None else TargetArn
        member = "TopicArn" if TopicArn is not None else "TargetArn"
        if target is None:
            raise errors.invalid("TopicArn or TargetArn Reason: no value for required parameter")
        if ":endpoint/" in target:
            raise errors.invalid("TargetArn Reason: No endpoint found for the target arn specified")
        arn = self.shared.arn_for(ctx, target, "Publish", member)
        outgoing = self._prepare(arn, Message, Subject, MessageStructure, MessageAttributes, MessageDeduplicationId,
                                 MessageGroupId)
        [(message_id, sequence)] = self._commit(arn, [outgoing])
        out = {"MessageId": message_id}
        if sequence is not None:
            out["SequenceNumber"] = sequence
        return out

    def publish_batch(self, ctx: RequestContext, TopicArn: str | None = None,
                      PublishBatchRequestEntries: list[dict[str, Any]] | None = None, **_: Any) -> dict[str, Any]:
        arn = self.shared.arn_for(ctx, TopicArn, "Publish")
        entries = PublishBatchRequestEntries or []
        if not entries:
            raise ServiceError("EmptyBatchRequest", "The batch request doesn't contain any entries.")
        if len(entries) > MAX_BATCH:
            raise ServiceError("TooManyEntriesInBatchRequest",
                               "The batch request contains more entries than permissible.")
        ids = [e.get("Id") or "" for e in entries]
        if len(set(ids)) != len(ids):
            raise ServiceError("BatchEntryIdsNotDistinct",
                               "Two or more batch entries in the request have the same Id.")
        for entry_id in ids:
            if not _BATCH_ID.match(entry_id):
                raise ServiceError("InvalidBatchEntryId",
                                   "The Id of a batch entry in a batch request doesn't abide by the specification.")
        self.shared.existing_topic(arn)
        total = 0
        for e in entries:
            try:
                total += message_size(e.get("Message") or "", message_attributes(e.get("MessageAttributes")))
            except ServiceError:
                total += len((e.get("Message") or "").encode())
        if total > MAX_MESSAGE_BYTES:
            raise ServiceError("BatchRequestTooLong",
                               "The length of all the messages put together is more than the limit.")
        ready: list[tuple[str, Outgoing]] = []
        failed: list[dict[str, Any]] = []
        for entry in entries:
            try:
                ready.append((entry["Id"], self._prepare(
                    arn, entry.get("Message"), entry.get("Subject"), entry.get("MessageStructure"),
                    entry.get("MessageAttributes"), entry.get("MessageDeduplicationId"),
                    entry.get("MessageGroupId"))))
            except ServiceError as err:
                failed.append({"Id": entry["Id"], "Code": err.code, "Message": err.message,
                               "SenderFault": err.sender_fault})
        successful: list[dict[str, Any]] = []
        if ready:
            results = self._commit(arn, [o for _, o in ready])
            for (entry_id, _o), (message_id, sequence) in zip(ready, results, strict=True):
                item = {"Id": entry_id, "MessageId": message_id}
                if sequence is not None:
                    item["SequenceNumber"] = sequence
                successful.append(item)
        return {"Successful": successful, "Failed": failed}

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """Publish `delivery.body` to a topic (DLQs, destinations, notifications, rules' targets)."""
        try:
            topic_arn_text = parse_topic_arn(arn).text
        except ServiceError as err:
            return DeliveryResult.failed(INVALID, err.message)
        topic = self.shared.topic(topic_arn_text)
        if topic is None:
            return DeliveryResult.failed(NOT_FOUND, f"Topic does not exist: {arn}")
        if topic.fifo and not delivery.allow_fifo:
            return DeliveryResult.failed(FIFO_NOT_ALLOWED, f"{arn} is a FIFO topic")
        if checks_service_principal(delivery.principal, self.shared.settings.enforce_iam) and not service_may_send(
                topic_policy(topic), delivery.principal or "", "sns:Publish", topic.arn,
                delivery.source_arn or "", delivery.source_account or ""):
            return DeliveryResult.failed(ACCESS_DENIED, f"the topic policy does not allow {delivery.principal}")
        raw: dict[str, dict[str, Any]] = {}
        for name, attr in delivery.attributes.items():
            item: dict[str, Any] = {"DataType": attr.data_type}
            if attr.binary_value is not None:
                item["BinaryValue"] = attr.binary_value
            else:
                item["StringValue"] = attr.string_value
            raw[name] = item
        try:
            outgoing = self._prepare(topic.arn, delivery.body, delivery.subject, None, raw,
                                     delivery.deduplication_id, delivery.group_id)
            [(message_id, _seq)] = self._commit(topic.arn, [outgoing])
        except ServiceError as err:
            if err.code == "NotFound":
                return DeliveryResult.failed(NOT_FOUND, err.message)
            if "too long" in err.message:
                return DeliveryResult.failed(TOO_LARGE, err.message)
            return DeliveryResult.failed(INVALID, err.message)
        return DeliveryResult(True, message_id)

    def _prepare(self, arn: str, message: str | None, subject: str | None, structure: str | None,
                 raw_attributes: dict[str, Any] | None, dedup_id: str | None, group_id: str | None) -> Outgoing:
        """Validate one message for a topic, in the order AWS checks."""
        if message is None:
            raise errors.validation("message")
        if subject is not None and (subject == "" or len(subject) >= 100 or not subject.isascii()
                                    or any(c in subject for c in "\r\n")):
            raise errors.invalid("Subject")
        if message == "":
            raise errors.invalid("Empty message")
        attributes = message_attributes(raw_attributes)
        if message_size(message, attributes) > MAX_MESSAGE_BYTES:
            raise errors.invalid("Message too long")
        fifo = arn.endswith(".fifo")
        if fifo:
            if not group_id:
                raise errors.invalid("The MessageGroupId parameter is required for FIFO topics")
            if not dedup_id and not self.shared.existing_topic(arn).content_based_dedup:
                raise errors.invalid("The topic should either have ContentBasedDeduplication enabled or "
                                     "MessageDeduplicationId provided explicitly")
        elif dedup_id:
            raise errors.invalid("MessageDeduplicationId Reason: The request includes MessageDeduplicationId "
                                 "parameter that is not valid for this topic type")
        content: str | dict[str, str] = message
        if structure is not None:
            if structure != "json":
                raise errors.invalid("MessageStructure")
            try:
                parsed = safejson.loads(message)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise errors.invalid("Message Structure - JSON message body failed to parse")
            # Keys whose values are not strings are ignored, as on AWS.
            content = {k: v for k, v in parsed.items() if isinstance(v, str)}
            if "default" not in content:
                raise errors.invalid("Message Structure - No default entry in JSON message body")
        if fifo and not dedup_id:
            dedup_id = hashlib.sha256(message.encode("utf-8", "surrogatepass")).hexdigest()
        return Outgoing(content, message, subject, attributes, group_id if fifo else None, dedup_id)

    def _commit(self, arn: str, outgoing: list[Outgoing]) -> list[tuple[str, str | None]]:
        """Store messages and their deliveries in one transaction; (MessageId, SequenceNumber) each."""
        now = self.shared.clock.now()

        def txn(conn: sqlite3.Connection) -> tuple[list[tuple[str, str | None]], bool]:
            topic = self.shared.existing_topic(arn, conn)
            subs = records.confirmed_subscriptions(conn, arn)
            if topic.fifo:
                records.forget_expired_dedup(conn, arn, now)
            results: list[tuple[str, str | None]] = []
            queued = False
            sequence = topic.sequence
            for out in outgoing:
                message_id = str(uuid.uuid4())
                seq_text: str | None = None
                if topic.fifo:
                    dup = records.deduplicated(conn, arn, out.dedup_id)
                    if dup is not None:
                        results.append(dup)
                        continue
                    sequence += 1
                    seq_text = str(10**19 + sequence * 1000)
                    records.remember_dedup(conn, arn, out.dedup_id, message_id, seq_text, now + DEDUP_WINDOW)
                record = {
                    "Type": messages.NOTIFICATION, "MessageId": message_id, "TopicArn": arn,
                    "Message": out.message, "Subject": out.subject, "Timestamp": iso8601(now),
                    "MessageAttributes": out.attributes, "SequenceNumber": seq_text,
                    "MessageGroupId": out.group_id, "MessageDeduplicationId": out.dedup_id,
                }
                targets = [s for s in subs if self._accepts(s, out)]
                if targets:
                    records.insert_message(conn, message_id, record)
                    for sub in targets:
                        fifo_key = f"{sub.arn}#{out.group_id}" if topic.fifo else None
                        records.enqueue(conn, message_id, sub.arn, delivery_target(topic, sub), fifo_key, now)
                    queued = True
                results.append((message_id, seq_text))
            if sequence != topic.sequence:
                records.set_topic_sequence(conn, topic.id, sequence)
            return results, queued

        results, queued = self.db.write(txn)
        if queued:
            self.shared.queued()
        return results

    def _accepts(self, sub: Subscription, out: Outgoing) -> bool:
        text = sub.attributes.get("FilterPolicy")
        if not text:
            return True
        scope = sub.attributes.get("FilterPolicyScope") or "MessageAttributes"
        policy = self._policy(text, scope)
        if policy is None:
            return False
        if scope == "MessageBody":
            body = messages.content_for({"Message": out.message}, sub.protocol)
            return policy.matches_body(body)
        return policy.matches_attributes(out.attributes)

    def _policy(self, text: str, scope: str) -> FilterPolicy | None:
        key = (text, scope)
        with self._policies_lock:
            if key in self._policies:
                return self._policies[key]
        try:
            policy: FilterPolicy | None = parse_policy(text, scope)
        except FilterPolicyError:
            policy = None
        with self._policies_lock:
            if len(self._policies) > MAX_CACHED_POLICIES:
                self._policies.clear()
            self._policies[key] = policy
        return policy
