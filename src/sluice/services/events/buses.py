"""Event buses: CreateEventBus, DeleteEventBus, DescribeEventBus, ListEventBuses.

The default bus of each account and region always exists: it is written at start for the
server's own account, and answered as if written for any other.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from . import errors
from .records import BusRecord, buses_after, delete_bus, insert_bus
from .state import DEFAULT_BUS, EventsState, bus_name, decode_token, encode_token


class Buses:
    def __init__(self, state: EventsState) -> None:
        self.state = state
        self.db = state.db
        # Not waiting for an fsync (start-up on a fresh data dir would): a default bus lost to a
        # power cut is written again by the next start, as it is whenever it is missing.
        self.db.write(self.write_default, synced=False)

    def write_default(self, conn: sqlite3.Connection) -> None:
        """The default bus of the server's account and region (if it is not there yet)."""
        settings = self.state.settings
        insert_bus(conn, BusRecord(settings.account_id, settings.region, DEFAULT_BUS, self.state.origin,
                                   self.state.origin), if_absent=True)

    def create_event_bus(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Name = self.state.params("CreateEventBus", params)["Name"]
        if "/" in Name and not params.get("EventSourceName"):
            raise errors.validation("Event bus name must not contain '/'.")  # unconfirmed
        if params.get("EventSourceName"):
            raise errors.validation("Sluice does not support partner event sources.")
        tags = {t["Key"]: t["Value"] for t in params.get("Tags") or []}
        now = self.state.clock.now()
        bus = BusRecord(ctx.account_id, ctx.region, Name, now, now, params.get("Description"), tags)

        def txn(conn: sqlite3.Connection) -> None:
            if self.state.bus(conn, ctx.account_id, ctx.region, Name) is not None:
                raise errors.bus_exists(Name)
            insert_bus(conn, bus)

        self.db.write(txn)
        out: dict[str, Any] = {"EventBusArn": bus.arn}
        for key in ("Description", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
            if params.get(key) is not None:
                out[key] = params[key]
        return out

    def delete_event_bus(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Name = self.state.params("DeleteEventBus", params)["Name"]
        if Name == DEFAULT_BUS:
            raise errors.validation(errors.CANNOT_DELETE_DEFAULT)
        # Deleting a bus that does not exist succeeds, as on AWS.
        self.db.write(lambda conn: delete_bus(conn, ctx.account_id, ctx.region, Name))
        self.state.rules.invalidate()
        return {}

    def describe_event_bus(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        name = bus_name(self.state.params("DescribeEventBus", params).get("Name"))
        bus = self.state.bus(self.db.reader, ctx.account_id, ctx.region, name)
        if bus is None:
            raise errors.bus_not_found(name)
        return bus.describe()

    def list_event_buses(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self.state.params("ListEventBuses", params)
        prefix = params.get("NamePrefix") or ""
        limit = params.get("Limit") or 100
        after = decode_token(params.get("NextToken")) or ""
        buses = [b for b in buses_after(self.db.reader, ctx.account_id, ctx.region, after) if b.name.startswith(prefix)]
        if DEFAULT_BUS.startswith(prefix) and after < DEFAULT_BUS and all(b.name != DEFAULT_BUS for b in buses):
            default = self.state.bus(self.db.reader, ctx.account_id, ctx.region, DEFAULT_BUS)
            assert default is not None
            buses = sorted([*buses, default], key=lambda b: b.name)
        out: dict[str, Any] = {"EventBuses": [b.describe() for b in buses[:limit]]}
        if len(buses) > limit:
            out["NextToken"] = encode_token(buses[limit - 1].name)
        return out
