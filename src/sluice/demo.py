"""`sluice demo`: the S3EventProcessor exercise, end to end, in under 30 seconds.

It starts its own Sluice (`sluice up --time-scale 60 --enforce-iam` on a free port, state in a
temporary directory), then, with boto3 as any client would, builds the pipeline of
examples/s3-event-processor (bucket, execution role, function, DLQ, retry settings, S3 permission
and notification), uploads a text file and shows the function's log, then uploads a file that is
not UTF-8 and follows the event through its three attempts to the dead-letter queue.

Last, the exercise's own failure test: S3 read access is taken away from the function's role, an
upload is denied (AccessDenied in the log), retried and dead-lettered; the access is given back,
the DLQ is redriven through the function (`sluice dlq redrive`'s code) and the file is read; the
failed event's journey is shown as `sluice trace` shows it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from .console import PREFIX as CONSOLE_PREFIX
from .tools.child import ChildServer, ServerFailed

TIME_SCALE = 60
BUCKET = "bucket-evenement-lambda"
FUNCTION = "S3EventProcessor"
QUEUE = "LambdaDLQ"
REGION = "us-east-1"
ACCOUNT = "000000000000"
GROUP = f"/aws/lambda/{FUNCTION}"
TEXT_KEY = "bonjour.txt"
TEXT_BODY = "Bonjour depuis Sluice : premier fichier traité."
BINARY_KEY = "image.bin"
BINARY_BODY = b"\xff\xd8\xff\xe0 not utf-8 \x80\x81\n"
DENIED_KEY = "refused.txt"
DENIED_BODY = "Lu après le redrive : le rôle peut de nouveau lire le bucket."
ROLE = "S3EventProcessorRole"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRUST_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

# examples/s3-event-processor/handler.py, embedded so the demo runs from an installed package.
HANDLER_SOURCE = '''\
"""S3EventProcessor: reads the object that was just uploaded and logs its content."""

import json
import logging
from urllib.parse import unquote_plus

import boto3

# Configurer les logs
logger = logging.getLogger()
logger.setLevel(logging.INFO)

s3 = boto3.client("s3")


def lambda_handler(event, context):
    key = None
    try:
        # Récupérer les informations de l'événement S3
        record = event["Records"][0]["s3"]
        bucket = record["bucket"]["name"]
        key = unquote_plus(record["object"]["key"])  # keys arrive URL-encoded in S3 events

        logger.info(f"Traitement du fichier : {key} depuis le bucket : {bucket}")

        # Lire le contenu du fichier
        response = s3.get_object(Bucket=bucket, Key=key)
        file_content = response["Body"].read().decode("utf-8")

        # Logguer le contenu du fichier
        logger.info(f"Contenu du fichier {key} : {file_content}")

        return {"statusCode": 200, "body": json.dumps("Fichier traité avec succès")}

    except Exception as e:
        logger.error(f"Erreur lors du traitement du fichier {key} : {e}")
        raise
'''

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class DemoError(Exception):
    """The pipeline did not behave as expected."""


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("handler.py", source)
    return buf.getvalue()


def _wait(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")


class _Demo:
    def __init__(self, endpoint: str, out: TextIO) -> None:
        import boto3
        from botocore.config import Config

        self.endpoint = endpoint
        self.out = out
        self.t0 = time.monotonic()
        kwargs: dict[str, Any] = {"endpoint_url": endpoint, "region_name": REGION, "aws_access_key_id": "test",
                                  "aws_secret_access_key": "test", "config": Config(retries={"max_attempts": 2})}
        self.s3 = boto3.client("s3", **kwargs)
        self.iam = boto3.client("iam", **kwargs)
        self.lam = boto3.client("lambda", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.logs = boto3.client("logs", **kwargs)
        self.seen: set[str] = set()  # log event ids already printed

    # -- output ------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        print(f"[{time.monotonic() - self.t0:5.1f}s] {text}" if text else "", file=self.out, flush=True)

    def step(self, title: str) -> None:
        print(file=self.out)
        print(f"== {title}", file=self.out, flush=True)

    def detail(self, text: str) -> None:
        print(f"         {text}", file=self.out, flush=True)

    def log_line(self, message: str) -> None:
        for line in message.rstrip().splitlines():
            print(f"         | {line}".replace("\t", "  "), file=self.out, flush=True)

    # -- helpers -----------------------------------------------------------------------------

    def _log_events(self) -> list[dict[str, Any]]:
        try:
            events: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"logGroupName": GROUP}
            while True:
                resp = self.logs.filter_log_events(**kwargs)
                events.extend(resp.get("events", []))
                if not resp.get("nextToken"):
                    break
                kwargs["nextToken"] = resp["nextToken"]
            return sorted(events, key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))
        except self.logs.exceptions.ResourceNotFoundException:
            return []

    def _request_id_logging(self, text: str, what: str, timeout: float = 20.0) -> str:
        """The request id of the first invocation that logged a line containing `text`."""
        def probe() -> str | None:
            for e in self._log_events():
                if text in e["message"]:
                    m = _UUID.search(e["message"])
                    if m:
                        return m.group(0)
            return None
        return str(_wait(what, probe, timeout))

    def _request_id_for(self, key: str) -> str:
        return self._request_id_logging(f"Traitement du fichier : {key} ", f"the invocation for {key}")

    def _new_lines(self, request_id: str) -> list[str]:
        """Lines of the request's invocations not printed yet: its own, and the lines its stream
        logged between its START and REPORT (the runtime's error line carries no request id)."""
        lines = []
        current: dict[str, str | None] = {}  # stream -> request id running there
        for e in self._log_events():
            stream, message = e["logStreamName"], e["message"]
            if message.startswith("START RequestId: "):
                m = _UUID.search(message)
                current[stream] = m.group(0) if m else None
            mine = request_id in message or current.get(stream) == request_id
            if message.startswith("REPORT RequestId: "):
                current[stream] = None
            if e["eventId"] in self.seen or not mine:
                continue
            self.seen.add(e["eventId"])
            lines.append(e["message"])
        return lines

    def _show_invocation(self, request_id: str) -> list[str]:
        """Print one successful invocation's log lines, once its REPORT line is in."""
        lines: list[str] = []

        def report_seen() -> bool:
            lines.extend(self._new_lines(request_id))
            return any(line.startswith("REPORT") for line in lines)

        _wait(f"the REPORT line of request {request_id}", report_seen, 20)
        self.say(f"CloudWatch Logs {GROUP}, request {request_id}:")
        for line in lines:
            self.log_line(line)
        return lines

    def _event_state(self, request_id: str) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_sluice/events/{request_id}", timeout=5) as r:
                return json.load(r)  # type: ignore[no-any-return]
        except urllib.error.HTTPError:
            return None

    def _follow_retries(self, request_id: str) -> dict[str, Any]:
        """Print a failing event's attempts (log lines, waits) until its outcome; return the outcome."""
        attempts = 0  # START lines seen
        waiting_since: float | None = None
        announced = 0  # attempts whose retry was announced
        done_at: float | None = None
        deadline = time.monotonic() + 30
        state: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            for line in self._new_lines(request_id):
                if line.startswith("START"):
                    attempts += 1
                    if waiting_since is not None:
                        self.say(f"  ... waited {time.monotonic() - waiting_since:.1f} s")
                        waiting_since = None
                    self.say(f"attempt {attempts}:")
                first, _, rest = line.rstrip().partition("\n")
                if attempts > 1 and rest:  # a retry's traceback is the first attempt's again
                    self.log_line(first + "  (traceback as in attempt 1)")
                else:
                    self.log_line(line)
                if line.startswith("REPORT"):
                    waiting_since = time.monotonic()
            state = self._event_state(request_id)
            if state and state.get("state") == "queued" and state["attempts"] > announced \
                    and state.get("lastResult") and waiting_since is not None:
                announced = state["attempts"]
                delay = max(0.0, float(state["nextAttemptAt"]) - time.time())
                self.say(f"attempt {announced} failed; next attempt in {delay:.1f} s "
                         f"({delay * TIME_SCALE / 60:.0f} min on AWS)")
            if state and state.get("state") == "done":
                done_at = done_at or time.monotonic()
                # the last attempt's log lines may arrive just after the outcome
                if attempts >= state["attempts"] or time.monotonic() - done_at > 3:
                    break
            time.sleep(0.1)
        if not state or state.get("state") != "done":
            raise DemoError(f"the event {request_id} did not reach an outcome in 30 s "
                            f"({attempts} attempt(s) seen in the log)")
        response = state.get("response") or {}
        error = f"; error: {response.get('errorType')}: {response.get('errorMessage')}" \
            if state["condition"] != "Success" else ""
        tries = f"{state['attempts']} attempt{'s' if state['attempts'] != 1 else ''}"
        self.say(f"outcome: {state['condition']} after {tries}{error}")
        if state["condition"] != "RetriesExhausted" or state["attempts"] != 3:
            raise DemoError(f"expected RetriesExhausted after 3 attempts, got {state['condition']} after {tries}")
        return state

    def _dead_letter(self, queue_url: str, request_id: str, *, keep: bool) -> dict[str, str]:
        """Receive the failed event's DLQ message, print it; delete it unless `keep` (for a redrive).
        Returns its message attributes' string values."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while not messages and time.monotonic() < deadline:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url, MessageAttributeNames=["All"], AttributeNames=["All"], WaitTimeSeconds=5,
                **({"VisibilityTimeout": 0} if keep else {})).get("Messages", [])
        if not messages:
            raise DemoError(f"no message in {QUEUE} after 20 s for request {request_id}")
        message = messages[0]
        if not keep:
            self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.say(f"received message {message['MessageId']}" + (" (left in the queue for the redrive)" if keep else ""))
        attrs = message.get("MessageAttributes", {})
        for name in ("RequestID", "ErrorCode", "ErrorMessage"):
            value = attrs.get(name, {})
            self.detail(f"{name} ({value.get('DataType', '-')}): {value.get('StringValue', '(missing)')}")
        record = json.loads(message["Body"])["Records"][0]
        self.detail(f"Body: the original S3 event ({record['eventName']}, "
                    f"s3://{record['s3']['bucket']['name']}/{record['s3']['object']['key']})")
        if attrs.get("RequestID", {}).get("StringValue") != request_id:
            raise DemoError(f"the {QUEUE} message's RequestID is not the failed event's request id {request_id}")
        return {name: value.get("StringValue", "") for name, value in attrs.items()}

    # -- the exercise ------------------------------------------------------------------------

    def setup(self) -> str:
        self.step(f"1. Bucket {BUCKET}")
        self.s3.create_bucket(Bucket=BUCKET)
        self.say(f"created s3://{BUCKET}")

        self.step(f"2. Execution role {ROLE} and function {FUNCTION} (python3.12, handler.lambda_handler)")
        self.iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=TRUST_LAMBDA)
        self.say(f"created {ROLE_ARN} (trusts lambda.amazonaws.com)")
        for policy in (BASIC_EXECUTION, S3_READ):
            self.iam.attach_role_policy(RoleName=ROLE, PolicyArn=policy)
        self.say("attached AWSLambdaBasicExecutionRole (CloudWatch Logs) and AmazonS3ReadOnlyAccess (s3:Get*, s3:List*)")
        fn = self.lam.create_function(
            FunctionName=FUNCTION, Runtime="python3.12", Handler="handler.lambda_handler",
            Role=ROLE_ARN, Code={"ZipFile": _zip(HANDLER_SOURCE)})
        fn_arn = fn["FunctionArn"]
        _wait("the function to be Active", lambda: self.lam.get_function_configuration(
            FunctionName=FUNCTION)["State"] == "Active", 30)
        self.say(f"created {fn_arn} (Active); it runs with {ROLE}'s temporary credentials")

        self.step(f"3. Dead-letter queue {QUEUE}")
        url = self.sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # As on AWS, Lambda sends to the DLQ with the execution role: it needs sqs:SendMessage.
        self.iam.put_role_policy(RoleName=ROLE, PolicyName="dlq", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}]}))
        self.lam.update_function_configuration(FunctionName=FUNCTION, DeadLetterConfig={"TargetArn": queue_arn})
        self.say(f"created {queue_arn}; set as the function's DeadLetterConfig")
        self.say(f"inline policy 'dlq' on {ROLE}: sqs:SendMessage on the queue")

        self.step("4. Asynchronous invocation settings")
        self.lam.put_function_event_invoke_config(FunctionName=FUNCTION, MaximumRetryAttempts=2,
                                                  MaximumEventAgeInSeconds=3600)
        self.say("MaximumRetryAttempts=2, MaximumEventAgeInSeconds=3600")

        self.step("5. S3 -> Lambda trigger on s3:ObjectCreated:Put")
        self.lam.add_permission(FunctionName=FUNCTION, StatementId="s3-invoke", Action="lambda:InvokeFunction",
                                Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{BUCKET}",
                                SourceAccount=ACCOUNT)
        self.say("AddPermission: s3.amazonaws.com may invoke the function for this bucket")
        self.s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"Id": "s3-event-processor", "LambdaFunctionArn": fn_arn,
                                              "Events": ["s3:ObjectCreated:Put"]}]})
        self.say("PutBucketNotificationConfiguration: ObjectCreated:Put -> S3EventProcessor")
        return url

    def success(self) -> None:
        self.step("6. Upload a text file: the function reads it and logs its content")
        self.s3.put_object(Bucket=BUCKET, Key=TEXT_KEY, Body=TEXT_BODY.encode(), ContentType="text/plain")
        self.say(f"uploaded s3://{BUCKET}/{TEXT_KEY}: {TEXT_BODY!r}")
        request_id = self._request_id_for(TEXT_KEY)
        lines = self._show_invocation(request_id)
        if not any(f"Contenu du fichier {TEXT_KEY} : {TEXT_BODY}" in line for line in lines):
            raise DemoError("the file's content is not in the function's log")
        state = _wait("the event's outcome", lambda: (s := self._event_state(request_id)) and
                      s.get("state") == "done" and s, 20)
        self.say(f"outcome: {state['condition']} after {state['attempts']} attempt(s)")
        if state["condition"] != "Success":
            raise DemoError(f"expected Success, got {state['condition']}")

    def failure(self, queue_url: str) -> None:
        self.step("7. Upload a file that is not UTF-8: decode() raises, Lambda retries, then the DLQ")
        self.s3.put_object(Bucket=BUCKET, Key=BINARY_KEY, Body=BINARY_BODY)
        self.say(f"uploaded s3://{BUCKET}/{BINARY_KEY} ({len(BINARY_BODY)} bytes, starts with 0xff)")
        self.detail(f"retries wait 1 then 2 minutes on AWS; --time-scale {TIME_SCALE} makes that 1 and 2 seconds")
        request_id = self._request_id_for(BINARY_KEY)
        self.say(f"request id {request_id}")
        self._follow_retries(request_id)

        self.step(f"8. The event in {QUEUE}")
        attrs = self._dead_letter(queue_url, request_id, keep=False)
        if "utf-8" not in attrs.get("ErrorMessage", ""):
            raise DemoError(f"the {QUEUE} message's ErrorMessage is not the handler's error")

    def denied(self, queue_url: str) -> str:
        """The exercise's failure test: the role loses S3 read access. Returns the failed request id."""
        self.step(f"9. Take S3 read access away from {ROLE}: GetObject is denied, Lambda retries, then the DLQ")
        self.iam.detach_role_policy(RoleName=ROLE, PolicyArn=S3_READ)
        left = [p["PolicyName"] for p in self.iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]
        self.say(f"detached AmazonS3ReadOnlyAccess; {ROLE} keeps {', '.join(left)} and inline 'dlq'")
        self.s3.put_object(Bucket=BUCKET, Key=DENIED_KEY, Body=DENIED_BODY.encode(), ContentType="text/plain")
        self.say(f"uploaded s3://{BUCKET}/{DENIED_KEY}: {DENIED_BODY!r}")
        request_id = self._request_id_for(DENIED_KEY)
        self.say(f"request id {request_id}")
        state = self._follow_retries(request_id)
        if "AccessDenied" not in str((state.get("response") or {}).get("errorMessage")):
            raise DemoError("the function's error is not S3's AccessDenied")

        self.step(f"10. The denied event in {QUEUE}")
        attrs = self._dead_letter(queue_url, request_id, keep=True)
        if "AccessDenied" not in attrs.get("ErrorMessage", ""):
            raise DemoError(f"the {QUEUE} message's ErrorMessage is not S3's AccessDenied")
        return request_id

    def redrive(self) -> None:
        from .tools.redrive import run as redrive_dlq

        self.step(f"11. Give the access back, then redrive {QUEUE} through {FUNCTION}")
        self.iam.attach_role_policy(RoleName=ROLE, PolicyArn=S3_READ)
        self.say(f"attached AmazonS3ReadOnlyAccess to {ROLE} again")
        self.say(f"sluice dlq redrive {QUEUE} --to {FUNCTION}:")
        report = io.StringIO()
        with contextlib.redirect_stderr(report):  # its errors too, in the demo's output
            code = redrive_dlq(QUEUE, FUNCTION, endpoint=self.endpoint, region=REGION, wait=20, out=report)
        for line in report.getvalue().splitlines():
            self.detail(line)
        if code != 0:
            raise DemoError("the redrive did not end in Success")
        request_id = self._request_id_logging(f"Contenu du fichier {DENIED_KEY} : ",
                                              f"the redriven event's log line with the content of {DENIED_KEY}")
        lines = self._show_invocation(request_id)
        if not any(f"Contenu du fichier {DENIED_KEY} : {DENIED_BODY}" in line for line in lines):
            raise DemoError(f"the content of {DENIED_KEY} is not in the redriven invocation's log")

    def journey(self, request_id: str) -> None:
        from .tools.trace import fetch, render

        self.step(f"12. The denied event's journey: sluice trace {request_id}")
        code, body = fetch(self.endpoint, "/_sluice/trace", {"target": request_id})
        if code != 200:
            raise DemoError(f"sluice trace {request_id}: {body.get('error') if isinstance(body, dict) else body}")
        for journey in body["journeys"]:
            # Briefly: the attempts' log lines and full errors are printed above already.
            for invocation in [n.get("invocation") for n in journey.get("notifications") or []] + \
                    [journey.get("invocation")]:
                for attempt in (invocation or {}).get("attempts") or []:
                    attempt["logs"] = []
                    message = attempt.get("errorMessage") or ""
                    attempt["errorMessage"] = message if len(message) <= 70 else message[:69] + "…"
            for line in render(journey, body.get("timeScale", 1.0)).splitlines():
                self.detail(line)


def run(out: TextIO | None = None, keep: bool = False) -> int:
    out = out or sys.stdout
    started = time.monotonic()
    print(f"Sluice demo: the S3EventProcessor exercise (S3 -> Lambda -> retries -> DLQ), "
          f"time scale {TIME_SCALE}, IAM enforced", file=out, flush=True)
    # The redrive (as `sluice dlq redrive`) uses the caller's default credentials: in this process,
    # the demo server's root key, not whatever key or profile the user has set. The server and its
    # functions inherit this environment too (a profile that does not exist here would break botocore).
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    server = ChildServer("--time-scale", str(TIME_SCALE), "--enforce-iam", prefix="sluice-demo-")
    try:
        server.start()
        print(f"started sluice up --enforce-iam on {server.endpoint} (temporary data dir)", file=out, flush=True)
        print(f"console: {server.endpoint}{CONSOLE_PREFIX}/ (sign in with access key test, secret test)",
              file=out, flush=True)
        demo = _Demo(server.endpoint, out)
        queue_url = demo.setup()
        demo.success()
        demo.failure(queue_url)
        denied = demo.denied(queue_url)
        demo.redrive()
        demo.journey(denied)
        print(f"\nOK: the pipeline behaved as on AWS ({time.monotonic() - started:.1f} s)", file=out, flush=True)
        if keep:
            _keep_up(server.endpoint, out)
    except (DemoError, ServerFailed) as exc:
        print(f"\nFAILED: {exc}", file=out, flush=True)
        return 1
    except (BotoCoreError, ClientError, OSError) as exc:  # a client or server error: report it, still stop the server
        print(f"\nFAILED: {type(exc).__name__}: {exc}", file=out, flush=True)
        return 1
    finally:
        server.stop()
    return 0


def _keep_up(endpoint: str, out: TextIO) -> None:
    """`sluice demo --keep`: leave the server up (until Ctrl-C) for a look in the console."""
    print(f"\nThe server stays up: {endpoint}{CONSOLE_PREFIX}/ (sign in with access key test, "
          "secret test). Ctrl-C stops it.", file=out, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping", file=out, flush=True)
