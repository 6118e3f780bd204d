"""CloudFormation's records: stacks, their resources, events, change sets, exports, and the
deployer's work rows. Every SQL statement of the service is here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# The schema steps are in migrations.py and the queries the engine's deployer makes before
# CloudFormation is built in work.py: both are imported at start-up, these records are not.


def _j(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass
class Stack:
    """A stack's row: what it was deployed from, its status and its outputs."""

    stack_id: str
    name: str
    account: str
    region: str
    status: str
    reason: str | None
    created: float
    updated: float | None
    deleted: float | None
    body: str
    template: dict[str, Any]
    parameters: list[dict[str, str]]
    capabilities: list[str]
    tags: list[dict[str, str]]
    outputs: list[dict[str, Any]]
    options: dict[str, Any]
    previous: dict[str, Any] | None = None
    change_set_id: str | None = None

    def parameter_values(self) -> dict[str, str]:
        return {p["ParameterKey"]: p["ParameterValue"] for p in self.parameters}


def _stack(row: sqlite3.Row) -> Stack:
    return Stack(row["stack_id"], row["name"], row["account"], row["region"], row["status"], row["reason"],
                 row["created"], row["updated"], row["deleted"], row["body"], json.loads(row["template"]),
                 json.loads(row["parameters"]), json.loads(row["capabilities"]), json.loads(row["tags"]),
                 json.loads(row["outputs"]), json.loads(row["options"]),
                 json.loads(row["previous"]) if row["previous"] else None, row["change_set_id"])


def insert_stack(conn: sqlite3.Connection, s: Stack) -> None:
    conn.execute(
        "INSERT INTO cfn_stacks (stack_id, name, account, region, status, reason, created, updated, deleted, body,"
        " template, parameters, capabilities, tags, outputs, options, previous, change_set_id)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (s.stack_id, s.name, s.account, s.region, s.status, s.reason, s.created, s.updated, s.deleted, s.body,
         _j(s.template), _j(s.parameters), _j(s.capabilities), _j(s.tags), _j(s.outputs), _j(s.options),
         _j(s.previous) if s.previous is not None else None, s.change_set_id))


def save_stack(conn: sqlite3.Connection, s: Stack) -> None:
    conn.execute(
        "UPDATE cfn_stacks SET status=?, reason=?, updated=?, deleted=?, body=?, template=?, parameters=?,"
        " capabilities=?, tags=?, outputs=?, options=?, previous=?, change_set_id=? WHERE stack_id=?",
        (s.status, s.reason, s.updated, s.deleted, s.body, _j(s.template), _j(s.parameters), _j(s.capabilities),
         _j(s.tags), _j(s.outputs), _j(s.options), _j(s.previous) if s.previous is not None else None,
         s.change_set_id, s.stack_id))


def set_stack_status(conn: sqlite3.Connection, stack_id: str, status: str, reason: str | None) -> None:
    conn.execute("UPDATE cfn_stacks SET status=?, reason=? WHERE stack_id=?", (status, reason, stack_id))


def stack_by_id(conn: sqlite3.Connection, stack_id: str) -> Stack | None:
    row = conn.execute("SELECT * FROM cfn_stacks WHERE stack_id=?", (stack_id,)).fetchone()
    return _stack(row) if row else None


def live_stack_by_name(conn: sqlite3.Connection, account: str, region: str, name: str) -> Stack | None:
    row = conn.execute("SELECT * FROM cfn_stacks WHERE account=? AND region=? AND name=? AND deleted IS NULL",
                       (account, region, name)).fetchone()
    return _stack(row) if row else None


def stacks(conn: sqlite3.Connection, account: str, region: str, *, live_only: bool) -> list[Stack]:
    sql = "SELECT * FROM cfn_stacks WHERE account=? AND region=?"
    if live_only:
        sql += " AND deleted IS NULL"
    return [_stack(r) for r in conn.execute(sql + " ORDER BY created DESC", (account, region))]


@dataclass
class Resource:
    """A stack's resource row: its deployed state, and the deployer's step in progress on it."""

    stack_id: str
    logical_id: str
    type: str
    status: str
    reason: str | None
    physical_id: str | None
    properties: dict[str, Any] | None
    attributes: dict[str, Any]
    ref_value: str | None
    updated: float
    name_suffix: str
    token: str | None = None
    wait_until: float | None = None
    wait_reason: str | None = None
    old: dict[str, Any] | None = None  # {"type", "physical_id", "properties", "attributes", "ref_value"}
    replaced: bool = False
    policy: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str | None:
        return self.ref_value if self.ref_value is not None else self.physical_id


def _resource(row: sqlite3.Row) -> Resource:
    return Resource(row["stack_id"], row["logical_id"], row["type"], row["status"], row["reason"],
                    row["physical_id"], json.loads(row["properties"]) if row["properties"] else None,
                    json.loads(row["attributes"]), row["ref_value"], row["updated"], row["name_suffix"],
                    row["token"], row["wait_until"], row["wait_reason"], json.loads(row["old"]) if row["old"] else None,
                    bool(row["replaced"]), json.loads(row["policy"]))


