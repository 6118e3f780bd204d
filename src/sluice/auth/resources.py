"""Resource policies as services read them: parsed once per distinct text, and the check a
service makes before another AWS service (a service principal) may send to its resource."""

from __future__ import annotations

import functools
import logging

from .policy import AuthRequest, Policy, PolicyError, Principal, evaluate, parse_policy

log = logging.getLogger("sluice.auth")


@functools.lru_cache(maxsize=1024)
def cached_policy(document: str) -> Policy | None:
    """A stored resource policy, parsed once per distinct text (None if it does not parse)."""
    try:
        return parse_policy(document, "resource")
    except PolicyError:
        log.warning("ignoring a stored resource policy that does not parse")
        return None


def arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] or None if len(parts) > 5 else None


def checks_service_principal(principal: str | None, enforcing: bool) -> bool:
    """Whether a delivery by `principal` needs the target's resource policy: S3's always (AWS
    validates and enforces it for notifications), other service principals with --enforce-iam."""
    return bool(principal) and (principal == "s3.amazonaws.com" or (enforcing and str(principal).endswith(
        ".amazonaws.com")))


def service_may_send(document: str | None, service_principal: str, action: str, resource: str,
                     source_arn: str, source_account: str) -> bool:
    """Whether a resource policy lets an AWS service principal (s3.amazonaws.com) act on the resource
    on behalf of `source_arn` (aws:SourceArn / aws:SourceAccount conditions). No policy: no."""
    policy = cached_policy(document) if document else None
    if policy is None:
        return False
    request = AuthRequest(
        principal=Principal(arn=service_principal, account=None, kind="service"), action=action,
        resource=resource, resource_account=arn_account(resource),
        context={"aws:SourceArn": source_arn, "aws:SourceAccount": source_account,
                 "aws:SecureTransport": "true"})
    return evaluate(request, [], policy).allowed
