"""The console's pipeline pages (issue 17), over HTTP as a browser's requests: SQS queues (create,
send, peek without consuming, purge, delete), the journey of a failing upload while its retries
are pending and after, the recent failed events, the DLQ message with its RequestID / ErrorCode
/ ErrorMessage, the redrive back to the function and to a source queue, the logs with filter
patterns and the live tail, and the metric charts' data.

One `sluice up --clock manual` server for the module: the test moves the engine's time.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import quote

import pytest

from sluice.testing.client import SluiceTesting

from .conftest import make_client
from .console_helpers import PREFIX, ConsoleClient, error_code
from .console_stream import first_event as _sse_first
from .lambda_helpers import create, zip_code
from .server import SluiceProcess

FAILING = """
def handler(event, context):
    key = event["Records"][0]["s3"]["object"]["key"]
    print("processing", key)
    if key.startswith("fail"):
        raise ValueError("cannot process " + key)
    return key
"""
FIXED = "def handler(event, context):\n    print('fixed', event['Records'][0]['s3']['object']['key'])\n"


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("console-pages") / "data", "--clock", "manual").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def testing(manual: SluiceProcess) -> SluiceTesting:
    return SluiceTesting(manual.endpoint)


@pytest.fixture
def console(manual: SluiceProcess) -> ConsoleClient:
    client = ConsoleClient(manual.endpoint)
    assert client.get("queues").status == 200  # a page of this server: its CSRF token
    return client


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- SQS ------------------------------------------------------------------------------------------


def test_a_queue_made_sent_to_peeked_purged_and_deleted_through_the_console(console: ConsoleClient,
                                                                             manual: SluiceProcess) -> None:
    sqs = make_client("sqs", manual.endpoint)
    name = _name("console-q")
    made = console.post("queues", {"name": name, "visibility_timeout": "45"}, htmx=False)
    assert made.status == 303 and made.header("location") == f"{PREFIX}/queues/{name}"
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "45"}
    listed = console.get("queues")
    assert f'data-queue="{name}"' in listed.text

    sent = console.post(f"queues/{name}/send", {"body": '{"hello": "console"}'})
    assert sent.status == 200 and "Message sent: " in sent.text
    message_id = re.search(r"Message sent: ([0-9a-f-]+)", sent.text).group(1)  # type: ignore[union-attr]
    page = console.get(f"queues/{name}")
    assert f'data-message-id="{message_id}"' in page.text
    assert "received 0 time(s)" in page.text and "hello" in unescape(page.text)
    depths = _sse_first(manual.endpoint, f"{PREFIX}/queues/live", "queues")  # the list's live rows
    assert re.search(rf'data-queue="{name}">.*?data-field="visible">1<', depths, re.S)
    live = _sse_first(manual.endpoint, f"{PREFIX}/queues/{name}/live", "messages")
    assert f'data-message-id="{message_id}"' in live
    # The peek consumed nothing: the message is still there to receive, for the first time.
    got = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"], VisibilityTimeout=0)
    assert [m["MessageId"] for m in got["Messages"]] == [message_id]
    assert got["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "1"

    purged = console.post(f"queues/{name}/purge")
    assert purged.status == 200 and "Purged" in purged.text
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"
    again = console.post(f"queues/{name}/purge")  # SQS allows one purge a minute: its error, as AWS shows it
    assert again.status == 403 and error_code(again) == "PurgeQueueInProgress"

    deleted = console.post(f"queues/{name}/delete", htmx=False)
    assert deleted.status == 303
    missing = console.get(f"queues/{name}")
    assert missing.status == 400 and error_code(missing) == "QueueDoesNotExist"


def test_a_bad_queue_name_gets_sqss_error(console: ConsoleClient) -> None:
    refused = console.post("queues", {"name": "no spaces allowed"})
    assert refused.status == 400 and error_code(refused) == "InvalidParameterValue"


# -- a failing upload: journey, failed events, DLQ message, redrive ---------------------------------


@pytest.fixture(scope="module")
def pipeline(manual: SluiceProcess) -> dict[str, str]:
    """The exercise's pipeline, set up with boto3: bucket -> function (2 retries) -> LambdaDLQ."""
    sqs, lam, s3 = (make_client(s, manual.endpoint) for s in ("sqs", "lambda", "s3"))
    dlq = _name("LambdaDLQ")
    dlq_url = sqs.create_queue(QueueName=dlq)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function = create(lam, FAILING, DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=2)
    lam.add_permission(FunctionName=function, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    bucket = _name("uploads")
    s3.create_bucket(Bucket=bucket)
    arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return {"dlq": dlq, "dlq_url": dlq_url, "function": function, "bucket": bucket}


def test_a_failing_upload_is_followed_from_journey_to_dlq_and_redriven(
        console: ConsoleClient, manual: SluiceProcess, testing: SluiceTesting, pipeline: dict[str, str]) -> None:
    s3, lam = make_client("s3", manual.endpoint), make_client("lambda", manual.endpoint)
    bucket, function, dlq = pipeline["bucket"], pipeline["function"], pipeline["dlq"]
    s3.put_object(Bucket=bucket, Key="fail-1.txt", Body=b"bad")
    testing.clock.advance(0)  # the notification and the first attempt

    target = quote(f"{bucket}/fail-1.txt", safe="")
    first = console.get(f"journeys/trace?target={target}")
    assert first.status == 200
    assert f"s3://{bucket}/fail-1.txt" in first.text and 'data-attempt="1"' in first.text
    assert "ValueError: cannot process fail-1.txt" in unescape(first.text)
    assert "attempt 2 due then" in first.text and "updates by itself" in first.text  # live while pending
    assert "processing fail-1.txt" in first.text  # the attempt's own log lines
    live = _sse_first(manual.endpoint, f"{PREFIX}/journeys/trace/live?target={target}", "journey")
    assert 'data-attempt="1"' in live and "attempt 2 due then" in live
    failures = console.get("journeys")
    assert f"s3://{bucket}/fail-1.txt" in failures.text and "retrying" in failures.text

    testing.clock.advance(60)
    testing.clock.advance(120)
    ended = console.get(f"journeys/trace?target={target}")
    assert all(f'data-attempt="{n}"' in ended.text for n in (1, 2, 3))
    assert "dead-letter queue (RetriesExhausted after 3 attempts)" in ended.text
    assert "updates by itself" not in ended.text
    link = re.search(r'class="dlq-message" href="([^"]+)"', ended.text)
    assert link is not None
    request_id = re.search(r"request <span class=\"mono\">([0-9a-f-]{36})</span>", ended.text).group(1)  # type: ignore[union-attr]

    # The recent failed events: one click from the journey and from the DLQ message.
    failures = console.get("journeys")
    row = re.search(rf'<tr data-request-id="{request_id}".*?</tr>', failures.text, re.S)
    assert row is not None and "RetriesExhausted" in row.group(0)
    assert f'href="{PREFIX}/journeys/trace?target={request_id}"' in row.group(0)
    assert unescape(link.group(1)) in unescape(row.group(0))

    # The DLQ message, peeked at: Lambda's attributes shown plainly, linked back to the journey.
    message = console.get(unescape(link.group(1)).split("#")[0])
    assert 'class="message highlight"' in message.text
    assert f'data-attribute="RequestID"><a href="{PREFIX}/journeys/trace?target={request_id}">' in message.text
    assert 'data-attribute="ErrorCode">200<' in message.text
    assert "cannot process fail-1.txt" in re.search(r'data-attribute="ErrorMessage">([^<]*)<', message.text).group(1)  # type: ignore[union-attr]
    assert f'value="function:{function}" selected' in message.text  # the redrive's default target

    # The bug fixed, the DLQ redriven to its function: each message's new request id, then success.
    lam.update_function_code(FunctionName=function, ZipFile=zip_code(FIXED))
    redriven = console.post(f"queues/{dlq}/redrive", {"target": f"function:{function}"})
    assert redriven.status == 200 and "1 of 1 message(s) redriven" in redriven.text
    new_id = re.search(r"journeys/trace\?target=([0-9a-f-]{36})", redriven.text).group(1)  # type: ignore[union-attr]
    assert 'data-outcome="Pending"' in redriven.text  # its outcome follows, live
    live_url = re.search(r'sse-connect="([^"]+)" sse-swap="outcomes"', redriven.text)
    assert live_url is not None
    testing.clock.advance(0)
    assert testing.outcome(new_id).status == "Success"
    outcomes = _sse_first(manual.endpoint, unescape(live_url.group(1)), "outcomes")
    assert 'data-outcome="Success"' in outcomes and "Success</strong> after 1 attempt(s)" in outcomes
    assert testing.queue_messages(dlq) == []
    journey = console.get(f"journeys/trace?target={new_id}")
    assert "success after 1 attempt" in journey.text and "fixed fail-1.txt" in journey.text


def test_a_redrive_refused_leaves_the_messages_and_says_why(console: ConsoleClient, manual: SluiceProcess) -> None:
    sqs = make_client("sqs", manual.endpoint)
    dlq = _name("orphans")
    url = sqs.create_queue(QueueName=dlq)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    refused = console.post(f"queues/{dlq}/redrive", {"target": "function:no-such-function"})
    assert refused.status == 404 and error_code(refused) == "ResourceNotFoundException"
    nowhere = console.post(f"queues/{dlq}/redrive", {"target": "elsewhere"})
    assert nowhere.status == 400 and error_code(nowhere) == "InvalidParameterValue"
    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_a_dlq_is_redriven_to_its_source_queue(console: ConsoleClient, manual: SluiceProcess) -> None:
    sqs = make_client("sqs", manual.endpoint)
    dlq, source = _name("dead"), _name("work")
    made = console.post("queues", {"name": dlq}, htmx=False)
    assert made.status == 303
    made = console.post("queues", {"name": source, "dead_letter_queue": dlq, "max_receive_count": "2"}, htmx=False)
    assert made.status == 303
    dlq_url, source_url = (sqs.get_queue_url(QueueName=n)["QueueUrl"] for n in (dlq, source))
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["RedrivePolicy"])[
        "Attributes"]["RedrivePolicy"])
    assert policy["deadLetterTargetArn"].endswith(f":{dlq}") and policy["maxReceiveCount"] == 2
    bodies = {f"job-{i}" for i in range(3)}
    for body in bodies:
        sqs.send_message(QueueUrl=dlq_url, MessageBody=body, MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "retry"}})
    page = console.get(f"queues/{dlq}")
    assert f'value="queue:{source}"' in page.text
    redriven = console.post(f"queues/{dlq}/redrive", {"target": f"queue:{source}"})
    assert "3 of 3 message(s) redriven" in redriven.text and redriven.text.count("<td>sent</td>") == 3
    got = sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    assert {m["Body"] for m in got["Messages"]} == bodies
    assert all(m["MessageAttributes"]["kind"]["StringValue"] == "retry" for m in got["Messages"])


