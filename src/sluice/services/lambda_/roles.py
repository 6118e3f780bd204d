"""What Lambda asks IAM about a function's execution role, given to the service when it is built.

AWS always checks that Lambda may assume the role, that the role may poll a mapping's queue, and
runs the handler with the role's session credentials. Sluice does so with --enforce-iam only
(`server.py` passes an implementation then), so that functions created without IAM set up (any
role ARN) keep working by default: `UNCHECKED` answers yes to everything and lets the service
give each function stable placeholder credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ...auth.identity import Identity


class ExecutionRoles(Protocol):
    def may_assume(self, role_arn: str) -> bool:
        """Whether the role exists and trusts lambda.amazonaws.com."""

    def missing_permission(self, role_arn: str, session: str, actions: Sequence[str], resource: str) -> str | None:
        """The first of `actions` a session of the role may not perform on `resource`, or None."""

    def session(self, role_arn: str, session_name: str) -> Identity | None:
        """The role session's temporary credentials (None: the service's placeholders)."""


class Unchecked:
    """Without IAM enforcement: every role will do, and functions get placeholder credentials."""

    def may_assume(self, role_arn: str) -> bool:
        return True

    def missing_permission(self, role_arn: str, session: str, actions: Sequence[str], resource: str) -> str | None:
        return None

    def session(self, role_arn: str, session_name: str) -> Identity | None:
        return None


UNCHECKED = Unchecked()
