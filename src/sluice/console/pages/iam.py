"""IAM pages: roles with their managed and inline policies (attach / detach: the exercise's
failure test is "remove the function's S3 permission"), users with their access keys and
policies, and the account's own managed policies."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ...protocol.http import HttpResponse
from ..request import ConsoleRequest

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

# The trust policy a role made here starts with: the service named may assume it (Lambda's by default).
_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": ""},
                                                  "Action": "sts:AssumeRole"}]}
_LISTED = 1000  # MaxItems of the lists shown (IAM's largest page)


def register(router: Router, console: Console) -> None:
    router.get("/iam", iam_index)
    router.post("/iam/roles", role_create)
    router.get("/iam/roles/{role}", role_page)
    router.post("/iam/roles/{role}/attach", role_attach)
    router.post("/iam/roles/{role}/detach", role_detach)
    router.post("/iam/roles/{role}/inline", role_put_inline)
    router.post("/iam/roles/{role}/inline/delete", role_delete_inline)
    router.post("/iam/roles/{role}/delete", role_delete)
    router.post("/iam/users", user_create)
    router.get("/iam/users/{user}", user_page)
    router.post("/iam/users/{user}/keys", user_create_key)
    router.post("/iam/users/{user}/keys/status", user_key_status)
    router.post("/iam/users/{user}/keys/delete", user_delete_key)
    router.post("/iam/users/{user}/attach", user_attach)
    router.post("/iam/users/{user}/detach", user_detach)


async def iam_index(r: ConsoleRequest) -> HttpResponse:
    roles, roles_error = await r.attempt("iam", "ListRoles", MaxItems=_LISTED)
    users, users_error = await r.attempt("iam", "ListUsers", MaxItems=_LISTED)
    policies, policies_error = await r.attempt("iam", "ListPolicies", Scope="Local", MaxItems=_LISTED)
    return r.render("iam/index.html", area_nav="iam_index", roles=roles.get("Roles", []), roles_error=roles_error,
                    users=users.get("Users", []), users_error=users_error,
                    policies=policies.get("Policies", []), policies_error=policies_error)


# -- roles -------------------------------------------------------------------------------------------


async def role_create(r: ConsoleRequest) -> HttpResponse:
    name = r.field("name").strip()
    trust = r.field("trust_policy").strip()
    if not trust:
        service = r.field("service").strip() or "lambda.amazonaws.com"
        document = json.loads(json.dumps(_TRUST))
        document["Statement"][0]["Principal"]["Service"] = service
        trust = json.dumps(document)
    await r.call("iam", "CreateRole", RoleName=name, AssumeRolePolicyDocument=trust,
                 **({"Description": r.field("description")} if r.field("description").strip() else {}))
    for arn in r.fields("policy_arn"):
        if arn:
            await r.call("iam", "AttachRolePolicy", RoleName=name, PolicyArn=arn)
    return r.redirect(r.url("role_page", role=name))


async def _role_details(r: ConsoleRequest, name: str) -> dict[str, Any]:
    role = (await r.call("iam", "GetRole", RoleName=name))["Role"]
    attached, attached_error = await r.attempt("iam", "ListAttachedRolePolicies", RoleName=name, MaxItems=_LISTED)
    inline_names, inline_error = await r.attempt("iam", "ListRolePolicies", RoleName=name, MaxItems=_LISTED)
    inline = []
    for policy in inline_names.get("PolicyNames", []):
        found, error = await r.attempt("iam", "GetRolePolicy", RoleName=name, PolicyName=policy)
        inline.append({"name": policy, "document": _document(found.get("PolicyDocument")), "error": error})
    every, _ = await r.attempt("iam", "ListPolicies", Scope="All", MaxItems=_LISTED)
    attached_list = attached.get("AttachedPolicies", [])
    taken = {p["PolicyArn"] for p in attached_list}
    return {"role": role, "trust": _document(role.get("AssumeRolePolicyDocument")), "attached": attached_list,
            "attached_error": attached_error, "inline": inline, "inline_error": inline_error,
            "attachable": [p for p in every.get("Policies", []) if p["Arn"] not in taken]}


async def role_page(r: ConsoleRequest) -> HttpResponse:
    return r.render("iam/role.html", area_nav="iam_index", **await _role_details(r, r.params["role"]))


async def _role_policies(r: ConsoleRequest, done: str) -> HttpResponse:
    """The role's policies again, after an attach/detach (htmx swaps the section)."""
    return r.render("iam/_role_policies.html", done=done, **await _role_details(r, r.params["role"]))


