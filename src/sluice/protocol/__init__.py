"""The wire: botocore-model-driven parsing of requests and serialization of results and errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from .context import RequestContext
from .errors import ServiceError
from .http import HttpRequest, HttpResponse
from .statuses import http_status

if TYPE_CHECKING:  # botocore.model is imported with the first protocol built, not at start-up
    from botocore.model import OperationModel, ServiceModel


class WireProtocol(Protocol):
    model: ServiceModel
    # Whether `route` reads the body (query: Action is a form field). The gateway only ever hands
    # `route` a body that is in memory, and routes large ones in a worker thread.
    routes_on_body: bool

    def route(self, req: HttpRequest) -> OperationModel: ...

    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]: ...

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse: ...

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse: ...


def protocol_for(model: ServiceModel, name: str | None = None) -> WireProtocol:
    """The wire protocol `name` (default: the model's own) for a service model."""
    name = name or model.metadata.get("protocol")
    if name == "rest-xml":
        from .restxml import RestXmlProtocol

        return RestXmlProtocol(model)
    if name == "rest-json":
        from .restjson import RestJsonProtocol

        return RestJsonProtocol(model)
    if name == "json":
        from .jsonrpc import JsonProtocol

        return JsonProtocol(model)
    if name == "query":
        from .query import QueryProtocol

        return QueryProtocol(model)
    if name == "smithy-rpc-v2-cbor":
        from .rpcv2cbor import RpcV2CborProtocol

        return RpcV2CborProtocol(model)
    raise ValueError(f"protocol {name} is not supported yet")


def generic_error(err: ServiceError, ctx: RequestContext, protocol: str | None) -> HttpResponse:
    """An error for a request no service of ours understood, in the shape its SDK expects."""
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": err.code, "message": err.message}).encode()
        return HttpResponse(http_status(err, None), [("Content-Type", "application/x-amz-json-1.1"),
                                         ("x-amzn-ErrorType", err.code)], body)
    from .xml import readable_text  # with botocore's model module: not on the start path

    # The message names what the request named: escaped, as any text from a request.
    inner = f"<Code>{err.code}</Code><Message>{readable_text(err.message)}</Message>"
    if protocol == "query":
        text = (f"<ErrorResponse><Error><Type>Sender</Type>{inner}</Error>"
                f"<RequestId>{ctx.request_id}</RequestId></ErrorResponse>")
    else:
        text = f"<Error>{inner}<RequestId>{ctx.request_id}</RequestId></Error>"
    return HttpResponse(http_status(err, None), [("Content-Type", "application/xml")],
                        ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode())
