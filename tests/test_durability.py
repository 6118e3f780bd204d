"""Invariant 1: nothing acknowledged is lost, whatever moment a SIGKILL hits.

Each test runs its own server on its own data dir, kills it with SIGKILL (no flush, no cleanup),
starts a new server on the same data dir and reads everything back.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .server import SluiceProcess

REGION = "us-east-1"
THREADS = 6
MAX_SIZE = 256 * 1024
MiB = 1024 * 1024


def client(endpoint: str, pool: int = 4) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},  # no retries at all
            connect_timeout=5,
            read_timeout=5,
            max_pool_connections=pool,
        ),
    )


def body_for(seed: int, size: int) -> bytes:
    """Random bytes that can be regenerated for the byte-for-byte comparison after restart."""
    return random.Random(seed).randbytes(size)


def log_tail(proc: SluiceProcess, n: int = 4000) -> str:
    try:
        return proc.log_path.read_text(errors="replace")[-n:]
    except OSError:
        return "<no log>"


@dataclass
class Ledger:
    """What the uploaders sent, and what the server acknowledged with a 200."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    # key -> (seed, size, md5) for every PUT a 200 came back for
    acked: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    # key -> md5 for every PUT sent, acknowledged or not
    attempted: dict[str, str] = field(default_factory=dict)
    # problems seen while the server was alive (before the kill)
    errors: list[str] = field(default_factory=list)


def uploader(
    s3: Any,
    bucket: str,
    prefix: str,
    ledger: Ledger,
    stop: threading.Event,
    killed: threading.Event,
) -> None:
    rng = random.Random()
    n = 0
    while not stop.is_set():
        n += 1
        if n % 7 == 3:
            key = f"{prefix}/ünïcødé key {n} +%&=.bin"
        elif n % 11 == 5:
            key = f"{prefix}/with space/ファイル {n}.dat"
        else:
            key = f"{prefix}/{n:06d}"
        size = rng.randint(0, MAX_SIZE)
        seed = rng.getrandbits(64)
        body = body_for(seed, size)
        md5 = hashlib.md5(body).hexdigest()
        with ledger.lock:
            ledger.attempted[key] = md5
        try:
            resp = s3.put_object(Bucket=bucket, Key=key, Body=body)
        except (BotoCoreError, ClientError, OSError) as e:
            # After the kill: unacknowledged, ignored. Before it: the server failed a request.
            if not killed.is_set():
                with ledger.lock:
                    ledger.errors.append(f"PUT {key!r} failed before the kill: {e!r}")
            if killed.is_set():
                return
            continue
        if resp["ResponseMetadata"]["HTTPStatusCode"] != 200:
            continue
        with ledger.lock:
            ledger.acked[key] = (seed, size, md5)
            if resp.get("ETag") != f'"{md5}"':
                ledger.errors.append(f"PUT {key!r} answered ETag {resp.get('ETag')} != {md5}")