# -- logs and metrics -------------------------------------------------------------------------------


def test_a_functions_logs_filter_and_live_tail(console: ConsoleClient, manual: SluiceProcess,
                                               testing: SluiceTesting, pipeline: dict[str, str]) -> None:
    s3 = make_client("s3", manual.endpoint)
    s3.put_object(Bucket=pipeline["bucket"], Key="tail-me.txt", Body=b"ok")
    testing.clock.advance(0)
    group = quote(f"/aws/lambda/{pipeline['function']}", safe="")
    listed = console.get("logs?prefix=%2Faws%2Flambda%2F")
    assert f"/aws/lambda/{pipeline['function']}" in listed.text
    page = console.get(f"logs/group?name={group}")
    assert page.status == 200 and "tail-me.txt" in page.text and "START RequestId" in page.text
    only_reports = console.get(f"logs/group?name={group}&pattern=REPORT")
    assert "REPORT RequestId" in only_reports.text and "START RequestId" not in only_reports.text
    tail = _sse_first(manual.endpoint, f"{PREFIX}/logs/tail?name={group}&pattern=tail", "tail")
    assert "tail-me.txt" in tail and "START RequestId" not in tail
    bad = _sse_first(manual.endpoint, f"{PREFIX}/logs/tail?name={group}&pattern=%7B+nope", "tail")
    assert 'data-code="InvalidParameterException"' in bad
    missing = console.get("logs/group?name=%2Fno%2Fsuch%2Fgroup")
    assert missing.status == 400 and error_code(missing) == "ResourceNotFoundException"


