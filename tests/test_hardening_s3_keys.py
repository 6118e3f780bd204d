"""S3 keys on the wire (issue 11, defects 4 and 7), with raw HTTP and boto3.

A key, prefix, marker or copy source that does not decode to UTF-8 is refused (before, `k%FF`
and `k%FE` both became `k\\ufffd` and the second upload overwrote the first). A key with control
characters is accepted, as AWS accepts it, and listed as AWS lists it: url-encoded with
EncodingType=url (what SDKs ask for), as character references (`a&#x1;b`) without it, never as a
raw byte that no XML parser can read.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, unquote_plus

import pytest

from .s3_raw import form_signature, send

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# Every C0 control character, DEL, and neighbours that must keep working.
CONTROL_KEYS = [f"ctl/{chr(c)}.{c}" for c in range(0x20)] + ["ctl/\x7f.127", "ctl/plain", "ctl/é ü+&<>"]


def _path(bucket: str, key: str) -> str:
    return f"/{bucket}/" + quote(key, safe="/")


# -- defect 4: bytes that are not UTF-8 ------------------------------------------------------


def test_keys_that_are_not_utf8_are_refused_and_never_merged(endpoint: str, s3: Any, bucket: str) -> None:
    for suffix in ("%FF", "%FE", "%C3", "%C3%28", "%ED%A0%80"):  # stray, truncated, overlong, surrogate
        answer = send(endpoint, "PUT", f"/{bucket}/k{suffix}", body=b"data")
        assert answer.status == 400, suffix
        err = answer.error()
        assert (err["Code"], err["Message"]) == ("InvalidURI", "Couldn't parse the specified URI."), suffix
        assert err["URI"] == f"/{bucket}/k{suffix}"
    for method in ("GET", "HEAD", "DELETE"):
        assert send(endpoint, method, f"/{bucket}/k%FF").status == 400
    assert send(endpoint, "PUT", f"/{bucket}/k%FF?tagging",
                body=b"<Tagging><TagSet/></Tagging>").status == 400
    assert s3.list_objects_v2(Bucket=bucket).get("Contents") is None

    # What is UTF-8 works as before, including U+FFFD itself.
    for key in ("k\ufffd", "kÿ", "日本/😀 x"):
        assert send(endpoint, "PUT", _path(bucket, key), body=key.encode()).status == 200
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == sorted(
        ["k\ufffd", "kÿ", "日本/😀 x"])
    assert s3.get_object(Bucket=bucket, Key="kÿ")["Body"].read() == "kÿ".encode()


@pytest.mark.parametrize("query", [
    "list-type=2&prefix=%FF", "list-type=2&delimiter=%FE", "list-type=2&start-after=%C3",
    "prefix=%FF", "marker=%FF", "versions&key-marker=%FF", "versions&prefix=a%FFb", "uploads&prefix=%FF",
    "uploads&key-marker=%FE", "list-type=2&%FF=1",
])
def test_query_parameters_that_are_not_utf8_are_refused(endpoint: str, bucket: str, query: str) -> None:
    answer = send(endpoint, "GET", f"/{bucket}?{query}")
    assert answer.status == 400
    assert answer.error()["Code"] == "InvalidURI"


def test_copy_source_that_is_not_utf8_is_refused(endpoint: str, s3: Any, bucket: str) -> None:
    # An object the broken decoding would have copied: U+FFFD is what %FF used to become.
    s3.put_object(Bucket=bucket, Key="src\ufffd", Body=b"not this one")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    for path in (f"/{bucket}/copy", f"/{bucket}/mp?partNumber=1&uploadId={upload}"):
        answer = send(endpoint, "PUT", path, {"x-amz-copy-source": f"/{bucket}/src%FF"})
        assert answer.status == 400, path
        err = answer.error()
        assert (err["Code"], err["Message"]) == ("InvalidArgument", "Invalid copy source encoding")
        assert (err["ArgumentName"], err["ArgumentValue"]) == ("x-amz-copy-source", f"/{bucket}/src%FF")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["src\ufffd"]
    # A UTF-8 copy source still copies.
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src\ufffd"})
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"not this one"


def test_tagging_header_that_is_not_utf8_is_refused(endpoint: str, s3: Any, bucket: str) -> None:
    answer = send(endpoint, "PUT", f"/{bucket}/tagged", {"x-amz-tagging": "a=%FF"}, body=b"x")
    assert answer.status == 400
    assert (answer.error()["Code"], answer.error()["ArgumentName"]) == ("InvalidArgument", "x-amz-tagging")
    assert s3.list_objects_v2(Bucket=bucket).get("Contents") is None


def _form(fields: list[tuple[str, bytes]], filename: bytes) -> tuple[dict[str, str], bytes]:
    boundary = uuid.uuid4().hex
    parts = [b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
             + value + b"\r\n" for name, value in fields]
    parts.append(b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="file"; filename="'
                 + filename + b'"\r\n\r\nform body\r\n--' + boundary.encode() + b"--\r\n")
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, b"".join(parts)


def test_form_key_that_is_not_utf8_is_refused(endpoint: str, s3: Any, bucket: str) -> None:
    for key, filename in ((b"form/k\xff", b"f.txt"), (b"form/${filename}", b"f\xfe.txt")):
        headers, body = _form([("key", key)], filename)
        answer = send(endpoint, "POST", f"/{bucket}", headers, body, signed=False)
        assert answer.status == 400, key
        assert answer.error()["Code"] == "MalformedPOSTRequest"
    assert s3.list_objects_v2(Bucket=bucket).get("Contents") is None
    # Signed with the default key: an anonymous form may not write to a private bucket.
    policy = base64.b64encode(json.dumps({"expiration": "2100-01-01T00:00:00Z", "conditions": [
        {"bucket": bucket}, ["starts-with", "$key", "form/"]]}).encode()).decode()
    signed = [(name, value.encode()) for name, value in [("policy", policy), *form_signature(policy)]]
    headers, body = _form([("key", "form/ü-${filename}".encode()), *signed], "é.txt".encode())
    assert send(endpoint, "POST", f"/{bucket}", headers, body, signed=False).status == 204
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["form/ü-é.txt"]


# -- defect 7: control characters in listings ------------------------------------------------

_REFERENCE = re.compile(r"&#x([0-9a-fA-F]+);")
_PLACEHOLDER = 0xF0000  # a private-use plane: never in these keys


def _parse_references(body: bytes) -> ET.Element:
    """Parse XML that carries S3's references to characters XML 1.0 forbids (`&#x1;`): each
    becomes a private-use stand-in for ElementTree, then is put back by `_restore`."""
    def swap(m: re.Match[str]) -> str:
        code = int(m.group(1), 16)
        allowed = code in (0x9, 0xA, 0xD) or code >= 0x20
        return m.group(0) if allowed else chr(_PLACEHOLDER + code)
    return ET.fromstring(_REFERENCE.sub(swap, body.decode("utf-8")))


def _restore(text: str) -> str:
    return "".join(chr(ord(c) - _PLACEHOLDER) if _PLACEHOLDER <= ord(c) < _PLACEHOLDER + 0x20 else c for c in text)


def _assert_no_raw_control_bytes(body: bytes) -> None:
    raw = sorted({b for b in body if b < 0x20 and b not in (0x9, 0xA, 0xD)})
    assert raw == [], f"raw control bytes in XML: {raw}"


@pytest.fixture
def control_bucket(endpoint: str, bucket: str) -> str:
    for key in CONTROL_KEYS:
        answer = send(endpoint, "PUT", _path(bucket, key), body=key.encode())
        assert answer.status == 200, repr(key)
    return bucket


@pytest.mark.parametrize("listing, element", [
    ("list-type=2", "Contents"), ("", "Contents"), ("versions", "Version"),
])
def test_raw_listing_writes_control_characters_as_aws_does(endpoint: str, control_bucket: str, listing: str,
                                                            element: str) -> None:
    answer = send(endpoint, "GET", f"/{control_bucket}?{listing}")
    assert answer.status == 200
    _assert_no_raw_control_bytes(answer.body)
    assert b"<Key>ctl/&#x0;.0</Key>" in answer.body and b"<Key>ctl/&#x1f;.31</Key>" in answer.body
    assert b"<Key>ctl/&#9;.9</Key>" in answer.body and b"<Key>ctl/&#13;.13</Key>" in answer.body
    root = _parse_references(answer.body)
    keys = [_restore(e.findtext(f"{NS}Key") or "") for e in root.iter(f"{NS}{element}")]
    assert sorted(keys) == sorted(CONTROL_KEYS)


@pytest.mark.parametrize("listing, element", [
    ("list-type=2", "Contents"), ("", "Contents"), ("versions", "Version"),
])
def test_url_encoded_listing_is_plain_xml(endpoint: str, control_bucket: str, listing: str, element: str) -> None:
    answer = send(endpoint, "GET", f"/{control_bucket}?{listing}&encoding-type=url&prefix=ctl%2F&delimiter=%00")
    assert answer.status == 200
    root = ET.fromstring(answer.body)  # plain XML 1.0: any parser reads it
    assert root.findtext(f"{NS}EncodingType") == "url"
    assert (root.findtext(f"{NS}Prefix"), root.findtext(f"{NS}Delimiter")) == ("ctl/", "%00")
    keys = [unquote_plus(e.findtext(f"{NS}Key") or "") for e in root.iter(f"{NS}{element}")]
    prefixes = [unquote_plus(p.findtext(f"{NS}Prefix") or "") for p in root.iter(f"{NS}CommonPrefixes")]
    assert prefixes == ["ctl/\x00"]
    assert sorted(keys + ["ctl/\x00.0"]) == sorted(CONTROL_KEYS)


def test_errors_name_a_control_character_key_as_a_reference(endpoint: str, bucket: str) -> None:
    answer = send(endpoint, "GET", f"/{bucket}/missing%01%00")
    assert answer.status == 404
    _assert_no_raw_control_bytes(answer.body)
    assert b"<Key>missing&#x1;&#x0;</Key>" in answer.body
    assert _restore(_parse_references(answer.body).findtext("Key") or "") == "missing\x01\x00"


def test_boto3_lists_and_reads_control_character_keys(s3: Any, control_bucket: str) -> None:
    """boto3 asks for EncodingType=url and decodes: every key comes back exactly, and opens."""
    v2 = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=control_bucket, MaxKeys=7)
          for o in page.get("Contents", [])]
    v1 = [o["Key"] for o in s3.list_objects(Bucket=control_bucket)["Contents"]]
    versions = [v["Key"] for v in s3.list_object_versions(Bucket=control_bucket)["Versions"]]
    delimited = s3.list_objects_v2(Bucket=control_bucket, Prefix="ctl/", Delimiter="\x01")
    assert sorted(v2) == sorted(v1) == sorted(versions) == sorted(CONTROL_KEYS)
    assert [p["Prefix"] for p in delimited["CommonPrefixes"]] == ["ctl/\x01"]
    for key in CONTROL_KEYS:
        assert s3.get_object(Bucket=control_bucket, Key=key)["Body"].read() == key.encode()


def test_multipart_uploads_list_control_character_keys(endpoint: str, bucket: str) -> None:
    keys = ["up/\x00a", "up/\x01b", "up/\x01c", "up/\x1fd"]
    for key in keys:
        started = send(endpoint, "POST", _path(bucket, key) + "?uploads")
        assert started.status == 200
        _assert_no_raw_control_bytes(started.body)
    encoded = send(endpoint, "GET", f"/{bucket}?uploads&encoding-type=url&prefix=up%2F&delimiter=%01")
    root = ET.fromstring(encoded.body)
    assert root.findtext(f"{NS}EncodingType") == "url"
    listed = [unquote_plus(u.findtext(f"{NS}Key") or "") for u in root.iter(f"{NS}Upload")]
    assert sorted(listed) == ["up/\x00a", "up/\x1fd"]
    assert [unquote_plus(p.findtext(f"{NS}Prefix") or "") for p in root.iter(f"{NS}CommonPrefixes")] == ["up/\x01"]
    plain = send(endpoint, "GET", f"/{bucket}?uploads")
    _assert_no_raw_control_bytes(plain.body)
    listed = [_restore(u.findtext(f"{NS}Key") or "") for u in _parse_references(plain.body).iter(f"{NS}Upload")]
    assert sorted(listed) == keys
