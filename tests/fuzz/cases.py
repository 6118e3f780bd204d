"""Requests to fuzz with: valid ones serialized by botocore's own serializers from generated
inputs, then mutated on the wire (members, bodies, framing, encodings, headers, paths).
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import io
import json
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError
from botocore.model import ServiceModel
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence
from hypothesis import strategies as st

from sluice.server import Sluice
from sluice.services.base import Service
from sluice.settings import Settings

from .shapes import Inputs, text
from .wire import Case

Draw = Callable[[st.SearchStrategy[Any]], Any]

CREDENTIALS = Credentials("test", "test")
REGION = "us-east-1"


@dataclass
class ServiceSpec:
    """What the fuzzer knows of one service: its model, the wire protocols Sluice accepts for it,
    the operations Sluice implements, and input strategies aware of the playground."""

    name: str
    model: ServiceModel
    protocols: list[str]
    implemented: list[str]
    inputs: Inputs
    host: str

    def operations(self) -> st.SearchStrategy[str]:
        # Mostly what Sluice implements; sometimes any operation of the model (answered 501).
        return st.one_of(*[st.sampled_from(self.implemented)] * 6, st.sampled_from(list(self.model.operation_names)))


@functools.cache
def _services() -> dict[str, Service]:
    """Sluice's services as a server builds them (in a scratch data dir, never started): the
    operations a service implements are found on its parts, as the gateway finds them."""
    return dict(Sluice.build(Settings(data_dir=Path(tempfile.mkdtemp(prefix="sluice-fuzz-ops-")))).services)


def implemented_operations(service: str, model: ServiceModel) -> list[str]:
    return [op for op in model.operation_names if _services()[service].operation(op) is not None]


# -- the valid request ---------------------------------------------------------------------------

def serialize(spec: ServiceSpec, protocol: str, op_name: str, params: dict[str, Any]) -> Case | None:
    op = spec.model.operation_model(op_name)
    try:
        wire = create_serializer(protocol, include_validation=False).serialize_to_request(params, op)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, UnicodeError, BotoCoreError):
        return None  # inputs botocore itself cannot put on the wire (a client would fail too)
    path = wire["url_path"] or "/"
    query = wire["query_string"]
    qs = percent_encode_sequence(query) if isinstance(query, Mapping) else (query or "")
    if "?" in path:
        path, _, fixed = path.partition("?")
        qs = f"{fixed}&{qs}" if qs else fixed
    body = wire["body"]
    if isinstance(body, Mapping):
        body = urlencode(body, doseq=True).encode()
    elif isinstance(body, str):
        body = body.encode()
    elif hasattr(body, "read"):
        body = body.read()
    body = body or b""
    # The framing writes the body's length (wire.py); a model member bound to Content-Length
    # (S3's UploadPart has one) would declare a body the framing may not send.
    headers = {str(k): str(v) for k, v in wire["headers"].items()
               if str(k).lower() not in ("content-length", "transfer-encoding")}
    if spec.name == "s3" and "Content-MD5" not in headers and op.http_checksum.get("requestChecksumRequired"):
        headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    target = path + (f"?{qs}" if qs else "")
    case = Case(spec.name, protocol, op_name, wire["method"], target, [], body)
    _sign(case, spec, headers)
    return case


def _sign(case: Case, spec: ServiceSpec, headers: dict[str, str]) -> None:
    """A genuine SigV4 signature (S3's flavour for S3), as botocore computes it; mutations made
    afterwards break it, which only matters with --verify-signatures."""
    url = f"http://{spec.host}{case.target}"
    request = AWSRequest(method=case.method, url=url, headers=headers, data=case.body)
    signing_name = spec.model.signing_name or spec.name
    signer = S3SigV4Auth(CREDENTIALS, "s3", REGION) if spec.name == "s3" else SigV4Auth(CREDENTIALS, signing_name, REGION)
    if spec.name == "s3":
        request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    try:
        signer.add_auth(request)
    except (ValueError, UnicodeError):
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential=test/20240101/{REGION}/{signing_name}/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
        request.headers["X-Amz-Date"] = "20240101T000000Z"
    case.headers = [("Host", spec.host)] + [(k, v) for k, v in request.headers.items() if k.lower() != "host"]


@st.composite
def valid_request(draw: Draw, spec: ServiceSpec) -> Case:
    protocol = draw(st.sampled_from(spec.protocols))
    op_name = draw(spec.operations())
    op = spec.model.operation_model(op_name)
    params = draw(spec.inputs.for_shape(op.input_shape))
    case = serialize(spec, protocol, op_name, params or {})
    if case is None:
        case = serialize(spec, protocol, op_name, {})
    if case is None:  # an operation with labels in its path and nothing to fill them with
        case = Case(spec.name, protocol, op_name, "POST", "/", [("Host", spec.host)], b"")
    return case


# -- facts for the known-defect filters ---------------------------------------------------------

class _Tags:
    """Lets a strategy deep in input generation record a fact on the case being built."""

    current: set[str] | None = None

    def __call__(self, tag: str) -> None:
        if self.current is not None:
            self.current.add(tag)


TAGS = _Tags()


# -- zips for Lambda ------------------------------------------------------------------------------

def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info, data in entries:
            z.writestr(info, data)
    return buf.getvalue()


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16  # S_IFLNK: unzip tools create a symlink
    info.create_system = 3
    return info


@st.composite
def deployment_package(draw: Draw) -> bytes:
    """Real zips (a handler that answers its event), and the odd ones that broke the code store."""
    kind = draw(st.sampled_from(["handler", "handler", "junk", "empty", "dir-conflict", "symlink", "lying-size"]))
    handler = b"def handler(event, context):\n    return event\n"
    if kind == "handler":
        return _zip([("handler.py", handler)])
    if kind == "junk":
        return draw(st.binary(max_size=200))
    TAGS(f"zip:{kind}")
    if kind == "empty":
        return _zip([])
    if kind == "dir-conflict":
        return _zip([("a", b"file"), ("a/b.txt", b"below a file")])
    if kind == "symlink":
        return _zip([(_symlink("link"), b"/tmp"), ("link/escaped.txt", b"x")])
    data = bytearray(_zip([("handler.py", handler)]))
    # Declare a file size in the central directory that is not what the entry holds.
    at = data.rfind(b"PK\x01\x02")
    data[at + 24:at + 28] = (10).to_bytes(4, "little")
    return bytes(data)


# -- S3 browser uploads (POST Object) ---------------------------------------------------------------

@st.composite
def post_object(draw: Draw, spec: ServiceSpec, buckets: list[str]) -> Case:
    bucket = draw(st.sampled_from(buckets))
    key = draw(st.one_of(st.just("uploads/${filename}"), st.just("post-k"), text(1, 30)))
    conditions: list[Any] = draw(st.lists(st.one_of(
        st.just({"bucket": bucket}),
        st.just(["starts-with", "$key", ""]),
        st.just(["content-length-range", 0, 1024]),
        st.builds(lambda a, b: ["eq", a, b], st.sampled_from(["$key", "$Content-Type", "$x-amz-meta-a", "$bogus"]),
                  text()),
        st.builds(lambda n: ["content-length-range", n, -n], st.integers(-5, 2**40)),
        st.just([]), st.just({}), st.just(["starts-with"]), st.just(None), st.just(42),
        st.dictionaries(text(max_size=8), text(max_size=8), max_size=2),
    ), max_size=5))
    if any(c == [] or (isinstance(c, dict) and len(c) != 1) for c in conditions):
        TAGS("post-policy:malformed-condition")
    expiration = draw(st.sampled_from(["2999-01-01T00:00:00Z", "2000-01-01T00:00:00Z", "not a date", ""]))
    policy_doc: Any = draw(st.one_of(
        st.just({"expiration": expiration, "conditions": conditions}),
        st.just({"conditions": conditions}),
        st.just(conditions),
        st.just("nope"),
    ))
    policy = base64.b64encode(json.dumps(policy_doc).encode()).decode()
    if draw(st.booleans()):
        policy = draw(st.sampled_from([policy[:-3], "!!notbase64", "", policy + "===="]))
    fields = [("key", key), ("Policy", policy), ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
              ("X-Amz-Credential", f"test/20240101/{REGION}/s3/aws4_request"),
              ("X-Amz-Date", "20240101T000000Z"), ("X-Amz-Signature", "0" * 64)]
    fields += draw(st.lists(st.tuples(st.sampled_from(["Content-Type", "x-amz-meta-a", "success_action_status",
                                                       "success_action_redirect", "acl", "tagging", "bogus"]),
                                      text(max_size=40)), max_size=3))
    boundary = "----fuzz" + draw(st.text(alphabet="abcdef0123456789", min_size=1, max_size=12))
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n' for n, v in fields]
    file_body = draw(st.binary(max_size=300))
    if draw(st.booleans()):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n'
                     'Content-Type: text/plain\r\n\r\n')
        body = "".join(parts).encode() + file_body + f"\r\n--{boundary}--\r\n".encode()
    else:
        body = "".join(parts).encode() + f"--{boundary}--\r\n".encode()
    headers = [("Host", spec.host), ("Content-Type", f"multipart/form-data; boundary={boundary}")]
    return Case("s3", "rest-xml", "PostObject", "POST", f"/{bucket}", headers, body)


# -- mutations ----------------------------------------------------------------------------------

_BODY_TOKENS = [b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b'"', b"'", b"<", b">", b"&", b"&amp", b"%",
                b"%zz", b"{", b"}", b"[", b"]", b"\\", b"\\u", b"\\ud800", b"=", b"&=&", b"+", b"\r\n", b"]]>",
                b"<!--", b"<![CDATA[", b"\xef\xbb\xbf", b"\xfe\xff", b"\x1f\x8b", b"PK\x03\x04", b"\xbf", b"\xf9"]

_WEIRD_JSON: list[Any] = [None, True, False, 0, -1, 1.5, 2**64, -(2**63) - 1, 1e308, "", " ", "\u0000",
                          "\ud800", "x" * 70_000, [], {}, [None], {"": None}, "NaN", "-1", "2999-01-01", "arn:"]


def _json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _json_paths(v, (*prefix, i))
    return out


def _json_set(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = new
    return doc


def _nest(depth: int) -> Any:
    value: Any = "deep"
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def _nested_json_text(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@st.composite
def m_json(draw: Draw, case: Case) -> None:
    try:
        doc = json.loads(case.body)
    except (ValueError, RecursionError):  # not JSON, or already mutated too deep to edit
        return
    paths = _json_paths(doc)
    path = draw(st.sampled_from(paths))
    how = draw(st.sampled_from(["weird", "weird", "nest", "duplicate-key", "drop", "deep"]))
    if how == "weird":
        doc = _json_set(doc, path, draw(st.sampled_from(_WEIRD_JSON)))
        body = json.dumps(doc).encode()
    elif how == "nest":
        doc = _json_set(doc, path, _nest(draw(st.integers(2, 200))))
        body = json.dumps(doc).encode()
    elif how == "drop" and path:
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        del parent[path[-1]]
        body = json.dumps(doc).encode()
    elif how == "deep":
        depth = draw(st.sampled_from([1_000, 10_000, 100_000]))
        TAGS("deep-json")
        inner = _nested_json_text(depth)
        text_body = json.dumps(doc)
        body = (text_body[:-1] + (", " if len(text_body) > 2 else "") + f'"Deep": {inner}}}').encode() \
            if text_body.startswith("{") else inner.encode()
    else:
        text_body = json.dumps(doc)
        body = (text_body[:-1] + (", " if len(text_body) > 2 else "") + '"a": 1, "a": "b"}').encode() \
            if text_body.startswith("{") else text_body.encode()
    case.body = body


@st.composite
def m_form(draw: Draw, case: Case) -> None:
    if b"=" not in case.body:
        return
    pairs = parse_qsl(case.body.decode("latin-1"), keep_blank_values=True)
    if not pairs:
        return
    i = draw(st.integers(0, len(pairs) - 1))
    how = draw(st.sampled_from(["value", "value", "key-index", "drop", "duplicate", "add", "raw"]))
    k, v = pairs[i]
    if how == "value":
        pairs[i] = (k, draw(st.one_of(text(), st.sampled_from(["", "-1", "1e999", "true", "x" * 70_000,
                                                                "%", "\u0000"]))))
    elif how == "key-index":
        new = draw(st.sampled_from(["0", "-1", "99999999999999999999", "x", "", "1.1", "01"]))
        parts = k.split(".")
        idx = [j for j, part in enumerate(parts) if part.isdigit()]
        if idx:
            parts[draw(st.sampled_from(idx))] = new
        else:
            parts.append(new)
        pairs[i] = (".".join(parts), v)
    elif how == "drop":
        del pairs[i]
    elif how == "duplicate":
        pairs.insert(i, (k, draw(st.one_of(st.just(v), text(max_size=10)))))
    elif how == "add":
        pairs.append((draw(st.one_of(text(1, 20), st.sampled_from(["Action", "Version", "Attribute.1.Name",
                                                                    "member.1", "Entries.member.1.Id"]))),
                      draw(text(max_size=20))))
    body = urlencode(pairs).encode()
    if how == "raw":
        body += draw(st.sampled_from([b"&%zz=1", b"&%", b"&=", b"&&&", b"&a=%ff%fe", b"&a=%c3", b"&" + b"a" * 5000]))
    case.body = body


_ROOT = re.compile(rb"<([A-Za-z_][\w:.-]*)")  # the first element's name (not <?xml or <!DOCTYPE)
_XML_ROOTS = ["Bogus", "Tagging", "VersioningConfiguration", "NotificationConfiguration", "Delete",
              "CreateBucketConfiguration", "CompleteMultipartUpload", "x:y"]


@st.composite
def m_xml(draw: Draw, case: Case) -> None:
    body = case.body
    if not body.lstrip().startswith(b"<"):
        return
    how = draw(st.sampled_from(["root", "doctype", "deep", "unclosed", "text", "namespace"]))
    if how == "root":
        found = _ROOT.search(body)
        if found:
            old, new = found.group(1), draw(st.sampled_from(_XML_ROOTS)).encode()
            body = body[:found.start(1)] + new + body[found.end(1):]
            close = body.rfind(b"</" + old)
            if close >= 0:
                body = body[:close + 2] + new + body[close + 2 + len(old):]
            case.tags.add("xml:root")
    elif how == "doctype":
        body = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">'
                b'<!ENTITY l "lol">]>' + body.replace(b"><", b">&e;&l;<", 1))
    elif how == "deep":
        depth = draw(st.integers(10, 3000))
        at = body.find(b">") + 1
        body = body[:at] + b"<a>" * depth + b"</a>" * depth + body[at:]
    elif how == "unclosed":
        body = body[: body.rfind(b"</")] if b"</" in body else body + b"<"
    elif how == "text":
        at = body.find(b"><")
        if at > 0:
            body = body[:at + 1] + draw(st.sampled_from([b"&bogus;", b"\x00", b"\x01", b"&#0;", b"&#xFFFE;",
                                                         b"<![CDATA[x]]>", b"\xff\xfe"])) + body[at + 1:]
    else:
        body = body.replace(b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', b'xmlns="urn:bogus"')
    case.body = body


@st.composite
def m_bytes(draw: Draw, case: Case) -> None:
    how = draw(st.sampled_from(["truncate", "flip", "insert", "replace", "empty", "prefix"]))
    body = bytearray(case.body)
    if how == "truncate" and body:
        del body[draw(st.integers(0, len(body) - 1)):]
    elif how == "flip" and body:
        for _ in range(draw(st.integers(1, 4))):
            body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
    elif how == "insert":
        at = draw(st.integers(0, len(body)))
        body[at:at] = draw(st.sampled_from(_BODY_TOKENS))
    elif how == "replace":
        body = bytearray(draw(st.one_of(st.binary(max_size=300), st.sampled_from(
            [b"{", b"[]", b"null", b"\"x\"", b"<a>", b"<?xml version='1.0'?>", b"Action=", b"\x00" * 64,
             b"\xa1\x61\x61\xff", b"\x9f" * 20, b"\x1f\x8b\x08\x00"]))))
    elif how == "empty":
        body = bytearray()
    else:
        body[0:0] = draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"   ", b"\n"]))
    case.body = bytes(body)


@st.composite
def m_oversize(draw: Draw, case: Case) -> None:
    size = draw(st.sampled_from([64 * 1024, 1024 * 1024 - 1, 1024 * 1024 + 1, 3 * 1024 * 1024]))
    body = case.body
    if body.startswith(b"{") and body.rstrip().endswith(b"}"):
        pad = b'"Pad": "' + b"x" * size + b'"'
        body = body.rstrip()[:-1] + (b", " if len(body.strip()) > 2 else b"") + pad + b"}"
    elif b"=" in body and not body.startswith(b"<"):
        body = body + b"&Pad=" + b"x" * size
    else:
        body = body + b" " * size
    case.body = body


_CONTENT_TYPES = ["application/json", "application/x-amz-json-1.0", "application/x-amz-json-1.1",
                  "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-16",
                  "application/xml", "text/xml", "application/cbor", "text/plain", "multipart/form-data",
                  "multipart/form-data; boundary=", "application/octet-stream", "", "*/*", "x" * 300,
                  "application/json; charset=latin-1", "text/html; charset=\"\u00e9\""]


@st.composite
def m_content_type(draw: Draw, case: Case) -> None:
    value = draw(st.one_of(st.sampled_from(_CONTENT_TYPES), st.none()))
    case.set_header("Content-Type", value)


@st.composite
def m_encoding(draw: Draw, case: Case) -> None:
    how = draw(st.sampled_from(["gzip", "gzip-lie", "deflate", "br", "aws-chunked", "identity", "junk",
                                "gzip-bomb", "gzip,gzip"]))
    if how == "gzip":
        case.body = gzip.compress(case.body)
        case.set_header("Content-Encoding", "gzip")
    elif how == "gzip-lie":
        case.set_header("Content-Encoding", "gzip")
    elif how == "deflate":
        case.body = zlib.compress(case.body)
        case.set_header("Content-Encoding", "deflate")
    elif how == "gzip-bomb":
        case.body = gzip.compress(b"\x00" * (40 * 1024 * 1024))
        case.set_header("Content-Encoding", "gzip")
    elif how == "gzip,gzip":
        case.body = gzip.compress(gzip.compress(case.body))
        case.set_header("Content-Encoding", "gzip, gzip")
    else:
        case.set_header("Content-Encoding", {"br": "br", "aws-chunked": "aws-chunked", "identity": "identity",
                                             "junk": "x-\u00e9;;q=2"}[how])


@st.composite
def m_target(draw: Draw, case: Case) -> None:
    current = case.header("X-Amz-Target")
    value = draw(st.sampled_from([
        "", ".", "AmazonSQS.", ".SendMessage", "AmazonSQS.Bogus", "AWSEvents.PutEvents", "Logs_20140328.PutLogEvents",
        "GraniteServiceVersion20100801.PutMetricData", "AmazonSQS.SendMessage.Extra", "amazonsqs.sendmessage",
        "AmazonSQS.ReceiveMessage", "DynamoDB_20120810.ListTables", "x" * 2000, "AmazonSQS.__init__",
        "AmazonSQS.delete_queue", "AWSEvents.__class__", (current or "") + "\u00e9"]))
    case.set_header("X-Amz-Target", value)


@st.composite
def m_auth(draw: Draw, case: Case) -> None:
    scope = draw(st.sampled_from(["s3", "sqs", "sns", "lambda", "events", "logs", "monitoring", "iam", "sts",
                                  "dynamodb", "", "s3/extra"]))
    value = draw(st.one_of(st.sampled_from([
        None, "", "AWS4-HMAC-SHA256", f"AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{scope}/aws4_request",
        f"AWS4-HMAC-SHA256 Credential=/20240101/us-east-1/{scope}/aws4_request, SignedHeaders=, Signature=",
        f"AWS4-HMAC-SHA256 Credential=test/2024/us-east-1/{scope}/aws4_request,SignedHeaders=host,Signature=zz",
        f"AWS4-HMAC-SHA256 Credential=te st/20240101//{scope}/aws4_request, SignedHeaders=a;;b, Signature=00",
        "AWS test:c2lnbmF0dXJl", "AWS :", "AWS", "Bearer x", "AWS4-ECDSA-P256-SHA256 Credential=x",
        f"AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{scope}/aws4_request, "
        f"Credential=other/20240101/us-east-1/{scope}/aws4_request, SignedHeaders=host, Signature=00",
    ]), text(max_size=200).map(lambda t: "AWS4-HMAC-SHA256 " + t)))
    case.set_header("Authorization", value)
    if draw(st.booleans()):
        case.set_header("X-Amz-Date", draw(st.sampled_from(["", "20240101", "99999999T999999Z", "yesterday",
                                                             "Mon, 01 Jan 2024 00:00:00 GMT"])))
    if draw(st.booleans()):
        case.set_header("X-Amz-Security-Token", draw(st.sampled_from(["", "x" * 5000, "\u00e9t\u00e9"])))


# Header mutations any service may meet; S3's own come from _S3_HEADERS.
_ANY_HEADERS: list[tuple[str, list[str]]] = [
    ("Host", ["", "[::1]", "bucket.localhost", "a..b.s3.amazonaws.com", "x.s3.us-east-1.amazonaws.com",
              "-.localhost:1", "127.0.0.1:99999", "\u00e9.localhost", "localhost:abc"]),
    ("Expect", ["100-continue", "bogus"]),
    ("Accept", ["application/cbor", "application/json", "*/*", "text/html"]),
    ("Accept-Encoding", ["gzip", "br", "*"]),
    ("X-Amzn-Trace-Id", ["Root=1-00000000-000000000000000000000000", "garbage", "Root=;Parent=;Sampled=9"]),
    ("x-amzn-query-mode", ["true", "false", "x"]),
    ("smithy-protocol", ["rpc-v2-cbor", "x"]),
    ("Content-MD5", ["", "zzz", "1B2M2Y8AsgTpgAmY7PhCfg=="]),
    ("Range", ["bytes=0-0", "bytes=-1", "bytes=5-1", "bytes=0-99999999999999999999", "bytes=a-b", "items=0-1",
               "bytes=0-1,2-3", "bytes=-0"]),
    ("User-Agent", ["x" * 9000]),
    ("X-Forwarded-For", ["not an ip", "1.2.3.4, 5.6.7.8"]),
]
_S3_HEADERS: list[tuple[str, list[str]]] = [
    ("If-Match", ["*", '"x"', "", "\"\u00e9\""]), ("If-None-Match", ["*", '"x"']),
    ("If-Modified-Since", ["yesterday", "Mon, 01 Jan 2024 00:00:00 GMT", "0"]),
    ("If-Unmodified-Since", ["Tue, 32 Jan 2024 00:00:00 GMT"]),
    ("x-amz-copy-source", ["", "/", "b", "/b/", "pg-a/k?versionId=", "pg-a/%ZZ", "pg-a/k?versionId=null",
                           "%2Fpg-a%2Fk", "/pg-a/../../etc/passwd"]),
    ("x-amz-copy-source-range", ["bytes=0-0", "bytes=9-1"]),
    ("x-amz-metadata-directive", ["REPLACE", "COPY", "bogus"]),
    ("x-amz-meta-a", ["", "\u00e9", "=?UTF-8?B?w6k=?=", "x" * 3000]),
    ("x-amz-tagging", ["a=b", "a=b&a=c", "=", "%zz=1", "a" * 200 + "=1"]),
    ("x-amz-acl", ["public-read", "bogus"]), ("x-amz-storage-class", ["GLACIER", "bogus"]),
    ("x-amz-server-side-encryption", ["AES256", "aws:kms", "bogus"]),
    ("x-amz-checksum-crc32", ["AAAAAA==", "zz"]), ("x-amz-checksum-sha256", ["", "AAAA"]),
    ("x-amz-checksum-algorithm", ["CRC32", "MD5", "bogus"]), ("x-amz-sdk-checksum-algorithm", ["CRC64NVME", "x"]),
    ("x-amz-object-lock-mode", ["GOVERNANCE", "x"]), ("x-amz-object-lock-retain-until-date", ["never"]),
    ("x-amz-bucket-object-lock-enabled", ["true", "maybe"]), ("x-amz-expected-bucket-owner", ["1", "000000000000"]),
    ("x-amz-mfa", ["x y"]), ("x-amz-website-redirect-location", ["/x", "http://x"]),
    ("x-amz-content-sha256", ["zzz", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                              "UNSIGNED-PAYLOAD", "0" * 64]),
    ("x-amz-decoded-content-length", ["-1", "0", "x", "99999999999999999999"]),
    ("x-amz-trailer", ["x-amz-checksum-crc32", "x-amz-checksum-bogus", ""]),
    ("x-amz-version-id", ["null"]), ("x-amz-request-payer", ["requester"]),
]


@st.composite
def m_header(draw: Draw, case: Case) -> None:
    table = _ANY_HEADERS + (_S3_HEADERS if case.service == "s3" else [])
    how = draw(st.sampled_from(["set", "set", "set", "duplicate", "latin1", "drop", "long"]))
    if how == "set":
        name, values = draw(st.sampled_from(table))
        case.set_header(name, draw(st.one_of(st.sampled_from(values), text(max_size=60))))
        case.tags.add(f"header:{name.lower()}")
    elif how == "duplicate" and case.headers:
        name, value = draw(st.sampled_from(case.headers))
        case.headers.append((name, draw(st.one_of(st.just(value), text(max_size=20)))))
        case.tags.add(f"header:{name.lower()}")
    elif how == "latin1":
        name = draw(st.sampled_from(["X-Amz-Meta-A", "Content-Type", "X-Amz-Target", "Authorization"]))
        case.set_header(name, draw(st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0xFF),
                                           min_size=1, max_size=20)))
        case.tags.add(f"header:{name.lower()}")
    elif how == "drop" and case.headers:
        name, _ = draw(st.sampled_from(case.headers))
        case.set_header(name, None)
    else:
        name = draw(st.sampled_from(["X-Amz-Meta-Big", "Cookie", "Authorization", "X-Amz-Target"]))
        case.set_header(name, "a" * draw(st.sampled_from([8 * 1024, 64 * 1024])))
        case.tags.add(f"header:{name.lower()}")


_PATH_BITS = ["%", "%Z", "%ZZ", "%00", "%FF", "%C3", "%ED%A0%80", "%C0%AF", "%2F", "%2e%2e", "..", ".", "//",
              "%0A", "%01", "%7F", "~", "%E2%80%8B", ";", "%3F", "+", "%20", "\u00e9", "a" * 1100]
_S3_SUBRESOURCES = ["acl", "tagging", "versioning", "notification", "delete", "uploads", "versions", "location",
                    "policy", "cors", "lifecycle", "website", "list-type=2", "uploadId=x", "partNumber=0",
                    "versionId=", "versionId=null", "attributes", "restore", "select&select-type=2", "torrent",
                    "max-keys=-1", "max-keys=x", "continuation-token=%%%", "encoding-type=url", "prefix=%FF",
                    "delimiter=", "response-content-type=x", "x-id=PutObject", "X-Amz-Credential=x",
                    "X-Amz-Signature=00&X-Amz-Expires=-1", "AWSAccessKeyId=x&Signature=y&Expires=9"]


@st.composite
def m_path(draw: Draw, case: Case) -> None:
    path, sep, query = case.target.partition("?")
    how = draw(st.sampled_from(["insert", "insert", "replace", "query-add", "query-dup", "query-raw", "method"]))
    if how == "insert":
        at = draw(st.integers(0, len(path)))
        bit = draw(st.sampled_from(_PATH_BITS))
        path = path[:at] + bit + path[at:]
        if bit in ("%FF", "%C3", "%ED%A0%80", "%C0%AF") or "\u00e9" in bit:
            case.tags.add("path:invalid-utf8" if bit != "\u00e9" else "path:raw-non-ascii")
        if bit in ("%00", "%0A", "%01", "%7F"):
            case.tags.add("path:control-char")
    elif how == "replace":
        path = draw(st.sampled_from(["", "*", "/", "//", "/?", "/%", "http://x/y", "/" + "a/" * 600,
                                     "/2015-03-31/functions/", "/2015-03-31/functions/%00/invocations",
                                     "/service/GraniteServiceVersion20100801/operation/",
                                     "/service//operation/ListMetrics", "/_sluice/../pg-a"]))
    elif how == "query-add":
        extra = draw(st.one_of(st.sampled_from(_S3_SUBRESOURCES),
                               st.builds(lambda k, v: f"{quote(k)}={quote(v)}", text(1, 10), text(max_size=10))))
        query = f"{query}&{extra}" if query else extra
        sep = "?"
        if extra.startswith("Action="):
            case.tags.add("query:action")
    elif how == "query-dup" and query:
        first = query.split("&")[0]
        query = f"{query}&{first}"
        if first.startswith("Action="):
            case.tags.add("query:repeated-action")
    elif how == "query-raw":
        query = (query + "&" if query else "") + draw(st.sampled_from(
            ["%", "%zz", "a=%ff", "&&", "=", "a==b", "Action=ListQueues", "Action=ListQueues&Action=DeleteQueue",
             "x" * 9000, "a[]=1", "\u00e9=1"]))
        sep = "?"
        if "Action=ListQueues&Action" in query:
            case.tags.add("query:repeated-action")
    else:
        case.method = draw(st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE",
                                            "CONNECT", "PROPFIND", "get", "X" * 40]))
    case.target = path + (sep + query if sep or query else "")


@st.composite
def framing(draw: Draw, case: Case) -> None:
    # Mostly a plain Content-Length (the first choice is also what shrinking goes back to).
    case.framing = draw(st.sampled_from(["length"] * 10 + ["chunked", "chunked", "none", "short", "eof-early",
                                                           "huge"]))
    if case.framing == "length":
        return
    if case.framing == "chunked":
        case.chunk_sizes = draw(st.lists(st.integers(1, 4096), max_size=6))
    elif case.framing == "huge":
        case.length_value = draw(st.sampled_from(["9223372036854775808", "9223372036854775807",
                                                  "99999999999999999999999", "1e3", "-1", "+5", "0x10", " 5",
                                                  "5, 6", "4294967296"]))
    case.mutations.append(f"framing:{case.framing}")


MUTATORS: dict[str, Callable[[Case], st.SearchStrategy[None]]] = {
    "json": m_json, "form": m_form, "xml": m_xml, "bytes": m_bytes, "oversize": m_oversize,
    "content-type": m_content_type, "encoding": m_encoding, "target": m_target, "auth": m_auth,
    "header": m_header, "path": m_path,
}
# Structural mutations more often than blunt ones: they keep a request parseable one level deeper.
_BLUNT = ["bytes", "bytes", "header", "header", "path", "path", "content-type", "encoding", "target", "auth",
          "oversize"]


def _mutations_for(body: bytes) -> list[str]:
    """The mutations worth drawing for this body: structural ones only where they apply."""
    head = body.lstrip()[:1]
    if head in (b"{", b"["):
        return ["json"] * 6 + _BLUNT
    if head == b"<":
        return ["xml"] * 5 + _BLUNT
    if b"=" in body:
        return ["form"] * 6 + _BLUNT
    return _BLUNT


@st.composite
def fuzz_case(draw: Draw, spec: ServiceSpec, extra: st.SearchStrategy[Case] | None = None) -> Case:
    """One request: valid (about a quarter of them), or valid and then mutated."""
    tags: set[str] = set()
    TAGS.current = tags
    try:
        if extra is not None and draw(st.integers(0, 9)) == 0:
            case = draw(extra)
        else:
            case = draw(valid_request(spec))
        # About a third valid as serialized; shrinking goes towards fewer mutations.
        count = draw(st.sampled_from([0, 1, 1, 2, 2, 3]))
        mutations = draw(st.lists(st.sampled_from(_mutations_for(case.body)), min_size=count, max_size=count))
        for name in mutations:
            draw(MUTATORS[name](case))
            case.mutations.append(name)
        draw(framing(case))
    finally:
        TAGS.current = None
    case.tags |= tags
    return case
