"""SNS's durable state: topics, subscriptions, published messages and their pending deliveries.

The outbox (`sns_outbox`) is what makes Publish durable: a published message (`sns_messages`,
stored once) and one outbox row per subscription it must reach are committed in the same
transaction as the Publish that answers 200. A row leaves the outbox only once its delivery
succeeded or ended for good (dead-letter queue, or dropped when the policy is exhausted), so a
SIGKILL at any moment at worst repeats a delivery after restart (at least once).

An outbox row carries a snapshot of its target (`target`, JSON: protocol, endpoint, raw delivery,
dead-letter queue, retry policy), so confirmations still reach an endpoint whose subscription has
gone (UnsubscribeConfirmation). `fifo_key` (subscription + message group) serializes a FIFO
topic's deliveries per subscription and group.
"""

from __future__ import annotations

from ...store.db import Migration

_SNS_0001 = Migration(
    "sns-0001",
    """
    CREATE TABLE sns_topics (
        id INTEGER PRIMARY KEY,
        arn TEXT NOT NULL UNIQUE,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        fifo INTEGER NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '[]',
        subscriptions_deleted INTEGER NOT NULL DEFAULT 0,
        sequence INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX sns_topics_by_scope ON sns_topics(account, region, id);
    CREATE TABLE sns_subscriptions (
        id INTEGER PRIMARY KEY,
        arn TEXT NOT NULL UNIQUE,
        topic_arn TEXT NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        protocol TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        owner TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}',
        pending INTEGER NOT NULL,
        authenticated INTEGER NOT NULL DEFAULT 0,
        token TEXT,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX sns_subscriptions_by_topic ON sns_subscriptions(topic_arn, id);
    CREATE INDEX sns_subscriptions_by_scope ON sns_subscriptions(account, region, id);
    CREATE INDEX sns_subscriptions_by_token ON sns_subscriptions(token);
    CREATE TABLE sns_messages (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL
    );
    CREATE TABLE sns_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        subscription_arn TEXT NOT NULL,
        target TEXT NOT NULL,
        fifo_key TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        due REAL NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX sns_outbox_by_due ON sns_outbox(due);
    CREATE INDEX sns_outbox_by_message ON sns_outbox(message_id);
    CREATE INDEX sns_outbox_by_subscription ON sns_outbox(subscription_arn);
    CREATE INDEX sns_outbox_by_fifo_key ON sns_outbox(fifo_key, id);
    CREATE TABLE sns_dedup (
        topic_arn TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sequence TEXT NOT NULL,
        expires REAL NOT NULL,
        PRIMARY KEY (topic_arn, dedup_id)
    );
    """,
)
MIGRATIONS = (_SNS_0001,)
