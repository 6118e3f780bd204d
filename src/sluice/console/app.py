"""The web console: pages under /_sluice/console/ on Sluice's own port.

The gateway hands every request under the prefix to `Console.serve`. The console checks the
Host (loopback servers answer only to loopback names), finds who is signed in, refuses a POST
from another origin or without the page's CSRF token, then runs the page's handler. Handlers
call Sluice only through the services' operations (console/api.py) and the engine's read views
(`ConsoleViews`); an AWS error renders as AWS shows it. Every answer carries the guard's
security headers.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2

from .. import __version__
from ..auth.identity import Identity
from ..gateway.bodies import ClientDisconnected, read_up_to
from ..protocol.errors import ServiceError
from ..protocol.http import HttpRequest, HttpResponse, ResponseBody
from ..services.base import Service
from ..settings import Settings
from . import filters
from .api import Api, RunBlocking
from .guard import CSRF_FIELD, CSRF_HEADER, SECURITY_HEADERS, Guard, Refused
from .request import ConsoleRequest
from .router import Router
from .session import IdentityLookup, Sessions
from .sse import EventStream
from .views import PREFIX, ConsoleViews

log = logging.getLogger("sluice.console")

STATIC = "/static/"
# The largest POST body the console reads: a browser upload goes to S3 in one PutObject.
MAX_BODY = 256 * 1024 * 1024
_FORM_LIMIT = 8 * 1024 * 1024  # urlencoded forms: a function's code, a policy, a JSON event


class Console:
    def __init__(self, settings: Settings, services: Mapping[str, Service], run_blocking: RunBlocking,
                 identities: IdentityLookup, enforcer: Any = None, views: ConsoleViews | None = None,
                 secret: bytes | None = None) -> None:
        """`identities`: access key -> identity (IAM's credentials); `enforcer`: --enforce-iam's,
        which then authorizes every operation a page runs as the signed-in identity."""
        self.settings = settings
        self.services = services
        self.views = views or ConsoleViews()
        self.run_blocking = run_blocking
        secret = secret or os.urandom(32)  # per server: cookies and tokens die with it
        self.guard = Guard(secret, settings.host)
        # Sign-in is asked for whenever the server checks its callers: under --enforce-iam, and
        # under --verify-signatures alone too (else a local process without a key could do as
        # root through the console what the wire refuses it); the latter authorizes nothing more
        # than a valid signature does on the wire.
        self.sessions = Sessions(secret, identities, enforcer is not None or settings.verify_signatures,
                                 PREFIX + "/")
        self.api = Api(settings, services, run_blocking, enforcer)
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("sluice.console", "templates"),
            autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        filters.install(self.templates)
        self.templates.globals.update(url=self.url, static=self.static_url, version=__version__,
                                      csrf_field=CSRF_FIELD, prefix=PREFIX)
        self._static = _load_static()
        self.router = Router()
        from .pages import register_all  # the page modules, each adding its routes

        register_all(self.router, self)

    # -- for pages and templates ---------------------------------------------------------

    def url(self, route: str, /, **params: Any) -> str:
        path = self.router.path_for(route, **{k: v for k, v in params.items() if not k.startswith("_")})
        query = "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}"
                         for k, v in (params.get("_query") or {}).items() if v not in (None, ""))
        return PREFIX + path + (f"?{query}" if query else "")

    def static_url(self, name: str) -> str:
        digest = self._static[name][1] if name in self._static else ""
        return f"{PREFIX}{STATIC}{name}?v={digest[:10]}"

    def render(self, template: str, request: ConsoleRequest, /, **context: Any) -> str:
        return self.templates.get_template(template).render(
            request=request, identity=request.identity, enforced=self.sessions.enforced,
            csrf=self.guard.csrf_token(request.identity.access_key), **context)

    # -- serving -------------------------------------------------------------------------------

    @staticmethod
    def handles(path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    async def serve(self, req: HttpRequest, receive: Any, send: Any) -> None:
        try:
            answer = await self._answer(req, receive)
        except ClientDisconnected:
            return
        except Exception:  # a bug of a page: logged, and the page says so (never a bare 500)
            log.exception("console: %s %s failed", req.method, req.path)
            answer = _plain(500, "InternalError", "We encountered an internal error. Please try again.")
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS]
        if isinstance(answer, EventStream):
            try:
                await answer.serve(send, receive, headers)
            except ClientDisconnected:
                pass
            except Exception:  # a page's poll failed mid-stream: logged; the browser reconnects
                log.exception("console: the stream %s failed", req.path)
            return
        present = {k.lower() for k, _ in answer.headers}
        headers += [(k.encode("latin-1"), _latin1(v)) for k, v in answer.headers]
        if "cache-control" not in present:
            headers.append((b"cache-control", b"no-store"))
        body = answer.body
        if isinstance(body, ResponseBody):  # a download: read from disk piece by piece, off the loop
            await self._stream(req, send, answer.status, headers, body)
            return
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if req.method == "HEAD" else body})

    async def _stream(self, req: HttpRequest, send: Any, status: int, headers: list[tuple[bytes, bytes]],
                      body: ResponseBody) -> None:
        if body.length is not None:
            headers.append((b"content-length", str(body.length).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        try:
            if req.method != "HEAD":
                chunks = iter(body)
                while (chunk := await self.run_blocking(next, chunks, None)) is not None:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            body.close()
        await send({"type": "http.response.body", "body": b""})

    async def _answer(self, req: HttpRequest, receive: Any) -> HttpResponse | EventStream:
        path = req.path[len(PREFIX):] or "/"
        try:
            self.guard.check_host(req)
            if path.startswith(STATIC) and req.method in ("GET", "HEAD"):
                return self._static_file(req, path[len(STATIC):])
            route, params, allowed = self.router.match(req.method, path.split("?", 1)[0])
            if route is None:
                if allowed:
                    return _plain(405, "MethodNotAllowed", f"{path} answers {', '.join(sorted(set(allowed)))}",
                                  [("Allow", ", ".join(sorted(set(allowed))))])
                return _plain(404, "NotFound", f"the console has no page {path}")
            identity = await self.run_blocking(self.sessions.current, req)
            public = route.name in PUBLIC_ROUTES
            body = b""
            form: dict[str, list[str]] = {}
            if req.method == "POST":
                key = identity.access_key if identity is not None else ""
                self.guard.check_origin(req)
                header_token = req.headers.get(CSRF_HEADER)
                if header_token is not None:  # refused before an upload's body is received
                    self.guard.check_token(header_token, key)
                body = await _read_body(req, receive)
                if _is_form(req):
                    form = ConsoleRequest.parse_form(body)
                if header_token is None:
                    self.guard.check_token(next(iter(form.get(CSRF_FIELD, [])), None), key)
            if identity is None:
                if not public:
                    return _sign_in_first(req, path)
                identity = _ANONYMOUS
            request = ConsoleRequest(req, self, identity, params, body, form)
            try:
                return await route.handler(request)
            except ServiceError as err:
                return request.error(err)
        except Refused as refused:
            return _plain(refused.status, refused.code, refused.message)

    def _static_file(self, req: HttpRequest, name: str) -> HttpResponse:
        found = self._static.get(name)
        if found is None:
            return _plain(404, "NotFound", f"no static file {name}")
        data, etag, kind = found
        headers = [("Content-Type", kind), ("ETag", f'"{etag}"'), ("Cache-Control", "public, max-age=86400")]
        if req.headers.get("if-none-match") == f'"{etag}"':
            return HttpResponse(304, headers, b"")
        return HttpResponse(200, headers, data)


# Routes a visitor reaches before signing in (under --enforce-iam).
PUBLIC_ROUTES = {"sign_in_form", "sign_in", "sign_out"}
# Who the sign-in page is rendered for: nobody yet (its CSRF token is the anonymous one).
_ANONYMOUS = Identity("", "", None, "", "", "anonymous", "")

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8", ".ico": "image/x-icon"}


def _load_static() -> dict[str, tuple[bytes, str, str]]:
    """The vendored files (package data), read once: name -> (bytes, ETag, Content-Type)."""
    out: dict[str, tuple[bytes, str, str]] = {}
    for entry in resources.files("sluice.console").joinpath("static").iterdir():
        if entry.is_file():
            data = entry.read_bytes()
            ext = os.path.splitext(entry.name)[1]
            out[entry.name] = (data, hashlib.sha256(data).hexdigest()[:16], _TYPES.get(ext, "application/octet-stream"))
    return out


def _is_form(req: HttpRequest) -> bool:
    return req.headers.get("content-type", "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded"


async def _read_body(req: HttpRequest, receive: Any) -> bytes:
    limit = _FORM_LIMIT if _is_form(req) else MAX_BODY
    length = req.content_length
    if length is not None and length > limit:
        raise Refused(413, "RequestTooLarge", f"the console takes at most {limit} bytes in one request")
    data = await read_up_to(receive, limit)
    if data is None:
        raise Refused(413, "RequestTooLarge", f"the console takes at most {limit} bytes in one request")
    return data


def _sign_in_first(req: HttpRequest, path: str) -> HttpResponse:
    location = f"{PREFIX}/sign-in?next={quote(PREFIX + path, safe='')}"
    if req.headers.get("hx-request") == "true":
        return HttpResponse(200, [("HX-Redirect", location)], b"")
    if req.method == "GET":
        return HttpResponse(303, [("Location", location)], b"")
    return _plain(401, "NotSignedIn", "sign in first")


def _plain(status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    from html import escape

    body = (f"<!doctype html><title>{escape(code)}</title><h1>{escape(code)}</h1>"
            f"<p>{escape(message)}</p><p><a href=\"{PREFIX}/\">Sluice console</a></p>")
    return HttpResponse(status, [("Content-Type", "text/html; charset=utf-8"), *(headers or [])], body.encode())


def _latin1(value: str) -> bytes:
    return value.encode("latin-1", "replace")
