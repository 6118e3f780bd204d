"""Which service and which caller a request is for, from what every AWS client sends.

In order: the SigV4 credential scope (Authorization header or presigned X-Amz-Credential), the
X-Amz-Target prefix of JSON protocols (or the `/service/<prefix>/` of smithy-rpc-v2-cbor), then
the path. Unsigned requests with nothing else to go on are S3 (browsers and presigned-v2 URLs).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..protocol.http import HttpRequest

# SigV4 signing names -> botocore service names.
SIGNING_NAMES = {
    "s3": "s3",
    "lambda": "lambda",
    "sqs": "sqs",
    "sns": "sns",
    "events": "events",
    "logs": "logs",
    "monitoring": "cloudwatch",
    "iam": "iam",
    "sts": "sts",
    "cloudformation": "cloudformation",
}
# X-Amz-Target prefixes of the JSON protocols.
TARGET_PREFIXES = {
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
    "Logs_20140328": "logs",
    "GraniteServiceVersion20100801": "cloudwatch",
}

_CREDENTIAL = re.compile(r"Credential=([^/,\s]*)/(\d{8})/([^/]+)/([^/]+)/aws4_request")

_VHOST_BASES = (
    "s3.localhost.localstack.cloud",
    "localhost.localstack.cloud",
    "s3.localhost",
    "localhost",
    "s3.amazonaws.com",
)
_VHOST_REGIONAL = re.compile(r"^(?P<bucket>.+)\.s3[.-](?P<region>[a-z0-9-]+)\.amazonaws\.com$")


@dataclass
class Caller:
    """Which service a request is for and which access key it carries, as `identify` reads them."""

    service: str  # botocore service name, or the raw signing name when unknown
    access_key: str | None
    region: str | None
    known: bool


def identify(req: HttpRequest, default_region: str) -> Caller:
    scope = None
    auth = req.headers.get("authorization", "")
    if auth.startswith("AWS4-"):
        scope = _CREDENTIAL.search(auth)
    elif "X-Amz-Credential" in req.query:
        scope = _CREDENTIAL.search("Credential=" + req.query["X-Amz-Credential"][0])
    if scope:
        access_key, _date, region, signing_name = scope.groups()
        service = SIGNING_NAMES.get(signing_name)
        return Caller(service or signing_name, access_key or None, region, service is not None)
    access_key = None
    if auth.startswith("AWS "):
        access_key = auth[4:].split(":", 1)[0]
    elif "AWSAccessKeyId" in req.query:
        access_key = req.query["AWSAccessKeyId"][0]
    target = req.headers.get("x-amz-target", "")
    if target:
        prefix = target.split(".", 1)[0]
        service = TARGET_PREFIXES.get(prefix)
        return Caller(service or prefix, access_key, default_region, service is not None)
    if "smithy-protocol" in req.headers and req.path.startswith("/service/"):
        # smithy-rpc-v2-cbor: /service/<target prefix>/operation/<Op> (a bucket may be named "service")
        service = TARGET_PREFIXES.get(req.path.split("/", 3)[2])
        if service:
            return Caller(service, access_key, default_region, True)
    if req.path.startswith("/2015-03-31/") or req.path.startswith("/2019-09-25/"):
        return Caller("lambda", access_key, default_region, True)
    return Caller("s3", access_key, default_region, True)


@functools.lru_cache(maxsize=256)  # a client sends the same Host header request after request
def virtual_host_bucket(host: str) -> str | None:
    """The bucket named by a virtual-hosted-style Host header, if it is one."""
    name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else ""
    if not name:
        return None
    m = _VHOST_REGIONAL.match(name)
    if m:
        return m.group("bucket")
    for base in _VHOST_BASES:
        if name.endswith("." + base):
            bucket = name[: -len(base) - 1]
            return bucket or None
    return None
