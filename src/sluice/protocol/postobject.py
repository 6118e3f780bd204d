"""S3's POST Object on the wire: an HTML form posted to a bucket.

botocore has no operation for it, so it is routed here, beside rest-xml: a POST of
multipart/form-data to `/{bucket}` is the operation "PostObject", whose members are the form's
fields and its file. The answer depends on the form too: a 303 to `success_action_redirect`, or
`success_action_status` 200, 201 (with a PostResponse document) or 204.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit

from botocore.model import OperationModel, ServiceModel

from .context import RequestContext
from .errors import ServiceError
from .formdata import boundary_of, malformed, parse_form
from .http import HttpRequest, HttpResponse
from .restxml import XML_DECL, RestXmlProtocol
from .s3wire import check_request
from .xml import escape_text

_BUCKET_PATH = re.compile(r"^/([^/?]+)/?$")


def is_form_post(req: HttpRequest) -> bool:
    return (req.method == "POST" and not req.query_string and _BUCKET_PATH.match(req.path) is not None
            and req.headers.get("content-type", "").lower().startswith("multipart/form-data"))


class PostObjectProtocol:
    routes_on_body = False  # one operation

    def __init__(self, model: ServiceModel, xml: RestXmlProtocol) -> None:
        self.model = model
        self._xml = xml
        self._op = OperationModel({"name": "PostObject", "http": {"method": "POST", "requestUri": "/{Bucket}"}},
                                  model, "PostObject")

    def route(self, req: HttpRequest) -> OperationModel:
        check_request(req)
        return self._op

    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        m = _BUCKET_PATH.match(req.path)
        boundary = boundary_of(req.headers.get("content-type", ""))
        if m is None or boundary is None:
            raise malformed()
        form = parse_form(req.body, boundary)
        params: dict[str, Any] = {"Bucket": m.group(1), "Fields": form.fields}
        if form.file is not None:
            params["File"] = form.file
            params["FileName"] = form.file.filename
        return params

    def serialize(self, op: OperationModel, result: dict[str, Any], ctx: RequestContext) -> HttpResponse:
        headers = [("ETag", result["ETag"]), ("Location", result["Location"])]
        if result.get("VersionId"):
            headers.append(("x-amz-version-id", result["VersionId"]))
        redirect = result.get("SuccessActionRedirect")
        parsed = _readable_url(redirect)
        if redirect and parsed is not None and parsed.scheme in ("http", "https"):
            query = urlencode({"bucket": result["Bucket"], "key": result["Key"], "etag": result["ETag"]})
            target = redirect + ("&" if parsed.query else "?") + query
            return HttpResponse(303, [("Location", target), *headers[:1]])
        status = result.get("SuccessActionStatus")
        if status == "201":
            body = (f"{XML_DECL}<PostResponse><Location>{escape_text(result['Location'])}</Location>"
                    f"<Bucket>{escape_text(result['Bucket'])}</Bucket><Key>{escape_text(result['Key'])}</Key>"
                    f"<ETag>{escape_text(result['ETag'])}</ETag></PostResponse>")
            return HttpResponse(201, [*headers, ("Content-Type", "application/xml")], body.encode())
        return HttpResponse(200 if status == "200" else 204, headers)

    def serialize_error(self, err: ServiceError, ctx: RequestContext) -> HttpResponse:
        return self._xml.serialize_error(err, ctx)


def _readable_url(url: str | None) -> SplitResult | None:
    """`url` split, or None where urllib cannot read it ("http://[x"): S3 acts as if a
    success_action_redirect it cannot interpret were not there."""
    if not url:
        return None
    try:
        return urlsplit(url)
    except ValueError:
        return None
