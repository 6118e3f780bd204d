"""The object list's one delete form, in the real browser: each row's Delete button sends its own
key through the list's shared form, after a confirmation naming that key."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Dialog, Page, expect

from ..conftest import make_client
from .conftest import StartServer, Steps, Watch, console_url


def test_a_rows_delete_button_deletes_that_object_only(page: Page, steps: Steps, watch: Watch,
                                                       start_sluice: StartServer) -> None:
    server = start_sluice()
    s3: Any = make_client("s3", server.endpoint)
    s3.create_bucket(Bucket="rows")
    for key in ("a.txt", "b.txt", "c.txt"):
        s3.put_object(Bucket="rows", Key=f"in/{key}", Body=key.encode())
    page.goto(console_url(server, "s3/buckets/rows?prefix=in/"))
    rows = page.locator("#objects tbody tr[data-key]")
    expect(rows).to_have_count(3)
    asked: list[str] = []

    def answer(accept: bool) -> None:
        def on_dialog(dialog: Dialog) -> None:
            asked.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()
        page.once("dialog", on_dialog)

    delete_b = page.locator('tr[data-key="in/b.txt"]').get_by_role("button", name="Delete")
    answer(accept=False)  # declined: nothing is sent
    delete_b.click()
    expect(rows).to_have_count(3)
    answer(accept=True)
    with page.expect_response(lambda r: r.request.method == "POST"):
        delete_b.click()
    expect(page.locator('tr[data-key="in/b.txt"]')).to_have_count(0)
    expect(rows).to_have_count(2)
    steps.shot("b deleted")
    assert asked == ["Delete in/b.txt?", "Delete in/b.txt?"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="rows")["Contents"]] == ["in/a.txt", "in/c.txt"]
    assert watch.errors == []
