"""Inline (ZipFile) function code as CloudFormation packages it: `index.py` / `index.js` beside
the cfn-response module, which a custom resource's handler uses to answer. The package is run
by the real interpreter (python, node) and its answer caught by a real HTTP endpoint."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sluice.services.cloudformation.providers.base import ProviderError, ResourceRequest
from sluice.services.cloudformation.providers.lambda_function import inline_zip

EVENT = {"StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/s/1", "RequestId": "req-1",
         "LogicalResourceId": "Thing", "RequestType": "Create"}


def request() -> ResourceRequest:
    return ResourceRequest("s", EVENT["StackId"], "Fn", "AWS::Lambda::Function", {}, None, None, "000000000000",
                           "us-east-1", "t")


class Catcher:
    """Takes the PUT a handler sends to its ResponseURL."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                catcher.bodies.append((self.path, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response/req-1?sig=x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    found = Catcher()
    yield found
    found.server.shutdown()
    found.server.server_close()


def unpack(package: bytes, into: Path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        zf.extractall(into)
        return sorted(zf.namelist())


def test_python_inline_code_answers_with_cfnresponse(tmp_path: Path, catcher: Catcher) -> None:
    code = ("import cfnresponse\n"
            "def handler(event, context):\n"
            "    cfnresponse.send(event, context, cfnresponse.SUCCESS, {'Answer': 42}, 'thing-1')\n")
    assert unpack(inline_zip(request(), code, "python3.12"), tmp_path) == ["cfnresponse.py", "index.py"]
    driver = ("import index, types, sys, json\n"
              "index.handler(json.loads(sys.argv[1]), types.SimpleNamespace(log_stream_name='2026/12/06/[$LATEST]ab'))\n")
    subprocess.run([sys.executable, "-c", driver, json.dumps({**EVENT, "ResponseURL": catcher.url})], cwd=tmp_path,
                   check=True, capture_output=True, timeout=30)
    path, body = catcher.bodies[0]
    assert path == "/response/req-1?sig=x"
    assert body == {"Status": "SUCCESS", "Reason": "See the details in CloudWatch Log Stream: 2026/12/06/[$LATEST]ab",
                    "PhysicalResourceId": "thing-1", "StackId": EVENT["StackId"], "RequestId": "req-1",
                    "LogicalResourceId": "Thing", "NoEcho": False, "Data": {"Answer": 42}}


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_node_inline_code_answers_with_cfn_response(tmp_path: Path, catcher: Catcher) -> None:
    code = ("var response = require('cfn-response');\n"
            "exports.handler = function (event, context) {\n"
            "  response.send(event, context, response.FAILED, {Why: 'no'});\n"
            "};\n")
    assert unpack(inline_zip(request(), code, "nodejs20.x"), tmp_path) == ["index.js", "node_modules/cfn-response/index.js"]
    driver = ("const event = JSON.parse(process.argv[1]);\n"
              "require('./index.js').handler(event, {logStreamName: 'stream-1'});\n")
    subprocess.run(["node", "-e", driver, json.dumps({**EVENT, "ResponseURL": catcher.url})], cwd=tmp_path,
                   check=True, capture_output=True, timeout=30)
    _, body = catcher.bodies[0]
    assert body == {"Status": "FAILED", "Reason": "See the details in CloudWatch Log Stream: stream-1",
                    "PhysicalResourceId": "stream-1", "StackId": EVENT["StackId"], "RequestId": "req-1",
                    "LogicalResourceId": "Thing", "NoEcho": False, "Data": {"Why": "no"}}


def test_inline_code_for_another_runtime_is_refused() -> None:
    with pytest.raises(ProviderError) as err:
        inline_zip(request(), "x", "java21")
    assert str(err.value).startswith("Properties validation failed for resource Fn with message: [#/Code/ZipFile:")
