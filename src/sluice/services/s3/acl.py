"""Access control lists: who an owner, a canned ACL, an `x-amz-grant-*` header or an
AccessControlPolicy body grants what, with S3's validation errors, and what a grant permits.

An ACL is kept as a small JSON document, `{"Owner": account, "Grants": [...]}`, each grant
`{"Grantee": {"Type": "CanonicalUser", "ID": id} | {"Type": "Group", "URI": uri}, "Permission": p}`.
Grants by e-mail are resolved to the account's canonical user when they are set, as S3 does (it
answers them back as CanonicalUser grants). Accounts' canonical ids are the SHA-256 of the
account id: 64 hex digits, stable per account (S3's are opaque 64-hex strings too).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from ...protocol.errors import ServiceError
from . import errors

GROUPS = "http://acs.amazonaws.com/groups/"
ALL_USERS = GROUPS + "global/AllUsers"
AUTHENTICATED_USERS = GROUPS + "global/AuthenticatedUsers"
LOG_DELIVERY = GROUPS + "s3/LogDelivery"
_KNOWN_GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
PUBLIC_GROUPS = (ALL_USERS, AUTHENTICATED_USERS)  # what Block Public Access calls "public"
# The canonical user aws-exec-read grants READ to: EC2, which reads AMI bundles from S3.
EC2_CANONICAL_ID = "6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c"

FULL_CONTROL, READ, WRITE, READ_ACP, WRITE_ACP = "FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP"
PERMISSIONS = (FULL_CONTROL, WRITE, WRITE_ACP, READ, READ_ACP)
CANNED = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
          "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write")
# The request members carrying x-amz-grant-* headers, and the permission each grants.
GRANT_MEMBERS = {"GrantFullControl": FULL_CONTROL, "GrantRead": READ, "GrantWrite": WRITE,
                 "GrantReadACP": READ_ACP, "GrantWriteACP": WRITE_ACP}

_MALFORMED_ACL = ("The XML you provided was not well-formed or did not validate against our published schema")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# One grantee of an x-amz-grant-* header: id="...", emailAddress="..." or uri="..." (AWS documents
# the quotes; a value without them, as other S3 stores and ceph's s3-tests send, is taken too).
_HEADER_GRANTEE = re.compile(r'\s*(id|emailAddress|uri)\s*=\s*(?:"([^"]*)"|([^",\s]+))\s*(?:,|$)', re.IGNORECASE)

Acl = dict[str, Any]
ResolveEmail = Callable[[str], "str | None"]  # an e-mail address -> its account, or None


def canonical_id(account: str) -> str:
    return hashlib.sha256(account.encode()).hexdigest()


def display_name(account: str) -> str:
    """The owner's display name: the account id (distinct per account, as AWS's are)."""
    return account


def owner_member(account: str) -> dict[str, str]:
    return {"ID": canonical_id(account), "DisplayName": display_name(account)}


def user(account_or_id: str, permission: str, *, is_id: bool = False) -> dict[str, Any]:
    ident = account_or_id if is_id else canonical_id(account_or_id)
    return {"Grantee": {"Type": "CanonicalUser", "ID": ident}, "Permission": permission}


def group(uri: str, permission: str) -> dict[str, Any]:
    return {"Grantee": {"Type": "Group", "URI": uri}, "Permission": permission}


def private(owner: str) -> Acl:
    return {"Owner": owner, "Grants": [user(owner, FULL_CONTROL)]}


def canned(name: str, owner: str, bucket_owner: str) -> Acl:
    """A canned ACL's grants for a resource owned by `owner` in a bucket of `bucket_owner`.
    AWS documents no order for them; the added grants come before the owner's full control,
    the order S3-compatible stores answer and ceph's s3-tests check."""
    extra: list[dict[str, Any]] = []
    if name == "public-read":
        extra.append(group(ALL_USERS, READ))
    elif name == "public-read-write":
        extra += [group(ALL_USERS, READ), group(ALL_USERS, WRITE)]
    elif name == "authenticated-read":
        extra.append(group(AUTHENTICATED_USERS, READ))
    elif name == "aws-exec-read":
        extra.append(user(EC2_CANONICAL_ID, READ, is_id=True))
    elif name == "log-delivery-write":
        extra += [group(LOG_DELIVERY, WRITE), group(LOG_DELIVERY, READ_ACP)]
    grants = [*extra, user(owner, FULL_CONTROL)]
    if name in ("bucket-owner-read", "bucket-owner-full-control") and bucket_owner != owner:
        grants.append(user(bucket_owner, READ if name == "bucket-owner-read" else FULL_CONTROL))
    return {"Owner": owner, "Grants": grants}


