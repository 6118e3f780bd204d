"""The composition root: settings -> clock, store, services -> gateway -> uvicorn."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from .clock import Clock
from .gateway.app import Gateway
from .services.base import Service
from .services.logs import LogsService
from .services.s3 import S3Service
from .settings import Settings
from .store import Store

log = logging.getLogger("sluice")


@dataclass
class Sluice:
    settings: Settings
    clock: Clock
    store: Store
    services: dict[str, Service]
    gateway: Gateway

    @classmethod
    def build(cls, settings: Settings) -> Sluice:
        clock = Clock(settings.time_scale)
        store = Store(settings.data_dir)
        services: dict[str, Service] = {"s3": S3Service(store, clock)}
        services["logs"] = LogsService(store, clock, account_id=settings.account_id, region=settings.region)
        for s in services.values():
            _ = s.protocol  # load the botocore model now, not on the first request
        return cls(settings, clock, store, services, Gateway(settings, clock, services))

    def close(self) -> None:
        self.store.close()


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; a clean stop should exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(settings: Settings) -> None:
    app = Sluice.build(settings)
    config = uvicorn.Config(
        app.gateway,
        host=settings.host,
        port=settings.port,
        loop="auto",
        http="auto",
        lifespan="on",
        access_log=False,
        log_level="warning" if settings.log_level not in ("debug", "trace") else settings.log_level,
        timeout_keep_alive=30,
        server_header=False,
        date_header=True,
    )
    server = _Server(config)
    log.info("Sluice listening on %s (data in %s)", settings.endpoint_url, settings.data_dir.resolve())
    try:
        server.run()
    finally:
        app.close()
        log.info("Sluice stopped")
