"""The mixed load of the crash test, and what it checks after each restart.

One `Pipeline` lives in one data dir: a bucket whose `fn/` uploads notify a Lambda function and
whose `q/` uploads notify a queue, a work queue, and the function itself (it records every event
it sees in a file, fails the async events that ask it to, and has one retry and a DLQ). Load
threads write ledgers of what the server acknowledged; the `check_*` functions read everything
back after a restart and return the problems they find.

S3 objects go through test_durability's uploader and verifier (up to 256 KiB: about half above
the 128 KiB kept inline in SQLite, so blob files are crashed too).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .lambda_helpers import ROLE, zip_code
from .test_durability import REGION, Ledger
from .test_s3_notifications import s3_may_send

# Records each event it is given (one write per line, O_APPEND: concurrent environments do not
# interleave), then fails the async events that carry "fail".
HANDLER = """
import json, os

def handler(event, context):
    line = {"rid": context.aws_request_id}
    if "Records" in event:
        line["keys"] = [[r["s3"]["object"]["key"], r["s3"]["object"].get("eTag")] for r in event["Records"]]
    else:
        line["id"] = event.get("id")
    fd = os.open(os.environ["SEEN"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\\n").encode())
    finally:
        os.close(fd)
    if event.get("fail"):
        raise RuntimeError("asked to fail: " + str(event.get("id")))
    return {"ok": True}
"""

SQS_MAX_BODY = 200 * 1024
INVOKE_MAX_PAD = 64 * 1024
FAIL_SHARE = 0.2
WAIT = 120.0  # hang detection for everything the server still has to do after a restart


def aws(service: str, endpoint: str) -> Any:
    """A client that never retries (an unacknowledged request stays unacknowledged)."""
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                      read_timeout=10, max_pool_connections=4))


@dataclass
class Sent:
    """Acknowledged sends: id -> what must come back."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, str] = field(default_factory=dict)
    attempted: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class Pipeline:
    root: Path
    bucket: str = field(default_factory=lambda: f"crash-{uuid.uuid4().hex[:12]}")
    function: str = field(default_factory=lambda: f"crash-{uuid.uuid4().hex[:10]}")
    queue_url: str = ""
    notify_url: str = ""
    dlq_url: str = ""
    objects: Ledger = field(default_factory=Ledger)
    messages: Sent = field(default_factory=Sent)  # message id (ours, in the body) -> body md5
    invokes: Sent = field(default_factory=Sent)  # Lambda request id -> "ok" | "fail"
    # Confirmed so far, so that each check only waits on what is new.
    seen_messages: set[str] = field(default_factory=set)
    seen_keys: set[str] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)
    dead_letters: Counter[str] = field(default_factory=Counter)
    deleted: set[str] = field(default_factory=set)  # SQS MessageIds whose delete was acknowledged
    duplicates: Counter[str] = field(default_factory=Counter)  # at-least-once re-deliveries seen

    @property
    def seen_file(self) -> Path:
        return self.root / "seen.jsonl"

    def create(self, endpoint: str) -> None:
        s3, sqs, lam = aws("s3", endpoint), aws("sqs", endpoint), aws("lambda", endpoint)
        urls = [sqs.create_queue(QueueName=f"{self.function}-{n}")["QueueUrl"] for n in ("work", "notify", "dlq")]
        self.queue_url, self.notify_url, self.dlq_url = urls
        arn = {u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
               for u in urls}
        sqs.set_queue_attributes(QueueUrl=self.notify_url, Attributes={"Policy": s3_may_send(arn[self.notify_url])})
        fn_arn = lam.create_function(
            FunctionName=self.function, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
            Code={"ZipFile": zip_code(HANDLER)}, Timeout=30,
            Environment={"Variables": {"SEEN": str(self.seen_file)}},
            DeadLetterConfig={"TargetArn": arn[self.dlq_url]})["FunctionArn"]
        lam.put_function_event_invoke_config(FunctionName=self.function, MaximumRetryAttempts=1)
        s3.create_bucket(Bucket=self.bucket)
        lam.add_permission(FunctionName=self.function, StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{self.bucket}")

        def prefix(value: str) -> dict[str, Any]:
            return {"Key": {"FilterRules": [{"Name": "Prefix", "Value": value}]}}

        s3.put_bucket_notification_configuration(Bucket=self.bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn_arn, "Events": ["s3:ObjectCreated:*"],
                                              "Filter": prefix("fn/")}],
            "QueueConfigurations": [{"QueueArn": arn[self.notify_url], "Events": ["s3:ObjectCreated:*"],
                                     "Filter": prefix("q/")}]})
        self.drain(sqs, self.notify_url, [])  # the s3:TestEvent sent to validate the queue

    def drain(self, sqs: Any, url: str, problems: list[str]) -> list[dict[str, Any]]:
        """Receive and delete every visible message; a message whose delete was acknowledged
        before (in an earlier cycle) coming back is a lost write too."""
        got: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300,
                                        MessageAttributeNames=["All"]).get("Messages", [])
            if not batch:
                return got
            for m in batch:
                if m["MessageId"] in self.deleted:
                    problems.append(f"message {m['MessageId']} came back after its delete was acknowledged")
            got += batch
            done = sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
            failed = {f["Id"] for f in done.get("Failed", [])}
            if failed:
                problems.append(f"DeleteMessageBatch failed: {done['Failed']}")
            self.deleted.update(m["MessageId"] for i, m in enumerate(batch) if str(i) not in failed)


