"""The ASGI application: one port, every service.

It finds the service, hands the request to that service's wire protocol, runs the operation
(in a worker thread unless it is async), and sends back the result or the AWS error. It adds
the request ids every AWS response carries and logs one line per request at debug level.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import io
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .. import __version__, realtime
from ..clock import Clock
from ..protocol import generic_error
from ..protocol.context import RequestContext
from ..protocol.errors import NotModified, ServiceError, not_implemented
from ..protocol.http import HttpRequest, HttpResponse, ResponseBody
from ..protocol.ids import uuid4_text
from ..protocol.models import protocol_of
from ..protocol.selection import Protocols
from ..services.base import Service
from ..services.deferred import DeferredService
from ..settings import Settings
from ..workers import Workers
from . import limits
from .bodies import (
    MAX_CONTENT_LENGTH,
    ClientDisconnected,
    StreamingBody,
    discard,
    read_all,
    read_up_to,
)
from .callers import Callers
from .cors import CorsGate
from .identify import identify, virtual_host_bucket
from .presign import check_presigned
from .sigv4 import SecretLookup, TokenLookup

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from ..auth.enforcer import Enforcer
    from ..console import DeferredConsole
    from .testing_api import TestingApi

log = logging.getLogger("sluice.gateway")

# An internal endpoint: (rest of the path, query) -> (status, JSON-able body).
InternalHandler = Callable[[str, dict[str, list[str]]], tuple[int, Any]]
# A /_sluice/ endpoint that takes a PUT body (rest of the path, body) -> (status, body).
InternalWriteHandler = Callable[[str, bytes], tuple[int, Any]]
# The most an internal PUT may carry (a custom resource response is at most 4 KiB on AWS).
_INTERNAL_BODY_LIMIT = 64 * 1024


class Background(Protocol):
    """The engine's background work, as the server's lifespan sees it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

HEALTH_PATH = "/_sluice/health"

_random_bits = random.getrandbits
_random_bytes = random.randbytes

# The most of an unread body left for uvicorn to read and throw away so the connection lives on.
_DISCARD_LIMIT = 64 * 1024 * 1024


def new_request_id(service: str) -> str:
    """S3's request ids are 16 hex digits; the other services use UUIDs. From the process's
    PRNG, not os.urandom: an id only has to be unique, not unguessable, and two system calls a
    request were a measurable part of a small one (random reseeds itself in a forked child)."""
    return f"{_random_bits(64):016X}" if service == "s3" else uuid4_text(_random_bytes(16))


def new_host_id() -> str:
    return binascii.b2a_base64(_random_bytes(48), newline=False).decode()


