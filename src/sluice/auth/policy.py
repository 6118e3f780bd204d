"""IAM policy documents: parsed and checked once, then evaluated per request as AWS does.

Evaluation (IAM User Guide, "Policy evaluation logic"): an explicit Deny in any applicable
policy wins; otherwise a request is allowed when, in the same account, an identity-based policy
OR the resource-based policy allows it, and across accounts when both do. The root user of an
account needs no identity policy; service principals and anonymous callers get access only from
a resource-based policy.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..protocol import safejson
from .conditions import (
    Clause,
    ConditionError,
    Context,
    all_hold,
    arn_regex,
    compile_conditions,
    expand,
    glob_regex,
    has_variables,
    pieces_regex,
)

# What a document is for, which decides the Principal/Resource rules IAM applies to it:
# "identity" (user/role/group and managed policies), "resource" (bucket, queue, topic, function
# policies), "trust" (a role's AssumeRolePolicyDocument), "any" (no kind-specific rules).
PolicyKind = Literal["identity", "resource", "trust", "any"]

VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_ELEMENTS = {"Version", "Id", "Statement"}
_STATEMENT_ELEMENTS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                       "Principal", "NotPrincipal", "Condition"}
_VENDOR = re.compile(r"[^a-zA-Z0-9\-.]")
_ACCOUNT = re.compile(r"^\d{12}$")
_AWS_PRINCIPAL = re.compile(
    r"^arn:aws[a-z-]*:(iam::(\d{12}):(root|user/.+|role/.+|group/.+)|sts::(\d{12}):(assumed-role/.+/.+|federated-user/.+))$"
)


class PolicyError(ValueError):
    """A malformed policy; str(err) is IAM's MalformedPolicyDocument message."""


@dataclass(frozen=True)
class Principal:
    """Who makes a request, as policies name it: root, user, role session, service or anonymous."""

    arn: str                 # arn:aws:iam::123456789012:root | ...:user/u |
                             # arn:aws:sts::123456789012:assumed-role/Role/session | "s3.amazonaws.com"
    account: str | None      # None for service principals
    kind: str                # "root" | "user" | "assumed-role" | "service" | "anonymous"
    role_arn: str | None = None   # arn:aws:iam::123:role/Role for assumed-role sessions


ANONYMOUS = Principal("anonymous", None, "anonymous")


@dataclass(frozen=True)
class AuthRequest:
    """One question for evaluation: may this principal take this action on this resource?"""

    principal: Principal
    action: str              # "s3:GetObject"
    resource: str            # an ARN, or "*" for actions without a resource
    resource_account: str | None     # the account owning the resource, when known
    # Condition keys (case-insensitive names), e.g. "aws:SourceArn", "s3:prefix",
    # "aws:SecureTransport": "false", "aws:SourceIp". evaluate() adds aws:PrincipalAccount,
    # aws:PrincipalArn, aws:PrincipalType, aws:username, s3:ResourceAccount, and
    # aws:CurrentTime/aws:EpochTime when given `now`.
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The answer to an AuthRequest, with why it was denied in the words of AWS's message."""

    allowed: bool
    reason: str              # "" when allowed; else what AWS's message ends with, e.g.
                             # "no identity-based policy allows the s3:GetObject action",
                             # "an explicit deny in an identity-based policy"
    explicit_deny: bool = False


# --- matchers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ActionMatcher:
    """A statement's Action (or NotAction) list, compiled: exact names and one wildcard regex."""

    exact: frozenset[str]            # lower-cased names without wildcards
    pattern: re.Pattern[str] | None  # the wildcard ones, one alternation, case-insensitive

    @classmethod
    def build(cls, actions: Sequence[str]) -> _ActionMatcher:
        exact = frozenset(a.lower() for a in actions if "*" not in a and "?" not in a)
        wild = [glob_regex(a) for a in actions if "*" in a or "?" in a]
        pattern = re.compile("(?:" + "|".join(wild) + ")", re.IGNORECASE | re.DOTALL) if wild else None
        return cls(exact, pattern)

    def matches(self, action: str) -> bool:
        if action.lower() in self.exact:
            return True
        return self.pattern is not None and self.pattern.fullmatch(action) is not None


