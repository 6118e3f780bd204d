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
        s3 = self.model.service_name == "s3"
        if s3:
            strip_aws_chunked(params)
        shape = op.input_shape
        if shape is None:
            return params
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            if member.type_name in ("blob", "string"):
                if member.serialization.get("streaming") or shape.members[payload].type_name == "blob":
                    params[payload] = req.body  # the operation reads it (it may be gigabytes)
                    if s3:
                        decode_upload(op, req, params, payload)
                else:
                    # As sent: the operation judges text that is not UTF-8 (no 500 here).
                    params[payload] = req.body.read().decode("utf-8", "surrogateescape")
                return params
            body = req.body.read()
            if body.strip():
                params[payload] = _read_document(body, member, member.serialization.get("name") or payload)
            elif payload in shape.required_members:
                raise _malformed()  # e.g. PutObjectTagging with no body: S3 wants its document
        elif _body_members(shape):
            body = req.body.read()
            if body.strip():
                params.update(_read_document(body, shape, shape.serialization.get("name") or op.name + "Request"))
        return params

    # -- responses -----------------------------------------------------------------------

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse:
        status, headers = response_headers(op, result)
        out = op.output_shape
        body: bytes | ResponseBody = b""
        if out is not None:
            payload = out.serialization.get("payload")
            if payload:
                member = out.members[payload]
                value = result.get(payload)
                if value is None:
                    pass
                elif member.type_name in ("blob", "string"):
                    body = value if isinstance(value, (bytes, ResponseBody)) else str(value).encode()
                else:
                    root = member.serialization.get("name") or member.name
                    body = (XML_DECL + shape_to_xml(value, member, root, self.namespace)).encode()
                    headers.append(("Content-Type", "application/xml"))
            elif op.name in _TEXT_ROOTS:
                root = _TEXT_ROOTS[op.name]
                text = shape_to_xml(next(iter(result.values()), "") or "", _string_shape(out), root, self.namespace)
                body = (XML_DECL + text).encode()
                headers.append(("Content-Type", "application/xml"))
            elif body_members := _body_members(out):
                value = {k: v for k, v in result.items() if k in body_members}
                root = _ROOTS.get(op.name) or out.serialization.get("name") or op.name + "Result"
                body = (XML_DECL + shape_to_xml(value, out, root, self.namespace)).encode()
                headers.append(("Content-Type", "application/xml"))
        if status is None and self.model.service_name == "s3":
            status = s3_status(op.name, result)
        return HttpResponse(status or op.http.get("responseCode") or 200, headers, body)

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse:
        parts = [f"<Code>{escape_text(err.code)}</Code>", f"<Message>{escape_text(err.message)}</Message>"]
        for k, v in err.fields.items():
            if v is not None:
                parts.append(f"<{k}>{escape_text(str(v))}</{k}>")
        parts.append(f"<RequestId>{ctx.request_id}</RequestId><HostId>{ctx.host_id}</HostId>")
        body = f"{XML_DECL}<Error>{''.join(parts)}</Error>".encode()
        headers = [("Content-Type", "application/xml"), *err.headers.items()]
        if self.model.service_name == "s3":
            headers += error_headers(err, self.model)
        return HttpResponse(http_status(err, self.model), headers, body)


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
