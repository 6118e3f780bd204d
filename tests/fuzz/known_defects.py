"""Defects of issue 11 being fixed on other branches, and the requests that exercise them.

The fuzzer does not send a case one of these matches while its name is in EXCLUDED (it is
counted instead), so the quick profile passes before those fixes land. Empty EXCLUDED once they
are merged: from then on every one of these requests is fuzzed like any other.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from functools import cache
from urllib.parse import unquote_to_bytes

from botocore.model import OperationModel
from botocore.session import get_session

from .wire import Case

_QUERY_ONLY = {"sns", "iam", "sts"}
_ASYNC_SQS_TARGETS = ("SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility")


def _routes_by_query(case: Case) -> bool:
    """Sluice reads `Action` from the body on the event loop: query services, or SQS/CloudWatch
    sent a form, or CloudWatch with a gzip body (inflated while routing)."""
    ctype = (case.header("Content-Type") or "").lower()
    if "x-www-form-urlencoded" in ctype:
        return True
    if "gzip" in (case.header("Content-Encoding") or "").lower():
        return True
    auth = case.header("Authorization") or ""
    if any(f"/{name}/aws4_request" in auth for name in _QUERY_ONLY):
        return True
    # Unsigned and untargeted requests are S3's; anything else signed for an unknown scope is
    # answered before routing.
    return case.service in _QUERY_ONLY and not auth.startswith("AWS4-")


def streamed_query_body(case: Case) -> bool:
    """#1: a streamed body (chunked, no Content-Length, or over 1 MiB) routed by the query
    protocol (or inflated) freezes the event loop."""
    return case.streamed and _routes_by_query(case)


def streamed_error_held(case: Case) -> bool:
    """#2: an error answer to a streamed body on SQS's async operations or Lambda Invoke is held
    until the client hangs up."""
    if not case.streamed:
        return False
    target = case.header("X-Amz-Target") or ""
    auth = case.header("Authorization") or ""
    if target.startswith("AmazonSQS") or "/sqs/aws4_request" in auth:
        return True
    return "/invocations" in case.target or "/invoke-async" in case.target


def repeated_action(case: Case) -> bool:
    """#8: a repeated `Action=` silently uses the last one."""
    if "query:repeated-action" in case.tags:
        return True
    body = case.body.decode("latin-1")
    query = case.target.partition("?")[2]
    return sum(part.startswith("Action=") for part in (body + "&" + query).split("&")) > 1


def huge_content_length(case: Case) -> bool:
    """#8: a Content-Length beyond 64 bits must get 400 at once."""
    return case.framing == "huge"


def s3_invalid_utf8_key(case: Case) -> bool:
    """#4: keys that are not UTF-8 collide on U+FFFD (silent overwrite)."""
    raw = unquote_to_bytes(case.target.partition("?")[0])
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return "path:invalid-utf8" in case.tags or "path:raw-non-ascii" in case.tags


def s3_control_char_key(case: Case) -> bool:
    """#7: control characters in keys (and bucket names, echoed in errors) are written raw into
    S3's XML, which then cannot be parsed."""
    if case.operation == "PostObject":
        return any(b in case.body for b in (bytes([c]) for c in range(32) if c not in (9, 10, 13)))
    if not _reaches_s3(case):
        return False
    # Keys in the path, and prefixes, delimiters and markers in the query, come back in XML.
    raw = unquote_to_bytes(case.target.replace("+", " "))
    return any(c < 32 and c not in (9, 10, 13) for c in raw)


_SCOPE = re.compile(r"Credential=[^/,\s]*/\d{8}/[^/]+/([^/]+)/aws4_request")


def _reaches_s3(case: Case) -> bool:
    """Whether Sluice's gateway hands this request to S3 (gateway/identify.py, in short)."""
    scope = _SCOPE.search(case.header("Authorization") or "")
    if scope:
        return scope.group(1) == "s3"
    if case.header("X-Amz-Target"):
        return False
    return not case.target.startswith(("/2015-03-31/", "/2019-09-25/", "/service/"))


