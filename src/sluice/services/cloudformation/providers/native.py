"""CloudFormation's own resource types that make nothing in another service: CDK's metadata
record (every `cdk synth` output has one) and wait condition handles."""

from __future__ import annotations

import uuid
from typing import ClassVar

from .base import Provider, ResourceRequest, ResourceResult


class CdkMetadataProvider:
    """AWS::CDK::Metadata: CloudFormation records it (CDK's usage analytics) and makes nothing."""

    type_name: ClassVar[str] = "AWS::CDK::Metadata"
    replace_on: ClassVar[frozenset[str]] = frozenset()

    def create(self, req: ResourceRequest) -> ResourceResult:
        return ResourceResult(str(uuid.uuid5(uuid.NAMESPACE_URL, req.request_token)), {})

    def update(self, req: ResourceRequest) -> ResourceResult:
        return ResourceResult(req.physical_id or "", {})

    def delete(self, req: ResourceRequest) -> None:
        pass


class WaitConditionHandleProvider:
    """AWS::CloudFormation::WaitConditionHandle: its Ref is the URL a signal would be sent to (a
    presigned S3 URL on AWS). Sluice has no AWS::CloudFormation::WaitCondition to wait on it:
    templates use the handle alone as a no-op resource to force updates."""

    type_name: ClassVar[str] = "AWS::CloudFormation::WaitConditionHandle"
    replace_on: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def create(self, req: ResourceRequest) -> ResourceResult:
        handle = uuid.uuid5(uuid.NAMESPACE_URL, req.request_token)
        return ResourceResult(f"{self.endpoint_url}/_sluice/cloudformation/wait-condition/{handle}", {})

    def update(self, req: ResourceRequest) -> ResourceResult:
        return ResourceResult(req.physical_id or "", {})

    def delete(self, req: ResourceRequest) -> None:
        pass


def native_providers(endpoint_url: str) -> dict[str, Provider]:
    found: list[Provider] = [CdkMetadataProvider(), WaitConditionHandleProvider(endpoint_url)]
    return {p.type_name: p for p in found}
