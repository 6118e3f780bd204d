"""The json protocol (SQS, CloudWatch Logs, EventBridge): POST /, X-Amz-Target, JSON bodies."""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel

from .context import RequestContext
from .errors import ServiceError
from .http import HttpRequest, HttpResponse
from .jsonvalues import from_json, to_json
from .safejson import dumps, loads
from .statuses import http_status
from .values import InvalidValue


def json_error(err: ServiceError, content_type: str, model: ServiceModel | None,
               extra_headers: dict[str, str] | None = None) -> HttpResponse:
    body: dict[str, Any] = {"__type": err.code, "message": err.message}
    body.update({k: v for k, v in err.fields.items() if v is not None})
    headers = [("Content-Type", content_type), ("x-amzn-ErrorType", err.code), *err.headers.items()]
    if extra_headers:
        headers.extend(extra_headers.items())
    return HttpResponse(http_status(err, model), headers, dumps(body))


class JsonProtocol:
    routes_on_body = False  # X-Amz-Target names the operation

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
        self.target_prefix = model.metadata.get("targetPrefix", "")
        self._ops = {name: model.operation_model(name) for name in model.operation_names}

    def route(self, req: HttpRequest) -> OperationModel:
        target = req.headers.get("x-amz-target", "")
        prefix, _, name = target.rpartition(".")
        op = self._ops.get(name)
        if req.method != "POST" or op is None or (prefix and prefix != self.target_prefix):
            raise ServiceError("UnknownOperationException",
                               f"Unknown operation {target or '(no X-Amz-Target)'}", 400)
        return op

    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        raw = req.body.read()
        if not raw.strip() or op.input_shape is None:
            return {}
        try:
            value = loads(raw)
        except ValueError:
            raise ServiceError("SerializationException", "Malformed JSON in request body", 400) from None
        try:
            return from_json(value, op.input_shape) or {}
        except InvalidValue as exc:
            raise ServiceError("SerializationException", str(exc), 400) from None

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse:
        body = to_json(result, op.output_shape) if op.output_shape is not None else {}
        return HttpResponse(200, [("Content-Type", self.content_type)], dumps(body))

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse:
        extra = None
        if "awsQueryCompatible" in self.model.metadata:
            # SDKs of services that moved from query to json (SQS) read the query-era code here.
            from .query import query_error_code

            code, fault = query_error_code(self.model, err.code)
            extra = {"x-amzn-query-error": f"{code};{fault}"}
        return json_error(err, self.content_type, self.model, extra)
