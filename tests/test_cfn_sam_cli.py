"""AWS SAM CLI against Sluice, unchanged: `sam build` and `sam deploy --resolve-s3` of the
example template with AWS_ENDPOINT_URL, SAM's managed artifacts stack included.

The SAM CLI lives in its own venv (.venv-sam, `make .venv-sam/bin/sam`; `make test` installs it)
because it pins its own boto3 and botocore."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .conftest import make_client, wait_for
from .server import SluiceProcess

ROOT = Path(__file__).resolve().parent.parent
SAM = ROOT / ".venv-sam" / "bin" / "sam"
EXAMPLE = ROOT / "examples" / "s3-event-processor"


def _sam(sluice: SluiceProcess, cwd: Path, *args: str) -> str:
    assert SAM.exists(), f"{SAM} is missing: `make .venv-sam/bin/sam` installs the SAM CLI"
    env = {**os.environ, "AWS_ENDPOINT_URL": sluice.endpoint, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "SAM_CLI_TELEMETRY": "0",
           # How often `sam deploy` looks at the change set and the stack's events (default 0.5 s).
           "SAM_CLI_POLL_DELAY": "0.2"}
    done = subprocess.run([str(SAM), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=240, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"sam {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _resources(cfn: Any, stack: str) -> dict[str, str]:
    listed = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r["ResourceType"] for r in listed
            if r["ResourceStatus"] == "CREATE_COMPLETE"}


def test_sam_build_and_deploy_the_example(sluice: SluiceProcess, tmp_path: Path) -> None:
    for name in ("template.yaml", "handler.py"):
        shutil.copy(EXAMPLE / name, tmp_path / name)

    _sam(sluice, tmp_path, "build")
    assert (tmp_path / ".aws-sam" / "build" / "S3EventProcessor" / "handler.py").exists()
    out = _sam(sluice, tmp_path, "deploy", "--stack-name", "sam-s3-event-processor",
               "--resolve-s3", "--capabilities", "CAPABILITY_IAM", "--no-confirm-changeset",
               "--no-progressbar")
    assert "Successfully created/updated stack - sam-s3-event-processor in us-east-1" in out

    cfn = make_client("cloudformation", sluice.endpoint)
    # --resolve-s3: SAM's own stack with its artifacts bucket and that bucket's policy.
    assert _resources(cfn, "aws-sam-cli-managed-default") == {
        "SamCliSourceBucket": "AWS::S3::Bucket",
        "SamCliSourceBucketBucketPolicy": "AWS::S3::BucketPolicy"}
    assert _resources(cfn, "sam-s3-event-processor") == {
        "Bucket": "AWS::S3::Bucket", "LambdaDLQ": "AWS::SQS::Queue",
        "S3EventProcessor": "AWS::Lambda::Function", "S3EventProcessorRole": "AWS::IAM::Role",
        "S3EventProcessorEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
        "S3EventProcessorUploadPermission": "AWS::Lambda::Permission"}
    processed = cfn.get_template(StackName="sam-s3-event-processor", TemplateStage="Processed")
    assert "Transform" not in processed["TemplateBody"]

    stack = cfn.describe_stacks(StackName="sam-s3-event-processor")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    s3, logs = make_client("s3", sluice.endpoint), make_client("logs", sluice.endpoint)
    s3.put_object(Bucket=outputs["BucketName"], Key="sam.txt", Body=b"deployed by sam")

    def logged() -> bool:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{outputs['FunctionName']}",
                                           filterPattern='"Contenu du fichier sam.txt : deployed by sam"')
        except logs.exceptions.ResourceNotFoundException:
            return False
        return bool(found["events"])

    assert wait_for(logged, timeout=30)
