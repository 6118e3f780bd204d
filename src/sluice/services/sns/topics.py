"""SNS topics: create, list, delete, attributes and tags."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import errors, records
from .attributes import TOPIC_CREATE, TOPIC_SETTABLE, topic_attribute
from .names import check_topic_name, parse_arn, topic_arn
from .retry import effective_topic_policy
from .shared import PAGE_SIZE, Shared, decode_token, encode_token, topic_policy

MAX_TAGS = 50


class Topics:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(the topic's Policy attribute, or its default policy; its account) for IAM enforcement."""
        topic = self.shared.topic(arn)
        if topic is None:
            return None, None
        return topic_policy(topic), topic.account

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
        tags = check_tags(Tags or [])
        arn = topic_arn(ctx.region, ctx.account_id, name)
        now_ms = int(self.shared.clock.now() * 1000)

        def txn(conn: sqlite3.Connection) -> None:
            existing = self.shared.topic(arn, conn)
            if existing is None:
                records.insert_topic(conn, arn, ctx.account_id, ctx.region, name, fifo, stored, tags, now_ms)
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
        page = records.topic_page(self.db.reader, ctx.account_id, ctx.region, decode_token(NextToken), PAGE_SIZE + 1)
        out: dict[str, Any] = {"Topics": [{"TopicArn": arn} for _id, arn in page[:PAGE_SIZE]]}
        if len(page) > PAGE_SIZE:
            out["NextToken"] = encode_token(page[PAGE_SIZE - 1][0])
        return out

    def delete_topic(self, ctx: RequestContext, TopicArn: str | None = None, **_: Any) -> dict[str, Any]:
        arn = self.shared.arn_for(ctx, TopicArn, "DeleteTopic")
        self.db.write(lambda conn: records.delete_topic(conn, arn))  # a topic that does not exist: success, as on AWS
        return {}

    def get_topic_attributes(self, ctx: RequestContext, TopicArn: str | None = None, **_: Any) -> dict[str, Any]:
        arn = self.shared.arn_for(ctx, TopicArn, "GetTopicAttributes")
        topic = self.shared.existing_topic(arn)
        pending, confirmed = records.subscription_counts(self.db.reader, arn)
        attrs: dict[str, str] = {
            "Policy": topic_policy(topic),
            "Owner": topic.account,
            "SubscriptionsPending": str(pending),
            "TopicArn": arn,
            "EffectiveDeliveryPolicy": json.dumps(effective_topic_policy(topic.delivery_policy()),
                                                  separators=(",", ":")),
            "SubscriptionsConfirmed": str(confirmed),
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
        arn = self.shared.arn_for(ctx, TopicArn, "SetTopicAttributes")
        if AttributeName is None:
            raise errors.validation("attributeName")
        topic = self.shared.existing_topic(arn)
        value: str | None
        if AttributeValue:
            value = topic_attribute(AttributeName, AttributeValue, topic.fifo)
        else:  # an empty value removes the attribute (DisplayName becomes "")
            if AttributeName not in TOPIC_SETTABLE:
                raise errors.invalid("AttributeName")
            value = "" if AttributeName == "DisplayName" else None

        def txn(conn: sqlite3.Connection) -> None:
            current = self.shared.existing_topic(arn, conn)
            if value is None:
                current.attributes.pop(AttributeName, None)
            else:
                current.attributes[AttributeName] = value
            records.set_topic_attributes(conn, arn, current.attributes)

        self.db.write(txn)
        return {}

    # -- tags ------------------------------------------------------------------------------------

    def _tagged_topic(self, ctx: RequestContext, resource: str | None, action: str) -> str:
        arn = parse_arn(resource, "ResourceArn")
        if arn.service != "sns":
            raise errors.resource_not_found()
        if arn.account != ctx.account_id:
            raise errors.not_authorized(ctx.account_id, action, arn.text)
        if self.shared.topic(arn.text) is None:
            raise errors.resource_not_found()
        return arn.text

    def tag_resource(self, ctx: RequestContext, ResourceArn: str | None = None,
                     Tags: list[dict[str, str]] | None = None, **_: Any) -> dict[str, Any]:
        arn = self._tagged_topic(ctx, ResourceArn, "TagResource")
        new = check_tags(Tags or [])

        def txn(conn: sqlite3.Connection) -> None:
            topic = self.shared.existing_topic(arn, conn)
            merged = {t["Key"]: t["Value"] for t in topic.tags}
            merged.update({t["Key"]: t["Value"] for t in new})
            if len(merged) > MAX_TAGS:
                raise _tag_limit()
            records.set_topic_tags(conn, topic.id, [{"Key": k, "Value": v} for k, v in merged.items()])

        self.db.write(txn)
        return {}

    def untag_resource(self, ctx: RequestContext, ResourceArn: str | None = None,
                       TagKeys: list[str] | None = None, **_: Any) -> dict[str, Any]:
        arn = self._tagged_topic(ctx, ResourceArn, "UntagResource")
        drop = set(TagKeys or [])

        def txn(conn: sqlite3.Connection) -> None:
            topic = self.shared.existing_topic(arn, conn)
            records.set_topic_tags(conn, topic.id, [t for t in topic.tags if t["Key"] not in drop])

        self.db.write(txn)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, ResourceArn: str | None = None,
                               **_: Any) -> dict[str, Any]:
        arn = self._tagged_topic(ctx, ResourceArn, "ListTagsForResource")
        return {"Tags": self.shared.existing_topic(arn).tags}


def check_tags(tags: list[dict[str, str]]) -> list[dict[str, str]]:
    keys = [t.get("Key") for t in tags]
    if len(set(keys)) != len(keys):
        raise errors.invalid("Duplicated keys are not allowed.")
    if len(tags) > MAX_TAGS:
        raise _tag_limit()
    return [{"Key": str(t.get("Key")), "Value": str(t.get("Value", ""))} for t in tags]


def _tag_limit() -> ServiceError:
    return ServiceError("TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
