"""AWS Signature Version 4, checked as the services check it (opt-in: `--verify-signatures`).

(S3's legacy signature V2 is checked too: boto3 still presigns S3 URLs with it by default.)
Three SigV4 forms: the Authorization header, presigned query parameters, and aws-chunked bodies whose
chunks each carry a signature chained from the request's (seed) signature, optionally ending in
a signed trailer. The secret comes from a lookup callable, so the caller decides who exists.
Each service family answers failures with its own codes and messages (S3's XML ones with the
StringToSign and CanonicalRequest it computed, the query services', Lambda's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable
from urllib.parse import unquote

from ..protocol.errors import ServiceError
from ..protocol.http import HttpRequest
from ..protocol.s3wire import (
    HEX64,
    STREAMING,
    STREAMING_ECDSA,
    STREAMING_ECDSA_TRAILER,
    STREAMING_TRAILER,
    UNSIGNED,
    invalid_payload_hash,
    valid_payload_hash,
)
from .signing import (
    ALGORITHM,
    MAX_SKEW,
    TIMESTAMP,
    Signed,
    bytes_text,
    canonical_path,
    canonical_query,
    header_value,
    hmac_hex,
    parse_time,
    s3_signature_mismatch,
    signing_key,
    v2_signature,
)
from .sigv4_chunks import ChunkSignatureCheck
from .sigv4_family import Family, unsupported

SecretLookup = Callable[[str], str | None]
# The session token a temporary key must come with (None: a long-term key, no token needed).
TokenLookup = Callable[[str], str | None]

_AUTH_PART = re.compile(r"(\w+)=([^,]*)")



def default_secret(access_key: str) -> str | None:
    """Who exists until IAM says more: the default key `test` and any 12-digit key (the root
    of that account), all with secret `test`, as clients configured for Sluice send."""
    if access_key == "test" or (len(access_key) == 12 and access_key.isdigit()):
        return "test"
    return None


class SigV4Verifier:
    def __init__(self, secret_for: SecretLookup, max_skew: float = MAX_SKEW,
                 token_for: TokenLookup | None = None) -> None:
        self.secret_for = secret_for
        self.token_for = token_for
        self.max_skew = max_skew

    def _check_token(self, req: HttpRequest, access_key: str, family: Family) -> None:
        """A temporary (STS) key is only valid with the session token it was issued with."""
        expected = self.token_for(access_key) if self.token_for is not None else None
        if expected is None:
            return
        sent = req.headers.get("x-amz-security-token") or req.query.get("X-Amz-Security-Token", [""])[0]
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise family.bad_token()

    def verify(self, req: HttpRequest, service: str, path: str, now: float, body: bytes | None) -> None:
        """Raise the service's error unless the request is signed with the caller's secret.

        `path` is the path as the client sent it (before any virtual-host rewrite); `body` the
        whole body when it is in memory. S3 signs the x-amz-content-sha256 header instead of the
        body; a streaming-signed S3 body gets its chunk signatures checked as it is read.
        """
        family = Family(service)
        auth = req.headers.get("authorization", "")
        if auth.startswith(ALGORITHM):
            signed = self._from_header(auth, req, family)
        elif "X-Amz-Signature" in req.query or "X-Amz-Credential" in req.query:
            signed = self._from_query(req, family)
        elif family.s3 and (auth.startswith("AWS ") or "Signature" in req.query):
            self._verify_v2(req, family, now)
            return
        elif auth or "Signature" in req.query:
            raise unsupported(family)
        elif family.s3:
            return  # anonymous: what it may do is the bucket policy's business, not ours
        else:
            raise family.missing_token()
        request_time = parse_time(signed.timestamp)
        if request_time is None:
            raise _no_date(family)
        if signed.timestamp[:8] != signed.date:
            raise family.scope_date_mismatch(signed)
        secret = self.secret_for(signed.access_key)
        if secret is None:
            raise family.unknown_key(signed.access_key)
        self._check_token(req, signed.access_key, family)
        if not signed.presigned and abs(now - request_time) > self.max_skew:
            raise family.skewed(signed.timestamp, request_time, now)
        payload = self._payload_hash(req, signed, family, body)
        canonical = "\n".join([
            req.method,
            canonical_path(path, service),
            canonical_query(req.query_string, "X-Amz-Signature" if signed.presigned else None),
            "".join(f"{h}:{header_value(req.headers.get(h, ''))}\n" for h in signed.signed_headers),
            ";".join(signed.signed_headers),
            payload,
        ])
        string_to_sign = "\n".join([ALGORITHM, signed.timestamp, signed.scope,
                                    hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()])
        key = signing_key(secret, signed.date, signed.region, signed.service)
        if not hmac.compare_digest(hmac_hex(key, string_to_sign), signed.signature):
            raise family.signature_mismatch(signed, string_to_sign, canonical)
        if payload in (STREAMING, STREAMING_TRAILER):
            req.body = ChunkSignatureCheck(req.body, key, signed, family, trailer=payload == STREAMING_TRAILER)
        elif family.s3 and body is not None and HEX64.match(payload):
            computed = hashlib.sha256(body).hexdigest()
            if computed != payload:
                raise ServiceError(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.", 400,
                    ClientComputedContentSHA256=payload, S3ComputedContentSHA256=computed)

    def verify_form(self, fields: dict[str, str]) -> None:
        """Raise S3's error unless a POST form that carries a signature is complete and its policy
        is signed with the signer's secret (an anonymous form is the bucket policy's business).
        The policy's expiration is the form's deadline; S3 checks it with the policy (services/s3)."""
        signed = _form_signature(fields)
        if signed is None:
            return
        access_key, signature, scope = signed
        family = Family("s3")
        secret = self.secret_for(access_key)
        if secret is None:
            raise family.unknown_key(access_key)
        expected = self.token_for(access_key) if self.token_for is not None else None
        if expected is not None and not hmac.compare_digest(fields.get("x-amz-security-token", "").encode(),
                                                            expected.encode()):
            raise family.bad_token()
        policy = fields["policy"]  # signed as sent, before it is decoded
        if scope:
            date, region, service = scope.split("/")
            computed = hmac_hex(signing_key(secret, date, region, service), policy)
        else:
            computed = v2_signature(secret, policy)
        if not hmac.compare_digest(computed, signature):
            raise s3_signature_mismatch(access_key, policy, signature, StringToSignBytes=bytes_text(policy))

    def _verify_v2(self, req: HttpRequest, family: Family, now: float) -> None:
        """S3's legacy signature (HMAC-SHA1), which boto3 still uses for presigned URLs unless
        told `signature_version="s3v4"`. Expiry of presigned ones is gateway/presign.py's."""
        auth = req.headers.get("authorization", "")
        if auth.startswith("AWS "):
            access_key, _, signature = auth[4:].strip().rpartition(":")
            date_line = "" if "x-amz-date" in req.headers else req.headers.get("date", "")
            stamp = req.headers.get("x-amz-date") or req.headers.get("date", "")
            sent = _http_date(stamp)
            if sent is None:
                raise _no_date(family)
            if abs(now - sent) > self.max_skew:
                raise family.skewed(stamp, sent, now)
        else:
            access_key = req.query.get("AWSAccessKeyId", [""])[0]
            signature = req.query["Signature"][0]
            date_line = req.query.get("Expires", [""])[0]
        secret = self.secret_for(access_key)
        if secret is None:
            raise family.unknown_key(access_key)
        if "x-amz-security-token" not in req.headers and "x-amz-security-token" in req.query:
            # A presigned V2 URL's token was signed as a header, then moved to the query.
            req.headers["x-amz-security-token"] = req.query["x-amz-security-token"][0]
        self._check_token(req, access_key, family)
        amz = sorted((k, header_value(v)) for k, v in req.headers.items() if k.startswith("x-amz-"))
        head = [req.method, req.headers.get("content-md5", ""), req.headers.get("content-type", ""), date_line,
                *(f"{k}:{v}" for k, v in amz)]
        subresources = _v2_subresources(req.query_string)
        string_to_sign = "\n".join([*head, req.path + subresources])
        if hmac.compare_digest(v2_signature(secret, string_to_sign), signature):
            return
        # botocore signs a bucket-level request as AWS receives it virtual-hosted
        # (bucket.s3.amazonaws.com, path "/", resource "/bucket/") even when it sends it
        # path-style to an endpoint URL ("/bucket"): accept that resource too.
        if req.path.count("/") == 1 and len(req.path) > 1:
            hosted = "\n".join([*head, req.path + "/" + subresources])
            if hmac.compare_digest(v2_signature(secret, hosted), signature):
                return
        raise s3_signature_mismatch(access_key, string_to_sign, signature,
                                    StringToSignBytes=bytes_text(string_to_sign))

    def _from_header(self, auth: str, req: HttpRequest, family: Family) -> Signed:
        parts = dict(_AUTH_PART.findall(auth[len(ALGORITHM):]))
        missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in parts]
        timestamp = req.headers.get("x-amz-date") or _date_header(req.headers.get("date", ""))
        if missing or not timestamp:
            if family.s3:
                if not timestamp and not missing:
                    raise _no_date(family)
                raise family.malformed("the Credential is mal-formed; expecting "
                                       '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".', auth)
            problems = [f"Authorization header requires '{name}' parameter." for name in missing]
            if not timestamp:
                problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
            raise family.malformed(" ".join(problems), auth)
        return self._signed(parts["Credential"], parts["SignedHeaders"], parts["Signature"], timestamp, False,
                            family, auth)

    def _from_query(self, req: HttpRequest, family: Family) -> Signed:
        q = req.query
        values = {name: q.get(f"X-Amz-{name}", [""])[0] for name in
                  ("Algorithm", "Credential", "SignedHeaders", "Signature", "Date")}
        missing = [name for name, value in values.items() if not value]
        if missing or values["Algorithm"] != ALGORITHM:
            if family.s3:
                raise ServiceError(
                    "AuthorizationQueryParametersError",
                    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.", 400)
            raise ServiceError("IncompleteSignature",
                               " ".join(f"AWS query-string parameters must include 'X-Amz-{m}'." for m in missing)
                               or "Unsupported AWS 'algorithm': " + values["Algorithm"], 400)
        return self._signed(values["Credential"], values["SignedHeaders"], values["Signature"], values["Date"],
                            True, family, req.query_string)

    @staticmethod
    def _signed(credential: str, signed_headers: str, signature: str, timestamp: str, presigned: bool,
                family: Family, raw: str) -> Signed:
        scope = credential.split("/")
        if len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]:
            raise family.malformed('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/'
                                   'aws4_request".' if family.s3 else
                                   "Credential should be scoped to a valid region.", raw)
        headers = [h.strip().lower() for h in signed_headers.split(";") if h.strip()]
        return Signed(scope[0], scope[1], scope[2], scope[3], headers, signature.strip(), timestamp, presigned)

    @staticmethod
    def _payload_hash(req: HttpRequest, signed: Signed, family: Family, body: bytes | None) -> str:
        if signed.presigned:
            sent = req.query.get("X-Amz-Content-Sha256", [None])[0]
            if sent:
                return sent
            if family.s3:
                return UNSIGNED
        sent = req.headers.get("x-amz-content-sha256")
        if family.s3:
            if sent is None:
                raise ServiceError("InvalidRequest", "Missing required header for this request: x-amz-content-sha256",
                                   400)
            if not valid_payload_hash(sent):
                raise invalid_payload_hash(sent)
            if sent in (STREAMING_ECDSA, STREAMING_ECDSA_TRAILER):
                # SigV4a chunks are signed with ECDSA: an HMAC-signed request cannot carry them.
                raise unsupported(family)
            return sent
        if sent:
            return sent
        return hashlib.sha256(body or b"").hexdigest()


