"""S3 CORS: Put/Get/DeleteBucketCors with AWS's validation, preflight OPTIONS answered unsigned as S3
answers them, Access-Control-* headers on actual requests (presigned ones included), and a browser-
style upload (preflight, then a presigned PUT from an Origin) that triggers a function."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsCli, make_client, wait_for
from .lambda_helpers import create, read_jsonl
from .server import SluiceProcess

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
SITE = "http://localhost:5173"
NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
               "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
               "whitelisted by the resource's CORS spec.")


def http(method: str, url: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP request as a browser sends it: no signature; (status, lower-cased headers, body)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def error_of(body: bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(body)}


def cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("access-control-") or k == "vary"}


def refusal(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


RULES = [
    {"ID": "site", "AllowedOrigins": [SITE, "https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag", "x-amz-request-id"],
     "MaxAgeSeconds": 3000},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]


# -- configuration ---------------------------------------------------------------------------


def test_cors_configuration_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert refusal(exc) == (404, "NoSuchCORSConfiguration", "The CORS configuration does not exist")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert refusal(exc)[1] == "NoSuchCORSConfiguration"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_cors(Bucket=bucket + "-none", CORSConfiguration={"CORSRules": RULES})
    assert refusal(exc)[1] == "NoSuchBucket"


@pytest.mark.parametrize(("rule", "message"), [
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PATCH"]},
     "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["get"]},
     "Found unsupported HTTP method in CORS config. Unsupported method is get"),
    ({"AllowedOrigins": ["https://*.example.*"], "AllowedMethods": ["GET"]},
     'AllowedOrigin "https://*.example.*" can not have more than one wildcard.'),
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-meta-*"]},
     'AllowedHeader "x-*-meta-*" can not have more than one wildcard.'),
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "ExposeHeaders": ["x-amz-*"]},
     'ExposeHeader "x-amz-*" contains wildcard. We currently do not support wildcard for ExposeHeader.'),
])
def test_invalid_rules_are_refused_as_aws_does(s3: Any, bucket: str, rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    assert refusal(exc) == (400, "InvalidRequest", message)


def test_rule_count_and_id_length_are_schema_errors(s3: Any, bucket: str) -> None:
    rule = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule] * 100})
    for rules in ([rule] * 101, [{**rule, "ID": "x" * 256}], [{**rule, "MaxAgeSeconds": -1}]):
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        assert refusal(exc)[:2] == (400, "MalformedXML")
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100


def test_cli_puts_gets_and_deletes_cors(aws_cli: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    doc = tmp_path / "cors.json"
    doc.write_text(json.dumps({"CORSRules": RULES}))
    aws_cli("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", f"file://{doc}")
    out = json.loads(aws_cli("s3api", "get-bucket-cors", "--bucket", bucket).stdout)
    assert out["CORSRules"] == RULES
    aws_cli("s3api", "delete-bucket-cors", "--bucket", bucket)
    proc = aws_cli("s3api", "get-bucket-cors", "--bucket", bucket, check=False)
    assert proc.returncode != 0 and "NoSuchCORSConfiguration" in proc.stderr


# -- preflight -------------------------------------------------------------------------------


def test_preflight_refusals(endpoint: str, s3: Any, bucket: str) -> None:
    url = f"{endpoint}/{bucket}/photo.jpg"
    status, _, body = http("OPTIONS", url)
    assert (status, error_of(body)["Code"], error_of(body)["Message"]) == (
        400, "BadRequest", "Insufficient information. Origin request header needed.")
    status, _, body = http("OPTIONS", url, {"Origin": SITE})
    assert (status, error_of(body)["Message"]) == (400, "Invalid Access-Control-Request-Method: null")
    status, _, body = http("OPTIONS", url, {"Origin": SITE, "Access-Control-Request-Method": "PATCH"})
    assert (status, error_of(body)["Message"]) == (400, "Invalid Access-Control-Request-Method: PATCH")
    # A bucket without a configuration.
    status, headers, body = http("OPTIONS", url, {"Origin": SITE, "Access-Control-Request-Method": "PUT"})
    err = error_of(body)
    assert status == 403 and not cors_headers(headers)
    assert (err["Code"], err["Message"], err["Method"], err["ResourceType"]) == (
        "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", "PUT", "OBJECT")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    for headers_sent in (
        {"Origin": "http://evil.test", "Access-Control-Request-Method": "PUT"},  # no rule for the origin
        {"Origin": SITE, "Access-Control-Request-Method": "DELETE"},  # nor the method
        {"Origin": SITE.upper(), "Access-Control-Request-Method": "PUT"},  # origins are case-sensitive
        {"Origin": SITE, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"},
        {"Origin": "http://evil.test", "Access-Control-Request-Method": "GET",  # '*' rule has no AllowedHeader
         "Access-Control-Request-Headers": "content-type"},
    ):
        status, headers, body = http("OPTIONS", f"{endpoint}/{bucket}", headers_sent)
        err = error_of(body)
        assert (status, err["Code"], err["Message"], err["ResourceType"]) == (
            403, "AccessForbidden", NOT_ALLOWED, "BUCKET"), headers_sent
        assert not cors_headers(headers)


def test_preflight_grants(endpoint: str, s3: Any, bucket: str) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    status, headers, body = http("OPTIONS", f"{endpoint}/{bucket}/any/key.txt", {
        "Origin": SITE, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type,, X-Amz-Meta-Owner"})
    assert (status, body) == (200, b"")
    assert cors_headers(headers) == {
        "access-control-allow-origin": SITE,
        "access-control-allow-methods": "GET, PUT",
        "access-control-allow-headers": "content-type, x-amz-meta-owner",
        "access-control-expose-headers": "ETag, x-amz-request-id",
        "access-control-max-age": "3000",
        "access-control-allow-credentials": "true",
        "vary": VARY,
    }
    # A wildcard origin echoes the Origin; the literal '*' answers '*' without credentials.
    _, headers, _ = http("OPTIONS", f"{endpoint}/{bucket}", {
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    _, headers, _ = http("OPTIONS", f"{endpoint}/{bucket}", {
        "Origin": "http://elsewhere.test", "Access-Control-Request-Method": "HEAD"})
    assert cors_headers(headers) == {"access-control-allow-origin": "*", "access-control-allow-methods": "GET, HEAD",
                                     "vary": VARY}
    # Preflights are never signed: a bogus Authorization header changes nothing.
    status, headers, _ = http("OPTIONS", f"{endpoint}/{bucket}", {
        "Origin": SITE, "Access-Control-Request-Method": "GET", "Authorization": "AWS fake:signature"})
    assert status == 200 and headers["access-control-allow-origin"] == SITE


def test_preflight_on_virtual_host_and_missing_bucket(endpoint: str, s3: Any, bucket: str) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    port = endpoint.rsplit(":", 1)[1]
    status, headers, _ = http("OPTIONS", f"{endpoint}/k", {
        "Host": f"{bucket}.s3.localhost:{port}", "Origin": SITE, "Access-Control-Request-Method": "PUT"})
    assert status == 200 and headers["access-control-allow-origin"] == SITE
    status, _, body = http("OPTIONS", f"{endpoint}/{bucket}-gone/k", {
        "Origin": SITE, "Access-Control-Request-Method": "PUT"})
    assert (status, error_of(body)["Code"]) == (403, "AccessForbidden")


# -- actual requests -------------------------------------------------------------------------


def test_actual_requests_carry_the_grant(endpoint: str, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.txt"})
    # No configuration: no header, whatever the Origin.
    status, headers, _ = http("GET", get_url, {"Origin": SITE})
    assert status == 200 and not cors_headers(headers)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    status, headers, body = http("GET", get_url, {"Origin": SITE})
    assert (status, body) == (200, b"hello")
    assert cors_headers(headers) == {
        "access-control-allow-origin": SITE, "access-control-allow-methods": "GET, PUT",
        "access-control-expose-headers": "ETag, x-amz-request-id", "access-control-max-age": "3000",
        "access-control-allow-credentials": "true", "vary": VARY}
    # Without an Origin, or from an origin no rule names for the method: nothing.
    assert not cors_headers(http("GET", get_url)[1])
    assert not cors_headers(http("DELETE", f"{endpoint}/{bucket}/other.txt", {"Origin": SITE})[1])
    # Errors carry the grant too, so the page can read them.
    missing = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "nope"})
    status, headers, _ = http("GET", missing, {"Origin": "http://elsewhere.test"})
    assert status == 404 and headers["access-control-allow-origin"] == "*"
    # boto3's own requests with an Origin header.
    client = make_client("s3", endpoint)
    seen: dict[str, str] = {}
    client.meta.events.register("before-sign.s3.GetObject",
                                lambda request, **_: request.headers.__setitem__("Origin", "https://x.example.com"))
    client.meta.events.register("after-call.s3.GetObject",
                                lambda http_response, **_: seen.update(http_response.headers))
    client.get_object(Bucket=bucket, Key="a.txt")["Body"].read()
    assert seen["access-control-allow-origin"] == "https://x.example.com"


# -- a browser upload that triggers a function -----------------------------------------------


def test_browser_upload_triggers_a_function(endpoint: str, s3: Any, bucket: str, tmp_path: Path) -> None:
    lam = make_client("lambda", endpoint)
    out = tmp_path / "events.jsonl"
    name = create(lam, """
        import json, os

        def handler(event, context):
            with open(os.environ["OUT"], "a") as f:
                f.write(json.dumps(event) + "\\n")
    """, Environment={"Variables": {"OUT": str(out)}})
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:Put"]}]})
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": [SITE], "AllowedMethods": ["PUT"], "AllowedHeaders": ["content-type"],
         "ExposeHeaders": ["ETag"]}]})
    # The page's server hands out a presigned PUT; the browser asks first, then uploads.
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "uploads/photo.png",
                                                          "ContentType": "image/png"}, ExpiresIn=300)
    status, headers, _ = http("OPTIONS", url, {"Origin": SITE, "Access-Control-Request-Method": "PUT",
                                               "Access-Control-Request-Headers": "content-type"})
    assert status == 200
    assert (headers["access-control-allow-origin"], headers["access-control-allow-methods"],
            headers["access-control-allow-headers"]) == (SITE, "PUT", "content-type")
    status, headers, _ = http("PUT", url, {"Origin": SITE, "Content-Type": "image/png"}, b"\x89PNG...")
    assert status == 200
    assert headers["access-control-allow-origin"] == SITE and headers["access-control-expose-headers"] == "ETag"
    assert headers["etag"]
    events = wait_for(lambda: read_jsonl(out), timeout=60)
    (record,) = events[0]["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "uploads/photo.png" and record["s3"]["object"]["size"] == 7


# -- with signatures verified and IAM enforced ------------------------------------------------


def test_preflight_needs_no_signature_where_everything_else_does(tmp_path: Path) -> None:
    server = SluiceProcess(tmp_path / "data", "--enforce-iam", "--verify-signatures").start()
    try:
        s3 = make_client("s3", server.endpoint, signature_version="s3v4")  # as the JS SDK v3 presigns
        s3.create_bucket(Bucket="site-uploads")
        s3.put_bucket_cors(Bucket="site-uploads", CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": [SITE], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]}]})
        url = f"{server.endpoint}/site-uploads/a.txt"
        status, headers, _ = http("OPTIONS", url, {"Origin": SITE, "Access-Control-Request-Method": "PUT",
                                                   "Access-Control-Request-Headers": "content-type, x-amz-date"})
        assert status == 200
        assert headers["access-control-allow-headers"] == "content-type, x-amz-date"
        # The unsigned upload itself is refused, and the refusal is readable by the page.
        status, headers, body = http("PUT", url, {"Origin": SITE}, b"x")
        assert (status, error_of(body)["Code"]) == (403, "AccessDenied")
        assert headers["access-control-allow-origin"] == SITE
        presigned = s3.generate_presigned_url("put_object", Params={"Bucket": "site-uploads", "Key": "a.txt"})
        status, headers, body = http("PUT", presigned, {"Origin": SITE}, b"x")
        assert status == 200 and headers["access-control-allow-origin"] == SITE, body
    finally:
        server.stop()