def test_a_functions_metric_charts(console: ConsoleClient, manual: SluiceProcess, testing: SluiceTesting,
                                   pipeline: dict[str, str]) -> None:
    s3 = make_client("s3", manual.endpoint)
    s3.put_object(Bucket=pipeline["bucket"], Key="fail-metrics.txt", Body=b"x")
    testing.clock.advance(0)
    page = console.get(f"metrics/functions/{pipeline['function']}")
    assert page.status == 200
    for metric in ("Invocations", "Errors", "Throttles", "Duration", "DeadLetterErrors", "AsyncEventAge"):
        assert f'data-metric="{metric}"' in page.text
    embedded = re.search(r'<script type="application/json" id="metric-data" data-url="([^"]+)">(.*?)</script>',
                         page.text, re.S)
    assert embedded is not None
    data = json.loads(embedded.group(2))
    charts: dict[str, Any] = {c["metric"]: c for c in data["charts"]}
    assert charts["Invocations"]["summary"] >= 1 and charts["Errors"]["summary"] >= 1
    assert charts["Throttles"]["summary"] == 0
    fresh = json.loads(console.get(unescape(embedded.group(1))).text)
    assert {c["metric"] for c in fresh["charts"]} == set(charts) and fresh["error"] is None
    queue = console.get(f"metrics/queues/{pipeline['dlq']}")
    assert 'data-metric="ApproximateNumberOfMessagesVisible"' in queue.text


def test_a_long_queue_is_peeked_at_a_page_at_a_time(console: ConsoleClient, manual: SluiceProcess) -> None:
    sqs = make_client("sqs", manual.endpoint)
    name = _name("long")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    ids: list[str] = []
    for batch in range(7):
        sent = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{batch * 10 + i}"} for i in range(10)])
        ids.extend(s["MessageId"] for s in sorted(sent["Successful"], key=lambda s: int(s["Id"])))
    first = console.get(f"queues/{name}")
    assert first.text.count('<article class="message') == 50 and "Messages 1–50 of 70" in first.text
    assert f'href="{PREFIX}/queues/{name}?start=50">Newer' in first.text
    second = console.get(f"queues/{name}?start=50")
    assert second.text.count('<article class="message') == 20 and "Messages 51–70 of 70" in second.text
    # A link to one message (from a journey or the failed events) opens the page that holds it.
    linked = console.get(f"queues/{name}?message={ids[63]}")
    assert f'class="message highlight" id="msg-{ids[63]}"' in linked.text and "Messages 51–70" in linked.text
