"""The pytest plugin deploys templates: `sluice_setup = template.yaml`, the `sluice_stack` marker and
fixture, run by pytest in a fresh process (pytester) as a user would run them; the example's SAM
template deployed by the plugin (its code packaged from the folder) and its pipeline tested."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sluice.testing.packager import Packager, zip_folder

pytest_plugins = ["pytester"]

INNER_TIMEOUT = 100  # seconds: an inner run that hangs is killed before pytest-timeout
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "s3-event-processor"

DEPLOYED_PIPELINE = '''
import json

import pytest

from sluice.testing import StackDeployFailed

NOT_UTF8 = b"\\xff\\xd8\\xff\\xe0 not utf-8 \\x80\\x81\\n"


def log_messages(aws, function, pattern):
    events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern=pattern)["events"]
    return [e["message"] for e in events]


def test_an_upload_is_read_and_logged(sluice, aws, sluice_clock):
    outputs = sluice.stack_outputs("template")  # the stack the ini's sluice_setup deployed
    aws("s3").put_object(Bucket=outputs["BucketName"], Key="bonjour.txt", Body="Bonjour du template".encode())

    sluice_clock.run_until_idle()

    assert sluice.event_outcome(outputs["BucketName"] + "/bonjour.txt").status == "Success"
    assert any("Contenu du fichier bonjour.txt : Bonjour du template" in m
               for m in log_messages(aws, outputs["FunctionName"], '"Contenu du fichier"'))


def test_a_failing_file_is_retried_then_dead_lettered(sluice, aws, sluice_clock):
    outputs = sluice.stack_outputs()  # the only stack there is: deployed again after the reset
    aws("s3").put_object(Bucket=outputs["BucketName"], Key="image.bin", Body=NOT_UTF8)

    sluice_clock.advance(minutes=3)

    outcome = sluice.event_outcome(outputs["BucketName"] + "/image.bin")
    assert outcome.status == "RetriesExhausted"
    assert outcome.gaps == [60.0, 120.0]
    [message] = sluice.queue_messages(outputs["DeadLetterQueueUrl"])
    assert message.attribute("RequestID") == outcome.request_id
    assert message.attribute("ErrorCode") == "200"
    assert "can't decode byte 0xff" in message.attribute("ErrorMessage")
    assert json.loads(message.body)["Records"][0]["s3"]["object"]["key"] == "image.bin"


@pytest.mark.sluice_stack("stacks/queue.yaml", name="jobs", parameters={"Visibility": 45})
def test_a_marked_stack_with_parameters(sluice, aws):
    queue = sluice.stack_outputs("jobs")["QueueUrl"]
    attributes = aws("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "45"
    assert sluice.stack("template").status == "CREATE_COMPLETE"  # the set-up's stack is there too


def test_the_fixture_creates_updates_and_reports_a_rollback(sluice_stack, aws):
    created = sluice_stack("stacks/queue.yaml", parameters={"Visibility": 10})
    updated = sluice_stack("stacks/queue.yaml", parameters={"Visibility": 20})
    assert (created.name, created.status, updated.status) == ("queue", "CREATE_COMPLETE", "UPDATE_COMPLETE")
    assert updated.outputs["QueueUrl"] == created.outputs["QueueUrl"] == created.resources["Queue"]
    assert sluice_stack("stacks/queue.yaml", parameters={"Visibility": 20}).status == "UPDATE_COMPLETE"  # no change

    with pytest.raises(StackDeployFailed) as failed:
        sluice_stack("stacks/broken.yaml")
    assert "stack broken" in str(failed.value) and "ROLLBACK_COMPLETE" in str(failed.value)
    assert "Short (AWS::SQS::Queue) CREATE_FAILED: Resource handler returned message:" in str(failed.value)
    assert "MessageRetentionPeriod" in str(failed.value)
'''

QUEUE_TEMPLATE = '''
Parameters:
  Visibility:
    Type: Number
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Visibility
Outputs:
  QueueUrl:
    Value: !Ref Queue
'''

BROKEN_TEMPLATE = '''
Resources:
  Fine:
    Type: AWS::SQS::Queue
  Short:
    Type: AWS::SQS::Queue
    DependsOn: Fine
    Properties:
      MessageRetentionPeriod: 10
'''


def test_the_example_template_deployed_by_the_plugin_and_its_pipeline_tested(pytester: pytest.Pytester) -> None:
    # The template in a folder of its own: `CodeUri: .` zips that folder (pytester's temporary
    # directories, the session's server data among them, are beside it).
    (pytester.path / "app").mkdir()
    for name in ("template.yaml", "handler.py"):
        shutil.copy(EXAMPLE / name, pytester.path / "app" / name)
    (pytester.path / "stacks").mkdir()
    (pytester.path / "stacks" / "queue.yaml").write_text(QUEUE_TEMPLATE)
    (pytester.path / "stacks" / "broken.yaml").write_text(BROKEN_TEMPLATE)
    pytester.makeini("[pytest]\nsluice_setup = app/template.yaml\n")
    pytester.makepyfile(test_deployed=DEPLOYED_PIPELINE)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_deployed.py", timeout=INNER_TIMEOUT)

    result.assert_outcomes(passed=4)
    print(result.stdout.lines[-2:])  # the resets (each followed by a deploy) and the wall time (with -s)


FAILING_SETUP = '''
def test_never_runs(sluice):
    pass
'''


def test_a_set_up_template_that_rolls_back_fails_the_set_up_with_its_reasons(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nsluice_setup = broken.yaml\n")
    (pytester.path / "broken.yaml").write_text(BROKEN_TEMPLATE)
    pytester.makepyfile(test_setup=FAILING_SETUP)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=INNER_TIMEOUT)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*SetupFailed: stack broken (*broken.yaml) ended ROLLBACK_COMPLETE:*",
                                 "*Short (AWS::SQS::Queue) CREATE_FAILED: Resource handler returned message:*"])


def test_the_packager_uploads_local_code_as_the_cli_would(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "src" / "__pycache__").mkdir()
    (tmp_path / "src" / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"changes every run")
    (tmp_path / "layer.zip").write_bytes(zip_folder(tmp_path / "src"))
    uploads: dict[str, bytes] = {}
    template: dict[str, Any] = {"Resources": {
        "Sam": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "src", "Handler": "app.handler"}},
        "Default": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.handler"}},
        "Inline": {"Type": "AWS::Serverless::Function", "Properties": {"InlineCode": "x"}},
        "Plain": {"Type": "AWS::Lambda::Function", "Properties": {"Code": "src/app.py"}},
        "Remote": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Bucket": "b", "S3Key": "k"}}},
        "Layer": {"Type": "AWS::Lambda::LayerVersion", "Properties": {"Content": "layer.zip"}},
        "SamLayer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "s3://b/k"}},
    }}

    packaged = Packager("artifacts", uploads.__setitem__).package(template, tmp_path)["Resources"]

    sam_key = packaged["Sam"]["Properties"]["CodeUri"].removeprefix("s3://artifacts/")
    assert zipfile.ZipFile(io.BytesIO(uploads[sam_key])).namelist() == ["app.py"]  # no __pycache__
    assert packaged["Layer"]["Properties"]["Content"] == {"S3Bucket": "artifacts", "S3Key": sam_key}  # same bytes
    assert set(zipfile.ZipFile(io.BytesIO(uploads[packaged["Default"]["Properties"]["CodeUri"][15:]])).namelist()) == {
        "src/app.py", "layer.zip"}  # no CodeUri: the template's folder
    assert "CodeUri" not in packaged["Inline"]["Properties"]
    plain = packaged["Plain"]["Properties"]["Code"]
    assert zipfile.ZipFile(io.BytesIO(uploads[plain["S3Key"]])).namelist() == ["app.py"]
    assert packaged["Remote"]["Properties"]["Code"] == {"S3Bucket": "b", "S3Key": "k"}
    assert packaged["SamLayer"]["Properties"]["ContentUri"] == "s3://b/k"
    assert template["Resources"]["Sam"]["Properties"]["CodeUri"] == "src"  # the original is left as it was
