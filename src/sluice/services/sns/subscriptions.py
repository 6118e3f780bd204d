"""SNS subscriptions: subscribe (with the HTTP/S confirmation handshake), confirm, unsubscribe,
list, and their attributes."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.values import iso8601
from . import errors, messages, records
from .attributes import SUBSCRIPTION_SETTABLE, subscription_attribute
from .names import (
    check_endpoint,
    new_subscription_arn,
    parse_arn,
    parse_subscription_arn,
    parse_topic_arn,
)
from .outbox import HTTP, delivery_target
from .records import Subscription, Topic
from .retry import effective_subscription_policy
from .shared import PAGE_SIZE, Shared, decode_token, encode_token

PROTOCOLS = ("sqs", "lambda", "http", "https")
OFF_MACHINE = ("email", "email-json", "sms", "application", "firehose")


class Subscriptions:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    def subscribe(self, ctx: RequestContext, TopicArn: str | None = None, Protocol: str | None = None,
                  Endpoint: str | None = None, Attributes: dict[str, str] | None = None,
                  ReturnSubscriptionArn: bool | None = None, **_: Any) -> dict[str, Any]:
        arn = self.shared.arn_for(ctx, TopicArn, "Subscribe")
        if Protocol is None:
            raise errors.validation("protocol")
        protocol = Protocol
        topic = self.shared.existing_topic(arn)
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
        pending = protocol in HTTP
        now = self.shared.clock.now()

        def txn(conn: sqlite3.Connection) -> tuple[str, bool]:
            current = self.shared.existing_topic(arn, conn)
            existing = records.subscription_to(conn, arn, protocol, endpoint)
            if existing is not None:
                for key, value in attrs.items():
                    if existing.attributes.get(key, "false" if key == "RawMessageDelivery" else "") != value:
                        raise errors.invalid("Attributes Reason: Subscription already exists with different "
                                             "attributes")
                return existing.arn, existing.pending
            sub = Subscription(new_subscription_arn(arn), arn, protocol, endpoint, ctx.account_id, attrs, pending,
                               authenticated=not pending, token=_new_token())
            records.insert_subscription(conn, sub, current.account, current.region, int(now * 1000))
            if pending:
                text = (f"You have chosen to subscribe to the topic {arn}.\n"
                        "To confirm the subscription, visit the SubscribeURL included in this message.")
                _enqueue_confirmation(conn, current, sub, messages.SUBSCRIPTION_CONFIRMATION, text, sub.token or "",
                                      now)
            return sub.arn, pending

        sub_arn, is_pending = self.db.write(txn)
        if is_pending:
            self.shared.queued()
            if not ReturnSubscriptionArn:
                return {"SubscriptionArn": "pending confirmation"}
        return {"SubscriptionArn": sub_arn}

    def confirm_subscription(self, ctx: RequestContext, TopicArn: str | None = None, Token: str | None = None,
                             AuthenticateOnUnsubscribe: str | None = None, **_: Any) -> dict[str, Any]:
        """ConfirmSubscription, called signed or (the SubscribeURL) not: ConfirmationWasAuthenticated
        says which, as on AWS."""
        if Token is None:
            raise errors.validation("token")
        arn = parse_topic_arn(TopicArn, "TopicArn").text
        authenticated = ctx.access_key is not None

        def txn(conn: sqlite3.Connection) -> str:
            self.shared.existing_topic(arn, conn)
            sub = records.subscription_by_token(conn, arn, Token)
            if sub is None:
                raise errors.invalid("Token")
            if sub.pending:
                records.confirm_subscription(conn, sub.id, authenticated)
            return sub.arn

        return {"SubscriptionArn": self.db.write(txn)}

    def unsubscribe(self, ctx: RequestContext, SubscriptionArn: str | None = None, **_: Any) -> dict[str, Any]:
        if SubscriptionArn is None:
            raise errors.invalid("SubscriptionArn Reason: no value for required parameter")
        sub_arn = parse_subscription_arn(SubscriptionArn).text
        now = self.shared.clock.now()

        def txn(conn: sqlite3.Connection) -> bool:
            sub = self.shared.subscription(sub_arn, conn)
            if sub is None:
                return False  # unsubscribing twice succeeds, as on AWS
            records.delete_subscription(conn, sub)
            topic = self.shared.topic(sub.topic_arn, conn)
            if topic is not None and sub.protocol in HTTP and not sub.pending:
                text = (f"You have chosen to deactivate subscription {sub_arn}.\n"
                        "To cancel this operation and restore the subscription, visit the SubscribeURL included "
                        "in this message.")
                _enqueue_confirmation(conn, topic, sub, messages.UNSUBSCRIBE_CONFIRMATION, text, _new_token(), now)
                return True
            return False

        if self.db.write(txn):
            self.shared.queued()
        return {}

    def list_subscriptions(self, ctx: RequestContext, NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        page = records.subscription_page(self.db.reader, decode_token(NextToken), PAGE_SIZE + 1,
                                         account=ctx.account_id, region=ctx.region)
        return _listing(page)

    def list_subscriptions_by_topic(self, ctx: RequestContext, TopicArn: str | None = None,
                                    NextToken: str | None = None, **_: Any) -> dict[str, Any]:
        arn = self.shared.arn_for(ctx, TopicArn, "ListSubscriptionsByTopic")
        self.shared.existing_topic(arn)
        return _listing(records.subscription_page(self.db.reader, decode_token(NextToken), PAGE_SIZE + 1,
                                                  topic_arn=arn))

    def get_subscription_attributes(self, ctx: RequestContext, SubscriptionArn: str | None = None,
                                    **_: Any) -> dict[str, Any]:
        parse_arn(SubscriptionArn, "SubscriptionArn")
        sub = self.shared.subscription(SubscriptionArn or "")
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
        if sub.protocol in HTTP:
            topic = self.shared.topic(sub.topic_arn)
            attrs["EffectiveDeliveryPolicy"] = json.dumps(
                effective_subscription_policy(topic.delivery_policy() if topic else None, sub.delivery_policy()),
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
        sub = self.shared.subscription(SubscriptionArn or "")
        if sub is None:
            raise errors.subscription_not_found()
        topic_fifo = sub.topic_arn.endswith(".fifo")
        value = subscription_attribute(AttributeName, AttributeValue, sub.protocol, topic_fifo, sub.attributes,
                                       subscribe=False)

        def txn(conn: sqlite3.Connection) -> None:
            current = self.shared.subscription(sub.arn, conn)
            if current is None:
                raise errors.subscription_not_found()
            if value == "" and AttributeName in SUBSCRIPTION_SETTABLE:
                current.attributes.pop(AttributeName, None)
            else:
                current.attributes[AttributeName] = value
            records.set_subscription_attributes(conn, sub.arn, current.attributes)

        self.db.write(txn)
        return {}


def _listing(page: list[Subscription]) -> dict[str, Any]:
    out: dict[str, Any] = {"Subscriptions": [s.listing() for s in page[:PAGE_SIZE]]}
    if len(page) > PAGE_SIZE:
        out["NextToken"] = encode_token(page[PAGE_SIZE - 1].id)
    return out


def _new_token() -> str:
    return os.urandom(144).hex()


def _enqueue_confirmation(conn: sqlite3.Connection, topic: Topic, sub: Subscription, kind: str, text: str,
                          token: str, now: float) -> None:
    """A SubscriptionConfirmation / UnsubscribeConfirmation for an HTTP/S endpoint, due now."""
    message_id = str(uuid.uuid4())
    records.insert_message(conn, message_id, {"Type": kind, "MessageId": message_id, "TopicArn": topic.arn,
                                              "Message": text, "Token": token, "Timestamp": iso8601(now)})
    target = delivery_target(topic, sub)
    target["raw"] = False
    records.enqueue(conn, message_id, sub.arn, target, None, now)
