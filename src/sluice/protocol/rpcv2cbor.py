"""The smithy-rpc-v2-cbor protocol (CloudWatch): POST /service/<prefix>/operation/<Op>, CBOR bodies.

Requests carry `smithy-protocol: rpc-v2-cbor`; timestamps are CBOR tag 1 (epoch seconds), blobs
are byte strings. Errors are a CBOR map `{"__type", "message"}`; services that moved from query
(awsQueryCompatible) also send the query-era code in `x-amzn-query-error: Code;Sender`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import cbor2
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from .context import RequestContext
from .errors import ServiceError
from .http import HttpRequest, HttpResponse
from .jsonvalues import from_json
from .statuses import http_status
from .values import InvalidValue, as_datetime

CONTENT_TYPE = "application/cbor"
_HEADERS = [("Content-Type", CONTENT_TYPE), ("smithy-protocol", "rpc-v2-cbor")]


def _plain(value: Any) -> Any:
    """Decoded CBOR -> the JSON-like values `from_json` walks (timestamps as epoch seconds)."""
    if isinstance(value, dt.datetime):
        return as_datetime(value).timestamp()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_cbor_value(value: Any, shape: Shape) -> Any:
    """A Python result value -> what cbor2 encodes for `shape` (timestamps become tag 1)."""
    if value is None:
        return None
    if isinstance(shape, StructureShape):
        return {name: to_cbor_value(value[name], member)
                for name, member in shape.members.items() if value.get(name) is not None}
    if isinstance(shape, ListShape):
        return [to_cbor_value(v, shape.member) for v in value]
    if isinstance(shape, MapShape):
        return {k: to_cbor_value(v, shape.value) for k, v in value.items()}
    t = shape.type_name
    if t == "timestamp":
        return cbor2.CBORTag(1, round(as_datetime(value).timestamp(), 3))
    if t in ("float", "double"):
        return float(value)
    if t == "blob":
        return value if isinstance(value, bytes) else str(value).encode()
    return value


class RpcV2CborProtocol:
    routes_on_body = False  # the path names the operation

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.prefix = f"/service/{model.metadata.get('targetPrefix', model.service_name)}/operation/"
        self._ops = {name: model.operation_model(name) for name in model.operation_names}

    def route(self, req: HttpRequest) -> OperationModel:
        name = req.path[len(self.prefix):] if req.path.startswith(self.prefix) else ""
        op = self._ops.get(name)
        if req.method != "POST" or op is None:
            raise ServiceError("UnknownOperationException", f"Unknown operation {req.path}", 404)
        return op

    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        raw = req.body.read()
        if not raw or op.input_shape is None:
            return {}
        try:
            value = cbor2.loads(raw)
        except (cbor2.CBORDecodeError, ValueError, EOFError):
            raise ServiceError("SerializationException", "Malformed CBOR in request body", 400) from None
        try:
            return from_json(_plain(value), op.input_shape) or {}
        except InvalidValue as exc:
            raise ServiceError("SerializationException", str(exc), 400) from None

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse:
        body = to_cbor_value(result, op.output_shape) if op.output_shape is not None else {}
        return HttpResponse(200, list(_HEADERS), cbor2.dumps(body))

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse:
        body: dict[str, Any] = {"__type": err.code, "message": err.message}
        body.update({k: v for k, v in err.fields.items() if v is not None})
        headers = [*_HEADERS, *err.headers.items()]
        if "awsQueryCompatible" in self.model.metadata:
            from .query import query_error_code

            code, fault = query_error_code(self.model, err.code)
            headers.append(("x-amzn-query-error", f"{code};{fault}"))
        return HttpResponse(http_status(err, self.model), headers, cbor2.dumps(body))
