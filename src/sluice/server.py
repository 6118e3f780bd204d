"""The composition root: settings -> clock, store, services -> gateway -> uvicorn."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import uvicorn

from .clock import Clock
from .gateway.app import Gateway
from .services.base import Service
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
        for s in services.values():
            _ = s.protocol  # load the botocore model now, not on the first request
        return cls(settings, clock, store, services, Gateway(settings, services))

    def close(self) -> None:
        self.store.close()


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
    server = uvicorn.Server(config)
    log.info("Sluice listening on %s (data in %s)", settings.endpoint_url, settings.data_dir.resolve())
    try:
        server.run()
    finally:
        app.close()
        log.info("Sluice stopped")
