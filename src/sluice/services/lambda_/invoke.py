"""The Invoke operation and Lambda as a delivery target: both hand work to the engine's invoker."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from ...clock import Clock
from ...engine import xray
from ...engine.types import ResolvedFunction
from ...protocol import safejson
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...runtime import InvocationRequest, InvocationResult
from ..delivery import ACCESS_DENIED, INVALID, NOT_FOUND, TOO_LARGE, Delivery, DeliveryResult
from .permissions import Permissions
from .resolve import Resolver

# aws-reference §2: 1 MB for asynchronous invocations. (The 6 MB of a synchronous one is the
# whole request body: the gateway's front end refuses more before Invoke runs.)
MAX_ASYNC_PAYLOAD = 1024 * 1024
# Payloads up to this size are checked on the event loop (well under a millisecond); larger ones,
# up to 6 MB and hundreds of milliseconds to parse, in a worker thread, value by value so that the
# loop is not held out by the GIL meanwhile (safejson.check).
INLINE_JSON_CHECK = 16 * 1024
ENQUEUE_TIMEOUT = 30.0  # real seconds a delivery waits for its event to be committed


class Invoker(Protocol):
    """The engine, as the Invoke operation sees it."""

    async def invoke_sync(self, fn: ResolvedFunction, request: InvocationRequest) -> InvocationResult: ...

    async def enqueue(self, fn: ResolvedFunction, request_id: str, payload: bytes, trace_header: str) -> None: ...

    async def enqueue_many(self, fn: ResolvedFunction, events: Sequence[tuple[str, bytes, str]]) -> None: ...


def new_trace_header(clock: Clock) -> str:
    """An X-Ray trace header for an invocation that did not bring one (aws-reference §9)."""
    return str(xray.new_header(clock.now()))


def _check_json(payload: bytes) -> None:
    try:
        if len(payload) <= INLINE_JSON_CHECK:
            safejson.loads(payload)
        else:
            safejson.check(payload)  # lets the loop's thread in between values
    except ValueError as exc:
        raise ServiceError("InvalidRequestContentException",
                           f"Could not parse request body into json: Could not parse payload into json: {exc}",
                           Type="User") from None


def _check_client_context(value: str) -> None:
    """AWS refuses a ClientContext that is not base64 of a JSON object, whatever the invocation type."""
    try:
        # The header arrives as latin-1 text: a non-ASCII character is a ValueError too.
        decoded = safejson.loads(base64.b64decode(value, validate=True))
    except ValueError:  # binascii.Error, UnicodeDecodeError and JSON's errors are all ValueErrors
        decoded = None
    if not isinstance(decoded, dict):
        raise ServiceError("InvalidRequestContentException",
                           "Client context must be a valid Base64-encoded JSON object.", Type="User")


def _too_large(limit: int) -> ServiceError:
    # AWS names Invoke by its internal name in this message.
    return ServiceError("RequestEntityTooLargeException",
                        f"Request must be smaller than {limit} bytes for the InvokeFunction operation", Type="User")


class Invocations:
    def __init__(self, clock: Clock, resolver: Resolver, permissions: Permissions, invoker: Invoker | None) -> None:
        """`invoker` None: Invoke and deliveries are unavailable (an API-only instance)."""
        self.clock = clock
        self.resolver = resolver
        self.permissions = permissions
        self.invoker = invoker
        self.loop: asyncio.AbstractEventLoop | None = None  # the engine's, once the server runs

    async def invoke(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        if self.invoker is None:
            raise ServiceError("ServiceException", "The Lambda engine is not running.", sender_fault=False)
        fn = self.resolver.resolve(FunctionName, params.get("Qualifier"))
        kind = params.get("InvocationType") or "RequestResponse"
        payload: bytes = params.get("Payload") or b""
        if kind == "Event" and len(payload) > MAX_ASYNC_PAYLOAD:
            raise _too_large(MAX_ASYNC_PAYLOAD)
        if params.get("ClientContext"):
            _check_client_context(params["ClientContext"])
        if not payload.strip():
            payload = b"{}"
        elif len(payload) <= INLINE_JSON_CHECK:
            _check_json(payload)
        else:
            await asyncio.get_running_loop().run_in_executor(None, _check_json, payload)
        # The output's StatusCode is the HTTP status (the model binds it to the status line).
        if kind == "DryRun":
            return {"StatusCode": 204}
        sent = ctx.trace_header
        # A client's header (botocore sends one from inside a handler) keeps its trace; junk starts a new one.
        trace = sent if sent and xray.parse(sent) else new_trace_header(self.clock)
        if kind == "Event":
            await self.invoker.enqueue(fn, ctx.request_id, payload, trace)
            return {"StatusCode": 202}
        request = InvocationRequest(request_id=ctx.request_id, payload=payload, invoked_arn=fn.invoked_arn,
                                    trace_header=trace, client_context=params.get("ClientContext"))
        result = await self.invoker.invoke_sync(fn, request)
        out: dict[str, Any] = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": fn.executed_version}
        if result.function_error:
            out["FunctionError"] = result.function_error
        if params.get("LogType") == "Tail":
            tail = result.log_tail.encode()[-4096:]
            out["LogResult"] = base64.b64encode(tail).decode()
        return out

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """Invoke the function asynchronously with `delivery.body` as the event, as AWS services do.

        Runs in a worker thread: the event is queued on the engine's loop and committed before
        this returns."""
        return self.deliver_all(arn, [delivery])[0]

    def deliver_all(self, arn: str, deliveries: Sequence[Delivery]) -> list[DeliveryResult]:
        """`deliver` for a run of events to one function (in a worker thread): the accepted ones
        are queued in order in one transaction, so the run waits for one commit, not one each."""
        try:
            fn = self.resolver.resolve(arn)
        except ServiceError as err:
            failed = DeliveryResult.failed(NOT_FOUND if err.code == "ResourceNotFoundException" else INVALID,
                                           err.message)
            return [failed for _ in deliveries]
        results: list[DeliveryResult | None] = []
        events: list[tuple[str, bytes, str]] = []
        allowed: dict[tuple[str, str, str], bool] = {}  # one policy read per source in the run
        for delivery in deliveries:
            if delivery.principal == "s3.amazonaws.com":
                source = (delivery.principal, delivery.source_arn or "", delivery.source_account or "")
                if source not in allowed:
                    allowed[source] = self.permissions.allows(arn, *source)
                if not allowed[source]:
                    # The permission was removed after the notification was configured: AWS refuses too.
                    results.append(DeliveryResult.failed(ACCESS_DENIED, f"{delivery.principal} may not invoke {arn}"))
                    continue
            payload = delivery.body.encode()
            if len(payload) > MAX_ASYNC_PAYLOAD:
                results.append(DeliveryResult.failed(TOO_LARGE, f"payload of {len(payload)} bytes"))
                continue
            request_id = str(uuid.uuid4())
            trace = delivery.system_attributes.get("AWSTraceHeader") or new_trace_header(self.clock)
            events.append((request_id, payload, trace))
            results.append(None)
        if events:
            if self.loop is None or self.invoker is None:
                stopped = DeliveryResult.failed(INVALID, "the Lambda engine is not running")
                return [result or stopped for result in results]
            future = asyncio.run_coroutine_threadsafe(self.invoker.enqueue_many(fn, events), self.loop)
            future.result(timeout=ENQUEUE_TIMEOUT)
        ids = iter(request_id for request_id, _, _ in events)
        return [result or DeliveryResult(True, next(ids)) for result in results]
