"""S3's CORS on the wire: preflight OPTIONS requests, answered without authentication (a browser
never signs them), and the Access-Control-* headers added to actual requests from an Origin.

The decisions are the S3 service's (`services/s3/cors.py`); this module reads the request headers
they need and writes the headers S3 answers with, in S3's order. Both lookups run on the worker
pool: a bucket read is still a database read, and the event loop stays free.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Any
from urllib.parse import unquote

from ..protocol.context import RequestContext
from ..protocol.errors import ServiceError
from ..protocol.http import HttpRequest, HttpResponse
from ..services.s3.cors import BucketCors, CorsGrant

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


def _target(req: HttpRequest) -> tuple[str, str]:
    """(bucket, resource type) of a path-style S3 path (virtual hosts are rewritten by then)."""
    bucket, _, key = req.path.lstrip("/").partition("/")
    return unquote(bucket), "OBJECT" if key else "BUCKET"


def grant_headers(grant: CorsGrant) -> list[tuple[str, str]]:
    headers = [("Access-Control-Allow-Origin", grant.allow_origin),
               ("Access-Control-Allow-Methods", ", ".join(grant.allow_methods))]
    if grant.allow_headers:
        headers.append(("Access-Control-Allow-Headers", ", ".join(grant.allow_headers)))
    if grant.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ", ".join(grant.expose_headers)))
    if grant.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(grant.max_age)))
    if grant.credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    headers.append(("Vary", VARY))
    return headers


class CorsGate:
    def __init__(self, cors: BucketCors, pool: Executor) -> None:
        self.cors = cors
        self.pool = pool

    async def preflight(self, req: HttpRequest, ctx: RequestContext, protocol: Any) -> HttpResponse:
        """200 with the grant's headers, or S3's refusal (BadRequest, AccessForbidden)."""
        ctx.operation = "PreflightRequest"
        bucket, resource_type = _target(req)
        loop = asyncio.get_running_loop()
        try:
            grant = await loop.run_in_executor(
                self.pool, self.cors.preflight, bucket, resource_type, req.headers.get("origin"),
                req.headers.get("access-control-request-method"), req.headers.get("access-control-request-headers"))
        except ServiceError as err:
            response: HttpResponse = protocol.serialize_error(err, ctx)
            return response
        return HttpResponse(200, grant_headers(grant), b"")

    async def foreign_page(self, req: HttpRequest) -> bool:
        """The request comes from a web page (it has an Origin) whose origin the bucket's CORS
        rules do not let in for this method."""
        origin = req.headers.get("origin")
        if not origin:
            return False
        bucket, _ = _target(req)
        method = req.headers.get("access-control-request-method") or req.method
        grant = await asyncio.get_running_loop().run_in_executor(self.pool, self.cors.actual, bucket, origin, method)
        return grant is None

    async def decorate(self, req: HttpRequest, response: HttpResponse) -> None:
        """Add the Access-Control-* headers an actual request from an Origin earns, on success and
        on error alike (S3 answers a refused upload with them, so the page can read the error)."""
        origin = req.headers.get("origin")
        if not origin:
            return
        bucket, _ = _target(req)
        # S3 takes the method a preflight would have named when the request carries one.
        method = req.headers.get("access-control-request-method") or req.method
        loop = asyncio.get_running_loop()
        grant = await loop.run_in_executor(self.pool, self.cors.actual, bucket, origin, method)
        if grant is not None:
            response.headers.extend(grant_headers(grant))
