"""The test session's server: where it listens, its testing API, and a reset that keeps the set-up."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from ..settings import DEFAULT_REGION
from .client import SluiceTesting
from .servers import Server
from .stacks import DeployedStack, StackDeployFailed, TemplateDeployer

TEST_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@dataclass
class Timings:
    """What the session measured (shown in pytest's summary): the server's start and the resets."""

    ready_seconds: float = 0.0
    resets_ms: list[float] = field(default_factory=list)  # as the client saw each reset (round trip)


class SluiceSession(SluiceTesting):
    """The `sluice` fixture: a server for the test session plus its testing API.

    `endpoint` is where it listens (also in `AWS_ENDPOINT_URL`); `clock`, `reset()`,
    `outcome(request_id)`, `attempts("bucket/key")`, `journey("bucket/key")` and
    `queue_messages(name)` come from `SluiceTesting`; `deploy_stack(path)` and
    `stack_outputs(name)` deploy and read CloudFormation/SAM stacks."""

    def __init__(self, server: Server, mode: str, clock_mode: str, ready_seconds: float,
                 setup: Callable[[SluiceSession], None]) -> None:
        super().__init__(server.endpoint)
        self.server = server
        self.mode = mode  # "thread" or "process"
        self.clock_mode = clock_mode  # "manual" or "real"
        self.region = DEFAULT_REGION
        self.timings = Timings(ready_seconds=ready_seconds)
        self._setup = setup
        self._fresh = False  # nothing has touched the server since its set-up ran
        self.aws = AwsClients(self.endpoint, self.region)
        self._stacks = TemplateDeployer(self.aws, self.region)

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def prepare(self) -> None:
        """Run the session's set-up on the server as it is now (fresh)."""
        self._setup(self)
        self._fresh = True

    def fresh_state(self) -> None:
        """Reset the server (unless nothing used it since the last reset) and run the set-up again."""
        if self._fresh:
            return
        started = time.perf_counter()
        self.reset()
        self.timings.resets_ms.append((time.perf_counter() - started) * 1000)
        self.prepare()

    def reset(self) -> float:
        self._stacks.reset()  # the artifacts bucket goes with everything else
        return super().reset()

    def deploy_stack(self, path: str | Path, name: str | None = None, parameters: Mapping[str, Any] | None = None,
                     tags: Mapping[str, str] | None = None) -> DeployedStack:
        """Deploy a CloudFormation/SAM template as `aws cloudformation package` + `deploy` would:
        local `CodeUri`/`ContentUri`/`Code` paths (relative to the template) zipped and uploaded to
        the bucket `sluice-testing-artifacts-<account>-<region>`, a change set with
        CAPABILITY_IAM/NAMED_IAM/AUTO_EXPAND, executed and waited for (an existing stack is
        updated; no change is no error). Returns the stack's outputs and resources; raises
        StackDeployFailed with the failed resources' reasons if it rolled back. `name` defaults
        to the file's name without suffix (`template.yaml` -> stack `template`)."""
        return self._stacks.deploy(Path(path), name, parameters, tags)

    def stack(self, name: str | None = None) -> DeployedStack:
        """A stack as it is now (status, outputs, resources); no name: the only stack there is."""
        if name is None:
            stacks = [s["StackName"] for s in self.aws("cloudformation").describe_stacks()["Stacks"]]
            if len(stacks) != 1:
                raise StackDeployFailed(f"stack_outputs() without a name needs exactly one stack; there are {stacks}")
            name = stacks[0]
        return self._stacks.describe(name)

    def stack_outputs(self, name: str | None = None) -> dict[str, str]:
        """The outputs (OutputKey -> OutputValue) of stack `name` (no name: the only stack there is)."""
        return self.stack(name).outputs

    def used(self) -> None:
        """A test is about to use the server: its state is no longer the set-up's."""
        self._fresh = False


class AwsClients:
    """The `aws` fixture: `aws("s3")` is a boto3 client pointed at the session's server, with the
    test credentials and retries off (one attempt: a refusal shows at once). Clients without extra
    options are made once per session (a boto3 client takes tens of milliseconds to build)."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self._made: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str | None = None, **config: Any) -> Any:
        """A boto3 client for `service` ("s3", "lambda", "sqs", ...); `config`: botocore Config
        options (e.g. `s3={"addressing_style": "virtual"}`, `read_timeout=900`)."""
        region = region or self.region
        if not config and (service, region) in self._made:
            return self._made[(service, region)]
        client = boto3.client(service, endpoint_url=self.endpoint, region_name=region, **TEST_CREDENTIALS,
                              config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config))
        if not config:
            self._made[(service, region)] = client
        return client
