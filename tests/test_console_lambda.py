"""The console's Lambda pages (issue 17), over HTTP as htmx sends them: creating a function from
a pasted handler, its code (view, edit, deploy), the Test button, configuration, concurrency,
asynchronous invocation (the exercise's steps 4 and 5), triggers, versions and aliases, and the
live state pushed over server-sent events."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .conftest import make_client
from .console_helpers import PREFIX, ConsoleClient, error_code, error_message
from .lambda_helpers import create

HANDLER = """import json

def lambda_handler(event, context):
    print("got event", json.dumps(event))
    return {"echo": event, "version": 1}
"""


@pytest.fixture
def console(endpoint: str) -> ConsoleClient:
    return ConsoleClient(endpoint)


@pytest.fixture
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def new_function(console: ConsoleClient, code: str = HANDLER, **extra: str) -> str:
    name = f"console-fn-{uuid.uuid4().hex[:8]}"
    fields = {"name": name, "runtime": "python3.12", "handler": "lambda_function.lambda_handler",
              "role": "new", "code": code, **extra}
    page = console.post("lambda/create", fields)
    assert page.status == 200 and page.header("hx-redirect") == f"{PREFIX}/lambda/functions/{name}", page.text
    return name


def test_a_function_is_created_from_a_pasted_handler(console: ConsoleClient, lam: Any, endpoint: str) -> None:
    name = new_function(console, timeout="7")
    cfg = lam.get_function_configuration(FunctionName=name)
    assert (cfg["Runtime"], cfg["Handler"], cfg["Timeout"]) == ("python3.12", "lambda_function.lambda_handler", 7)
    # "Create a new role with basic Lambda permissions", as the AWS console makes it.
    role = cfg["Role"].rsplit("/", 1)[1]
    assert cfg["Role"] == f"arn:aws:iam::000000000000:role/service-role/{role}" and role.startswith(f"{name}-role-")
    attached = make_client("iam", endpoint).list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]
    listing = console.get("lambda")
    assert f'data-function="{name}"' in listing.text and "python3.12" in listing.text
    # The API's validation, in Lambda's words.
    too_long = console.post("lambda/create", {"name": f"x-{uuid.uuid4().hex[:6]}", "runtime": "python3.12",
                                              "role": "new", "timeout": "1000"})
    assert too_long.status == 400 and error_code(too_long) == "ValidationException"
    assert error_message(too_long) == ("1 validation error detected: Value '1000' at 'timeout' failed to satisfy "
                                       "constraint: Member must have value less than or equal to 900")
    taken = console.post("lambda/create", {"name": name, "runtime": "python3.12", "role": "new"})
    assert taken.status == 409 and error_code(taken) == "ResourceConflictException"


def test_code_is_shown_edited_deployed_and_tested(console: ConsoleClient, lam: Any) -> None:
    name = new_function(console)
    code = console.get(f"lambda/functions/{name}")
    assert code.status == 200 and 'name="file" value="lambda_function.py"' in code.text
    assert "print(&#34;got event&#34;, json.dumps(event))" in code.text
    test = console.post(f"lambda/functions/{name}/test", {"event": '{"key1": "value1"}'})
    assert test.status == 200 and 'data-status="succeeded"' in test.text
    assert "&#34;version&#34;: 1" in test.text and 'got event {"key1": "value1"}' in test.text.replace("&#34;", '"')
    assert "REPORT RequestId:" in test.text and 'id="test-duration"' in test.text
    deployed = console.post(f"lambda/functions/{name}/code",
                            {"file": "lambda_function.py", "code": HANDLER.replace('"version": 1', '"version": 2')})
    assert deployed.status == 200 and 'data-saved="code"' in deployed.text
    out = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert out == {"echo": {}, "version": 2}
    failing = console.post(f"lambda/functions/{name}/code", {"file": "lambda_function.py",
                                                              "code": "def lambda_handler(e, c):\n    raise ValueError('no')\n"})
    assert failing.status == 200
    failed = console.post(f"lambda/functions/{name}/test", {"event": "{}"})
    assert 'data-status="failed"' in failed.text and "Unhandled" in failed.text and "ValueError" in failed.text
    not_json = console.post(f"lambda/functions/{name}/test", {"event": "{nope"})
    assert not_json.status == 400 and error_code(not_json) == "InvalidRequestContentException"
    template = console.get(f"lambda/functions/{name}?tab=test&template=s3-put")
    assert "ObjectCreated:Put" in template.text


def test_configuration_and_concurrency_are_saved(console: ConsoleClient, lam: Any) -> None:
    name = new_function(console)
    page = console.get(f"lambda/functions/{name}?tab=config")
    assert page.status == 200 and 'id="config-form"' in page.text
    saved = console.post(f"lambda/functions/{name}/configuration",
                         {"memory": "256", "timeout": "20", "handler": "lambda_function.lambda_handler",
                          "description": "from the console", "environment": "STAGE=test\nGREETING=hi there\n",
                          "role": lam.get_function_configuration(FunctionName=name)["Role"]})
    assert saved.status == 200 and 'data-saved="Configuration"' in saved.text, saved.text
    cfg = lam.get_function_configuration(FunctionName=name)
    assert (cfg["MemorySize"], cfg["Timeout"], cfg["Description"]) == (256, 20, "from the console")
    assert cfg["Environment"]["Variables"] == {"STAGE": "test", "GREETING": "hi there"}
    bad = console.post(f"lambda/functions/{name}/configuration", {"memory": "64"})
    assert bad.status == 400 and error_code(bad) == "ValidationException"
    assert "'memorySize'" in error_message(bad)
    assert console.post(f"lambda/functions/{name}/concurrency", {"reserved": "5"}).status == 200
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert "value=\"5\"" in console.get(f"lambda/functions/{name}?tab=config").text
    assert console.post(f"lambda/functions/{name}/concurrency", {"reserved": ""}).status == 200
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


def test_asynchronous_invocation_retries_dlq_and_destinations(console: ConsoleClient, lam: Any,
                                                                endpoint: str) -> None:
    name = new_function(console)
    sqs = make_client("sqs", endpoint)
    queue = sqs.create_queue(QueueName=f"LambdaDLQ-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    page = console.get(f"lambda/functions/{name}?tab=async")
    assert page.status == 200 and '<option selected>2</option>' in page.text and 'value="21600"' in page.text
    assert f'<option value="{queue_arn}">' in page.text
    saved = console.post(f"lambda/functions/{name}/async", {"retries": "1", "max_age": "120", "dlq": queue_arn,
                                                            "on_success": "", "on_failure": queue_arn})
    assert saved.status == 200 and 'data-saved="Asynchronous invocation"' in saved.text, saved.text
    config = lam.get_function_event_invoke_config(FunctionName=name)
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 120)
    assert config["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": queue_arn}}
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": queue_arn}
    shown = console.get(f"lambda/functions/{name}?tab=async")
    assert '<option selected>1</option>' in shown.text and f'name="dlq" value="{queue_arn}"' in shown.text
    bad = console.post(f"lambda/functions/{name}/async", {"retries": "5", "max_age": "120", "dlq": queue_arn})
    assert bad.status == 400 and error_message(bad) == (
        "1 validation error detected: Value '5' at 'maximumRetryAttempts' failed to satisfy constraint: "
        "Member must have value less than or equal to 2")
    # The DLQ removed: an empty field.
    assert console.post(f"lambda/functions/{name}/async", {"retries": "2", "max_age": "3600", "dlq": ""}).status == 200
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name) or \
        not lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"].get("TargetArn")


def test_triggers_versions_and_aliases(console: ConsoleClient, lam: Any, endpoint: str) -> None:
    name = new_function(console)
    s3 = make_client("s3", endpoint)
    bucket = f"console-trig-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    tab = console.get(f"lambda/functions/{name}?tab=triggers")
    assert tab.status == 200 and f"<option>{bucket}</option>" in tab.text
    added = console.post(f"lambda/functions/{name}/s3-trigger",
                         [("bucket", bucket), ("events", "s3:ObjectCreated:*"), ("suffix", ".txt"),
                          ("kind", "lambda"), ("target", lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]),
                          ("grant", "1")])
    assert added.status == 200 and added.header("hx-redirect") == f"{PREFIX}/lambda/functions/{name}?tab=triggers"
    config = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert len(config) == 1 and config[0]["LambdaFunctionArn"].endswith(f":function:{name}")
    assert f'data-trigger="s3:{bucket}:{config[0]["Id"]}"' in console.get(f"lambda/functions/{name}?tab=triggers").text
    sqs = make_client("sqs", endpoint)
    queue = sqs.create_queue(QueueName=f"console-src-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert console.post(f"lambda/functions/{name}/mappings", {"queue": queue_arn, "batch_size": "5"}).status == 200
    mapping = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"][0]
    assert (mapping["EventSourceArn"], mapping["BatchSize"]) == (queue_arn, 5)
    assert console.post(f"lambda/functions/{name}/mappings/delete", {"uuid": mapping["UUID"]}).status == 200
    # Versions and aliases.
    assert console.post(f"lambda/functions/{name}/versions", {"description": "first"}).status == 200
    assert console.post(f"lambda/functions/{name}/aliases", {"alias": "live", "version": "1"}).status == 200
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    page = console.get(f"lambda/functions/{name}?tab=versions")
    assert 'data-version="1"' in page.text and 'data-alias="live"' in page.text
    dup = console.post(f"lambda/functions/{name}/aliases", {"alias": "live", "version": "1"})
    assert dup.status == 409 and error_code(dup) == "ResourceConflictException"
    assert console.post(f"lambda/functions/{name}/aliases/delete", {"alias": "live"}).status == 200
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []
    # Deleting the function.
    assert console.post(f"lambda/functions/{name}/delete", {}).header("hx-redirect") == f"{PREFIX}/lambda"
    gone = console.get(f"lambda/functions/{name}")
    assert gone.status == 404 and error_code(gone) == "ResourceNotFoundException"


def test_the_function_page_streams_its_state(console: ConsoleClient, endpoint: str) -> None:
    """Server-sent events: the first message is the state fragment, at once."""
    name = new_function(console)
    text = console.stream(f"lambda/functions/{name}/live", 'id="fn-state"')
    assert "event: state\ndata: " in text and 'id="fn-state">Active</span>' in text


def test_the_function_list_is_pushed_live(console: ConsoleClient) -> None:
    name = new_function(console)
    text = console.stream("lambda/live", f'data-function="{name}"')
    assert "event: functions\n" in text and f'data-function="{name}"' in text


def test_lists_show_every_page_of_their_api(console: ConsoleClient, lam: Any, endpoint: str) -> None:
    # ListFunctions answers 50 functions a page: the list and the S3 notification form's targets
    # follow NextMarker (a 51st function was missing from both).
    prefix = f"paged-{uuid.uuid4().hex[:6]}"
    names = [create(lam, "def handler(event, context):\n    return 1\n", name=f"{prefix}-{i:02d}") for i in range(55)]
    assert len(lam.list_functions()["Functions"]) == 50  # the API's first page, as AWS's
    listing = console.get("lambda")
    assert all(f'data-function="{name}"' in listing.text for name in names)
    bucket = f"paged-{uuid.uuid4().hex[:8]}"
    make_client("s3", endpoint).create_bucket(Bucket=bucket)
    form = console.get(f"s3/buckets/{bucket}/notifications")
    arns = {lam.get_function(FunctionName=n)["Configuration"]["FunctionArn"] for n in names}
    assert all(f'<option value="{arn}">' in form.text for arn in arns)
