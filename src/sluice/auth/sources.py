"""What the enforcer asks the services it decides for: IAM's keys, identities and roles, the
resource policies services keep, S3's ACLs and object tags (each service implements its part)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from .identity import Identity
from .policy import Policy


class KeyLookup(Protocol):
    @property
    def identity(self) -> Identity | None: ...

    @property
    def expired(self) -> bool: ...  # a session key that was valid once


class IamPolicies(Protocol):
    """What the enforcer needs from IAM (services/iam implements it)."""

    def lookup(self, access_key: str) -> KeyLookup: ...

    def identity_policies(self, identity: Identity) -> list[Policy]: ...

    def role(self, role_arn: str) -> Mapping[str, Any] | None: ...  # with "trust_policy"


class ResourcePolicies(Protocol):
    """A service that keeps resource policies (bucket, queue, topic, function policies)."""

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(the policy document or None, the account owning the resource or None if unknown)."""


class AclGrants(Protocol):
    """S3's access control lists and Block Public Access settings, as the decision reads them."""

    def acl_grants(self, arn: str, action: str, account: str | None) -> str | None:
        """Which ACL grant lets a caller of `account` (None: anonymous) perform `action`: "group"
        (AllUsers / AuthenticatedUsers), "account" (the caller's account), or None."""

    def restricts_public_policy(self, arn: str) -> bool:
        """The bucket's policy is public and RestrictPublicBuckets is on."""

    def object_owner(self, arn: str, action: str) -> str | None:
        """The account owning an object when it is not the bucket's owner (for the actions the
        object's ACL governs); None otherwise."""


@runtime_checkable
class ObjectTags(Protocol):
    """S3, for the s3:ExistingObjectTag/<key> condition of a bucket policy."""

    def existing_object_tags(self, arn: str) -> dict[str, str] | None: ...
