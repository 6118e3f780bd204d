"""The composition root: settings -> clock, store, services -> gateway -> uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import signal
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

from . import late
from .auth.enforcer import Enforcer
from .auth.identity import has_own_secret
from .auth.sources import ResourcePolicies
from .clock import Clock, ManualClock, make_clock
from .console import PREFIX as CONSOLE_PREFIX
from .console import ConsoleViews, DeferredConsole
from .engine.destinations import Authorize, OutcomeDelivery
from .engine.dispatcher import OutboxDispatcher, in_executor_each
from .engine.eventbridge import eventbridge_workers
from .engine.introspect import async_outcome, event_state, recent_failures
from .engine.invoker import Functions, Invoker
from .engine.journey import Journeys
from .engine.lifecycle import Engine, Resource, Signal
from .engine.metrics import MetricStore
from .engine.periodic import PeriodicTask, in_executor
from .engine.pollers import SqsPollers
from .engine.s3_lifecycle import S3Lifecycle
from .engine.sqs_work import sqs_workers
from .engine.stack_notices import StackNotices
from .engine.stacks import StackDeployer
from .engine.storage_metrics import S3StorageMetrics
from .gateway.app import Gateway
from .gateway.sns_links import sns_links
from .gateway.testing_api import API_VERSION, TestingApi, TestingHooks
from .protocol.errors import ServiceError
from .reset import Reset
from .runtime import EnvironmentPool, runtimes
from .runtime.python import Discovery as PythonDiscovery
from .runtime.python import PythonChoice
from .schema import SCHEMA
from .services.base import Service
from .services.cloudformation import RESPONSE_PATH
from .services.cloudwatch.alarms import AlarmStore
from .services.cloudwatch.cadence import evaluation_interval
from .services.deferred import deferred
from .services.delivery import Deliveries, Delivery, DeliveryResult
from .services.lambda_.roles import UNCHECKED
from .services.lambda_.service import LambdaService
from .services.s3.outbox import NotificationOutbox
from .services.s3.service import S3Service
from .services.sns.messages import SLUICE_PATH as SNS_LINKS
from .services.sns.records import Outbox as SnsOutbox
from .services.sns.records import Pending
from .services.sqs.peek import peek
from .services.sqs.service import SqsService
from .settings import Settings
from .store import Store

if TYPE_CHECKING:
    from .auth.enforcer import Enforcer
    from .auth.identity import Identity
    from .console.app import Console
    from .engine.otlp import OtlpExporter
    from .services.iam.service import IamService

log = logging.getLogger("sluice")

STOP_GRACE_SECONDS = 3  # real seconds open requests get to finish when the server stops
# Real seconds after the server listens before the Python interpreters are probed (a Lambda
# request that needs them before that probes them at once): out of the way of the health check
# and a test's first requests, and done (four interpreter starts, ~50 ms) well within the first
# second, after which the server is idle, with its memory back to what an idle server holds.
RUNTIME_PROBE_DELAY = 0.5


@dataclass
class Sluice:
    """The running server's parts, built from its settings by `build`."""

    settings: Settings
    clock: Clock
    store: Store
    services: dict[str, Service]
    gateway: Gateway
    deliveries: Deliveries
    engine: Engine
    listening: Callable[[], None] = lambda: None  # called once the server accepts connections

    @classmethod
    def build(cls, settings: Settings) -> Sluice:
        clock = make_clock(settings.clock, settings.time_scale)
        store = Store(settings.data_dir, SCHEMA)
        exporter: OtlpExporter | None = None
        if settings.otel_endpoint:
            from .engine.otlp import OtlpExporter  # with its HTTP client: only for --otel-endpoint

            exporter = OtlpExporter(settings.otel_endpoint, Journeys(lambda: store.db.reader, settings.time_scale),
                                    clock)
        deliveries = Deliveries()  # services register the ARNs they accept messages for
        # S3's event notifications: rows written with each object change, delivered by the engine.
        s3_outbox = NotificationOutbox(store.db, clock, deliveries,
                                       on_notified=exporter.notification_done if exporter else _no_notification_note)
        s3_notifications: OutboxDispatcher[str] = OutboxDispatcher(
            "s3-notifications", clock, s3_outbox, in_executor_each(s3_outbox.deliver),
            key=lambda target: target, concurrency=4)  # one handler per destination: its events in order
        # Lambda reads function code from S3 and S3 checks Lambda destinations: these look Lambda up when called.
        s3 = S3Service(store, clock, deliveries, notify=s3_notifications.notify, sample_traces=exporter is not None,
                       resolve_function=lambda arn: lambda_.resolve(arn),
                       may_invoke=lambda arn, principal, source, account: lambda_.allows(arn, principal, source, account),
                       kept_blobs=lambda: lambda_.referenced_blobs(),  # its startup sweep spares Lambda's archives
                       account_emails={k.email: k.account for k in settings.credentials.values() if k.email},
                       legacy_bucket_defaults=settings.s3_legacy_bucket_defaults)
        # Built on its first request or a function's first log lines: a server that runs no
        # function and is not asked for logs never imports it.
        logs = deferred("logs", lambda: late.logs_service(store, clock, settings))
        journeys = Journeys(lambda: store.db.reader, settings.time_scale, log_group=lambda fn: _log_group(lambda_, fn),
                            lines=lambda *window: logs.built().lines(*window))

        def log_sink(group: str, stream: str, events: list[tuple[int, str]]) -> None:
            # Called on the event loop: queue the write, never wait for its fsync there.
            if isinstance(clock, ManualClock):
                # Handlers stamp lines with real time; under a manual clock everything else carries
                # the clock's time, and the clock stands still while an attempt runs: its lines
                # carry the clock's time of the attempt (in their order), so a trace or a
                # FilterLogEvents window in clock time finds them.
                stamp = int(clock.now() * 1000)
                events = [(stamp, message) for _, message in events]
            # The first lines build the service here, on the loop, once (its imports, a few ms):
            # an environment has just started, which took far longer.
            logs.built().append(group, stream, events, wait=False, emf=True)

        pool = EnvironmentPool(log_sink, max_environments=settings.max_environments,
                               idle_timeout=settings.environment_idle_timeout,
                               scratch_dir=settings.data_dir / "environments")
        outcomes_due = asyncio.Event()  # the invoker recorded an outcome: deliver it
        mappings_changed = Signal()  # an event source mapping changed (from a request's thread)

        def invoker_for(functions: Functions) -> Invoker:
            return Invoker(store.db, clock, pool, functions, account_concurrency=settings.account_concurrency,
                           local_capacity=settings.max_environments, on_outcome=outcomes_due.set,
                           on_attempt=exporter.attempt_done if exporter else _no_attempt_note)

        roles = _EnforcedRoles(lambda: iam.built(), lambda: enforcer) if settings.enforce_iam else UNCHECKED
        # Probed in the background half a second after the server listens (`listening`): readiness
        # and the first requests do not wait for interpreters to start, nor share the CPU with them.
        python_runtimes = PythonDiscovery(settings.python_overrides, on_done=_say_runtime_notes, start=False)
        lambda_ = LambdaService(store, clock, settings, s3=s3, python_runtimes=python_runtimes,
                                invoker=invoker_for, on_mappings_changed=mappings_changed.set, roles=roles)
        invoker = lambda_.invoker
        assert isinstance(invoker, Invoker)
        services: dict[str, Service] = {"s3": s3, "logs": logs, "lambda": lambda_}
        deliveries.register("lambda", lambda_)
        deliveries.register("s3", s3)
        moves_due = asyncio.Event()  # a message move task started: run its steps
        sqs = SqsService(store, clock, settings, on_move_task=moves_due.set)
        services["sqs"] = sqs
        deliveries.register("sqs", sqs)
        # Publish wakes the SNS outbox dispatcher (built below, with the other engine workers).
        # Built on its first request or delivery; its outbox dispatcher reads the rows alone
        # until one is due (an earlier run's), and builds it then.
        sns = deferred("sns", lambda: late.sns_service(store, clock, settings, deliveries, lambda: sns_outbox.notify()))
        services["sns"] = sns
        deliveries.register("sns", late.LateTarget(sns))
        events_due, schedules_due = Signal(), Signal()  # set from requests' threads
        # Built on its first request or delivery; its engine workers read their rows alone until
        # one is due (an earlier run's), and build it then.
        events = late.LateEvents(store, clock, settings, deliveries, outbox_changed=events_due.set,
                                 schedules_changed=schedules_due.set)
        services["events"] = events
        deliveries.register("events", late.LateTarget(events))
        # Built on its first request; its alarm evaluator runs before that only for alarms an
        # earlier run stored. Alarms publish to SNS.
        cloudwatch = deferred("cloudwatch", lambda: late.cloudwatch_service(store, clock, settings, deliveries))
        services["cloudwatch"] = cloudwatch
        # IAM and STS are built on their first request (or the first signature or policy check):
        # most servers never see one.
        iam = deferred("iam", lambda: late.iam_service(store, clock, settings))
        services["iam"] = iam
        services["sts"] = deferred("sts", lambda: late.sts_service(iam.built(), clock, settings))
        # CloudFormation: its providers call the other services' operations; the deployer runs stacks.
        # Built with the first stack request, the providers with the first stack step: the
        # deployer itself only looks for work rows until then.
        providers = late.Providers(services, settings.endpoint_url, store.db, deliveries)
        stacks = StackDeployer(store.db, clock, providers, notices=StackNotices(store.db, deliveries))
        cloudformation = deferred("cloudformation", lambda: late.cloudformation_service(
            store, clock, services, providers, stacks, iam))
        services["cloudformation"] = cloudformation

        def secret_for(access_key: str) -> str | None:
            # --verify-signatures: root keys, IAM users' keys and STS sessions (functions' too).
            found = iam.built().identity(access_key)
            return found.secret_key if found is not None else None

        def token_for(access_key: str) -> str | None:
            found = iam.built().identity(access_key)
            return found.session_token if found is not None else None

        # SNS and (in plain mode) IAM stay deferred: the enforcer builds them when a question needs them.
        resources: dict[str, ResourcePolicies] = {"s3": s3, "sqs": sqs, "sns": late.LateResourcePolicies(sns),
                                                  "lambda": lambda_}
        enforcer = plain = None
        if settings.enforce_iam:
            enforcer = Enforcer(iam.built(), resources, clock, acls=s3)
        else:
            # Identity policies are not evaluated; the rest is as on AWS: unsigned requests are
            # anonymous, other accounts get what the resource's policy or ACL grants.
            plain = Enforcer(late.LateIamPolicies(iam, settings), resources, clock, acls=s3, identity_policies=False)
        outcomes = OutcomeDelivery(store.db, clock, deliveries, wake=outcomes_due,
                                   authorize=_delivery_authorizer(enforcer, lambda_) if enforcer else None,
                                   on_delivered=exporter.outcome_delivered if exporter else _no_delivery_note)

        # The engine: every background worker of Lambda's pipeline, started after the services
        # and stopped before them (the pollers use SQS), in one place, with one shutdown rule.
        engine = Engine(clock)
        engine.add(Resource("lambda-environments", pool.start, pool.shutdown, pause=pool.stop_all))  # stopped last
        if exporter is not None:
            engine.add(exporter)  # stopped after the work whose spans it exports
        engine.add(invoker.dispatcher)
        engine.add(outcomes.dispatcher)
        engine.add(s3_notifications)
        for worker in sqs_workers(clock, sqs, moves_due):  # before the pollers: they use SQS
            engine.add(worker)
        engine.add(SqsPollers(clock, sqs.receiving, lambda_, invoker, settings.account_id, settings.region, mappings_changed))
        engine.add(S3StorageMetrics(store.db, clock, s3.storage_totals).task())
        engine.add(S3Lifecycle(clock, s3.apply_lifecycle))  # after s3_notifications: it writes notifications
        # SNS deliveries: 16 at a time, a FIFO topic's message group one at a time, in order.
        sns_outbox: OutboxDispatcher[Pending] = engine.add(OutboxDispatcher(
            "sns-deliveries", clock, SnsOutbox(store.db), late.sns_delivery(sns), key=lambda row: row.id,
            group=lambda row: row.fifo_key, concurrency=16))
        for worker in eventbridge_workers(clock, events, events_due, schedules_due):
            engine.add(worker)
        engine.add(PeriodicTask("cloudwatch-alarms", clock, lambda: evaluation_interval(clock),
                                in_executor(late.alarm_evaluation(cloudwatch, AlarmStore(store.db))), run_first=False))
        engine.add(stacks)

        gateway = Gateway(settings, clock, services, secret_for=secret_for, token_for=token_for, engine=engine,
                          enforcer=enforcer, plain=plain,
                          # IAM is built only for a key that may be one of its own: not for `test`.
                          checked=lambda key: has_own_secret(key, settings.credentials,
                                                             lambda known: iam.built().identity(known)))
        gateway.internal["/_sluice/events/"] = lambda rest, query: _event_view(store, rest)
        gateway.internal["/_sluice/lambda-code/"] = lambda rest, query: _code_view(lambda_, rest)
        gateway.internal["/_sluice/lambda-layer/"] = lambda rest, query: _layer_view(lambda_, rest)
        gateway.internal[SNS_LINKS] = sns_links(sns, settings)  # SubscribeURL, UnsubscribeURL
        # Custom resources' ResponseURL: the handler PUTs its response here; the stack wakes.
        gateway.internal_writes[RESPONSE_PATH] = late.custom_responses(
            store.db, lambda stack_id: cloudformation.built().wake(stack_id))
        gateway.internal["/_sluice/trace"] = lambda rest, query: _trace_view(journeys, query)
        metric_store = MetricStore(store.db)

        def current_status() -> dict[str, Any]:
            # engine/status.py loads with the first status asked for (`sluice status`, the console).
            from .engine.status import StatusSources, status

            return status(StatusSources(lambda: store.db.reader, clock.now, settings.time_scale,
                                        lambda_.function_names, lambda_.resolve, lambda: invoker.running.copy(),
                                        invoker.running_async, sqs.depth, metric_store, events.outbox.backlogs))

        gateway.internal["/_sluice/status"] = lambda rest, query: (200, current_status())
        if isinstance(clock, ManualClock):
            # Visibility timeouts and delays are clock time; long polls wait in real time: when
            # the test moves the clock, every parked long poll looks again (docs/testing-api.md).
            clock.when_moved(sqs.state.waiters.wake_all)
        gateway.testing = TestingApi(clock, TestingHooks(
            reset=Reset(store, services, engine), outcome=lambda request_id: async_outcome(store.db, request_id),
            queue_messages=lambda ref: peek(sqs.state, ref)), gateway.run_blocking)
        views = ConsoleViews(journeys=journeys, outcome=lambda rid: async_outcome(store.db, rid),
                             event_state=lambda rid: event_state(store.db, rid),
                             queue_messages=lambda ref: peek(sqs.state, ref), status=current_status,
                             failures=lambda limit: recent_failures(store.db, limit),
                             now=clock.now, code_zip=lambda_.code_zip)

        def console() -> Console:  # on the console's first request: Jinja2 and the pages load then
            from .console.app import Console

            return Console(settings, services, gateway.run_blocking, lambda key: iam.built().identity(key),
                           enforcer=enforcer, views=views)

        gateway.console = DeferredConsole(console, gateway.run_blocking)
        return cls(settings, clock, store, services, gateway, deliveries, engine,
                   listening=lambda: python_runtimes.start(delay=RUNTIME_PROBE_DELAY))

    def close(self) -> None:
        self.store.close()


