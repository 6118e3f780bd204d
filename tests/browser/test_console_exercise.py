"""The S3EventProcessor exercise, followed through the web console only, in a real browser.

Everything the exercise does is done by clicking and typing in the console: sign in, create the
role, the bucket, the function from the seed's handler, the DLQ; configure retries and the DLQ;
add the S3 trigger; upload a text file and read its content in the live log tail; upload a file
that fails and watch its three attempts and its DLQ message appear in the journey; take the S3
permission away from the role and see AccessDenied; give it back and redrive the DLQ. The only
thing the test does besides the browser is move the server's manual clock on through the
testing API (the two retries are one and two minutes apart), as a user would wait.

A screenshot of each step: test-artifacts/browser/test_the_exercise_through_the_console/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from ..server import SluiceProcess
from .conftest import StartServer, Steps, Watch, clock_of, console_url, sign_in

SEED = Path(__file__).resolve().parents[2] / "examples" / "s3-event-processor" / "handler.py"
ACCOUNT = "000000000000"
BUCKET = "bucket-evenement-lambda"
FUNCTION = "S3EventProcessor"
ROLE = "S3EventProcessorRole"
DLQ = "LambdaDLQ"
TEXT = "Bonjour depuis le navigateur"
BINARY = b"\xff\xd8\xff\xe0 not utf-8 \x80\x81\n"  # the seed's decode("utf-8") fails on it
S3_READ = "AmazonS3ReadOnlyAccess"


@pytest.fixture(scope="module")
def server(start_sluice: StartServer) -> SluiceProcess:
    # The exercise's failure step takes a permission away: IAM must be enforced. The manual
    # clock lets the test run the retries (1 and 2 minutes later) at once.
    return start_sluice("--clock", "manual", "--enforce-iam")


def create_role(page: Page, server: SluiceProcess) -> None:
    page.goto(console_url(server, "iam"))
    page.locator("summary", has_text="Create role").click()
    form = page.locator("#create-role")
    form.get_by_label("Role name").fill(ROLE)
    for policy in ("AWSLambdaBasicExecutionRole", S3_READ, "AmazonSQSFullAccess"):
        form.get_by_label(policy).check()
    form.get_by_role("button", name="Create role").click()
    expect(page.locator("#attached-policies")).to_contain_text(S3_READ)


def create_bucket(page: Page, server: SluiceProcess) -> None:
    page.goto(console_url(server, "s3"))
    page.get_by_label("Bucket name").fill(BUCKET)
    page.get_by_role("button", name="Create bucket").click()
    page.wait_for_url(f"**/s3/buckets/{BUCKET}")


def create_function(page: Page, server: SluiceProcess) -> None:
    """The seed's handler pasted into the create form, with the role made before."""
    page.goto(console_url(server, "lambda"))
    page.get_by_role("button", name="Create function").click()
    form = page.locator("#create-function")
    form.get_by_label("Function name").fill(FUNCTION)
    form.get_by_label("Runtime").select_option("python3.12")
    form.get_by_label("Handler", exact=True).fill("handler.lambda_handler")
    form.get_by_label("Execution role").select_option(label=f"{ROLE} (arn:aws:iam::{ACCOUNT}:role/{ROLE})")
    form.locator("textarea[name=code]").fill(SEED.read_text())
    form.get_by_role("button", name="Create function").click()
    page.wait_for_url(f"**/lambda/functions/{FUNCTION}")
    expect(page.locator("#fn-live")).to_contain_text("Active")


def configure_async(page: Page, server: SluiceProcess) -> None:
    """The exercise's steps 4 and 5: two retries, LambdaDLQ as the dead-letter queue."""
    page.goto(console_url(server, f"lambda/functions/{FUNCTION}?tab=async"))
    form = page.locator("#async-form")
    form.get_by_label("Retry attempts").select_option("2")
    form.get_by_label("Dead-letter queue").fill(f"arn:aws:sqs:us-east-1:{ACCOUNT}:{DLQ}")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#async-result")).to_contain_text("Asynchronous invocation saved.")
    page.reload()  # what the page shows now comes from the function's configuration
    expect(form.get_by_label("Dead-letter queue")).to_have_value(f"arn:aws:sqs:us-east-1:{ACCOUNT}:{DLQ}")


