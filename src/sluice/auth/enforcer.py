"""IAM enforcement: authorize an API request, or a delivery made with a function's execution role,
the way AWS evaluates it (identity policies, the resource's policy, the condition context).

The gateway calls `Enforcer.authorize` after parsing a request and before the operation runs,
only with `sluice up --enforce-iam`; the outcome worker calls `Enforcer.authorize_delivery`
before a DLQ / destination send.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from ..clock import Clock
from ..protocol.context import RequestContext
from ..protocol.errors import ServiceError
from ..services.delivery import ACCESS_DENIED, Delivery, DeliveryResult
from .actions import Check, Where, checks_for
from .identity import Identity, root_identity
from .policy import (
    ANONYMOUS,
    AuthRequest,
    Decision,
    Policy,
    PolicyError,
    Principal,
    denied_message,
    evaluate,
    parse_policy,
)
from .resources import arn_account, cached_policy
from .sources import AclGrants, IamPolicies, ObjectTags, ResourcePolicies

# AWS's "access denied" error per service: (code, HTTP status).
DENIED: dict[str, tuple[str, int]] = {
    "s3": ("AccessDenied", 403), "sqs": ("AccessDenied", 403), "sns": ("AuthorizationError", 403),
    "lambda": ("AccessDeniedException", 403), "events": ("AccessDeniedException", 400),
    "logs": ("AccessDeniedException", 400), "cloudwatch": ("AccessDenied", 403), "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
}
_BAD_TOKEN = "The security token included in the request is invalid."
# An access key no identity has: (code, HTTP status, message).
UNKNOWN_KEY: dict[str, tuple[str, int, str]] = {
    "s3": ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."),
    "sqs": ("InvalidClientTokenId", 403, _BAD_TOKEN), "sns": ("InvalidClientTokenId", 403, _BAD_TOKEN),
    "cloudwatch": ("InvalidClientTokenId", 403, _BAD_TOKEN), "iam": ("InvalidClientTokenId", 403, _BAD_TOKEN),
    "sts": ("InvalidClientTokenId", 403, _BAD_TOKEN), "lambda": ("UnrecognizedClientException", 403, _BAD_TOKEN),
    "events": ("UnrecognizedClientException", 400, _BAD_TOKEN),
    "logs": ("UnrecognizedClientException", 400, _BAD_TOKEN),
}

# Plain mode (no --enforce-iam) does not evaluate identity policies: a caller may do anything an
# identity policy could allow, so its own account's resources are its own, and elsewhere what the
# resource side (bucket policy, ACLs, queue/topic/function policies) grants decides, as on AWS for
# a cross-account caller whose identity policies allow everything.
_UNRESTRICTED = [parse_policy({"Version": "2012-10-17",
                               "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, "identity")]
# What the bucket owner's root may always do to the bucket policy, a Deny in it notwithstanding
# (AWS's guard against locking everyone out of a bucket).
_ROOT_KEEPS = {"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}
_ALLOWED = Decision(True, "")
# The most principals, identities and request places the enforcer keeps made (see __init__).
_MEMO = 1024

# What a delivery to each kind of target needs of the execution role (aws-reference §8).
DELIVERY_ACTIONS = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "s3": "s3:PutObject",
                    "lambda": "lambda:InvokeFunction", "events": "events:PutEvents"}


class Enforcer:
    def __init__(self, iam: IamPolicies, resources: Mapping[str, ResourcePolicies], clock: Clock,
                 acls: AclGrants | None = None, identity_policies: bool = True) -> None:
        """`acls`: S3's ACL grants, which take part in decisions on S3 resources.
        `identity_policies` False is plain mode: who the caller is counts (its account, or
        anonymous), its identity policies do not; an access key nobody issued is the root of the
        account requests run in by default (ctx.account_id), as users' own keys work unconfigured."""
        self.iam = iam
        self.identity_policies = identity_policies
        self.acls = acls
        self.resources = dict(resources)  # ARN service ("s3", "sqs", ...) -> its policies
        self.clock = clock
        self._stamp: tuple[int, dict[str, str]] = (-1, {})
        # Made again for every request otherwise (frozen dataclasses: slow to build), and never
        # different for the same inputs; bounded by _MEMO each (cleared when full).
        self._principals: dict[Identity, Principal] = {}
        self._roots: dict[tuple[str, str], Identity] = {}
        self._where: dict[tuple[str, str], Where] = {}

    # -- API requests --------------------------------------------------------------------------

    def authorize(self, ctx: RequestContext, operation: str, params: Mapping[str, object]) -> None:
        """Raise the service's AWS error unless the caller may make this request."""
        service = ctx.service
        found = self.iam.lookup(ctx.access_key) if ctx.access_key else None
        identity = found.identity if found is not None else None
        if identity is None and found is not None and found.expired:
            raise _expired(service)
        if identity is None and ctx.access_key and not self.identity_policies:
            identity = self._unissued_root(ctx.access_key, _function_account(ctx) or ctx.account_id)
        if identity is None and (ctx.access_key or service != "s3"):
            raise self._unknown_key(service, ctx.access_key)
        if identity is not None:
            ctx.account_id = identity.account
            principal = self._principal(identity)
            policies = self.iam.identity_policies(identity) if self.identity_policies else _UNRESTRICTED
        else:
            principal, policies = ANONYMOUS, []  # S3 without credentials: only a bucket policy can allow
        checks = checks_for(service, operation, params, self._place(ctx.region, ctx.account_id))
        # The condition context is built only when a policy is evaluated: in plain mode, a
        # caller acting on its own account's resources that no resource policy governs (the
        # common case) is allowed without it.
        built: list[dict[str, str | Sequence[str]]] = []

        def context() -> dict[str, str | Sequence[str]]:
            if not built:
                built.append(self.request_context(ctx))
            return built[0]

        holders: dict[str, tuple[str | None, str | None]] = {}  # a batch's items share their bucket's policy
        denied_items: set[int] = set()
        for check in checks:
            held = self._holder_policy(check.resource, holders)
            if self._plainly_own(principal, held, ctx.account_id) and self._own_object(principal, check):
                continue  # what _decide would allow, without building its request
            request, decision = self._decide(principal, policies, check, context, ctx.account_id, held)
            if decision.allowed or self._no_such_bucket(service, operation, check.resource):
                continue
            if request.action in _ROOT_KEEPS and principal.kind == "root" \
                    and principal.account == request.resource_account:
                continue
            if self._taken_bucket(operation, request, policies, ctx.account_id):
                continue
            if self._listable_missing_key(operation, request, policies, context, ctx.account_id):
                continue
            if check.item is not None:
                denied_items.add(check.item)  # the operation fails that item alone
                continue
            code, status = DENIED.get(service, ("AccessDeniedException", 403))
            raise ServiceError(code, denied_message(*_as_worded(request, decision)), status)
        if denied_items:
            ctx.denied_items = frozenset(denied_items)

    def _principal(self, identity: Identity) -> Principal:
        principal = self._principals.get(identity)
        return principal if principal is not None else _remember(self._principals, identity, principal_of(identity))

    def _place(self, region: str, account: str) -> Where:
        where = self._where.get((region, account))
        return where if where is not None else _remember(self._where, (region, account), Where(region, account))

    def _unissued_root(self, access_key: str, account: str) -> Identity:
        """Plain mode: the root of `account` for a key nobody issued."""
        identity = self._roots.get((access_key, account))
        if identity is not None:
            return identity
        return _remember(self._roots, (access_key, account), root_identity(access_key, "", account))

    def _no_such_bucket(self, service: str, operation: str, resource: str) -> bool:
        """A request about a bucket that does not exist: S3 answers NoSuchBucket (404) to anyone,
        anonymous callers and other accounts included, so the service is left to say so. Creating
        the bucket is still the caller's identity policies' decision."""
        if service != "s3" or operation == "CreateBucket" or not resource.startswith("arn:aws:s3:::"):
            return False
        source = self.resources.get("s3")
        return source is not None and source.resource_policy(resource)[1] is None

    def _taken_bucket(self, operation: str, request: AuthRequest, policies: Sequence[Policy], caller: str) -> bool:
        """CreateBucket of a name another account holds: S3 answers BucketAlreadyExists (409), not
        AccessDenied, to a caller whose own policies let it create buckets; the service says so."""
        if operation != "CreateBucket" or request.resource_account == caller:
            return False
        mine = dataclasses.replace(request, resource_account=caller)
        return evaluate(mine, policies, None).allowed

    def _listable_missing_key(self, operation: str, request: AuthRequest, policies: Sequence[Policy],
                              context: Callable[[], Mapping[str, str | Sequence[str]]], caller: str) -> bool:
        """GET/HEAD of a key that does not exist by a caller who may list it (s3:ListBucket with
        s3:prefix the key): S3 answers 404 NoSuchKey rather than 403, as its documentation says
        of reads without s3:GetObject; the service says so."""
        if operation not in ("GetObject", "HeadObject") or not request.resource.startswith("arn:aws:s3:::"):
            return False
        source = self.resources.get("s3")
        if not isinstance(source, ObjectTags) or source.existing_object_tags(request.resource) is not None:
            return False
        bucket, _, key = request.resource[len("arn:aws:s3:::"):].partition("/")
        listing = Check("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key})
        _, decision = self._decide(request.principal, policies, listing, context, caller)
        return decision.allowed

    def request_context(self, ctx: RequestContext) -> dict[str, str | Sequence[str]]:
        return {
            "aws:SecureTransport": "true" if _secure_transport(ctx) else "false",
            "aws:SourceIp": ctx.source_ip,
            "aws:RequestedRegion": ctx.region,
            "aws:UserAgent": ctx.headers.get("user-agent", ""),
            **({"aws:Referer": ctx.headers["referer"]} if "referer" in ctx.headers else {}),
            **self._time_context(),
        }

    def _time_context(self) -> dict[str, str]:
        """aws:CurrentTime / aws:EpochTime, formatted once per second (formatting per request
        was a tenth of enforcement's cost)."""
        second = int(self.clock.now())
        if self._stamp[0] != second:
            when = dt.datetime.fromtimestamp(second, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._stamp = (second, {"aws:CurrentTime": when, "aws:EpochTime": str(second)})
        return self._stamp[1]

    def _holder_policy(self, resource: str, holders: dict[str, tuple[str | None, str | None]]
                       ) -> tuple[str | None, str | None]:
        """`resource_policy` of the resource whose policy governs `resource`, once per request."""
        holder = _policy_holder(resource)
        found = holders.get(holder)
        if found is None:
            found = holders[holder] = self.resource_policy(resource)
        return found

    def _plainly_own(self, principal: Principal, found: tuple[str | None, str | None], caller_account: str) -> bool:
        """Plain mode, the caller's own account, no resource policy that could deny: nothing to
        evaluate (an S3 object's ACL aside: see _decide)."""
        document, owner = found
        return document is None and not self.identity_policies and principal.account is not None \
            and (owner or caller_account) == principal.account

    def _own_object(self, principal: Principal, check: Check) -> bool:
        """Not an S3 object another account wrote (whose ACL alone decides: _s3_decision)."""
        if self.acls is None or not check.resource.startswith("arn:aws:s3:::"):
            return True
        writer = self.acls.object_owner(check.resource, check.action)
        return writer is None or writer == principal.account

    def _decide(self, principal: Principal, policies: Sequence[Policy], check: Check,
                context: Mapping[str, str | Sequence[str]] | Callable[[], Mapping[str, str | Sequence[str]]],
                caller_account: str,
                found: tuple[str | None, str | None] | None = None) -> tuple[AuthRequest, Decision]:
        """The decision on one check; `context`, the condition context, may be the function
        that builds it (called only when a policy is evaluated); `found`, the resource's policy
        and owner when the caller has looked them up."""
        document, owner = self.resource_policy(check.resource) if found is None else found
        if self._plainly_own(principal, (document, owner), caller_account):
            # Plain mode, own account, no resource policy that could deny: nothing to evaluate,
            # but an object another account wrote into the bucket is still governed by its ACL.
            request = AuthRequest(principal, check.action, check.resource, principal.account, check.context)
            if self.acls is None or not check.resource.startswith("arn:aws:s3:::"):
                return request, _ALLOWED
            return request, self._s3_decision(request, _ALLOWED, (), None, owner)
        if callable(context):
            context = context()
        extra: dict[str, str | Sequence[str]] = {}
        if document and "ExistingObjectTag" in document:
            # Read only when a policy names the key: the object's tags, one read.
            source = self.resources.get("s3")
            if isinstance(source, ObjectTags) and check.resource.startswith("arn:aws:s3:::"):
                tags = source.existing_object_tags(check.resource) or {}
                extra = {f"s3:ExistingObjectTag/{k}": v for k, v in tags.items()}
        request = AuthRequest(principal=principal, action=check.action, resource=check.resource,
                              resource_account=owner or caller_account,
                              context={**context, **check.context, **extra})
        policy = cached_policy(document) if document else None
        decision = evaluate(request, policies, policy)  # the context has the time
        if self.acls is None or decision.explicit_deny or not check.resource.startswith("arn:aws:s3:::"):
            return request, decision
        return request, self._s3_decision(request, decision, policies, policy, owner)

    def _s3_decision(self, request: AuthRequest, decision: Decision, policies: Sequence[Policy],
                     policy: Policy | None, owner: str | None) -> Decision:
        """S3 beyond the bucket policy: RestrictPublicBuckets takes a public policy's allows away
        from callers outside the owner's account (its denies still apply: they were checked), and
        ACL grants allow as a resource-based policy does. Read only when they may matter."""
        assert self.acls is not None
        principal = request.principal
        outsider = principal.kind == "anonymous" or (principal.kind != "service" and principal.account != owner)
        if decision.allowed and policy is not None and outsider \
                and self.acls.restricts_public_policy(request.resource):
            decision = evaluate(request, policies, None)
        if decision.allowed:
            # An object another account wrote (ACLs enabled) is that account's: its ACL alone
            # lets anyone else read it or its ACL, the bucket's owner included.
            writer = self.acls.object_owner(request.resource, request.action)
            if writer is None or writer == principal.account:
                return decision
            account = principal.account if principal.kind not in ("anonymous", "service") else None
            if self.acls.acl_grants(request.resource, request.action, account):
                return decision
            return Decision(False, f"no resource-based policy allows the {request.action} action")
        account = principal.account if principal.kind not in ("anonymous", "service") else None
        grant = None if principal.kind == "service" else self.acls.acl_grants(request.resource, request.action, account)
        if grant is None:
            return decision
        if grant == "account" and principal.kind != "root" and not outsider:
            # A grant to an account is to its root, as a policy naming the account: in that
            # account, only an identity policy lets a user or role in (it did not).
            return decision
        return evaluate(request, policies, None if outsider and policy is not None
                        and self.acls.restricts_public_policy(request.resource) else policy, acl_allowed=True)

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """The resource's policy document and owning account (from the ARN when the service
        does not know better)."""
        parts = arn.split(":")
        if len(parts) < 6:
            return None, None
        # AWS-managed policies (arn:aws:iam::aws:policy/...) are every account's to read: the
        # caller's own identity policies decide, as for its own resources.
        account = None if parts[4] == "aws" else parts[4] or None  # arn_account's, split once
        source = self.resources.get(parts[2])
        if source is None:
            return None, account
        document, owner = source.resource_policy(arn)
        return document, owner or account

    def _unknown_key(self, service: str, access_key: str | None) -> ServiceError:
        if not access_key:
            # As the signature check answers an unsigned request (gateway/sigv4_family.py).
            if service in ("lambda", "events", "logs"):
                return ServiceError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
            return ServiceError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
        code, status, message = UNKNOWN_KEY.get(service, ("UnrecognizedClientException", 403, _BAD_TOKEN))
        if service == "s3":
            return ServiceError(code, message, status, AWSAccessKeyId=access_key)
        return ServiceError(code, message, status)

    def lambda_may_assume(self, role_arn: str) -> bool:
        """Whether the role exists and its trust policy lets lambda.amazonaws.com assume it."""
        role = self.iam.role(role_arn)
        if role is None:
            return False
        try:
            trust = parse_policy(role["trust_policy"], "trust")
        except PolicyError:
            return False
        request = AuthRequest(principal=Principal(arn="lambda.amazonaws.com", account=None, kind="service"),
                              action="sts:AssumeRole", resource=role_arn, resource_account=arn_account(role_arn),
                              context={"aws:SecureTransport": "true"})
        return evaluate(request, [], trust, now=self.clock.now()).allowed

    def missing_permission(self, role_arn: str, session: str, actions: Sequence[str], resource: str) -> str | None:
        """The first of `actions` a session of the role may not perform on `resource` (its identity
        policies and the resource's policy decide); None when it may perform them all. Lambda
        checks this of a function's execution role before it polls a queue for it."""
        identity = role_identity(role_arn, session)
        principal = principal_of(identity)
        policies = self.iam.identity_policies(identity)
        context: dict[str, str | Sequence[str]] = {"aws:SecureTransport": "true", **self._time_context()}
        for action in actions:
            _, decision = self._decide(principal, policies, Check(action, resource), context, identity.account)
            if not decision.allowed:
                return action
        return None

    # -- deliveries made with an execution role --------------------------------------------------

    def authorize_delivery(self, role_arn: str | None, session: str, target_arn: str,
                           delivery: Delivery) -> DeliveryResult | None:
        """None if the role may deliver to the target, else the ACCESS_DENIED result.

        Lambda sends to a DLQ or destination as the function's execution role: the role's
        identity policies and the target's resource policy decide (aws-reference §8)."""
        parts = target_arn.split(":")
        service = parts[2] if len(parts) > 5 else ""
        action = DELIVERY_ACTIONS.get(service)
        if action is None:
            return None
        if not role_arn:
            return DeliveryResult.failed(ACCESS_DENIED, "the function has no execution role")
        identity = role_identity(role_arn, session)
        principal = principal_of(identity)
        policies = self.iam.identity_policies(identity)
        context: dict[str, str | Sequence[str]] = {"aws:SecureTransport": "true", **self._time_context()}
        checks = [Check(action, target_arn)]
        if service == "s3":
            bucket = target_arn.split(":::", 1)[-1]
            # AWS's page: the role needs s3:PutObject and s3:ListBucket on the destination bucket.
            checks = [Check("s3:PutObject", f"arn:aws:s3:::{bucket}/{delivery.object_key or ''}"),
                      Check("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
        for check in checks:
            request, decision = self._decide(principal, policies, check, context, identity.account)
            if not decision.allowed:
                return DeliveryResult.failed(ACCESS_DENIED, denied_message(request, decision))
        return None


def _function_account(ctx: RequestContext) -> str | None:
    """The account of a function whose placeholder credentials made this request: without
    enforcement a function's session token is `sluice:<role ARN>:<name>` (lambda_/resolve.py),
    and its calls are its account's, as its role's would be."""
    token = ctx.headers.get("x-amz-security-token", "")
    if not token.startswith("c2x1aWNlOmFybjphd3M6aWFt"):  # base64 of "sluice:arn:aws:iam"
        return None
    try:
        text = base64.b64decode(token, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    account = text.split(":")[5] if text.count(":") >= 6 else ""
    return account if len(account) == 12 and account.isdigit() else None


def _as_worded(request: AuthRequest, decision: Decision) -> tuple[AuthRequest, Decision]:
    """The action as each service spells it in its message: SQS lower-cases it
    ("sqs:sendmessage"), SNS capitalises the prefix ("SNS:Publish"), the others keep it."""
    prefix, _, name = request.action.partition(":")
    worded = request.action.lower() if prefix == "sqs" else f"SNS:{name}" if prefix == "sns" else request.action
    if worded == request.action:
        return request, decision
    return (dataclasses.replace(request, action=worded),
            dataclasses.replace(decision, reason=decision.reason.replace(request.action, worded)))


def _policy_holder(arn: str) -> str:
    """The resource whose policy governs `arn`: an S3 object's bucket, otherwise the resource."""
    return arn.split("/", 1)[0] if arn.startswith("arn:aws:s3:::") else arn


def principal_of(identity: Identity) -> Principal:
    return Principal(arn=identity.arn, account=identity.account, kind=identity.kind, role_arn=identity.role_arn)


def _expired(service: str) -> ServiceError:
    if service == "s3":
        return ServiceError("ExpiredToken", "The provided token has expired.", 400)
    code = "ExpiredTokenException" if service in ("lambda", "events", "logs") else "ExpiredToken"
    # The awsJson-protocol services (Logs, EventBridge) answer failed authentication with 400.
    return ServiceError(code, "The security token included in the request is expired",
                        400 if service in ("events", "logs") else 403)


def role_identity(role_arn: str, session: str) -> Identity:
    """The assumed-role session a function's deliveries are made as (no credentials needed)."""
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[-1]
    return Identity(access_key="", secret_key="", session_token=None, account=account,
                    arn=f"arn:aws:sts::{account}:assumed-role/{name}/{session}", kind="assumed-role",
                    user_id=f"AROA:{session}", role_arn=role_arn)


_LOOPBACK = ("127.", "::1", "::ffff:127.")


def _secure_transport(ctx: RequestContext) -> bool:
    """TLS, or a request that never left this machine. AWS's endpoints all speak TLS, so a
    template's common `Deny` on `aws:SecureTransport: false` (the SAM CLI's own artifacts bucket
    has one) never applies to a user there; loopback traffic is as private, and holding it
    against plain http would lock users out of buckets their unchanged templates make. Plain
    http from another machine (`--host 0.0.0.0`) is not secure."""
    return ctx.endpoint.startswith("https:") or ctx.source_ip.startswith(_LOOPBACK)


K = TypeVar("K")
V = TypeVar("V")


def _remember(memo: dict[K, V], key: K, value: V) -> V:
    """Keep `value` for `key` in a memo of at most _MEMO entries (emptied when full: the values
    are cheap to make again, and a stream of distinct keys must not grow it)."""
    if len(memo) >= _MEMO:
        memo.clear()
    memo[key] = value
    return value
