"""S3 keys on the wire (issue 11, defect 7), with raw HTTP and boto3.

A key with control characters is accepted, as AWS accepts it, and listed as AWS lists it:
url-encoded with EncodingType=url (what SDKs ask for), as character references (`a&#x1;b`)
without it, never as a raw byte that no XML parser can read.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, unquote_plus

import pytest

from .s3_raw import send

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# Every C0 control character, DEL, and neighbours that must keep working.
CONTROL_KEYS = [f"ctl/{chr(c)}.{c}" for c in range(0x20)] + ["ctl/\x7f.127", "ctl/plain", "ctl/é ü+&<>"]


def _path(bucket: str, key: str) -> str:
    return f"/{bucket}/" + quote(key, safe="/")


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
