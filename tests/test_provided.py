"""Custom runtimes (provided.al2023 / provided.al2): the function's own `bootstrap` speaks the
Runtime API, from the task root, in any language; a missing or non-executable one is Lambda's
Runtime.InvalidEntrypoint. And what Sluice refuses to create when the machine lacks `node`."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_client
from .lambda_helpers import ROLE, unique
from .node_helpers import zip_files
from .server import SluiceProcess

# A POSIX shell runtime: curl for HTTP, the event echoed back inside a JSON document.
SHELL_BOOTSTRAP = """\
#!/bin/sh
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
HEADERS="$(mktemp)"
while true; do
  EVENT="$(curl -sS -D "$HEADERS" "$API/next")"
  RID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | cut -d: -f2 | tr -d '[:space:]')"
  echo "handling $RID for $_HANDLER in $LAMBDA_TASK_ROOT"
  curl -sS -o /dev/null -X POST "$API/$RID/response" \\
    -d "{\\"echo\\": $EVENT, \\"handler\\": \\"$_HANDLER\\", \\"root\\": \\"$(pwd)\\"}"
done
"""


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def create(lam: Any, files: dict[str, str], executable: tuple[str, ...] = ("bootstrap",),
           runtime: str = "provided.al2023") -> str:
    name = unique("custom")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler="function.handler",
                        Code={"ZipFile": zip_files(files, executable)}, Timeout=10)
    return name


def invoke(lam: Any, name: str, payload: Any) -> tuple[dict[str, Any], Any]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload), LogType="Tail")
    return out, json.loads(out["Payload"].read())


@pytest.mark.skipif(shutil.which("curl") is None, reason="the shell bootstrap uses curl")
def test_a_shell_bootstrap_echoes_its_events(lam: Any) -> None:
    name = create(lam, {"bootstrap": SHELL_BOOTSTRAP})
    for n in (1, 2):  # the second one reuses the warm bootstrap loop
        out, body = invoke(lam, name, {"n": n, "text": "hi"})
        assert "FunctionError" not in out, body
        assert body["echo"] == {"n": n, "text": "hi"} and body["handler"] == "function.handler"
        tail = base64.b64decode(out["LogResult"]).decode()
        assert f"handling {out['ResponseMetadata']['RequestId']} for function.handler" in tail
    assert (Path(body["root"]) / "bootstrap").is_file()  # started in its task root


def test_a_python_bootstrap_works_too_on_provided_al2(lam: Any) -> None:
    source = f"""\
    #!{sys.executable}
    import json, os, urllib.request
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
    while True:
        with urllib.request.urlopen(api + "next") as r:
            rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.load(r)
        body = json.dumps({{"doubled": event["n"] * 2}}).encode()
        urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=body, method="POST")).read()
    """
    name = create(lam, {"bootstrap": source}, runtime="provided.al2")
    assert invoke(lam, name, {"n": 21})[1] == {"doubled": 42}


def test_a_missing_or_non_executable_bootstrap_is_an_invalid_entrypoint(lam: Any) -> None:
    missing = create(lam, {"main.sh": "#!/bin/sh\n"}, executable=())
    out, body = invoke(lam, missing, {})
    rid = out["ResponseMetadata"]["RequestId"]
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert body["errorMessage"].startswith(f"RequestId: {rid} Error: Couldn't find valid bootstrap(s): [")
    assert body["errorMessage"].endswith("/bootstrap /opt/bootstrap]")

    not_executable = create(lam, {"bootstrap": "#!/bin/sh\n"}, executable=())
    out, body = invoke(lam, not_executable, {})
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert body["errorMessage"].endswith("/bootstrap: permission denied")


def test_without_node_on_path_nodejs_functions_are_refused_at_create(tmp_path: Path) -> None:
    # Sluice's own interpreter's folder only: no node there (a venv's bin, or the system's
    # python without node beside it).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    server = SluiceProcess(tmp_path / "data", env={"PATH": str(bin_dir)}).start()
    try:
        lam = make_client("lambda", server.endpoint)
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
            lam.create_function(FunctionName="n", Runtime="nodejs22.x", Role=ROLE, Handler="index.handler",
                                Code={"ZipFile": zip_files({"index.js": ""})})
        message = exc.value.response["Error"]["Message"]
        assert "no `node` executable was found on Sluice's PATH" in message and str(bin_dir) in message
        assert "Node.js functions: refused, no `node` on PATH" in server.log_path.read_text()  # said at start
        # Python and custom runtimes are unaffected.
        lam.create_function(FunctionName="c", Runtime="provided.al2023", Role=ROLE, Handler="x",
                            Code={"ZipFile": zip_files({"bootstrap": ""}, ("bootstrap",))})
    finally:
        server.stop()
    assert os.environ.get("PATH")  # the test's own PATH was not touched
