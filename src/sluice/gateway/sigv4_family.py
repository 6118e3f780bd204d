"""How each service family answers a request it cannot authenticate: its own codes, messages
and statuses (S3's XML ones with the StringToSign and CanonicalRequest it computed, the query
services', Lambda's, the awsJson services')."""

from __future__ import annotations

from ..protocol.errors import ServiceError
from ..protocol.values import iso8601
from .signing import (
    MAX_SKEW,
    Signed,
    bytes_text,
    printable,
    s3_signature_mismatch,
    stamp,
)

# Services answering in the JSON families (Lambda's rest-json, CloudWatch Logs, EventBridge) use
# these codes; the query-era services (SQS, SNS, IAM, STS, CloudWatch) the others.
_JSON_FAMILY = {"lambda", "logs", "events"}
# The awsJson-protocol ones (CloudWatch Logs, EventBridge) answer a request they cannot
# authenticate with 400, where Lambda (rest-json) and the query services answer 403.
_AWS_JSON_PROTOCOL = {"logs", "events"}


class Family:
    """The errors of one service family."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.s3 = service == "s3"
        self.json = service in _JSON_FAMILY
        self.status = 400 if service in _AWS_JSON_PROTOCOL else 403  # outside S3

    def signature_mismatch(self, signed: Signed, string_to_sign: str, canonical: str) -> ServiceError:
        if self.s3:
            return s3_signature_mismatch(signed.access_key, string_to_sign, signed.signature,
                                         StringToSignBytes=bytes_text(string_to_sign),
                                         CanonicalRequest=printable(canonical),
                                         CanonicalRequestBytes=bytes_text(canonical))
        message = ("The request signature we calculated does not match the signature you provided. Check your "
                   "AWS Secret Access Key and signing method. Consult the service documentation for details.")
        return ServiceError(self._mismatch_code, message, self.status)

    @property
    def _mismatch_code(self) -> str:
        return "InvalidSignatureException" if self.json else "SignatureDoesNotMatch"

    def unknown_key(self, access_key: str) -> ServiceError:
        if self.s3:
            return ServiceError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                                403, AWSAccessKeyId=access_key)
        code = "UnrecognizedClientException" if self.json else "InvalidClientTokenId"
        return ServiceError(code, "The security token included in the request is invalid.", self.status)

    def bad_token(self) -> ServiceError:
        if self.s3:
            return ServiceError("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
        code = "UnrecognizedClientException" if self.json else "InvalidClientTokenId"
        return ServiceError(code, "The security token included in the request is invalid.", self.status)

    def skewed(self, timestamp: str, request_time: float, now: float) -> ServiceError:
        if self.s3:
            return ServiceError("RequestTimeTooSkewed",
                                "The difference between the request time and the current time is too large.", 403,
                                RequestTime=timestamp, ServerTime=iso8601(now), MaxAllowedSkewMilliseconds="900000")
        current = stamp(now)
        if request_time < now:
            message = (f"Signature expired: {timestamp} is now earlier than {stamp(now - MAX_SKEW)} "
                       f"({current} - 15 min.)")
        else:
            message = (f"Signature not yet current: {timestamp} is still later than {stamp(now + MAX_SKEW)} "
                       f"({current} + 15 min.)")
        return ServiceError(self._mismatch_code, message, self.status)

    def scope_date_mismatch(self, signed: Signed) -> ServiceError:
        """The credential scope's date must be the day of X-Amz-Date (or Date)."""
        if self.s3 and signed.presigned:
            return ServiceError("AuthorizationQueryParametersError",
                                "Invalid credential date. Date is not the same as X-Amz-Date.", 400)
        if self.s3:
            return ServiceError("AuthorizationHeaderMalformed", "The authorization header is malformed; Invalid "
                                "credential date. Date is not the same as X-Amz-Date.", 400)
        return ServiceError(self._mismatch_code, "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                            f"version of date from HTTP: '{signed.date}' != '{signed.timestamp[:8]}', from "
                            f"'{signed.timestamp}'.", self.status)

    def malformed(self, detail: str, header: str) -> ServiceError:
        if self.s3:
            return ServiceError("AuthorizationHeaderMalformed", f"The authorization header is malformed; {detail}", 400)
        return ServiceError("IncompleteSignature", f"{detail} Authorization={header}", 400)

    def missing_token(self) -> ServiceError:
        if self.json:
            return ServiceError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        return ServiceError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)


def unsupported(family: Family) -> ServiceError:
    if family.s3:
        return ServiceError("InvalidRequest", "The authorization mechanism you have provided is not supported. "
                            "Please use AWS4-HMAC-SHA256.", 400)
    return ServiceError("IncompleteSignature", "Only AWS4-HMAC-SHA256 signatures are supported.", 400)

