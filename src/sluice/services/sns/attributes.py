"""The attributes SNS accepts: on messages (MessageAttributes), topics and subscriptions.

Message attributes are kept in one JSON-storable form throughout:
name -> {"DataType": ..., "StringValue": ...} or {"DataType": ..., "BinaryValue": <base64>}.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from ...protocol import safejson
from ...protocol.errors import ServiceError
from . import errors
from .filters import FilterPolicyError, parse_policy
from .retry import DeliveryPolicyError, parse_subscription_policy, parse_topic_policy

MAX_MESSAGE_BYTES = 262_144  # 256 KiB: message, subject excluded, plus all attribute names, types, values
_ATTR_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

_FEEDBACK = [f"{p}{k}" for p in ("Application", "Firehose", "HTTP", "Lambda", "SQS")
             for k in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn")]
TOPIC_SETTABLE = ("DeliveryPolicy", "DisplayName", "Policy", "TracingConfig", "KmsMasterKeyId", "SignatureVersion",
                  "ContentBasedDeduplication", "ArchivePolicy", "FifoThroughputScope", "DataProtectionPolicy",
                  *_FEEDBACK)
TOPIC_CREATE = (*TOPIC_SETTABLE, "FifoTopic")
SUBSCRIPTION_SETTABLE = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery",
                         "RedrivePolicy", "SubscriptionRoleArn", "ReplayPolicy")


# -- message attributes ----------------------------------------------------------------------------

def message_attributes(raw: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, str]]:
    """Validate MessageAttributes as parsed from the request; return the stored form."""
    out: dict[str, dict[str, str]] = {}
    for name, attr in (raw or {}).items():
        _check_name(name)
        data_type = attr.get("DataType")
        if data_type is None:
            raise ServiceError("ValidationError", "1 validation error detected: Value null at "
                               f"'messageAttributes.{name}.member.dataType' failed to satisfy constraint: "
                               "Member must not be null")
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", "Binary") or len(data_type) > 256 or data_type.endswith("."):
            raise errors.invalid_value(
                f"The message attribute '{name}' has an invalid message attribute type, the set of supported "
                "type prefixes is Binary, Number, and String.")
        field = "Binary" if base == "Binary" else "String"
        value = attr.get(f"{field}Value")
        other = attr.get("StringValue" if field == "Binary" else "BinaryValue")
        if value is None and other is not None:
            raise errors.invalid_value(
                f"The message attribute '{name}' with type '{data_type}' must use field '{field}'.")
        if value is None or value in ("", b""):
            raise errors.invalid_value(
                f"The message attribute '{name}' must contain non-empty message attribute value for message "
                f"attribute type '{data_type}'.")
        if base == "Binary":
            blob = value if isinstance(value, bytes) else str(value).encode()
            out[name] = {"DataType": data_type, "BinaryValue": base64.b64encode(blob).decode()}
            continue
        text = str(value)
        if base == "Number":
            try:
                float(text)
            except ValueError:
                raise errors.invalid_value(
                    f"Could not cast message attribute '{name}' value to number.") from None
        if data_type == "String.Array":
            try:
                items = safejson.loads(text)
            except ValueError:
                items = None
            if not isinstance(items, list):
                raise errors.invalid_value(
                    f"The message attribute '{name}' with type 'String.Array' has an invalid value: the value "
                    "must be a JSON array.")
        out[name] = {"DataType": data_type, "StringValue": text}
    return out


def _check_name(name: str) -> None:
    if len(name) > 256:
        raise errors.invalid_value("Length of message attribute name must be less than 256 bytes.")
    if not name:
        raise errors.invalid_value("The message attribute name can not be empty.")
    if name.startswith("."):
        raise errors.invalid_value("Invalid message attribute name starting with character '.' was found.")
    if name.endswith("."):
        raise errors.invalid_value("Invalid message attribute name ending with character '.' was found.")
    if not _ATTR_NAME.match(name):
        bad = next(c for c in name if not re.match(r"[A-Za-z0-9_.\-]", c))
        raise errors.invalid_value(
            f"Invalid non-alphanumeric character '#x{ord(bad):X}' was found in the message attribute name. Can "
            "only include alphanumeric characters, hyphens, underscores, or dots.")
    if ".." in name:
        raise errors.invalid_value("Message attribute name can not have successive '.' character.")


def message_size(message: str, attributes: dict[str, dict[str, str]]) -> int:
    size = len(message.encode("utf-8", "surrogatepass"))
    for name, attr in attributes.items():
        size += len(name.encode()) + len(attr["DataType"].encode())
        if "BinaryValue" in attr:
            size += len(base64.b64decode(attr["BinaryValue"]))
        else:
            size += len(attr["StringValue"].encode("utf-8", "surrogatepass"))
    return size


# -- topics ----------------------------------------------------------------------------------------

def default_policy(topic_arn: str, account: str) -> str:
    policy = {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                       "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic",
                       "SNS:Publish"],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
        }],
    }
    return json.dumps(policy, separators=(",", ":"))


def topic_attribute(name: str, value: str, fifo: bool, allowed: tuple[str, ...] = TOPIC_SETTABLE) -> str:
    """A topic attribute's value as stored, or InvalidParameter."""
    if name not in allowed:
        raise errors.invalid("AttributeName")
    if name == "Policy" or name == "ArchivePolicy" or name == "DataProtectionPolicy":
        try:
            parsed = safejson.loads(value)
        except ValueError:
            raise errors.invalid(f"{name} Error: failed to parse JSON") from None
        if not isinstance(parsed, dict):
            raise errors.invalid(f"{name} Error: must be a JSON object")
        if name == "ArchivePolicy" and not fifo:
            raise errors.invalid("ArchivePolicy Reason: The topic must be a FIFO topic")
    elif name == "DeliveryPolicy":
        if value:
            try:
                parse_topic_policy(value)
            except DeliveryPolicyError as exc:
                raise errors.invalid(str(exc)) from None
    elif name == "SignatureVersion":
        if value not in ("1", "2"):
            raise errors.invalid("SignatureVersion")
    elif name == "TracingConfig":
        if value not in ("PassThrough", "Active"):
            raise errors.invalid("TracingConfig")
    elif name == "ContentBasedDeduplication":
        if not fifo:
            raise errors.invalid("ContentBasedDeduplication Reason: Content-based deduplication can only be set "
                                 "for FIFO topics")
        if value.lower() not in ("true", "false"):
            raise errors.invalid("ContentBasedDeduplication")
        value = value.lower()
    elif name == "FifoThroughputScope":
        if not fifo:
            raise errors.invalid("FifoThroughputScope Reason: The topic must be a FIFO topic")
        if value not in ("Topic", "MessageGroup"):
            raise errors.invalid("FifoThroughputScope")
    elif name == "FifoTopic":
        if value.lower() not in ("true", "false"):
            raise errors.invalid("FifoTopic")
        value = value.lower()
    return value


