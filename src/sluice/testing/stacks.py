"""Deploying a CloudFormation/SAM template to the test session's server, as
`aws cloudformation package` then `aws cloudformation deploy` would: local code uploaded to an
artifacts bucket, a change set (CREATE, or UPDATE if the stack exists) with every capability,
executed, waited for, and the stack's failure reasons raised if it did not complete.

Waiting needs no clock: Sluice's stack deployer takes a stack's steps as soon as they are
recorded (its work rows are due at the engine's current time), so on the plugin's manual clock a
deploy runs by itself. Only a custom resource whose handler does not answer waits on engine time
(its timeout); the wait here is real time, bounded by `timeout`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ..protocol.errors import ServiceError
from ..services.cloudformation import template as cfn_template
from .packager import Packager, PackagingError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
ARTIFACTS_BUCKET = "sluice-testing-artifacts-{account}-{region}"
_BODY_LIMIT = 51_200  # CloudFormation's TemplateBody limit; a larger template goes by TemplateURL
_POLL = 0.02  # seconds between looks at a deploy (real time: the deployer runs in real time)
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class StackDeployFailed(Exception):
    """A template did not deploy: the change set failed, or the stack rolled back (the message
    lists the failed resources and CloudFormation's reasons)."""


@dataclass(frozen=True)
class DeployedStack:
    """A stack as its deploy left it: `outputs` (OutputKey -> OutputValue) and `resources`
    (LogicalResourceId -> PhysicalResourceId)."""

    name: str
    stack_id: str
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)