def save_resource(conn: sqlite3.Connection, r: Resource) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO cfn_resources (stack_id, logical_id, type, status, reason, physical_id, properties,"
        " attributes, ref_value, updated, name_suffix, token, wait_until, wait_reason, old, replaced, policy)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (r.stack_id, r.logical_id, r.type, r.status, r.reason, r.physical_id,
         _j(r.properties) if r.properties is not None else None, _j(r.attributes), r.ref_value, r.updated,
         r.name_suffix, r.token, r.wait_until, r.wait_reason, _j(r.old) if r.old is not None else None, int(r.replaced),
         _j(r.policy)))


def delete_resource(conn: sqlite3.Connection, stack_id: str, logical_id: str) -> None:
    conn.execute("DELETE FROM cfn_resources WHERE stack_id=? AND logical_id=?", (stack_id, logical_id))


def resources(conn: sqlite3.Connection, stack_id: str) -> list[Resource]:
    return [_resource(r) for r in conn.execute(
        "SELECT * FROM cfn_resources WHERE stack_id=? ORDER BY rowid", (stack_id,))]


def resource(conn: sqlite3.Connection, stack_id: str, logical_id: str) -> Resource | None:
    row = conn.execute("SELECT * FROM cfn_resources WHERE stack_id=? AND logical_id=?",
                       (stack_id, logical_id)).fetchone()
    return _resource(row) if row else None


def resources_by_physical_id(conn: sqlite3.Connection, physical_id: str) -> list[Resource]:
    return [_resource(r) for r in conn.execute("SELECT * FROM cfn_resources WHERE physical_id=?", (physical_id,))]


@dataclass
class Event:
    """A stack event's row, as DescribeStackEvents lists it."""

    seq: int
    stack_id: str
    event_id: str
    logical_id: str
    physical_id: str | None
    type: str
    status: str
    reason: str | None
    properties: str | None
    ts: float


def add_event(conn: sqlite3.Connection, stack_id: str, event_id: str, logical_id: str, physical_id: str | None,
              type_: str, status: str, reason: str | None, properties: dict[str, Any] | None, ts: float) -> None:
    conn.execute(
        "INSERT INTO cfn_events (stack_id, event_id, logical_id, physical_id, type, status, reason, properties, ts)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (stack_id, event_id, logical_id, physical_id, type_, status, reason,
         _j(properties) if properties is not None else None, ts))


def events(conn: sqlite3.Connection, stack_id: str, after: int | None, limit: int) -> list[Event]:
    """Newest first (as DescribeStackEvents lists them); `after`: the seq a page ended before."""
    rows = conn.execute("SELECT * FROM cfn_events WHERE stack_id=? AND seq < ? ORDER BY seq DESC LIMIT ?",
                        (stack_id, after if after is not None else 2**62, limit))
    return [Event(r["seq"], r["stack_id"], r["event_id"], r["logical_id"], r["physical_id"], r["type"],
                  r["status"], r["reason"], r["properties"], r["ts"]) for r in rows]


def events_to_notify(conn: sqlite3.Connection, stack_id: str, limit: int) -> list[Event]:
    """The stack's events not yet sent to its NotificationARNs, oldest first."""
    rows = conn.execute(
        "SELECT e.* FROM cfn_events e JOIN cfn_stacks s ON s.stack_id = e.stack_id"
        " WHERE e.stack_id=? AND e.seq > s.notified ORDER BY e.seq LIMIT ?", (stack_id, limit))
    return [Event(r["seq"], r["stack_id"], r["event_id"], r["logical_id"], r["physical_id"], r["type"],
                  r["status"], r["reason"], r["properties"], r["ts"]) for r in rows]


def set_notified(conn: sqlite3.Connection, stack_id: str, seq: int) -> None:
    conn.execute("UPDATE cfn_stacks SET notified=? WHERE stack_id=? AND notified < ?", (seq, stack_id, seq))


@dataclass
class ChangeSet:
    """A change set's row: the template and parameters it proposes, and its changes to the stack."""

    change_set_id: str
    name: str
    stack_id: str
    type: str
    status: str
    reason: str | None
    execution_status: str
    created: float
    body: str
    template: dict[str, Any]
    parameters: list[dict[str, str]]
    capabilities: list[str]
    tags: list[dict[str, str]]
    changes: list[dict[str, Any]]
    description: str | None


def _change_set(r: sqlite3.Row) -> ChangeSet:
    return ChangeSet(r["change_set_id"], r["name"], r["stack_id"], r["type"], r["status"], r["reason"],
                     r["execution_status"], r["created"], r["body"], json.loads(r["template"]),
                     json.loads(r["parameters"]), json.loads(r["capabilities"]), json.loads(r["tags"]),
                     json.loads(r["changes"]), r["description"])