def _say_runtime_notes(choices: Mapping[str, PythonChoice]) -> None:
    for choice in choices.values():
        if choice.note:  # said at start-up, in GetFunction's StateReason and in the INIT log
            log.warning("%s", choice.note)


def _no_attempt_note(request_id: str, number: int) -> None:
    pass


def _no_delivery_note(request_id: str) -> None:
    pass


def _no_notification_note(outbox_id: int) -> None:
    pass


class _EnforcedRoles:
    """--enforce-iam: Lambda's role checks are evaluated as AWS does, and functions' own calls are
    made with their role's session credentials.

    The enforcer reads every service's resource policies (Lambda's among them), so it is built
    after Lambda: Lambda is given the means to find it (and IAM) when it first asks."""

    def __init__(self, iam: Callable[[], IamService], enforcer: Callable[[], Enforcer | None]) -> None:
        self._iam = iam
        self._enforcer = enforcer

    def _enforcing(self) -> Enforcer:
        enforcer = self._enforcer()
        assert enforcer is not None, "built with --enforce-iam only"
        return enforcer

    def may_assume(self, role_arn: str) -> bool:
        return self._enforcing().lambda_may_assume(role_arn)

    def missing_permission(self, role_arn: str, session: str, actions: Sequence[str], resource: str) -> str | None:
        return self._enforcing().missing_permission(role_arn, session, actions, resource)

    def session(self, role_arn: str, session_name: str) -> Identity:
        return self._iam().role_credentials(role_arn, session_name)