@dataclass(frozen=True)
class _ResourceMatcher:
    """A statement's Resource (or NotResource) list, compiled; values with policy variables
    are expanded per request."""

    pattern: re.Pattern[str] | None   # values without policy variables
    templates: tuple[str, ...]        # values with policy variables

    @classmethod
    def build(cls, resources: Sequence[str], variables: bool) -> _ResourceMatcher:
        templates = tuple(r for r in resources if variables and has_variables(r))
        plain = [arn_regex(r) for r in resources if r not in templates]
        pattern = re.compile("(?:" + "|".join(plain) + ")", re.DOTALL) if plain else None
        return cls(pattern, templates)

    def matches(self, resource: str, context: Context) -> bool:
        if self.pattern is not None and self.pattern.fullmatch(resource) is not None:
            return True
        for template in self.templates:
            pieces = expand(template, context)
            if pieces is not None and re.fullmatch(pieces_regex(pieces, arn=True), resource, re.DOTALL):
                return True
        return False


@dataclass(frozen=True)
class _PrincipalMatcher:
    """A statement's Principal (or NotPrincipal) element: the callers it names."""

    everyone: bool = False
    accounts: frozenset[str] = frozenset()
    arns: frozenset[str] = frozenset()        # users, roles (match their sessions), sessions
    services: frozenset[str] = frozenset()    # lower-cased

    def matches(self, p: Principal) -> bool:
        if self.everyone:
            return True
        if p.kind == "service":
            return p.arn.lower() in self.services
        if p.kind == "anonymous":
            return False
        return (p.account in self.accounts or p.arn in self.arns
                or (p.role_arn is not None and p.role_arn in self.arns))


def _parse_principal(raw: Any) -> _PrincipalMatcher:
    if raw == "*":
        return _PrincipalMatcher(everyone=True)
    if not isinstance(raw, dict) or not raw:
        raise PolicyError("Syntax errors in policy.")
    everyone = False
    accounts: set[str] = set()
    arns: set[str] = set()
    services: set[str] = set()
    for kind, values in raw.items():
        items = values if isinstance(values, list) else [values]
        if not all(isinstance(v, str) for v in items):
            raise PolicyError("Syntax errors in policy.")
        for value in items:
            if kind == "AWS":
                if value == "*":
                    everyone = True
                elif _ACCOUNT.match(value):
                    accounts.add(value)
                else:
                    m = _AWS_PRINCIPAL.match(value)
                    if m is None:
                        raise PolicyError(f'Invalid principal in policy: "AWS":"{value}"')
                    if m.group(3) == "root":
                        accounts.add(m.group(2))
                    else:
                        arns.add(value)
            elif kind == "Service":
                services.add(value.lower())
            elif kind in ("Federated", "CanonicalUser"):
                continue  # web identity / SAML / S3 canonical ids: no such callers here
            else:
                raise PolicyError("Syntax errors in policy.")
    return _PrincipalMatcher(everyone, frozenset(accounts), frozenset(arns), frozenset(services))


# --- statements and policies ----------------------------------------------------------------

@dataclass(frozen=True)
class Statement:
    """One statement of a policy, parsed and compiled."""

    sid: str | None
    effect: str                                  # "Allow" | "Deny"
    actions: _ActionMatcher
    not_action: bool
    resources: _ResourceMatcher | None           # None: no Resource element (trust policies)
    not_resource: bool
    principals: _PrincipalMatcher | None         # None: no Principal element
    not_principal: bool
    conditions: tuple[Clause, ...]

    def applies(self, action: str, resource: str, context: Context) -> bool:
        if self.actions.matches(action) == self.not_action:
            return False
        if self.resources is not None and self.resources.matches(resource, context) == self.not_resource:
            return False
        return all_hold(self.conditions, context)

    def names(self, principal: Principal) -> bool:
        if self.principals is None:
            return False
        return self.principals.matches(principal) != self.not_principal


@dataclass(frozen=True)
class Policy:
    """A policy document, parsed and checked once, to be evaluated per request."""

    version: str
    id: str | None
    statements: tuple[Statement, ...]

    def effects(self, request: AuthRequest, context: Context, *, resource_based: bool) -> tuple[bool, bool]:
        """(some statement allows, some statement denies) for this request."""
        allow = deny = False
        for s in self.statements:
            if resource_based and not s.names(request.principal):
                continue
            if s.applies(request.action, request.resource, context):
                if s.effect == "Deny":
                    deny = True
                    break
                allow = True
        return allow, deny


def _strings(statement: Mapping[str, Any], key: str) -> list[str] | None:
    if key not in statement:
        return None
    value = statement[key]
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in items):
        raise PolicyError("Syntax errors in policy.")
    return items