# -- browser forms (S3 POST Object) ----------------------------------------------------------

# The fields that sign a form, in the order S3 asks for a missing one: (form field, name in S3's
# message). SigV4 forms sign the base64 policy with the credential scope's signing key; V2 forms
# with HMAC-SHA1 of the secret. A form with none of them is anonymous.
_FORM_V4 = (("x-amz-algorithm", "X-Amz-Algorithm"), ("x-amz-credential", "X-Amz-Credential"),
            ("x-amz-date", "X-Amz-Date"), ("x-amz-signature", "X-Amz-Signature"), ("policy", "Policy"))
_FORM_V2 = (("awsaccesskeyid", "AWSAccessKeyId"), ("signature", "Signature"), ("policy", "Policy"))


def form_signer(fields: dict[str, str]) -> str | None:
    """The access key a POST form is signed with (None for an anonymous form): the key of its
    x-amz-credential, or its AWSAccessKeyId (signature V2). Form field names are lower-case."""
    if fields.get("x-amz-credential"):
        return fields["x-amz-credential"].split("/", 1)[0] or None
    return fields.get("awsaccesskeyid") or None


def check_form_fields(fields: dict[str, str]) -> None:
    """InvalidArgument for a POST form that starts a signature and leaves part of it out (its
    shape, not its signature: checked without --verify-signatures too, as S3 checks it first)."""
    _form_signature(fields)


