"""Queue attributes: names, defaults, ranges, and the order GetQueueAttributes(All) answers in.

Values travel as strings, as on the wire. `validate` checks what CreateQueue / SetQueueAttributes
were given and returns it normalized (booleans lower-case, JSON policies compacted); an empty
string for Policy, RedrivePolicy, RedriveAllowPolicy or KmsMasterKeyId removes the attribute.
RedrivePolicy's target (existence, type, allow policy) is checked by the service, which knows
the other queues.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...protocol import safejson
from . import errors

# AWS raised the limit to 1 MiB in 2025; Sluice keeps the 256 KiB default that DLQs and
# destinations were specified with (see aws-reference.md), and accepts up to 1 MiB when asked.
DEFAULT_MAX_MESSAGE_SIZE = 262_144
MAX_MAX_MESSAGE_SIZE = 1_048_576

DEFAULTS: dict[str, str] = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": str(DEFAULT_MAX_MESSAGE_SIZE),
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}
FIFO_DEFAULTS: dict[str, str] = {
    "FifoQueue": "true",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
    "ContentBasedDeduplication": "false",
}

RANGES: dict[str, tuple[int, int]] = {
    "VisibilityTimeout": (0, 43_200),
    "MaximumMessageSize": (1024, MAX_MAX_MESSAGE_SIZE),
    "MessageRetentionPeriod": (60, 1_209_600),
    "DelaySeconds": (0, 900),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
COMPUTED = ("QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp")
REMOVABLE = ("Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId")
STANDARD_SETTABLE = ("VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds",
                     "ReceiveMessageWaitTimeSeconds", "Policy", "RedrivePolicy", "RedriveAllowPolicy",
                     "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled")
FIFO_ONLY = ("FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")

# GetQueueAttributes(All): the order AWS lists them in.
ORDER = ("QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
         "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "VisibilityTimeout",
         "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds", "Policy", "RedrivePolicy",
         "RedriveAllowPolicy", "ReceiveMessageWaitTimeSeconds", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
         "SqsManagedSseEnabled", "FifoQueue", "DeduplicationScope", "FifoThroughputLimit",
         "ContentBasedDeduplication")
KNOWN = frozenset(ORDER)

NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def validate_name(name: str, fifo: bool) -> None:
    if fifo:
        base = name[:-5] if name.endswith(".fifo") else None
        if base is None or not NAME.match(base + "_fifo"):
            raise errors.invalid_parameter(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
                "must end with .fifo suffix and be 1 to 80 in length.")
        return
    if not NAME.match(name):
        raise errors.invalid_parameter("Can only include alphanumeric characters, hyphens, or underscores. "
                                       "1 to 80 in length")


def is_fifo_request(attributes: dict[str, str]) -> bool:
    return str(attributes.get("FifoQueue", "")).lower() == "true"


def _integer(name: str, value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"-?\d+", text):
        raise errors.invalid_attribute_value(name)
    number = int(text)
    low, high = RANGES[name]
    if not low <= number <= high:
        raise errors.invalid_attribute_value(name)
    return str(number)


def _boolean(name: str, value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise errors.invalid_attribute_value(name)
    return lowered


def _json_object(name: str, value: str) -> dict[str, Any]:
    try:
        doc = safejson.loads(value)
    except ValueError:
        raise errors.invalid_attribute_value(name) from None
    if not isinstance(doc, dict):
        raise errors.invalid_attribute_value(name)
    return doc


def compact(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def parse_redrive_policy(value: str) -> tuple[str, int]:
    """(deadLetterTargetArn, maxReceiveCount) of a RedrivePolicy, with AWS's complaints."""
    try:
        doc = safejson.loads(value)
    except ValueError:
        raise errors.invalid_value(value, "RedrivePolicy", "Redrive policy is not a valid JSON map.") from None
    if not isinstance(doc, dict):
        raise errors.invalid_value(value, "RedrivePolicy", "Redrive policy is not a valid JSON map.")
    for key in ("deadLetterTargetArn", "maxReceiveCount"):
        if key not in doc:
            raise errors.invalid_value(value, "RedrivePolicy",
                                       f"Redrive policy does not contain mandatory attribute: {key}.")
    unknown = sorted(set(doc) - {"deadLetterTargetArn", "maxReceiveCount"})
    if unknown:
        raise errors.invalid_value(value, "RedrivePolicy",
                                   "Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount].")
    arn = doc["deadLetterTargetArn"]
    if not isinstance(arn, str) or parse_arn(arn) is None:
        raise errors.invalid_value(value, "RedrivePolicy", "Invalid value for deadLetterTargetArn.")
    raw_count = doc["maxReceiveCount"]
    try:
        count = int(str(raw_count))
    except ValueError:
        count = 0
    if not 1 <= count <= 1000:
        raise errors.invalid_value(value, "RedrivePolicy",
                                   f"Invalid value for maxReceiveCount: {raw_count}, valid values are from 1 to 1000 "
                                   "both inclusive.")
    return arn, count


