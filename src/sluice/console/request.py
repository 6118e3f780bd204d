"""What a page handler gets: the request, its path parameters and form, who is signed in, and
the means to call operations and render templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ..auth.identity import Identity
from ..protocol.errors import ServiceError
from ..protocol.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from .app import Console


@dataclass
class ConsoleRequest:
    """A console request as its page handler gets it."""

    http: HttpRequest
    console: Console
    identity: Identity
    params: dict[str, str] = field(default_factory=dict)  # from the route's pattern
    body: bytes = b""
    form: dict[str, list[str]] = field(default_factory=dict)  # an urlencoded POST's fields

    @classmethod
    def parse_form(cls, body: bytes) -> dict[str, list[str]]:
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

    # -- input ---------------------------------------------------------------------------

    def arg(self, name: str, default: str = "") -> str:
        """A query-string parameter."""
        value = self.http.query_value(name)
        return default if value is None else value

    def field(self, name: str, default: str = "") -> str:
        values = self.form.get(name)
        return values[0] if values else default

    def fields(self, name: str) -> list[str]:
        return self.form.get(name, [])

    @property
    def htmx(self) -> bool:
        """Asked by htmx for a fragment (not a whole page)."""
        return self.http.headers.get("hx-request") == "true"

    # -- Sluice ------------------------------------------------------------------------------

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """Run a service's operation as the signed-in identity (see console/api.py)."""
        return await self.console.api.call(self.identity, service, operation, **params)

    async def attempt(self, service: str, operation: str, /, **params: Any) -> tuple[dict[str, Any], ServiceError | None]:
        """Like `call`, but an AWS error is returned for the page to show beside the rest."""
        try:
            return await self.call(service, operation, **params), None
        except ServiceError as err:
            return {}, err

    async def attempt_all(self, service: str, operation: str, key: str, /,
                          **params: Any) -> tuple[list[Any], ServiceError | None]:
        """Every page of a listing (`key`: its list member), as `attempt`: the pages are followed
        by their token (Lambda's NextMarker, IAM's Marker while IsTruncated, the others'
        NextToken); an AWS error ends the listing and is returned with what was listed before it."""
        items: list[Any] = []
        while True:
            found, error = await self.attempt(service, operation, **params)
            items.extend(found.get(key, []))
            if error is not None:
                return items, error
            if found.get("NextMarker"):
                params["Marker"] = found["NextMarker"]
            elif found.get("IsTruncated") and found.get("Marker"):
                params["Marker"] = found["Marker"]
            elif found.get("NextToken"):
                params["NextToken"] = found["NextToken"]
            else:
                return items, None

    # -- output ------------------------------------------------------------------------------

    def url(self, route: str, /, **params: Any) -> str:
        return self.console.url(route, **params)

    def render(self, template: str, /, status: int = 200, headers: list[tuple[str, str]] | None = None,
               **context: Any) -> HttpResponse:
        html = self.console.render(template, self, **context)
        return HttpResponse(status, [("Content-Type", "text/html; charset=utf-8"), *(headers or [])], html.encode())

    def render_text(self, template: str, /, **context: Any) -> str:
        return self.console.render(template, self, **context)

    def back(self, default: str) -> str:
        """The form's `back` field when it is a console path (never another site), else `default`."""
        return console_path(self.field("back"), default)

    def redirect(self, location: str) -> HttpResponse:
        """After a POST: htmx follows HX-Redirect; a plain form follows 303 See Other."""
        if self.htmx:
            return HttpResponse(200, [("HX-Redirect", location)], b"")
        return HttpResponse(303, [("Location", location)], b"")

    def error(self, err: ServiceError) -> HttpResponse:
        """An AWS error as AWS shows it: its code and message, with the wire's status."""
        template = "_error.html" if self.htmx else "error.html"
        return self.render(template, status=err.status or 400, error=err)


def console_path(target: str, default: str) -> str:
    """`target` if it is a path of the console, else `default`: a link or form that says where to
    go next must not send the user to another site (`//evil.example`, `/\\evil.example`)."""
    from .views import PREFIX

    if target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return default