async def role_attach(r: ConsoleRequest) -> HttpResponse:
    arn = r.field("policy_arn")
    await r.call("iam", "AttachRolePolicy", RoleName=r.params["role"], PolicyArn=arn)
    return await _role_policies(r, f"Attached {arn}.")


async def role_detach(r: ConsoleRequest) -> HttpResponse:
    arn = r.field("policy_arn")
    await r.call("iam", "DetachRolePolicy", RoleName=r.params["role"], PolicyArn=arn)
    return await _role_policies(r, f"Detached {arn}.")


async def role_put_inline(r: ConsoleRequest) -> HttpResponse:
    name = r.field("policy_name").strip()
    await r.call("iam", "PutRolePolicy", RoleName=r.params["role"], PolicyName=name,
                 PolicyDocument=r.field("document"))
    return await _role_policies(r, f"Saved inline policy {name}.")


async def role_delete_inline(r: ConsoleRequest) -> HttpResponse:
    name = r.field("policy_name")
    await r.call("iam", "DeleteRolePolicy", RoleName=r.params["role"], PolicyName=name)
    return await _role_policies(r, f"Deleted inline policy {name}.")


async def role_delete(r: ConsoleRequest) -> HttpResponse:
    await r.call("iam", "DeleteRole", RoleName=r.params["role"])
    return r.redirect(r.url("iam_index"))


# -- users -------------------------------------------------------------------------------------------


async def user_create(r: ConsoleRequest) -> HttpResponse:
    name = r.field("name").strip()
    await r.call("iam", "CreateUser", UserName=name)
    return r.redirect(r.url("user_page", user=name))


async def _user_details(r: ConsoleRequest, name: str) -> dict[str, Any]:
    user = (await r.call("iam", "GetUser", UserName=name))["User"]
    keys, keys_error = await r.attempt("iam", "ListAccessKeys", UserName=name, MaxItems=_LISTED)
    attached, attached_error = await r.attempt("iam", "ListAttachedUserPolicies", UserName=name, MaxItems=_LISTED)
    every, _ = await r.attempt("iam", "ListPolicies", Scope="All", MaxItems=_LISTED)
    attached_list = attached.get("AttachedPolicies", [])
    taken = {p["PolicyArn"] for p in attached_list}
    return {"user": user, "keys": keys.get("AccessKeyMetadata", []), "keys_error": keys_error,
            "attached": attached_list, "attached_error": attached_error,
            "attachable": [p for p in every.get("Policies", []) if p["Arn"] not in taken]}


async def user_page(r: ConsoleRequest) -> HttpResponse:
    return r.render("iam/user.html", area_nav="iam_index", new_key=None, done="",
                    **await _user_details(r, r.params["user"]))


async def _user_again(r: ConsoleRequest, done: str, new_key: dict[str, Any] | None = None) -> HttpResponse:
    return r.render("iam/_user_body.html", done=done, new_key=new_key, **await _user_details(r, r.params["user"]))


async def user_create_key(r: ConsoleRequest) -> HttpResponse:
    created = await r.call("iam", "CreateAccessKey", UserName=r.params["user"])
    # The secret is shown this once, as AWS's console does; it is never shown again.
    return await _user_again(r, "Access key created.", created["AccessKey"])


async def user_key_status(r: ConsoleRequest) -> HttpResponse:
    key, status = r.field("access_key_id"), r.field("status")
    await r.call("iam", "UpdateAccessKey", UserName=r.params["user"], AccessKeyId=key, Status=status)
    return await _user_again(r, f"{key} is {status}.")


async def user_delete_key(r: ConsoleRequest) -> HttpResponse:
    key = r.field("access_key_id")
    await r.call("iam", "DeleteAccessKey", UserName=r.params["user"], AccessKeyId=key)
    return await _user_again(r, f"Deleted {key}.")


async def user_attach(r: ConsoleRequest) -> HttpResponse:
    arn = r.field("policy_arn")
    await r.call("iam", "AttachUserPolicy", UserName=r.params["user"], PolicyArn=arn)
    return await _user_again(r, f"Attached {arn}.")


async def user_detach(r: ConsoleRequest) -> HttpResponse:
    arn = r.field("policy_arn")
    await r.call("iam", "DetachUserPolicy", UserName=r.params["user"], PolicyArn=arn)
    return await _user_again(r, f"Detached {arn}.")


def _document(value: Any) -> str:
    """A policy document as IAM returns it (URL-encoded JSON on the wire; a str or dict here), pretty."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = unquote(value) if value.startswith("%7B") else value
        try:
            value = json.loads(text)
        except ValueError:
            return text
    return json.dumps(value, indent=2)
