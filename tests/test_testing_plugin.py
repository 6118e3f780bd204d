"""The pytest plugin (sluice.testing), used as a user would: test files run by pytest in a fresh
process (pytester's runpytest_subprocess), the plugin found through its pytest11 entry point."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sluice.testing import SluiceTesting, TestingApiError

pytest_plugins = ["pytester"]

INNER_TIMEOUT = 100  # seconds: an inner run that hangs is killed, and this test fails, before pytest-timeout
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "s3-event-processor"


def readme_first_test() -> str:
    """The README's "A first test" code block, so that what a reader copies is what passes here."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\n", text.index("**A first test.**")) + len("```python\n")
    return text[start:text.index("```", start)]


def test_the_s3_event_processor_example_passes(pytester: pytest.Pytester) -> None:
    for name in ("test_s3_event_processor.py", "handler.py"):
        shutil.copy(EXAMPLE / name, pytester.path / name)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_s3_event_processor.py", timeout=INNER_TIMEOUT)

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["sluice: thread server ready in * ms; 2 resets, mean * ms, max * ms"])
    print(result.stdout.lines[-2:])  # the measured start, resets and wall time (with -s)


ISOLATION = '''
import boto3
import pytest

from sluice.testing import SluiceTesting, TestingApiError


def names(aws):
    return sorted(b["Name"] for b in aws("s3").list_buckets()["Buckets"])


def test_a_leaves_a_bucket(aws):
    assert names(aws) == ["from-setup"]
    aws("s3").create_bucket(Bucket="left-by-a")


def test_b_starts_from_the_setup_again(aws):
    assert names(aws) == ["from-setup"]
    aws("s3").create_bucket(Bucket="left-by-b")


@pytest.mark.sluice_shared
def test_c_shared_sees_what_b_left(aws):
    assert names(aws) == ["from-setup", "left-by-b"]


def test_code_under_test_builds_its_own_client(sluice):
    s3 = boto3.client("s3")  # no endpoint, no keys: the plugin exported them
    assert s3.meta.endpoint_url == sluice.endpoint
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["from-setup"]


def test_engine_time_moves_only_when_advanced(sluice_clock):
    before = sluice_clock.now
    assert sluice_clock.advance(hours=1).now == before + 3600
    assert sluice_clock.now == before + 3600


def test_a_failing_assertion(aws):
    assert names(aws) == ["no-such-bucket"]
'''

SETUP_HOOK = '''
import boto3


def pytest_sluice_setup(sluice):
    boto3.client("s3").create_bucket(Bucket="from-setup")
'''


def test_isolation_setup_hook_the_readme_test_and_a_failure_reported_as_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SETUP_HOOK)
    pytester.makepyfile(test_isolation=ISOLATION, test_readme=readme_first_test())

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=INNER_TIMEOUT)

    result.assert_outcomes(passed=6, failed=1, errors=0)
    result.stdout.fnmatch_lines(["*def test_a_failing_assertion(aws):*",
                                 "E * AssertionError: assert *'from-setup'* == *'no-such-bucket'*"])


PROCESS_MODE = '''
import io
import zipfile

import pytest

from sluice.testing import SluiceTesting, TestingApiError

from sluice.testing import TestingApiError

FAILING = "def handler(event, context):\\n    raise ValueError('boom')\\n"


def test_the_setup_script_ran_and_queues_can_be_peeked(sluice, aws):
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName="from-script")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "greeting"}})
    [message] = sluice.queue_messages("from-script")
    assert (message.body, message.attribute("kind"), message.receive_count, message.visible) == (
        "hello", "greeting", 0, True)
    assert [m.body for m in sluice.queue_messages(url)] == ["hello"]  # still there: not received


def test_an_unknown_request_id(sluice):
    with pytest.raises(TestingApiError) as refused:
        sluice.outcome("no-such-request")
    assert (refused.value.status, refused.value.error) == (404, "OutcomeNotFound")


@pytest.mark.sluice_time_scale(1200)
def test_a_time_scale_instead_of_advancing(sluice, aws):
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("fn.py", FAILING)
    lambda_ = aws("lambda")
    lambda_.create_function(FunctionName="failing", Runtime="python3.12", Handler="fn.handler",
                            Role="arn:aws:iam::000000000000:role/fn", Code={"ZipFile": code.getvalue()})
    request_id = lambda_.invoke(FunctionName="failing", InvocationType="Event")["ResponseMetadata"]["RequestId"]
    # 1200x: the retries' 3 minutes take 0.15 s of real time, which the test waits for.
    outcome = sluice.wait_outcome(request_id)
    assert outcome.status == "RetriesExhausted"
    assert [a.error_type for a in outcome.attempts] == ["ValueError"] * 3
'''

SETUP_SCRIPT = '''
import boto3

boto3.client("sqs").create_queue(QueueName="from-script")
'''


def test_a_child_server_a_setup_script_queue_peeks_and_a_time_scale(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nsluice_setup = setup_sluice.py\n")
    pytester.makepyfile(setup_sluice=SETUP_SCRIPT, test_process=PROCESS_MODE)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--sluice-server", "process", "test_process.py",
                                           timeout=INNER_TIMEOUT)

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["sluice: process server ready in * ms; 2 resets*"])


OWN_FIXTURE = '''
import os

import pytest

from sluice.testing import SluiceTesting, TestingApiError


@pytest.fixture
def sluice():
    return "the project's own"


def test_its_own_fixture_wins(sluice):
    assert sluice == "the project's own"
    assert "AWS_ENDPOINT_URL" not in os.environ  # the plugin's server was not started for it
'''

REAL_CLOCK = '''
def test_the_server_works_on_the_real_clock(sluice, aws):
    assert sluice.health()["clock"] == "real"
    aws("s3").create_bucket(Bucket="real-time")


def test_sluice_clock_needs_the_manual_clock(sluice_clock):
    pass
'''


def test_a_project_fixture_named_sluice_is_left_alone_and_a_real_clock(pytester: pytest.Pytester,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # the inner run inherits this process's environment
    pytester.makeini("[pytest]\nsluice_clock = real\nsluice_time_scale = 60\n")
    pytester.makepyfile(test_a_own=OWN_FIXTURE, test_b_real=REAL_CLOCK)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=INNER_TIMEOUT)

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*sluice_clock needs the manual clock (ini: sluice_clock = manual)*"])


def test_the_client_outside_pytest_s_fixtures(endpoint: str) -> None:
    """SluiceTesting against the suite's own server (`sluice up`, real clock), as a script would use it."""
    client = SluiceTesting(endpoint)
    assert (client.health()["testing_api"], client.clock.next_due) == (1, None)
    with pytest.raises(TestingApiError) as refused:
        client.clock.advance(minutes=1)
    assert (refused.value.status, refused.value.error) == (409, "ClockNotManual")
    with pytest.raises(TestingApiError) as unknown:
        client.journey("no-such-bucket/key")
    assert unknown.value.status == 404
    with pytest.raises(TestingApiError) as no_queue:
        client.queue_messages("no-such-queue")
    assert (no_queue.value.status, no_queue.value.error) == (404, "QueueNotFound")