def s3_lenient_xml(case: Case) -> bool:
    """#6/#8: wrong XML roots and empty bodies for Notification, Versioning, Tagging and Delete
    (an empty tagging body is a 500)."""
    if case.service != "s3":
        return False
    query = case.target.partition("?")[2]
    subresource = any(s in query for s in ("tagging", "versioning", "notification", "delete"))
    return subresource and case.method.upper() in ("PUT", "POST")


def s3_payload_headers(case: Case) -> bool:
    """#8: x-amz-content-sha256, x-amz-decoded-content-length and trailers are not validated."""
    return bool({"header:x-amz-content-sha256", "header:x-amz-decoded-content-length",
                 "header:x-amz-trailer"} & case.tags)


def deep_json(case: Case) -> bool:
    """#6: JSON nested thousands deep is a RecursionError (500)."""
    return "deep-json" in case.tags


def lambda_bad_zip(case: Case) -> bool:
    """#6: empty zips, a file then a folder of the same name, symlinks, lying sizes."""
    return any(t.startswith("zip:") and t != "zip:junk" for t in case.tags)


def lambda_missing_required(case: Case) -> bool:
    """#6: CreateFunction with an empty body is a 500 (TypeError); so is every Lambda operation
    missing a required body member (AddPermission, CreateAlias, CreateEventSourceMapping,
    PutFunctionConcurrency, TagResource...): the one fix is checking required members."""
    if case.service != "lambda" and not case.target.startswith(("/2015-03-31/", "/2017-03-31/", "/2019-09-25/")):
        return False
    sent = b"" if case.framing in ("none", "huge") else case.body
    try:
        doc = json.loads(sent) if sent.strip() else {}
    except (ValueError, RecursionError):
        return False
    op = _lambda_route(case.method, case.target.partition("?")[0])
    if op is None or op.input_shape is None:  # no operation: answered before any member is read
        return False
    members = op.input_shape.members
    body_required = [n for n in op.input_shape.required_members if "location" not in members[n].serialization]
    return not isinstance(doc, dict) or any(doc.get(n) is None for n in body_required)


def _lambda_route(method: str, path: str) -> OperationModel | None:
    """The Lambda operation a method and path reach (a mutated path may reach another one)."""
    for verb, pattern, op in _lambda_routes():
        if verb == method and pattern.fullmatch(path):
            return op
    return None


@cache
def _lambda_routes() -> list[tuple[str, re.Pattern[str], OperationModel]]:
    model = get_session().get_service_model("lambda")
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri = op.http["requestUri"].partition("?")[0]
        pattern = "[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]+\}", uri))  # labels: one segment
        routes.append((op.http["method"], re.compile(pattern + "/?"), op))
    return routes


def post_policy_malformed_condition(case: Case) -> bool:
    """#6: a POST-upload policy with an empty condition, or one naming several fields (the same
    crash in post_policy._format)."""
    return "post-policy:malformed-condition" in case.tags


KNOWN: dict[str, Callable[[Case], bool]] = {
    "streamed-query-body": streamed_query_body,
    "streamed-error-held": streamed_error_held,
    "repeated-action": repeated_action,
    "huge-content-length": huge_content_length,
    "s3-invalid-utf8-key": s3_invalid_utf8_key,
    "s3-control-char-key": s3_control_char_key,
    "s3-lenient-xml": s3_lenient_xml,
    "s3-payload-headers": s3_payload_headers,
    "deep-json": deep_json,
    "lambda-bad-zip": lambda_bad_zip,
    "lambda-missing-required": lambda_missing_required,
    "post-policy-malformed-condition": post_policy_malformed_condition,
}

# Empty this list (or remove a name) once its fix is merged. SLUICE_FUZZ_SEND=all (or a comma-
# separated list of names) sends them anyway, to see which still fail.
_SEND = os.environ.get("SLUICE_FUZZ_SEND", "")
EXCLUDED: list[str] = [name for name in KNOWN if _SEND != "all" and name not in _SEND.split(",")]


def known_defect(case: Case) -> str | None:
    """The first excluded known defect this case would exercise, if any."""
    for name in EXCLUDED:
        if KNOWN[name](case):
            return name
    return None
