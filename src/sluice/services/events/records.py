"""EventBridge's durable state: buses, rules, targets, and the outbox of pending target deliveries.

An accepted event leaves no row of its own: what must survive a crash is the work it causes, one
`events_outbox` row per (event, matching rule, target), written in the transaction that accepts
the event (PutEvents, a delivery from another service, a schedule firing). The dispatcher deletes
a row once its target has the message (or it went to the dead-letter queue, or was given up), so
a row outlives a crash and is delivered after restart: at least once.

A schedule rule's next fire time (`next_fire`, wall-clock seconds) is advanced in the transaction
that writes the fire's outbox rows, so a fire is neither lost nor repeated across a crash.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from ...store.db import Migration

_EVENTS_0001 = Migration(
    "events-0001",
    """
    CREATE TABLE events_buses (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        modified REAL NOT NULL,
        description TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (account, region, name)
    );
    CREATE TABLE events_rules (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        bus TEXT NOT NULL,
        name TEXT NOT NULL,
        pattern TEXT,
        schedule TEXT,
        state TEXT NOT NULL,
        description TEXT,
        role_arn TEXT,
        created REAL NOT NULL,
        tags TEXT NOT NULL DEFAULT '{}',
        next_fire REAL,
        PRIMARY KEY (account, region, bus, name)
    );
    CREATE INDEX events_rules_by_fire ON events_rules(next_fire);
    CREATE TABLE events_targets (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        bus TEXT NOT NULL,
        rule TEXT NOT NULL,
        id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        arn TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (account, region, bus, rule, id)
    );
    CREATE INDEX events_targets_by_arn ON events_targets(account, region, bus, arn);
    CREATE TABLE events_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        event_id TEXT NOT NULL,
        rule_arn TEXT NOT NULL,
        target_id TEXT NOT NULL,
        target_arn TEXT NOT NULL,
        body TEXT NOT NULL,
        event TEXT NOT NULL,
        options TEXT NOT NULL,
        created REAL NOT NULL,
        next_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX events_outbox_by_due ON events_outbox(next_at);
    """,
)
MIGRATIONS = (_EVENTS_0001,)

ENABLED_STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


def bus_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def rule_arn(region: str, account: str, bus: str, name: str) -> str:
    middle = "" if bus == "default" else f"{bus}/"
    return f"arn:aws:events:{region}:{account}:rule/{middle}{name}"


@dataclass
class BusRecord:
    account: str
    region: str
    name: str
    created: float
    modified: float
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> BusRecord:
        return cls(row["account"], row["region"], row["name"], row["created"], row["modified"],
                   row["description"], json.loads(row["tags"]))

    @property
    def arn(self) -> str:
        return bus_arn(self.region, self.account, self.name)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Arn": self.arn}
        if self.description:
            out["Description"] = self.description
        out["CreationTime"] = self.created
        out["LastModifiedTime"] = self.modified
        return out


@dataclass
class RuleRecord:
    account: str
    region: str
    bus: str
    name: str
    pattern: str | None
    schedule: str | None
    state: str
    description: str | None
    role_arn: str | None
    created: float
    tags: dict[str, str]
    next_fire: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RuleRecord:
        return cls(row["account"], row["region"], row["bus"], row["name"], row["pattern"], row["schedule"],
                   row["state"], row["description"], row["role_arn"], row["created"], json.loads(row["tags"]),
                   row["next_fire"])

    @property
    def arn(self) -> str:
        return rule_arn(self.region, self.account, self.bus, self.name)

    @property
    def enabled(self) -> bool:
        return self.state in ENABLED_STATES

    def describe(self, full: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Arn": self.arn}
        if self.pattern is not None:
            out["EventPattern"] = self.pattern
        if self.schedule is not None:
            out["ScheduleExpression"] = self.schedule
        out["State"] = self.state
        if self.description is not None:
            out["Description"] = self.description
        if self.role_arn is not None:
            out["RoleArn"] = self.role_arn
        out["EventBusName"] = self.bus
        if full:
            out["CreatedBy"] = self.account
        return out


def rule_row(conn: sqlite3.Connection, account: str, region: str, bus: str, name: str) -> RuleRecord | None:
    row = conn.execute("SELECT * FROM events_rules WHERE account=? AND region=? AND bus=? AND name=?",
                       (account, region, bus, name)).fetchone()
    return RuleRecord.from_row(row) if row else None


def bus_row(conn: sqlite3.Connection, account: str, region: str, name: str) -> BusRecord | None:
    row = conn.execute("SELECT * FROM events_buses WHERE account=? AND region=? AND name=?",
                       (account, region, name)).fetchone()
    return BusRecord.from_row(row) if row else None


def targets_of(conn: sqlite3.Connection, account: str, region: str, bus: str, rule: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT config FROM events_targets WHERE account=? AND region=? AND bus=? AND rule=? ORDER BY seq",
        (account, region, bus, rule)).fetchall()
    return [json.loads(r["config"]) for r in rows]
