"""The web console's frame (issue 17): served on Sluice's port with its static files, security
headers on every answer, POSTs refused from other origins or without the page's CSRF token,
loopback names only, and, under --enforce-iam, a signed-in identity whose refusals show as AWS
shows them."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client
from .console_helpers import PREFIX, ConsoleClient, error_code, error_message
from .server import SluiceProcess


@pytest.fixture
def console(endpoint: str) -> ConsoleClient:
    return ConsoleClient(endpoint)


def test_the_console_is_served_with_its_static_files_and_security_headers(console: ConsoleClient) -> None:
    page = console.get("")
    assert page.status == 200
    assert "<title>Home · Sluice console</title>" in page.text
    assert page.header("x-frame-options") == "DENY"
    csp = page.header("content-security-policy") or ""
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "script-src 'self'" in csp
    assert page.header("cache-control") == "no-store"
    for name in ("htmx.min.js", "htmx-sse.js", "console.js", "console.css", "uPlot.iife.min.js"):
        assert f"{PREFIX}/static/{name}?v=" in page.text or name == "uPlot.iife.min.js"
        static = console.get(f"{PREFIX}/static/{name}")
        assert static.status == 200, name
        assert static.header("x-frame-options") == "DENY"
    assert console.get(f"{PREFIX}/static/htmx.min.js").header("content-type") == "text/javascript; charset=utf-8"
    assert console.get(f"{PREFIX}/static/nope.js").status == 404
    assert console.get(f"{PREFIX}/no-such-page").status == 404


def test_a_post_from_another_origin_is_refused_and_changes_nothing(console: ConsoleClient, endpoint: str) -> None:
    name = f"console-{uuid.uuid4().hex[:10]}"
    refused = console.post("s3/buckets", {"name": name}, origin="http://evil.example")
    assert refused.status == 403
    assert "CrossOriginRefused" in refused.text
    # No Origin, but the browser says the request came from another site.
    refused = console.post("s3/buckets", {"name": name}, origin=None, extra={"Sec-Fetch-Site": "cross-site"})
    assert refused.status == 403
    names = [b["Name"] for b in make_client("s3", endpoint).list_buckets()["Buckets"]]
    assert name not in names


def test_a_post_without_the_pages_token_is_refused(console: ConsoleClient, endpoint: str) -> None:
    name = f"console-{uuid.uuid4().hex[:10]}"
    refused = console.post("s3/buckets", {"name": name}, token=False)
    assert refused.status == 403 and "InvalidCsrfToken" in refused.text
    refused = console.post("s3/buckets", {"name": name}, token=False, extra={"X-CSRF-Token": "0" * 64})
    assert refused.status == 403 and "InvalidCsrfToken" in refused.text
    # The same form with the token (in the form's field, as a plain HTML form sends it) goes through.
    console.get("")
    done = console.post("s3/buckets", {"name": name, "csrf_token": console.token}, token=False, htmx=False)
    assert done.status == 303, done.text
    assert name in [b["Name"] for b in make_client("s3", endpoint).list_buckets()["Buckets"]]


def test_without_enforcement_the_console_is_the_root_and_asks_no_sign_in(console: ConsoleClient) -> None:
    page = console.get("s3")
    assert page.status == 200 and "arn:aws:iam::000000000000:root" in page.text
    assert 'name="secret_key"' not in page.text
    form = console.get("sign-in")
    assert form.status == 303 and form.header("location") == f"{PREFIX}/"


def test_get_never_changes_anything(console: ConsoleClient) -> None:
    assert console.request("GET", f"{PREFIX}/s3/buckets").status == 405
    page = console.request("DELETE", f"{PREFIX}/s3")
    assert page.status == 405 and page.header("allow") == "GET"


def test_a_loopback_server_answers_to_loopback_names_only(endpoint: str) -> None:
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 is refused."""
    port = int(endpoint.rsplit(":", 1)[1])
    for host, expected in ((f"evil.example:{port}", 403), (f"localhost:{port}", 200), (f"127.0.0.1:{port}", 200)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", f"{PREFIX}/", headers={"Host": host})
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        assert response.status == expected, host


# -- --enforce-iam: signing in, and AccessDenied as AWS shows it --------------------------------------


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("console-iam") / "data", "--enforce-iam").start()
    yield proc
    proc.stop()


def _user_key(endpoint: str, user: str) -> dict[str, Any]:
    iam = make_client("iam", endpoint)
    iam.create_user(UserName=user)
    key: dict[str, Any] = iam.create_access_key(UserName=user)["AccessKey"]
    return key


