"""AWS::SNS::Topic (Ref = the topic's ARN), AWS::SNS::Subscription, AWS::SNS::TopicPolicy."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, ClassVar

from ....protocol.errors import ServiceError
from .attached_policy import AttachedPolicyProvider
from .base import ResourceRequest, ResourceResult
from .calls import Caller
from .support import (
    as_bool,
    as_json_text,
    attribute_text,
    check_properties,
    invalid_properties,
    physical_name,
    tag_list,
    undo_on_failure,
)

_TOPIC_ATTRIBUTES = ("DisplayName", "ContentBasedDeduplication", "KmsMasterKeyId", "SignatureVersion",
                     "TracingConfig", "ArchivePolicy", "FifoThroughputScope")
# What a topic attribute removed from the template goes back to (None: left as it is).
_TOPIC_RESET: dict[str, str | None] = {
    "DisplayName": "", "ContentBasedDeduplication": "false", "KmsMasterKeyId": "", "SignatureVersion": "1",
    "TracingConfig": "PassThrough", "ArchivePolicy": "", "FifoThroughputScope": None}
_TOPIC_PROPERTIES = frozenset(_TOPIC_ATTRIBUTES) | {"TopicName", "FifoTopic", "Subscription", "Tags",
                                                    "DataProtectionPolicy", "DeliveryStatusLogging"}
_SUBSCRIPTION_ATTRIBUTES = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery",
                            "RedrivePolicy", "SubscriptionRoleArn", "ReplayPolicy")
# What a subscription attribute removed from the template goes back to (None: left as it is).
_SUBSCRIPTION_RESET: dict[str, str | None] = {
    "DeliveryPolicy": None, "FilterPolicy": "", "FilterPolicyScope": "MessageAttributes",
    "RawMessageDelivery": "false", "RedrivePolicy": "", "SubscriptionRoleArn": None, "ReplayPolicy": None}
_GONE = ("NotFound", "NotFoundException")


_LOGGING_PREFIX = {"http/s": "HTTP", "sqs": "SQS", "lambda": "Lambda", "firehose": "Firehose",
                   "application": "Application"}
_LOGGING_KEYS = ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn")


def delivery_logging(req: ResourceRequest, props: dict[str, Any]) -> dict[str, str]:
    """DeliveryStatusLogging as the topic attributes SNS keeps it in (`LambdaSuccessFeedbackRoleArn`, ...)."""
    out = {}
    for i, entry in enumerate(props.get("DeliveryStatusLogging") or []):
        prefix = _LOGGING_PREFIX.get(str(entry.get("Protocol")))
        if prefix is None:
            raise invalid_properties(req, f"#/DeliveryStatusLogging/{i}/Protocol: {entry.get('Protocol')} is not a "
                                          f"valid enum value")
        out.update({prefix + key: attribute_text(entry[key]) for key in _LOGGING_KEYS if entry.get(key) is not None})
    return out


def _attribute_value(key: str, value: Any) -> str:
    if key in ("ArchivePolicy", "DeliveryPolicy", "FilterPolicy", "RedrivePolicy", "ReplayPolicy"):
        return as_json_text(value) or ""
    return attribute_text(value)


def default_topic_policy(arn: str, account: str) -> str:
    """The access policy SNS gives a new topic (a TopicPolicy's delete restores it, as AWS does)."""
    return json.dumps({"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
        "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                   "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
        "Resource": arn, "Condition": {"StringEquals": {"AWS:SourceOwner": account}}}]})


