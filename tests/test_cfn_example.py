"""The S3EventProcessor example as a SAM template (examples/s3-event-processor/template.yaml),
deployed with the real AWS CLI's `cloudformation package` and `cloudformation deploy`, exactly
as the README shows: upload a file and see its log line, a file the function cannot read ends
in LambdaDLQ after the retries, a changed MaximumRetryAttempts is one in-place change in the
change set, and deleting the stack removes what it made.

Its own server with --time-scale 60: the 1 and 2 minute retry gaps take 1 and 2 seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import listed, make_client, wait_for
from .server import SluiceProcess

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "s3-event-processor"
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("cfn-example") / "data", "--time-scale", "60").start()
    yield proc
    proc.stop()


def _aws(server: SluiceProcess, *args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}
    done = subprocess.run([sys.executable, "-m", "awscli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)
    assert done.returncode == 0, f"aws {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def _package(server: SluiceProcess, template: Path, artifacts: str, out: Path) -> Path:
    _aws(server, "cloudformation", "package", "--template-file", str(template),
         "--s3-bucket", artifacts, "--output-template-file", str(out))
    return out


def _deploy(server: SluiceProcess, template: Path, stack: str, *extra: str) -> None:
    _aws(server, "cloudformation", "deploy", "--template-file", str(template),
         "--stack-name", stack, "--capabilities", *CAPABILITIES, *extra)


def _outputs(cfn: Any, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _settled(cfn: Any, stack: str) -> str:
    def ended() -> str | None:
        status = str(cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])
        return None if status.endswith("_IN_PROGRESS") else status

    return wait_for(ended, timeout=60) or "still in progress"


def _logged(logs: Any, function: str, pattern: str) -> bool:
    try:
        found = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern=pattern)
    except logs.exceptions.ResourceNotFoundException:
        return False
    return bool(found["events"])


def test_the_example_deploys_runs_updates_and_deletes(server: SluiceProcess, tmp_path: Path) -> None:
    s3, sqs = make_client("s3", server.endpoint), make_client("sqs", server.endpoint)
    cfn, logs = make_client("cloudformation", server.endpoint), make_client("logs", server.endpoint)
    lambda_ = make_client("lambda", server.endpoint)
    artifacts, stack = f"artifacts-{uuid.uuid4().hex[:8]}", "s3-event-processor"
    s3.create_bucket(Bucket=artifacts)

    packaged = _package(server, EXAMPLE / "template.yaml", artifacts, tmp_path / "packaged.yaml")
    assert "CodeUri: s3://" + artifacts in packaged.read_text()
    _deploy(server, packaged, stack)

    outputs = _outputs(cfn, stack)
    bucket, function = outputs["BucketName"], outputs["FunctionName"]
    assert bucket.startswith("s3-event-processor-bucket-") and function.startswith(
        "s3-event-processor-S3EventProcessor-")
    config = lambda_.get_function_event_invoke_config(FunctionName=function)
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 3600)

    # A text file: the function reads it and logs its content.
    s3.put_object(Bucket=bucket, Key="bonjour.txt", Body=b"Bonjour depuis un template")
    assert wait_for(lambda: _logged(logs, function,
                                    '"Contenu du fichier bonjour.txt : Bonjour depuis un template"'),
                    timeout=30)

    # Not UTF-8: three attempts, then the event is in LambdaDLQ with the error.
    s3.put_object(Bucket=bucket, Key="image.bin", Body=b"\xff\xd8\xff\xe0 not utf-8")

    def dead_lettered() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=outputs["DeadLetterQueueUrl"], WaitTimeSeconds=5,
                                  MessageAttributeNames=["All"])
        return list(got.get("Messages", []))

    [message] = wait_for(dead_lettered, timeout=60)
    assert json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"] == "image.bin"
    assert "utf-8" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]

    # One setting changed in the template: a change set with exactly that change, in place.
    # (Changed in the packaged template: packaging again would upload the same code under the
    # same key, but a copy of the example elsewhere would zip other files.)
    repackaged = tmp_path / "packaged-2.yaml"
    repackaged.write_text(packaged.read_text().replace("MaximumRetryAttempts: 2",
                                                       "MaximumRetryAttempts: 1"))
    _deploy(server, repackaged, stack, "--no-execute-changeset")
    [summary] = [c for c in cfn.list_change_sets(StackName=stack)["Summaries"]
                 if c["ExecutionStatus"] == "AVAILABLE"]
    described = cfn.describe_change_set(StackName=stack, ChangeSetName=summary["ChangeSetId"])
    assert [(c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"],
             c["ResourceChange"]["Replacement"], c["ResourceChange"]["Scope"])
            for c in described["Changes"]] == [
        ("Modify", "S3EventProcessorEventInvokeConfig", "False", ["Properties"])]
    [detail] = described["Changes"][0]["ResourceChange"]["Details"]
    assert detail["Target"]["Attribute"] == "Properties"
    assert detail["Target"]["Name"] == "MaximumRetryAttempts"
    _aws(server, "cloudformation", "execute-change-set", "--change-set-name", summary["ChangeSetId"])
    # (Polled here: the CLI's `wait stack-update-complete` sleeps 30 s between looks.)
    assert _settled(cfn, stack) == "UPDATE_COMPLETE"

    config = lambda_.get_function_event_invoke_config(FunctionName=function)
    assert config["MaximumRetryAttempts"] == 1
    assert lambda_.get_function(FunctionName=function)["Configuration"]["FunctionName"] == function

    # Deleting the stack removes everything it made (a bucket must be empty, as on AWS).
    for key in ("bonjour.txt", "image.bin"):
        s3.delete_object(Bucket=bucket, Key=key)
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    _aws(server, "cloudformation", "delete-stack", "--stack-name", stack)
    assert _settled(cfn, stack_id) == "DELETE_COMPLETE"

    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(lambda_.exceptions.ResourceNotFoundException):
        lambda_.get_function(FunctionName=function)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=outputs["DeadLetterQueueUrl"].rsplit("/", 1)[1])
    iam = make_client("iam", server.endpoint)
    assert not [r for r in listed(iam, "list_roles", "Roles") if r["RoleName"].startswith(stack)]
