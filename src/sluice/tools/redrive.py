"""`sluice dlq redrive <queue> --to <function>`: replay every message of a dead-letter queue
through the function's asynchronous path, and report what became of each.

It is an ordinary client of a running Sluice (boto3 plus Sluice's /_sluice/events view): a
message is deleted from the DLQ once the function's queue has durably accepted it (202), so a
crash midway loses nothing; an event that fails again lands in the DLQ again, as on AWS.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


def _client(service: str, endpoint: str, region: str) -> Any:
    # The caller's own credentials (with --enforce-iam they must be allowed to read the queue and
    # invoke the function), else the default account's root key test/test.
    found = boto3.Session().get_credentials()
    key, secret, token = (found.access_key, found.secret_key, found.token) if found else ("test", "test", None)
    return boto3.client(service, endpoint_url=endpoint, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"max_attempts": 2}))


def _event_state(endpoint: str, request_id: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{endpoint}/_sluice/events/{request_id}", timeout=5) as r:
            return json.load(r)  # type: ignore[no-any-return]
    except urllib.error.HTTPError:
        return None


def _queue_url(sqs: Any, queue: str) -> str:
    if queue.startswith("http"):
        return queue
    name = queue.rsplit(":", 1)[-1] if queue.startswith("arn:") else queue
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]  # type: ignore[no-any-return]


def run(queue: str, function: str, *, endpoint: str, region: str = "us-east-1", wait: float = 600.0,
        out: Any = sys.stdout) -> int:
    sqs = _client("sqs", endpoint, region)
    lam = _client("lambda", endpoint, region)
    try:
        url = _queue_url(sqs, queue)
        lam.get_function_configuration(FunctionName=function)
    except (ClientError, BotoCoreError) as exc:
        print(f"sluice dlq redrive: {exc}", file=sys.stderr)
        return 1
    sent: list[tuple[str, str]] = []  # (message id, request id)
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=300).get("Messages", [])
        if not messages:
            break
        for m in messages:
            resp = lam.invoke(FunctionName=function, InvocationType="Event", Payload=m["Body"].encode())
            resp["Payload"].read()
            sent.append((m["MessageId"], resp["ResponseMetadata"]["RequestId"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    if not sent:
        print(f"{url}: no messages to redrive", file=out)
        return 0
    print(f"redriving {len(sent)} message(s) from {url} to {function}", file=out)
    deadline = time.monotonic() + wait
    pending = dict(sent)
    failures = 0
    while pending and time.monotonic() < deadline:
        for message_id, request_id in list(pending.items()):
            state = _event_state(endpoint, request_id)
            if state and state.get("state") == "done":
                del pending[message_id]
                condition = state["condition"]
                error = (state.get("response") or {}).get("errorMessage") or ""
                if condition != "Success":
                    failures += 1
                detail = f" ({error})" if error and condition != "Success" else ""
                print(f"{message_id} -> {request_id}: {condition} after {state['attempts']} attempt(s){detail}",
                      file=out)
        if pending:
            time.sleep(0.2)
    for message_id, request_id in pending.items():
        print(f"{message_id} -> {request_id}: still running (see sluice logs {function})", file=out)
    return 1 if failures or pending else 0
