"""What an operation knows about the request that called it, beyond its parameters."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RequestContext:
    """The calling request, as an operation sees it beyond its parameters."""

    request_id: str
    host_id: str
    account_id: str
    region: str
    service: str
    access_key: str | None = None
    operation: str = ""
    source_ip: str = "127.0.0.1"
    endpoint: str = ""  # scheme://host:port the client used
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    # What services may know of the wire, read from it by the gateway and protocol layers:
    trace_header: str | None = None  # X-Amzn-Trace-Id as the client sent it
    query_wire: bool = False  # the request came in the query protocol (older SDKs' `Action=`)
    logs_format: str = ""  # x-amzn-logs-format (PutLogEvents with "json/emf")
    # A web page on an origin the S3 bucket's CORS rules do not let in sent it (gateway/cors.py).
    foreign_page: bool = False
    # Set by IAM enforcement: the items of a batch request (their indexes) the caller may not act
    # on; the operation fails just those (S3 DeleteObjects answers AccessDenied per key).
    denied_items: frozenset[int] = frozenset()