def stack_name_for(path: Path) -> str:
    """The stack name a template file gets unless one is given: its file name without suffix
    (`template.yaml` -> `template`), made a valid stack name."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", path.stem).strip("-") or "stack"
    if not name[0].isalpha():
        name = "stack-" + name
    return name[:128]


def _parameters(values: Mapping[str, Any] | None) -> list[dict[str, str]]:
    out = []
    for key, value in (values or {}).items():
        if isinstance(value, (list, tuple)):
            text = ",".join(str(v) for v in value)  # CommaDelimitedList / List<...>
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        out.append({"ParameterKey": str(key), "ParameterValue": text})
    return out


class TemplateDeployer:
    """Deploys templates with the boto3 clients `client(service)` makes (pointed at the server)."""

    def __init__(self, client: Any, region: str, timeout: float = 120.0) -> None:
        self.client = client
        self.region = region
        self.timeout = timeout
        self._bucket: str | None = None

    def _artifacts_bucket(self) -> str:
        if self._bucket is None:
            account = self.client("sts").get_caller_identity()["Account"]
            name = ARTIFACTS_BUCKET.format(account=account, region=self.region)
            s3 = self.client("s3")
            try:
                params: dict[str, Any] = {}
                if self.region != "us-east-1":
                    params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
                s3.create_bucket(Bucket=name, **params)
            except ClientError as err:
                if err.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                    raise
            self._bucket = name
        return self._bucket

    def _upload(self, key: str, data: bytes) -> None:
        self.client("s3").put_object(Bucket=self._artifacts_bucket(), Key=key, Body=data)

    def reset(self) -> None:
        """The server was emptied: the artifacts bucket is gone with the rest."""
        self._bucket = None

    def deploy(self, path: Path, name: str | None = None, parameters: Mapping[str, Any] | None = None,
               tags: Mapping[str, str] | None = None) -> DeployedStack:
        """Deploy the template at `path` as stack `name` (default: `stack_name_for(path)`) and
        return it once complete; StackDeployFailed if it did not deploy."""
        name = name or stack_name_for(path)
        try:
            doc = cfn_template.parse(path.read_text())
        except OSError as err:
            raise StackDeployFailed(f"cannot read the template {path}: {err}") from None
        except ServiceError as err:
            raise StackDeployFailed(f"{path}: {err.message}") from None
        try:
            packaged = Packager(self._artifacts_bucket(), self._upload).package(doc, path.parent)
        except PackagingError as err:
            raise StackDeployFailed(f"{path}: {err}") from None
        body = json.dumps(packaged)
        source: dict[str, str]
        if len(body.encode()) > _BODY_LIMIT:
            key = f"{uuid.uuid4().hex}.template"
            self._upload(key, body.encode())
            source = {"TemplateURL": f"{self.client('s3').meta.endpoint_url}/{self._artifacts_bucket()}/{key}"}
        else:
            source = {"TemplateBody": body}
        cfn = self.client("cloudformation")
        existing = self._status(name)
        kind = "CREATE" if existing in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        try:
            change_set = cfn.create_change_set(
                StackName=name, ChangeSetName=f"sluice-deploy-{uuid.uuid4().hex[:12]}", ChangeSetType=kind,
                Capabilities=CAPABILITIES, Parameters=_parameters(parameters),
                Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()], **source)
        except ClientError as err:
            raise StackDeployFailed(f"stack {name} ({path}): {err.response['Error']['Message']}") from None
        described = self._wait(lambda: cfn.describe_change_set(ChangeSetName=change_set["Id"]),
                               "Status", f"change set of stack {name}")
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason") or ""
            if kind == "UPDATE" and any(text in reason for text in _NO_CHANGES):
                return self.describe(name)
            raise StackDeployFailed(f"stack {name} ({path}): the change set failed: {reason}")
        cfn.execute_change_set(ChangeSetName=change_set["Id"])
        stack = self._wait(lambda: cfn.describe_stacks(StackName=change_set["StackId"])["Stacks"][0],
                           "StackStatus", f"stack {name}")
        if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise StackDeployFailed(f"stack {name} ({path}) ended {stack['StackStatus']}:\n"
                                    + "\n".join(self._failures(change_set["StackId"])))
        return self.describe(name)

    def _status(self, name: str) -> str | None:
        try:
            return str(self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
        except ClientError as err:
            if "does not exist" in err.response["Error"]["Message"]:
                return None
            raise

    def _wait(self, look: Any, member: str, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout  # real time: the deployer works in real time
        while True:
            found: dict[str, Any] = look()
            status = str(found.get(member, ""))
            if not status.endswith(("_IN_PROGRESS", "_PENDING")):  # a change set's, or a stack's
                return found
            if time.monotonic() > deadline:
                raise StackDeployFailed(f"{what} still {status} after {self.timeout:.0f} s (a custom resource "
                                        "waiting for its response advances only with the clock)")
            time.sleep(_POLL)

    def _failures(self, stack_id: str) -> list[str]:
        """The failed resources of the stack's latest operation, oldest first, with their reasons."""
        found: list[str] = []
        pages = self.client("cloudformation").get_paginator("describe_stack_events").paginate(StackName=stack_id)
        for page in pages:
            for event in page["StackEvents"]:  # newest first
                own = event.get("PhysicalResourceId") == stack_id and event["ResourceType"] == "AWS::CloudFormation::Stack"
                if own and event["ResourceStatus"] in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"):
                    return found[::-1] or ["(no resource failed: see describe-stack-events)"]
                reason = event.get("ResourceStatusReason") or ""
                if event["ResourceStatus"].endswith("_FAILED") and not own and "cancelled" not in reason:
                    found.append(f"  {event['LogicalResourceId']} ({event['ResourceType']}) "
                                 f"{event['ResourceStatus']}: {reason}")
        return found[::-1]

    def describe(self, name: str) -> DeployedStack:
        """The stack `name` as it is now: status, outputs, resources."""
        cfn = self.client("cloudformation")
        try:
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as err:
            raise StackDeployFailed(err.response["Error"]["Message"]) from None
        resources = {}
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"]):
            for summary in page["StackResourceSummaries"]:
                resources[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
        return DeployedStack(name=stack["StackName"], stack_id=stack["StackId"], status=stack["StackStatus"],
                             outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []},
                             resources=resources)
