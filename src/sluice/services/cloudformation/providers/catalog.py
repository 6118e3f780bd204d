"""Every resource type Sluice's CloudFormation creates, by type name."""

from __future__ import annotations

from collections.abc import Mapping

from ...base import Service
from .base import Provider
from .calls import Caller
from .iam import ManagedPolicyProvider, PolicyProvider, RoleProvider
from .lambda_function import FunctionProvider
from .lambda_links import EventInvokeConfigProvider, EventSourceMappingProvider, PermissionProvider
from .lambda_versions import AliasProvider, LayerVersionProvider, VersionProvider
from .monitoring import AlarmProvider, LogGroupProvider, RuleProvider
from .s3 import BucketPolicyProvider, BucketProvider
from .sns import SubscriptionProvider, TopicPolicyProvider, TopicProvider
from .sqs import QueuePolicyProvider, QueueProvider

_TYPES = (
    BucketProvider, BucketPolicyProvider, FunctionProvider, PermissionProvider, EventInvokeConfigProvider,
    EventSourceMappingProvider, VersionProvider, AliasProvider, LayerVersionProvider, QueueProvider,
    QueuePolicyProvider, TopicProvider, SubscriptionProvider, TopicPolicyProvider, RoleProvider, PolicyProvider,
    ManagedPolicyProvider, RuleProvider, LogGroupProvider, AlarmProvider,
)


def resource_providers(services: Mapping[str, Service], endpoint_url: str = "") -> dict[str, Provider]:
    """A provider per type; `endpoint_url` is where Sluice listens (the URLs services answer with,
    a queue's URL, use it as they would for a user's request there)."""
    call = Caller(services, endpoint_url)
    return {cls.type_name: cls(call) for cls in _TYPES}
