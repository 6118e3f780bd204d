"""What exists on the fuzzed server: kept data (written first, never named by the fuzzer, checked
byte for byte at the end) and the playground (named by the fuzzer, free to be broken).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/keep-role"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
PERMISSIONS = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::keep-bucket/*"}]})
# A stack of one queue with an export (the fuzzer's CloudFormation requests name it).
PG_TEMPLATE = json.dumps({"Parameters": {"Tag": {"Type": "String", "Default": "pg-cfn"}},
                          "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
                              "Tags": [{"Key": "t", "Value": {"Ref": "Tag"}}]}}},
                          "Outputs": {"Url": {"Value": {"Ref": "Queue"}, "Export": {"Name": "pg-export"}}}})
HANDLER = b"def handler(event, context):\n    return {'echo': event}\n"


def clients(endpoint: str) -> dict[str, Any]:
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=30)
    names = ["s3", "sqs", "sns", "lambda", "events", "cloudwatch", "logs", "iam", "sts", "cloudformation"]
    return {n: boto3.client(n, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
                            aws_secret_access_key="test", config=config) for n in names}


def code_zip(source: bytes = HANDLER) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("handler.py", source)
    return buf.getvalue()


@dataclass
class Kept:
    """Data written before fuzzing whose every byte must still be there after it."""

    endpoint: str
    c: dict[str, Any] = field(init=False)
    objects: dict[tuple[str, str], str] = field(default_factory=dict)  # (key, version) -> sha256
    messages: dict[str, set[str]] = field(default_factory=dict)  # queue url -> bodies
    code_sha: str = ""
    metric_sum: float = 0.0

    bucket = "keep-bucket"
    queue = "keep-queue"
    fifo = "keep-queue.fifo"
    function = "keep-fn"
    topic = "keep-topic"
    rule = "keep-rule"
    group = "/keep/group"
    namespace = "Keep/Fuzz"
    alarm = "keep-alarm"
    role = "keep-role"
    user = "keep-user"

    def __post_init__(self) -> None:
        self.c = clients(self.endpoint)

    def write(self) -> None:
        s3 = self.c["s3"]
        s3.create_bucket(Bucket=self.bucket)
        s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        rnd = random.Random(11)
        # Small bodies live inline in SQLite; the 300 KB one goes through the blob-file path.
        for key, size in [("a.txt", 40), ("dir/b.bin", 300 * 1024), ("a.txt", 70), ("spaces and ü.txt", 5)]:
            body = rnd.randbytes(size)
            put = s3.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata={"m": key.encode("ascii", "replace").decode()},
                                Tagging="t=1")
            self.objects[(key, put["VersionId"])] = hashlib.sha256(body).hexdigest()

        sqs = self.c["sqs"]
        q = sqs.create_queue(QueueName=self.queue)["QueueUrl"]
        fifo = sqs.create_queue(QueueName=self.fifo, Attributes={"FifoQueue": "true",
                                                                 "ContentBasedDeduplication": "true"})["QueueUrl"]
        self.messages = {q: {f"kept message {i} <&>" for i in range(3)}, fifo: {"fifo one", "fifo two"}}
        for url, bodies in self.messages.items():
            for text in sorted(bodies):
                extra = {"MessageGroupId": "g"} if url == fifo else {}
                sqs.send_message(QueueUrl=url, MessageBody=text, **extra)

        iam = self.c["iam"]
        iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=TRUST, Description="kept")
        iam.put_role_policy(RoleName=self.role, PolicyName="inline", PolicyDocument=PERMISSIONS)
        iam.create_user(UserName=self.user)

        lam = self.c["lambda"]
        zipped = code_zip()
        self.code_sha = lam.create_function(
            FunctionName=self.function, Runtime="python3.12", Role=ROLE_ARN, Handler="handler.handler",
            Code={"ZipFile": zipped}, Environment={"Variables": {"KEPT": "yes"}}, Timeout=30,
        )["CodeSha256"]

        topic = self.c["sns"].create_topic(Name=self.topic, Attributes={"DisplayName": "kept"})["TopicArn"]
        self.c["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=self._queue_arn(self.queue))

        ev = self.c["events"]
        ev.put_rule(Name=self.rule, EventPattern=json.dumps({"source": ["keep.never.sent"]}))
        ev.put_targets(Rule=self.rule, Targets=[{"Id": "q", "Arn": self._queue_arn(self.queue)}])

        logs = self.c["logs"]
        logs.create_log_group(logGroupName=self.group)
        logs.create_log_stream(logGroupName=self.group, logStreamName="s")
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName=self.group, logStreamName="s",
                            logEvents=[{"timestamp": now + i, "message": f"kept line {i}"} for i in range(3)])

        cw = self.c["cloudwatch"]
        cw.put_metric_data(Namespace=self.namespace, MetricData=[
            {"MetricName": "Kept", "Value": v, "Unit": "Count"} for v in (1.0, 2.0, 4.0)])
        self.metric_sum = 7.0
        cw.put_metric_alarm(AlarmName=self.alarm, Namespace=self.namespace, MetricName="Kept", Statistic="Sum",
                            Period=60, EvaluationPeriods=1, Threshold=1e9, ComparisonOperator="GreaterThanThreshold")

    def _queue_arn(self, name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def verify(self) -> None:
        """Everything written by `write` is still there, unchanged; raises AssertionError if not."""
        s3 = self.c["s3"]
        for (key, version), digest in self.objects.items():
            got = s3.get_object(Bucket=self.bucket, Key=key, VersionId=version)
            assert hashlib.sha256(got["Body"].read()).hexdigest() == digest, (key, version)
            assert got["Metadata"] == {"m": key.encode("ascii", "replace").decode()}
            tags = s3.get_object_tagging(Bucket=self.bucket, Key=key, VersionId=version)["TagSet"]
            assert tags == [{"Key": "t", "Value": "1"}], (key, tags)
        listed = s3.list_object_versions(Bucket=self.bucket)
        assert {(v["Key"], v["VersionId"]) for v in listed.get("Versions", [])} == set(self.objects)
        assert s3.get_bucket_versioning(Bucket=self.bucket)["Status"] == "Enabled"

        sqs = self.c["sqs"]
        for url, bodies in self.messages.items():
            seen: set[str] = set()
            deadline = time.monotonic() + 10
            while seen != bodies and time.monotonic() < deadline:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
                for m in got.get("Messages", []):
                    assert m["Body"] in bodies, f"unexpected message in {url}: {m['Body']!r}"
                    seen.add(m["Body"])
            assert seen == bodies, (url, seen)

        fn = self.c["lambda"].get_function(FunctionName=self.function)["Configuration"]
        assert fn["CodeSha256"] == self.code_sha
        assert fn["Environment"]["Variables"] == {"KEPT": "yes"}
        assert fn["Handler"] == "handler.handler" and fn["Role"] == ROLE_ARN

        iam = self.c["iam"]
        assert iam.get_role(RoleName=self.role)["Role"]["Description"] == "kept"
        assert iam.get_role_policy(RoleName=self.role, PolicyName="inline")["PolicyDocument"] == json.loads(PERMISSIONS)
        iam.get_user(UserName=self.user)

        sns = self.c["sns"]
        arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.topic}"
        assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "kept"
        subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        assert [s["Endpoint"] for s in subs] == [self._queue_arn(self.queue)]

        ev = self.c["events"]
        assert json.loads(ev.describe_rule(Name=self.rule)["EventPattern"]) == {"source": ["keep.never.sent"]}
        assert [t["Id"] for t in ev.list_targets_by_rule(Rule=self.rule)["Targets"]] == ["q"]

        events = self.c["logs"].get_log_events(logGroupName=self.group, logStreamName="s",
                                               startFromHead=True)["events"]
        assert [e["message"] for e in events] == [f"kept line {i}" for i in range(3)]

        cw = self.c["cloudwatch"]
        alarms = cw.describe_alarms(AlarmNames=[self.alarm])["MetricAlarms"]
        assert [a["Threshold"] for a in alarms] == [1e9]
        stats = cw.get_metric_statistics(Namespace=self.namespace, MetricName="Kept", Statistics=["Sum"],
                                         StartTime=time.time() - 3600 * 3, EndTime=time.time() + 600, Period=3600 * 4)
        assert sum(p["Sum"] for p in stats["Datapoints"]) == self.metric_sum

    def invoke(self) -> None:
        """The kept function still runs its kept code."""
        out = self.c["lambda"].invoke(FunctionName=self.function, Payload=b'{"k": 1}')
        assert "FunctionError" not in out, out["Payload"].read()
        assert json.loads(out["Payload"].read()) == {"echo": {"k": 1}}


@dataclass
class Playground:
    """Resources the fuzzer is pointed at, re-created when it deletes them."""

    endpoint: str
    c: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.c = clients(self.endpoint)

    @property
    def queue_urls(self) -> list[str]:
        return [f"{self.endpoint}/{ACCOUNT}/pg-queue", f"{self.endpoint}/{ACCOUNT}/pg-queue.fifo"]

    def names(self) -> dict[str, list[str]]:
        """Member name -> identifiers the input strategies often use."""
        topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:pg-topic"
        fn = "pg-fn"
        queue_arns = [f"arn:aws:sqs:{REGION}:{ACCOUNT}:pg-queue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:pg-queue.fifo"]
        return {
            "Bucket": ["pg-bucket", "pg-versioned"], "Key": ["k", "dir/k2", "pg"],
            "QueueUrl": self.queue_urls, "QueueName": ["pg-queue", "pg-queue.fifo"], "QueueNamePrefix": ["pg"],
            "FunctionName": [fn, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}", f"{fn}:$LATEST"],
            "Qualifier": ["$LATEST", "1"], "Runtime": ["python3.12"], "Handler": ["handler.handler"],
            "Role": [f"arn:aws:iam::{ACCOUNT}:role/pg-role"],
            "TopicArn": [topic], "TargetArn": [topic], "Endpoint": queue_arns, "Protocol": ["sqs"],
            "Name": ["pg-rule", "pg-bus", "pg-topic"], "Rule": ["pg-rule"], "EventBusName": ["default", "pg-bus"],
            "Arn": queue_arns + [topic], "EventSourceArn": queue_arns,
            "logGroupName": ["/pg/group"], "logStreamName": ["pg-stream"], "logGroupNamePrefix": ["/pg"],
            "AlarmName": ["pg-alarm"], "AlarmNames": ["pg-alarm"], "Namespace": ["Pg/Fuzz"],
            "MetricName": ["PgMetric"],
            "RoleName": ["pg-role"], "UserName": ["pg-user"], "GroupName": ["pg-group"], "PolicyName": ["pg-inline"],
            "PolicyArn": [f"arn:aws:iam::{ACCOUNT}:policy/pg-policy", "arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "RoleArn": [f"arn:aws:iam::{ACCOUNT}:role/pg-role"], "RoleSessionName": ["fuzz"],
            "AssumeRolePolicyDocument": [TRUST], "PolicyDocument": [PERMISSIONS.replace("keep-bucket", "pg-bucket"), TRUST],
            "EventPattern": ['{"source": ["pg"]}'],
            "QueueArn": queue_arns, "LambdaFunctionArn": [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"],
            "Destination": queue_arns + [topic], "DestinationArn": queue_arns + [topic],
            "StackName": ["pg-stack"], "ChangeSetName": ["pg-change"], "TemplateBody": [PG_TEMPLATE],
            "LogicalResourceId": ["Queue"], "ExportName": ["pg-export"],
        }

    def ensure(self, service: str) -> None:
        """(Re)create `service`'s playground; what already exists is left as it is."""
        getattr(self, f"_{service}")()

    def ensure_all(self) -> None:
        for service in ("iam", "s3", "sqs", "sns", "lambda", "events", "logs", "cloudwatch", "sts", "cloudformation"):
            self.ensure(service)

    @staticmethod
    def _quietly(call: Any, **params: Any) -> None:
        # Exists already, or the fuzzer left it in a state where this is refused.
        with contextlib.suppress(ClientError):
            call(**params)

    def _s3(self) -> None:
        s3 = self.c["s3"]
        for bucket in ("pg-bucket", "pg-versioned"):
            self._quietly(s3.create_bucket, Bucket=bucket)
            for key in ("k", "dir/k2"):
                self._quietly(s3.put_object, Bucket=bucket, Key=key, Body=b"playground")
        self._quietly(s3.put_bucket_versioning, Bucket="pg-versioned",
                      VersioningConfiguration={"Status": "Enabled"})

    def _sqs(self) -> None:
        sqs = self.c["sqs"]
        self._quietly(sqs.create_queue, QueueName="pg-queue")
        self._quietly(sqs.create_queue, QueueName="pg-queue.fifo", Attributes={"FifoQueue": "true"})
        self._quietly(sqs.send_message, QueueUrl=self.queue_urls[0], MessageBody="playground")

    def _sns(self) -> None:
        self._quietly(self.c["sns"].create_topic, Name="pg-topic")

    def _lambda(self) -> None:
        self._iam()
        self._quietly(self.c["lambda"].create_function, FunctionName="pg-fn", Runtime="python3.12",
                      Role=f"arn:aws:iam::{ACCOUNT}:role/pg-role", Handler="handler.handler",
                      Code={"ZipFile": code_zip()}, Timeout=5)

    def _events(self) -> None:
        ev = self.c["events"]
        self._quietly(ev.create_event_bus, Name="pg-bus")
        self._quietly(ev.put_rule, Name="pg-rule", EventPattern='{"source": ["pg"]}')

    def _logs(self) -> None:
        logs = self.c["logs"]
        self._quietly(logs.create_log_group, logGroupName="/pg/group")
        self._quietly(logs.create_log_stream, logGroupName="/pg/group", logStreamName="pg-stream")

    def _cloudwatch(self) -> None:
        self._quietly(self.c["cloudwatch"].put_metric_alarm, AlarmName="pg-alarm", Namespace="Pg/Fuzz",
                      MetricName="PgMetric", Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
                      ComparisonOperator="GreaterThanThreshold")

    def _iam(self) -> None:
        iam = self.c["iam"]
        self._quietly(iam.create_role, RoleName="pg-role", AssumeRolePolicyDocument=TRUST)
        self._quietly(iam.create_user, UserName="pg-user")
        self._quietly(iam.create_group, GroupName="pg-group")
        self._quietly(iam.create_policy, PolicyName="pg-policy",
                      PolicyDocument=PERMISSIONS.replace("keep-bucket", "pg-bucket"))

    def _sts(self) -> None:
        self._iam()

    def _cloudformation(self) -> None:
        cfn = self.c["cloudformation"]
        self._quietly(cfn.create_stack, StackName="pg-stack", TemplateBody=PG_TEMPLATE)
        self._quietly(cfn.create_change_set, StackName="pg-stack", ChangeSetName="pg-change",
                      TemplateBody=PG_TEMPLATE.replace("pg-cfn", "pg-cfn-2"))
