"""The query-protocol services' input checks: the model's constraints (required members,
lengths, patterns, ranges, enums) answered with IAM's and STS's ValidationError before the
operation runs."""

from __future__ import annotations

from typing import Any

from ..protocol.context import RequestContext
from ..protocol.models import service_model
from ..protocol.validate import validate
from .base import Operation, Service


def checked(service: Service, op_name: str, fn: Operation | None) -> Operation | None:
    if fn is None:
        return None
    shape = service_model(service.name).operation_model(op_name).input_shape
    operation = fn

    def run(ctx: RequestContext, **params: Any) -> Any:
        validate(params, shape, code="ValidationError", required=True, patterns=True)
        return operation(ctx, **params)

    return run
