"""Under --enforce-iam the console acts as whoever signed in, and AWS's rules decide what it may
do: a read-only user sees the buckets, and a create is refused with AWS's AccessDenied, shown as
AWS shows it (code, then message), with nothing created."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import Page, expect

from ..conftest import make_client
from ..server import SluiceProcess
from .conftest import StartServer, Steps, Watch, console_url, sign_in

USER = "auditor"


@pytest.fixture(scope="module")
def server(start_sluice: StartServer) -> SluiceProcess:
    return start_sluice("--enforce-iam")


@pytest.fixture(scope="module")
def s3(server: SluiceProcess) -> Any:
    return make_client("s3", server.endpoint)


def test_a_wrong_secret_is_refused(page: Page, steps: Steps, server: SluiceProcess) -> None:
    page.goto(console_url(server, "s3"))
    page.wait_for_url(re.compile(r"/sign-in\?next="))  # every page asks who you are first
    page.get_by_label("Access key ID").fill("test")
    page.get_by_label("Secret access key").fill("not-the-secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error[data-code=InvalidClientTokenId]")).to_be_visible()
    steps.shot("sign-in refused")
    assert page.context.cookies() == []


def test_a_read_only_user_sees_access_denied_as_aws_shows_it(
        page: Page, steps: Steps, watch: Watch, server: SluiceProcess, s3: Any) -> None:
    s3.create_bucket(Bucket="already-there")

    # As root: a user with S3 read-only access, and an access key for them (shown once).
    sign_in(page, server)
    page.goto(console_url(server, "iam"))
    page.locator("#create-user").get_by_label("User name").fill(USER)
    page.locator("#create-user").get_by_role("button", name="Create user").click()
    page.wait_for_url(f"**/iam/users/{USER}")
    page.get_by_label("Attach policy").select_option(label="AmazonS3ReadOnlyAccess")
    page.locator("#attach-user-policy").get_by_role("button", name="Attach policy").click()
    expect(page.locator("#user-policies")).to_contain_text("AmazonS3ReadOnlyAccess")
    page.get_by_role("button", name="Create access key").click()
    key_id = page.locator("#new-access-key").inner_text().strip()
    secret = page.locator("#new-secret-key").inner_text().strip()
    steps.shot("user with S3 read-only access and a new key")

    # Signed in as that user: the buckets are listed; creating one is refused by IAM.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, key_id, secret)
    expect(page.locator("header .who")).to_contain_text(f"user/{USER}")
    page.goto(console_url(server, "s3"))
    expect(page.locator("#buckets")).to_contain_text("already-there")
    page.get_by_label("Bucket name").fill("not-allowed")
    page.get_by_role("button", name="Create bucket").click()
    error = page.locator("#create-result .error[data-code=AccessDenied]")
    expect(error).to_contain_text(
        f"User: arn:aws:iam::000000000000:user/{USER} is not authorized to perform: s3:CreateBucket "
        'on resource: "arn:aws:s3:::not-allowed" because no identity-based policy allows the '
        "s3:CreateBucket action")
    steps.shot("AccessDenied as AWS shows it")
    with pytest.raises(ClientError) as missing:
        s3.head_bucket(Bucket="not-allowed")
    assert missing.value.response["Error"]["Code"] == "404"
    assert watch.errors == []
