"""Lambda's control plane, as one service made of parts of one job each: functions, versions and
aliases, permissions, invocation settings (async settings, concurrency), event source mappings,
and the Invoke operation, which hands work to the engine. No HTTP, no JSON wire details.

The facade lists its parts for the protocol layer (`operation_owners`) and offers the rest of
Sluice the interface it uses: the engine resolves functions and counts reserved concurrency, the
pollers read mappings, S3 and IAM read resource policies, Deliveries invoke functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from ...clock import Clock
from ...engine.types import ResolvedFunction
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import Delivery, DeliveryResult
from . import records
from .code import CodeStore
from .functions import Functions
from .invoke import Invocations, Invoker
from .invoke_config import InvokeConfigs
from .mappings import EventSourceMappings
from .permissions import Permissions
from .resolve import Resolver
from .roles import UNCHECKED, ExecutionRoles
from .state import LambdaState
from .versions import Versions


class LambdaService(Service):
    name = "lambda"

    def __init__(self, store: Store, clock: Clock, settings: Settings, s3: Service | None = None,
                 python_overrides: dict[str, str] | None = None,
                 invoker: Callable[[LambdaService], Invoker] | None = None,
                 on_mappings_changed: Callable[[], None] = lambda: None,
                 roles: ExecutionRoles = UNCHECKED) -> None:
        """`invoker` builds the engine's invoker over this service's functions (None: Invoke is
        unavailable, e.g. an API-only instance); `on_mappings_changed` wakes the SQS pollers;
        `roles` answers for execution roles (IAM enforcement)."""
        self.state = LambdaState(store.db, clock, settings)
        code = CodeStore(store.blobs, store.data_dir / "code")
        self.functions = Functions(self.state, code, roles, s3)
        self.versions = Versions(self.state)
        self.permissions = Permissions(self.state)
        self.invoke_configs = InvokeConfigs(self.state)
        self.mappings = EventSourceMappings(self.state, roles, on_mappings_changed)
        self.resolver = Resolver(self.state, code, roles, self.invoke_configs, python_overrides or {})
        self.invoker = invoker(self) if invoker is not None else None
        self.invocations = Invocations(clock, self.resolver, self.permissions, self.invoker)

    def operation_owners(self) -> Sequence[object]:
        return (self.functions, self.versions, self.permissions, self.invoke_configs, self.mappings,
                self.invocations)

    async def start(self) -> None:
        # The engine (invoker, pollers, environments) is started and stopped by the server;
        # deliveries, made from worker threads, queue their events on this loop.
        self.invocations.loop = asyncio.get_running_loop()

    def reset(self) -> None:
        self.state.generation += 1  # every resolved function and reserved total is stale

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

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        return self.permissions.resource_policy(arn)

    def allows(self, function_arn: str, principal: str, source_arn: str, source_account: str) -> bool:
        return self.permissions.allows(function_arn, principal, source_arn, source_account)

    def enabled_mappings(self) -> list[dict[str, Any]]:
        return self.mappings.enabled_mappings()

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        return self.invocations.deliver(arn, delivery)
