"""The resource providers, by resource type: built by the composition root with the services
they call (nothing registers itself on import)."""

from __future__ import annotations

from collections.abc import Mapping

from ...base import Service
from .base import InProgress, Provider, ProviderError, ResourceRequest, ResourceResult
from .calls import Caller
from .sqs import Queue

__all__ = ["InProgress", "Provider", "ProviderError", "ResourceRequest", "ResourceResult", "build_providers"]


def build_providers(services: Mapping[str, Service], endpoint_url: str = "") -> dict[str, Provider]:
    """`endpoint_url`: Sluice's own URL, for the URLs services answer with (SQS queue URLs)."""
    call = Caller(services, endpoint_url)
    providers: list[Provider] = [
        Queue(call),
    ]
    return {p.type_name: p for p in providers}