def _delivery_authorizer(enforcer: Enforcer, lambda_: LambdaService) -> Authorize:
    """--enforce-iam: an outcome's delivery is made as the function's execution role."""

    def authorize_delivery(function: str, target: str, delivery: Delivery) -> DeliveryResult | None:
        return enforcer.authorize_delivery(lambda_.execution_role(function), function, target, delivery)

    return authorize_delivery


def _event_view(store: Store, request_id: str) -> tuple[int, Any]:
    state = event_state(store.db, request_id)
    return (200, state) if state is not None else (404, {"error": f"no event {request_id}"})


def _trace_view(journeys: Journeys, query: dict[str, list[str]]) -> tuple[int, Any]:
    target = (query.get("target") or [""])[0]
    if not target:  # testing API v1's error shape (docs/testing-api.md)
        return 400, {"api": API_VERSION, "error": "MissingParameter",
                     "message": "give ?target=<bucket/key | S3 request id | Lambda request id>"}
    found = journeys.find(target, every=(query.get("all") or ["0"])[0] in ("1", "true"))
    if not found:
        hint = " (no event notification was recorded for that key)" if "/" in target else ""
        return 404, {"api": API_VERSION, "error": "TraceNotFound", "message": f"nothing recorded for {target}{hint}"}
    return 200, {"api": API_VERSION, "target": target, "timeScale": journeys.time_scale, "journeys": found}


