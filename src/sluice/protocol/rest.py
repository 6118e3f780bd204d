"""REST protocols (rest-xml, rest-json): which operation a request is, and its members.

Routing comes from each operation's `http.method` and `http.requestUri` in the botocore model.
Several S3 operations share a method and path (PutObject, CopyObject, UploadPart,
UploadPartCopy); they differ by the query keys and headers their input requires, so a
candidate is only taken when every required query/header member is present, and the most
specific candidate wins.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .errors import ServiceError
from .http import HttpRequest
from .values import format_scalar, parse_scalar

if TYPE_CHECKING:  # botocore is imported when a protocol is first built, not at start-up
    from botocore.model import OperationModel, ServiceModel, Shape


@dataclass(frozen=True)
class Binding:
    """Where one member of a shape lives on the wire."""

    member: str
    location: str  # uri | querystring | header | headers | statusCode | "" (body)
    name: str
    shape: Shape


@dataclass
class Route:
    """What a request must look like to be this operation (from its `http` trait in the model)."""

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


@dataclass
class _PatternGroup:
    """The routes of one method that share a path template: one regex match serves them all."""

    pattern: re.Pattern[str]
    plain: list[Route]  # routes without literal query keys
    by_literal: dict[str, list[Route]]  # the others, under each of their literal keys


class RestRouter:
    def __init__(self, model: ServiceModel) -> None:
        self.routes: list[Route] = []
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
            self.routes.append(Route(op, op.http.get("method", "GET"), pattern, literal_length, literals,
                                     req_query, req_headers))
        # method -> template -> group: a request is matched against a few regexes, and only the
        # routes whose literal query keys it carries are examined.
        self.groups: dict[str, dict[str, _PatternGroup]] = {}
        for route in self.routes:
            group = self.groups.setdefault(route.method, {}).setdefault(
                route.pattern.pattern, _PatternGroup(route.pattern, [], {}))
            if route.query_literals:
                for key in route.query_literals:
                    group.by_literal.setdefault(key, []).append(route)
            else:
                group.plain.append(route)
        # Which operation a request is depends only on the method, the templates its path fits,
        # its query keys (and the values of keys some route names a value for) and which
        # required headers it carries: the winner for each such shape is remembered, so a
        # request is routed with the templates' regexes and one look-up (the scoring below cost
        # a twentieth of a small PutObject's CPU).
        self._valued_keys = {k for r in self.routes for k, v in r.query_literals.items() if v is not None}
        self._route_headers = tuple(sorted({h for r in self.routes for h in r.required_headers}))
        self._chosen: dict[tuple[Any, ...], tuple[str, OperationModel]] = {}
        # Each method's templates with their bound regex match, for `match`.
        self._matchers = {method: tuple((template, group.pattern.match) for template, group in by.items())
                          for method, by in self.groups.items()}

    def _candidates(self, method: str, req: HttpRequest) -> list[tuple[Route, dict[str, str]]]:
        found: list[tuple[Route, dict[str, str]]] = []
        query = req.query
        for group in self.groups.get(method, {}).values():
            m = group.pattern.match(req.path)
            if m is None:
                continue
            labels = m.groupdict()
            routes = list(group.plain)
            for key in query:
                routes.extend(group.by_literal.get(key, ()))
            for route in routes:
                if self._fits(route, req):
                    found.append((route, labels))
        return found

    def match(self, req: HttpRequest) -> tuple[OperationModel, dict[str, str]]:
        path = req.path
        fitting: dict[str, re.Match[str]] = {}
        for template, match in self._matchers.get(req.method, ()):
            m = match(path)
            if m is not None:
                fitting[template] = m
        query = req.query
        valued = self._valued_keys
        key = (req.method, tuple(fitting),
               tuple((k, tuple(v)) if k in valued else k for k, v in query.items()) if query else (),
               tuple(map(req.headers.__contains__, self._route_headers)))
        chosen = self._chosen.get(key)
        if chosen is None:
            route, labels = self._match(req)
            if len(self._chosen) >= _CHOSEN_MAX:  # query keys are the client's: bounded
                self._chosen.clear()
            self._chosen[key] = (route.pattern.pattern, route.operation)
            return route.operation, labels
        return chosen[1], fitting[chosen[0]].groupdict()

    def _match(self, req: HttpRequest) -> tuple[Route, dict[str, str]]:
        best: tuple[tuple[int, int, int, bool], Route, dict[str, str]] | None = None
        for route, labels in self._candidates(req.method, req):
            score = (
                len(route.query_literals),
                len(route.required_query) + len(route.required_headers),
                route.literal_length,
                not route.operation.deprecated,  # GetBucketNotification vs ...Configuration: same URI
            )
            if best is None or score > best[0]:
                best = (score, route, labels)
        if best is None:
            other_method = any(self._candidates(m, req) for m in self.groups if m != req.method)
            raise NoRoute(method_mismatch=other_method)
        return best[1], best[2]

    @staticmethod
    def _fits(route: Route, req: HttpRequest) -> bool:
        query = req.query
        for k, v in route.query_literals.items():
            if k not in query or (v is not None and v not in query[k]):
                return False
        if not all(k in query for k in route.required_query):
            return False
        return all(h in req.headers for h in route.required_headers)


_CHOSEN_MAX = 512


# How a header's text becomes its member's value, by the member's type (see bind_request).
_TEXT, _LIST, _TIMESTAMP, _SCALAR = range(4)


def _header_kind(shape: Shape) -> int:
    t = shape.type_name
    return _TEXT if t == "string" else _LIST if t == "list" else _TIMESTAMP if t == "timestamp" else _SCALAR


@dataclass(frozen=True)
class _InputPlan:
    """Where an operation's input members live, indexed by wire name for the request at hand."""

    uri: tuple[Binding, ...]
    query: dict[str, Binding]
    query_map: Binding | None
    headers: dict[str, tuple[Binding, int]]  # lower-case header name -> binding, its _header_kind
    prefixed: tuple[tuple[str, Binding], ...]  # ("x-amz-meta-", Metadata)
    prefixes: tuple[str, ...]  # the prefixes alone, for one str.startswith per header