# -- subscriptions ---------------------------------------------------------------------------------

def subscription_attribute(name: str, value: str | None, protocol: str, topic_fifo: bool,
                           current: dict[str, str], subscribe: bool) -> str:
    """A subscription attribute's value as stored, or InvalidParameter in AWS's words.

    `current` holds the subscription's other attributes (the FilterPolicyScope a FilterPolicy is
    checked under, and the other way round)."""
    prefix = "Attributes Reason: " if subscribe else ""
    value = "" if value is None else value
    if name not in SUBSCRIPTION_SETTABLE:
        raise errors.invalid(f"{prefix}AttributeName")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise errors.invalid(f"{prefix}RawMessageDelivery: Invalid value [{value}]. Must be true or false.")
        if protocol == "lambda" and value.lower() == "true":
            raise errors.invalid(f"{prefix}Delivery protocol [{protocol}] does not support raw message delivery.")
        return value.lower()
    if name == "FilterPolicy":
        if value:
            _filter(value, current.get("FilterPolicyScope") or "MessageAttributes", subscribe)
        return value
    if name == "FilterPolicyScope":
        if value not in ("MessageAttributes", "MessageBody"):
            raise errors.invalid(f"{prefix}FilterPolicyScope: Invalid value [{value}]. Please use either "
                                 "MessageBody or MessageAttributes")
        if current.get("FilterPolicy"):
            _filter(current["FilterPolicy"], value, subscribe)
        return value
    if name == "DeliveryPolicy":
        if protocol not in ("http", "https"):
            raise errors.invalid(f"{prefix}DeliveryPolicy: Delivery protocol [{protocol}] does not support "
                                 "delivery policies.")
        if value:
            try:
                parse_subscription_policy(value)
            except DeliveryPolicyError as exc:
                raise errors.invalid(f"{prefix}{exc}") from None
        return value
    if name == "RedrivePolicy":
        if value:
            _redrive(value, prefix, topic_fifo)
        return value
    return value


def _filter(text: str, scope: str, subscribe: bool) -> None:
    try:
        parse_policy(text, scope)
    except FilterPolicyError as exc:
        prefix = "Attributes Reason: " if subscribe and exc.reason else ""
        raise errors.invalid(f"{prefix}{exc.message}") from None


def _redrive(text: str, prefix: str, topic_fifo: bool) -> None:
    try:
        policy = safejson.loads(text)
    except ValueError:
        raise errors.invalid(f"{prefix}RedrivePolicy: failed to parse JSON.") from None
    target = policy.get("deadLetterTargetArn") if isinstance(policy, dict) else None
    parts = target.split(":") if isinstance(target, str) else []
    if len(parts) < 6 or parts[0] != "arn":
        raise errors.invalid(f"{prefix}RedrivePolicy: deadLetterTargetArn is an invalid arn")
    if parts[2] != "sqs":
        raise errors.invalid(f"{prefix}RedrivePolicy: deadLetterTargetArn must be an SQS queue ARN")
    if topic_fifo and not parts[5].endswith(".fifo"):
        raise errors.invalid(f"{prefix}RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a "
                             "FIFO Topic.")


def dead_letter_target(attributes: dict[str, str]) -> str | None:
    text = attributes.get("RedrivePolicy")
    if not text:
        return None
    try:
        target = json.loads(text).get("deadLetterTargetArn")
    except (ValueError, AttributeError):
        return None
    return target if isinstance(target, str) else None
