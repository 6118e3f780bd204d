"""Request bodies from careless or hostile clients: streamed (chunked) and large bodies on every
protocol, refusals answered at once, absurd Content-Lengths, repeated query parameters.

Raw sockets against a real server of this module's own (a regression here freezes a server,
which should not take other modules' tests with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sluice.gateway.bodies import OnLoopRead, StreamingBody

from .conftest import make_client
from .lambda_helpers import create
from .server import SluiceProcess

AUTH = ("AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
FORM = "application/x-www-form-urlencoded"
ANSWER_WITHIN = 10.0  # seconds: generous, only to tell an answer from a hang
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("bodies") / "data").start()
    yield proc
    proc.stop()
    # Every refusal in this module was an answer, never an internal error.
    assert "Traceback" not in Path(proc.log_path).read_text()


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


class Conn:
    """One raw HTTP/1.1 connection: requests written byte for byte, answers read by hand."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_in_background(self, data: bytes) -> threading.Thread:
        """Write a big body while the answer is read (the server may answer before taking it)."""
        def write() -> None:
            with contextlib.suppress(OSError):  # the server closed the connection: its answer says why
                self.sock.sendall(data)
        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        return thread

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)  # socket.timeout (an OSError) if the server holds its answer
        if not chunk:
            raise ConnectionError("the server closed the connection without an answer")
        self.buf += chunk

    def response(self) -> Response:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                size_line, _, self.buf = self.buf.partition(b"\r\n")
                size = int(size_line, 16)
                while len(self.buf) < size + 2:
                    self._fill()
                body, self.buf = body + self.buf[:size], self.buf[size + 2:]
                if size == 0:
                    break
        else:
            length = int(headers.get("content-length", "0"))
            while len(self.buf) < length:
                self._fill()
            body, self.buf = self.buf[:length], self.buf[length:]
        return Response(int(lines[0].split()[1]), headers, body)

    def is_closed_by_server(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def head(method: str, path: str, service: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: {AUTH.format(service=service)}",
             "X-Amz-Date: 20250101T000000Z", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, size: int = 64 * 1024) -> bytes:
    pieces = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(pieces) + b"0\r\n\r\n"


def request(port: int, method: str, path: str, service: str, body: bytes = b"",
            headers: dict[str, str] | None = None, stream: bool = False) -> Response:
    """A complete request on a new connection: Content-Length, or chunked when `stream`."""
    headers = dict(headers or {})
    headers["Transfer-Encoding" if stream else "Content-Length"] = "chunked" if stream else str(len(body))
    conn = Conn(port)
    try:
        conn.send_in_background(head(method, path, service, headers) + (chunked(body) if stream else body))
        return conn.response()
    finally:
        conn.close()


def healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sluice/health", timeout=ANSWER_WITHIN) as r:
        return r.status == 200 and json.load(r)["status"] == "ok"


SQS_JSON = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessage"}


def error_code(resp: Response) -> str:
    """The AWS error code, from any protocol's error answer."""
    if "x-amzn-errortype" in resp.headers:
        return resp.headers["x-amzn-errortype"]
    found = re.search(rb"<Code>([^<]*)</Code>", resp.body)
    return found.group(1).decode() if found else ""


def queue(server: SluiceProcess) -> str:
    sqs: Any = make_client("sqs", server.endpoint)
    return str(sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"])


# -- defect 1: a streamed query body froze the event loop --------------------------------------------


QUERY_CALLS = [
    ("sqs", "Action=ListQueues", b"ListQueuesResponse"),
    ("sns", "Action=ListTopics&Version=2010-03-31", b"ListTopicsResponse"),
    ("iam", "Action=ListUsers&Version=2010-05-08", b"ListUsersResponse"),
    ("sts", "Action=GetCallerIdentity&Version=2011-06-15", b"GetCallerIdentityResponse"),
    ("monitoring", "Action=ListMetrics&Version=2010-08-01", b"ListMetricsResponse"),  # CloudWatch
]


@pytest.mark.parametrize(("service", "form", "root"), QUERY_CALLS, ids=[c[0] for c in QUERY_CALLS])
def test_chunked_query_post_is_answered(server: SluiceProcess, service: str, form: str, root: bytes) -> None:
    resp = request(server.port, "POST", "/", service, form.encode(), {"Content-Type": FORM}, stream=True)
    assert resp.status == 200, resp.body
    assert root in resp.body
    assert healthy(server.port)


def test_health_answers_while_a_chunked_query_body_is_still_coming(server: SluiceProcess) -> None:
    conn = Conn(server.port)
    try:
        conn.send(head("POST", "/", "sqs", {"Content-Type": FORM, "Transfer-Encoding": "chunked"}))
        conn.send(b"7\r\nAction=\r\n")  # the rest has not been sent yet
        time.sleep(0.2)
        assert healthy(server.port)
        conn.send(b"a\r\nListQueues\r\n0\r\n\r\n")
        resp = conn.response()
        assert resp.status == 200 and b"<ListQueuesResponse" in resp.body
    finally:
        conn.close()
    assert healthy(server.port)


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
def test_query_body_over_a_mebibyte_is_answered(server: SluiceProcess, stream: bool) -> None:
    url = queue(server)
    body = f"Action=TagQueue&QueueUrl={url}&Tag.1.Key=big&Tag.1.Value={'v' * (2 * MiB)}".encode()
    resp = request(server.port, "POST", "/", "sqs", body, {"Content-Type": FORM}, stream=stream)
    assert resp.status == 400 and error_code(resp) == "InvalidParameterValue", resp.body
    assert healthy(server.port)


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
def test_gzip_query_body_is_answered(server: SluiceProcess, stream: bool) -> None:
    form = "Action=PutMetricData&Version=2010-08-01&Namespace=Hardening" + "".join(
        f"&MetricData.member.{i}.MetricName=m{i}&MetricData.member.{i}.Value={i}" for i in range(1, 400))
    resp = request(server.port, "POST", "/", "monitoring", gzip.compress(form.encode()),
                   {"Content-Type": FORM, "Content-Encoding": "gzip"}, stream=stream)
    assert resp.status == 200, resp.body
    assert b"PutMetricDataResponse" in resp.body
    assert healthy(server.port)


def test_streaming_body_read_on_the_loop_raises_instead_of_hanging() -> None:
    async def receive() -> Any:
        return {"type": "http.request", "body": b"Action=ListQueues", "more_body": False}

    async def read_on_loop() -> bytes:
        return StreamingBody(receive, asyncio.get_running_loop()).read()

    async def read_in_thread() -> bytes:
        body = StreamingBody(receive, asyncio.get_running_loop())
        return await asyncio.to_thread(body.read)

    with pytest.raises(OnLoopRead):
        asyncio.run(asyncio.wait_for(read_on_loop(), ANSWER_WITHIN))
    assert asyncio.run(asyncio.wait_for(read_in_thread(), ANSWER_WITHIN)) == b"Action=ListQueues"


# -- defect 2: refusals were held until the client hung up ---------------------------------------------


def oversized_send(url: str, protocol: str) -> tuple[bytes, dict[str, str]]:
    message = "m" * (MiB + 1)
    if protocol == "json":
        return json.dumps({"QueueUrl": url, "MessageBody": message}).encode(), SQS_JSON
    return f"Action=SendMessage&QueueUrl={url}&MessageBody={message}".encode(), {"Content-Type": FORM}


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("protocol", ["json", "query"])
def test_oversized_send_message_is_refused_at_once(server: SluiceProcess, protocol: str, stream: bool) -> None:
    url = queue(server)
    body, headers = oversized_send(url, protocol)
    conn = Conn(server.port)  # kept open: the answer must not wait for the client to hang up
    try:
        conn.send_in_background(head("POST", "/", "sqs", {
            **headers, "Transfer-Encoding" if stream else "Content-Length": "chunked" if stream else str(len(body))})
            + (chunked(body) if stream else body))
        resp = conn.response()
    finally:
        conn.close()
    assert resp.status == 400
    assert b"InvalidParameterValue" in resp.body
    assert b"Message must be shorter than 262144 bytes" in resp.body


def test_many_oversized_sends_do_not_starve_other_requests(server: SluiceProcess) -> None:
    url = queue(server)
    body, headers = oversized_send(url, "json")
    request_bytes = head("POST", "/", "sqs", {**headers, "Content-Length": str(len(body))}) + body
    conns: list[Conn] = []
    try:
        for _ in range(80):  # more than the gateway's worker threads
            conn = Conn(server.port)
            conns.append(conn)
            conn.send_in_background(request_bytes)
        for conn in conns:
            assert conn.response().status == 400
        # All 80 connections still open; a normal request still gets a worker.
        sqs: Any = make_client("sqs", server.endpoint)
        sqs.send_message(QueueUrl=url, MessageBody="after the flood")
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in got] == ["after the flood"]
    finally:
        for conn in conns:
            conn.close()


@pytest.fixture(scope="module")
def function(server: SluiceProcess) -> str:
    return create(make_client("lambda", server.endpoint), "def handler(event, context):\n    return len(event)\n")


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
def test_oversized_invoke_is_refused_at_once(server: SluiceProcess, function: str, stream: bool) -> None:
    payload = b'"' + b"x" * (6 * MiB - 1) + b'"'  # 6 MB + 1 byte of valid JSON
    assert len(payload) == 6 * MiB + 1
    path = f"/2015-03-31/functions/{function}/invocations"
    framing = {"Transfer-Encoding": "chunked"} if stream else {"Content-Length": str(len(payload))}
    conn = Conn(server.port)
    try:
        conn.send_in_background(head("POST", path, "lambda", framing) + (chunked(payload) if stream else payload))
        resp = conn.response()
    finally:
        conn.close()
    assert resp.status == 413
    assert resp.headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert resp.json()["message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    # A payload at the limit is still taken.
    lam: Any = make_client("lambda", server.endpoint)
    fits = b'"' + b"x" * (6 * MiB - 2) + b'"'
    resp = lam.invoke(FunctionName=function, Payload=fits)
    assert json.loads(resp["Payload"].read()) == 6 * MiB - 2


def test_s3_refusal_is_answered_before_the_body_and_the_connection_lives_on(server: SluiceProcess) -> None:
    conn = Conn(server.port)
    try:
        conn.send(head("PUT", f"/no-such-{uuid.uuid4().hex[:8]}/key", "s3", {"Content-Length": str(3 * MiB)}))
        conn.send(b"x" * MiB)  # two thirds of the body still to come
        resp = conn.response()
        assert resp.status == 404 and b"<Code>NoSuchBucket</Code>" in resp.body
        assert "close" not in resp.headers.get("connection", "")
        conn.send(b"x" * (2 * MiB))  # the rest is read and dropped; the connection serves on
        conn.send(head("GET", "/", "s3", {}))
        assert conn.response().status == 200
    finally:
        conn.close()


def test_s3_refusal_to_a_client_awaiting_100_continue_closes_the_connection(server: SluiceProcess) -> None:
    conn = Conn(server.port)
    try:
        conn.send(head("PUT", f"/no-such-{uuid.uuid4().hex[:8]}/key", "s3",
                       {"Content-Length": str(2 * MiB), "Expect": "100-continue"}))
        resp = conn.response()  # no 100 Continue: the final answer, the body never sent
        assert resp.status == 404
        assert resp.headers["connection"] == "close"
        assert conn.is_closed_by_server()
    finally:
        conn.close()


# -- defect 8: absurd Content-Length, repeated Action ---------------------------------------------------


ABSURD = str(2**63)  # one more than a signed 64-bit length holds


def test_absurd_content_length_is_refused_at_once(server: SluiceProcess) -> None:
    s3: Any = make_client("s3", server.endpoint)
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    cases = [
        ("PUT", f"/{bucket}/key", "s3", {}, "EntityTooLarge"),
        ("POST", "/", "sqs", {"Content-Type": FORM}, "MalformedHttpRequestException"),
        ("POST", "/", "sqs", SQS_JSON, "MalformedHttpRequestException"),
        ("POST", "/2015-03-31/functions/f/invocations", "lambda", {}, "MalformedHttpRequestException"),
    ]
    for method, path, service, headers, code in cases:
        conn = Conn(server.port)
        try:
            conn.send(head(method, path, service, {**headers, "Content-Length": ABSURD}) + b"Action=ListQueues")
            resp = conn.response()
            assert (resp.status, error_code(resp)) == (400, code), (path, resp.body)
            assert resp.headers["connection"] == "close"
        finally:
            conn.close()
    assert healthy(server.port)


@pytest.mark.parametrize(("service", "path", "headers", "status", "code"), [
    ("sqs", "/", {"Content-Type": FORM}, 413, "RequestEntityTooLargeException"),
    ("lambda", "/2015-03-31/functions/f/invocations", {}, 413, "RequestEntityTooLargeException"),
    ("s3", "/{bucket}/key", {}, 400, "EntityTooLarge"),
], ids=["sqs", "lambda", "s3"])
def test_largest_content_length_is_refused_at_once(server: SluiceProcess, service: str, path: str,
                                                   headers: dict[str, str], status: int, code: str) -> None:
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    make_client("s3", server.endpoint).create_bucket(Bucket=bucket)
    conn = Conn(server.port)
    try:
        conn.send(head("POST" if service != "s3" else "PUT", path.format(bucket=bucket), service,
                       {**headers, "Content-Length": str(2**63 - 1)}) + b"Action=ListQueues")
        resp = conn.response()
        assert (resp.status, error_code(resp)) == (status, code), resp.body
        assert resp.headers["connection"] == "close"
    finally:
        conn.close()


def test_repeated_action_is_refused_and_nothing_is_done(server: SluiceProcess) -> None:
    sqs: Any = make_client("sqs", server.endpoint)
    url = queue(server)
    attempts = [
        ("/", f"Action=GetQueueUrl&QueueName=x&Action=DeleteQueue&QueueUrl={url}"),  # twice in the body
        ("/?Action=GetQueueUrl", f"Action=DeleteQueue&QueueUrl={url}"),  # query string and body
        ("/", f"Action=DeleteQueue&QueueUrl={url}&QueueUrl={url}"),  # any other parameter, too
    ]
    for path, form in attempts:
        resp = request(server.port, "POST", path, "sqs", form.encode(), {"Content-Type": FORM})
        assert resp.status == 400, resp.body
        assert b"<Code>InvalidQueryParameter</Code>" in resp.body
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
