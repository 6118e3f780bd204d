"""The console's routes: a method and a path pattern -> the page handler that answers them.

Patterns are paths relative to the console's root with `{name}` segments (`/s3/{bucket}`) and
at most one trailing `{name:path}` that takes the rest, slashes included (an object key).
Each page module adds its routes from its `register` function, called by the Console's
constructor: importing a page registers nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union
from urllib.parse import quote, unquote

from ..protocol.http import HttpResponse

if TYPE_CHECKING:
    from .request import ConsoleRequest
    from .sse import EventStream

Answer = Union[HttpResponse, "EventStream"]
Handler = Callable[["ConsoleRequest"], Awaitable[Answer]]

_SEGMENT = re.compile(r"\{(\w+)(:path)?\}")


@dataclass(frozen=True)
class Route:
    """A console route: a method and path pattern, and the page handler that answers them."""

    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    name: str


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._names: dict[str, Route] = {}

    def add(self, method: str, pattern: str, handler: Handler, name: str | None = None) -> None:
        """`name` (default: the handler's) lets templates build the route's URL with `url()`."""
        regex = re.compile("^" + _SEGMENT.sub(_group, re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}")) + "$")
        route = Route(method.upper(), pattern, regex, handler, name or handler.__name__)
        if route.name in self._names:
            raise ValueError(f"two console routes are named {route.name}")
        self.routes.append(route)
        self._names[route.name] = route

    def get(self, pattern: str, handler: Handler, name: str | None = None) -> None:
        self.add("GET", pattern, handler, name)

    def post(self, pattern: str, handler: Handler, name: str | None = None) -> None:
        self.add("POST", pattern, handler, name)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        """The route and its path parameters (decoded), or None and the methods the path takes."""
        allowed: list[str] = []
        for route in self.routes:
            found = route.regex.match(path)
            if found is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, {k: unquote(v) for k, v in found.groupdict().items()}, []
            allowed.append(route.method)
        return None, {}, allowed

    def path_for(self, route: str, /, **params: str) -> str:
        """The path (relative to the console's root) of a named route with its parameters."""
        pattern = self._names[route].pattern

        def fill(m: re.Match[str]) -> str:
            value = str(params[m.group(1)])
            return quote(value, safe="/" if m.group(2) else "")

        return _SEGMENT.sub(fill, pattern)


def _group(m: re.Match[str]) -> str:
    return f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"
