"""Defects the protocol fuzzer (tests/fuzz) found, each pinned by the request that showed it."""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ET
from urllib.parse import urlencode, urlsplit

import pytest

from .server import SluiceProcess


def _post_form(endpoint: str, signing_name: str, fields: dict[str, str]) -> tuple[int, bytes]:
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("POST", "/", body=urlencode(fields).encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{signing_name}/aws4_request, "
                             "SignedHeaders=host, Signature=" + "0" * 64,
        })
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(("signing_name", "fields", "code"), [
    # IAM's length check echoes the value it refused.
    ("iam", {"Action": "DeletePolicy", "Version": "2010-05-08", "PolicyArn": "\x08"}, "ValidationError"),
    # Every query service echoes an unknown action.
    ("sns", {"Action": "Publish\x01", "Version": "2010-03-31"}, "InvalidAction"),
    ("sts", {"Action": "GetCallerIdentity\x1f\x00", "Version": "2011-06-15"}, "InvalidAction"),
])
def test_query_errors_echoing_control_characters_are_well_formed_xml(
        sluice: SluiceProcess, signing_name: str, fields: dict[str, str], code: str) -> None:
    status, body = _post_form(sluice.endpoint, signing_name, fields)
    assert status == 400
    # Before: the character went out raw and no XML parser (botocore's included) could read the
    # error at all.
    root = ET.fromstring(body)
    ns = {"a": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
    found = root.find("a:Error/a:Code", ns) if ns else root.find("Error/Code")
    assert found is not None and found.text == code
