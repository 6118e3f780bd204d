"""STS: GetCallerIdentity, AssumeRole, GetSessionToken.

Temporary credentials are IAM's to keep (IamService issues and resolves them, durably); STS
decides who may have them. AssumeRole answers AccessDenied, as AWS does, both for a role that
does not exist and (with IAM enforcement on) for a caller the role's trust policy does not admit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...auth.identity import ASSUMED_ROLE, ROOT, Identity
from ...auth.policy import AuthRequest, evaluate, parse_policy, request_context
from ...clock import Clock
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...settings import Settings
from ..base import Operation, Service
from ..checks import checked
from ..iam.service import IamService

ROLE_DEFAULT_SECONDS = 3600
SESSION_DEFAULT_SECONDS = 43200
ROOT_SESSION_MAX_SECONDS = 3600  # GetSessionToken for the root user lasts at most an hour


class StsService(Service):
    name = "sts"

    def __init__(self, iam: IamService, clock: Clock, settings: Settings) -> None:
        self.iam = iam
        self.clock = clock
        self.settings = settings

    def operation(self, op_name: str) -> Operation | None:
        return checked(self, op_name, super().operation(op_name))

    def _caller(self, ctx: RequestContext) -> Identity:
        if ctx.access_key:
            found = self.iam.lookup(ctx.access_key)
            if found.expired:
                raise ServiceError("ExpiredToken", "The security token included in the request is expired")
            if found.identity is None and self.settings.enforce_iam:
                raise ServiceError("InvalidClientTokenId", "The security token included in the request is invalid.")
        return self.iam.caller(ctx)

    def get_caller_identity(self, ctx: RequestContext) -> dict[str, Any]:
        caller = self._caller(ctx)
        return {"UserId": caller.user_id, "Account": caller.account, "Arn": caller.arn}

    def assume_role(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        caller = self._caller(ctx)
        role_arn, session = params["RoleArn"], params["RoleSessionName"]
        denied = ServiceError("AccessDenied", f"User: {caller.arn} is not authorized to perform: sts:AssumeRole "
                                              f"on resource: {role_arn}")
        role = self.iam.role(role_arn)
        if role is None:
            raise denied
        if self.settings.enforce_iam and not self._trusted(caller, role):
            raise denied
        seconds = params.get("DurationSeconds") or ROLE_DEFAULT_SECONDS
        if seconds > role["max_session"]:
            raise ServiceError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set "
                                                  "for this role.")
        identity = self.iam.start_role_session(role, session, seconds)
        return {"Credentials": _credentials(identity),
                "AssumedRoleUser": {"AssumedRoleId": identity.user_id, "Arn": identity.arn}}

    def _trusted(self, caller: Identity, role: dict[str, Any]) -> bool:
        """The role's trust policy must admit the caller; across accounts the caller's own
        policies must allow sts:AssumeRole too, and an explicit Deny anywhere wins."""
        request = AuthRequest(caller.principal(), "sts:AssumeRole", role["arn"], role["account"], {})
        trust = parse_policy(role["trust_policy"], "trust")
        now = self.clock.now()
        # Unlike other resource policies, a trust policy must itself admit the principal, even
        # the account's root (the root needs no identity policy but is no exception here).
        allow, deny = trust.effects(request, request_context(request, now), resource_based=True)
        if deny or not allow:
            return False
        return evaluate(request, self.iam.identity_policies(caller), trust, now=now).allowed

    def get_session_token(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        caller = self._caller(ctx)
        if caller.kind == ASSUMED_ROLE or caller.session_token:
            raise ServiceError("AccessDenied", "Cannot call GetSessionToken with session credentials")
        seconds = params.get("DurationSeconds") or SESSION_DEFAULT_SECONDS
        if caller.kind == ROOT:
            seconds = min(seconds, ROOT_SESSION_MAX_SECONDS)
        identity = self.iam.start_session(caller, seconds)
        return {"Credentials": _credentials(identity)}


def _credentials(identity: Identity) -> dict[str, Any]:
    assert identity.expires is not None
    return {"AccessKeyId": identity.access_key, "SecretAccessKey": identity.secret_key,
            "SessionToken": identity.session_token, "Expiration": dt.datetime.fromtimestamp(identity.expires, dt.timezone.utc)}
