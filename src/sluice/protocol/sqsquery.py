"""SQS's query-protocol wire, as SDKs from before the json switch (2023) speak it.

botocore's current SQS model is json; when its shapes lost the query protocol they also lost the
XML/form names AWS still uses for `Action=` requests: `Attribute.1.Name`, `MessageAttribute.1.Value
.StringValue`, `SendMessageBatchRequestEntry.1.Id`, and responses like
`<Message>...<Attribute><Name>SenderId</Name><Value>...</Value></Attribute></Message>`.
This module puts those names back on a copy of the current model (the table below is the
query-era model's) and writes responses with flattened maps, which the shared XML writer does
not produce. Requests sent to the queue URL without a QueueUrl parameter get it from the path.
"""

from __future__ import annotations

import copy
import threading
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from .context import RequestContext
from .errors import ServiceError
from .http import HttpRequest, HttpResponse
from .models import service_description
from .query import XML_DECL, QueryProtocol
from .values import format_scalar
from .xml import readable_text

NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"

# list shape -> name of each item
_LIST_ITEMS = {
    "AWSAccountIdList": "AWSAccountId",
    "ActionNameList": "ActionName",
    "AttributeNameList": "AttributeName",
    "BatchResultErrorEntryList": "BatchResultErrorEntry",
    "BinaryList": "BinaryListValue",
    "ChangeMessageVisibilityBatchRequestEntryList": "ChangeMessageVisibilityBatchRequestEntry",
    "ChangeMessageVisibilityBatchResultEntryList": "ChangeMessageVisibilityBatchResultEntry",
    "DeleteMessageBatchRequestEntryList": "DeleteMessageBatchRequestEntry",
    "DeleteMessageBatchResultEntryList": "DeleteMessageBatchResultEntry",
    "ListMessageMoveTasksResultEntryList": "ListMessageMoveTasksResultEntry",
    "MessageAttributeNameList": "MessageAttributeName",
    "MessageList": "Message",
    "MessageSystemAttributeList": "MessageSystemAttributeName",
    "QueueUrlList": "QueueUrl",
    "SendMessageBatchRequestEntryList": "SendMessageBatchRequestEntry",
    "SendMessageBatchResultEntryList": "SendMessageBatchResultEntry",
    "StringList": "StringListValue",
    "TagKeyList": "TagKey",
}
# map shape -> (element name, key name, value name)
_MAPS = {
    "MessageBodyAttributeMap": (None, "Name", "Value"),
    "MessageBodySystemAttributeMap": (None, "Name", "Value"),
    "MessageSystemAttributeMap": ("Attribute", "Name", "Value"),
    "QueueAttributeMap": ("Attribute", "Name", "Value"),
    "TagMap": ("Tag", "Key", "Value"),
}
# (structure, member) -> element name
_MEMBERS = {
    ("CreateQueueRequest", "Attributes"): "Attribute",
    ("CreateQueueRequest", "tags"): "Tag",
    ("GetQueueAttributesResult", "Attributes"): "Attribute",
    ("ListQueueTagsResult", "Tags"): "Tag",
    ("Message", "Attributes"): "Attribute",
    ("Message", "MessageAttributes"): "MessageAttribute",
    ("MessageAttributeValue", "StringListValues"): "StringListValue",
    ("MessageAttributeValue", "BinaryListValues"): "BinaryListValue",
    ("MessageSystemAttributeValue", "StringListValues"): "StringListValue",
    ("MessageSystemAttributeValue", "BinaryListValues"): "BinaryListValue",
    ("SendMessageBatchRequestEntry", "MessageAttributes"): "MessageAttribute",
    ("SendMessageBatchRequestEntry", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SendMessageRequest", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SetQueueAttributesRequest", "Attributes"): "Attribute",
}
_NOT_FLATTENED = {("ListMessageMoveTasksResult", "Results")}
# Errors the query protocol words as the query-era API did (its message names the WSDL version).
_QUERY_MESSAGES = {"QueueDoesNotExist": "The specified queue does not exist for this wsdl version."}

_lock = threading.Lock()


