"""The services the composition root (server.py) builds on their first use, and what stands in
for them until then: each function imports its service's modules when it runs
(services/deferred.py holds the built service)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .auth.identity import Identity, well_known_identity
from .auth.policy import Policy
from .clock import Clock
from .engine.stacks import StackDeployer
from .services.base import Service
from .services.cloudwatch.alarms import AlarmStore
from .services.deferred import DeferredService
from .services.delivery import Deliveries, Delivery, DeliveryResult
from .services.events import records as events_records
from .services.events.metrics import DEFAULT_BUS, EventsMetrics
from .services.sns.records import Pending
from .settings import Settings
from .store import Store
from .store.db import Database

if TYPE_CHECKING:
    from .services.cloudformation.providers import Provider
    from .services.cloudformation.service import CloudFormationService
    from .services.cloudwatch.service import CloudWatchService
    from .services.events.records import OutboxRow, RuleRecord
    from .services.events.service import EventsService
    from .services.iam.service import IamService
    from .services.logs.service import LogsService
    from .services.sns.service import SnsService


def sns_service(store: Store, clock: Clock, settings: Settings, deliveries: Deliveries,
                queued: Callable[[], None]) -> SnsService:
    from .engine.sns_http import post_notification  # with ssl's contexts: only once SNS is used
    from .services.sns.service import SnsService

    return SnsService(store, clock, settings, deliveries, send_http=post_notification, queued=queued)


def sns_delivery(sns: DeferredService[SnsService]) -> Callable[[Pending], Coroutine[Any, Any, None]]:
    async def deliver(row: Pending) -> None:
        # Built off the loop the first time (an earlier run's rows, before any SNS request).
        service = sns.built() if sns.is_built else await asyncio.get_running_loop().run_in_executor(None, sns.built)
        await service.deliverer.deliver(row)

    return deliver


class LateTarget:
    """A deferred service as a delivery target (S3 notifications, Lambda destinations, alarm
    actions to SNS): built with the first delivery to it."""

    def __init__(self, service: DeferredService[Any]) -> None:
        self._service = service

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        result: DeliveryResult = self._service.built().deliver(arn, delivery)
        return result


def logs_service(store: Store, clock: Clock, settings: Settings) -> LogsService:
    from .services.logs.service import LogsService

    return LogsService(store, clock, account_id=settings.account_id, region=settings.region)


def cloudwatch_service(store: Store, clock: Clock, settings: Settings, deliveries: Deliveries) -> CloudWatchService:
    from .services.cloudwatch.service import CloudWatchService

    return CloudWatchService(store, clock, settings, deliveries)


def alarm_evaluation(cloudwatch: DeferredService[CloudWatchService], alarms: AlarmStore) -> Callable[[], None]:
    def evaluate_alarms() -> None:
        # Never used and no alarm stored by an earlier run: nothing to evaluate, nothing to build.
        if cloudwatch.is_built or alarms.any():
            cloudwatch.built().evaluate_alarms()

    return evaluate_alarms


def cloudformation_service(store: Store, clock: Clock, services: Mapping[str, Service],
                           providers: Mapping[str, Provider], stacks: StackDeployer,
                           iam: Service) -> CloudFormationService:
    from .services.cloudformation import sam
    from .services.cloudformation.service import CloudFormationService

    return CloudFormationService(
        store, clock, services, wake=stacks.notify, settled=stacks.settled, expand=sam.expander(iam),
        replace_on=lambda kind: providers[kind].replace_on if kind in providers else None)


class Providers(Mapping[str, "Provider"]):
    """CloudFormation's resource providers by type, custom resources' among them (sent to their
    handlers through `deliveries`), built when a stack first needs one."""

    def __init__(self, services: Mapping[str, Service], endpoint_url: str, db: Database,
                 deliveries: Deliveries) -> None:
        self._services = services
        self._endpoint_url = endpoint_url
        self._db = db
        self._deliveries = deliveries
        self._built: Mapping[str, Provider] | None = None
        self._lock = threading.Lock()

    def _providers(self) -> Mapping[str, Provider]:
        with self._lock:
            if self._built is None:
                from .services.cloudformation.custom import CustomResource, WithCustomResources
                from .services.cloudformation.providers import build_providers

                self._built = WithCustomResources(build_providers(self._services, self._endpoint_url),
                                                  CustomResource(self._db, self._deliveries, self._endpoint_url))
            return self._built

    def __getitem__(self, kind: str) -> Provider:
        return self._providers()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._providers())

    def __len__(self) -> int:
        return len(self._providers())


def custom_responses(db: Database, wake: Callable[[str], None]) -> Callable[[str, bytes], tuple[int, Any]]:
    """The gateway's handler for custom resources' responses (PUTs under RESPONSE_PATH), which
    loads their code with the first."""
    built: list[Callable[[str, bytes], tuple[int, Any]]] = []

    def receive(request_id: str, body: bytes) -> tuple[int, Any]:
        if not built:  # a race builds two: either one answers the same
            from .services.cloudformation.custom import CustomResponses

            built.append(CustomResponses(db, wake).receive)
        return built[0](request_id, body)

    return receive


def iam_service(store: Store, clock: Clock, settings: Settings) -> IamService:
    from .services.iam.service import IamService

    return IamService(store, clock, settings)


def sts_service(iam: IamService, clock: Clock, settings: Settings) -> Service:
    from .services.sts.service import StsService

    return StsService(iam, clock, settings)


class LateIamPolicies:
    """IAM as plain mode's enforcer asks it (auth/sources.py's IamPolicies), built only when a
    question needs its records: a request made with `test` or a 12-digit key id, the common case,
    is answered without it."""

    def __init__(self, iam: DeferredService[IamService], settings: Settings) -> None:
        self._iam = iam
        self._settings = settings
        # Each well-known key's answer, made once (an Identity is slow to build, and the same):
        # used only while IAM is unbuilt, as the answer itself is.
        self._known: dict[str, _Known | None] = {}

    def lookup(self, access_key: str) -> Any:
        if not self._iam.is_built and access_key not in self._settings.credentials:
            known = self._known.get(access_key, False)
            if known is False:
                if len(self._known) >= 1024:  # any 12-digit key is one: keep a bounded few
                    self._known.clear()
                identity = well_known_identity(access_key, self._settings.account_id)
                known = self._known[access_key] = _Known(identity) if identity is not None else None
            if known is not None:
                return known
        return self._iam.built().lookup(access_key)

    def identity_policies(self, identity: Identity) -> list[Policy]:
        return self._iam.built().identity_policies(identity)

    def role(self, role_arn: str) -> Mapping[str, Any] | None:
        return self._iam.built().role(role_arn)


class _Known:
    """A key lookup that found a well-known root identity (auth/sources.py's KeyLookup)."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.expired = False


class LateResourcePolicies:
    """A deferred service's resource policies (SNS topics') for the enforcer: a topic's policy is
    asked about by a request to SNS, which has built it by then."""

    def __init__(self, service: DeferredService[Any]) -> None:
        self._service = service

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        found: tuple[str | None, str | None] = self._service.built().resource_policy(arn)
        return found


class LateEvents(DeferredService["EventsService"]):
    """EventBridge, built on its first request or delivery. Until then its engine workers read
    the outbox's and the schedules' rows from the records alone (`outbox`, `schedules`) and build
    it for one that is due (an earlier run's); its metrics buffer (flushed by the engine) and its
    origin (the schedules' timeline and the default bus's creation time) are the server start's,
    as when it was built then; a reset writes the default bus whether it is built or not."""

    name = "events"
    writes_fresh_rows = True

    def __init__(self, store: Store, clock: Clock, settings: Settings, deliveries: Deliveries, *,
                 outbox_changed: Callable[[], None], schedules_changed: Callable[[], None]) -> None:
        self.metrics = EventsMetrics(store.db, clock)
        self.origin = clock.now()
        self._settings = settings

        def build() -> EventsService:
            from .services.events.service import EventsService

            return EventsService(store, clock, settings, deliveries, outbox_changed=outbox_changed,
                                 schedules_changed=schedules_changed, metrics=self.metrics, origin=self.origin)

        super().__init__(build)
        self.outbox = _LateEventsOutbox(self, store)
        self.schedules = _LateSchedules(self, store)

    def fresh_rows(self, conn: sqlite3.Connection) -> None:
        if self.is_built:
            self.built().fresh_rows(conn)
            return
        # The default bus, as the service writes it (Buses.write_default).
        bus = events_records.BusRecord(self._settings.account_id, self._settings.region, DEFAULT_BUS,
                                       self.origin, self.origin)
        events_records.insert_bus(conn, bus, if_absent=True)


class _LateEventsOutbox:
    """EventBridge's target deliveries as the engine's dispatcher sees them (events/outbox.py)."""

    def __init__(self, events: LateEvents, store: Store) -> None:
        self._events = events
        self._db = store.db

    def fetch_due(self, now: float, limit: int) -> list[OutboxRow]:
        return events_records.due_deliveries(self._db.reader, now, limit)

    def next_due(self, now: float) -> float | None:
        return events_records.next_delivery_after(self._db.reader, now)

    @staticmethod
    def key(row: OutboxRow) -> int:
        return row.id

    def deliver(self, row: OutboxRow) -> None:  # in a worker thread: the service is built there
        self._events.built().outbox.deliver(row)

    def backlogs(self) -> list[events_records.Backlog]:
        return events_records.backlogs(self._db.reader)


class _LateSchedules:
    """EventBridge's schedule rules as the engine's dispatcher sees them (events/schedule_fires.py)."""

    def __init__(self, events: LateEvents, store: Store) -> None:
        self._events = events
        self._db = store.db

    def fetch_due(self, now: float, limit: int) -> list[RuleRecord]:
        return events_records.due_schedules(self._db.reader, now, limit)

    def next_due(self, now: float) -> float | None:
        return events_records.next_fire_after(self._db.reader, now)

    @staticmethod
    def key(rule: RuleRecord) -> tuple[str, str, str, str]:
        return rule.key

    def fire(self, rule: RuleRecord) -> None:  # in a worker thread: the service is built there
        self._events.built().schedules.fire(rule)
