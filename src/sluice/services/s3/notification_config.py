"""A bucket's NotificationConfiguration: its validation, which configurations an event matches,
and the check that each destination will take S3's messages.

Choices where AWS's behaviour is unconfirmed (keep them easy to change):
- Lambda destinations are validated by resolving the function and its resource policy; SQS and
  SNS destinations by delivering the s3:TestEvent to them (their policies must let S3 send).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from ...clock import Clock
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.values import iso8601
from ..delivery import Deliveries, Delivery, DeliveryResult
from . import errors

PRINCIPAL = "s3.amazonaws.com"
SUBJECT = "Amazon S3 Notification"  # SNS targets' message subject

EVENT_TYPES = frozenset({
    "s3:ReducedRedundancyLostObject", "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete", "s3:Replication:*",
    "s3:Replication:OperationFailedReplication", "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold", "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleExpiration:*", "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated", "s3:LifecycleTransition", "s3:IntelligentTiering",
    "s3:ObjectTagging:*", "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put",
})

# (configuration list member, ARN member, element name for errors, ARN service)
KINDS = (
    ("LambdaFunctionConfigurations", "LambdaFunctionArn", "CloudFunction", "lambda"),
    ("QueueConfigurations", "QueueArn", "Queue", "sqs"),
    ("TopicConfigurations", "TopicArn", "Topic", "sns"),
)
EVENTBRIDGE = "EventBridgeConfiguration"

OVERLAP = ("Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the "
           "prefixes are overlapping for the same event type.")


def encode_key(key: str) -> str:
    """Form-encoding with '/' kept: `dir/a b@c+d.txt` -> `dir/a+b%40c%2Bd.txt`."""
    return quote_plus(key, safe="/")




# -- the configuration -------------------------------------------------------------------


def normalize(conf: dict[str, Any]) -> dict[str, Any]:
    """Validate a NotificationConfiguration; return the form that is stored and returned."""
    out: dict[str, Any] = {}
    every: list[dict[str, Any]] = []
    for member, arn_member, element, service in KINDS:
        items = []
        for item in conf.get(member) or []:
            arn = item.get(arn_member)
            if _parse_arn(arn, service) is None:
                raise errors.invalid_argument("The ARN could not be parsed", element, str(arn))
            events = list(item.get("Events") or [])
            if not events:
                raise errors.invalid_argument("At least one event must be specified", "Event", "")
            for event in events:
                if event not in EVENT_TYPES:
                    raise errors.invalid_argument("The event is not supported for notifications", "Event", event)
            rules = _filter_rules(item)
            stored: dict[str, Any] = {"Id": item.get("Id") or _new_id(), arn_member: arn, "Events": events}
            if rules:
                stored["Filter"] = {"Key": {"FilterRules": [{"Name": k, "Value": v} for k, v in rules.items()]}}
            items.append(stored)
            every.append({**stored, "_rules": rules})
        if items:
            out[member] = items
    for i, a in enumerate(every):
        for b in every[i + 1:]:
            if _overlaps(a, b):
                raise errors.invalid_argument(OVERLAP, "FilterRule", "")
    if conf.get(EVENTBRIDGE) is not None:
        out[EVENTBRIDGE] = {}
    return out


def targets(config: dict[str, Any], event_name: str, encoded_key: str) -> list[tuple[str, str]]:
    """(configuration id, destination ARN) of every configuration the event matches, in order."""
    found: list[tuple[str, str]] = []
    for member, arn_member, _element, _service in KINDS:
        for item in config.get(member, []):
            if _matches(item, event_name, encoded_key):
                found.append((item["Id"], item[arn_member]))
    return found


def _new_id() -> str:
    return base64.b64encode(str(uuid.uuid4()).encode()).decode().rstrip("=")


def _parse_arn(arn: Any, service: str) -> list[str] | None:
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or parts[2] != service or not parts[5]:
        return None
    if service in ("sqs", "sns", "lambda") and (not parts[3] or not parts[4]):
        return None
    return parts


def _filter_rules(conf: dict[str, Any]) -> dict[str, str]:
    rules = ((conf.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    out: dict[str, str] = {}
    for rule in rules:
        name = str(rule.get("Name") or "").lower()
        if name not in ("prefix", "suffix"):
            raise errors.invalid_argument("filter rule name must be either prefix or suffix",
                                          "FilterRule.Name", str(rule.get("Name")))
        label = name.capitalize()
        if label in out:
            raise errors.invalid_argument("Cannot specify more than one " + name + " rule in a filter.",
                                          "FilterRule.Name", str(rule.get("Name")))
        out[label] = str(rule.get("Value") or "")
    return out


def _events_overlap(a: str, b: str) -> bool:
    return a == b or any(x.endswith(":*") and y.startswith(x[:-1]) for x, y in ((a, b), (b, a)))


def _affix_overlap(a: str, b: str, suffix: bool) -> bool:
    if suffix:
        return a.endswith(b) or b.endswith(a)
    return a.startswith(b) or b.startswith(a)


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if not any(_events_overlap(x, y) for x in a["Events"] for y in b["Events"]):
        return False
    fa, fb = a.get("_rules", {}), b.get("_rules", {})
    return (_affix_overlap(fa.get("Prefix", ""), fb.get("Prefix", ""), False)
            and _affix_overlap(fa.get("Suffix", ""), fb.get("Suffix", ""), True))


def _matches(item: dict[str, Any], event_name: str, encoded_key: str) -> bool:
    full = "s3:" + event_name
    if not any(e == full or (e.endswith(":*") and full.startswith(e[:-1])) for e in item["Events"]):
        return False
    for rule in ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
        if rule["Name"] == "Prefix" and not encoded_key.startswith(rule["Value"]):
            return False
        if rule["Name"] == "Suffix" and not encoded_key.endswith(rule["Value"]):
            return False
    return True


# -- the destinations --------------------------------------------------------------------

# Raises ServiceError when the function does not exist.
ResolveFunction = Callable[[str], object]
# (function ARN, principal, source ARN, source account) -> may the principal invoke it?
MayInvoke = Callable[[str, str, str, str], bool]


def deliver(deliveries: Deliveries, arn: str, delivery: Delivery) -> DeliveryResult:
    """Deliver through the target's service; its AWS error is a failed delivery, not ours."""
    try:
        return deliveries.deliver(arn, delivery)
    except ServiceError as err:
        return DeliveryResult.failed(err.code, err.message)


