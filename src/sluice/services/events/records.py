"""EventBridge's durable state: buses, rules, targets, and the outbox of pending target deliveries.

An accepted event leaves no row of its own: what must survive a crash is the work it causes, one
`events_outbox` row per (event, matching rule, target), written in the transaction that accepts
the event (PutEvents, a delivery from another service, a schedule firing). The outbox's handler
deletes a row once its target has the message (or it went to the dead-letter queue, or was given
up), so a row outlives a crash and is delivered after restart: at least once.

A schedule rule's next fire time (`next_fire`, wall-clock seconds) is advanced in the transaction
that writes the fire's outbox rows, so a fire is neither lost nor repeated across a crash.

Every statement EventBridge runs is here, as typed functions taking the connection of the
transaction (or the reader) they belong to; the service's modules hold the rules.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
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
    """An event bus's row."""

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
    """A rule's row: a pattern rule or a schedule rule, on one bus."""

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


    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.account, self.region, self.bus, self.name)


@dataclass(frozen=True)
class Target:
    """A rule's target: its id, ARN and the whole PutTargets member (`config`), in rule order."""

    id: str
    seq: int
    arn: str
    config: dict[str, Any]


@dataclass(frozen=True)
class NewDelivery:
    """An outbox row to write: one (event, rule, target), due at once."""

    account: str
    event_id: str
    rule_arn: str
    target_id: str
    target_arn: str
    body: str  # what the target receives
    event: str  # the event itself (compact JSON), for a dead-letter queue
    options: str  # JSON: trace header, retry policy, dead-letter queue, FIFO group, next bus
    created: float


@dataclass(frozen=True)
class OutboxRow:
    """A pending target delivery."""

    id: int
    account: str
    event_id: str
    rule_arn: str
    target_id: str
    target_arn: str
    body: str
    event: str
    options: dict[str, Any]
    created: float
    next_at: float
    attempts: int
    last_error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxRow:
        return cls(row["id"], row["account"], row["event_id"], row["rule_arn"], row["target_id"], row["target_arn"],
                   row["body"], row["event"], json.loads(row["options"]), row["created"], row["next_at"],
                   row["attempts"], row["last_error"])


# -- buses -------------------------------------------------------------------------------------

def bus_row(conn: sqlite3.Connection, account: str, region: str, name: str) -> BusRecord | None:
    row = conn.execute("SELECT * FROM events_buses WHERE account=? AND region=? AND name=?",
                       (account, region, name)).fetchone()
    return BusRecord.from_row(row) if row else None


def insert_bus(conn: sqlite3.Connection, bus: BusRecord, *, if_absent: bool = False) -> None:
    verb = "INSERT OR IGNORE" if if_absent else "INSERT"
    conn.execute(f"{verb} INTO events_buses (account, region, name, created, modified, description, tags)"
                 " VALUES (?,?,?,?,?,?,?)",
                 (bus.account, bus.region, bus.name, bus.created, bus.modified, bus.description, json.dumps(bus.tags)))


def delete_bus(conn: sqlite3.Connection, account: str, region: str, name: str) -> None:
    """The bus with its rules and their targets."""
    key = (account, region, name)
    conn.execute("DELETE FROM events_targets WHERE account=? AND region=? AND bus=?", key)
    conn.execute("DELETE FROM events_rules WHERE account=? AND region=? AND bus=?", key)
    conn.execute("DELETE FROM events_buses WHERE account=? AND region=? AND name=?", key)


def buses_after(conn: sqlite3.Connection, account: str, region: str, after: str) -> list[BusRecord]:
    """The stored buses whose name sorts after `after`, in name order."""
    rows = conn.execute("SELECT * FROM events_buses WHERE account=? AND region=? AND name > ? ORDER BY name",
                        (account, region, after)).fetchall()
    return [BusRecord.from_row(r) for r in rows]


def set_bus_tags(conn: sqlite3.Connection, account: str, region: str, name: str, tags: dict[str, str]) -> None:
    conn.execute("UPDATE events_buses SET tags=? WHERE account=? AND region=? AND name=?",
                 (json.dumps(tags), account, region, name))


# -- rules -------------------------------------------------------------------------------------

