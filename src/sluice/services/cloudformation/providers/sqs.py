"""AWS::SQS::Queue (Ref = the queue's URL) and AWS::SQS::QueuePolicy."""

from __future__ import annotations

from typing import Any, ClassVar

from ....protocol.errors import ServiceError
from .attached_policy import AttachedPolicyProvider
from .base import ResourceRequest, ResourceResult
from .calls import Caller
from .support import as_bool, as_json_text, attribute_text, check_properties, physical_name, tag_map

# Properties that are queue attributes of the same name, with what an attribute removed from
# the template goes back to ("" removes a policy or key, as SetQueueAttributes takes it).
_ATTRIBUTE_RESET = {
    "DelaySeconds": "0", "MaximumMessageSize": "262144", "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30", "RedrivePolicy": "",
    "RedriveAllowPolicy": "", "KmsMasterKeyId": "", "KmsDataKeyReusePeriodSeconds": "300",
    "SqsManagedSseEnabled": None, "ContentBasedDeduplication": None, "DeduplicationScope": None,
    "FifoThroughputLimit": None,
}
_QUEUE_PROPERTIES = frozenset(_ATTRIBUTE_RESET) | {"QueueName", "FifoQueue", "Tags"}
_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


def _attributes(props: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key in _ATTRIBUTE_RESET:
        value = props.get(key)
        if value is not None:
            out[key] = (as_json_text(value) or "") if key in _JSON_ATTRIBUTES else attribute_text(value)
    return out


def queue_attributes(url: str, arn: str, name: str) -> dict[str, Any]:
    return {"Arn": arn, "QueueName": name, "QueueUrl": url}


class QueueProvider:
    type_name: ClassVar[str] = "AWS::SQS::Queue"
    replace_on: ClassVar[frozenset[str]] = frozenset({"QueueName", "FifoQueue"})

    def __init__(self, call: Caller) -> None:
        self.call = call

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _QUEUE_PROPERTIES)
        fifo = bool(as_bool(req, props, "FifoQueue"))
        name = props.get("QueueName") or physical_name(req, 80, suffix=".fifo" if fifo else "")
        attributes = _attributes(props)
        if fifo:
            attributes["FifoQueue"] = "true"
        url = self.call(req, "sqs", "CreateQueue", QueueName=name, Attributes=attributes,
                        tags=tag_map(props) or None)["QueueUrl"]
        return self._result(req, url, name)

    def _result(self, req: ResourceRequest, url: str, name: str) -> ResourceResult:
        arn = self.call(req, "sqs", "GetQueueAttributes", QueueUrl=url,
                        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return ResourceResult(url, queue_attributes(url, arn, name))

    def update(self, req: ResourceRequest) -> ResourceResult:
        props = check_properties(req, _QUEUE_PROPERTIES)
        url = req.physical_id or ""
        old = req.old_properties or {}
        new, before = _attributes(props), _attributes(old)
        changes = {k: v for k, v in new.items() if before.get(k) != v}
        for key in before:
            reset = _ATTRIBUTE_RESET.get(key)
            if key not in new and reset is not None:
                changes[key] = reset
        if changes:
            self.call(req, "sqs", "SetQueueAttributes", QueueUrl=url, Attributes=changes)
        old_tags, new_tags = tag_map(old), tag_map(props)
        if old_tags != new_tags:
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                self.call(req, "sqs", "UntagQueue", QueueUrl=url, TagKeys=gone)
            if new_tags:
                self.call(req, "sqs", "TagQueue", QueueUrl=url, Tags=new_tags)
        return self._result(req, url, url.rstrip("/").rsplit("/", 1)[-1])

    def delete(self, req: ResourceRequest) -> None:
        if not req.physical_id:
            return
        try:
            self.call(req, "sqs", "DeleteQueue", QueueUrl=req.physical_id)
        except ServiceError as err:
            if err.code not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                raise


class QueuePolicyProvider(AttachedPolicyProvider):
    """Sets the Policy attribute of each queue in Queues (their URLs); deleted, a queue has none."""

    type_name: ClassVar[str] = "AWS::SQS::QueuePolicy"
    targets: ClassVar[str] = "Queues"
    gone: ClassVar[tuple[str, ...]] = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")

    def set_policy(self, req: ResourceRequest, target: str, policy: str | None) -> None:
        self.call(req, "sqs", "SetQueueAttributes", QueueUrl=target, Attributes={"Policy": policy})

    def reset_policy(self, req: ResourceRequest, target: str) -> None:
        self.call(req, "sqs", "SetQueueAttributes", QueueUrl=target, Attributes={"Policy": ""})