class Gateway:
    def __init__(self, settings: Settings, clock: Clock, services: Mapping[str, Service], workers: int = 64,
                 secret_for: SecretLookup | None = None, token_for: TokenLookup | None = None,
                 engine: Background | None = None, enforcer: Enforcer | None = None,
                 plain: Enforcer | None = None, checked: Callable[[str], bool] | None = None) -> None:
        """`engine`: the background work, started after the services and stopped before them;
        the rest: who checks signatures and authorizes requests (callers.py)."""
        self.settings = settings
        self.callers = Callers(settings, secret_for, token_for, enforcer, plain, checked)
        self.clock = clock
        self.services = dict(services)
        self.protocols = Protocols()
        self.pool = Workers(max_workers=workers, thread_name_prefix="sluice-op")
        # Sluice's own read-only endpoints under /_sluice/ (path prefix -> handler).
        self.internal: dict[str, InternalHandler] = {}
        # The testing API v1 (reset, clock, outcomes, queue peeks), set by the composition root.
        self.testing: TestingApi | None = None
        # ... and those that accept a PUT (custom resource responses' ResponseURL).
        self.internal_writes: dict[str, InternalWriteHandler] = {}
        # The web console under /_sluice/console/ (set by the composition root).
        self.console: DeferredConsole | None = None
        self.engine = engine
        # S3's CORS: preflights answered unsigned, Access-Control-* headers on actual requests.
        bucket_cors = getattr(self.services.get("s3"), "cors", None)
        self.cors = CorsGate(bucket_cors, self.pool) if bucket_cors is not None else None
        # (service, operation) -> (the callable, async?, on the loop?): a service's lookup builds
        # wrappers (S3's owner and encryption checks) and inspect's test is slow; per request,
        # they were a tenth of a GetObject's CPU. The services never change after start.
        self._operations: dict[tuple[str, str], tuple[Any, bool, bool]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        raw_headers = scope["headers"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        if len(headers) != len(raw_headers):  # a repeated header: its values joined, in order
            headers = {}
            for k, v in raw_headers:
                name = k.decode("latin-1").lower()
                value = v.decode("latin-1")
                headers[name] = f"{headers[name]},{value}" if name in headers else value
        client = scope.get("client") or ("127.0.0.1", 0)
        req = HttpRequest(
            method=scope["method"],
            path=path,
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            client_ip=client[0],
            scheme=scope.get("scheme", "http"),
        )
        if path.startswith("/_sluice/"):  # Sluice's own endpoints, the console's included
            await self._sluice_endpoint(req, receive, send)
            return

        caller = identify(req, self.settings.region)
        if caller.service != "s3" and self.callers.forged_by_a_page(caller.access_key, headers):
            # A web page can make a browser send a simple request (no preflight) with query
            # credentials it forged for a key whose secret is public (test, 12-digit ids, keys
            # nobody issued): from a page, such a request is anonymous. S3 asks its bucket's CORS
            # rules first (a page's presigned URLs and forms are its CORS use): see callers.py.
            caller.access_key = None
        ctx = RequestContext(
            request_id=new_request_id(caller.service),
            host_id=new_host_id() if caller.service == "s3" else "",  # S3's alone (x-amz-id-2, HostId)
            account_id=self.settings.account_id,
            region=caller.region or self.settings.region,
            service=caller.service,
            access_key=caller.access_key,
            source_ip=req.client_ip,
            endpoint=f"{req.scheme}://{req.host}" if req.host else self.settings.endpoint_url,
            headers=headers,
            trace_header=headers.get("x-amzn-trace-id"),
            logs_format=headers.get("x-amzn-logs-format", "").lower(),
        )
        service = self.services.get(caller.service)
        try:
            if service is None:
                whole = await discard(receive, _DISCARD_LIMIT)
                response = await self._unknown_service(caller.service, ctx)
                if not whole:
                    response.headers.append(("Connection", "close"))
            else:
                signed_path = req.path
                if service.name == "s3":
                    bucket = virtual_host_bucket(req.host)
                    if bucket:
                        req.path = f"/{bucket}{req.path}"
                if self.cors is not None and service.name == "s3" and req.method == "OPTIONS":
                    response = await self.cors.preflight(req, ctx, self.protocols.for_request("s3", req)[0])
                else:
                    if self.cors is not None and service.name == "s3" and "origin" in headers \
                            and req.method not in ("GET", "HEAD"):
                        # Reads stay as on AWS: without the bucket's CORS grant a page cannot read the answer.
                        ctx.foreign_page = await self.cors.foreign_page(req)
                    response = await self._dispatch(service, req, receive, ctx, signed_path)
                    if self.cors is not None and service.name == "s3":
                        await self.cors.decorate(req, response)
        except ClientDisconnected:
            log.debug("%s %s: client went away", req.method, req.path)
            return
        await self._send(send, req, response, ctx)
        if log.isEnabledFor(logging.DEBUG):  # its arguments cost more than the check
            log.debug(
                "%s %s %s %s -> %d %.1fms",
                req.method, req.path, ctx.service, ctx.operation or "-", response.status,
                (time.perf_counter() - started) * 1000,
            )

    async def _sluice_endpoint(self, req: HttpRequest, receive: Any, send: Any) -> None:
        """/_sluice/...: health, the console, the testing API, then the internal endpoints."""
        if req.path == HEALTH_PATH:
            await self._send(send, req, self._health(), None)
            return
        if self.console is not None and self.console.handles(req.path):
            await self.console.serve(req, receive, send)
            return
        if self.testing is not None and self.testing.handles(req.path):
            await self._send(send, req, await self.testing.handle(req, receive), None)
            return
        try:
            response = (await self._internal_write(req, receive) if req.method == "PUT"
                        else await self._internal(req))
        except ClientDisconnected:
            return
        await self._send(send, req, response, None)

    async def _dispatch(self, service: Service, req: HttpRequest, receive: Any, ctx: RequestContext,
                        signed_path: str) -> HttpResponse:
        protocol, wire = self.protocols.for_request(service.name, req)
        ctx.query_wire = wire == "query"
        loop = asyncio.get_running_loop()
        length = req.content_length
        # Without Content-Length or Transfer-Encoding a request has no body (a GET, say).
        has_body = length is not None or "transfer-encoding" in req.headers
        small = not has_body or (length is not None and length <= self.settings.buffer_limit)
        if small and has_body and limits.streams_bodies(service.name) and _awaits_continue_unsigned(req):
            # Read only once authorized, as S3 does: an anonymous caller it refuses gets the 403
            # instead of "100 Continue" (and keeps its body). Unsigned only: a signed body's
            # payload hash is checked on a body in memory.
            small = False
        streaming: StreamingBody | None = None
        in_memory = False  # the whole body is in req.body
        op: OperationModel | None = None
        route_error: ServiceError | None = None
        try:
            if small:
                req.body = io.BytesIO(await read_all(receive) if length else b"")
                in_memory = True
            elif length is not None and length > MAX_CONTENT_LENGTH:
                raise limits.absurd_content_length(service.name, str(length))
            elif limits.streams_bodies(service.name):
                streaming = StreamingBody(receive, loop)
                req.body = streaming
            else:
                op, route_error = await self._read_whole(service, protocol, req, receive, length)
                in_memory = True
            # Real time, not the clock's: the client signed with its own real time, and a test
            # that moved a manual clock on hours must still be able to call (and presign).
            check_presigned(req, realtime.wall())
            verifier = self.callers.verifier_for(ctx.access_key)
            if verifier is not None:
                body = req.body.getvalue() if isinstance(req.body, io.BytesIO) else None
                verifier.verify(req, service.name, signed_path, realtime.wall(), body)
            if route_error is not None:
                raise route_error
            if op is None:
                # Routing off the loop only where it parses a body (_route); else here, without
                # a coroutine for it.
                op = await self._route(protocol, req, small) if protocol.routes_on_body else protocol.route(req)
            ctx.operation = op.name
            if isinstance(service, DeferredService) and not service.is_built:
                await self.pool.run(loop, service.built)  # its first request imports it: off the loop
            fn, is_async, on_loop = self._operation(service, op.name)
            if fn is None:
                raise not_implemented(service.name, op.name)
            if is_async:
                if streaming is not None:
                    req.body = io.BytesIO(await streaming.read_rest())
                if small:
                    params = protocol.parse(op, req)
                else:
                    params = await self.pool.run(loop, protocol.parse, op, req)
                self.callers.authorize(ctx, op.name, params)
                result = await fn(ctx, **params)
            elif on_loop and small:
                result = self._call(protocol, op, req, ctx, fn)
            else:
                result = await self.pool.run(loop, self._call, protocol, op, req, ctx, fn)
            response = protocol.serialize(op, result or {}, ctx)
        except ServiceError as err:
            response = protocol.serialize_error(err, ctx)
        except NotModified as nm:
            response = HttpResponse(304, list(nm.headers.items()))
        except ClientDisconnected:
            raise
        except Exception:
            log.exception("internal error in %s.%s", service.name, ctx.operation)
            internal = ServiceError("InternalError", "We encountered an internal error. Please try again.",
                                    500, sender_fault=False)
            response = protocol.serialize_error(internal, ctx)
        if not in_memory and not (streaming is not None and streaming.complete):
            # Answered before the whole body arrived (a refusal, usually), at once. uvicorn reads
            # and drops what still comes, so a bounded rest keeps the connection; an unknown or
            # huge rest is not worth reading: the connection closes after the answer, as AWS's does.
            # So does one whose client was told no 100 Continue: it may never send the body, and
            # uvicorn would take its next request for the rest of this one.
            received = streaming.received if streaming is not None else 0
            if (length is None or length - received > _DISCARD_LIMIT
                    or (received == 0 and "100-continue" in req.headers.get("expect", "").lower())):
                response.headers.append(("Connection", "close"))
        return response

    def _operation(self, service: Service, name: str) -> tuple[Any, bool, bool]:
        """(the operation, whether it is async, whether it runs on the loop: Service.runs_on_loop)."""
        key = (service.name, name)
        found = self._operations.get(key)
        if found is None:
            fn = service.operation(name)
            is_async = fn is not None and inspect.iscoroutinefunction(fn)
            found = self._operations[key] = (fn, is_async, not is_async and service.runs_on_loop(name))
        return found

    async def _route(self, protocol: Any, req: HttpRequest, small: bool) -> OperationModel:
        """The operation; the body, when routing needs it, is in memory by now."""
        if protocol.routes_on_body and (not small or "content-encoding" in req.headers):
            # Parsing a big form or inflating gzip takes a while: not on the loop.
            op: OperationModel = await self.pool.run(asyncio.get_running_loop(), protocol.route, req)
            return op
        routed: OperationModel = protocol.route(req)
        return routed

    async def _read_whole(self, service: Service, protocol: Any, req: HttpRequest, receive: Any,
                          length: int | None) -> tuple[OperationModel | None, ServiceError | None]:
        """Read a large body that its operation will parse whole (everything but S3's uploads),
        awaiting each piece so the loop serves others meanwhile, up to what the operation takes;
        past that, refuse it at once. The operation, if it is known without the body."""
        op: OperationModel | None = None
        route_error: ServiceError | None = None
        if not protocol.routes_on_body:
            try:
                op = protocol.route(req)
            except ServiceError as err:
                route_error = err  # answered after the signature checks, as for any request
        limit = limits.request_limit(service.name, op.name if op else None)
        data = None if length is not None and length > limit else await read_up_to(receive, limit)
        if data is None:
            raise limits.too_large(service.name, op.name if op else None, limit)
        req.body = io.BytesIO(data)
        return op, route_error

    def _call(self, protocol: Any, op: OperationModel, req: HttpRequest, ctx: RequestContext, fn: Any) -> Any:
        params = protocol.parse(op, req)
        self.callers.authorize(ctx, op.name, params)
        return fn(ctx, **params)

    async def _internal(self, req: HttpRequest) -> HttpResponse:
        for prefix, handler in self.internal.items():
            if req.path.startswith(prefix):
                loop = asyncio.get_running_loop()
                status, body = await loop.run_in_executor(self.pool, handler, req.path[len(prefix):], req.query)
                return _internal_answer(status, body)
        return HttpResponse(404, [("Content-Type", "application/json")], b'{"error": "not found"}')

    async def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking call in the gateway's worker pool, off the event loop."""
        return await self.pool.run(asyncio.get_running_loop(), fn, *args)

    async def _internal_write(self, req: HttpRequest, receive: Any) -> HttpResponse:
        for prefix, handler in self.internal_writes.items():
            if req.path.startswith(prefix):
                body = await read_up_to(receive, _INTERNAL_BODY_LIMIT)
                if body is None:
                    return HttpResponse(413, [("Content-Type", "application/json")], b'{"error": "body too large"}')
                loop = asyncio.get_running_loop()
                status, out = await loop.run_in_executor(self.pool, handler, req.path[len(prefix):], body)
                return _internal_answer(status, out)
        return HttpResponse(405, [("Content-Type", "application/json")], b'{"error": "method not allowed"}')

    async def _unknown_service(self, name: str, ctx: RequestContext) -> HttpResponse:
        # Off the loop: the first request for a service reads its botocore model.
        protocol = await self.pool.run(asyncio.get_running_loop(), protocol_of, name)
        return generic_error(not_implemented(name), ctx, protocol)

    def _health(self) -> HttpResponse:
        body = json.dumps({
            "status": "ok",
            "version": __version__,
            "services": sorted(self.services),
            "data_dir": str(self.settings.data_dir.resolve()),
            "region": self.settings.region,
            "account": self.settings.account_id,
            "time_scale": self.settings.time_scale,
            "clock": self.testing.mode if self.testing is not None else "real",
            "testing_api": 1,
        }).encode()
        return HttpResponse(200, [("Content-Type", "application/json")], body)

    async def _send(self, send: Any, req: HttpRequest, response: HttpResponse, ctx: RequestContext | None) -> None:
        headers: list[tuple[bytes, bytes]] = []
        has_length = False
        for k, v in response.headers:
            name = _NAMES.get(k)
            if name is None:
                name = k.encode("latin-1")
                has_length = has_length or k.lower() == "content-length"
            elif name is _CONTENT_LENGTH:
                has_length = True
            try:  # _header_value, inline: a call per header was a tenth of this method
                headers.append((name, v.encode("latin-1")))
            except UnicodeEncodeError:
                headers.append((name, _header_value(v)))
        if ctx is not None:
            # As AWS answers: S3 with its request id and host id, the other services with
            # x-amzn-RequestId alone (SQS's JSON API guide shows no other).
            if ctx.service == "s3":
                headers.append((b"x-amz-request-id", ctx.request_id.encode()))
                headers.append((b"x-amz-id-2", ctx.host_id.encode()))
            else:
                headers.append((b"x-amzn-requestid", ctx.request_id.encode()))
        headers.append(_SERVER)
        body = response.body
        if isinstance(body, ResponseBody):
            if body.length is not None and not has_length:
                headers.append((b"content-length", str(body.length).encode()))
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            if req.method == "HEAD":
                body.close()
                await send({"type": "http.response.body", "body": b""})
                return
            loop = asyncio.get_running_loop()
            it = iter(body)
            try:
                while True:
                    chunk = await self.pool.run(loop, next, it, None)
                    if chunk is None:
                        break
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            finally:
                body.close()
            await send({"type": "http.response.body", "body": b""})
            return
        if not has_length and not (req.method == "HEAD" and not body):
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if req.method == "HEAD" else body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for s in self.services.values():
                    await s.start()
                if self.engine is not None:
                    await self.engine.start()
                # Each service's botocore model is parsed when that service first sees a request
                # (self.protocols), not here: a server that only ever sees S3 and SQS never holds
                # the other seven models (tens of MB, and CPU right after start-up).
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.engine is not None:
                    await self.engine.stop()
                for s in self.services.values():
                    await s.stop()
                self.pool.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _internal_answer(status: int, body: Any) -> HttpResponse:
    """An internal endpoint's answer: bytes as they are, anything else as JSON."""
    if isinstance(body, bytes):
        return HttpResponse(status, [("Content-Type", "application/octet-stream")], body)
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())


_CONTENT_LENGTH = b"Content-Length"
_SERVER = (b"server", b"Sluice")
# Header names the operations answer with, encoded once (any other is encoded per response).
_NAMES = {name.decode(): name for name in (
    _CONTENT_LENGTH, b"Content-Type", b"ETag", b"Last-Modified", b"x-amz-version-id",
    b"x-amz-server-side-encryption", b"x-amz-checksum-crc32", b"x-amz-checksum-crc64nvme",
    b"Accept-Ranges", b"x-amz-expiration", b"Content-Range", b"x-amzn-ErrorType",
    b"x-amzn-query-error", b"x-amz-delete-marker", b"x-amz-storage-class")}


def _header_value(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        # RFC 2047, as S3 returns non-ASCII user metadata.
        return ("=?UTF-8?B?" + base64.b64encode(value.encode()).decode() + "?=").encode()


def _awaits_continue_unsigned(req: HttpRequest) -> bool:
    """An anonymous request (no signature in headers or query) waiting for "100 Continue"."""
    return ("100-continue" in req.headers.get("expect", "").lower() and "authorization" not in req.headers
            and not any(name in req.query for name in ("X-Amz-Signature", "Signature")))