class TopicProvider:
    type_name: ClassVar[str] = "AWS::SNS::Topic"
    replace_on: ClassVar[frozenset[str]] = frozenset({"TopicName", "FifoTopic"})

    def __init__(self, call: Caller) -> None:
        self.call = call

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _TOPIC_PROPERTIES)
        fifo = bool(as_bool(req, props, "FifoTopic"))
        name = props.get("TopicName") or physical_name(req, 256, suffix=".fifo" if fifo else "")
        attributes = {k: _attribute_value(k, props[k]) for k in _TOPIC_ATTRIBUTES if props.get(k) is not None}
        attributes.update(delivery_logging(req, props))
        if fifo:
            attributes["FifoTopic"] = "true"
        arn = self.call(req, "sns", "CreateTopic", Name=name, Attributes=attributes, Tags=tag_list(props) or None,
                        DataProtectionPolicy=as_json_text(props.get("DataProtectionPolicy")))["TopicArn"]
        with undo_on_failure(lambda: self.delete(replace(req, physical_id=arn))):
            for sub in props.get("Subscription") or []:
                self._subscribe(req, arn, sub)
        return ResourceResult(arn, {"TopicArn": arn, "TopicName": name})

    def _subscribe(self, req: ResourceRequest, arn: str, sub: dict[str, Any]) -> None:
        self.call(req, "sns", "Subscribe", TopicArn=arn, Protocol=sub.get("Protocol"), Endpoint=sub.get("Endpoint"),
                  ReturnSubscriptionArn=True)

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _TOPIC_PROPERTIES)
        old = req.old_properties or {}
        arn = req.physical_id or ""
        for key in _TOPIC_ATTRIBUTES:
            if props.get(key) != old.get(key):
                value = _attribute_value(key, props[key]) if props.get(key) is not None else _TOPIC_RESET.get(key)
                if value is not None:
                    self.call(req, "sns", "SetTopicAttributes", TopicArn=arn, AttributeName=key, AttributeValue=value)
        logging, logged = delivery_logging(req, props), delivery_logging(req, old)
        for key in sorted(logging.keys() | logged.keys()):
            if logging.get(key) != logged.get(key):
                self.call(req, "sns", "SetTopicAttributes", TopicArn=arn, AttributeName=key,
                          AttributeValue=logging.get(key, ""))
        if props.get("Tags") != old.get("Tags"):
            gone = [t["Key"] for t in tag_list(old) if t["Key"] not in {n["Key"] for n in tag_list(props)}]
            if gone:
                self.call(req, "sns", "UntagResource", ResourceArn=arn, TagKeys=gone)
            if tag_list(props):
                self.call(req, "sns", "TagResource", ResourceArn=arn, Tags=tag_list(props))
        if props.get("Subscription") != old.get("Subscription"):
            self._resubscribe(req, arn, props.get("Subscription") or [], old.get("Subscription") or [])
        return ResourceResult(arn, {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[-1]})

    def _resubscribe(self, req: ResourceRequest, arn: str, new: list[dict[str, Any]],
                     old: list[dict[str, Any]]) -> None:
        def key(sub: dict[str, Any]) -> tuple[str, str]:
            return (str(sub.get("Protocol")), str(sub.get("Endpoint")))

        wanted, had = {key(s) for s in new}, {key(s) for s in old}
        for sub in new:
            if key(sub) not in had:
                self._subscribe(req, arn, sub)
        listed = self.call(req, "sns", "ListSubscriptionsByTopic", TopicArn=arn).get("Subscriptions") or []
        for sub in listed:
            pair = (sub.get("Protocol"), sub.get("Endpoint"))
            if pair in had and pair not in wanted and sub.get("SubscriptionArn", "").startswith("arn:"):
                self.call(req, "sns", "Unsubscribe", SubscriptionArn=sub["SubscriptionArn"])

    def delete(self, req: ResourceRequest) -> None:
        if req.physical_id:
            # DeleteTopic succeeds for a topic already gone, as AWS's does.
            self.call(req, "sns", "DeleteTopic", TopicArn=req.physical_id)


class SubscriptionProvider:
    type_name: ClassVar[str] = "AWS::SNS::Subscription"
    replace_on: ClassVar[frozenset[str]] = frozenset({"Endpoint", "Protocol", "TopicArn"})
    _known = frozenset(_SUBSCRIPTION_ATTRIBUTES) | {"Endpoint", "Protocol", "TopicArn", "Region"}

    def __init__(self, call: Caller) -> None:
        self.call = call

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("Protocol", "TopicArn"))
        attributes = {k: _attribute_value(k, props[k]) for k in _SUBSCRIPTION_ATTRIBUTES if props.get(k) is not None}
        arn = self.call(req, "sns", "Subscribe", TopicArn=props["TopicArn"], Protocol=props["Protocol"],
                        Endpoint=props.get("Endpoint"), Attributes=attributes or None,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
        return ResourceResult(arn, {"Arn": arn})

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, self._known, ("Protocol", "TopicArn"))
        old = req.old_properties or {}
        arn = req.physical_id or ""
        for key in _SUBSCRIPTION_ATTRIBUTES:
            if props.get(key) == old.get(key):
                continue
            value = _attribute_value(key, props[key]) if props.get(key) is not None else _SUBSCRIPTION_RESET[key]
            if value is not None:
                self.call(req, "sns", "SetSubscriptionAttributes", SubscriptionArn=arn, AttributeName=key,
                          AttributeValue=value)
        return ResourceResult(arn, {"Arn": arn})

    def delete(self, req: ResourceRequest) -> None:
        if not req.physical_id or not req.physical_id.startswith("arn:"):
            return
        try:
            self.call(req, "sns", "Unsubscribe", SubscriptionArn=req.physical_id)
        except ServiceError as err:
            if err.code not in _GONE:
                raise


class TopicPolicyProvider(AttachedPolicyProvider):
    """Sets the Policy attribute of each topic in Topics; deleted, a topic gets SNS's default back."""

    type_name: ClassVar[str] = "AWS::SNS::TopicPolicy"
    targets: ClassVar[str] = "Topics"
    gone: ClassVar[tuple[str, ...]] = _GONE

    def set_policy(self, req: ResourceRequest, target: str, policy: str | None) -> None:
        self.call(req, "sns", "SetTopicAttributes", TopicArn=target, AttributeName="Policy", AttributeValue=policy)

    def reset_policy(self, req: ResourceRequest, target: str) -> None:
        self.call(req, "sns", "SetTopicAttributes", TopicArn=target, AttributeName="Policy",
                  AttributeValue=default_topic_policy(target, req.account_id))
