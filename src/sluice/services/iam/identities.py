"""Who an access key belongs to and which policies apply to it: what the rest of Sluice asks IAM
(the gateway's signature checks, IAM enforcement, STS, Lambda's execution roles).

Answers that enforcement asks on every request are remembered until IAM's change counter moves
(cache.py)."""

from __future__ import annotations

from typing import Any

from ...auth.identity import ASSUMED_ROLE, ROOT, Identity
from ...auth.policy import Policy, parse_policy
from . import ids
from .cache import Remembered
from .common import Shared
from .credentials import Lookup, derived_role_id, role_account_and_name
from .managed import aws_policy
from .policy_records import OwnerKind, attached, default_document, inline_policies
from .records import find_role, find_user

POLICY_CACHE_SIZE = 1024


class Identities:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db
        self.credentials = shared.credentials
        self._policies: dict[str, Policy] = {}  # document -> parsed, so requests don't re-parse
        self._identity_policies: Remembered[tuple[Policy, ...]] = Remembered(shared.changes)

    def identity(self, access_key: str) -> Identity | None:
        return self.credentials.lookup(access_key).identity

    def lookup(self, access_key: str) -> Lookup:
        """Like identity(), and says whether an unknown key is an expired session."""
        return self.credentials.lookup(access_key)

    def role_credentials(self, role_arn: str, session_name: str) -> Identity:
        """Temporary credentials of `role_arn` for Sluice's own use (a function's execution
        role), reused until close to expiry."""
        account, name = role_account_and_name(role_arn)
        role = find_role(self.db.reader, account, name)
        role_id = role.role_id if role is not None else derived_role_id(role_arn)
        return self.credentials.role_session(role_arn, role_id, session_name)

    def start_role_session(self, role: dict[str, Any], session_name: str, seconds: int) -> Identity:
        """New temporary credentials for a session of `role` (a record from role())."""
        return self.credentials.issue_session(
            account=role["account"], arn=ids.assumed_role_arn(role["account"], role["name"], session_name),
            kind=ASSUMED_ROLE, user_id=f"{role['role_id']}:{session_name}", role_arn=role["arn"], seconds=seconds)

    def start_session(self, caller: Identity, seconds: int) -> Identity:
        """New temporary credentials for the same user or root (GetSessionToken)."""
        return self.credentials.issue_session(account=caller.account, arn=caller.arn, kind=caller.kind,
                                              user_id=caller.user_id, role_arn=None, seconds=seconds)

    def role_exists(self, role_arn: str) -> bool:
        return self.role(role_arn) is not None

    def role(self, role_arn: str) -> dict[str, Any] | None:
        """A role's record for STS: name, id, ARN, trust policy, max session duration."""
        try:
            account, name = role_account_and_name(role_arn)
        except IndexError:
            return None
        found = find_role(self.db.reader, account, name)
        if found is None or found.arn != role_arn:
            return None
        return {"account": account, "name": found.name, "role_id": found.role_id, "arn": found.arn,
                "trust_policy": found.trust_policy, "max_session": found.max_session}

    def identity_policies(self, identity: Identity) -> list[Policy]:
        """The parsed identity-based policies that apply to `identity` ([] for root)."""
        owner = (identity.kind, identity.account, identity.arn, identity.role_arn)
        return list(self._identity_policies.get(owner, lambda: tuple(
            self._parsed(d) for d in self.identity_policy_documents(identity))))

    def _parsed(self, document: str) -> Policy:
        policy = self._policies.get(document)
        if policy is None:
            if len(self._policies) >= POLICY_CACHE_SIZE:
                self._policies.clear()
            policy = self._policies[document] = parse_policy(document, "identity")
        return policy

    def identity_policy_documents(self, identity: Identity) -> list[str]:
        """The documents of the identity-based policies of a user or role session: inline ones,
        then the default versions of attached managed ones. Root has none (it needs none)."""
        if identity.kind == ROOT:
            return []
        conn = self.db.reader
        kind: OwnerKind
        if identity.kind == ASSUMED_ROLE and identity.role_arn:
            account, name = role_account_and_name(identity.role_arn)
            role = find_role(conn, account, name)
            owner = role.lname if role is not None else None
            kind = "role"
        else:
            account, name = identity.account, identity.arn.rsplit("/", 1)[-1]
            user = find_user(conn, account, name)
            owner = user.lname if user is not None else None
            kind = "user"
        if owner is None:
            return []
        docs = [p.document for p in inline_policies(conn, account, kind, owner)]
        for arn in attached(conn, account, kind, owner):
            managed = aws_policy(arn)
            document = managed.document if managed is not None else default_document(conn, arn)
            if document is not None:
                docs.append(document)
        return docs
