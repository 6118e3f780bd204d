"""How long the example stack takes to deploy: examples/s3-event-processor/template.yaml (SAM:
bucket, queue, role, function, permission, invoke config, S3 trigger) from `deploy` to
CREATE_COMPLETE on a fresh `sluice up`.

    .venv/bin/python bench/deploy.py [--runs N]

The template is packaged once with the real `aws cloudformation package` (the code upload is
not part of a deploy's time). Each run then makes the calls `aws cloudformation deploy` makes,
with boto3 — CreateChangeSet (CREATE), DescribeChangeSet until CREATE_COMPLETE,
ExecuteChangeSet, DescribeStacks until CREATE_COMPLETE — polling every 20 ms instead of the
CLI's 5 s waiter delay (which would measure the waiter, not Sluice), under a new stack name.
The first run also pays the one-time import of the SAM translator in the server. Prints each
run, the median (target < 2 s on 2 cores) and writes bench/results/deploy-latest.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from report import git_revision, package_version, write_json
from servers import sluice_server

REGION = "us-east-1"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "s3-event-processor"
RESULTS = Path(__file__).resolve().parent / "results" / "deploy-latest.json"
TARGET_S = 2.0
POLL_S = 0.02
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def client(service: str, endpoint: str) -> Any:
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))


def package(endpoint: str, workdir: Path) -> str:
    """The template as `aws cloudformation package` leaves it (CodeUri -> s3://...)."""
    client("s3", endpoint).create_bucket(Bucket="deploy-bench-artifacts")
    out = workdir / "packaged.yaml"
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION}
    subprocess.run([sys.executable, "-m", "awscli", "cloudformation", "package",
                    "--template-file", str(EXAMPLE / "template.yaml"),
                    "--s3-bucket", "deploy-bench-artifacts", "--output-template-file", str(out)],
                   check=True, capture_output=True, env=env, timeout=120)
    return out.read_text()


def wait_status(read: Any, done: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = str(read())
        if status == done or status.endswith("FAILED") or "ROLLBACK" in status:
            return status
        time.sleep(POLL_S)
    return "TIMEOUT"


def deploy_once(cfn: Any, template: str, stack: str) -> tuple[float, str]:
    """Seconds from CreateChangeSet to CREATE_COMPLETE, and the final status."""
    started = time.perf_counter()
    cfn.create_change_set(StackName=stack, ChangeSetName="deploy", ChangeSetType="CREATE",
                          TemplateBody=template, Capabilities=CAPABILITIES)
    status = wait_status(lambda: cfn.describe_change_set(
        StackName=stack, ChangeSetName="deploy")["Status"], "CREATE_COMPLETE")
    if status != "CREATE_COMPLETE":
        return time.perf_counter() - started, f"change set {status}"
    cfn.execute_change_set(StackName=stack, ChangeSetName="deploy")
    status = wait_status(lambda: cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"],
                         "CREATE_COMPLETE")
    return time.perf_counter() - started, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sluice-deploy-bench-") as tmp:
        workdir = Path(tmp)
        server = sluice_server(workdir)
        server.start()
        try:
            template = package(server.endpoint, workdir)
            cfn = client("cloudformation", server.endpoint)
            runs: list[dict[str, Any]] = []
            for i in range(args.runs):
                try:
                    seconds, status = deploy_once(cfn, template, f"deploy-bench-{i}")
                except ClientError as e:
                    log(f"run {i}: {e}")
                    return 1
                runs.append({"seconds": round(seconds, 3), "status": status})
                log(f"run {i}: {seconds:.3f} s  {status}{'  (first: SAM translator import)' if i == 0 else ''}")
        finally:
            server.stop()
    ok = [r["seconds"] for r in runs if r["status"] == "CREATE_COMPLETE"]
    if len(ok) != len(runs):
        log("some deploys did not complete")
        return 1
    warm = ok[1:] or ok
    median = statistics.median(warm)
    log(f"deploy to CREATE_COMPLETE: first {ok[0]:.3f} s, then median {median:.3f} s "
        f"(min {min(warm):.3f}, max {max(warm):.3f}); target < {TARGET_S:.1f} s")
    write_json(RESULTS, {
        "benchmark": "deploy", "template": "examples/s3-event-processor/template.yaml",
        "runs": runs, "first_s": ok[0], "median_after_first_s": median, "target_s": TARGET_S,
        "cpus": os.cpu_count(), "python": platform.python_version(), "git": git_revision(),
        "sluice": package_version("sluice"), "aws_sam_translator": package_version("aws-sam-translator"),
    })
    return 0 if median < TARGET_S else 2


if __name__ == "__main__":
    sys.exit(main())
