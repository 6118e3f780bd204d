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
from ..protocol.http import HttpRequest
from ..protocol.models import service_model

Operation = Callable[..., Any]

_model_lock = threading.Lock()


class Service:
    name: ClassVar[str]

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

    def operation(self, op_name: str) -> Operation | None:
        fn = getattr(self, xform_name(op_name), None)
        return fn if callable(fn) else None

    async def start(self) -> None:
        """Called on the event loop once the server is up (background work may begin)."""

    async def stop(self) -> None:
        """Called on the event loop when the server stops."""