def save_change_set(conn: sqlite3.Connection, c: ChangeSet) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO cfn_change_sets (change_set_id, name, stack_id, type, status, reason,"
        " execution_status, created, body, template, parameters, capabilities, tags, changes, description)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (c.change_set_id, c.name, c.stack_id, c.type, c.status, c.reason, c.execution_status, c.created, c.body,
         _j(c.template), _j(c.parameters), _j(c.capabilities), _j(c.tags), _j(c.changes), c.description))


def change_set_by_id(conn: sqlite3.Connection, change_set_id: str) -> ChangeSet | None:
    row = conn.execute("SELECT * FROM cfn_change_sets WHERE change_set_id=?", (change_set_id,)).fetchone()
    return _change_set(row) if row else None


def change_set_by_name(conn: sqlite3.Connection, stack_id: str, name: str) -> ChangeSet | None:
    row = conn.execute("SELECT * FROM cfn_change_sets WHERE stack_id=? AND name=?", (stack_id, name)).fetchone()
    return _change_set(row) if row else None


def change_sets(conn: sqlite3.Connection, stack_id: str) -> list[ChangeSet]:
    return [_change_set(r) for r in conn.execute(
        "SELECT * FROM cfn_change_sets WHERE stack_id=? ORDER BY created", (stack_id,))]


def delete_change_set(conn: sqlite3.Connection, change_set_id: str) -> None:
    conn.execute("DELETE FROM cfn_change_sets WHERE change_set_id=?", (change_set_id,))


def delete_change_sets(conn: sqlite3.Connection, stack_id: str) -> None:
    conn.execute("DELETE FROM cfn_change_sets WHERE stack_id=?", (stack_id,))


# -- exports and imports -------------------------------------------------------------------

def exports(conn: sqlite3.Connection, account: str, region: str) -> list[tuple[str, str, str]]:
    """(name, value, exporting stack id), by name."""
    return [(r["name"], r["value"], r["stack_id"]) for r in conn.execute(
        "SELECT name, value, stack_id FROM cfn_exports WHERE account=? AND region=? ORDER BY name",
        (account, region))]


def export(conn: sqlite3.Connection, account: str, region: str, name: str) -> tuple[str, str] | None:
    row = conn.execute("SELECT value, stack_id FROM cfn_exports WHERE account=? AND region=? AND name=?",
                       (account, region, name)).fetchone()
    return (row["value"], row["stack_id"]) if row else None


def replace_exports(conn: sqlite3.Connection, account: str, region: str, stack_id: str,
                    values: dict[str, str]) -> None:
    conn.execute("DELETE FROM cfn_exports WHERE stack_id=?", (stack_id,))
    conn.executemany("INSERT INTO cfn_exports (account, region, name, stack_id, value) VALUES (?,?,?,?,?)",
                     [(account, region, name, stack_id, value) for name, value in values.items()])


def replace_imports(conn: sqlite3.Connection, account: str, region: str, stack_id: str,
                    names: Sequence[str]) -> None:
    conn.execute("DELETE FROM cfn_imports WHERE stack_id=?", (stack_id,))
    conn.executemany("INSERT INTO cfn_imports (stack_id, export_name, account, region) VALUES (?,?,?,?)",
                     [(stack_id, name, account, region) for name in sorted(set(names))])


def importers(conn: sqlite3.Connection, account: str, region: str, export_name: str) -> list[str]:
    """Names of the live stacks importing `export_name`."""
    return [r[0] for r in conn.execute(
        "SELECT s.name FROM cfn_imports i JOIN cfn_stacks s ON s.stack_id = i.stack_id"
        " WHERE i.account=? AND i.region=? AND i.export_name=? AND s.deleted IS NULL ORDER BY s.name",
        (account, region, export_name))]


# -- the deployer's work rows ------------------------------------------------------------

def schedule(conn: sqlite3.Connection, stack_id: str, due: float) -> None:
    conn.execute("INSERT OR REPLACE INTO cfn_work (stack_id, due) VALUES (?, ?)", (stack_id, due))


def wake_work(conn: sqlite3.Connection, stack_id: str, now: float) -> None:
    """The stack's waiting step may go on: due now, and marked so that a run under way does not
    put it back to its deadline."""
    conn.execute("INSERT OR REPLACE INTO cfn_work (stack_id, due, woken) VALUES (?, ?, 1)", (stack_id, now))


def begin_run(conn: sqlite3.Connection, stack_id: str) -> None:
    """A run starts: wake-ups from now on are news to it."""
    conn.execute("UPDATE cfn_work SET woken=0 WHERE stack_id=?", (stack_id,))


def wait_until(conn: sqlite3.Connection, stack_id: str, due: float) -> None:
    """The run waits: due at `due`, unless it was woken since it began (then due now, as woken)."""
    conn.execute("UPDATE cfn_work SET due=? WHERE stack_id=? AND woken=0", (due, stack_id))


def finish_work(conn: sqlite3.Connection, stack_id: str) -> None:
    conn.execute("DELETE FROM cfn_work WHERE stack_id=?", (stack_id,))
