"""How a provider calls a service: its public operation, with a RequestContext for the stack's
account and region, exactly as a user's call would be made (a Lambda operation's input checked
against botocore's model, as the wire layer checks a user's), never the service's records."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ....protocol.context import RequestContext
from ....protocol.errors import not_implemented
from ....protocol.models import service_model
from ....protocol.validate import validate
from ...base import Service
from .base import ProviderError, ResourceRequest

if TYPE_CHECKING:  # botocore is imported when a stack first calls an operation, not at start-up
    from botocore.model import Shape

# Services whose wire layer checks an operation's input against the model (rest-json): the
# same checks are made here, so a template's bad value gets the error a user's call would.
_MODEL_CHECKED = frozenset({"lambda"})


class Caller:
    """Calls `services[name].operation(op)(ctx, **members)` for a stack's account and region."""

    def __init__(self, services: Mapping[str, Service], endpoint_url: str = "") -> None:
        self.services = services
        self.endpoint_url = endpoint_url  # where Sluice listens: URLs a service answers with (QueueUrl) use it

    def context(self, req: ResourceRequest, service: str, operation: str) -> RequestContext:
        return RequestContext(request_id=str(uuid.uuid4()), host_id="cloudformation", account_id=req.account_id,
                              region=req.region, service=service, operation=operation, endpoint=self.endpoint_url)

    def __call__(self, req: ResourceRequest, service: str, operation: str, **members: Any) -> dict[str, Any]:
        found = self.services.get(service)
        fn = found.operation(operation) if found is not None else None
        if fn is None:
            raise not_implemented(service, operation)
        given = {k: v for k, v in members.items() if v is not None}
        shape = service_model(service).operation_model(operation).input_shape
        if shape is not None:
            given = coerce(given, shape)
        if service in _MODEL_CHECKED:
            validate(given, shape, required=True)
        out = fn(self.context(req, service, operation), **given)
        return out if isinstance(out, dict) else {}


def model_members(service: str, operation: str) -> frozenset[str]:
    """The input members of an operation (the properties a provider may pass on as they are)."""
    shape = service_model(service).operation_model(operation).input_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def coerce(value: Any, shape: Shape) -> Any:
    """A template's value in the type the operation's model asks for: CloudFormation hands
    numbers and booleans from parameters (and often from the template) as strings."""
    from botocore.model import ListShape, MapShape, StructureShape

    if value is None:
        return None
    t = shape.type_name
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {k: coerce(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [coerce(v, shape.member) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {str(k): coerce(v, shape.value) for k, v in value.items()}
    if t in ("integer", "long") and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ProviderError(f"Value '{value}' is not a valid integer.") from None
    if t in ("double", "float") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ProviderError(f"Value '{value}' is not a valid number.") from None
    if t == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if t == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if t == "string" and isinstance(value, bool):
        return "true" if value else "false"
    return value
