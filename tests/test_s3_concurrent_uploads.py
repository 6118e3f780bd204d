"""Uploads sent at once, through real boto3 clients: each is answered as if it were alone, an
error reaches only its own request while the store commits concurrent writes together, and
everything acknowledged is there, notifications included. Bodies on both sides of the 128 KiB
limit (kept in the object's row, or in a file)."""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sluice.services.s3.ingest import INLINE_LIMIT

from .conftest import make_client
from .test_s3_notifications import new_queue, queue_config, receive

CLIENTS = 12


def _together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls from CLIENTS threads released at once; each one's result, or its ClientError."""
    gate = threading.Barrier(min(CLIENTS, len(calls)))

    def run(call: Callable[[], Any], first: bool) -> Any:
        if first:
            gate.wait()
        try:
            return call()
        except ClientError as exc:
            return exc

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(run, calls, [i < CLIENTS for i in range(len(calls))]))


def test_uploads_sent_at_once_are_each_acknowledged_and_kept(endpoint: str, bucket: str) -> None:
    s3 = make_client("s3", endpoint, max_pool_connections=CLIENTS)
    rng = random.Random(7)
    # Sizes around the row's limit too: the bodies past it go to files, off the loop, in the same run.
    sizes = [0, 1, INLINE_LIMIT - 1, INLINE_LIMIT, INLINE_LIMIT + 1] + [rng.randint(0, 4096) for _ in range(115)]
    bodies = {f"k/{i:03d}": rng.randbytes(size) for i, size in enumerate(sizes)}
    shared = [f"version {i:02d}".encode() for i in range(CLIENTS)]  # one key, written by every client
    calls: list[Callable[[], Any]] = [partial(s3.put_object, Bucket=bucket, Key=key, Body=body)
                                      for key, body in bodies.items()]
    calls[1:1] = [partial(s3.put_object, Bucket=bucket, Key="shared", Body=body) for body in shared]

    answers = _together(calls)

    failed = [a for a in answers if isinstance(a, ClientError)]
    assert not failed
    etags = sorted(a["ETag"].strip('"') for a in answers)
    assert etags == sorted(hashlib.md5(b).hexdigest() for b in [*bodies.values(), *shared])
    listed: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        listed.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    assert listed == {**{k: len(b) for k, b in bodies.items()}, "shared": len(shared[0])}
    for key, body in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    assert s3.get_object(Bucket=bucket, Key="shared")["Body"].read() in shared


def test_an_upload_that_fails_in_a_shared_commit_fails_alone(endpoint: str, bucket: str) -> None:
    s3 = make_client("s3", endpoint, max_pool_connections=CLIENTS)
    s3.put_object(Bucket=bucket, Key="taken", Body=b"first")
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    good = {f"good/{i}": f"body {i}".encode() for i in range(CLIENTS)}
    failing: list[tuple[Callable[[], Any], int, str]] = [
        (lambda: s3.put_object(Bucket=missing, Key="k", Body=b"x"), 404, "NoSuchBucket"),
        (lambda: s3.put_object(Bucket=bucket, Key="taken", Body=b"second", IfNoneMatch="*"), 412, "PreconditionFailed"),
        (lambda: s3.put_object(Bucket=bucket, Key="bad-md5", Body=b"x", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg=="),
         400, "BadDigest"),
        (lambda: s3.put_object(Bucket=bucket, Key="owner", Body=b"x", ExpectedBucketOwner="111111111111"),
         403, "AccessDenied"),
        (lambda: s3.put_object(Bucket=bucket, Key="sse", Body=b"x", ServerSideEncryption="XYZ"),
         400, "InvalidArgument"),
    ]
    calls = [call for call, _, _ in failing]
    calls += [partial(s3.put_object, Bucket=bucket, Key=key, Body=body) for key, body in good.items()]

    answers = _together(calls)

    for (_, status, code), answer in zip(failing, answers, strict=False):
        assert isinstance(answer, ClientError), code
        assert (answer.response["ResponseMetadata"]["HTTPStatusCode"], answer.response["Error"]["Code"]) == \
            (status, code)
    for (key, body), answer in zip(good.items(), answers[len(failing):], strict=True):
        assert not isinstance(answer, ClientError), key
        assert answer["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        assert answer["ServerSideEncryption"] == "AES256"
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert s3.get_object(Bucket=bucket, Key="taken")["Body"].read() == b"first"
    for never in ("bad-md5", "owner", "sse"):
        with pytest.raises(ClientError, match="Not Found"):  # a HEAD's 404 has no body
            s3.head_object(Bucket=bucket, Key=never)


def test_uploads_sent_at_once_each_notify(endpoint: str, bucket: str) -> None:
    s3 = make_client("s3", endpoint, max_pool_connections=CLIENTS)
    sqs = make_client("sqs", endpoint)
    url, arn = new_queue(sqs)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])]})
    receive(sqs, url)  # the s3:TestEvent
    keys = [f"n/{i:02d}" for i in range(3 * CLIENTS)]

    answers = _together([partial(s3.put_object, Bucket=bucket, Key=key, Body=key.encode()) for key in keys])

    assert not [a for a in answers if isinstance(a, ClientError)]
    records = [r for body in receive(sqs, url, count=len(keys), timeout=30) for r in body["Records"]]
    assert sorted(r["s3"]["object"]["key"].replace("%2F", "/") for r in records) == keys
    assert {r["eventName"] for r in records} == {"ObjectCreated:Put"}
    assert {r["s3"]["bucket"]["name"] for r in records} == {bucket}