def rule_row(conn: sqlite3.Connection, account: str, region: str, bus: str, name: str) -> RuleRecord | None:
    row = conn.execute("SELECT * FROM events_rules WHERE account=? AND region=? AND bus=? AND name=?",
                       (account, region, bus, name)).fetchone()
    return RuleRecord.from_row(row) if row else None


def insert_rule(conn: sqlite3.Connection, rule: RuleRecord) -> None:
    conn.execute(
        "INSERT INTO events_rules (account, region, bus, name, pattern, schedule, state, description,"
        " role_arn, created, tags, next_fire) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (rule.account, rule.region, rule.bus, rule.name, rule.pattern, rule.schedule, rule.state, rule.description,
         rule.role_arn, rule.created, json.dumps(rule.tags), rule.next_fire))


def replace_rule(conn: sqlite3.Connection, rule: RuleRecord) -> None:
    """PutRule on an existing rule: everything but its creation time and tags."""
    conn.execute(
        "UPDATE events_rules SET pattern=?, schedule=?, state=?, description=?, role_arn=?, next_fire=?"
        " WHERE account=? AND region=? AND bus=? AND name=?",
        (rule.pattern, rule.schedule, rule.state, rule.description, rule.role_arn, rule.next_fire, *rule.key))


def set_rule_state(conn: sqlite3.Connection, key: tuple[str, str, str, str], state: str,
                   next_fire: float | None) -> None:
    conn.execute("UPDATE events_rules SET state=?, next_fire=? WHERE account=? AND region=? AND bus=? AND name=?",
                 (state, next_fire, *key))


def set_rule_tags(conn: sqlite3.Connection, key: tuple[str, str, str, str], tags: dict[str, str]) -> None:
    conn.execute("UPDATE events_rules SET tags=? WHERE account=? AND region=? AND bus=? AND name=?",
                 (json.dumps(tags), *key))


def delete_rule(conn: sqlite3.Connection, key: tuple[str, str, str, str]) -> None:
    conn.execute("DELETE FROM events_rules WHERE account=? AND region=? AND bus=? AND name=?", key)


def rules_page(conn: sqlite3.Connection, account: str, region: str, bus: str, *, prefix: str, after: str,
               limit: int) -> list[RuleRecord]:
    """Up to `limit` rules of a bus named with `prefix`, after `after`, in name order."""
    rows = conn.execute(
        "SELECT * FROM events_rules WHERE account=? AND region=? AND bus=? AND name > ? AND name >= ?"
        " ORDER BY name LIMIT ?",  # names with the prefix come first, together
        (account, region, bus, after, prefix, limit)).fetchall()
    return [rule for rule in map(RuleRecord.from_row, rows) if rule.name.startswith(prefix)]


def pattern_rules(conn: sqlite3.Connection, account: str, region: str, bus: str) -> list[RuleRecord]:
    """The rules of a bus that have an event pattern (enabled or not)."""
    rows = conn.execute("SELECT * FROM events_rules WHERE account=? AND region=? AND bus=? AND pattern IS NOT NULL",
                        (account, region, bus)).fetchall()
    return [RuleRecord.from_row(r) for r in rows]


# -- schedules ---------------------------------------------------------------------------------

def schedule_rules(conn: sqlite3.Connection) -> list[RuleRecord]:
    rows = conn.execute("SELECT * FROM events_rules WHERE schedule IS NOT NULL").fetchall()
    return [RuleRecord.from_row(r) for r in rows]


def due_schedules(conn: sqlite3.Connection, now: float, limit: int) -> list[RuleRecord]:
    rows = conn.execute("SELECT * FROM events_rules WHERE next_fire IS NOT NULL AND next_fire <= ?"
                        " ORDER BY next_fire LIMIT ?", (now, limit)).fetchall()
    return [RuleRecord.from_row(r) for r in rows]


def next_fire_after(conn: sqlite3.Connection, now: float) -> float | None:
    row = conn.execute("SELECT MIN(next_fire) AS t FROM events_rules WHERE next_fire > ?", (now,)).fetchone()
    return row["t"] if row is not None else None


def set_next_fire(conn: sqlite3.Connection, key: tuple[str, str, str, str], next_fire: float | None) -> None:
    conn.execute("UPDATE events_rules SET next_fire=? WHERE account=? AND region=? AND bus=? AND name=?",
                 (next_fire, *key))


# -- targets -----------------------------------------------------------------------------------