# ---------------------------------------------------------------------------- load

def sender(sqs: Any, p: Pipeline, stop: threading.Event, killed: threading.Event) -> None:
    rng = random.Random()
    while not stop.is_set():
        mid = uuid.uuid4().hex
        body = json.dumps({"id": mid, "pad": rng.choice("abcdefghij") * rng.randint(0, SQS_MAX_BODY)})
        md5 = hashlib.md5(body.encode()).hexdigest()
        with p.messages.lock:
            p.messages.attempted[mid] = md5
        try:
            resp = sqs.send_message(QueueUrl=p.queue_url, MessageBody=body)
        except (BotoCoreError, ClientError, OSError) as e:
            if killed.is_set():
                return
            with p.messages.lock:
                p.messages.errors.append(f"SendMessage failed before the kill: {e!r}")
            continue
        got = resp.get("MD5OfMessageBody")
        with p.messages.lock:
            p.messages.acked[mid] = md5  # a 200 goes out only once the message is committed
            # The kill may cut a response between its status line and its body (botocore then
            # parses an empty body): still a 200, so still a message that must be there.
            if got != md5 and not (got is None and killed.is_set()):
                p.messages.errors.append(f"SendMessage {mid}: MD5OfMessageBody {got}")


def invoker(lam: Any, p: Pipeline, stop: threading.Event, killed: threading.Event) -> None:
    rng = random.Random()
    while not stop.is_set():
        fail = rng.random() < FAIL_SHARE
        payload: dict[str, object] = {"id": uuid.uuid4().hex, "pad": "p" * rng.randint(0, INVOKE_MAX_PAD)}
        if fail:
            payload["fail"] = True
        try:
            resp = lam.invoke(FunctionName=p.function, InvocationType="Event", Payload=json.dumps(payload))
        except (BotoCoreError, ClientError, OSError) as e:
            if killed.is_set():
                return
            with p.invokes.lock:
                p.invokes.errors.append(f"Invoke failed before the kill: {e!r}")
            continue
        if resp["StatusCode"] == 202:
            with p.invokes.lock:
                p.invokes.acked[resp["ResponseMetadata"]["RequestId"]] = "fail" if fail else "ok"



# ---------------------------------------------------------------------------- checks

def _until_back(sqs: Any, url: str, p: Pipeline, wanted: set[str],
                ids: Callable[[dict[str, Any], list[str]], list[str]]) -> list[str]:
    """Drain `url` until every id in `wanted` has come back, or WAIT passes."""
    problems: list[str] = []
    deadline = time.monotonic() + WAIT
    missing = set(wanted)
    while True:
        for m in p.drain(sqs, url, problems):
            missing.difference_update(ids(m, problems))
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if missing:
        problems.append(f"{len(missing)} acknowledged item(s) never came back from {url}: {sorted(missing)[:5]}")
    return problems


def check_messages(endpoint: str, p: Pipeline) -> list[str]:
    """Every acknowledged SendMessage is in the work queue, byte for byte."""

    def ids(m: dict[str, Any], problems: list[str]) -> list[str]:
        mid = json.loads(m["Body"])["id"]
        if p.messages.attempted.get(mid) != hashlib.md5(m["Body"].encode()).hexdigest():
            problems.append(f"message {mid}: a body nobody sent ({len(m['Body'])} chars)")
        if mid in p.seen_messages:
            p.duplicates["SQS message"] += 1
        p.seen_messages.add(mid)
        return [mid]

    return _until_back(aws("sqs", endpoint), p.queue_url, p, set(p.messages.acked) - p.seen_messages, ids)


def check_queue_notifications(endpoint: str, p: Pipeline) -> list[str]:
    """Every acknowledged `q/` upload was announced on the notification queue, with its ETag."""

    def ids(m: dict[str, Any], problems: list[str]) -> list[str]:
        keys = []
        for record in json.loads(m["Body"]).get("Records", []):
            key, etag = unquote_plus(record["s3"]["object"]["key"]), record["s3"]["object"].get("eTag")
            if etag != p.objects.attempted.get(key):
                problems.append(f"notification for {key!r} with ETag {etag}: no such upload")
            if key in p.seen_keys:
                p.duplicates["queue notification"] += 1
            p.seen_keys.add(key)
            keys.append(key)
        return keys

    wanted = {k for k in p.objects.acked if k.startswith("q/")} - p.seen_keys
    return _until_back(aws("sqs", endpoint), p.notify_url, p, wanted, ids)