def verify(endpoint: str, bucket: str, ledger: Ledger) -> None:
    """Every acknowledged object is back, byte-identical; nothing half-written is visible."""
    s3 = client(endpoint, pool=8)

    def check(item: tuple[str, tuple[int, int, str]]) -> str | None:
        key, (seed, size, md5) = item
        try:
            resp = s3.get_object(Bucket=bucket, Key=key)
            data = resp["Body"].read()
        except (BotoCoreError, ClientError) as e:
            return f"{key!r}: acknowledged but lost: {e!r}"
        if resp["ETag"] != f'"{md5}"':
            return f"{key!r}: ETag {resp['ETag']} != \"{md5}\""
        if data != body_for(seed, size):
            return f"{key!r}: body differs ({len(data)} bytes read, {size} written)"
        return None

    with ThreadPoolExecutor(8) as pool:
        problems = [p for p in pool.map(check, list(ledger.acked.items())) if p]
    assert not problems, f"{len(problems)} of {len(ledger.acked)} acknowledged objects:\n" + "\n".join(
        problems[:20]
    )

    # Whatever else survived must be a complete object that some client actually sent:
    # an interrupted PUT is either absent or whole, never truncated.
    listed: dict[str, tuple[str, int]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            listed[obj["Key"]] = (obj["ETag"], obj["Size"])
    missing = set(ledger.acked) - set(listed)
    assert not missing, f"acknowledged keys missing from the listing: {sorted(missing)[:10]}"
    for key, (etag, _size) in listed.items():
        assert key in ledger.attempted, f"listing shows a key nobody wrote: {key!r}"
        if key in ledger.acked:
            continue
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(data).hexdigest() == ledger.attempted[key], f"partial object {key!r}"
        assert etag == f'"{ledger.attempted[key]}"', f"unacknowledged {key!r} has ETag {etag}"


def test_sigkill_during_uploads_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    bucket = f"crash-{uuid.uuid4().hex[:12]}"
    ledger = Ledger()
    rng = random.Random()

    proc = SluiceProcess(data_dir)
    try:
        proc.start()
        client(proc.endpoint).create_bucket(Bucket=bucket)
        for cycle in range(3):
            clients = [client(proc.endpoint) for _ in range(THREADS)]
            stop, killed = threading.Event(), threading.Event()
            before = len(ledger.acked)
            threads = [
                threading.Thread(
                    target=uploader,
                    args=(clients[i], bucket, f"c{cycle}/t{i}", ledger, stop, killed),
                    daemon=True,
                )
                for i in range(THREADS)
            ]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.5, 2.5))
            killed.set()
            proc.kill()
            stop.set()
            for t in threads:
                t.join(timeout=30)
                assert not t.is_alive(), "an uploader thread hung after the kill"

            assert not ledger.errors, "\n".join(ledger.errors[:20]) + "\n" + log_tail(proc)
            assert len(ledger.acked) > before, f"cycle {cycle}: no upload was acknowledged"

            proc = SluiceProcess(data_dir)
            proc.start()
            verify(proc.endpoint, bucket, ledger)
    finally:
        proc.kill()


def test_multipart_upload_in_progress_survives_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    bucket = f"mpu-{uuid.uuid4().hex[:12]}"
    key = "big/multi part é.bin"
    part1 = os.urandom(5 * MiB)  # every part but the last must be >= 5 MiB
    part2 = os.urandom(123_457)

    proc = SluiceProcess(data_dir)
    try:
        proc.start()
        s3 = client(proc.endpoint)
        s3.create_bucket(Bucket=bucket)
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        etags = []
        for n, part in ((1, part1), (2, part2)):
            resp = s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=part
            )
            assert resp["ETag"] == f'"{hashlib.md5(part).hexdigest()}"'
            etags.append(resp["ETag"])

        proc.kill()
        proc = SluiceProcess(data_dir)
        proc.start()
        s3 = client(proc.endpoint)

        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert [(u["Key"], u["UploadId"]) for u in uploads] == [(key, upload_id)]
        parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
        assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
            (1, etags[0], len(part1)),
            (2, etags[1], len(part2)),
        ]

        done = s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]
            },
        )
        joined = hashlib.md5(hashlib.md5(part1).digest() + hashlib.md5(part2).digest())
        expected_etag = f'"{joined.hexdigest()}-2"'
        assert done["ETag"] == expected_etag

        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ETag"] == expected_etag
        assert got["ContentLength"] == len(part1) + len(part2)
        assert got["Body"].read() == part1 + part2
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    finally:
        proc.kill()


def test_sigterm_exits_cleanly_and_restart_serves_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    bucket = f"term-{uuid.uuid4().hex[:12]}"
    body = os.urandom(10_000)

    proc = SluiceProcess(data_dir)
    try:
        proc.start()
        s3 = client(proc.endpoint)
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="kept.bin", Body=body)

        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.proc.wait(timeout=10)  # liveness bound, not a timing assertion
        except subprocess.TimeoutExpired:
            pytest.fail("sluice did not exit within 10 s of SIGTERM\n" + log_tail(proc))
        assert rc == 0, f"exit status {rc} after SIGTERM\n{log_tail(proc)}"

        # Same data dir, same port: the port was released and the data is all there.
        proc = SluiceProcess(data_dir, port=proc.port)
        proc.start()
        s3 = client(proc.endpoint)
        assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        got = s3.get_object(Bucket=bucket, Key="kept.bin")
        assert got["Body"].read() == body
        assert got["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    finally:
        proc.kill()
