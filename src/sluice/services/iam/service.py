"""IAM: roles, users, inline and managed policies (AWS's and the account's own, with versions),
attachments, access keys, role tags; and, for the rest of Sluice, who an access key belongs to and
which policies apply to it.

Every entity belongs to the caller's account, taken from its access key: a role created with a
111111111111 key lives in 111111111111. No HTTP, no XML: members in, members out. The service is a
facade over its parts, one job each: roles (roles.py), users and access keys (users.py), the
policies of roles and users (entity_policies.py), managed policies and versions (policies.py), and
identities and credentials (identities.py), sharing one `Shared` state; the rows are records.py's
and policy_records.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...auth.identity import Identity
from ...auth.policy import Policy
from ...clock import Clock
from ...protocol.context import RequestContext
from ...settings import Settings
from ...store import Store
from ..base import Operation, Service
from ..checks import checked
from .cache import ChangeCounter
from .common import Shared
from .credentials import Credentials, Lookup
from .entity_policies import EntityPolicies
from .identities import Identities
from .policies import Policies
from .roles import Roles
from .users import Users


class IamService(Service):
    name = "iam"

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        changes = ChangeCounter()
        self.shared = Shared(store.db, clock, settings, changes, Credentials(store.db, clock, settings, changes))
        self.identities = Identities(self.shared)
        self.roles = Roles(self.shared)
        self.users = Users(self.shared)
        self.entity_policies = EntityPolicies(self.shared)
        self.policies = Policies(self.shared)

    def operation_owners(self) -> Sequence[object]:
        return (self.roles, self.users, self.entity_policies, self.policies)

    def operation(self, op_name: str) -> Operation | None:
        return checked(self, op_name, super().operation(op_name))

    # -- identities (the rest of Sluice asks these) ---------------------------------------------

    def identity(self, access_key: str) -> Identity | None:
        return self.identities.identity(access_key)

    def lookup(self, access_key: str) -> Lookup:
        """Like identity(), and says whether an unknown key is an expired session."""
        return self.identities.lookup(access_key)

    def caller(self, ctx: RequestContext) -> Identity:
        """Who sent this request: its key's identity; unknown keys are the default account's root."""
        return self.shared.caller(ctx)

    def role_credentials(self, role_arn: str, session_name: str) -> Identity:
        """Temporary credentials of `role_arn` for Sluice's own use (a function's execution role)."""
        return self.identities.role_credentials(role_arn, session_name)

    def reset(self) -> None:
        self.shared.changes.bump()  # no remembered key, policy or session answer holds any more

    def start_role_session(self, role: dict[str, Any], session_name: str, seconds: int) -> Identity:
        """New temporary credentials for a session of `role` (a record from role())."""
        return self.identities.start_role_session(role, session_name, seconds)

    def start_session(self, caller: Identity, seconds: int) -> Identity:
        """New temporary credentials for the same user or root (GetSessionToken)."""
        return self.identities.start_session(caller, seconds)

    def role_exists(self, role_arn: str) -> bool:
        return self.identities.role_exists(role_arn)

    def role(self, role_arn: str) -> dict[str, Any] | None:
        """A role's record for STS: name, id, ARN, trust policy, max session duration."""
        return self.identities.role(role_arn)

    def identity_policies(self, identity: Identity) -> list[Policy]:
        """The parsed identity-based policies that apply to `identity` ([] for root)."""
        return self.identities.identity_policies(identity)
