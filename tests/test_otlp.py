"""`sluice up --otel-endpoint`: the event's path as OTLP/HTTP JSON spans, to a collector stub."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .pipeline_helpers import build, dead_letters, wait_trace
from .server import SluiceProcess


class Collector:
    """A tiny OTLP/HTTP receiver: keeps every POST /v1/traces body."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (path, content type, body)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        return [span for _, _, body in list(self.requests) for rs in body["resourceSpans"]
                for ss in rs["scopeSpans"] for span in ss["spans"] if span["traceId"] == trace_id]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("otlp") / "data", "--time-scale", "600",
                         "--otel-endpoint", collector.url).start()
    yield proc
    proc.stop()


def _attributes(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_spans_of_a_failing_event(server: SluiceProcess, collector: Collector) -> None:
    p = build(server.endpoint)
    put = p.s3.put_object(Bucket=p.bucket, Key="photo.jpg", Body=b"123")
    [message] = dead_letters(p, 1)
    journey = wait_trace(f"{p.bucket}/photo.jpg", p.endpoint,
                         lambda j: j["notifications"][0]["invocation"]["end"]["sends"])
    trace_id = journey["traceId"]
    # The X-Ray root's 32 hex digits: the trace id the handler's own tracing would use too.
    assert trace_id == message["Attributes"]["AWSTraceHeader"].split(";")[0][len("Root=1-"):].replace("-", "")

    wanted = ["S3.PutObject", "S3.Notification", p.function, p.function, p.function, "Lambda.DeadLetter"]
    deadline = time.monotonic() + 20
    while sorted(s["name"] for s in collector.spans(trace_id)) != sorted(wanted) and time.monotonic() < deadline:
        time.sleep(0.2)
    spans = collector.spans(trace_id)
    assert sorted(s["name"] for s in spans) == sorted(wanted)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_name.setdefault(s["name"], []).append(s)
    [upload], [note], [dlq] = by_name["S3.PutObject"], by_name["S3.Notification"], by_name["Lambda.DeadLetter"]
    attempts = sorted(by_name[p.function], key=lambda s: int(s["startTimeUnixNano"]))

    # One tree: upload -> notification -> each attempt; the DLQ send under the last attempt.
    assert "parentSpanId" not in upload and upload["kind"] == 2
    assert note["parentSpanId"] == upload["spanId"] and note["kind"] == 4
    assert {a["parentSpanId"] for a in attempts} == {note["spanId"]}
    assert dlq["parentSpanId"] == attempts[-1]["spanId"] and dlq["kind"] == 4
    assert len({s["spanId"] for s in spans}) == 6
    # The notification span is the Parent the handler and the DLQ message were given.
    assert message["Attributes"]["AWSTraceHeader"].split(";")[1] == "Parent=" + note["spanId"]

    upload_attrs = _attributes(upload)
    assert upload_attrs["aws.request_id"] == put["ResponseMetadata"]["RequestId"]
    assert upload_attrs["aws.s3.bucket"] == p.bucket and upload_attrs["aws.s3.key"] == "photo.jpg"
    assert upload_attrs["aws.s3.object.size"] == "3"  # int64 values are strings in OTLP JSON
    for n, a in enumerate(attempts, start=1):
        attrs = _attributes(a)
        assert attrs["faas.name"] == p.function and attrs["aws.lambda.attempt"] == str(n)
        assert attrs["faas.invocation_id"] == message["MessageAttributes"]["RequestID"]["StringValue"]
        assert attrs["aws.lambda.invoked_arn"] == p.function_arn and attrs["aws.lambda.outcome"] == "Unhandled"
        assert a["status"] == {"code": 2, "message": "Exception: boom photo.jpg"}
        assert int(a["endTimeUnixNano"]) >= int(a["startTimeUnixNano"]) > 0
    assert _attributes(dlq)["messaging.message.id"] == message["MessageId"]
    assert _attributes(dlq)["cloud.resource_id"] == p.dlq_arn

    path, content_type, body = collector.requests[0]
    assert path == "/v1/traces" and content_type == "application/json"
    resource = {a["key"]: a["value"] for a in body["resourceSpans"][0]["resource"]["attributes"]}
    assert resource["service.name"] == {"stringValue": "sluice"}


def test_spans_of_a_successful_event_with_a_destination(server: SluiceProcess, collector: Collector) -> None:
    p = build(server.endpoint, dead_letter=False)
    p.lam.update_function_event_invoke_config(FunctionName=p.function,
                                              DestinationConfig={"OnSuccess": {"Destination": p.dlq_arn}})
    p.s3.put_object(Bucket=p.bucket, Key="ok.txt", Body=b"1")
    journey = wait_trace(f"{p.bucket}/ok.txt", p.endpoint,
                         lambda j: "end" in (j["notifications"][0]["invocation"] or {})
                         and j["notifications"][0]["invocation"]["end"]["sends"])
    deadline = time.monotonic() + 20
    while len(collector.spans(journey["traceId"])) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    spans = {s["name"]: s for s in collector.spans(journey["traceId"])}
    assert sorted(spans) == sorted(["S3.PutObject", "S3.Notification", p.function, "Lambda.Destination"])
    attempt, sent = spans[p.function], spans["Lambda.Destination"]
    assert attempt["status"] == {"code": 0} and _attributes(attempt)["aws.lambda.outcome"] == "success"
    assert sent["parentSpanId"] == attempt["spanId"] and "message" not in sent["status"]
    assert _attributes(sent)["aws.lambda.destination"] == "on-success"
    assert _attributes(sent)["aws.lambda.condition"] == "Success"


def test_a_dead_collector_does_not_stop_the_pipeline(tmp_path: Path) -> None:
    # Accepts connections and never answers: every export waits for its timeout, then drops.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(100)
    proc = SluiceProcess(tmp_path / "data", "--time-scale", "600",
                         "--otel-endpoint", f"http://127.0.0.1:{silent.getsockname()[1]}").start()
    try:
        p = build(proc.endpoint)
        for i in range(3):
            p.s3.put_object(Bucket=p.bucket, Key=f"k{i}", Body=b"1")
        messages = dead_letters(p, 3)
        assert {m["Attributes"]["AWSTraceHeader"].split(";")[0] for m in messages} != set()
    finally:
        proc.stop()
        silent.close()


def test_an_endpoint_that_is_not_a_url_is_refused_at_start(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sluice", "up", "--data-dir", str(tmp_path / "data"),
                           "--otel-endpoint", "localhost:4318"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "--otel-endpoint takes an http(s) URL" in proc.stderr