def targets_of(conn: sqlite3.Connection, account: str, region: str, bus: str, rule: str) -> list[dict[str, Any]]:
    """A rule's targets, as PutTargets gave them, in the order they were first put."""
    rows = conn.execute(
        "SELECT config FROM events_targets WHERE account=? AND region=? AND bus=? AND rule=? ORDER BY seq",
        (account, region, bus, rule)).fetchall()
    return [json.loads(r["config"]) for r in rows]


def target_order(conn: sqlite3.Connection, key: tuple[str, str, str, str]) -> dict[str, int]:
    """Each target id of a rule and its place."""
    return {r["id"]: r["seq"] for r in conn.execute(
        "SELECT id, seq FROM events_targets WHERE account=? AND region=? AND bus=? AND rule=?", key)}


def has_targets(conn: sqlite3.Connection, key: tuple[str, str, str, str]) -> bool:
    return conn.execute("SELECT 1 FROM events_targets WHERE account=? AND region=? AND bus=? AND rule=? LIMIT 1",
                        key).fetchone() is not None


def put_target(conn: sqlite3.Connection, key: tuple[str, str, str, str], target: Target) -> None:
    conn.execute("INSERT OR REPLACE INTO events_targets (account, region, bus, rule, id, seq, arn, config)"
                 " VALUES (?,?,?,?,?,?,?,?)", (*key, target.id, target.seq, target.arn, json.dumps(target.config)))


def delete_targets(conn: sqlite3.Connection, key: tuple[str, str, str, str], ids: Iterable[str]) -> None:
    conn.executemany("DELETE FROM events_targets WHERE account=? AND region=? AND bus=? AND rule=? AND id=?",
                     [(*key, i) for i in ids])


def rule_names_by_target(conn: sqlite3.Connection, account: str, region: str, bus: str, arn: str) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT rule FROM events_targets WHERE account=? AND region=? AND bus=? AND arn=? ORDER BY rule",
        (account, region, bus, arn)).fetchall()
    return [r["rule"] for r in rows]


# -- the outbox --------------------------------------------------------------------------------

def insert_deliveries(conn: sqlite3.Connection, items: Iterable[NewDelivery]) -> None:
    conn.executemany(
        "INSERT INTO events_outbox (account, event_id, rule_arn, target_id, target_arn, body, event, options,"
        " created, next_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(d.account, d.event_id, d.rule_arn, d.target_id, d.target_arn, d.body, d.event, d.options, d.created,
          d.created) for d in items])


def due_deliveries(conn: sqlite3.Connection, now: float, limit: int) -> list[OutboxRow]:
    rows = conn.execute("SELECT * FROM events_outbox WHERE next_at <= ? ORDER BY next_at LIMIT ?",
                        (now, limit)).fetchall()
    return [OutboxRow.from_row(r) for r in rows]


def next_delivery_after(conn: sqlite3.Connection, now: float) -> float | None:
    row = conn.execute("SELECT MIN(next_at) AS t FROM events_outbox WHERE next_at > ?", (now,)).fetchone()
    return row["t"] if row is not None else None


@dataclass(frozen=True)
class Backlog:
    """A rule's target deliveries not yet made."""

    rule_arn: str
    pending: int  # rows in the outbox, due now or waiting for a retry
    retrying: int  # of which have failed at least once
    oldest: float  # when the oldest of them was accepted (clock time)


def backlogs(conn: sqlite3.Connection) -> list[Backlog]:
    rows = conn.execute("SELECT rule_arn, COUNT(*) AS n, SUM(attempts > 0) AS retrying, MIN(created) AS oldest"
                        " FROM events_outbox GROUP BY rule_arn ORDER BY rule_arn").fetchall()
    return [Backlog(r["rule_arn"], r["n"], r["retrying"], r["oldest"]) for r in rows]


def pending_deliveries(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT COUNT(*) AS n FROM events_outbox").fetchone()
    return int(row["n"])


def retry_delivery(conn: sqlite3.Connection, row_id: int, attempts: int, next_at: float, error: str) -> None:
    conn.execute("UPDATE events_outbox SET attempts=?, next_at=?, last_error=? WHERE id=?",
                 (attempts, next_at, error, row_id))


def delete_delivery(conn: sqlite3.Connection, row_id: int) -> None:
    conn.execute("DELETE FROM events_outbox WHERE id=?", (row_id,))
