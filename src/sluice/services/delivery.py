"""Delivering a message to an ARN, the way one AWS service hands work to another.

DLQs, destinations, S3 notifications, SNS subscriptions and EventBridge targets all reach
queues, topics, buses, functions and buckets through this one interface. Each service registers
itself for its ARNs and applies the same rules as its public API (existence, size limits, FIFO,
permissions), answering success with a message id or the reason it failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..protocol.errors import ServiceError

NOT_FOUND = "NotFound"
FIFO_NOT_ALLOWED = "FifoNotAllowed"
TOO_LARGE = "TooLarge"
ACCESS_DENIED = "AccessDenied"
INVALID = "Invalid"


@dataclass(frozen=True)
class MessageAttribute:
    """A message attribute carried with a delivery (a data type and a string or binary value)."""

    data_type: str  # "String", "Number", "Binary", or "String.custom" etc.
    string_value: str | None = None
    binary_value: bytes | None = None


@dataclass(frozen=True)
class Delivery:
    """A message handed to another service's ARN, with what the target needs to accept it."""

    body: str
    attributes: dict[str, MessageAttribute] = field(default_factory=dict)
    system_attributes: dict[str, str] = field(default_factory=dict)  # e.g. AWSTraceHeader
    subject: str | None = None  # SNS
    group_id: str | None = None  # FIFO targets
    deduplication_id: str | None = None
    # EventBridge targets: Source, DetailType, Resources; Detail is `body`.
    event: dict[str, Any] = field(default_factory=dict)
    # Who delivers (for resource policies: aws:SourceArn / aws:SourceAccount), and as which principal.
    source_arn: str | None = None
    source_account: str | None = None
    principal: str | None = None  # a service principal ("s3.amazonaws.com") or a role ARN
    object_key: str | None = None  # S3 targets: where to write the body
    allow_fifo: bool = True


@dataclass(frozen=True)
class DeliveryResult:
    """A delivery's outcome: the message id on success, or why it failed."""

    ok: bool
    message_id: str | None = None
    error: str | None = None  # one of the constants above
    detail: str = ""

    @classmethod
    def failed(cls, error: str, detail: str = "") -> DeliveryResult:
        return cls(False, None, error, detail)


class DeliveryTarget(Protocol):
    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult: ...


@runtime_checkable
class BatchDeliveryTarget(DeliveryTarget, Protocol):
    """A target that takes a run of messages to one ARN at once (one commit for the run)."""

    def deliver_all(self, arn: str, deliveries: Sequence[Delivery]) -> list[DeliveryResult]: ...


class Deliveries:
    """Routes an ARN to the service that owns it (`arn:aws:<service>:...`)."""

    def __init__(self) -> None:
        self._targets: dict[str, DeliveryTarget] = {}

    def register(self, service: str, target: DeliveryTarget) -> None:
        self._targets[service] = target

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        parts = arn.split(":")
        if len(parts) < 6 or parts[0] != "arn":
            return DeliveryResult.failed(INVALID, f"not an ARN: {arn}")
        target = self._targets.get(parts[2])
        if target is None:
            return DeliveryResult.failed(INVALID, f"Sluice cannot deliver to {parts[2]} ARNs")
        return target.deliver(arn, delivery)

    def takes_runs(self, arn: str) -> bool:
        """Whether the ARN's service takes a run of messages at once (`deliver_all` in one commit)."""
        return isinstance(self._target(arn), BatchDeliveryTarget)

    def _target(self, arn: str) -> DeliveryTarget | None:
        parts = arn.split(":")
        return self._targets.get(parts[2]) if len(parts) >= 6 and parts[0] == "arn" else None

    def deliver_all(self, arn: str, deliveries: Sequence[Delivery]) -> list[DeliveryResult]:
        """`deliver` each of `deliveries` to `arn`, in order, one result each; a target that can
        takes them at once (`BatchDeliveryTarget`), the others one by one, where a target's AWS
        error (a ServiceError) fails that delivery only, not the ones already made."""
        target = self._target(arn)
        if isinstance(target, BatchDeliveryTarget):
            return target.deliver_all(arn, deliveries)
        results = []
        for delivery in deliveries:
            try:
                results.append(self.deliver(arn, delivery))
            except ServiceError as err:
                results.append(DeliveryResult.failed(err.code, err.message))
        return results
