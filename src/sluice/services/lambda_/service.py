"""Lambda's control plane, as one service made of parts of one job each: functions, versions and
aliases, permissions, invocation settings (async settings, concurrency), event source mappings,
and the Invoke operation, which hands work to the engine. No HTTP, no JSON wire details.

The facade lists its parts for the protocol layer (`operation_owners`) and offers the rest of
Sluice the interface it uses: the engine resolves functions and counts reserved concurrency, the
pollers read mappings, S3 and IAM read resource policies, Deliveries invoke functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...clock import Clock
from ...engine.types import ResolvedFunction
from ...runtime.python import Notes, PythonChoice
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import Delivery, DeliveryResult
from . import records
from .code import CodeStore
from .functions import Functions
from .invoke import Invocations, Invoker
from .invoke_config import InvokeConfigs
from .layer_policy import LayerPolicies
from .layer_records import blobs as layer_blobs
from .layer_records import digests as layer_digests
from .layer_use import FunctionLayers
from .layers import Layers
from .mappings import EventSourceMappings
from .permissions import Permissions
from .resolve import Resolver
from .roles import UNCHECKED, ExecutionRoles
from .state import LambdaState
from .versions import Versions


class LambdaService(Service):
    name = "lambda"

    def __init__(self, store: Store, clock: Clock, settings: Settings, s3: Service | None = None,
                 python_runtimes: Mapping[str, PythonChoice] | None = None,
                 invoker: Callable[[LambdaService], Invoker] | None = None,
                 on_mappings_changed: Callable[[], None] = lambda: None,
                 roles: ExecutionRoles = UNCHECKED) -> None:
        """`invoker` builds the engine's invoker over this service's functions (None: Invoke is
        unavailable, e.g. an API-only instance); `on_mappings_changed` wakes the SQS pollers;
        `roles` answers for execution roles (IAM enforcement); `python_runtimes`: how each Python
        runtime runs here (runtime/python.py's `discover`; None: on Sluice's own Python)."""
        self.state = LambdaState(store.db, clock, settings)
        # Not `or {}`: that would ask a background discovery for its length, and wait for it.
        python_runtimes = {} if python_runtimes is None else python_runtimes
        self.state.runtime_notes = Notes(python_runtimes)
        code = CodeStore(store.blobs, store.data_dir / "code")
        layer_code = CodeStore(store.blobs, store.data_dir / "layers")
        function_layers = self.function_layers = FunctionLayers(self.state, layer_code, code, store.data_dir / "opt")
        self.functions = Functions(self.state, code, roles, s3, function_layers)
        self.layers = Layers(self.state, layer_code, self.functions.fetch_s3)
        self.layer_policies = LayerPolicies(self.layers)
        self.versions = Versions(self.state)
        self.permissions = Permissions(self.state)
        self.invoke_configs = InvokeConfigs(self.state)
        self.mappings = EventSourceMappings(self.state, roles, on_mappings_changed)
        self.resolver = Resolver(self.state, code, function_layers, roles, self.invoke_configs, python_runtimes)
        self.invoker = invoker(self) if invoker is not None else None
        self.invocations = Invocations(clock, self.resolver, self.permissions, self.invoker)

    def operation_owners(self) -> Sequence[object]:
        return (self.functions, self.versions, self.permissions, self.invoke_configs, self.mappings,
                self.invocations, self.layers, self.layer_policies)

    async def start(self) -> None:
        # The engine (invoker, pollers, environments) is started and stopped by the server;
        # deliveries, made from worker threads, queue their events on this loop.
        self.invocations.loop = asyncio.get_running_loop()
        # Before any environment runs: layer files no function and no published version uses.
        reader = self.state.reader
        self.function_layers.prune([c.get("_layers") or [] for c in records.all_package_configs(reader)],
                                   layer_digests(reader))

    def reset(self) -> None:
        self.state.generation += 1  # every resolved function and reserved total is stale
        self.resolver.reset()

    # -- the interface the rest of Sluice uses -----------------------------------------------

    def resolve(self, FunctionName: str, Qualifier: str | None = None) -> ResolvedFunction:  # noqa: N803
        """Everything an invocation needs; the engine calls this at each attempt."""
        return self.resolver.resolve(FunctionName, Qualifier)

    def reserved_total(self, except_name: str | None = None) -> int:
        return self.invoke_configs.reserved_total(except_name)

    def function_names(self) -> list[str]:
        return records.function_names(self.state.reader)

    def execution_role(self, function_name: str) -> str | None:
        """The role a function's deliveries (DLQ, destinations) are made as; None if it is gone."""
        return self.resolver.execution_role(function_name)

    def code_zip(self, name: str, hex_digest: str) -> bytes | None:
        return self.functions.code_zip(name, hex_digest)

    def layer_archive(self, name: str, version: int) -> bytes | None:
        return self.layers.archive(name, version)

    def referenced_blobs(self) -> set[str]:
        """Every stored archive still in use: packages, layers, functions' copies of layers."""
        reader = self.state.reader
        return records.package_blobs(reader) | layer_blobs(reader)

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        return self.permissions.resource_policy(arn)

    def allows(self, function_arn: str, principal: str, source_arn: str, source_account: str) -> bool:
        return self.permissions.allows(function_arn, principal, source_arn, source_account)

    def enabled_mappings(self) -> list[dict[str, Any]]:
        return self.mappings.enabled_mappings()

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        return self.invocations.deliver(arn, delivery)

    def deliver_all(self, arn: str, deliveries: Sequence[Delivery]) -> list[DeliveryResult]:
        return self.invocations.deliver_all(arn, deliveries)