def add_s3_trigger(page: Page, server: SluiceProcess) -> None:
    page.goto(console_url(server, f"lambda/functions/{FUNCTION}?tab=triggers"))
    form = page.locator("#s3-trigger-form")
    form.get_by_label("Bucket").select_option(BUCKET)
    form.get_by_role("button", name="Add").click()
    expect(page.locator("#triggers")).to_contain_text(f"S3: {BUCKET}")


def create_queue(page: Page, server: SluiceProcess) -> None:
    page.goto(console_url(server, "queues"))
    form = page.locator("#create-queue")
    form.get_by_label("Name", exact=True).fill(DLQ)
    form.get_by_role("button", name="Create queue").click()
    page.wait_for_url(f"**/queues/{DLQ}")


def upload_by_picking(page: Page, server: SluiceProcess, name: str, data: bytes) -> None:
    page.goto(console_url(server, f"s3/buckets/{BUCKET}"))
    file: FilePayload = {"name": name, "mimeType": "text/plain", "buffer": data}
    page.set_input_files("#upload-files", files=[file])
    expect(page.locator("#uploads li", has_text=name)).to_have_attribute("data-status", "uploaded")
    expect(page.locator("#objects-box")).to_contain_text(name)


def upload_by_dropping(page: Page, server: SluiceProcess, name: str, data: bytes) -> None:
    """Drag and drop: a DataTransfer holding the file, dropped on the upload zone."""
    page.goto(console_url(server, f"s3/buckets/{BUCKET}"))
    transfer = page.evaluate_handle(
        """([name, bytes]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], name, {type: "application/octet-stream"}));
            return dt;
        }""", [name, list(data)])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#uploads li", has_text=name)).to_have_attribute("data-status", "uploaded")


def open_log_tail(page: Page, server: SluiceProcess) -> None:
    """The function's log group, from the Logs page's list."""
    page.goto(console_url(server, "logs"))
    page.get_by_role("link", name=f"/aws/lambda/{FUNCTION}").click()
    expect(page.locator("#tail")).to_be_attached()


