"""The resource providers, by resource type: built by the composition root with the services
they call (nothing registers itself on import)."""

from __future__ import annotations

from collections.abc import Mapping

from ...base import Service
from .base import InProgress, Provider, ProviderError, ResourceRequest, ResourceResult

__all__ = ["InProgress", "Provider", "ProviderError", "ResourceRequest", "ResourceResult", "build_providers"]


def build_providers(services: Mapping[str, Service], endpoint_url: str = "") -> dict[str, Provider]:
    """`endpoint_url`: Sluice's own URL, for the URLs services answer with (SQS queue URLs)."""
    # Imported here: every provider module, paid when a stack first needs one, not at start-up
    # (importing .base, as the deployer and the custom resources do, stays light).
    from .catalog import resource_providers
    from .native import native_providers

    return {**resource_providers(services, endpoint_url), **native_providers(endpoint_url)}
