"""Request compression (the `requestcompression` trait): botocore gzips PutMetricData bodies
over 10 KB and says so with `Content-Encoding: gzip`. The body is inflated before the wire
protocol routes the request (query routing reads `Action` from the body)."""

from __future__ import annotations

import io
import zlib
from typing import TYPE_CHECKING, Any

from .context import RequestContext
from .errors import ServiceError
from .http import HttpRequest, HttpResponse

if TYPE_CHECKING:  # botocore is imported when a protocol is first built, not at start-up
    from botocore.model import OperationModel, ServiceModel

MAX_INFLATED = 16 * 1024 * 1024  # well above any compressible operation's payload limit


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, MAX_INFLATED)
    except zlib.error:
        raise ServiceError("SerializationException", "The request body is not valid gzip.", 400) from None
    if d.unconsumed_tail:
        raise ServiceError("RequestEntityTooLarge", "The request body is too large once decompressed.", 413)
    return out


class Decompressing:
    """A wire protocol that first inflates gzip request bodies."""

    routes_on_body = True  # it inflates the body before routing

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model: ServiceModel = inner.model

    def route(self, req: HttpRequest) -> OperationModel:
        encodings = [e.strip().lower() for e in req.headers.get("content-encoding", "").split(",") if e.strip()]
        if "gzip" in encodings:
            req.body = io.BytesIO(_inflate(req.body.read()))
            rest = [e for e in encodings if e != "gzip"]
            if rest:
                req.headers["content-encoding"] = ",".join(rest)
            else:
                req.headers.pop("content-encoding", None)
        op: OperationModel = self.inner.route(req)
        return op

    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        parsed: dict[str, Any] = self.inner.parse(op, req)
        return parsed

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse:
        response: HttpResponse = self.inner.serialize(op, result, ctx)
        return response

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse:
        response: HttpResponse = self.inner.serialize_error(err, ctx)
        return response