def _log_group(lambda_: LambdaService, function: str) -> str:
    try:
        return lambda_.resolve(function).spec.log_group
    except ServiceError:  # deleted since: its logs stay in the default group
        return f"/aws/lambda/{function}"


def _code_view(lambda_: LambdaService, rest: str) -> tuple[int, Any]:
    name, _, file = rest.partition("/")
    package = lambda_.code_zip(name, file.removesuffix(".zip"))
    return (200, package) if package is not None else (404, {"error": "no such package"})


def _layer_view(lambda_: LambdaService, rest: str) -> tuple[int, Any]:
    name, _, file = rest.partition("/")
    number = file.removesuffix(".zip")
    archive = lambda_.layer_archive(name, int(number)) if number.isdigit() else None
    return (200, archive) if archive is not None else (404, {"error": "no such layer version"})


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; a clean stop should exit 0.

    On SIGTERM/SIGINT the engine stops taking work at once (pollers leave their long polls,
    dispatchers start nothing new), before uvicorn drains the open connections; the engine's
    running work is then given its grace and cut when the lifespan shuts down."""

    def __init__(self, config: uvicorn.Config, engine: Engine, listening: Callable[[], None]) -> None:
        super().__init__(config)
        self.engine = engine
        self.listening = listening
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            # What start-up built lives as long as the server: kept out of the collector's full
            # passes from now on (gc.freeze), which the first requests' imports would otherwise
            # walk it all again for. The collector runs again from here (`sluice up` pauses it
            # while it starts).
            gc.freeze()
            gc.enable()
            self.listening()

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.engine.request_stop)
        super().handle_exit(sig, frame)

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
        ws="none",  # no AWS API here is a WebSocket: don't import a WebSocket implementation
        lifespan="on",
        access_log=False,
        log_level="warning" if settings.log_level not in ("debug", "trace") else settings.log_level,
        timeout_keep_alive=30,
        proxy_headers=False,  # nothing sits in front of Sluice; the client address is the peer
        server_header=False,
        date_header=True,
        # Requests still open this many seconds after a stop was asked for are cut (a
        # RequestResponse invoke of a long handler must not hold the exit).
        timeout_graceful_shutdown=STOP_GRACE_SECONDS,
    )
    server = _Server(config, app.engine, app.listening)
    log.info("Sluice listening on %s (data in %s)", settings.endpoint_url, settings.data_dir.resolve())
    log.info("Console: %s%s/", settings.endpoint_url, CONSOLE_PREFIX)
    log.info("%s", runtimes.node_summary())
    try:
        server.run()
    finally:
        app.close()
        log.info("Sluice stopped")
