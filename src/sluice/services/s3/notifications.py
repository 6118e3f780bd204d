"""Put/GetBucketNotificationConfiguration.

The rest of S3's event notifications lives beside this: what a configuration may say and which
destinations it reaches (notification_config.py), the event records an object change writes in
its own transaction (event_records.py), and their delivery, which the engine runs (outbox.py).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from . import core
from .notification_config import DestinationCheck, normalize
from .records import notifications
from .state import S3State


class Notifications:
    def __init__(self, state: S3State, destinations: DestinationCheck) -> None:
        self.s = state
        self.destinations = destinations

    def put_bucket_notification_configuration(self, ctx: RequestContext, Bucket: str,
                                              NotificationConfiguration: dict[str, Any] | None = None,
                                              **params: Any) -> dict[str, Any]:
        core.bucket(self.s, Bucket)
        stored = normalize(NotificationConfiguration or {})
        if not params.get("SkipDestinationValidation"):
            self.destinations.check(ctx, Bucket, stored)

        def txn(conn: sqlite3.Connection) -> None:
            core.require_bucket(conn, Bucket)
            notifications.set_configuration(conn, Bucket, stored)

        self.s.db.write(txn)
        return {}

    def get_bucket_notification_configuration(self, ctx: RequestContext, Bucket: str,
                                              **_: Any) -> dict[str, Any]:
        core.bucket(self.s, Bucket)
        return notifications.configuration(self.s.db.reader, Bucket) or {}
