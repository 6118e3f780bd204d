"""The S3EventProcessor exercise as tests, with Sluice's pytest plugin (`pip install sluice`).

    pytest examples/s3-event-processor/test_s3_event_processor.py

The plugin starts one Sluice server for the session and empties it before each test; the
`pipeline` fixture below deploys the exercise on it (bucket, role, function from handler.py, DLQ,
retry settings, S3 trigger). Time is the test's: `sluice_clock.advance(minutes=3)` runs the two
retries (1 and 2 minutes after the attempts before them), the DLQ delivery and the alarm's
evaluations at once, so the failure path takes a fraction of a second, not three minutes, and
nothing here sleeps.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sluice.testing import ClockControl
from sluice.testing.session import AwsClients, SluiceSession

HERE = Path(__file__).parent
BUCKET = "bucket-evenement-lambda"
FUNCTION = "S3EventProcessor"
ROLE = "S3EventProcessorRole"
DLQ = "LambdaDLQ"
ALARM = "S3EventProcessor-errors"
NOT_UTF8 = b"\xff\xd8\xff\xe0 not utf-8 \x80\x81\n"


@dataclass
class Pipeline:
    bucket: str
    function: str
    dlq_url: str


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(HERE / "handler.py", "handler.py")
    return buffer.getvalue()


@pytest.fixture
def pipeline(aws: AwsClients) -> Pipeline:
    """The exercise, deployed as walkthrough.sh does it, plus an alarm on the function's Errors,
    on a server the plugin has just emptied."""
    iam, lambda_, sqs, s3 = aws("iam"), aws("lambda"), aws("sqs"), aws("s3")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for policy in ("AmazonS3ReadOnlyAccess", "service-role/AWSLambdaBasicExecutionRole"):
        iam.attach_role_policy(RoleName=ROLE, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
    dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function_arn = lambda_.create_function(
        FunctionName=FUNCTION, Runtime="python3.12", Handler="handler.lambda_handler", Role=role,
        Code={"ZipFile": _code()}, DeadLetterConfig={"TargetArn": dlq_arn})["FunctionArn"]
    lambda_.put_function_event_invoke_config(FunctionName=FUNCTION, MaximumRetryAttempts=2,
                                             MaximumEventAgeInSeconds=3600)
    s3.create_bucket(Bucket=BUCKET)
    lambda_.add_permission(FunctionName=FUNCTION, StatementId="s3-invoke", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{BUCKET}")
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:Put"]}]})
    # "Does my alarm fire?": any error in the last 5 minutes.
    aws("cloudwatch").put_metric_alarm(
        AlarmName=ALARM, Namespace="AWS/Lambda", MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}], Statistic="Sum", Period=60,
        EvaluationPeriods=5, DatapointsToAlarm=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching")
    return Pipeline(BUCKET, FUNCTION, dlq_url)


def _alarm(aws: AwsClients) -> dict[str, Any]:
    [alarm] = aws("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    return alarm


def _log_messages(aws: AwsClients, pattern: str) -> list[str]:
    events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{FUNCTION}", filterPattern=pattern)["events"]
    return [e["message"] for e in events]


def test_a_text_file_is_read_and_logged(pipeline: Pipeline, aws: AwsClients, sluice: SluiceSession, sluice_clock: ClockControl) -> None:
    aws("s3").put_object(Bucket=pipeline.bucket, Key="bonjour.txt", Body="Bonjour depuis Sluice : fichier traité".encode())

    sluice_clock.run_until_idle()  # the first attempt runs now; this waits for it, and only it

    outcome = sluice.event_outcome(f"{pipeline.bucket}/bonjour.txt")
    assert outcome.status == "Success"
    assert [a.status for a in outcome.attempts] == ["Success"]
    assert any("Contenu du fichier bonjour.txt : Bonjour depuis Sluice : fichier traité" in m
               for m in _log_messages(aws, '"Contenu du fichier"'))

    sluice_clock.advance(minutes=1)  # the alarm's evaluation of that minute: Errors = 0
    assert _alarm(aws)["StateValue"] == "OK"


def test_an_unreadable_file_is_retried_twice_then_dead_lettered(pipeline: Pipeline, aws: AwsClients, sluice: SluiceSession,
                                                                 sluice_clock: ClockControl) -> None:
    aws("s3").put_object(Bucket=pipeline.bucket, Key="image.bin", Body=NOT_UTF8)

    sluice_clock.advance(minutes=3)  # three minutes of AWS time, in well under a second

    outcome = sluice.event_outcome(f"{pipeline.bucket}/image.bin")
    assert outcome.status == "RetriesExhausted"
    assert [a.n for a in outcome.attempts] == [1, 2, 3]
    assert {a.error_type for a in outcome.attempts} == {"UnicodeDecodeError"}
    assert outcome.gaps == [60.0, 120.0]  # engine time: exact on the manual clock

    [message] = sluice.queue_messages(DLQ)  # read without receiving it
    assert message.attribute("RequestID") == outcome.request_id
    assert message.attribute("ErrorCode") == "200"
    assert "'utf-8' codec can't decode byte 0xff in position 0" in (message.attribute("ErrorMessage") or "")
    assert json.loads(message.body)["Records"][0]["s3"]["object"]["key"] == "image.bin"
    assert len(_log_messages(aws, '"Erreur lors du traitement du fichier image.bin"')) == 3

    alarm = _alarm(aws)  # evaluated every minute on the way
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 5 datapoints [1.0 (")


def test_zero_reserved_concurrency_drops_the_event_without_an_attempt(pipeline: Pipeline, aws: AwsClients, sluice: SluiceSession,
                                                                      sluice_clock: ClockControl) -> None:
    aws("lambda").put_function_concurrency(FunctionName=pipeline.function, ReservedConcurrentExecutions=0)
    aws("s3").put_object(Bucket=pipeline.bucket, Key="bonjour.txt", Body=b"jamais lu")

    sluice_clock.run_until_idle()

    outcome = sluice.event_outcome(f"{pipeline.bucket}/bonjour.txt")
    assert outcome.status == "ZeroReservedConcurrency"
    assert outcome.attempts == []
