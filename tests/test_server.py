"""The server itself: health endpoint, version, bind address, request ids, concurrency, routing."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import sluice as sluice_pkg

from .conftest import make_client
from .server import SluiceProcess


def raw_request(
    endpoint: str, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request with exactly these headers; answers errors as (status, headers, body)."""
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.netloc, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def assert_alive(endpoint: str) -> None:
    with urllib.request.urlopen(endpoint + "/_sluice/health", timeout=10) as r:
        assert r.status == 200
    s3 = make_client("s3", endpoint)
    assert "Buckets" in s3.list_buckets()


def test_health_endpoint(sluice: SluiceProcess, endpoint: str) -> None:
    with urllib.request.urlopen(endpoint + "/_sluice/health", timeout=10) as r:
        assert r.status == 200
        assert r.headers.get_content_type() == "application/json"
        health = json.load(r)
    assert {"version", "services", "data_dir"} <= set(health)
    assert health["version"] == sluice_pkg.__version__
    assert isinstance(health["services"], list)
    assert "s3" in health["services"]
    assert Path(health["data_dir"]).resolve() == sluice.data_dir.resolve()


def test_version_flag() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sluice", "--version"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert sluice_pkg.__version__ in proc.stdout.split(), proc.stdout


def _listeners(port: int) -> list[str]:
    """Local addresses of the LISTEN sockets on this port, from /proc/net/tcp{,6} (Linux)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, hexport = fields[1].rsplit(":", 1)
            if int(hexport, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.append(addr)
    return found


def _non_loopback_ipv4() -> str | None:
    """This machine's outbound IPv4 address, if it has one (UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1, never routed anywhere
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def test_binds_loopback_by_default(sluice: SluiceProcess) -> None:
    # The session server was started without --host.
    with socket.create_connection(("127.0.0.1", sluice.port), timeout=5):
        pass

    listeners = _listeners(sluice.port)
    if listeners:
        # 0100007F is 127.0.0.1 in /proc's little-endian hex; a wildcard would be all zeros.
        assert listeners == ["0100007F"], f"listening on {listeners}, expected 127.0.0.1 only"

    ip = _non_loopback_ipv4()
    if ip is not None:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((ip, sluice.port)) != 0, f"reachable on {ip}:{sluice.port}"


def test_every_response_carries_request_ids(endpoint: str, s3: Any, bucket: str) -> None:
    seen = []

    # An unsigned request to an S3 path: whatever the answer, it has both ids.
    try:
        with urllib.request.urlopen(endpoint + "/some-bucket", timeout=10) as r:
            headers = r.headers
    except urllib.error.HTTPError as e:
        assert e.code < 500, f"unsigned GET /some-bucket answered {e.code}"
        headers = e.headers
    assert headers.get("x-amz-request-id")
    assert headers.get("x-amz-id-2")
    seen.append(headers["x-amz-request-id"])

    # A success, a HEAD miss (no body) and an error with a body, all through boto3.
    meta = s3.put_object(Bucket=bucket, Key="k", Body=b"v")["ResponseMetadata"]
    assert meta["HTTPHeaders"].get("x-amz-id-2")
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amz-request-id"]
    seen.append(meta["RequestId"])
    for op in (s3.head_object, s3.get_object):
        with pytest.raises(ClientError) as info:
            op(Bucket=bucket, Key="missing")
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        h = info.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert h.get("x-amz-request-id")
        assert h.get("x-amz-id-2")
        seen.append(h["x-amz-request-id"])

    # The other services answer as AWS does: x-amzn-RequestId alone, without S3's two headers.
    sqs = make_client("sqs", endpoint)
    lam = make_client("lambda", endpoint)
    answers = [sqs.list_queues()["ResponseMetadata"], lam.list_functions()["ResponseMetadata"]]
    with pytest.raises(ClientError) as info:
        sqs.get_queue_url(QueueName="no-such-queue-here")
    answers.append(info.value.response["ResponseMetadata"])
    for meta in answers:
        h = meta["HTTPHeaders"]
        assert meta["RequestId"] == h["x-amzn-requestid"]
        assert "x-amz-request-id" not in h and "x-amz-id-2" not in h, h
        seen.append(meta["RequestId"])

    assert len(set(seen)) == len(seen), f"request ids repeat: {seen}"


def test_concurrent_requests(endpoint: str, bucket: str) -> None:
    s3 = make_client("s3", endpoint, max_pool_connections=32)

    def one(i: int) -> str:
        key = f"conc/{i:03d} é"
        body = os.urandom(1000 + i * 97)
        put = s3.put_object(Bucket=bucket, Key=key, Body=body)
        md5 = hashlib.md5(body).hexdigest()
        assert put["ETag"] == f'"{md5}"'
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == len(body)
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body
        return key

    with ThreadPoolExecutor(16) as pool:
        keys = list(pool.map(one, range(100)))  # re-raises the first failure

    listed = s3.list_objects_v2(Bucket=bucket, Prefix="conc/")
    assert listed["KeyCount"] == 100
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(keys)


def test_unknown_service_is_a_clear_error(endpoint: str) -> None:
    auth = (
        "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host, Signature=x"
    )
    requests = [
        ("GET", "/", {"Authorization": auth, "X-Amz-Date": "20250101T000000Z"}, b""),
        (
            "POST",
            "/",
            {
                "Authorization": auth,
                "X-Amz-Date": "20250101T000000Z",
                "X-Amz-Target": "Kinesis_20131202.ListStreams",
                "Content-Type": "application/x-amz-json-1.1",
            },
            b"{}",
        ),
    ]
    for method, path, headers, body in requests:
        status, _, data = raw_request(endpoint, method, path, headers, body)
        assert status != 500
        assert 400 <= status < 500 or status == 501, f"{method}: status {status}"
        assert b"kinesis" in data.lower(), f"{method}: body does not name the service: {data!r}"
    assert_alive(endpoint)



def test_a_missing_aws_profile_in_the_servers_environment_does_not_matter(tmp_path: Path) -> None:
    # Users often have AWS_PROFILE set for real AWS; the server reads no AWS configuration.
    server = SluiceProcess(tmp_path / "data", env={"AWS_PROFILE": "no-such-profile-here"}).start()
    try:
        s3 = make_client("s3", server.endpoint)
        sqs = make_client("sqs", server.endpoint)
        s3.create_bucket(Bucket="profile-check")
        s3.put_object(Bucket="profile-check", Key="k", Body=b"v")
        assert s3.get_object(Bucket="profile-check", Key="k")["Body"].read() == b"v"
        url = sqs.create_queue(QueueName="profile-check")["QueueUrl"]
        assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"].endswith(
            ":profile-check")
    finally:
        server.stop()
