"""The provider interface (c-core's skeleton replaces this file; kept identical to I15's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class ResourceRequest:
    stack_name: str
    stack_id: str
    logical_id: str
    resource_type: str
    properties: dict[str, Any]
    old_properties: dict[str, Any] | None
    physical_id: str | None
    account_id: str
    region: str
    request_token: str


@dataclass(frozen=True)
class ResourceResult:
    physical_id: str
    attributes: dict[str, Any]
    ref_value: str | None = None


class Provider(Protocol):
    type_name: ClassVar[str]
    replace_on: ClassVar[frozenset[str]]

    def create(self, req: ResourceRequest) -> ResourceResult: ...
    def update(self, req: ResourceRequest) -> ResourceResult: ...
    def delete(self, req: ResourceRequest) -> None: ...
