"""Tags of buses and rules: TagResource, UntagResource, ListTagsForResource."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from ...protocol.context import RequestContext
from . import errors
from .records import BusRecord, insert_bus, rule_row, set_bus_tags, set_rule_tags
from .state import BUS_ARN, DEFAULT_BUS, RULE_ARN, EventsState

Change = Callable[[dict[str, str]], None]


class Tags:
    def __init__(self, state: EventsState) -> None:
        self.state = state
        self.db = state.db

    def tag_resource(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self.state.params("TagResource", params)
        new = {t["Key"]: t["Value"] for t in p["Tags"]}
        self._tags(p["ResourceARN"], lambda tags: tags.update(new))
        return {}

    def untag_resource(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self.state.params("UntagResource", params)
        keys: list[str] = p["TagKeys"]

        def change(tags: dict[str, str]) -> None:
            for k in keys:
                tags.pop(k, None)

        self._tags(p["ResourceARN"], change)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        tags = self._tags(self.state.params("ListTagsForResource", params)["ResourceARN"], None)
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

    def _tags(self, arn: str, change: Change | None) -> dict[str, str]:
        """The tags of the bus or rule `arn` names, after `change` (None: only read them)."""
        m = BUS_ARN.match(arn)
        if m:
            region, account, name = m.group(1), m.group(2), m.group(3)

            def on_bus(conn: sqlite3.Connection) -> dict[str, str]:
                return self._bus_tags(conn, account, region, name, change)

            return self.db.write(on_bus) if change is not None else on_bus(self.db.reader)
        m = RULE_ARN.match(arn)
        if m:
            bus, _, rule = m.group(3).rpartition("/")
            key = (m.group(2), m.group(1), bus or DEFAULT_BUS, rule)

            def on_rule(conn: sqlite3.Connection) -> dict[str, str]:
                return self._rule_tags(conn, key, change)

            return self.db.write(on_rule) if change is not None else on_rule(self.db.reader)
        raise errors.resource_not_found(arn)

    def _bus_tags(self, conn: sqlite3.Connection, account: str, region: str, name: str,
                  change: Change | None) -> dict[str, str]:
        bus = self.state.bus(conn, account, region, name)
        if bus is None:
            raise errors.bus_not_found(name)
        tags = dict(bus.tags)
        if change is not None:
            change(tags)
            if bus.name == DEFAULT_BUS:  # the default bus of another account may not be written yet
                origin = self.state.origin
                insert_bus(conn, BusRecord(account, region, DEFAULT_BUS, origin, origin), if_absent=True)
            set_bus_tags(conn, account, region, name, tags)
        return tags

    @staticmethod
    def _rule_tags(conn: sqlite3.Connection, key: tuple[str, str, str, str], change: Change | None) -> dict[str, str]:
        rule = rule_row(conn, *key)
        if rule is None:
            raise errors.rule_not_found(key[3], key[2])
        tags = dict(rule.tags)
        if change is not None:
            change(tags)
            set_rule_tags(conn, key, tags)
        return tags
