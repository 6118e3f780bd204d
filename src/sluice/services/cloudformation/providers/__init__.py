"""Resource providers: one per CloudFormation resource type, calling the services' operations."""

from __future__ import annotations

from collections.abc import Mapping

from ...base import Service
from .base import Provider
from .catalog import resource_providers


def build_providers(services: Mapping[str, Service], endpoint: str = "") -> dict[str, Provider]:
    return resource_providers(services, endpoint)
