"""A bucket's CORS configuration (Put/Get/DeleteBucketCors) and what S3 decides with it: the answer
to a preflight (OPTIONS) and the grant an actual request from an Origin gets.

The rules as S3 applies them: the first rule whose AllowedOrigin matches the Origin (case-
sensitive, one `*` standing for any text), whose AllowedMethod is the method and, for a preflight,
whose AllowedHeader patterns (case-insensitive) cover every requested header, decides. A rule that
lists the literal origin `*` answers `*` and no credentials; otherwise the Origin is echoed with
credentials allowed. The gateway turns a `CorsGrant` into headers: no HTTP here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import bucket_config
from .state import S3State

KEY = "Cors"  # the member of the bucket's configuration document
METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_RULES = 100
_MAX_ID = 255
_MALFORMED = "The XML you provided was not well-formed or did not validate against our published schema"
_NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
                "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are "
                "not whitelisted by the resource's CORS spec.")


@dataclass(frozen=True)
class CorsGrant:
    """What a matching rule allows, as the response headers will say it."""

    allow_origin: str  # "*" or the request's Origin
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]  # a preflight's requested headers, lower-cased; none for actual requests
    expose_headers: tuple[str, ...]
    max_age: int | None
    credentials: bool


def _wildcard_match(pattern: str, value: str) -> bool:
    """`pattern` with at most one `*` (PutBucketCors refuses more) against `value`, exactly."""
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _check_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """One rule, checked in the order S3 checks it; stored with only the members it has."""
    rule_id = rule.get("ID")
    if rule_id is not None and len(rule_id) > _MAX_ID:
        raise ServiceError("MalformedXML", _MALFORMED)
    max_age = rule.get("MaxAgeSeconds")
    if max_age is not None and not 0 <= int(max_age) <= 2**31 - 1:
        raise ServiceError("MalformedXML", _MALFORMED)
    for method in rule.get("AllowedMethods") or []:
        if method not in METHODS:
            raise ServiceError("InvalidRequest",
                               f"Found unsupported HTTP method in CORS config. Unsupported method is {method}")
    for member, name in (("AllowedOrigins", "AllowedOrigin"), ("AllowedHeaders", "AllowedHeader")):
        for value in rule.get(member) or []:
            if value.count("*") > 1:
                raise ServiceError("InvalidRequest", f'{name} "{value}" can not have more than one wildcard.')
    for value in rule.get("ExposeHeaders") or []:
        if "*" in value:
            raise ServiceError("InvalidRequest", f'ExposeHeader "{value}" contains wildcard. '
                               "We currently do not support wildcard for ExposeHeader.")
    kept = {k: rule[k] for k in ("ID", "AllowedHeaders", "AllowedMethods", "AllowedOrigins", "ExposeHeaders")
            if rule.get(k) is not None}
    if max_age is not None:
        kept["MaxAgeSeconds"] = int(max_age)
    return kept


def _requested_headers(value: str | None) -> tuple[str, ...]:
    """Access-Control-Request-Headers as S3 echoes it: lower-cased names, empty items dropped."""
    return tuple(h.strip().lower() for h in (value or "").split(",") if h.strip())


def _grant(rules: list[dict[str, Any]], origin: str, method: str,
           requested: tuple[str, ...] | None) -> CorsGrant | None:
    """The first rule matching; `requested` None for an actual request (AllowedHeader plays no part)."""
    for rule in rules:
        origins = rule.get("AllowedOrigins") or []
        if method not in (rule.get("AllowedMethods") or []):
            continue
        if not any(_wildcard_match(o, origin) for o in origins):
            continue
        if requested:
            patterns = [h.lower() for h in rule.get("AllowedHeaders") or []]
            if not all(any(_wildcard_match(p, h) for p in patterns) for h in requested):
                continue
        everyone = "*" in origins
        return CorsGrant(
            allow_origin="*" if everyone else origin,
            allow_methods=tuple(rule.get("AllowedMethods") or []),
            allow_headers=requested or (),
            expose_headers=tuple(rule.get("ExposeHeaders") or []),
            max_age=rule.get("MaxAgeSeconds"),
            credentials=not everyone,
        )
    return None


def _forbidden(message: str, method: str, resource_type: str) -> ServiceError:
    return ServiceError("AccessForbidden", message, 403, Method=method, ResourceType=resource_type)


class BucketCors:
    def __init__(self, state: S3State) -> None:
        self.s = state

    # -- operations ----------------------------------------------------------------------

    def put_bucket_cors(self, ctx: RequestContext, Bucket: str, CORSConfiguration: dict[str, Any] | None = None,
                        **_: Any) -> dict[str, Any]:
        rules = list((CORSConfiguration or {}).get("CORSRules") or [])
        # The schema wants one rule at least and S3 takes at most 100: both are MalformedXML.
        if not rules or len(rules) > MAX_RULES:
            raise ServiceError("MalformedXML", _MALFORMED)
        bucket_config.write(self.s, Bucket, KEY, [_check_rule(r) for r in rules])
        return {}

    def get_bucket_cors(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        rules = bucket_config.read(self.s, Bucket, KEY)
        if rules is None:
            raise ServiceError("NoSuchCORSConfiguration", "The CORS configuration does not exist",
                               BucketName=Bucket)
        return {"CORSRules": rules}

    def delete_bucket_cors(self, ctx: RequestContext, Bucket: str, **_: Any) -> dict[str, Any]:
        bucket_config.write(self.s, Bucket, KEY, None)
        return {}

    # -- for the gateway -----------------------------------------------------------------

    def preflight(self, bucket: str, resource_type: str, origin: str | None, method: str | None,
                  request_headers: str | None) -> CorsGrant:
        """The answer to an OPTIONS request, or S3's refusal of it. Preflights are never signed:
        no caller, no permission, only the bucket's rules."""
        if not origin:
            raise ServiceError("BadRequest", "Insufficient information. Origin request header needed.")
        if method is None or method not in METHODS:
            shown = "null" if method is None else method  # S3 names a missing header "null"
            raise ServiceError("BadRequest", f"Invalid Access-Control-Request-Method: {shown}")
        view = self.s.views.get(bucket) if bucket else None
        found = view.record if view is not None else None
        if found is None:
            # A preflight names no caller, so S3 does not say NoSuchBucket: it refuses the CORS request.
            raise _forbidden("CORSResponse: Bucket not found", method, resource_type)
        rules = found.config.get(KEY)
        if rules is None:
            raise _forbidden("CORSResponse: CORS is not enabled for this bucket.", method, resource_type)
        grant = _grant(rules, origin, method, _requested_headers(request_headers))
        if grant is None:
            raise _forbidden(_NOT_ALLOWED, method, resource_type)
        return grant

    def actual(self, bucket: str, origin: str, method: str) -> CorsGrant | None:
        """The grant an actual (non-OPTIONS) request from `origin` gets, whatever its outcome;
        None when there is no such bucket, no configuration, or no rule for it."""
        if not bucket or not origin:
            return None
        view = self.s.views.get(bucket)
        rules = view.record.config.get(KEY) if view is not None else None
        return _grant(rules, origin, method, None) if rules else None