def test_under_enforce_iam_the_console_asks_to_sign_in(enforced: SluiceProcess) -> None:
    console = ConsoleClient(enforced.endpoint)
    first = console.get("s3")
    assert first.status == 303
    assert first.header("location") == f"{PREFIX}/sign-in?next=%2F_sluice%2Fconsole%2Fs3"
    form = console.get("sign-in")
    assert form.status == 200 and 'name="secret_key"' in form.text
    wrong = console.post("sign-in", {"access_key": "test", "secret_key": "nope", "next": f"{PREFIX}/s3"}, htmx=False)
    assert wrong.status == 401 and error_code(wrong) == "InvalidClientTokenId"
    assert not console.cookies
    signed = console.post("sign-in", {"access_key": "test", "secret_key": "test", "next": f"{PREFIX}/s3"}, htmx=False)
    assert signed.status == 303 and signed.header("location") == f"{PREFIX}/s3"
    cookie = signed.header("set-cookie") or ""
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "test" not in cookie.split(";")[0].split("=", 1)[1]
    page = console.get("s3")
    assert page.status == 200 and "arn:aws:iam::000000000000:root" in page.text
    # `next` sends the user on inside the console only.
    for elsewhere in ("//evil.example/", "https://evil.example/", f"{PREFIX}/..//evil.example"):
        again = console.post("sign-in", {"access_key": "test", "secret_key": "test", "next": elsewhere}, htmx=False)
        assert again.header("location") == f"{PREFIX}/", elsewhere
    # A forged cookie is nobody.
    forged = ConsoleClient(enforced.endpoint, cookies={"sluice_console": console.cookies["sluice_console"][:-4] + "0000"})
    assert forged.get("s3").status == 303
    # Signing out forgets the cookie.
    console.post("sign-out", {})
    assert console.get("s3").status == 303


def test_a_signed_in_user_without_permission_sees_access_denied(enforced: SluiceProcess) -> None:
    user = f"viewer-{uuid.uuid4().hex[:8]}"
    key = _user_key(enforced.endpoint, user)
    console = ConsoleClient(enforced.endpoint)
    console.get("sign-in")
    signed = console.post("sign-in", {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]},
                          htmx=False)
    assert signed.status == 303
    page = console.get("s3")
    assert page.status == 403
    assert error_code(page) == "AccessDenied"
    assert error_message(page) == (f"User: arn:aws:iam::000000000000:user/{user} is not authorized to perform: "
                                   "s3:ListAllMyBuckets because no identity-based policy allows the "
                                   "s3:ListAllMyBuckets action")
    # Allowed once the user has a policy that says so, as for any AWS client.
    make_client("iam", enforced.endpoint).attach_user_policy(
        UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    assert console.get("s3").status == 200
    # The key deleted: the session ends.
    make_client("iam", enforced.endpoint).delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    assert console.get("s3").status == 303


def test_a_signed_in_users_test_button_is_authorized_as_that_user(enforced: SluiceProcess) -> None:
    """Invoke (an operation that runs on the event loop) goes through the same enforcer."""
    from .lambda_helpers import create

    lam = make_client("lambda", enforced.endpoint)
    iam = make_client("iam", enforced.endpoint)
    iam.create_role(RoleName="console-fn-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    fn = create(lam, "def handler(event, context):\n    return 42\n",
                Role="arn:aws:iam::000000000000:role/console-fn-role")
    user = f"tester-{uuid.uuid4().hex[:8]}"
    key = _user_key(enforced.endpoint, user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["lambda:Get*", "lambda:List*"],
                                                "Resource": "*"}]}))
    console = ConsoleClient(enforced.endpoint)
    console.get("sign-in")
    console.post("sign-in", {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}, htmx=False)
    assert console.get(f"lambda/functions/{fn}").status == 200
    denied = console.post(f"lambda/functions/{fn}/test", {"event": "{}"})
    assert denied.status == 403 and error_code(denied) == "AccessDeniedException"
    assert error_message(denied).startswith(f"User: arn:aws:iam::000000000000:user/{user} is not authorized to "
                                            "perform: lambda:InvokeFunction on resource:")
    iam.put_user_policy(UserName=user, PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]}))
    allowed = console.post(f"lambda/functions/{fn}/test", {"event": "{}"})
    assert allowed.status == 200 and 'data-status="succeeded"' in allowed.text and ">42</pre>" in allowed.text


def test_under_verify_signatures_alone_the_console_asks_to_sign_in_too(tmp_path: Path) -> None:
    """Else a local process without a key could do through the console what the wire refuses it."""
    server = SluiceProcess(tmp_path / "data", "--verify-signatures").start()
    try:
        console = ConsoleClient(server.endpoint)
        assert console.get("s3").status == 303
        form = console.get("sign-in")
        assert "--verify-signatures" in form.text and "AWS&#39;s rules decide" not in form.text
        wrong = console.post("sign-in", {"access_key": "test", "secret_key": "guess"}, htmx=False)
        assert wrong.status == 401
        assert console.post("sign-in", {"access_key": "test", "secret_key": "test"}, htmx=False).status == 303
        assert console.get("s3").status == 200  # a page of the signed-in session: its token
        assert console.post("s3/buckets", {"name": "signed-in-bucket"}).status == 200
        assert "signed-in-bucket" in [b["Name"] for b in make_client("s3", server.endpoint).list_buckets()["Buckets"]]
    finally:
        server.stop()
