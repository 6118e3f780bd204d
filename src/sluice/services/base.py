"""What every service has: a name, its botocore model and wire protocol, and its operations.

An operation is a method named after the operation in snake_case, taking the request context
and the input members (botocore names) and returning the output members. Plain methods run in
a worker thread; `async def` methods run on the event loop (for long polls).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any, ClassVar

from botocore import xform_name

from ..protocol import WireProtocol, protocol_for
from ..protocol.errors import ServiceError
from ..protocol.http import HttpRequest
from ..protocol.models import service_model

Operation = Callable[..., Any]

_model_lock = threading.Lock()


class Service:
    name: ClassVar[str]
    # Whether large request bodies stream to the operation (S3 uploads, in a worker thread)
    # rather than being read whole, up to `request_limit`, before the operation runs.
    streams_request_bodies: ClassVar[bool] = False
    # The largest request body any operation takes, well above what AWS accepts for any of
    # them once encoded (JSON escapes and form percent-encoding triple a message at worst).
    max_request_bytes: ClassVar[int] = 16 * 1024 * 1024

    @cached_property
    def protocol(self) -> WireProtocol:
        with _model_lock:  # the warm-up thread and a first request may both ask
            return protocol_for(service_model(self.name))

    @cached_property
    def query_protocol(self) -> WireProtocol:
        with _model_lock:
            return protocol_for(service_model(self.name), "query")

    def protocol_for_request(self, req: HttpRequest) -> WireProtocol:
        """The protocol this request speaks: services that moved from query to json (SQS,
        CloudWatch) still get form-encoded `Action=` requests from older SDKs."""
        if self.protocol.model.metadata.get("protocol") in ("json", "smithy-rpc-v2-cbor"):
            ctype = req.headers.get("content-type", "")
            if "x-www-form-urlencoded" in ctype or ("Action=" in req.query_string and req.method == "GET"):
                return self.query_protocol
        return self.protocol

    def request_limit(self, operation: str | None) -> int:
        """The largest request body `operation` takes (None: not known before the body is read).
        Never below the gateway's buffer limit (1 MiB): bodies that small are not checked."""
        return self.max_request_bytes

    def request_too_large(self, operation: str | None, limit: int) -> ServiceError:
        # AWS's common error for an entity its front end will not take.
        return ServiceError("RequestEntityTooLargeException", "The request entity is too large.", 413)

    def absurd_content_length(self, value: str) -> ServiceError:
        # AWS's common error for a request malformed at the HTTP level.
        return ServiceError("MalformedHttpRequestException", f"Invalid Content-Length: {value}", 400)

    def operation(self, op_name: str) -> Operation | None:
        fn = getattr(self, xform_name(op_name), None)
        return fn if callable(fn) else None

    async def start(self) -> None:
        """Called on the event loop once the server is up (background work may begin)."""

    async def stop(self) -> None:
        """Called on the event loop when the server stops."""