def _form_argument(message: str, name: str, value: str) -> ServiceError:
    return ServiceError("InvalidArgument", message, 400, ArgumentName=name, ArgumentValue=value)


def _missing_form_field(name: str) -> ServiceError:
    return _form_argument(f"Bucket POST must contain a field named '{name}'.  If it is specified, please check "
                          "the order of the fields.", name, "")


def _form_signature(fields: dict[str, str]) -> tuple[str, str, str] | None:
    """(access key, signature sent, SigV4 scope "date/region/service" or "" for V2) of a signed
    form, None for an anonymous one; InvalidArgument for an incomplete or malformed one."""
    if any(f in fields for f, _ in _FORM_V4[:4]):
        for field, name in _FORM_V4:
            if not fields.get(field):
                raise _missing_form_field(name)
        if fields["x-amz-algorithm"] != ALGORITHM:
            raise unsupported(Family("s3"))
        credential = fields["x-amz-credential"]
        scope = credential.split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise _form_argument('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/'
                                 'aws4_request".', "X-Amz-Credential", credential)
        if not scope[0]:
            raise _form_argument("a non-empty Access Key (AKID) must be provided in the credential.",
                                 "X-Amz-Credential", credential)
        if parse_time(fields["x-amz-date"]) is None:
            raise _form_argument("X-Amz-Date must be formated via ISO8601 Long format",  # sic, as S3 says it
                                 "X-Amz-Date", fields["x-amz-date"])
        return scope[0], fields["x-amz-signature"], "/".join(scope[1:4])
    if "awsaccesskeyid" in fields or "signature" in fields:
        for field, name in _FORM_V2:
            if not fields.get(field):
                raise _missing_form_field(name)
        return fields["awsaccesskeyid"], fields["signature"], ""
    return None


