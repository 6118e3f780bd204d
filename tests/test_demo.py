"""`sluice demo` and examples/s3-event-processor/walkthrough.sh, run as a user would."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import SluiceProcess

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "000000000000"
WALKTHROUGH = ROOT / "examples" / "s3-event-processor" / "walkthrough.sh"


def sections(out: str) -> dict[str, str]:
    """The demo's output by step: "9" -> the text under "== 9. ..."."""
    parts = re.split(r"^== (\d+)\. ", out, flags=re.M)
    return {number: text for number, text in zip(parts[1::2], parts[2::2], strict=True)}


def request_id(text: str) -> str:
    """The request id a failure step announces ("request id <uuid>")."""
    found = re.search(r"request id ([0-9a-f-]{36})", text)
    assert found, text
    return found.group(1)


def test_demo_runs_the_pipeline() -> None:
    # a user's own AWS settings must not leak into the demo's server (it enforces IAM)
    env = {**os.environ, "AWS_PROFILE": "no-such-profile", "AWS_ACCESS_KEY_ID": "AKIAUSERSOWNKEY00000",
           "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}
    proc = subprocess.run([sys.executable, "-m", "sluice", "demo"], capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL, env=env)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    step = sections(out)
    assert sorted(step, key=int) == [str(n) for n in range(1, 13)]
    # the execution role of the exercise, on a server that enforces IAM
    assert "started sluice up --enforce-iam on http://127.0.0.1:" in out
    # the web console's link, and how to sign in to it
    assert "/_sluice/console/ (sign in with access key test, secret test)" in out
    assert f"created arn:aws:iam::{ACCOUNT}:role/S3EventProcessorRole (trusts lambda.amazonaws.com)" in step["2"]
    assert "attached AWSLambdaBasicExecutionRole (CloudWatch Logs) and AmazonS3ReadOnlyAccess" in step["2"]
    # the successful run: the uploaded file's content in the function's log
    assert "Contenu du fichier bonjour.txt : Bonjour depuis Sluice : premier fichier traité." in step["6"]
    assert "outcome: Success after 1 attempt(s)" in step["6"]
    # the failing upload: three attempts, 1 s then 2 s apart, then the DLQ
    for n in (1, 2, 3):
        assert f"attempt {n}:" in step["7"]
    assert "attempt 4:" not in out
    assert "next attempt in" in step["7"] and "(1 min on AWS)" in step["7"] and "(2 min on AWS)" in step["7"]
    assert step["7"].count("Erreur lors du traitement du fichier image.bin") == 3
    assert "outcome: RetriesExhausted after 3 attempts" in step["7"]
    binary_request = request_id(step["7"])
    assert f"RequestID (String): {binary_request}" in step["8"]
    assert "ErrorCode (Number): 200" in step["8"]
    assert "ErrorMessage (String): 'utf-8' codec can't decode byte 0xff" in step["8"]

    # the exercise's failure test: the role loses S3 read access
    assert "detached AmazonS3ReadOnlyAccess; S3EventProcessorRole keeps AWSLambdaBasicExecutionRole" in step["9"]
    denial = (f"An error occurred (AccessDenied) when calling the GetObject operation: User: arn:aws:sts::{ACCOUNT}:"
              "assumed-role/S3EventProcessorRole/S3EventProcessor is not authorized to perform: s3:GetObject on "
              'resource: "arn:aws:s3:::bucket-evenement-lambda/refused.txt" because no identity-based policy '
              "allows the s3:GetObject action")
    assert step["9"].count(f"Erreur lors du traitement du fichier refused.txt : {denial}") == 3
    for n in (1, 2, 3):
        assert f"attempt {n}:" in step["9"]
    assert "(1 min on AWS)" in step["9"] and "(2 min on AWS)" in step["9"]
    assert "outcome: RetriesExhausted after 3 attempts; error: AccessDenied: " in step["9"]
    denied_request = request_id(step["9"])
    assert denied_request != binary_request
    assert f"RequestID (String): {denied_request}" in step["10"]
    assert "ErrorCode (Number): 200" in step["10"]
    assert f"ErrorMessage (String): {denial}" in step["10"]
    assert "Body: the original S3 event (ObjectCreated:Put, s3://bucket-evenement-lambda/refused.txt)" in step["10"]
    # access given back, the DLQ redriven: the file is read this time
    assert "attached AmazonS3ReadOnlyAccess to S3EventProcessorRole again" in step["11"]
    assert re.search(r"-> [0-9a-f-]{36}: Success after 1 attempt\(s\)", step["11"])
    assert ("Contenu du fichier refused.txt : Lu après le redrive : le rôle peut de nouveau lire le bucket."
            in step["11"])
    # the failed event's journey, as `sluice trace` renders it
    assert step["12"].startswith(f"The denied event's journey: sluice trace {denied_request}")
    assert "s3://bucket-evenement-lambda/refused.txt  (ObjectCreated:Put, " in step["12"]
    assert step["12"].count("Unhandled  AccessDenied: An error occurred (AccessDenied)") == 3
    assert step["12"].count("in AWS time at --time-scale 60") == 2
    assert "ended        dead-letter queue (RetriesExhausted after 3 attempts), message " in step["12"]
    assert "OK: the pipeline behaved as on AWS" in out


def test_demo_says_what_went_wrong(tmp_path: Path) -> None:
    """On a server that does not enforce IAM, the detached policy changes nothing: the demo names
    the difference instead of failing later on a missing DLQ message."""
    from sluice.demo import DemoError, _Demo

    server = SluiceProcess(tmp_path / "data", "--time-scale", "60").start()
    out = io.StringIO()
    try:
        demo = _Demo(server.endpoint, out)
        queue_url = demo.setup()
        with pytest.raises(DemoError) as exc:
            demo.denied(queue_url)
    finally:
        server.stop()
    assert str(exc.value) == "expected RetriesExhausted after 3 attempts, got Success after 1 attempt"
    assert "outcome: Success after 1 attempt\n" in out.getvalue()


@pytest.fixture(params=[False, True], ids=["plain", "enforce-iam"])
def fast_sluice(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SluiceProcess]:
    """The walkthrough's retries wait 1 and 2 minutes; the shared `sluice` fixture runs at real
    speed (3 minutes for one test) and its fixed names would collide, so this one gets its own
    server at --time-scale 60: plain, and with --enforce-iam for step 9."""
    server = SluiceProcess(tmp_path / "data", "--time-scale", "60", *(["--enforce-iam"] if request.param else []))
    yield server.start()
    server.stop()


def run_walkthrough(endpoint: str, enforce_iam: bool) -> subprocess.CompletedProcess[str]:
    env = os.environ.copy()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # this venv's aws, sluice
    env["SLUICE"] = endpoint
    env["ENFORCE_IAM"] = "1" if enforce_iam else "0"
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")  # the root key, whatever the host has
    for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    return subprocess.run(["bash", str(WALKTHROUGH)], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_walkthrough_script(fast_sluice: SluiceProcess) -> None:
    enforce_iam = "--enforce-iam" in fast_sluice.extra_args
    proc = run_walkthrough(fast_sluice.endpoint, enforce_iam)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Contenu du fichier bonjour.txt : Bonjour depuis Sluice : premier fichier traité." in out
    assert '"RequestID"' in out and '"ErrorCode"' in out and '"ErrorMessage"' in out
    assert "'utf-8' codec can't decode byte 0xff" in out
    assert out.count("Erreur lors du traitement du fichier image.bin") == 3
    if not enforce_iam:
        assert "== 9." not in out
        assert "(step 9, the exercise's own failure test, runs with ENFORCE_IAM=1" in out
        return
    step9 = out[out.index("== 9. The exercise's failure test"):]
    denial = (f"An error occurred (AccessDenied) when calling the GetObject operation: User: arn:aws:sts::{ACCOUNT}:"
              "assumed-role/S3EventProcessorRole/S3EventProcessor is not authorized to perform: s3:GetObject")
    # one AccessDenied log line per attempt, the trace's three attempts ending in the DLQ
    assert step9.count(f"Erreur lors du traitement du fichier refused.txt : {denial}") == 3
    assert step9.count("Unhandled  AccessDenied: ") == 3
    assert "ended        dead-letter queue (RetriesExhausted after 3 attempts)" in step9
    assert '"ErrorMessage": {' in step9 and denial in step9
    assert ": Success after 1 attempt(s)" in step9
    assert "Contenu du fichier refused.txt : Lu après le redrive : le rôle peut de nouveau lire le bucket." in step9


def test_walkthrough_step9_refuses_a_server_without_enforcement(tmp_path: Path) -> None:
    """ENFORCE_IAM=1 against a plain server: the script says what is wrong before it starts,
    instead of waiting at step 9 for a DLQ message that cannot come."""
    server = SluiceProcess(tmp_path / "data", "--time-scale", "60").start()
    try:
        proc = run_walkthrough(server.endpoint, enforce_iam=True)
    finally:
        server.stop()
    assert proc.returncode == 1
    assert "it does not enforce IAM (start it with sluice up --enforce-iam)" in proc.stderr
    assert "== 1." not in proc.stdout  # nothing was created


def test_demo_runs_the_examples_handler_unchanged() -> None:
    """The demo embeds the example's handler (it must run from an installed package): same code."""
    import ast

    from sluice.demo import HANDLER_SOURCE

    def code(source: str) -> str:
        tree = ast.parse(source)
        if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant):
            tree.body = tree.body[1:]  # the docstrings may differ
        return ast.dump(tree)

    example = (Path(__file__).resolve().parent.parent / "examples" / "s3-event-processor" / "handler.py").read_text()
    assert code(HANDLER_SOURCE) == code(example)