def event_state(endpoint: str, request_id: str) -> dict[str, Any] | None:
    """Sluice's view of an async event: queued (with attempts) or done (with its outcome)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_sluice/events/{request_id}", timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def read_seen(p: Pipeline) -> dict[str, list[dict[str, Any]]]:
    """Request id -> the lines the handler wrote for it (a line cut by a SIGKILL is skipped)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if p.seen_file.exists():
        for line in p.seen_file.read_text().split("\n"):
            try:
                item = json.loads(line)
            except ValueError:
                continue
            out.setdefault(item["rid"], []).append(item)
    return out


def _outcome_problem(rid: str, kind: str, state: dict[str, Any]) -> str | None:
    expected = ("Success", 1) if kind == "ok" else ("RetriesExhausted", 2)
    if (state["condition"], state["attempts"]) != expected:
        return f"{rid} ({kind}): {state['condition']} after {state['attempts']} attempt(s), expected {expected}"
    return None


def _by_key(p: Pipeline, seen: dict[str, list[dict[str, Any]]], problems: list[str]) -> dict[str, set[str]]:
    """Uploaded key -> the request ids of the notification events the handler got for it."""
    by_key: dict[str, set[str]] = {}
    for rid, lines in seen.items():
        for line in lines:
            for key, etag in line.get("keys", []):
                key = unquote_plus(key)
                if etag != p.objects.attempted.get(key):
                    problems.append(f"{rid}: notification for {key!r} with ETag {etag}: no such upload")
                by_key.setdefault(key, set()).add(rid)
    return by_key


def check_lambda(endpoint: str, p: Pipeline) -> list[str]:
    """Every acknowledged async invoke, and every acknowledged `fn/` upload, ends in its one
    recorded outcome: Success after one attempt (the handler saw it), or RetriesExhausted after
    two, with the event in the DLQ. Attempts cut short by a kill do not count: they are run again."""
    sqs = aws("sqs", endpoint)
    problems: list[str] = []
    fn_keys = {k for k in p.objects.acked if k.startswith("fn/")} - p.seen_keys
    deadline = time.monotonic() + WAIT
    while True:
        seen = read_seen(p)
        by_key = _by_key(p, seen, problems)
        for m in p.drain(sqs, p.dlq_url, problems):
            p.dead_letters[m["MessageAttributes"]["RequestID"]["StringValue"]] += 1
        wanted = {rid: kind for rid, kind in p.invokes.acked.items() if rid not in p.settled}
        # A notification's event may be seen by the handler before it commits; cut there, the
        # outbox row stays and a new event (a new request id) carries the key again.
        notes = {rid for key in fn_keys for rid in by_key.get(key, ()) if rid not in p.settled}
        wanted.update(dict.fromkeys(notes, "ok"))
        pending, no_dlq, unknown = [], [], set()
        for rid, kind in wanted.items():
            state = event_state(endpoint, rid)
            if state is None and rid in notes:
                unknown.add(rid)
            elif state is None:  # committed before its 202, so known to the server from then on
                problems.append(f"{rid} ({kind}): acknowledged, unknown to the server after the restart")
                p.settled.add(rid)
            elif state["state"] != "done" or not state["delivered"]:
                pending.append(rid)
            elif problem := _outcome_problem(rid, kind, state):
                problems.append(problem)
                p.settled.add(rid)
            elif kind == "ok" and rid not in seen and rid not in (seen := read_seen(p)):
                # (read again: it may have finished since the file was read)
                problems.append(f"{rid}: Success recorded, but the handler never saw the event")
                p.settled.add(rid)
            elif kind == "fail" and not p.dead_letters[rid]:
                no_dlq.append(rid)  # delivered: its message is there for the next drain
            else:
                p.settled.add(rid)
        unseen = {k for k in fn_keys if not (by_key.get(k, set()) & p.settled)}
        if not pending and not no_dlq and not unseen:
            break
        if time.monotonic() > deadline:
            for what, items in (("acknowledged event(s) without their outcome", pending),
                                ("event(s) delivered to the DLQ but not in it", no_dlq),
                                ("fn/ upload(s) without a successful event", sorted(unseen))):
                if items:
                    problems.append(f"after {WAIT:.0f} s, {len(items)} {what}: {items[:5]}")
            break
        time.sleep(0.2)
    p.duplicates["Lambda notification"] += sum(len(by_key.get(k, set()) - unknown) > 1 for k in fn_keys)
    p.duplicates["DLQ message"] = sum(n - 1 for n in p.dead_letters.values())
    p.seen_keys |= fn_keys
    return problems


def recheck_outcomes(endpoint: str, p: Pipeline) -> list[str]:
    """Outcomes confirmed in earlier cycles are still recorded after later kills."""
    problems = []
    for rid, kind in p.invokes.acked.items():
        if rid in p.settled:
            state = event_state(endpoint, rid)
            if state is None or state["state"] != "done":
                problems.append(f"{rid}: its outcome was recorded, now {state}")
            elif problem := _outcome_problem(rid, kind, state):
                problems.append(problem)
    return problems


def load_errors(p: Pipeline) -> list[str]:
    """Requests the server failed while it was alive (after the kill, failures are expected)."""
    return p.objects.errors + p.messages.errors + p.invokes.errors


def totals(p: Pipeline) -> tuple[int, int, int]:
    return len(p.objects.acked), len(p.messages.acked), len(p.invokes.acked)
