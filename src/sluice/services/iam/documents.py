"""Policy documents as IAM takes and gives them: checked on the way in (MalformedPolicyDocument,
size quotas), URL-encoded on the way out (IAM's wire form; boto3 and the AWS CLI decode it)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from ...auth.policy import Policy, PolicyError, parse_policy
from ...protocol.errors import ServiceError

DocumentKind = Literal["identity", "trust"]

# IAM's quotas, counted without whitespace (IAM User Guide, "IAM and AWS STS quotas").
ROLE_INLINE_LIMIT = 10240      # all inline policies of a role together
USER_INLINE_LIMIT = 2048       # all inline policies of a user together
MANAGED_LIMIT = 6144           # one managed policy version
TRUST_LIMIT = 2048             # a role's trust policy


def malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicyDocument", message)


def check(document: str, kind: DocumentKind) -> Policy:
    """The parsed policy; MalformedPolicyDocument with IAM's message when `document` is not a
    valid policy of this kind."""
    try:
        return parse_policy(document, kind)
    except PolicyError as err:
        raise malformed(str(err)) from None


def size(document: str) -> int:
    """A document's size as IAM counts it against its quotas: without whitespace."""
    return sum(1 for c in document if not c.isspace())


def wire(document: str) -> str:
    """IAM returns policy documents URL-encoded, as stored."""
    return quote(document, safe="-_.!~*'()")
