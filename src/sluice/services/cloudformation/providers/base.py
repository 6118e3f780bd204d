"""What a resource provider is: the seam between the stack deployer and the services.

A provider turns one template resource (its properties already resolved: no intrinsics left)
into a real resource, by calling the other services' public operations exactly as a user's
calls would (`services[name].operation("CreateQueue")(ctx, **members)`), never their records.
Providers are plain and blocking: the deployer runs them in a worker thread.

A provider signals failure by raising the service's `ServiceError` (the deployer shows it as
CloudFormation does: `Resource handler returned message: "<message>" (... ErrorCode: <code>)`)
or `ProviderError` for a failure of its own (a bad property), whose message is shown as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class ResourceRequest:
    """One step the deployer asks of a provider: a template resource to create, update or delete."""

    stack_name: str
    stack_id: str
    logical_id: str
    resource_type: str
    properties: dict[str, Any]  # intrinsics already resolved (AWS::NoValue removed)
    old_properties: dict[str, Any] | None  # on update: what the resource was deployed with
    physical_id: str | None  # on update/delete: the resource's physical id
    account_id: str
    region: str
    request_token: str  # idempotency: the same token when a step is run again after a restart
    # The random part of the physical name AWS generates when a template leaves the name out
    # (`<stack>-<logical>-<SUFFIX>`, see `name()`): 13 upper-case letters and digits, recorded
    # before the step starts, so a create resumed after a restart makes the same name.
    name_suffix: str = ""

    def name(self, limit: int, *, lower: bool = False) -> str:
        """The generated physical name within the service's `limit` (e.g. queue 80, function 64,
        bucket 63 lower-case)."""
        return physical_name(self.stack_name, self.logical_id, self.name_suffix, limit, lower=lower)


@dataclass(frozen=True)
class ResourceResult:
    """A resource as a provider made it: what Ref and Fn::GetAtt resolve to."""

    physical_id: str
    attributes: dict[str, Any]  # every Fn::GetAtt attribute AWS documents
    # Ref value is physical_id unless ref_value is given (e.g. Lambda::Version -> ARN)
    ref_value: str | None = None


class Provider(Protocol):
    type_name: ClassVar[str]  # "AWS::S3::Bucket"
    replace_on: ClassVar[frozenset[str]]  # properties whose change forces replacement

    def create(self, req: ResourceRequest) -> ResourceResult: ...

    def update(self, req: ResourceRequest) -> ResourceResult: ...  # in place

    def delete(self, req: ResourceRequest) -> None: ...  # absent = success


class ProviderError(Exception):
    """A resource that cannot be made as asked, for a reason of the provider's own (not a
    service's AWS error): the message becomes the resource's status reason as is.

    `physical_id`: the id a failed creation still answered with (a custom resource's FAILED
    response carries one); CloudFormation sends the rollback's Delete for it."""

    def __init__(self, message: str, *, physical_id: str | None = None) -> None:
        super().__init__(message)
        self.physical_id = physical_id


class InProgress(Exception):
    """The step has started but is not finished (a custom resource awaiting its response).

    The deployer records the wait durably and calls the same method again (same request_token)
    when woken (`CloudFormationService.wake()`) or once `timeout` AWS-seconds have passed since
    the first call; after the timeout it fails the resource with `timeout_reason` instead of
    calling again. A provider that raises this must answer the repeated call from what it
    recorded (the response), raising InProgress again while there is none."""

    def __init__(self, timeout: float, timeout_reason: str) -> None:
        super().__init__(timeout_reason)
        self.timeout = timeout
        self.timeout_reason = timeout_reason


def physical_name(stack_name: str, logical_id: str, suffix: str, limit: int, *, lower: bool = False) -> str:
    """AWS's generated physical name `<stack>-<logical>-<SUFFIX>` within `limit` characters:
    the stack and logical parts are shortened (never the random suffix), as CloudFormation
    does. `lower`: for names that must be lower case (S3 buckets)."""
    room = limit - len(suffix) - 2
    stack_part, logical_part = stack_name, logical_id
    if len(stack_part) + len(logical_part) > room:
        half = room // 2
        if len(stack_part) <= half:
            logical_part = logical_part[: room - len(stack_part)]
        elif len(logical_part) <= half:
            stack_part = stack_part[: room - len(logical_part)]
        else:
            stack_part, logical_part = stack_part[:half], logical_part[: room - half]
    name = f"{stack_part}-{logical_part}-{suffix}"
    return name.lower() if lower else name
