"""The query protocol (SNS, IAM, STS, older SQS and CloudWatch clients).

Requests are form fields (`Action=Publish&TopicArn=...&MessageAttributes.entry.1.Name=...`) in
the body or the query string; responses are `<{Op}Response><{Op}Result>...</{Op}Result>
<ResponseMetadata><RequestId>`; errors are `<ErrorResponse><Error><Type><Code><Message>`.
The flattening rules for lists and maps are botocore's query serializer's, read in reverse.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from botocore.model import (
    ListShape,
    MapShape,
    NoShapeFoundError,
    OperationModel,
    ServiceModel,
    Shape,
    StructureShape,
)

from .context import RequestContext
from .errors import ServiceError
from .http import HttpRequest, HttpResponse
from .statuses import http_status
from .values import InvalidValue, parse_scalar
from .xml import readable_text, shape_to_xml

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


# Query-era error codes of services that moved to json, where current models no longer carry
# them (`error.code` was dropped from SQS's model); AWS still sends them in x-amzn-query-error.
_LEGACY_CODES = {
    "sqs": {
        "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
        "QueueNameExists": "QueueAlreadyExists",
        "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
        "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
        "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
        "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
        "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
        "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
        "InvalidIdFormat": "InvalidIdFormat",
        "ResourceNotFoundException": "ResourceNotFoundException",
    },
}


def query_error_code(model: ServiceModel, code: str) -> tuple[str, str]:
    """The query-era wire code of an error and its fault type (SQS: QueueDoesNotExist is sent as
    'AWS.SimpleQueueService.NonExistentQueue')."""
    legacy = _LEGACY_CODES.get(model.service_name, {}).get(code)
    try:
        meta = model.shape_for(code).metadata.get("error") or {}
    except NoShapeFoundError:  # a code of Sluice's own or of another service
        meta = {}
    return legacy or meta.get("code", code), ("Sender" if meta.get("senderFault", True) else "Receiver")


class _Fields:
    """Form fields with fast 'is there anything under this prefix' checks."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.values: dict[str, str] = {}
        self.prefixes: set[str] = set()
        for k, v in pairs:
            self.values[k] = v
            parts = k.split(".")
            for i in range(1, len(parts)):
                self.prefixes.add(".".join(parts[:i]))

    def has(self, prefix: str) -> bool:
        return prefix in self.values or prefix in self.prefixes


def _name(shape: Shape, default: str) -> str:
    return shape.serialization.get("name", default)


def _read(fields: _Fields, shape: Shape, prefix: str) -> Any:
    if isinstance(shape, StructureShape):
        out = {}
        for member_name, member in shape.members.items():
            key = _name(member, member_name)
            full = f"{prefix}.{key}" if prefix else key
            if fields.has(full):
                out[member_name] = _read(fields, member, full)
        return out
    if isinstance(shape, ListShape):
        if fields.values.get(prefix) == "":
            return []
        if shape.serialization.get("flattened"):
            item_prefix = prefix
            if shape.member.serialization.get("name"):
                item_prefix = ".".join(prefix.split(".")[:-1] + [shape.member.serialization["name"]])
        else:
            item_prefix = f"{prefix}.{_name(shape.member, 'member')}"
        items = []
        i = 1
        while fields.has(f"{item_prefix}.{i}"):
            items.append(_read(fields, shape.member, f"{item_prefix}.{i}"))
            i += 1
        return items
    if isinstance(shape, MapShape):
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = _name(shape.key, "key")
        value_name = _name(shape.value, "value")
        result = {}
        i = 1
        while fields.has(f"{base}.{i}"):
            k = fields.values.get(f"{base}.{i}.{key_name}")
            if k is not None:
                result[k] = _read(fields, shape.value, f"{base}.{i}.{value_name}")
            i += 1
        return result
    return parse_scalar(fields.values.get(prefix, ""), shape, prefix)


class QueryProtocol:
    routes_on_body = True  # Action is a form field, usually in the body

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.namespace = model.metadata.get("xmlNamespace")
        self._ops = {name: model.operation_model(name) for name in model.operation_names}

    def _fields(self, req: HttpRequest) -> list[tuple[str, str]]:
        cached = req.__dict__.get("_form")
        if cached is None:
            pairs = parse_qsl(req.query_string, keep_blank_values=True)
            if req.method == "POST":
                pairs += parse_qsl(req.body.read().decode("utf-8", "replace"), keep_blank_values=True)
            _refuse_repeats(pairs)
            req.__dict__["_form"] = cached = pairs
        return cached  # type: ignore[no-any-return]

    def route(self, req: HttpRequest) -> OperationModel:
        fields = dict(self._fields(req))
        action = fields.get("Action")
        op = self._ops.get(action or "")
        if op is None:
            if not action:
                raise ServiceError("MissingAction", "Missing Action", 400)
            raise ServiceError("InvalidAction", f"The action {action} is not valid for this endpoint.", 400)
        return op

    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        if op.input_shape is None:
            return {}
        fields = _Fields([(k, v) for k, v in self._fields(req) if k not in ("Action", "Version")])
        try:
            return _read(fields, op.input_shape, "") or {}
        except InvalidValue as exc:
            raise ServiceError("InvalidParameterValue", str(exc), 400) from None

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse:
        inner = ""
        out = op.output_shape
        if out is not None:
            wrapper = out.serialization.get("resultWrapper") or f"{op.name}Result"
            # Readable by every SDK whatever a stored string holds (see readable_text).
            inner = shape_to_xml(result, out, wrapper, text=readable_text)
        body = (f'{XML_DECL}<{op.name}Response xmlns="{self.namespace}">{inner}'
                f"<ResponseMetadata><RequestId>{ctx.request_id}</RequestId></ResponseMetadata>"
                f"</{op.name}Response>")
        return HttpResponse(200, [("Content-Type", "text/xml")], body.encode())

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse:
        code, fault = query_error_code(self.model, err.code)
        if not err.sender_fault:
            fault = "Receiver"
        detail = "".join(f"<{k}>{readable_text(str(v))}</{k}>" for k, v in err.fields.items() if v is not None)
        body = (f'{XML_DECL}<ErrorResponse xmlns="{self.namespace}"><Error><Type>{fault}</Type>'
                f"<Code>{readable_text(code)}</Code><Message>{readable_text(err.message)}</Message>{detail}</Error>"
                f"<RequestId>{ctx.request_id}</RequestId></ErrorResponse>")
        return HttpResponse(http_status(err, self.model), [("Content-Type", "text/xml"), *err.headers.items()], body.encode())


def _refuse_repeats(pairs: list[tuple[str, str]]) -> None:
    """Which of two Actions (or QueueUrls) would be meant? Taking the last one once deleted the
    wrong queue. SDKs never repeat a name (lists are numbered), so this is AWS's refusal of a
    query that does not follow its rules."""
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise ServiceError("InvalidQueryParameter",
                               "The AWS query string is malformed or does not adhere to AWS standards: "
                               f"the parameter {name[:256]} appears more than once.", 400)
        seen.add(name)
