"""How a console page calls Sluice: the services' public operations, as the wire calls them.

An operation runs with a RequestContext of the console's identity, is authorized by the same
enforcer as a wire request (under --enforce-iam), and runs in the gateway's worker pool (an
`async def` operation, Invoke say, on the loop as the gateway runs it). A refusal is the
operation's own ServiceError: the page shows its code and message as AWS does.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..auth.identity import Identity
from ..protocol.context import RequestContext
from ..protocol.errors import ServiceError, not_implemented
from ..protocol.models import service_model
from ..protocol.statuses import http_status
from ..protocol.validate import validate
from ..services.base import Service
from ..services.deferred import DeferredService
from ..settings import Settings

if TYPE_CHECKING:
    from ..auth.enforcer import Enforcer

RunBlocking = Callable[..., Awaitable[Any]]


def _request_ids(service: str) -> tuple[str, str]:
    from ..gateway.app import new_host_id, new_request_id  # the wire's own id formats

    return new_request_id(service), new_host_id()


class Api:
    def __init__(self, settings: Settings, services: Mapping[str, Service], run_blocking: RunBlocking,
                 enforcer: Enforcer | None) -> None:
        self._settings = settings
        self._services = services
        self._run_blocking = run_blocking
        self._enforcer = enforcer

    @property
    def enforcing(self) -> bool:
        """Whether IAM policies decide (--enforce-iam)."""
        return self._enforcer is not None

    def context(self, identity: Identity, service: str, operation: str, source_ip: str = "127.0.0.1") -> RequestContext:
        request_id, host_id = _request_ids(service)
        return RequestContext(request_id=request_id, host_id=host_id, account_id=self._settings.account_id,
                              region=self._settings.region, service=service, access_key=identity.access_key,
                              operation=operation, source_ip=source_ip, endpoint=self._settings.endpoint_url,
                              headers={"user-agent": "sluice-console"})

    async def call(self, identity: Identity, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """The operation's output members; raises its ServiceError (AccessDenied included)."""
        result, _ = await self.call_traced(identity, service, operation, **params)
        return result

    async def call_traced(self, identity: Identity, service: str, operation: str, /,
                          **params: Any) -> tuple[dict[str, Any], str]:
        """`call`, and the request id the operation ran with (an Event invoke's is the Lambda
        request id its journey goes by)."""
        owner = self._services.get(service)
        if owner is None:
            raise not_implemented(service)
        if isinstance(owner, DeferredService) and not owner.is_built:
            await self._run_blocking(owner.built)  # a page's first call imports the service: not on the loop
        fn = owner.operation(operation)
        if fn is None:
            raise not_implemented(service, operation)
        ctx = self.context(identity, service, operation)
        try:
            if service == "lambda":  # (loading a model the first time takes a while: not on the loop)
                await self._run_blocking(_validate, service, operation, params)
            return await self._run(fn, ctx, operation, params), ctx.request_id
        except ServiceError as err:
            if err.status is None:  # the status the wire would answer with, for the page to show
                err.status = http_status(err, service_model(service))
            raise

    async def authorize(self, identity: Identity, service: str, operation: str, /, **params: Any) -> None:
        """Raise AccessDenied if the identity may not run the operation (under --enforce-iam), for a
        page that reads through an engine view what that operation would show (a queue peek)."""
        if self._enforcer is None:
            return
        ctx = self.context(identity, service, operation)
        try:
            await self._run_blocking(self._enforcer.authorize, ctx, operation, params)
        except ServiceError as err:
            if err.status is None:
                err.status = http_status(err, service_model(service))
            raise

    async def _run(self, fn: Callable[..., Any], ctx: RequestContext, operation: str,
                   params: dict[str, Any]) -> dict[str, Any]:
        if inspect.iscoroutinefunction(fn):
            if self._enforcer is not None:
                await self._run_blocking(self._enforcer.authorize, ctx, operation, params)
            result = await fn(ctx, **params)
        else:
            result = await self._run_blocking(self._authorized, fn, ctx, operation, params)
        return dict(result or {})

    def _authorized(self, fn: Callable[..., Any], ctx: RequestContext, operation: str, params: dict[str, Any]) -> Any:
        if self._enforcer is not None:
            self._enforcer.authorize(ctx, operation, params)
        return fn(ctx, **params)


def _validate(service: str, operation: str, params: dict[str, Any]) -> None:
    """The model's checks the wire's protocol layer makes before an operation (rest-json, i.e.
    Lambda: ranges, enums and required members, in Lambda's ValidationException words); the
    other protocols leave them to the services, which make them for the console too."""
    model = service_model(service)
    if model.metadata.get("protocol") == "rest-json":
        validate(params, model.operation_model(operation).input_shape, required=True)
