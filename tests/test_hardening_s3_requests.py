"""S3 requests that must be refused as AWS refuses them (issue 11, defect 8, S3's part).

Request documents whose root is not the element S3's schema names, or that are missing, or that
leave out what the schema requires, get 400 MalformedXML and change nothing (before: 200, and a
`<Foo>` document could delete objects; `PUT /b/k?tagging` with no body got a 500). An invalid
x-amz-content-sha256, x-amz-decoded-content-length or x-amz-trailer gets S3's error, and nothing
is stored.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import make_client
from .s3_raw import send
from .server import SluiceProcess

MALFORMED = ("MalformedXML", "The XML you provided was not well-formed or did not validate against our published "
             "schema")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("s3strict") / "data").start()
    yield proc
    proc.stop()
    log = proc.log_path.read_text()
    assert "Traceback" not in log, log[-4000:]


@pytest.fixture
def s3(server: SluiceProcess) -> Any:
    return make_client("s3", server.endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"strict-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"kept", Tagging="before=1")
    return name


def _state(s3: Any, bucket: str) -> dict[str, Any]:
    return {
        "keys": [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])],
        "object tags": s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"],
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "notifications": {k: v for k, v in s3.get_bucket_notification_configuration(Bucket=bucket).items()
                          if k != "ResponseMetadata"},
    }


DOCUMENTS = {
    "PUT ?notification": ("PUT", "?notification"),
    "PUT ?versioning": ("PUT", "?versioning"),
    "PUT k?tagging": ("PUT", "/k?tagging"),
    "POST ?delete": ("POST", "?delete"),
}
BODIES = {
    "empty": b"",
    "blank": b"  \n ",
    "wrong root": b"<Foo><Status>Enabled</Status><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet>"
                  b"<Object><Key>k</Key></Object><QueueConfiguration/></Foo>",
    "another operation's root": b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                                b"<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>",
    "not XML": b"Status=Enabled",
}


@pytest.mark.parametrize("operation", DOCUMENTS)
@pytest.mark.parametrize("body", BODIES)
def test_documents_s3_cannot_read_are_malformed(server: SluiceProcess, s3: Any, bucket: str, operation: str,
                                                body: str) -> None:
    method, where = DOCUMENTS[operation]
    before = _state(s3, bucket)
    answer = send(server.endpoint, method, f"/{bucket}{where}", body=BODIES[body])
    assert answer.status == 400, answer.body
    err = answer.error()
    assert (err["Code"], err["Message"]) == MALFORMED
    assert _state(s3, bucket) == before


@pytest.mark.parametrize("body", [
    b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",  # a Tag needs its Value
    b"<Tagging><Junk/></Tagging>",  # and Tagging its TagSet
])
def test_documents_missing_what_the_schema_requires_are_malformed(server: SluiceProcess, s3: Any, bucket: str,
                                                                  body: bytes) -> None:
    before = _state(s3, bucket)
    answer = send(server.endpoint, "PUT", f"/{bucket}/k?tagging", body=body)
    assert (answer.status, answer.error()["Code"]) == (400, "MalformedXML")
    assert send(server.endpoint, "POST", f"/{bucket}?delete", body=b"<Delete><Quiet>true</Quiet></Delete>").status == 400
    assert _state(s3, bucket) == before


def test_well_formed_documents_still_work(server: SluiceProcess, s3: Any, bucket: str) -> None:
    # With or without S3's namespace, as clients send both.
    ns = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    assert send(server.endpoint, "PUT", f"/{bucket}/k?tagging",
                body=b"<Tagging><TagSet><Tag><Key>a</Key><Value/></Tag></TagSet></Tagging>").status == 200
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "a", "Value": ""}]
    answer = send(server.endpoint, "PUT", f"/{bucket}?versioning",
                  body=f"<VersioningConfiguration{ns}><Status>Enabled</Status></VersioningConfiguration>".encode())
    assert answer.status == 200
    assert send(server.endpoint, "PUT", f"/{bucket}?notification", body=b"<NotificationConfiguration/>").status == 200
    answer = send(server.endpoint, "POST", f"/{bucket}?delete",
                  body=f"<Delete{ns}><Object><Key>k</Key></Object></Delete>".encode())
    assert answer.status == 200
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.list_objects_v2(Bucket=bucket).get("Contents") is None
    s3.put_object(Bucket=bucket, Key="k", Body=b"again")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "after", "Value": "2"}]})
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "gone"}]})


def test_empty_object_tagging_body_is_malformed_not_a_500(server: SluiceProcess, bucket: str) -> None:
    answer = send(server.endpoint, "PUT", f"/{bucket}/k?tagging")
    assert answer.status == 400
    assert answer.error()["Code"] == "MalformedXML"
    assert "Traceback" not in server.log_path.read_text()


# -- payload headers -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["zzz", "e3b0c44298fc1c149afbf4c8996fb924", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4"
                                   "649B934CA495991B7852B855", "streaming-unsigned-payload-trailer", ""])
def test_invalid_content_sha256_is_refused(server: SluiceProcess, s3: Any, bucket: str, value: str) -> None:
    for method, path, body in (("PUT", f"/{bucket}/new", b"data"), ("GET", f"/{bucket}/k", b""),
                               ("GET", f"/{bucket}?list-type=2", b"")):
        answer = send(server.endpoint, method, path, {"x-amz-content-sha256": value}, body)
        assert answer.status == 400, (method, path)
        err = answer.error()
        assert err["Code"] == "InvalidArgument"
        assert err["Message"].startswith("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, ")
        assert (err["ArgumentName"], err["ArgumentValue"]) == ("x-amz-content-sha256", value)
    assert "new" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]


def test_valid_content_sha256_values_are_accepted(server: SluiceProcess, s3: Any, bucket: str) -> None:
    for i, value in enumerate(["UNSIGNED-PAYLOAD", hashlib.sha256(b"data").hexdigest()]):
        assert send(server.endpoint, "PUT", f"/{bucket}/ok{i}", {"x-amz-content-sha256": value}, b"data").status == 200
    assert s3.get_object(Bucket=bucket, Key="ok1")["Body"].read() == b"data"


def _chunked(server: SluiceProcess, bucket: str, key: str, headers: dict[str, str], trailer: bytes = b"") -> Any:
    body = b"4\r\ndata\r\n0\r\n" + trailer + b"\r\n"
    return send(server.endpoint, "PUT", f"/{bucket}/{key}", {
        "Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        **headers}, body)


@pytest.mark.parametrize("length", ["-1", "abc", "4.0", "+4", "", None])
def test_decoded_content_length_must_be_a_length(server: SluiceProcess, s3: Any, bucket: str,
                                                 length: str | None) -> None:
    headers = {} if length is None else {"x-amz-decoded-content-length": length}
    answer = _chunked(server, bucket, "chunked", headers)
    assert answer.status == 411
    err = answer.error()
    assert (err["Code"], err["Message"]) == ("MissingContentLength", "You must provide the Content-Length HTTP header.")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="chunked")
    assert _chunked(server, bucket, "chunked", {"x-amz-decoded-content-length": "4"}).status == 200
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"data"


@pytest.mark.parametrize("trailer", ["x-amz-checksum-foo", "x-amz-checksum-crc32,x-amz-checksum-sha1", "content-md5"])
def test_unknown_trailer_is_refused(server: SluiceProcess, s3: Any, bucket: str, trailer: str) -> None:
    answer = _chunked(server, bucket, "trailed", {"x-amz-decoded-content-length": "4", "x-amz-trailer": trailer},
                      f"{trailer.split(',')[0]}:AAAAAA==\r\n".encode())
    assert answer.status == 400
    err = answer.error()
    assert (err["Code"], err["Message"]) == ("InvalidRequest",
                                             "The value specified in the x-amz-trailer header is not supported")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="trailed")
    good = _chunked(server, bucket, "trailed", {"x-amz-decoded-content-length": "4",
                                                "x-amz-trailer": "x-amz-checksum-crc32"},
                    f"x-amz-checksum-crc32:{base64.b64encode(zlib.crc32(b'data').to_bytes(4, 'big')).decode()}\r\n"
                    .encode())
    assert good.status == 200, good.body
