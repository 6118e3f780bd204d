"""REST protocols (rest-xml, rest-json): which operation a request is, and its members.

Routing comes from each operation's `http.method` and `http.requestUri` in the botocore model.
Several S3 operations share a method and path (PutObject, CopyObject, UploadPart,
UploadPartCopy); they differ by the query keys and headers their input requires, so a
candidate is only taken when every required query/header member is present, and the most
specific candidate wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape

from .errors import ServiceError
from .http import HttpRequest
from .values import format_scalar, parse_scalar


@dataclass(frozen=True)
class Binding:
    member: str
    location: str  # uri | querystring | header | headers | statusCode | "" (body)
    name: str
    shape: Shape


@dataclass
class Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    literal_length: int
    query_literals: dict[str, str | None]
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]


class NoRoute(Exception):
    def __init__(self, method_mismatch: bool) -> None:
        super().__init__("no operation matches this request")
        self.method_mismatch = method_mismatch


@cache
def bindings(shape: Shape | None) -> tuple[Binding, ...]:
    """Where each member of `shape` lives on the wire (shapes are model singletons: cached)."""
    if shape is None:
        return ()
    out = []
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        ser = member.serialization
        out.append(Binding(name, ser.get("location", ""), ser.get("name", name), member))
    return tuple(out)


def _compile(uri_path: str) -> tuple[re.Pattern[str], int]:
    regex = ""
    literal = 0
    for piece in re.split(r"(\{[^}]+\})", uri_path):
        if piece.startswith("{"):
            label = piece[1:-1]
            if label.endswith("+"):
                regex += f"(?P<{label[:-1]}>.+)"
            else:
                regex += f"(?P<{label}>[^/]+)"
        else:
            regex += re.escape(piece)
            literal += len(piece)
    if not uri_path.endswith("+}"):
        regex = regex.rstrip("/") + "/?"
    return re.compile(f"^{regex}$"), literal


class RestRouter:
    def __init__(self, model: ServiceModel) -> None:
        self.routes: list[Route] = []
        self.by_method: dict[str, list[Route]] = {}
        for op_name in model.operation_names:
            op = model.operation_model(op_name)
            uri = op.http.get("requestUri", "/")
            path, _, query = uri.partition("?")
            literals: dict[str, str | None] = {}
            for part in filter(None, query.split("&")):
                key, eq, val = part.partition("=")
                if key == "x-id":  # a client-side hint, not something servers may rely on
                    continue
                literals[key] = val if eq else None
            required = set(op.input_shape.required_members) if op.input_shape else set()
            req_query = tuple(b.name for b in bindings(op.input_shape)
                              if b.location == "querystring" and b.member in required)
            req_headers = tuple(b.name.lower() for b in bindings(op.input_shape)
                                if b.location == "header" and b.member in required)
            pattern, literal_length = _compile(path)
            route = Route(op, op.http.get("method", "GET"), pattern, literal_length, literals, req_query,
                          req_headers)
            self.routes.append(route)
            self.by_method.setdefault(route.method, []).append(route)

    def match(self, req: HttpRequest) -> tuple[OperationModel, dict[str, str]]:
        best: tuple[tuple[int, int, int], Route, dict[str, str]] | None = None
        for route in self.by_method.get(req.method, ()):
            labels = self._fits(route, req)
            if labels is None:
                continue
            score = (
                len(route.query_literals),
                len(route.required_query) + len(route.required_headers),
                route.literal_length,
            )
            if best is None or score > best[0]:
                best = (score, route, labels)
        if best is None:
            other_method = any(self._fits(r, req) is not None for r in self.routes if r.method != req.method)
            raise NoRoute(method_mismatch=other_method)
        return best[1].operation, best[2]

    @staticmethod
    def _fits(route: Route, req: HttpRequest) -> dict[str, str] | None:
        query = req.query
        for k, v in route.query_literals.items():
            if k not in query or (v is not None and v not in query[k]):
                return None
        if not all(k in query for k in route.required_query):
            return None
        if not all(h in req.headers for h in route.required_headers):
            return None
        m = route.pattern.match(req.path)
        return m.groupdict() if m else None


def bind_request(
    op: OperationModel, req: HttpRequest, labels: dict[str, str], invalid: type[ServiceError] | None = None
) -> dict[str, Any]:
    """The members that live in the URI, the query string and the headers."""
    params: dict[str, Any] = {}
    for b in bindings(op.input_shape):
        if b.location == "uri":
            raw = labels.get(b.name)
            if raw is not None:
                params[b.member] = unquote(raw)
        elif b.location == "querystring":
            if isinstance(b.shape, MapShape):
                params[b.member] = {k: v[0] for k, v in req.query.items()}
                continue
            values = req.query.get(b.name)
            if values is None:
                continue
            if isinstance(b.shape, ListShape):
                params[b.member] = [parse_scalar(v, b.shape.member, b.name) for v in values]
            else:
                params[b.member] = parse_scalar(values[0], b.shape, b.name)
        elif b.location == "header":
            value = req.headers.get(b.name.lower())
            if value is None:
                continue
            if isinstance(b.shape, ListShape):
                params[b.member] = [
                    parse_scalar(v.strip(), b.shape.member, b.name) for v in value.split(",")
                ]
            elif b.shape.type_name == "timestamp":
                # A malformed date header is ignored, as S3 ignores it (If-Modified-Since: junk).
                try:
                    params[b.member] = parse_scalar(value, b.shape, b.name)
                except ValueError:
                    continue
            else:
                params[b.member] = parse_scalar(value, b.shape, b.name)
        elif b.location == "headers":
            prefix = b.name.lower()
            params[b.member] = {
                k[len(prefix):]: v for k, v in req.headers.items() if k.startswith(prefix)
            }
    return params


def response_headers(op: OperationModel, result: dict[str, Any]) -> tuple[int | None, list[tuple[str, str]]]:
    """The output members that go in the status line and the headers."""
    status: int | None = None
    headers: list[tuple[str, str]] = []
    for b in bindings(op.output_shape):
        value = result.get(b.member)
        if value is None:
            continue
        if b.location == "statusCode":
            status = int(value)
        elif b.location == "header":
            if isinstance(b.shape, ListShape):
                headers.append((b.name, ",".join(format_scalar(v, b.shape.member) for v in value)))
            else:
                headers.append((b.name, format_scalar(value, b.shape, "rfc822")))
        elif b.location == "headers":
            for k, v in value.items():
                headers.append((b.name + k, str(v)))
    return status, headers