def parse_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of an SQS queue ARN."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not parts[5]:
        return None
    return parts[3], parts[4], parts[5]


def _redrive_allow(value: str) -> str:
    doc = _json_object("RedriveAllowPolicy", value)
    permission = doc.get("redrivePermission")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise errors.invalid_attribute_value(
            "RedriveAllowPolicy", "Value of redrivePermission must be one of allowAll, denyAll, byQueue.")
    sources = doc.get("sourceQueueArns")
    if permission == "byQueue":
        if not isinstance(sources, list) or not sources or len(sources) > 10:
            raise errors.invalid_attribute_value(
                "RedriveAllowPolicy",
                "You must specify between 1 and 10 sourceQueueArns when redrivePermission is byQueue.")
        out: dict[str, Any] = {"redrivePermission": permission, "sourceQueueArns": sources}
    else:
        if sources:
            raise errors.invalid_attribute_value(
                "RedriveAllowPolicy", "You can specify sourceQueueArns only when redrivePermission is byQueue.")
        out = {"redrivePermission": permission}
    return compact(out)


def validate(given: dict[str, str], fifo: bool, creating: bool) -> dict[str, str]:
    """Check the attributes a request sets; return them normalized."""
    out: dict[str, str] = {}
    for name, raw in given.items():
        value = "" if raw is None else str(raw)
        if name in FIFO_ONLY and not fifo:
            if name in ("DeduplicationScope", "FifoThroughputLimit"):
                raise errors.invalid_attribute_name(f"You can specify the {name} only when FifoQueue is set to true.")
            raise errors.unknown_attribute(name)
        if name not in STANDARD_SETTABLE and name not in FIFO_ONLY:
            raise errors.unknown_attribute(name)
        if name in RANGES:
            out[name] = _integer(name, value)
        elif name in ("SqsManagedSseEnabled", "ContentBasedDeduplication"):
            out[name] = _boolean(name, value)
        elif name == "FifoQueue":
            if _boolean(name, value) != "true" or not creating:
                raise errors.invalid_attribute_value(name, "Modifying queue type is not supported.")
            out[name] = "true"
        elif name == "DeduplicationScope":
            if value not in ("messageGroup", "queue"):
                raise errors.invalid_attribute_value(name)
            out[name] = value
        elif name == "FifoThroughputLimit":
            if value not in ("perQueue", "perMessageGroupId"):
                raise errors.invalid_attribute_value(name)
            out[name] = value
        elif name == "Policy":
            out[name] = compact(_json_object(name, value)) if value else ""
        elif name == "RedrivePolicy":
            if value:
                arn, count = parse_redrive_policy(value)
                out[name] = compact({"deadLetterTargetArn": arn, "maxReceiveCount": count})
            else:
                out[name] = ""
        elif name == "RedriveAllowPolicy":
            out[name] = _redrive_allow(value) if value else ""
        else:  # KmsMasterKeyId
            out[name] = value
    if out.get("KmsMasterKeyId") and out.get("SqsManagedSseEnabled") == "true":
        raise errors.invalid_attribute_name("You can use one type of server-side encryption (SSE) at one time. "
                                            "You can either enable KMS SSE or SQS SSE.")
    return out


def apply(current: dict[str, str], changes: dict[str, str]) -> dict[str, str]:
    """The queue's stored attributes after `changes` (already validated)."""
    merged = dict(current)
    for name, value in changes.items():
        if name in REMOVABLE and value == "":
            merged.pop(name, None)
            if name == "KmsMasterKeyId":
                merged.pop("KmsDataKeyReusePeriodSeconds", None)
        else:
            merged[name] = value
    if "KmsMasterKeyId" in changes and changes["KmsMasterKeyId"]:
        merged["SqsManagedSseEnabled"] = "false"
        merged.setdefault("KmsDataKeyReusePeriodSeconds", "300")
    elif changes.get("SqsManagedSseEnabled") == "true":
        merged.pop("KmsMasterKeyId", None)
        merged.pop("KmsDataKeyReusePeriodSeconds", None)
    if merged.get("FifoThroughputLimit") == "perMessageGroupId" and merged.get("DeduplicationScope") != "messageGroup":
        raise errors.invalid_attribute_value(
            "FifoThroughputLimit", "The perMessageGroupId value is allowed only when the value for "
            "DeduplicationScope is messageGroup.")
    return merged


def initial(fifo: bool, given: dict[str, str]) -> dict[str, str]:
    base = dict(DEFAULTS)
    if fifo:
        base.update(FIFO_DEFAULTS)
    return apply(base, given)
