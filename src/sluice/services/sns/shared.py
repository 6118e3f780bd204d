"""What SNS's parts share: the store, the clock, the settings, the outbox's wake-up, and lookups."""

from __future__ import annotations

import base64
import binascii
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from ...clock import Clock
from ...protocol.context import RequestContext
from ...settings import Settings
from ...store.db import Database
from . import errors, records
from .attributes import default_policy
from .names import parse_topic_arn
from .records import Subscription, Topic

PAGE_SIZE = 100


@dataclass
class Shared:
    """The state and lookups every part of SNS is handed."""

    db: Database
    clock: Clock
    settings: Settings
    queued: Callable[[], None]  # new outbox rows were committed: the dispatcher looks (thread-safe)

    def arn_for(self, ctx: RequestContext, text: str | None, action: str, member: str = "TopicArn") -> str:
        """A topic ARN the caller may use: its region, its account (else AuthorizationError)."""
        if text is None:
            raise errors.validation(member[0].lower() + member[1:])
        arn = parse_topic_arn(text, member)
        if arn.region != ctx.region:
            raise errors.invalid(member)
        if arn.account != ctx.account_id:
            raise errors.not_authorized(ctx.account_id, action, arn.text)
        return arn.text

    def topic(self, arn: str, conn: sqlite3.Connection | None = None) -> Topic | None:
        return records.topic(conn or self.db.reader, arn)

    def existing_topic(self, arn: str, conn: sqlite3.Connection | None = None) -> Topic:
        found = self.topic(arn, conn)
        if found is None:
            raise errors.topic_not_found()
        return found

    def subscription(self, arn: str, conn: sqlite3.Connection | None = None) -> Subscription | None:
        return records.subscription(conn or self.db.reader, arn)


def topic_policy(topic: Topic) -> str:
    """The topic's access policy: its Policy attribute, else the default one."""
    return topic.attributes.get("Policy") or default_policy(topic.arn, topic.account)


def encode_token(n: int) -> str:
    return base64.b64encode(str(n).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.b64decode(token.encode(), validate=True).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.invalid("NextToken") from None
