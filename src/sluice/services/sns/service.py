"""SNS's business rules: topics, subscriptions, Publish / PublishBatch, tags, and deliveries.

No HTTP, no XML: members in, members out. Publish commits the message and one outbox row per
subscription that accepts it (filter policies are applied then) in one transaction, answers, and
the dispatcher delivers in the background: to SQS and Lambda through `Deliveries` (the SNS
envelope, raw messages, or the Lambda event), to http(s) endpoints on this machine by POST, with
AWS's retry policies and dead-letter queues. `deliver()` is SNS as a delivery target for the other
services (a topic ARN: publish the delivery's body).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import logging
import os
import re
import sqlite3
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ...auth.resources import checks_service_principal, service_may_send
from ...clock import Clock
from ...protocol import protocol_for, safejson
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
    MessageAttribute,
)
from . import errors, messages
from .attributes import (
    MAX_MESSAGE_BYTES,
    SUBSCRIPTION_SETTABLE,
    TOPIC_CREATE,
    TOPIC_SETTABLE,
    dead_letter_target,
    default_policy,
    message_attributes,
    message_size,
    subscription_attribute,
    topic_attribute,
)
from .dispatch import Dispatcher
from .filters import FilterPolicy, FilterPolicyError, parse_policy
from .names import (
    check_endpoint,
    check_topic_name,
    is_loopback_url,
    new_subscription_arn,
    parse_arn,
    parse_subscription_arn,
    parse_topic_arn,
    topic_arn,
)
from .retry import (
    AWS_MANAGED,
    HTTP_DEFAULT,
    HTTP_MESSAGE_LIFETIME,
    HTTP_TIMEOUT,
    RetryPolicy,
    effective_subscription_policy,
    effective_topic_policy,
    http_delivery,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_TAGS = 50
MAX_BATCH = 10
DEDUP_WINDOW = 300.0  # seconds: FIFO topics' deduplication interval
PROTOCOLS = ("sqs", "lambda", "http", "https")
OFF_MACHINE = ("email", "email-json", "sms", "application", "firehose")
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
SERVICE_PRINCIPAL = "sns.amazonaws.com"


@dataclass
class Topic:
    id: int
    arn: str
    account: str
    region: str
    name: str
    fifo: bool
    attributes: dict[str, str]
    tags: list[dict[str, str]]
    subscriptions_deleted: int
    sequence: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Topic:
        return cls(row["id"], row["arn"], row["account"], row["region"], row["name"], bool(row["fifo"]),
                   json.loads(row["attributes"]), json.loads(row["tags"]), row["subscriptions_deleted"],
                   row["sequence"])

    @property
    def content_based_dedup(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    def delivery_policy(self) -> dict[str, Any] | None:
        text = self.attributes.get("DeliveryPolicy")
        return json.loads(text) if text else None


@dataclass
class Subscription:
    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    owner: str
    attributes: dict[str, str]
    pending: bool
    authenticated: bool
    token: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Subscription:
        return cls(row["arn"], row["topic_arn"], row["protocol"], row["endpoint"], row["owner"],
                   json.loads(row["attributes"]), bool(row["pending"]), bool(row["authenticated"]), row["token"])

    def listing(self) -> dict[str, str]:
        return {"SubscriptionArn": "PendingConfirmation" if self.pending else self.arn, "Owner": self.owner,
                "Protocol": self.protocol, "Endpoint": self.endpoint, "TopicArn": self.topic_arn}


@dataclass
class Outgoing:
    """A message ready to publish (validated)."""
    message: str | dict[str, str]
    text: str  # the Message parameter as sent
    subject: str | None
    attributes: dict[str, dict[str, str]]
    group_id: str | None
    dedup_id: str | None


@dataclass
class Outcome:
    ok: bool
    retry: bool = False
    code: str = ""
    detail: str = ""


OK = Outcome(True)


def _new_token() -> str:
    return os.urandom(144).hex()


def _encode_token(n: int) -> str:
    return base64.b64encode(str(n).encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.b64decode(token.encode(), validate=True).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.invalid("NextToken") from None


class SnsService(Service):
    name = "sns"

    def __init__(self, store: Store, clock: Clock, settings: Settings, deliveries: Deliveries) -> None:
        self.db = store.db
        self.clock = clock
        self.settings = settings
        self.deliveries = deliveries
        self.dispatcher = Dispatcher(self.db, clock, self._attempt)
        self._policies: dict[tuple[str, str], FilterPolicy | None] = {}
        self._policies_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.settings.endpoint_url

    async def start(self) -> None:
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()

    # -- lookups ---------------------------------------------------------------------------------

    def _arn_for(self, ctx: RequestContext, text: str | None, action: str, member: str = "TopicArn") -> str:
        """A topic ARN the caller may use: its region, its account (else AuthorizationError)."""
        if text is None:
            raise errors.validation(member[0].lower() + member[1:])
        arn = parse_topic_arn(text, member)
        if arn.region != ctx.region:
            raise errors.invalid(member)
        if arn.account != ctx.account_id:
            raise errors.not_authorized(ctx.account_id, action, arn.text)
        return arn.text

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(the topic's Policy attribute, or its default policy; its account) for IAM enforcement."""
        topic = self._topic(arn)
        if topic is None:
            return None, None
        return topic.attributes.get("Policy") or default_policy(topic.arn, topic.account), topic.account

    def _topic(self, arn: str, conn: sqlite3.Connection | None = None) -> Topic | None:
        row = (conn or self.db.reader).execute("SELECT * FROM sns_topics WHERE arn = ?", (arn,)).fetchone()
        return Topic.from_row(row) if row is not None else None

    def _existing_topic(self, arn: str, conn: sqlite3.Connection | None = None) -> Topic:
        topic = self._topic(arn, conn)
        if topic is None:
            raise errors.topic_not_found()
        return topic

    def _subscription(self, arn: str, conn: sqlite3.Connection | None = None) -> Subscription | None:
        row = (conn or self.db.reader).execute("SELECT * FROM sns_subscriptions WHERE arn = ?", (arn,)).fetchone()
        return Subscription.from_row(row) if row is not None else None

    # -- topics ----------------------------------------------------------------------------------

    def create_topic(self, ctx: RequestContext, Name: str | None = None, Attributes: dict[str, str] | None = None,
                     Tags: list[dict[str, str]] | None = None, DataProtectionPolicy: str | None = None,
                     **_: Any) -> dict[str, Any]:
        attrs = dict(Attributes or {})
        fifo_text = topic_attribute("FifoTopic", attrs.pop("FifoTopic"), True, TOPIC_CREATE) \
            if "FifoTopic" in attrs else "false"
        fifo = fifo_text == "true"
        name = check_topic_name(Name, fifo)
        stored = {k: topic_attribute(k, v, fifo, TOPIC_CREATE) for k, v in attrs.items()}
        if DataProtectionPolicy:
            stored["DataProtectionPolicy"] = topic_attribute("DataProtectionPolicy", DataProtectionPolicy, fifo)
        tags = _check_tags(Tags or [])
        arn = topic_arn(ctx.region, ctx.account_id, name)
        now_ms = int(self.clock.now() * 1000)

        def txn(conn: sqlite3.Connection) -> None:
            existing = self._topic(arn, conn)
            if existing is None:
                conn.execute(
                    "INSERT INTO sns_topics (arn, account, region, name, fifo, attributes, tags, created_ms)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (arn, ctx.account_id, ctx.region, name, int(fifo), json.dumps(stored), json.dumps(tags), now_ms))
                return
            defaults = {"DisplayName": "", "ContentBasedDeduplication": "false", "SignatureVersion": "1"}
            for key, value in stored.items():
                if existing.attributes.get(key, defaults.get(key)) != value:
                    raise errors.invalid("Attributes Reason: Topic already exists with different attributes")
            if any(tag not in existing.tags for tag in tags):
                raise errors.invalid("Tags Reason: Topic already exists with different tags")

        self.db.write(txn)
        return {"TopicArn": arn}

    def list_topics(self, ctx: RequestContext, NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        after = _decode_token(NextToken)
        rows = self.db.query(
            "SELECT id, arn FROM sns_topics WHERE account = ? AND region = ? AND id > ? ORDER BY id LIMIT ?",
            (ctx.account_id, ctx.region, after, PAGE_SIZE + 1))
        out: dict[str, Any] = {"Topics": [{"TopicArn": r["arn"]} for r in rows[:PAGE_SIZE]]}
        if len(rows) > PAGE_SIZE:
            out["NextToken"] = _encode_token(rows[PAGE_SIZE - 1]["id"])
        return out

    def delete_topic(self, ctx: RequestContext, TopicArn: str | None = None, **_: Any) -> dict[str, Any]:
        arn = self._arn_for(ctx, TopicArn, "DeleteTopic")

        def txn(conn: sqlite3.Connection) -> None:
            subs = [r[0] for r in conn.execute("SELECT arn FROM sns_subscriptions WHERE topic_arn = ?", (arn,))]
            for sub in subs:
                _drop_pending(conn, sub)
            conn.execute("DELETE FROM sns_subscriptions WHERE topic_arn = ?", (arn,))
            conn.execute("DELETE FROM sns_dedup WHERE topic_arn = ?", (arn,))
            conn.execute("DELETE FROM sns_topics WHERE arn = ?", (arn,))

        self.db.write(txn)  # deleting a topic that does not exist succeeds, as on AWS
        return {}

    def get_topic_attributes(self, ctx: RequestContext, TopicArn: str | None = None, **_: Any) -> dict[str, Any]:
        arn = self._arn_for(ctx, TopicArn, "GetTopicAttributes")
        topic = self._existing_topic(arn)
        counts = {bool(r[0]): r[1] for r in self.db.query(
            "SELECT pending, count(*) FROM sns_subscriptions WHERE topic_arn = ? GROUP BY pending", (arn,))}
        attrs: dict[str, str] = {
            "Policy": topic.attributes.get("Policy") or default_policy(arn, topic.account),
            "Owner": topic.account,
            "SubscriptionsPending": str(counts.get(True, 0)),
            "TopicArn": arn,
            "EffectiveDeliveryPolicy": json.dumps(effective_topic_policy(topic.delivery_policy()),
                                                  separators=(",", ":")),
            "SubscriptionsConfirmed": str(counts.get(False, 0)),
            "DisplayName": topic.attributes.get("DisplayName", ""),
            "SubscriptionsDeleted": str(topic.subscriptions_deleted),
        }
        if topic.fifo:
            attrs["FifoTopic"] = "true"
            attrs["ContentBasedDeduplication"] = topic.attributes.get("ContentBasedDeduplication", "false")
        for key, value in topic.attributes.items():
            if key not in attrs and value != "":
                attrs[key] = value
        return {"Attributes": attrs}

    def set_topic_attributes(self, ctx: RequestContext, TopicArn: str | None = None,
                             AttributeName: str | None = None, AttributeValue: str | None = None,
                             **_: Any) -> dict[str, Any]:
        arn = self._arn_for(ctx, TopicArn, "SetTopicAttributes")
        if AttributeName is None:
            raise errors.validation("attributeName")
        topic = self._existing_topic(arn)
        value: str | None
        if AttributeValue:
            value = topic_attribute(AttributeName, AttributeValue, topic.fifo)
        else:  # an empty value removes the attribute (DisplayName becomes "")
            if AttributeName not in TOPIC_SETTABLE:
                raise errors.invalid("AttributeName")
            value = "" if AttributeName == "DisplayName" else None

        def txn(conn: sqlite3.Connection) -> None:
            current = self._existing_topic(arn, conn)
            if value is None:
                current.attributes.pop(AttributeName, None)
            else:
                current.attributes[AttributeName] = value
            conn.execute("UPDATE sns_topics SET attributes = ? WHERE arn = ?", (json.dumps(current.attributes), arn))

        self.db.write(txn)
        return {}

    # -- subscriptions ---------------------------------------------------------------------------

    def subscribe(self, ctx: RequestContext, TopicArn: str | None = None, Protocol: str | None = None,
                  Endpoint: str | None = None, Attributes: dict[str, str] | None = None,
                  ReturnSubscriptionArn: bool | None = None, **_: Any) -> dict[str, Any]:
        arn = self._arn_for(ctx, TopicArn, "Subscribe")
        if Protocol is None:
            raise errors.validation("protocol")
        protocol = Protocol
        topic = self._existing_topic(arn)
        if protocol in OFF_MACHINE:
            raise errors.invalid(f"Protocol Reason: Sluice does not deliver to {protocol} endpoints: they are off "
                                 "this machine (supported: sqs, lambda, http, https)")
        if protocol not in PROTOCOLS:
            raise errors.invalid(f"Amazon SNS does not support this protocol string: {protocol}")
        if topic.fifo and protocol != "sqs":
            raise errors.invalid(f"Invalid protocol type: {protocol}")
        endpoint = check_endpoint(protocol, Endpoint, arn)
        requested = dict(Attributes or {})
        attrs: dict[str, str] = {}
        for key in sorted(requested, key=lambda k: k != "FilterPolicyScope"):
            attrs[key] = subscription_attribute(key, requested[key], protocol, topic.fifo, {**requested, **attrs},
                                                subscribe=True)
        pending = protocol in ("http", "https")
        now = self.clock.now()

        def txn(conn: sqlite3.Connection) -> tuple[str, bool]:
            current = self._existing_topic(arn, conn)
            row = conn.execute(
                "SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND protocol = ? AND endpoint = ?",
                (arn, protocol, endpoint)).fetchone()
            if row is not None:
                existing = Subscription.from_row(row)
                for key, value in attrs.items():
                    if existing.attributes.get(key, "false" if key == "RawMessageDelivery" else "") != value:
                        raise errors.invalid("Attributes Reason: Subscription already exists with different "
                                             "attributes")
                return existing.arn, existing.pending
            sub_arn = new_subscription_arn(arn)
            token = _new_token()
            conn.execute(
                "INSERT INTO sns_subscriptions (arn, topic_arn, account, region, protocol, endpoint, owner,"
                " attributes, pending, authenticated, token, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (sub_arn, arn, current.account, current.region, protocol, endpoint, ctx.account_id,
                 json.dumps(attrs), int(pending), int(not pending), token, int(now * 1000)))
            if pending:
                sub = self._subscription(sub_arn, conn)
                assert sub is not None
                text = (f"You have chosen to subscribe to the topic {arn}.\n"
                        "To confirm the subscription, visit the SubscribeURL included in this message.")
                self._enqueue_confirmation(conn, current, sub, messages.SUBSCRIPTION_CONFIRMATION, text, token, now)
            return sub_arn, pending

        sub_arn, is_pending = self.db.write(txn)
        if is_pending:
            self.dispatcher.wake()
            if not ReturnSubscriptionArn:
                return {"SubscriptionArn": "pending confirmation"}
        return {"SubscriptionArn": sub_arn}

    def confirm_subscription(self, ctx: RequestContext, TopicArn: str | None = None, Token: str | None = None,
                             AuthenticateOnUnsubscribe: str | None = None, **_: Any) -> dict[str, Any]:
        if Token is None:
            raise errors.validation("token")
        arn = parse_topic_arn(TopicArn, "TopicArn").text
        return {"SubscriptionArn": self._confirm(arn, Token, authenticated=True)}

    def _confirm(self, arn: str, token: str, authenticated: bool) -> str:
        def txn(conn: sqlite3.Connection) -> str:
            self._existing_topic(arn, conn)
            row = conn.execute("SELECT * FROM sns_subscriptions WHERE token = ? AND topic_arn = ?",
                               (token, arn)).fetchone()
            if row is None:
                raise errors.invalid("Token")
            if row["pending"]:
                conn.execute("UPDATE sns_subscriptions SET pending = 0, authenticated = ? WHERE id = ?",
                             (int(authenticated), row["id"]))
            return str(row["arn"])

        return self.db.write(txn)

    def unsubscribe(self, ctx: RequestContext, SubscriptionArn: str | None = None, **_: Any) -> dict[str, Any]:
        if SubscriptionArn is None:
            raise errors.invalid("SubscriptionArn Reason: no value for required parameter")
        self._unsubscribe(parse_subscription_arn(SubscriptionArn).text)
        return {}

    def _unsubscribe(self, sub_arn: str) -> None:
        now = self.clock.now()

        def txn(conn: sqlite3.Connection) -> bool:
            sub = self._subscription(sub_arn, conn)
            if sub is None:
                return False  # unsubscribing twice succeeds, as on AWS
            _drop_pending(conn, sub_arn)
            conn.execute("DELETE FROM sns_subscriptions WHERE arn = ?", (sub_arn,))
            conn.execute("UPDATE sns_topics SET subscriptions_deleted = subscriptions_deleted + 1 WHERE arn = ?",
                         (sub.topic_arn,))
            topic = self._topic(sub.topic_arn, conn)
            if topic is not None and sub.protocol in ("http", "https") and not sub.pending:
                text = (f"You have chosen to deactivate subscription {sub_arn}.\n"
                        "To cancel this operation and restore the subscription, visit the SubscribeURL included "
                        "in this message.")
                self._enqueue_confirmation(conn, topic, sub, messages.UNSUBSCRIBE_CONFIRMATION, text,
                                           _new_token(), now)
                return True
            return False

        if self.db.write(txn):
            self.dispatcher.wake()

    def _list_subscriptions(self, where: str, args: tuple[Any, ...], token: str | None) -> dict[str, Any]:
        after = _decode_token(token)
        rows = self.db.query(f"SELECT * FROM sns_subscriptions WHERE {where} AND id > ? ORDER BY id LIMIT ?",
                             (*args, after, PAGE_SIZE + 1))
        out: dict[str, Any] = {"Subscriptions": [Subscription.from_row(r).listing() for r in rows[:PAGE_SIZE]]}
        if len(rows) > PAGE_SIZE:
            out["NextToken"] = _encode_token(rows[PAGE_SIZE - 1]["id"])
        return out

    def list_subscriptions(self, ctx: RequestContext, NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        return self._list_subscriptions("account = ? AND region = ?", (ctx.account_id, ctx.region), NextToken)

    def list_subscriptions_by_topic(self, ctx: RequestContext, TopicArn: str | None = None,
                                    NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        arn = self._arn_for(ctx, TopicArn, "ListSubscriptionsByTopic")
        self._existing_topic(arn)
        return self._list_subscriptions("topic_arn = ?", (arn,), NextToken)

    def get_subscription_attributes(self, ctx: RequestContext, SubscriptionArn: str | None = None,
                                    **_: Any) -> dict[str, Any]:
        parse_arn(SubscriptionArn, "SubscriptionArn")
        sub = self._subscription(SubscriptionArn or "")
        if sub is None:
            raise errors.subscription_not_found()
        attrs: dict[str, str] = {
            "Owner": sub.owner,
            "RawMessageDelivery": sub.attributes.get("RawMessageDelivery", "false"),
            "TopicArn": sub.topic_arn,
            "Endpoint": sub.endpoint,
            "Protocol": sub.protocol,
            "PendingConfirmation": "true" if sub.pending else "false",
            "ConfirmationWasAuthenticated": "true" if sub.authenticated else "false",
            "SubscriptionArn": sub.arn,
            "SubscriptionPrincipal": f"arn:aws:iam::{sub.owner}:root",
        }
        if sub.protocol in ("http", "https"):
            topic = self._topic(sub.topic_arn)
            sub_policy = json.loads(sub.attributes["DeliveryPolicy"]) if sub.attributes.get("DeliveryPolicy") else None
            attrs["EffectiveDeliveryPolicy"] = json.dumps(
                effective_subscription_policy(topic.delivery_policy() if topic else None, sub_policy),
                separators=(",", ":"))
        for key, value in sub.attributes.items():
            if key in ("RawMessageDelivery", "FilterPolicyScope") or value == "":
                continue
            attrs[key] = value
        if sub.attributes.get("FilterPolicy"):
            attrs["FilterPolicyScope"] = sub.attributes.get("FilterPolicyScope") or "MessageAttributes"
        return {"Attributes": attrs}

    def set_subscription_attributes(self, ctx: RequestContext, SubscriptionArn: str | None = None,
                                    AttributeName: str | None = None, AttributeValue: str | None = None,
                                    **_: Any) -> dict[str, Any]:
        parse_arn(SubscriptionArn, "SubscriptionArn")
        if AttributeName is None:
            raise errors.validation("attributeName")
        sub = self._subscription(SubscriptionArn or "")
        if sub is None:
            raise errors.subscription_not_found()
        topic_fifo = sub.topic_arn.endswith(".fifo")
        value = subscription_attribute(AttributeName, AttributeValue, sub.protocol, topic_fifo, sub.attributes,
                                       subscribe=False)

        def txn(conn: sqlite3.Connection) -> None:
            current = self._subscription(sub.arn, conn)
            if current is None:
                raise errors.subscription_not_found()
            if value == "" and AttributeName in SUBSCRIPTION_SETTABLE:
                current.attributes.pop(AttributeName, None)
            else:
                current.attributes[AttributeName] = value
            conn.execute("UPDATE sns_subscriptions SET attributes = ? WHERE arn = ?",
                         (json.dumps(current.attributes), sub.arn))

        self.db.write(txn)
        return {}

    # -- publishing ------------------------------------------------------------------------------

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
        arn = self._arn_for(ctx, target, "Publish", member)
        outgoing = self._prepare(arn, Message, Subject, MessageStructure, MessageAttributes, MessageDeduplicationId,
                                 MessageGroupId)
        [(message_id, sequence)] = self._commit(arn, [outgoing])
        out = {"MessageId": message_id}
        if sequence is not None:
            out["SequenceNumber"] = sequence
        return out

    def publish_batch(self, ctx: RequestContext, TopicArn: str | None = None,
                      PublishBatchRequestEntries: list[dict[str, Any]] | None = None, **_: Any) -> dict[str, Any]:
        arn = self._arn_for(ctx, TopicArn, "Publish")
        entries = PublishBatchRequestEntries or []
        if not entries:
            raise ServiceError("EmptyBatchRequest", "The batch request doesn't contain any entries.", 400)
        if len(entries) > MAX_BATCH:
            raise ServiceError("TooManyEntriesInBatchRequest",
                               "The batch request contains more entries than permissible.", 400)
        ids = [e.get("Id") or "" for e in entries]
        if len(set(ids)) != len(ids):
            raise ServiceError("BatchEntryIdsNotDistinct",
                               "Two or more batch entries in the request have the same Id.", 400)
        for entry_id in ids:
            if not _BATCH_ID.match(entry_id):
                raise ServiceError("InvalidBatchEntryId",
                                   "The Id of a batch entry in a batch request doesn't abide by the specification.",
                                   400)
        self._existing_topic(arn)
        total = 0
        for e in entries:
            try:
                total += message_size(e.get("Message") or "", message_attributes(e.get("MessageAttributes")))
            except ServiceError:
                total += len((e.get("Message") or "").encode())
        if total > MAX_MESSAGE_BYTES:
            raise ServiceError("BatchRequestTooLong",
                               "The length of all the messages put together is more than the limit.", 400)
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
            if not dedup_id and not self._existing_topic(arn).content_based_dedup:
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
        now = self.clock.now()

        def txn(conn: sqlite3.Connection) -> tuple[list[tuple[str, str | None]], bool]:
            topic = self._existing_topic(arn, conn)
            subs = [Subscription.from_row(r) for r in conn.execute(
                "SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND pending = 0 ORDER BY id", (arn,))]
            if topic.fifo:
                conn.execute("DELETE FROM sns_dedup WHERE topic_arn = ? AND expires < ?", (arn, now))
            results: list[tuple[str, str | None]] = []
            queued = False
            sequence = topic.sequence
            for out in outgoing:
                message_id = str(uuid.uuid4())
                seq_text: str | None = None
                if topic.fifo:
                    dup = conn.execute("SELECT message_id, sequence FROM sns_dedup WHERE topic_arn = ? AND"
                                       " dedup_id = ?", (arn, out.dedup_id)).fetchone()
                    if dup is not None:
                        results.append((dup[0], dup[1]))
                        continue
                    sequence += 1
                    seq_text = str(10**19 + sequence * 1000)
                    conn.execute("INSERT INTO sns_dedup (topic_arn, dedup_id, message_id, sequence, expires)"
                                 " VALUES (?,?,?,?,?)", (arn, out.dedup_id, message_id, seq_text, now + DEDUP_WINDOW))
                record = {
                    "Type": messages.NOTIFICATION, "MessageId": message_id, "TopicArn": arn,
                    "Message": out.message, "Subject": out.subject, "Timestamp": messages.iso_ms(now),
                    "MessageAttributes": out.attributes, "SequenceNumber": seq_text,
                    "MessageGroupId": out.group_id, "MessageDeduplicationId": out.dedup_id,
                }
                targets = [s for s in subs if self._accepts(s, out)]
                if targets:
                    conn.execute("INSERT INTO sns_messages (id, body) VALUES (?, ?)", (message_id, json.dumps(record)))
                    for sub in targets:
                        fifo_key = f"{sub.arn}#{out.group_id}" if topic.fifo else None
                        _enqueue(conn, message_id, sub.arn, self._target(topic, sub), fifo_key, now)
                    queued = True
                results.append((message_id, seq_text))
            if sequence != topic.sequence:
                conn.execute("UPDATE sns_topics SET sequence = ? WHERE id = ?", (sequence, topic.id))
            return results, queued

        results, queued = self.db.write(txn)
        if queued:
            self.dispatcher.wake()
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
            if len(self._policies) > 4096:
                self._policies.clear()
            self._policies[key] = policy
        return policy

    def _target(self, topic: Topic, sub: Subscription) -> dict[str, Any]:
        """What an outbox row needs to know about its subscription when it is delivered."""
        target: dict[str, Any] = {
            "subscription": sub.arn, "topic": topic.arn, "protocol": sub.protocol, "endpoint": sub.endpoint,
            "raw": sub.attributes.get("RawMessageDelivery") == "true",
            "dlq": dead_letter_target(sub.attributes),
            "signature_version": topic.attributes.get("SignatureVersion", "1"),
        }
        if sub.protocol in ("http", "https"):
            sub_policy = json.loads(sub.attributes["DeliveryPolicy"]) if sub.attributes.get("DeliveryPolicy") else None
            resolved = http_delivery(topic.delivery_policy(), sub_policy)
            target["retry"] = resolved.retry.as_json()
            target["content_type"] = resolved.content_type
        return target

    def _enqueue_confirmation(self, conn: sqlite3.Connection, topic: Topic, sub: Subscription, kind: str,
                              text: str, token: str, now: float) -> None:
        message_id = str(uuid.uuid4())
        record = {"Type": kind, "MessageId": message_id, "TopicArn": topic.arn, "Message": text, "Token": token,
                  "Timestamp": messages.iso_ms(now)}
        conn.execute("INSERT INTO sns_messages (id, body) VALUES (?, ?)", (message_id, json.dumps(record)))
        target = self._target(topic, sub)
        target["raw"] = False
        _enqueue(conn, message_id, sub.arn, target, None, now)

    # -- tags ------------------------------------------------------------------------------------

    def _tagged_topic(self, ctx: RequestContext, resource: str | None, action: str) -> str:
        arn = parse_arn(resource, "ResourceArn")
        if arn.service != "sns":
            raise errors.resource_not_found()
        if arn.account != ctx.account_id:
            raise errors.not_authorized(ctx.account_id, action, arn.text)
        if self._topic(arn.text) is None:
            raise errors.resource_not_found()
        return arn.text

    def tag_resource(self, ctx: RequestContext, ResourceArn: str | None = None,
                     Tags: list[dict[str, str]] | None = None, **_: Any) -> dict[str, Any]:
        arn = self._tagged_topic(ctx, ResourceArn, "TagResource")
        new = _check_tags(Tags or [])

        def txn(conn: sqlite3.Connection) -> None:
            topic = self._existing_topic(arn, conn)
            merged = {t["Key"]: t["Value"] for t in topic.tags}
            merged.update({t["Key"]: t["Value"] for t in new})
            if len(merged) > MAX_TAGS:
                raise ServiceError("TagLimitExceeded", "Could not complete request: tag quota of per resource "
                                   "exceeded", 400)
            tags = [{"Key": k, "Value": v} for k, v in merged.items()]
            conn.execute("UPDATE sns_topics SET tags = ? WHERE id = ?", (json.dumps(tags), topic.id))

        self.db.write(txn)
        return {}

    def untag_resource(self, ctx: RequestContext, ResourceArn: str | None = None,
                       TagKeys: list[str] | None = None, **_: Any) -> dict[str, Any]:
        arn = self._tagged_topic(ctx, ResourceArn, "UntagResource")
        drop = set(TagKeys or [])

        def txn(conn: sqlite3.Connection) -> None:
            topic = self._existing_topic(arn, conn)
            tags = [t for t in topic.tags if t["Key"] not in drop]
            conn.execute("UPDATE sns_topics SET tags = ? WHERE id = ?", (json.dumps(tags), topic.id))

        self.db.write(txn)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, ResourceArn: str | None = None,
                               **_: Any) -> dict[str, Any]:
        arn = self._tagged_topic(ctx, ResourceArn, "ListTagsForResource")
        return {"Tags": self._existing_topic(arn).tags}

    # -- SNS as a delivery target ----------------------------------------------------------------

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """Publish `delivery.body` to a topic (DLQs, destinations, notifications, rules' targets)."""
        try:
            topic_arn_text = parse_topic_arn(arn).text
        except ServiceError as err:
            return DeliveryResult.failed(INVALID, err.message)
        topic = self._topic(topic_arn_text)
        if topic is None:
            return DeliveryResult.failed(NOT_FOUND, f"Topic does not exist: {arn}")
        if topic.fifo and not delivery.allow_fifo:
            return DeliveryResult.failed(FIFO_NOT_ALLOWED, f"{arn} is a FIFO topic")
        if checks_service_principal(delivery.principal, self.settings.enforce_iam) and not service_may_send(
                self.resource_policy(topic.arn)[0], delivery.principal or "", "sns:Publish", topic.arn,
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

    # -- deliveries (worker threads) -------------------------------------------------------------

    def _attempt(self, row: sqlite3.Row) -> None:
        found = self.db.query_one("SELECT body FROM sns_messages WHERE id = ?", (row["message_id"],))
        if found is None:
            self._finish(row["id"], row["message_id"])
            return
        msg = json.loads(found["body"])
        target = json.loads(row["target"])
        try:
            outcome = self._send(msg, target)
        except Exception as exc:  # a bug or an unexpected failure: treated as a server-side error
            log.exception("SNS delivery to %s failed", target["endpoint"])
            outcome = Outcome(False, retry=True, code="InternalError", detail=str(exc))
        if outcome.ok:
            self._finish(row["id"], row["message_id"])
            return
        failures = row["attempts"] + 1
        delay: float | None = None
        if outcome.retry:
            policy = _retry_policy(target)
            delay = policy.delay_before_retry(failures)
            if (delay is not None and target["protocol"] in ("http", "https")
                    and self.clock.engine_elapsed(row["created"]) + delay > HTTP_MESSAGE_LIFETIME):
                delay = None
        if delay is None:
            self._give_up(msg, target, outcome)
            self._finish(row["id"], row["message_id"])
            return
        due = self.clock.now() + self.clock.engine_seconds(delay)
        self._record(lambda c: c.execute("UPDATE sns_outbox SET attempts = ?, due = ? WHERE id = ?",
                                         (failures, due, row["id"])))

    def _finish(self, row_id: int, message_id: str) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM sns_outbox WHERE id = ?", (row_id,))
            conn.execute("DELETE FROM sns_messages WHERE id = ? AND NOT EXISTS"
                         " (SELECT 1 FROM sns_outbox WHERE message_id = ?)", (message_id, message_id))

        self._record(txn)

    def _record(self, txn: Callable[[sqlite3.Connection], Any]) -> None:
        """A delivery's outcome, from a delivery thread. Once the server is stopping the outcome is
        not recorded (the store may be closing): the row stays and is delivered again after restart."""
        if self.dispatcher.stopping:
            return
        self.db.submit(txn).result(timeout=30)

    def _send(self, msg: dict[str, Any], target: dict[str, Any]) -> Outcome:
        protocol = target["protocol"]
        if protocol in ("http", "https"):
            raw = target["raw"] and msg["Type"] == messages.NOTIFICATION
            body = (messages.content_for(msg, protocol) if raw else
                    messages.envelope(msg, protocol, target["subscription"], self.base_url,
                                      target["signature_version"]))
            headers = messages.http_headers(msg, target["subscription"], target.get("content_type")
                                            or "text/plain; charset=UTF-8", raw)
            return _post(target["endpoint"], body.encode(), headers)
        if protocol == "lambda":
            delivery = Delivery(
                body=messages.lambda_event(msg, target["subscription"], self.base_url, target["signature_version"]),
                source_arn=target["topic"], source_account=target["topic"].split(":")[4],
                principal=SERVICE_PRINCIPAL)
        else:
            delivery = self._sqs_delivery(msg, target)
        result = self.deliveries.deliver(target["endpoint"], delivery)
        if result.ok:
            return OK
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

    # -- Sluice's own endpoint: SubscribeURL, UnsubscribeURL, SigningCertURL ----------------------

    def internal(self, rest: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """GET /_sluice/sns/?Action=ConfirmSubscription|Unsubscribe... (the URLs in SNS messages)."""
        if rest == messages.CERT_NAME:
            return 404, {"error": "Sluice does not sign SNS messages with a certificate: the Signature of its "
                                  "messages is a placeholder that no certificate verifies."}
        action = (query.get("Action") or [""])[0]
        wire = protocol_for(service_model(self.name))
        ctx = RequestContext(str(uuid.uuid4()), "", self.settings.account_id, self.settings.region, "sns")
        try:
            if action == "ConfirmSubscription":
                arn = parse_topic_arn((query.get("TopicArn") or [""])[0]).text
                token = (query.get("Token") or [""])[0]
                result: dict[str, Any] = {"SubscriptionArn": self._confirm(arn, token, authenticated=False)}
            elif action == "Unsubscribe":
                self._unsubscribe(parse_subscription_arn((query.get("SubscriptionArn") or [""])[0]).text)
                result = {}
            else:
                raise ServiceError("InvalidAction", f"The action {action} is not valid for this endpoint.", 400)
            op = wire.model.operation_model(action)
            response = wire.serialize(op, result, ctx)
        except ServiceError as err:
            response = wire.serialize_error(err, ctx)
        body = response.body if isinstance(response.body, bytes) else b""
        return response.status, body


# -- helpers -----------------------------------------------------------------------------------------

def _check_tags(tags: list[dict[str, str]]) -> list[dict[str, str]]:
    keys = [t.get("Key") for t in tags]
    if len(set(keys)) != len(keys):
        raise errors.invalid("Duplicated keys are not allowed.")
    if len(tags) > MAX_TAGS:
        raise ServiceError("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded", 400)
    return [{"Key": str(t.get("Key")), "Value": str(t.get("Value", ""))} for t in tags]


def _enqueue(conn: sqlite3.Connection, message_id: str, sub_arn: str, target: dict[str, Any],
             fifo_key: str | None, now: float) -> None:
    conn.execute("INSERT INTO sns_outbox (message_id, subscription_arn, target, fifo_key, due, created)"
                 " VALUES (?,?,?,?,?,?)", (message_id, sub_arn, json.dumps(target), fifo_key, now, now))


def _drop_pending(conn: sqlite3.Connection, sub_arn: str) -> None:
    """Forget a subscription's pending deliveries (it is going away), and messages left with none."""
    ids = [r[0] for r in conn.execute("SELECT DISTINCT message_id FROM sns_outbox WHERE subscription_arn = ?",
                                      (sub_arn,))]
    conn.execute("DELETE FROM sns_outbox WHERE subscription_arn = ?", (sub_arn,))
    for message_id in ids:
        conn.execute("DELETE FROM sns_messages WHERE id = ? AND NOT EXISTS"
                     " (SELECT 1 FROM sns_outbox WHERE message_id = ?)", (message_id, message_id))


def _retry_policy(target: dict[str, Any]) -> RetryPolicy:
    if target["protocol"] not in ("http", "https"):
        return AWS_MANAGED
    spec = target.get("retry") or {}
    return RetryPolicy(
        min_delay=spec.get("minDelayTarget", HTTP_DEFAULT.min_delay),
        max_delay=spec.get("maxDelayTarget", HTTP_DEFAULT.max_delay),
        num_retries=spec.get("numRetries", HTTP_DEFAULT.num_retries),
        no_delay_retries=spec.get("numNoDelayRetries", 0),
        min_delay_retries=spec.get("numMinDelayRetries", 0),
        max_delay_retries=spec.get("numMaxDelayRetries", 0),
        backoff=spec.get("backoffFunction", "linear"),
    )


def _post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """One HTTP/S delivery attempt. 2xx: delivered; 4xx: failed for good (AWS: permanent); anything
    else, a timeout (15 s) or a connection error: retried by the policy."""
    if not is_loopback_url(url):  # checked at Subscribe; checked again before any traffic leaves
        return Outcome(False, retry=False, code="EndpointRefused", detail="not a loopback endpoint")
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False  # loopback test servers use self-signed certificates
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=HTTP_TIMEOUT, context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(False, retry=True, code="ConnectionError", detail=str(exc) or type(exc).__name__)
    finally:
        conn.close()
    if 200 <= status < 300:
        return OK
    if 400 <= status < 500:
        return Outcome(False, retry=False, code=f"HTTP {status}", detail=f"the endpoint answered {status}")
    return Outcome(False, retry=True, code=f"HTTP {status}", detail=f"the endpoint answered {status}")