def _load(document: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(document, Mapping):
        return dict(document)
    try:
        loaded = safejson.loads(document)
    except (ValueError, TypeError):
        raise PolicyError("Syntax errors in policy.") from None
    if not isinstance(loaded, dict):
        raise PolicyError("Syntax errors in policy.")
    return loaded


def _check_syntax(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if not set(doc) <= _TOP_ELEMENTS or "Statement" not in doc:
        raise PolicyError("Syntax errors in policy.")
    if "Version" in doc and doc["Version"] not in VERSIONS:
        raise PolicyError("Syntax errors in policy.")
    if "Id" in doc and not isinstance(doc["Id"], str):
        raise PolicyError("Syntax errors in policy.")
    raw = doc["Statement"]
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise PolicyError("Syntax errors in policy.")
    for s in statements:
        if not isinstance(s, dict) or not set(s) <= _STATEMENT_ELEMENTS:
            raise PolicyError("Syntax errors in policy.")
        for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
            if a in s and b in s:
                raise PolicyError("Syntax errors in policy.")
        effect = s.get("Effect")
        if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
            raise PolicyError("Syntax errors in policy.")
        if "Sid" in s and not isinstance(s["Sid"], str):
            raise PolicyError("Syntax errors in policy.")
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            _strings(s, key)
    return statements


def _resource_error(resource: str) -> str | None:
    """IAM's message for a Resource value that is neither "*" nor an ARN (pattern)."""
    if resource == "*":
        return None
    parts = resource.split(":", 5)
    if len(parts) < 2:
        return f'Resource {resource} must be in ARN format or "*".'
    if parts[1] not in ("aws", "aws-cn", "aws-us-gov", "*"):
        return f'Partition "{parts[1]}" is not valid for resource "{resource}".'
    if len(parts) < 3 or not parts[2] or "*" in parts[2] or "?" in parts[2]:
        return "Resource vendor must be fully qualified and cannot contain regexes."
    return None


def _check_action(action: str) -> None:
    parts = action.split(":")
    if len(parts) == 1 and action != "*":
        raise PolicyError("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    if len(parts) > 2:
        raise PolicyError("Actions/Condition can contain only one colon.")
    if parts[0] != "*" and _VENDOR.search(parts[0]):
        raise PolicyError(f"Vendor {parts[0]} is not valid")


def _uses_variables(statements: list[dict[str, Any]]) -> bool:
    return "${" in json.dumps(statements)


def parse_policy(document: str | Mapping[str, Any], kind: PolicyKind = "any") -> Policy:
    """Check a policy document as IAM does (checks in IAM's order, first failure wins) and
    compile it. Raises PolicyError with IAM's MalformedPolicyDocument message."""
    doc = _load(document)
    statements = _check_syntax(doc)
    version = doc.get("Version", "2008-10-17")
    if kind == "identity" and version != "2012-10-17":
        # IAM's own policies (CreatePolicy, Put*Policy) refuse the 2008 grammar; resource and
        # trust policies still accept it.
        raise PolicyError("Policy document must be version 2012-10-17 or greater.")
    for s in statements:
        has_principal = "Principal" in s or "NotPrincipal" in s
        if kind == "identity" and has_principal:
            raise PolicyError("Policy document should not specify a principal.")
        if kind in ("resource", "trust") and not has_principal:
            raise PolicyError("Missing required field Principal")
        if kind == "trust" and ("Resource" in s or "NotResource" in s):
            raise PolicyError("Has prohibited field Resource")
    resource_error = None
    for s in statements:
        if s["Effect"] not in ("Allow", "Deny"):
            raise PolicyError("The policy failed legacy parsing")  # IAM: Effect is case-sensitive
        for r in (_strings(s, "Resource") or []) + (_strings(s, "NotResource") or []):
            resource_error = resource_error or _resource_error(r)
    sids = [s["Sid"] for s in statements if s.get("Sid")]
    if len(sids) != len(set(sids)):
        raise PolicyError("Statement IDs (SID) in a single policy must be unique.")
    for s in statements:
        if not (_strings(s, "Action") or _strings(s, "NotAction")):
            raise PolicyError("Policy statement must contain actions.")
    if kind != "trust":
        for s in statements:
            if not (_strings(s, "Resource") or _strings(s, "NotResource")) and kind != "any":
                raise PolicyError("Policy statement must contain resources.")
    if resource_error:
        raise PolicyError(resource_error)
    for s in statements:
        for action in (_strings(s, "Action") or []) + (_strings(s, "NotAction") or []):
            _check_action(action)
    variables = version == "2012-10-17"
    compiled = []
    for s in statements:
        compiled.append(_compile_statement(s, variables))
    return Policy(version, doc.get("Id"), tuple(compiled))


def _compile_statement(s: dict[str, Any], variables: bool) -> Statement:
    actions = _strings(s, "Action")
    resources = _strings(s, "Resource")
    not_resources = _strings(s, "NotResource")
    resource_values = resources if resources is not None else not_resources
    principal = s.get("Principal", s.get("NotPrincipal"))
    try:
        conditions = compile_conditions(s["Condition"], variables) if "Condition" in s else ()
    except ConditionError as err:
        raise PolicyError(str(err)) from None
    return Statement(
        sid=s.get("Sid"),
        effect=s["Effect"],
        actions=_ActionMatcher.build(actions if actions is not None else _strings(s, "NotAction") or []),
        not_action=actions is None,
        resources=_ResourceMatcher.build(resource_values, variables) if resource_values is not None else None,
        not_resource=resources is None and not_resources is not None,
        principals=_parse_principal(principal) if principal is not None else None,
        not_principal="NotPrincipal" in s,
        conditions=conditions,
    )


# --- evaluation -----------------------------------------------------------------------------

_PRINCIPAL_TYPES = {"root": "Account", "user": "User", "assumed-role": "AssumedRole",
                    "anonymous": "Anonymous"}


def request_context(request: AuthRequest, now: float | None = None) -> dict[str, tuple[str, ...]]:
    """The request's condition keys, lower-cased, plus the ones IAM derives itself."""
    ctx: dict[str, tuple[str, ...]] = {}
    for key, value in request.context.items():
        ctx[key.lower()] = (value,) if isinstance(value, str) else tuple(value)
    p = request.principal
    if p.kind == "service":
        ctx.setdefault("aws:principalservicename", (p.arn,))
    elif p.kind != "anonymous":
        if p.account:
            ctx["aws:principalaccount"] = (p.account,)
        ctx["aws:principalarn"] = (p.role_arn or p.arn,)
        if p.kind == "user":
            ctx.setdefault("aws:username", (p.arn.rsplit("/", 1)[-1],))
    if p.kind in _PRINCIPAL_TYPES:
        ctx["aws:principaltype"] = (_PRINCIPAL_TYPES[p.kind],)
    if request.resource_account and request.action.lower().startswith("s3:"):
        ctx.setdefault("s3:resourceaccount", (request.resource_account,))
    if now is not None:
        stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        ctx.setdefault("aws:currenttime", (stamp,))
        ctx.setdefault("aws:epochtime", (str(int(now)),))
    return ctx


def evaluate(request: AuthRequest, identity_policies: Sequence[Policy], resource_policy: Policy | None,
             *, now: float | None = None, acl_allowed: bool = False) -> Decision:
    """AWS's decision for one request. `now` (epoch seconds, from the server's Clock) supplies
    aws:CurrentTime and aws:EpochTime unless the request context already has them.
    `acl_allowed`: an S3 ACL grant allows the request (it counts as a resource-based allow)."""
    context = request_context(request, now)
    p = request.principal
    by_identity = p.kind not in ("service", "anonymous")
    identity_allowed = p.kind == "root"
    if by_identity:
        for policy in identity_policies:
            allow, deny = policy.effects(request, context, resource_based=False)
            if deny:
                return Decision(False, "an explicit deny in an identity-based policy", True)
            identity_allowed = identity_allowed or allow
    resource_allowed = acl_allowed
    if resource_policy is not None:
        allow, deny = resource_policy.effects(request, context, resource_based=True)
        if deny:
            return Decision(False, "an explicit deny in a resource-based policy", True)
        resource_allowed = resource_allowed or allow
    no_identity = f"no identity-based policy allows the {request.action} action"
    no_resource = f"no resource-based policy allows the {request.action} action"
    if not by_identity:
        return Decision(resource_allowed, "" if resource_allowed else no_resource)
    same_account = request.resource_account is None or request.resource_account == p.account
    if same_account:
        allowed = identity_allowed or resource_allowed
        return Decision(allowed, "" if allowed else no_identity)
    if not identity_allowed:
        return Decision(False, no_identity)
    return Decision(resource_allowed, "" if resource_allowed else no_resource)


def denied_message(request: AuthRequest, decision: Decision) -> str:
    """AWS's AccessDenied text, e.g. 'User: arn:aws:sts::123:assumed-role/R/s is not authorized
    to perform: s3:GetObject on resource: "arn:aws:s3:::b/k" because no identity-based policy
    allows the s3:GetObject action'. S3 quotes the resource; the other services do not, and
    none names a resource for actions that have none."""
    p = request.principal
    is_s3 = request.action.lower().startswith("s3:")
    if p.kind == "anonymous" and is_s3:
        return "Access Denied"  # S3 tells anonymous callers nothing more
    who = p.arn
    text = f"User: {who} is not authorized to perform: {request.action}"
    if request.resource and request.resource != "*":
        resource = f'"{request.resource}"' if is_s3 else request.resource
        text += f" on resource: {resource}"
    joiner = "with" if decision.explicit_deny else "because"
    return f"{text} {joiner} {decision.reason}"
