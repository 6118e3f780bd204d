"""The composition root: settings -> clock, store, services -> gateway -> uvicorn."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from .auth.enforcer import Enforcer
from .clock import Clock
from .engine.destinations import OutcomeDelivery
from .engine.introspect import event_state
from .engine.invoker import Invoker
from .engine.journey import Journeys
from .engine.otlp import OtlpExporter
from .engine.pollers import SqsPollers
from .engine.status import StatusSources, status
from .engine.storage_metrics import S3StorageMetrics
from .gateway.app import Gateway
from .runtime import EnvironmentPool
from .schema import SCHEMA
from .services.base import Service
from .services.cloudwatch import CloudWatchService
from .services.delivery import Deliveries, Delivery, DeliveryResult
from .services.events import EventsService
from .services.iam import IamService
from .services.lambda_.service import LambdaService
from .services.logs import LogsService
from .services.s3 import S3Service
from .services.sns import SnsService
from .services.sqs import SqsService
from .services.sts import StsService
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
    deliveries: Deliveries
    exporter: OtlpExporter | None = None

    @classmethod
    def build(cls, settings: Settings) -> Sluice:
        clock = Clock(settings.time_scale)
        store = Store(settings.data_dir, SCHEMA)
        deliveries = Deliveries()  # services register the ARNs they accept messages for
        s3 = S3Service(store, clock, deliveries)  # notifications go out through deliveries
        logs = LogsService(store, clock, account_id=settings.account_id, region=settings.region)
        lambda_ = LambdaService(store, clock, settings, s3=s3, python_overrides=settings.python_overrides)
        services: dict[str, Service] = {"s3": s3, "logs": logs, "lambda": lambda_}

        def log_sink(group: str, stream: str, events: list[tuple[int, str]]) -> None:
            # Called on the event loop: queue the write, never wait for its fsync there.
            logs.append(group, stream, events, wait=False, emf=True)

        pool = EnvironmentPool(log_sink, max_environments=settings.max_environments,
                               idle_timeout=settings.environment_idle_timeout,
                               scratch_dir=settings.data_dir / "environments")
        invoker = Invoker(store.db, clock, pool, lambda_.resolve,
                          account_concurrency=settings.account_concurrency,
                          reserved_total=lambda_.reserved_total, local_capacity=settings.max_environments)
        outcomes = OutcomeDelivery(store.db, clock, deliveries)
        invoker.on_outcome = outcomes.notify
        lambda_.invoker = invoker
        lambda_.pool = pool
        deliveries.register("lambda", lambda_)
        deliveries.register("s3", s3)
        s3.notifier.resolve_function = lambda_.resolve
        s3.notifier.may_invoke = lambda_.allows  # validates Lambda notification destinations
        sqs = SqsService(store, clock, settings, deliveries)
        services["sqs"] = sqs
        deliveries.register("sqs", sqs)
        pollers = SqsPollers(clock, sqs, lambda_.enabled_mappings, lambda_.resolve, invoker,
                             settings.account_id, settings.region)
        lambda_.on_mappings_changed = pollers.changed
        lambda_.engine = _Engine(invoker, outcomes, pollers, S3StorageMetrics(store.db, clock, s3.storage_totals))
        sns = SnsService(store, clock, settings, deliveries)
        services["sns"] = sns
        deliveries.register("sns", sns)
        events = EventsService(store, clock, settings, deliveries)
        services["events"] = events
        deliveries.register("events", events)
        services["cloudwatch"] = CloudWatchService(store, clock, settings, deliveries)  # alarms publish to SNS
        iam = IamService(store, clock, settings)
        services["iam"] = iam
        services["sts"] = StsService(iam, clock, settings)

        def secret_for(access_key: str) -> str | None:
            # --verify-signatures: root keys, IAM users' keys and STS sessions (functions' too).
            found = iam.identity(access_key)
            return found.secret_key if found is not None else None

        def token_for(access_key: str) -> str | None:
            found = iam.identity(access_key)
            return found.session_token if found is not None else None

        gateway = Gateway(settings, clock, services, secret_for=secret_for, token_for=token_for)
        enforcer = Enforcer(iam, {"s3": s3, "sqs": sqs, "sns": sns, "lambda": lambda_}, clock)
        if settings.enforce_iam:
            _enforce_iam(enforcer, gateway, outcomes, lambda_, iam)
        elif settings.verify_signatures:
            gateway.anonymous = enforcer  # unsigned S3 requests: bucket policies decide
        gateway.internal["/_sluice/events/"] = lambda rest, query: _event_view(store, rest)
        gateway.internal["/_sluice/lambda-code/"] = lambda rest, query: _code_view(lambda_, rest)
        gateway.internal["/_sluice/sns/"] = sns.internal  # SubscribeURL, UnsubscribeURL
        journeys = Journeys(lambda: store.db.reader, settings.time_scale, log_group=lambda fn: _log_group(lambda_, fn))
        gateway.internal["/_sluice/trace"] = lambda rest, query: _trace_view(journeys, query)
        sources = StatusSources(lambda: store.db.reader, clock.now, settings.time_scale, lambda_.function_names,
                                lambda_.resolve, lambda: invoker.running.copy(), invoker.running_async, sqs.depth)
        gateway.internal["/_sluice/status"] = lambda rest, query: (200, status(sources))
        exporter = None
        if settings.otel_endpoint:
            exporter = OtlpExporter(settings.otel_endpoint, Journeys(lambda: store.db.reader, settings.time_scale,
                                                                     include_logs=False))
            s3.notifier.sample_traces = True
            s3.notifier.on_notified = exporter.notification_done
            invoker.on_attempt = exporter.attempt_done
            outcomes.on_delivered = exporter.outcome_delivered
            exporter.start()
        return cls(settings, clock, store, services, gateway, deliveries, exporter)

    def close(self) -> None:
        if self.exporter is not None:
            self.exporter.stop()
        self.store.close()


def _enforce_iam(enforcer: Enforcer, gateway: Gateway, outcomes: OutcomeDelivery, lambda_: LambdaService,
                 iam: IamService) -> None:
    """--enforce-iam: requests, deliveries and functions' own calls are evaluated as AWS does."""
    gateway.enforcer = enforcer

    def authorize_delivery(function: str, target: str, delivery: Delivery) -> DeliveryResult | None:
        return enforcer.authorize_delivery(lambda_.execution_role(function), function, target, delivery)

    outcomes.authorize = authorize_delivery
    lambda_.may_assume_role = enforcer.lambda_may_assume
    lambda_.missing_permission = enforcer.missing_permission
    lambda_.role_credentials = iam.role_credentials


