"""Presigned URLs stop working when they expire, as on AWS.

This needs no secret key, so it applies even when signatures are not verified.
"""

from __future__ import annotations

import datetime as dt

from ..protocol.errors import ServiceError
from ..protocol.http import HttpRequest
from ..protocol.values import iso8601

MAX_EXPIRES = 7 * 24 * 3600


def _query_error(message: str) -> ServiceError:
    return ServiceError("AuthorizationQueryParametersError", message, 400)


def check_presigned(req: HttpRequest, now: float) -> None:
    if not req.query_string:  # most requests: nothing to parse
        return
    q = req.query
    if "X-Amz-Credential" in q:
        try:
            start = dt.datetime.strptime(q.get("X-Amz-Date", [""])[0], "%Y%m%dT%H%M%SZ").replace(
                tzinfo=dt.timezone.utc)
        except ValueError:
            raise _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"") from None
        raw = q.get("X-Amz-Expires", [""])[0]
        if raw.startswith("-") and raw[1:].isdigit():
            raise _query_error("X-Amz-Expires must be non-negative")
        if not raw.isdigit():
            raise _query_error("X-Amz-Expires should be a number")
        seconds = int(raw)
        if seconds > MAX_EXPIRES:
            # AWS's words (and its status, 400: s3-tests expects 403 here, which AWS does not send).
            raise _query_error("X-Amz-Expires must be less than a week (in seconds); that is, the given "
                               "X-Amz-Expires must be less than 604800 seconds")
        deadline = start.timestamp() + seconds
    elif "Expires" in q and ("Signature" in q or "AWSAccessKeyId" in q):
        raw = q["Expires"][0]
        if not raw.isdigit():
            raise ServiceError("AccessDenied", "Invalid date (should be seconds since epoch)", 403)
        deadline = float(raw)
    else:
        return
    if now > deadline:
        err = ServiceError("AccessDenied", "Request has expired", 403)
        err.fields = {"X-Amz-Expires": q.get("X-Amz-Expires", [None])[0], "Expires": iso8601(deadline),
                      "ServerTime": iso8601(now)}
        raise err