@cache
def _input_plan(shape: Shape | None) -> _InputPlan:
    bs = bindings(shape)
    prefixed = tuple((b.name.lower(), b) for b in bs if b.location == "headers")
    return _InputPlan(
        uri=tuple(b for b in bs if b.location == "uri"),
        query={b.name: b for b in bs if b.location == "querystring" and b.shape.type_name != "map"},
        query_map=next((b for b in bs if b.location == "querystring" and b.shape.type_name == "map"), None),
        headers={b.name.lower(): (b, _header_kind(b.shape)) for b in bs if b.location == "header"},
        prefixed=prefixed,
        prefixes=tuple(prefix for prefix, _ in prefixed),
    )


def bind_request(
    op: OperationModel, req: HttpRequest, labels: dict[str, str], invalid: type[ServiceError] | None = None
) -> dict[str, Any]:
    """The members that live in the URI, the query string and the headers."""
    plan = _input_plan(op.input_shape)
    params: dict[str, Any] = {}
    for b in plan.uri:
        raw = labels.get(b.name)
        if raw is not None:
            params[b.member] = unquote(raw) if "%" in raw else raw
    query = req.query
    if query:
        for key, values in query.items():
            qb = plan.query.get(key)
            if qb is None:
                continue
            if qb.shape.type_name == "list":
                params[qb.member] = [parse_scalar(v, qb.shape.member, qb.name) for v in values]
            else:
                params[qb.member] = parse_scalar(values[0], qb.shape, qb.name)
    if plan.query_map is not None:
        params[plan.query_map.member] = {k: v[0] for k, v in query.items()}
    by_header = plan.headers
    prefixes = plan.prefixes
    for name, value in req.headers.items():
        found = by_header.get(name)
        if found is None:
            if prefixes and name.startswith(prefixes):
                for prefix, pb in plan.prefixed:
                    if name.startswith(prefix):
                        params.setdefault(pb.member, {})[name[len(prefix):]] = wire_utf8(value)
            continue
        hb, kind = found
        if kind == _TEXT:
            params[hb.member] = value  # what parse_scalar makes of a string: the text itself
        elif kind == _LIST:
            params[hb.member] = [parse_scalar(v.strip(), hb.shape.member, hb.name) for v in value.split(",")]
        elif kind == _TIMESTAMP:
            # A malformed date header is ignored, as S3 ignores it (If-Modified-Since: junk).
            with contextlib.suppress(ValueError):
                params[hb.member] = parse_scalar(value, hb.shape, hb.name)
        else:
            params[hb.member] = parse_scalar(value, hb.shape, hb.name)
    for _, pb in plan.prefixed:
        params.setdefault(pb.member, {})
    return params


def wire_utf8(value: str) -> str:
    """A header value as the UTF-8 text its bytes spell (SDKs send non-ASCII user metadata as
    UTF-8; the gateway reads headers as latin-1, one character a byte); bytes that are not UTF-8
    stay as they were read."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


# Where an output member goes (see response_headers).
_STATUS, _PLAIN, _FORMATTED, _JOINED, _PREFIXED = range(5)


def _output_kind(b: Binding) -> int:
    if b.location == "statusCode":
        return _STATUS
    if b.location == "headers":
        return _PREFIXED
    t = b.shape.type_name
    if t == "list":
        return _JOINED
    # format_scalar of these is str(value): not worth a call per header.
    return _PLAIN if t in ("string", "integer", "long") else _FORMATTED


@cache
def _output_plan(shape: Shape | None) -> dict[str, tuple[Binding, int]]:
    return {b.member: (b, _output_kind(b)) for b in bindings(shape)
            if b.location in ("statusCode", "header", "headers")}


def response_headers(op: OperationModel, result: dict[str, Any]) -> tuple[int | None, list[tuple[str, str]]]:
    """The output members that go in the status line and the headers."""
    plan = _output_plan(op.output_shape)
    status: int | None = None
    headers: list[tuple[str, str]] = []
    for member, value in result.items():
        found = plan.get(member)
        if found is None or value is None:
            continue
        b, kind = found
        if kind == _PLAIN:
            headers.append((b.name, str(value)))
        elif kind == _FORMATTED:
            headers.append((b.name, format_scalar(value, b.shape, "rfc822")))
        elif kind == _STATUS:
            status = int(value)
        elif kind == _JOINED:
            headers.append((b.name, ",".join(format_scalar(v, b.shape.member) for v in value)))
        else:
            for k, v in value.items():
                headers.append((b.name + k, str(v)))
    return status, headers