class _Engine:
    """Background work: Lambda's async scheduler and outcome deliveries, SQS pollers, S3 storage metrics."""

    def __init__(self, invoker: Invoker, outcomes: OutcomeDelivery, pollers: SqsPollers,
                 storage_metrics: S3StorageMetrics) -> None:
        self.invoker = invoker
        self.outcomes = outcomes
        self.pollers = pollers
        self.storage_metrics = storage_metrics

    def start(self) -> None:
        self.invoker.start()
        self.outcomes.start()
        self.pollers.start()
        self.storage_metrics.start()

    async def shutdown(self) -> None:
        await self.storage_metrics.stop()
        await self.pollers.shutdown()
        await self.invoker.shutdown()
        await self.outcomes.shutdown()


def _event_view(store: Store, request_id: str) -> tuple[int, Any]:
    state = event_state(store.db, request_id)
    return (200, state) if state is not None else (404, {"error": f"no event {request_id}"})


def _trace_view(journeys: Journeys, query: dict[str, list[str]]) -> tuple[int, Any]:
    target = (query.get("target") or [""])[0]
    if not target:
        return 400, {"error": "give ?target=<bucket/key | S3 request id | Lambda request id>"}
    found = journeys.find(target, every=(query.get("all") or ["0"])[0] in ("1", "true"))
    if not found:
        hint = " (no event notification was recorded for that key)" if "/" in target else ""
        return 404, {"error": f"nothing recorded for {target}{hint}"}
    return 200, {"target": target, "timeScale": journeys.time_scale, "journeys": found}


def _log_group(lambda_: LambdaService, function: str) -> str:
    try:
        return lambda_.resolve(function).spec.log_group
    except Exception:  # deleted since: its logs stay in the default group
        return f"/aws/lambda/{function}"


def _code_view(lambda_: LambdaService, rest: str) -> tuple[int, Any]:
    name, _, file = rest.partition("/")
    package = lambda_.code_zip(name, file.removesuffix(".zip"))
    return (200, package) if package is not None else (404, {"error": "no such package"})


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


def _limit_malloc_arenas() -> None:
    """glibc gives each busy thread its own malloc arena; with dozens of worker threads that
    fragments into tens of MB of RSS for nothing. Two arenas are plenty for this workload."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def serve(settings: Settings) -> None:
    _limit_malloc_arenas()
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
        proxy_headers=False,  # nothing sits in front of Sluice; the client address is the peer
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