class DestinationCheck:
    """What PutBucketNotificationConfiguration checks of each destination (unless told to skip)."""

    def __init__(self, clock: Clock, deliveries: Deliveries | None, resolve_function: ResolveFunction | None,
                 may_invoke: MayInvoke | None) -> None:
        self.clock = clock
        self.deliveries = deliveries
        self.resolve_function = resolve_function
        self.may_invoke = may_invoke

    def check(self, ctx: RequestContext, bucket: str, stored: dict[str, Any]) -> None:
        failed: list[tuple[str, str]] = []
        test_body = json.dumps({
            "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": iso8601(self.clock.now()), "Bucket": bucket,
            "RequestId": ctx.request_id, "HostId": ctx.host_id,
        })
        source = f"arn:aws:s3:::{bucket}"
        for member, arn_member, _element, service in KINDS:
            for item in stored.get(member, []):
                arn = item[arn_member]
                if service == "lambda":
                    if not self._function_allows(arn, source, ctx.account_id):
                        failed.append((arn, f"Not authorized to invoke function [{arn}]"))
                    continue
                if self.deliveries is None:
                    continue
                result = deliver(self.deliveries, arn, Delivery(
                    body=test_body, principal=PRINCIPAL, source_arn=source, source_account=ctx.account_id,
                    subject=SUBJECT))
                if not result.ok:
                    what = "queue" if service == "sqs" else "topic"
                    failed.append((arn, f"Permissions on the destination {what} do not allow S3 to publish "
                                        f"notifications from this bucket"))
        if failed:
            raise ServiceError("InvalidArgument", "Unable to validate the following destination configurations",
                               ArgumentName=failed[0][0], ArgumentValue=failed[0][1])

    def _function_allows(self, arn: str, source: str, account: str) -> bool:
        if self.resolve_function is None:
            return True
        try:
            self.resolve_function(arn)
        except ServiceError:
            return False
        # S3 may invoke only what the function's resource policy lets s3.amazonaws.com invoke.
        return self.may_invoke is None or self.may_invoke(arn, PRINCIPAL, source, account)
