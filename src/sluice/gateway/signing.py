"""SigV4's primitives: the signing key, the canonical forms, what a signature covers."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from ..protocol.errors import ServiceError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = 15 * 60  # seconds a signature's time may differ from the server's
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TIMESTAMP = "%Y%m%dT%H%M%SZ"



def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def hmac_hex(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def v2_signature(secret: str, string_to_sign: str) -> str:
    """S3's legacy (V2) signature, also used by V2 browser forms."""
    return base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode("utf-8", "surrogateescape"),
                                     hashlib.sha1).digest()).decode()


def s3_signature_mismatch(access_key: str, string_to_sign: str | None, signature: str | None,
                          **fields: Any) -> ServiceError:
    """S3's SignatureDoesNotMatch, with what it signed (callers add the byte dumps they have)."""
    return ServiceError(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        403, AWSAccessKeyId=access_key, StringToSign=printable(string_to_sign) if string_to_sign else string_to_sign,
        SignatureProvided=signature, **fields)


def printable(text: str) -> str:
    """Signed text for an error document: header bytes that were not UTF-8 (carried as surrogate
    escapes) shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(query_string: str, drop: str | None = None) -> str:
    pairs = []
    for item in query_string.split("&") if query_string else []:
        key, _, value = item.partition("=")
        key, value = unquote(key), unquote(value)
        if key == drop:
            continue
        pairs.append((uri_encode(key), uri_encode(value)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_path(path: str, service: str) -> str:
    """S3 signs the path as sent; the other services sign it normalized and encoded again."""
    if service == "s3":
        return path or "/"
    # Imported here: botocore.utils pulls in most of botocore, which start-up does without.
    from botocore.utils import normalize_url_path

    return quote(normalize_url_path(path), safe="/~")


def header_value(value: str) -> str:
    """A header value as signed: the bytes as sent (the gateway reads them as latin-1 text; the
    canonical request is hashed as UTF-8, so bytes that are not UTF-8 ride as surrogate escapes),
    runs of spaces folded to one."""
    try:
        raw = value.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = value  # not read off the wire (wider characters): already text
    return " ".join(raw.split())


@dataclass(frozen=True)
class Signed:
    """What a request's signature covers, parsed from the header or the query."""

    access_key: str
    date: str           # scope date, YYYYMMDD
    region: str
    service: str        # signing name
    signed_headers: list[str]
    signature: str
    timestamp: str      # X-Amz-Date
    presigned: bool

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def bytes_text(text: str) -> str:
    return " ".join(f"{b:02x}" for b in text.encode("utf-8", "surrogateescape"))


def stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime(TIMESTAMP)


def parse_time(stamp: str) -> float | None:
    try:
        return dt.datetime.strptime(stamp, TIMESTAMP).replace(tzinfo=dt.timezone.utc).timestamp()
    except ValueError:
        return None
