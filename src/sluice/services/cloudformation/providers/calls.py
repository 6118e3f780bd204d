"""How a provider calls a service: its public operation, with a RequestContext for the stack's
account and region, exactly as a user's call would be made."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ....protocol.context import RequestContext
from ...base import Service
from .base import ResourceRequest


class Caller:
    def __init__(self, services: Mapping[str, Service], endpoint_url: str) -> None:
        self.services = services
        self.endpoint_url = endpoint_url  # what the services put in URLs they answer (SQS queue URLs)

    def __call__(self, req: ResourceRequest, service: str, operation: str, **members: Any) -> dict[str, Any]:
        owner = self.services[service]
        fn = owner.operation(operation)
        if fn is None:
            raise LookupError(f"{service} has no operation {operation}")
        ctx = RequestContext(str(uuid.uuid4()), "", req.account_id, req.region, service, operation=operation,
                             endpoint=self.endpoint_url)
        result = fn(ctx, **members)
        return result if isinstance(result, dict) else {}
