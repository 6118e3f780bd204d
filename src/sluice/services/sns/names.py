"""Topic and subscription names and ARNs, and which http(s) endpoints Sluice may call."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from ...engine.sns_http import is_loopback_url
from ...protocol.errors import ServiceError
from . import errors

TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
FIFO_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")
FIFO_NAME_RULE = ("Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase "
                  "ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters "
                  "long.")


@dataclass(frozen=True)
class Arn:
    """An ARN split into its parts."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def text(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(text: str | None, member: str) -> Arn:
    """An ARN, or InvalidParameter the way SNS words it ("An ARN must have at least 6 elements")."""
    value = text or ""
    parts = value.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        count = len(value.split(":"))
        raise errors.invalid(f"{member} Reason: An ARN must have at least 6 elements, not {count}")
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def topic_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{name}"


def parse_topic_arn(text: str | None, member: str = "TopicArn") -> Arn:
    arn = parse_arn(text, member)
    if arn.service != "sns" or ":" in arn.resource or not arn.resource:
        raise errors.invalid(member)
    return arn


def new_subscription_arn(topic: str) -> str:
    return f"{topic}:{uuid.uuid4()}"


def parse_subscription_arn(text: str | None) -> Arn:
    arn = parse_arn(text, "SubscriptionArn")
    if arn.service != "sns" or arn.resource.count(":") != 1:
        raise errors.invalid("SubscriptionId")
    return arn


def topic_of_subscription(subscription_arn: str) -> str:
    return subscription_arn.rsplit(":", 1)[0]


def check_topic_name(name: str | None, fifo: bool) -> str:
    if name is None:
        raise errors.validation("name")
    if fifo:
        if not FIFO_TOPIC_NAME.match(name):
            raise errors.invalid(FIFO_NAME_RULE)
    elif not TOPIC_NAME.match(name):
        raise errors.invalid("Topic Name")
    return name


def check_endpoint(protocol: str, endpoint: str | None, topic: str) -> str:
    """The endpoint of a new subscription, as Sluice can deliver to it."""
    if protocol in ("http", "https"):
        if not endpoint or not endpoint.lower().startswith(f"{protocol}://"):
            raise errors.invalid("Endpoint must match the specified protocol")
        try:
            parts = urlsplit(endpoint)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise errors.invalid("Endpoint") from None
        if not parts.hostname:
            raise errors.invalid("Endpoint")
        if not is_loopback_url(endpoint):
            raise errors.invalid(
                "Endpoint Reason: Sluice delivers http(s) notifications only to loopback endpoints "
                "(127.0.0.0/8, ::1, localhost); it never sends traffic off this machine")
        return endpoint
    if protocol == "sqs":
        arn = _endpoint_arn(endpoint, "SQS endpoint ARN")
        if arn.service != "sqs":
            raise errors.invalid("SQS endpoint ARN")
        if arn.resource.endswith(".fifo") and not topic.endswith(".fifo"):
            # Sic: AWS repeats the prefix in this one.
            raise errors.invalid(
                "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics")
        return arn.text
    if protocol == "lambda":
        arn = _endpoint_arn(endpoint, "Lambda endpoint ARN")
        if arn.service != "lambda" or not arn.resource.startswith("function:"):
            raise errors.invalid("Lambda endpoint ARN")
        return arn.text
    raise AssertionError(protocol)


def _endpoint_arn(endpoint: str | None, what: str) -> Arn:
    try:
        return parse_arn(endpoint, "Endpoint")
    except ServiceError:
        raise errors.invalid(what) from None