@cache
def query_model() -> ServiceModel:
    """The current SQS model with the query protocol's names."""
    with _lock:
        raw: dict[str, Any] = copy.deepcopy(service_description("sqs"))
    raw["metadata"] = {**raw["metadata"], "protocol": "query", "protocols": ["query"], "xmlNamespace": NAMESPACE}
    shapes = raw["shapes"]
    for name, item in _LIST_ITEMS.items():
        if name in shapes:
            shapes[name]["member"] = {**shapes[name]["member"], "locationName": item}
    for name, (element, key, value) in _MAPS.items():
        if name in shapes:
            shapes[name]["key"] = {**shapes[name]["key"], "locationName": key}
            shapes[name]["value"] = {**shapes[name]["value"], "locationName": value}
            shapes[name]["flattened"] = True
            if element:
                shapes[name]["locationName"] = element
    for (struct, member), element in _MEMBERS.items():
        members = shapes.get(struct, {}).get("members", {})
        if member in members:
            members[member] = {**members[member], "locationName": element, "flattened": True}
    for struct, member in _NOT_FLATTENED:
        members = shapes.get(struct, {}).get("members", {})
        if member in members:
            members[member] = {k: v for k, v in members[member].items() if k != "flattened"}
            shapes[members[member]["shape"]].pop("flattened", None)
    # A member holding a flattened list is named by its items on the wire (`AttributeName.1`).
    for shape in shapes.values():
        for ref in shape.get("members", {}).values():
            target = shapes[ref["shape"]]
            flat = ref.get("flattened", target.get("flattened"))
            if target.get("type") == "list" and flat and "locationName" in target["member"]:
                ref.setdefault("locationName", target["member"]["locationName"])
    for op in raw["operations"].values():
        if "output" in op:
            op["output"] = {**op["output"], "resultWrapper": f"{op['name']}Result"}
    return ServiceModel(raw, service_name="sqs")


class SqsQueryProtocol(QueryProtocol):
    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        params = super().parse(op, req)
        if op.input_shape is not None and "QueueUrl" in op.input_shape.members and not params.get("QueueUrl"):
            # SDKs of the query era post to the queue's own URL and leave QueueUrl out.
            parts = [p for p in req.path.split("/") if p]
            if len(parts) >= 2:
                params["QueueUrl"] = f"{req.scheme}://{req.host}/{parts[-2]}/{parts[-1]}"
        return params

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse:
        inner: list[str] = []
        out = op.output_shape
        if out is not None:
            _write(inner, result, out, out.serialization.get("resultWrapper") or f"{op.name}Result")
        body = (f'{XML_DECL}<{op.name}Response xmlns="{self.namespace}">{"".join(inner)}'
                f"<ResponseMetadata><RequestId>{ctx.request_id}</RequestId></ResponseMetadata>"
                f"</{op.name}Response>")
        return HttpResponse(200, [("Content-Type", "text/xml")], body.encode())

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse:
        message = _QUERY_MESSAGES.get(err.code)
        if message is not None:
            err = ServiceError(err.code, message, err.status, sender_fault=err.sender_fault, headers=err.headers,
                               **err.fields)
        return super().serialize_error(err, ctx)


def _text(value: Any, shape: Shape) -> str:
    return readable_text(format_scalar(value, shape))


def _write(parts: list[str], value: Any, shape: Shape, name: str) -> None:
    if isinstance(shape, StructureShape):
        parts.append(f"<{name}>")
        for member_name, member in shape.members.items():
            v = value.get(member_name) if isinstance(value, dict) else None
            if v is None:
                continue
            element = member.serialization.get("name", member_name)
            if isinstance(member, ListShape) and member.serialization.get("flattened"):
                item = member.member.serialization.get("name") or element
                for x in v:
                    _write(parts, x, member.member, item)
            elif isinstance(member, MapShape) and member.serialization.get("flattened"):
                _write_entries(parts, v, member, element)
            else:
                _write(parts, v, member, element)
        parts.append(f"</{name}>")
    elif isinstance(shape, ListShape):
        item = shape.member.serialization.get("name", "member")
        parts.append(f"<{name}>")
        for x in value:
            _write(parts, x, shape.member, item)
        parts.append(f"</{name}>")
    elif isinstance(shape, MapShape):
        parts.append(f"<{name}>")
        _write_entries(parts, value, shape, "entry")
        parts.append(f"</{name}>")
    else:
        parts.append(f"<{name}>{_text(value, shape)}</{name}>")


def _write_entries(parts: list[str], value: dict[str, Any], shape: MapShape, element: str) -> None:
    key = shape.key.serialization.get("name", "key")
    val = shape.value.serialization.get("name", "value")
    for k, v in value.items():
        parts.append(f"<{element}><{key}>{readable_text(str(k))}</{key}>")
        _write(parts, v, shape.value, val)
        parts.append(f"</{element}>")
