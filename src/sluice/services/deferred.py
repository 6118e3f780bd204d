"""A service built when it is first used, not when the server starts.

Importing a service's modules and building it costs start-up time and memory that a server
seldom needs for every service (a test run that uses S3, Lambda and SQS never touches IAM or
CloudFormation). The composition root gives `deferred` a function (sluice/late.py) that
imports and builds the service with its collaborators; the gateway, the console and the other
services see a Service whose first `operation` (or `built()`) call runs that function, once,
whichever thread asks (the gateway asks from its worker pool, off the event loop).

Only a service with no start/stop work and no fresh rows of its own (or a stand-in that writes
them) can wait like this (the gateway starts the services before it listens, and a reset writes
every service's fresh rows);
its engine side, if any, must not need it built before it has work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from .base import Operation, Service

S = TypeVar("S", bound=Service)


class DeferredService(Service, Generic[S]):
    # A stand-in that writes the service's fresh rows itself, built or not (sluice/late.py's
    # LateEvents), may defer a service that has some.
    writes_fresh_rows = False

    def __init__(self, build: Callable[[], S]) -> None:
        self._build = build
        self._service: S | None = None
        self._lock = threading.Lock()

    def built(self) -> S:
        service = self._service
        if service is None:
            with self._lock:
                service = self._service
                if service is None:
                    service = self._build()
                    if service.name != self.name:
                        raise TypeError(f"deferred {self.name!r} built {service.name!r}")
                    kind = type(service)
                    fresh_rows = Service.fresh_rows if self.writes_fresh_rows else kind.fresh_rows
                    if (kind.start, kind.stop, fresh_rows) != (Service.start, Service.stop, Service.fresh_rows):
                        raise TypeError(f"{self.name} has start/stop work or fresh rows: it cannot be deferred")
                    self._service = service
        return service

    @property
    def is_built(self) -> bool:
        return self._service is not None

    def operation(self, op_name: str) -> Operation | None:
        return self.built().operation(op_name)

    # -- the testing API's reset ------------------------------------------------------------

    def reset(self) -> None:
        if self._service is not None:  # never built: nothing in memory to forget
            self._service.reset()


def deferred(name: str, build: Callable[[], S]) -> DeferredService[S]:
    """`name`: the service's (the gateway routes by it before anything is built)."""
    kind = type(f"Deferred_{name}", (DeferredService,), {"name": name})
    service: DeferredService[S] = kind(build)
    return service
