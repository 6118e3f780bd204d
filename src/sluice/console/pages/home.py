"""The console's front page, and signing in and out (under --enforce-iam)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...protocol.http import HttpResponse
from ..request import ConsoleRequest, console_path
from ..views import PREFIX

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router


def register(router: Router, console: Console) -> None:
    router.get("/", home)
    router.get("/sign-in", sign_in_form)
    router.post("/sign-in", sign_in)
    router.post("/sign-out", sign_out)


async def home(r: ConsoleRequest) -> HttpResponse:
    buckets, buckets_error = await r.attempt("s3", "ListBuckets")
    functions, functions_error = await r.attempt_all("lambda", "ListFunctions", "Functions")
    return r.render("home.html", buckets=buckets.get("Buckets", []), buckets_error=buckets_error,
                    functions=functions, functions_error=functions_error)


async def sign_in_form(r: ConsoleRequest) -> HttpResponse:
    if not r.console.sessions.enforced:  # nothing to sign in to: the console acts as the root
        return HttpResponse(303, [("Location", r.url("home"))], b"")
    return r.render("sign_in.html", next=_next(r.arg("next")), failed=False)


async def sign_in(r: ConsoleRequest) -> HttpResponse:
    identity, cookie = await r.console.run_blocking(
        r.console.sessions.sign_in, r.field("access_key"), r.field("secret_key"))
    if identity is None:
        # The message IAM-backed sign-in gives a wrong key or secret (AWS's console is as vague).
        return r.render("sign_in.html", status=401, next=_next(r.field("next")), failed=True)
    response = r.redirect(_next(r.field("next")))
    response.headers.append(("Set-Cookie", cookie))
    return response


async def sign_out(r: ConsoleRequest) -> HttpResponse:
    response = r.redirect(r.url("sign_in_form") if r.console.sessions.enforced else r.url("home"))
    response.headers.append(("Set-Cookie", r.console.sessions.sign_out()))
    return response


def _next(target: str) -> str:
    return console_path(target, PREFIX + "/")
