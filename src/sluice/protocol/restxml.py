"""The rest-xml protocol (S3)."""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.model import OperationModel, ServiceModel

from .context import RequestContext
from .errors import ServiceError
from .http import HttpRequest, HttpResponse, ResponseBody
from .rest import NoRoute, RestRouter, bind_request, bindings, response_headers
from .s3upload import decode_upload, strip_aws_chunked
from .s3wire import check_request, error_headers, s3_status
from .statuses import http_status
from .values import InvalidValue
from .xml import (
    MalformedXML,
    element_to_shape,
    escape_text,
    local_name,
    missing_required,
    parse_xml,
    shape_to_xml,
)

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Root elements of S3 responses whose output shape is not itself named on the wire.
# (botocore's client ignores the root name; AWS's is used so other SDKs see the same XML.)
_ROOTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "ListParts": "ListPartsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "DeleteObjects": "DeleteResult",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetObjectTagging": "Tagging",
    "GetBucketTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketAcl": "AccessControlPolicy",
    "GetObjectAcl": "AccessControlPolicy",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketPolicyStatus": "PolicyStatus",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketEncryption": "ServerSideEncryptionConfiguration",
    "GetPublicAccessBlock": "PublicAccessBlockConfiguration",
    "GetBucketOwnershipControls": "OwnershipControls",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "ListBucketAnalyticsConfigurations": "ListBucketAnalyticsConfigurationResult",
    "ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult",
    "ListBucketMetricsConfigurations": "ListMetricsConfigurationsResult",
    "ListBucketIntelligentTieringConfigurations": "ListBucketIntelligentTieringConfigurationsOutput",
}
# Responses whose root element's text is the single output member.
_TEXT_ROOTS = {"GetBucketLocation": "LocationConstraint"}


class RestXmlProtocol:
    routes_on_body = False  # method, path and query name the operation

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.namespace = "http://s3.amazonaws.com/doc/2006-03-01/" if model.service_name == "s3" else None
        self.router = RestRouter(model)
        self.s3 = model.service_name == "s3"

    # -- requests ------------------------------------------------------------------------

    def route(self, req: HttpRequest) -> OperationModel:
        if self.model.service_name == "s3":
            check_request(req)
        try:
            op, labels = self.router.match(req)
        except NoRoute as exc:
            if exc.method_mismatch:
                raise ServiceError(
                    "MethodNotAllowed",
                    "The specified method is not allowed against this resource.",
                    405,
                    Method=req.method,
                    ResourceType="OBJECT" if req.path.count("/") > 1 else "BUCKET",
                ) from None
            raise ServiceError("NotImplemented",
                               "A header or query you provided implies functionality that is not implemented.",
                               501) from None
        req.__dict__["_labels"] = labels
        return op

    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        labels = req.__dict__.get("_labels", {})
        try:
            params = bind_request(op, req, labels)
        except InvalidValue as exc:
            raise ServiceError("InvalidArgument", str(exc), 400, ArgumentName=exc.member,
                               ArgumentValue=exc.value) from None
        s3 = self.s3
        if s3 and "ContentEncoding" in params:
            strip_aws_chunked(params)
        kind, payload, shape, root, required = _input_layout(op)
        if kind == _STREAM:
            params[payload] = req.body  # the operation reads it (it may be gigabytes)
            if s3:
                decode_upload(op, req, params, payload)
        elif kind == _TEXT:
            # As sent: the operation judges text that is not UTF-8 (no 500 here).
            params[payload] = req.body.read().decode("utf-8", "surrogateescape")
        elif kind == _DOCUMENT:
            body = req.body.read()
            if body.strip():
                params[payload] = _read_document(body, shape, root)
            elif required:
                raise _malformed()  # e.g. PutObjectTagging with no body: S3 wants its document
        elif kind == _MEMBERS:
            body = req.body.read()
            if body.strip():
                params.update(_read_document(body, shape, root))
        return params

    # -- responses -----------------------------------------------------------------------

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse:
        status, headers = response_headers(op, result)
        kind, name, shape, root, code = _output_layout(op)
        body: bytes | ResponseBody = b""
        if kind == _RAW:
            value = result.get(name)
            if value is not None:
                body = value if isinstance(value, (bytes, ResponseBody)) else str(value).encode()
        elif kind == _DOCUMENT:
            value = result.get(name)
            if value is not None:
                body = (XML_DECL + shape_to_xml(value, shape, root, self.namespace)).encode()
                headers.append(("Content-Type", "application/xml"))
        elif kind == _TEXT:
            text = shape_to_xml(next(iter(result.values()), "") or "", shape, root, self.namespace)
            body = (XML_DECL + text).encode()
            headers.append(("Content-Type", "application/xml"))
        elif kind == _MEMBERS:
            members = _body_members(shape)
            value = {k: v for k, v in result.items() if k in members}
            body = (XML_DECL + shape_to_xml(value, shape, root, self.namespace)).encode()
            headers.append(("Content-Type", "application/xml"))
        if status is None and self.s3:
            status = s3_status(op.name, result)
        return HttpResponse(status or code, headers, body)

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse:
        parts = [f"<Code>{escape_text(err.code)}</Code>", f"<Message>{escape_text(err.message)}</Message>"]
        for k, v in err.fields.items():
            if v is not None:
                parts.append(f"<{k}>{escape_text(str(v))}</{k}>")
        parts.append(f"<RequestId>{ctx.request_id}</RequestId><HostId>{ctx.host_id}</HostId>")
        body = f"{XML_DECL}<Error>{''.join(parts)}</Error>".encode()
        headers = [("Content-Type", "application/xml"), *err.headers.items()]
        if self.s3:
            headers += error_headers(err, self.model)
        return HttpResponse(http_status(err, self.model), headers, body)


