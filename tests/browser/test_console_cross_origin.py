"""A page on another origin cannot change anything through the user's browser (issue 17).

The browser is real: it sends what it decides to send (Origin, Sec-Fetch-Site, the console's
SameSite=Strict cookie between two ports of one host), so the test sees what an attacker's
page would achieve, not what a hand-made request claims."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import Page, expect

from ..conftest import make_client
from ..server import SluiceProcess
from .conftest import StartServer, Steps, console_url
from .evil import OtherOrigin


@pytest.fixture(scope="module")
def server(start_sluice: StartServer) -> SluiceProcess:
    return start_sluice()


@pytest.fixture(scope="module")
def s3(server: SluiceProcess) -> Any:
    return make_client("s3", server.endpoint)


@pytest.fixture
def elsewhere() -> Iterator[OtherOrigin]:
    with OtherOrigin() as other:
        yield other


def _exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as err:
        assert err.response["Error"]["Code"] == "404"
        return False
    return True


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"], ids=["cross-site", "same-site-other-port"])
def test_a_form_on_another_origin_cannot_create_a_bucket(
        page: Page, steps: Steps, server: SluiceProcess, s3: Any, elsewhere: OtherOrigin, host: str) -> None:
    # The user has the console open (on 127.0.0.1: its cookie and token are this browser's).
    page.goto(console_url(server, "s3"))
    steps.shot("console open")
    token = page.locator("meta[name=csrf-token]").get_attribute("content") or ""
    assert token, "the console's forms carry a CSRF token"

    # Another origin's page posts the console's create-bucket form, even with the real token
    # (as if it had leaked): the origin alone must get it refused.
    bucket = f"evil-{host.replace('.', '-')}"
    elsewhere.serve_form(console_url(server, "s3/buckets"), {"name": bucket, "csrf_token": token})
    page.goto(elsewhere.url(host))
    steps.shot("page elsewhere")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("#submit")
    answer = posted.value
    assert answer.status == 403
    assert "CrossOriginRefused" in answer.text()
    page.wait_for_load_state()
    steps.shot("refused")
    assert not _exists(s3, bucket)

    # The same request sent by fetch() (no-cors: the page could not read the answer anyway, but
    # the request goes out, cookie included) is refused as well. Chromium then also withholds
    # the 403 from the page: the console's Cross-Origin-Resource-Policy blocks the opaque answer.
    page.goto(elsewhere.url(host))
    with page.expect_request(lambda r: r.method == "POST") as sent:
        page.click("#fetch")
    expect(page.locator("#fetched")).to_have_text(re.compile(r"^(sent|failed)"))
    request = sent.value
    response = request.response() if request.failure is None else None
    if response is not None:
        assert response.status == 403
    else:
        assert "ERR_BLOCKED_BY_RESPONSE" in (request.failure or "")
    steps.shot("fetch refused")
    assert not _exists(s3, bucket)


def test_the_console_itself_creates_the_bucket(page: Page, steps: Steps, server: SluiceProcess, s3: Any) -> None:
    """The control: the same form, submitted from the console's own page, works."""
    page.goto(console_url(server, "s3"))
    page.get_by_label("Bucket name").fill("from-the-console")
    page.get_by_role("button", name="Create bucket").click()
    page.wait_for_url("**/s3/buckets/from-the-console")
    steps.shot("created")
    assert _exists(s3, "from-the-console")


def test_the_console_cannot_be_framed(page: Page, steps: Steps, server: SluiceProcess,
                                      elsewhere: OtherOrigin) -> None:
    """A page elsewhere that frames the console (to trick a click) gets nothing shown."""
    elsewhere.page = (f'<!doctype html><title>frame</title><iframe id="console" width="800" height="400" '
                      f'src="{console_url(server, "s3")}"></iframe>').encode()
    with page.expect_response(lambda r: r.url.startswith(console_url(server, "s3"))) as framed:
        page.goto(elsewhere.url())
    headers = framed.value.headers
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    page.wait_for_load_state()
    steps.shot("framed")
    frame = page.frame_locator("#console")
    # Chromium replaces a refused frame's document with an error page of its own: none of the
    # console's page (its bucket table, its CSRF token) is in it.
    expect(frame.locator("#buckets")).to_have_count(0)
    expect(frame.locator("meta[name=csrf-token]")).to_have_count(0)
    page.goto(console_url(server, "s3"))  # the same page, opened for itself, has both
    expect(page.locator("#buckets")).to_have_count(1)
    expect(page.locator("meta[name=csrf-token]")).to_have_count(1)
