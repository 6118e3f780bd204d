"""SNS: topics, subscriptions, Publish / PublishBatch, tags, and deliveries.

No HTTP, no XML: members in, members out. The service is split by subject, each part with one
job, sharing one `Shared` (store, clock, settings, the outbox's wake-up):

- topics.py: topics, their attributes and tags;
- subscriptions.py: subscriptions and the HTTP/S confirmation handshake;
- publishing.py: Publish, PublishBatch, and SNS as a delivery target (`deliver`);
- outbox.py: the delivery rules: one outbox row -> one attempt -> delivered, retried or given up;
- retry.py: the delivery retry policies; records.py: every SQL statement.

Publish commits the message and its deliveries (an outbox row per subscription) in one
transaction and answers; the engine's `OutboxDispatcher`, built by the composition root over
`outbox` and `deliverer.deliver`, delivers them in the background (the engine owns *when*).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ...clock import Clock
from ...settings import Settings
from ...store import Store
from ..base import Service
from ..delivery import Deliveries, Delivery, DeliveryResult
from .outbox import Deliverer, SendHttp
from .publishing import Publishing
from .records import Outbox
from .shared import Shared
from .subscriptions import Subscriptions
from .topics import Topics


class SnsService(Service):
    name = "sns"

    def __init__(self, store: Store, clock: Clock, settings: Settings, deliveries: Deliveries, *,
                 send_http: SendHttp, queued: Callable[[], None]) -> None:
        """`send_http`: the HTTP/S delivery client (engine/sns_http.py); `queued`: called (from
        any thread) when deliveries were committed, to wake the outbox dispatcher."""
        shared = Shared(store.db, clock, settings, queued)
        self.topics = Topics(shared)
        self.subscriptions = Subscriptions(shared)
        self.publishing = Publishing(shared)
        self.outbox = Outbox(store.db)  # the dispatcher's DueSource
        self.deliverer = Deliverer(store.db, clock, settings.endpoint_url, deliveries, send_http)

    def operation_owners(self) -> Sequence[object]:
        return (self.topics, self.subscriptions, self.publishing)

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(the topic's access policy; its account) for IAM enforcement."""
        return self.topics.resource_policy(arn)

    def deliver(self, arn: str, delivery: Delivery) -> DeliveryResult:
        """SNS as a delivery target: publish `delivery.body` to the topic `arn`."""
        return self.publishing.deliver(arn, delivery)