# What an operation's request body is (see _input_layout).
_NO_BODY, _STREAM, _TEXT, _DOCUMENT, _MEMBERS = range(5)


@cache
def _input_layout(op: Any) -> tuple[int, str, Any, str, bool]:
    """(what the body is, the payload member, the shape to read it as, its root element name,
    whether the input requires the payload), once per operation (models are singletons)."""
    shape = op.input_shape
    if shape is None:
        return _NO_BODY, "", None, "", False
    payload = shape.serialization.get("payload")
    if payload:
        member = shape.members[payload]
        if member.type_name == "blob" or (member.type_name == "string" and member.serialization.get("streaming")):
            return _STREAM, payload, member, "", False
        if member.type_name == "string":
            return _TEXT, payload, member, "", False
        return (_DOCUMENT, payload, member, member.serialization.get("name") or payload,
                payload in shape.required_members)
    if _body_members(shape):
        return _MEMBERS, "", shape, shape.serialization.get("name") or op.name + "Request", False
    return _NO_BODY, "", None, "", False


# What an operation's response body is (see _output_layout); _NO_BODY, _TEXT, _DOCUMENT and
# _MEMBERS as for requests.
_RAW = 5


@cache
def _output_layout(op: Any) -> tuple[int, str, Any, str, int]:
    """(what the body is, the payload member, the shape to write it as, its root element name,
    the success status the model gives), once per operation (models are singletons)."""
    code = op.http.get("responseCode") or 200
    out = op.output_shape
    if out is None:
        return _NO_BODY, "", None, "", code
    payload = out.serialization.get("payload")
    if payload:
        member = out.members[payload]
        if member.type_name in ("blob", "string"):
            return _RAW, payload, member, "", code
        return _DOCUMENT, payload, member, member.serialization.get("name") or member.name, code
    if op.name in _TEXT_ROOTS:
        return _TEXT, "", _string_shape(out), _TEXT_ROOTS[op.name], code
    if _body_members(out):
        return _MEMBERS, "", out, _ROOTS.get(op.name) or out.serialization.get("name") or op.name + "Result", code
    return _NO_BODY, "", None, "", code


@cache
def _body_members(shape: Any) -> frozenset[str]:
    """The members of a shape that go in the XML body (shapes are model singletons)."""
    return frozenset(b.member for b in bindings(shape) if b.location == "")


def _read_document(body: bytes, shape: Any, root_name: str) -> Any:
    """The request document as a value of `shape`: MalformedXML unless it is well-formed, its root
    is the element the model names, and every member the model requires is there (S3 validates
    a document against its schema: `<Foo><Status>Enabled</Status></Foo>` is no
    VersioningConfiguration)."""
    try:
        root = parse_xml(body)
        if local_name(root.tag) != root_name:
            raise _malformed()
        value = element_to_shape(root, shape, "")
    except (MalformedXML, InvalidValue):
        raise _malformed() from None
    if missing_required(value, shape):
        raise _malformed()
    return value


def _malformed() -> ServiceError:
    return ServiceError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def _string_shape(out: Any) -> Any:
    return next(iter(out.members.values()))
