"""The rest-json protocol (Lambda): REST routing as rest-xml, JSON bodies."""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel

from .context import RequestContext
from .errors import ServiceError
from .http import HttpRequest, HttpResponse, ResponseBody
from .jsonvalues import from_json, to_json
from .rest import NoRoute, RestRouter, bind_request, bindings, response_headers
from .safejson import dumps, loads
from .statuses import http_status
from .validate import validate
from .values import InvalidValue


class RestJsonProtocol:
    routes_on_body = False  # method and path name the operation

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.router = RestRouter(model)

    def route(self, req: HttpRequest) -> OperationModel:
        try:
            op, labels = self.router.match(req)
        except NoRoute:
            raise ServiceError("UnknownOperationException",
                               f"Unknown operation: {req.method} {req.path}", 404) from None
        req.__dict__["_labels"] = labels
        return op

    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        params = self._parse(op, req)
        # Lambda names missing required members ("Value null at 'role' ...") as it names bad ones.
        validate(params, op.input_shape, required=True)
        return params

    def _parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        try:
            params = bind_request(op, req, req.__dict__.get("_labels", {}))
        except InvalidValue as exc:
            raise _invalid(str(exc)) from None
        shape = op.input_shape
        if shape is None:
            return params
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            if member.type_name in ("blob", "string"):
                data = req.body.read()
                params[payload] = data if member.type_name == "blob" else data.decode()
                return params
            body = _load(req.body.read())
            if body is not None:
                params[payload] = _convert(body, member)
            return params
        if any(b.location == "" for b in bindings(shape)):
            body = _load(req.body.read())
            if body is not None:
                converted = _convert(body, shape)
                params.update({k: v for k, v in converted.items() if k not in params})
        return params

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse:
        status, headers = response_headers(op, result)
        out = op.output_shape
        body: bytes | ResponseBody = b""
        if out is not None:
            payload = out.serialization.get("payload")
            if payload:
                value = result.get(payload)
                member = out.members[payload]
                if value is None:
                    pass
                elif member.type_name in ("blob", "string"):
                    body = value if isinstance(value, (bytes, ResponseBody)) else str(value).encode()
                else:
                    body = dumps(to_json(value, member))
                    headers.append(("Content-Type", "application/json"))
            else:
                body = dumps(to_json(result, out))
                headers.append(("Content-Type", "application/json"))
        return HttpResponse(status or op.http.get("responseCode") or 200, headers, body)

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse:
        fault = "User" if err.sender_fault else "Service"
        body: dict[str, Any] = {"Type": fault, "message": err.message}
        body.update({k: v for k, v in err.fields.items() if v is not None})
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", err.code), *err.headers.items()]
        return HttpResponse(http_status(err, self.model), headers, dumps(body))


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message, 400)


def _load(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return loads(raw)
    except ValueError:
        raise ServiceError("InvalidRequestContentException",
                           "Could not parse request body into json: Could not parse payload into json", 400) from None


def _convert(value: Any, shape: Any) -> Any:
    try:
        return from_json(value, shape)
    except InvalidValue as exc:
        raise _invalid(str(exc)) from None
