"""Raw S3 requests for the hardening tests: exactly the bytes given, answered within a bound."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit

# What boto3 sends, minus a real signature: Sluice without --verify-signatures takes the key "test".
SIGNED_LOOKING = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
                                   "SignedHeaders=host, Signature=0"}


def form_signature(policy: str, access_key: str = "test", secret: str = "test") -> list[tuple[str, str]]:
    """The signature V2 fields of a browser form with this (base64) policy: the upload is then the
    key's, not anonymous (an anonymous form may write only where the bucket lets anyone)."""
    signature = base64.b64encode(hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    return [("AWSAccessKeyId", access_key), ("signature", signature)]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, str]:
        """The S3 error document's fields (Code, Message, ...)."""
        return {child.tag: child.text or "" for child in ET.fromstring(self.body)}


def send(endpoint: str, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes = b"", signed: bool = True) -> Answer:
    """One request on a fresh connection (anonymous unless `signed`); the answer must come
    within 30 s."""
    conn = http.client.HTTPConnection(urlsplit(endpoint).netloc, timeout=30)
    try:
        conn.request(method, path, body=body, headers={**(SIGNED_LOOKING if signed else {}), **(headers or {})})
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()
