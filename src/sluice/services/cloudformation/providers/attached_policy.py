"""The shape SQS's QueuePolicy and SNS's TopicPolicy share: a policy document set as an attribute
of each resource in a list, one generated physical id (`Fn::GetAtt Id`), and, when a resource
leaves the list or the policy is deleted, that resource's policy put back as it was before."""

from __future__ import annotations

from typing import ClassVar

from ....protocol.errors import ServiceError
from .base import ResourceRequest, ResourceResult
from .calls import Caller
from .support import as_json_text, check_properties, physical_name


class AttachedPolicyProvider:
    type_name: ClassVar[str]
    replace_on: ClassVar[frozenset[str]] = frozenset()
    targets: ClassVar[str]  # the property listing the resources: "Queues", "Topics"
    gone: ClassVar[tuple[str, ...]]  # error codes of a resource that no longer exists

    def __init__(self, call: Caller) -> None:
        self.call = call

    def set_policy(self, req: ResourceRequest, target: str, policy: str | None) -> None:
        raise NotImplementedError

    def reset_policy(self, req: ResourceRequest, target: str) -> None:
        raise NotImplementedError

    def _apply(self, req: ResourceRequest) -> None:
        props = check_properties(req, ("PolicyDocument", self.targets), ("PolicyDocument", self.targets))
        policy = as_json_text(props["PolicyDocument"])
        for target in props[self.targets]:
            self.set_policy(req, target, policy)

    def create(self, req: ResourceRequest) -> ResourceResult:
        self._apply(req)
        pid = physical_name(req, 128)
        return ResourceResult(pid, {"Id": pid})

    def update(self, req: ResourceRequest) -> ResourceResult:
        self._apply(req)
        before = set((req.old_properties or {}).get(self.targets) or [])
        self._reset(req, sorted(before - set(req.properties.get(self.targets) or [])))
        pid = req.physical_id or physical_name(req, 128)
        return ResourceResult(pid, {"Id": pid})

    def delete(self, req: ResourceRequest) -> None:
        self._reset(req, list((req.properties or {}).get(self.targets) or []))

    def _reset(self, req: ResourceRequest, targets: list[str]) -> None:
        for target in targets:
            try:
                self.reset_policy(req, target)
            except ServiceError as err:
                if err.code not in self.gone:
                    raise