def test_the_exercise_through_the_console(page: Page, steps: Steps, watch: Watch, server: SluiceProcess) -> None:
    clock = clock_of(server)

    sign_in(page, server)
    steps.shot("signed in as the account's root")

    create_role(page, server)
    steps.shot(f"role {ROLE} with S3 read, logs and SQS")

    create_bucket(page, server)
    steps.shot(f"bucket {BUCKET} created")

    create_function(page, server)
    steps.shot(f"function {FUNCTION} created from the seed handler")

    create_queue(page, server)
    steps.shot(f"queue {DLQ} created")

    configure_async(page, server)
    steps.shot("asynchronous invocation: 2 retries, DLQ LambdaDLQ")

    add_s3_trigger(page, server)
    steps.shot("S3 trigger added")

    # A text file: its content appears in the live tail of the function's logs (the group is
    # created by the first invocation, as on AWS). The tail stays open in a second tab: the
    # lines of the later steps stream into it without a reload.
    upload_by_picking(page, server, "hello.txt", TEXT.encode())
    steps.shot("hello.txt uploaded")
    page.goto(console_url(server, f"journeys/trace?target={BUCKET}/hello.txt"))
    expect(page.locator("#journey li.attempt[data-attempt='1']")).to_contain_text("success")
    steps.shot("journey: hello.txt processed at the first attempt")
    tail = page.context.new_page()
    open_log_tail(tail, server)
    expect(tail.locator("#tail")).to_contain_text(f"Contenu du fichier hello.txt : {TEXT}")
    steps.shot("the live log tail shows hello.txt's content", tail)

    # A file that fails: its journey shows attempt 1 failed and the retries pending, then, as
    # the clock moves on, attempts 2 and 3 and the DLQ message, updating by itself.
    upload_by_dropping(page, server, "bad.bin", BINARY)
    steps.shot("bad.bin dropped on the bucket")
    page.goto(console_url(server, f"journeys/trace?target={BUCKET}/bad.bin"))
    journey = page.locator("#journey")
    expect(journey.locator("li.attempt[data-attempt='1']")).to_contain_text("UnicodeDecodeError")
    expect(journey).to_contain_text("Retries or deliveries pending")
    steps.shot("journey: attempt 1 failed, retry pending")
    clock.advance(minutes=1)
    expect(journey.locator("li.attempt[data-attempt='2']")).to_contain_text("UnicodeDecodeError")
    steps.shot("journey: attempt 2 failed a minute later")
    clock.advance(minutes=2)
    expect(journey.locator("li.attempt[data-attempt='3']")).to_contain_text("UnicodeDecodeError")
    dlq_link = journey.locator("a.dlq-message")
    expect(dlq_link).to_be_visible()
    steps.shot("journey: attempt 3 failed, event sent to LambdaDLQ")
    dlq_link.click()
    message = page.locator("article.message.highlight")
    expect(message.locator("[data-attribute=ErrorCode]")).to_have_text("200")
    expect(message.locator("[data-attribute=ErrorMessage]")).to_contain_text("codec can't decode")
    steps.shot("the DLQ message with RequestID, ErrorCode, ErrorMessage")

    # The exercise's failure test: the role loses S3 read access; the handler's GetObject is
    # refused with AccessDenied, which the journey and the log tail show.
    page.goto(console_url(server, f"iam/roles/{ROLE}"))
    page.get_by_role("button", name=f"Detach {S3_READ}").click()
    expect(page.locator("#attached-policies")).not_to_contain_text(S3_READ)
    steps.shot(f"{S3_READ} detached from the role")
    upload_by_picking(page, server, "denied.txt", b"lu par personne")
    page.goto(console_url(server, f"journeys/trace?target={BUCKET}/denied.txt"))
    expect(page.locator("#journey li.attempt[data-attempt='1']")).to_contain_text("AccessDenied")
    expect(tail.locator("#tail")).to_contain_text("AccessDenied")
    steps.shot("journey: AccessDenied on GetObject")
    clock.advance(minutes=3)
    expect(page.locator("#journey a.dlq-message")).to_be_visible()
    steps.shot("journey: denied.txt in the DLQ after 3 attempts")

    # The list of recent failed events has both, each one click from its journey and its DLQ
    # message.
    page.goto(console_url(server, "journeys"))
    failures = page.locator("#failures")
    denied = failures.locator("tr", has_text=f"s3://{BUCKET}/denied.txt")
    expect(denied).to_contain_text("RetriesExhausted")
    expect(failures.locator("tr", has_text=f"s3://{BUCKET}/bad.bin")).to_contain_text("UnicodeDecodeError")
    steps.shot("recent failed events: bad.bin and denied.txt")
    denied.locator("a.dlq-message").click()
    denied_message = page.locator("article.message.highlight")
    expect(denied_message.locator("[data-attribute=ErrorMessage]")).to_contain_text("AccessDenied")
    denied_id = denied_message.get_attribute("data-message-id")
    steps.shot("denied.txt's DLQ message: AccessDenied")

    # Give the permission back and redrive the DLQ to the function: denied.txt now succeeds
    # (bad.bin fails again and goes back through its retries, as on AWS).
    page.goto(console_url(server, f"iam/roles/{ROLE}"))
    page.get_by_label("Attach policy").select_option(label=S3_READ)
    page.get_by_role("button", name="Attach policy").click()
    expect(page.locator("#attached-policies")).to_contain_text(S3_READ)
    steps.shot(f"{S3_READ} attached again")
    page.goto(console_url(server, f"queues/{DLQ}"))
    expect(page.locator("#messages article.message")).to_have_count(2)
    steps.shot("LambdaDLQ holds two messages")
    page.locator("#redrive-form").get_by_role("button", name="Redrive messages").click()
    result = page.locator("#redrive-result")
    expect(result).to_contain_text(f"2 of 2 message(s) redriven to function {FUNCTION}")
    # Each redriven event's outcome follows under the result: denied.txt's now succeeds.
    expect(result.locator(f"tr[data-message-id='{denied_id}']")).to_contain_text("Success")
    steps.shot("redriven: a request per message")
    expect(tail.locator("#tail")).to_contain_text("Contenu du fichier denied.txt : lu par personne")
    steps.shot("the log tail: denied.txt read after the redrive", tail)
    tail.close()

    # All of it offline: every script, style and request came from Sluice itself, and no page
    # raised a script error or had anything refused by its Content-Security-Policy.
    assert watch.urls
    assert watch.elsewhere(server.endpoint) == []
    assert watch.errors == []