# Query parameters that are part of what an S3 signature V2 signs.
_V2_SUBRESOURCES = frozenset({
    "accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging", "partNumber", "policy",
    "requestPayment", "torrent", "versioning", "versionId", "versions", "website", "uploads", "uploadId",
    "response-content-type", "response-content-language", "response-expires", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "delete", "lifecycle", "tagging", "restore",
    "storageClass", "notification", "replication", "analytics", "metrics", "inventory", "select",
    "select-type", "object-lock",
})


def _v2_subresources(query_string: str) -> str:
    kept = []
    for item in query_string.split("&") if query_string else []:
        key, sep, value = item.partition("=")
        if key in _V2_SUBRESOURCES:
            kept.append((key, f"{key}={unquote(value)}" if sep else key))
    return "?" + "&".join(text for _, text in sorted(kept)) if kept else ""


def _http_date(value: str) -> float | None:
    """An RFC 1123 date or a SigV4 timestamp, as epoch seconds."""
    stamp = _date_header(value) or value.strip()
    return parse_time(stamp)


def _date_header(value: str) -> str:
    """An RFC 1123 Date header as a SigV4 timestamp ("" when it is not one)."""
    try:
        parsed = dt.datetime.strptime(value.strip(), "%a, %d %b %Y %H:%M:%S GMT")
    except ValueError:
        return ""
    return parsed.strftime(TIMESTAMP)


def _no_date(family: Family) -> ServiceError:
    if family.s3:
        return ServiceError("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403)
    return ServiceError("IncompleteSignature", "Authorization header requires existence of either a "
                        "'X-Amz-Date' or a 'Date' header.", 400)