# -- what a request asks for ------------------------------------------------------------------


def requested(params: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """(the canned ACL, the x-amz-grant-* members) a request carries, validated for form."""
    name = params.get("ACL")
    headers = {m: str(params[m]) for m in GRANT_MEMBERS if params.get(m) is not None}
    if name is not None and name not in CANNED:
        raise errors.invalid_argument("", "x-amz-acl", str(name))
    if name is not None and headers:
        raise errors.invalid_request("Specifying both Canned ACLs and Header Grants is not allowed")
    return name, headers


def from_headers(headers: Mapping[str, str], owner: str, emails: ResolveEmail) -> Acl:
    """The ACL x-amz-grant-* headers give: exactly the grants named (S3 adds none for the owner)."""
    grants: list[dict[str, Any]] = []
    for member, permission in GRANT_MEMBERS.items():
        value = headers.get(member)
        if value is None:
            continue
        position = 0
        while position < len(value):
            m = _HEADER_GRANTEE.match(value, position)
            if m is None or m.end() == position:
                raise errors.invalid_argument("Argument format not recognized", _header_name(member), value)
            position = m.end()
            kind, target = m.group(1).lower(), m.group(2) if m.group(2) is not None else m.group(3)
            grantee = ({"Type": "CanonicalUser", "ID": target} if kind == "id" else
                       {"Type": "Group", "URI": target} if kind == "uri" else
                       {"Type": "AmazonCustomerByEmail", "EmailAddress": target})
            grants.append({"Grantee": _checked_grantee(grantee, emails), "Permission": permission})
    return {"Owner": owner, "Grants": grants}


def _header_name(member: str) -> str:
    return "x-amz-grant-" + {"GrantFullControl": "full-control", "GrantRead": "read", "GrantWrite": "write",
                             "GrantReadACP": "read-acp", "GrantWriteACP": "write-acp"}[member]


def from_body(policy: Mapping[str, Any], owner: str, emails: ResolveEmail) -> Acl:
    """The ACL of an AccessControlPolicy document, with S3's errors for what it cannot take."""
    stated_owner = policy.get("Owner")
    if not isinstance(stated_owner, Mapping) or not stated_owner.get("ID"):
        raise ServiceError("MalformedACLError", _MALFORMED_ACL, 400)
    if stated_owner["ID"] != canonical_id(owner):
        # S3 does not let an ACL change who owns the resource.
        raise ServiceError("AccessDenied", "Access Denied", 403)
    grants = []
    for grant in policy.get("Grants") or []:
        grantee = grant.get("Grantee") if isinstance(grant, Mapping) else None
        permission = grant.get("Permission") if isinstance(grant, Mapping) else None
        if not isinstance(grantee, Mapping) or permission not in PERMISSIONS:
            raise ServiceError("MalformedACLError", _MALFORMED_ACL, 400)
        grants.append({"Grantee": _checked_grantee(grantee, emails), "Permission": permission})
    if len(grants) > 100:  # S3's limit on grants in one ACL
        raise ServiceError("MalformedACLError", _MALFORMED_ACL, 400)
    return {"Owner": owner, "Grants": grants}


def _checked_grantee(grantee: Mapping[str, Any], emails: ResolveEmail) -> dict[str, str]:
    kind = grantee.get("Type")
    if kind == "CanonicalUser":
        ident = str(grantee.get("ID") or "")
        # Any 64-hex id is taken: S3 cannot tell here whether an account with it exists (an account
        # is any 12-digit key), so only ids that cannot be canonical ids are refused.
        if not _HEX64.fullmatch(ident):
            raise errors.invalid_argument("Invalid id", "CanonicalUser/ID", ident)
        return {"Type": "CanonicalUser", "ID": ident}
    if kind == "Group":
        uri = str(grantee.get("URI") or "")
        if uri not in _KNOWN_GROUPS:
            raise errors.invalid_argument("Invalid group uri", "Group/URI", uri)
        return {"Type": "Group", "URI": uri}
    if kind == "AmazonCustomerByEmail":
        address = str(grantee.get("EmailAddress") or "")
        account = emails(address)
        if account is None:
            raise ServiceError("UnresolvableGrantByEmailAddress",
                               "The e-mail address you provided does not match any account on record.", 400,
                               EmailAddress=address)
        return {"Type": "CanonicalUser", "ID": canonical_id(account)}
    raise ServiceError("MalformedACLError", _MALFORMED_ACL, 400)


# -- reading ACLs -----------------------------------------------------------------------------


def members(acl: Acl, accounts: Mapping[str, str]) -> dict[str, Any]:
    """GetBucketAcl / GetObjectAcl members. `accounts`: canonical id -> account, for the display
    names of grantees Sluice knows."""
    grants = []
    # Group grants first: AWS documents no order, and ceph's s3-tests (which sort grants by
    # display name only when the first has one) need the grants without a name to lead.
    for grant in sorted(acl["Grants"], key=lambda g: g["Grantee"]["Type"] != "Group"):
        grantee = dict(grant["Grantee"])
        account = accounts.get(grantee.get("ID", ""))
        if account is not None:
            grantee["DisplayName"] = display_name(account)
        grants.append({"Grantee": grantee, "Permission": grant["Permission"]})
    return {"Owner": owner_member(acl["Owner"]), "Grants": grants}


def is_public(acl: Acl) -> bool:
    """Whether the ACL grants anything to everyone or to every AWS account (Block Public
    Access's definition of a public ACL)."""
    return any(g["Grantee"].get("URI") in PUBLIC_GROUPS for g in acl["Grants"])


def only_owner(acl: Acl) -> bool:
    """Whether the ACL grants nothing to anyone but its owner (BucketOwnerEnforced needs that)."""
    mine = canonical_id(acl["Owner"])
    return all(g["Grantee"].get("ID") == mine for g in acl["Grants"])


# -- what a grant permits ---------------------------------------------------------------------

# AWS's mapping of ACL permissions to policy actions ("Mapping of ACL permissions and access
# policy permissions"): on a bucket, and on an object.
_BUCKET_ACTIONS = {
    READ: ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"),
    WRITE: ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"),
    READ_ACP: ("s3:GetBucketAcl",),
    WRITE_ACP: ("s3:PutBucketAcl",),
}
_OBJECT_ACTIONS = {
    READ: ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTorrent", "s3:GetObjectAttributes",
           "s3:GetObjectVersionAttributes"),
    READ_ACP: ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    WRITE_ACP: ("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
}
# Bucket-level ACL grants that cover actions on objects in it (writing and deleting objects).
OBJECT_WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")


_GOVERNED = frozenset(action for actions in _OBJECT_ACTIONS.values() for action in actions)


def governs_object(action: str) -> bool:
    """Whether an object's ACL (not the bucket's) decides who may perform `action` on it (asked
    by IAM enforcement for every request on an object)."""
    return action in _GOVERNED


GROUP, ACCOUNT = "group", "account"  # what kind of grant let a caller in


def permits(acl: Acl, action: str, on_object: bool, account: str | None, ignore_public: bool) -> str | None:
    """Which grant of `acl` lets a caller of `account` (None: anonymous) perform `action`: GROUP
    (AllUsers, AuthenticatedUsers: the caller itself, as "Principal": "*" does), ACCOUNT (a grant to
    the caller's account: to its root, which delegates to the account's users and roles), or None.
    FULL_CONTROL grants every permission of the ACL's kind; `ignore_public`: IgnorePublicAcls."""
    table = _OBJECT_ACTIONS if on_object else _BUCKET_ACTIONS
    wanted = {p for p, actions in table.items() if action in actions}
    if not wanted:
        return None
    caller = canonical_id(account) if account is not None else None
    found = None
    for grant in acl["Grants"]:
        if grant["Permission"] != FULL_CONTROL and grant["Permission"] not in wanted:
            continue
        grantee = grant["Grantee"]
        uri = grantee.get("URI")
        if uri in PUBLIC_GROUPS and ignore_public:
            continue
        if uri == ALL_USERS or (uri == AUTHENTICATED_USERS and account is not None):
            return GROUP
        if caller is not None and grantee.get("ID") == caller:
            found = ACCOUNT
    return found
