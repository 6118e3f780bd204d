"""Which wire protocol a request speaks.

Most services speak their model's protocol, but clients of one service do not all agree: SDKs
from before SQS's and CloudWatch's json switch send form-encoded `Action=` requests, current
botocore sends CloudWatch json while newer SDKs send CBOR, browsers POST S3 forms, and CloudWatch
accepts gzipped bodies. This module decides from the request; services never see the wire.
"""

from __future__ import annotations

import threading

from . import WireProtocol, protocol_for
from .compression import Decompressing
from .http import HttpRequest
from .models import service_model

_JSON_ERA = ("json", "smithy-rpc-v2-cbor")


def _is_query(req: HttpRequest) -> bool:
    ctype = req.headers.get("content-type", "")
    return "x-www-form-urlencoded" in ctype or ("Action=" in req.query_string and req.method == "GET")


class Protocols:
    """Each service's wire protocols, built on first use (model parsing is the slow part)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # the warm-up thread and a first request may both build
        self._built: dict[tuple[str, str], WireProtocol] = {}
        self._names: dict[tuple[str, str], str] = {}  # (service, variant) -> the wire's name

    def get(self, service: str, variant: str = "") -> WireProtocol:
        key = (service, variant)
        wire = self._built.get(key)
        if wire is None:
            with self._lock:
                wire = self._built.get(key) or self._build(service, variant)
                self._built[key] = wire
        return wire

    def for_request(self, service: str, req: HttpRequest) -> tuple[WireProtocol, str]:
        """The request's wire protocol and its name ("query", "json", "rest-xml", ...)."""
        variant = self._variant(service, req)
        key = (service, variant)
        wire = self._built.get(key)
        name = self._names.get(key)
        if wire is None or name is None:
            wire = self.get(service, variant)
            name = self._names[key] = variant or service_model(service).metadata["protocol"]
        return wire, name

    def _variant(self, service: str, req: HttpRequest) -> str:
        if service == "s3":
            if req.method != "POST":  # the form's test (and its module) for POSTs only
                return ""
            from .postobject import is_form_post

            return "post" if is_form_post(req) else ""
        if service == "cloudwatch":
            if "x-amz-target" in req.headers:
                return "json"
            return "query" if _is_query(req) else "smithy-rpc-v2-cbor"
        if _is_query(req) and service_model(service).metadata.get("protocol") in _JSON_ERA:
            return "query"
        return ""

    def _build(self, service: str, variant: str) -> WireProtocol:
        model = service_model(service)
        if service == "s3" and variant == "post":
            from .postobject import PostObjectProtocol
            from .restxml import RestXmlProtocol

            xml = self.get("s3")
            assert isinstance(xml, RestXmlProtocol)
            return PostObjectProtocol(model, xml)
        if service == "sqs" and variant == "query":
            from .sqsquery import SqsQueryProtocol, query_model

            return SqsQueryProtocol(query_model())
        if service == "cloudwatch":
            # PutMetricData bodies over 10 KB come gzipped from botocore.
            return Decompressing(protocol_for(model, variant or None))
        return protocol_for(model, variant or None)
