"""Rules: PutRule, DescribeRule, ListRules, EnableRule, DisableRule, DeleteRule.

A rule has an event pattern (matched by PutEvents), a schedule expression (fired by the engine's
schedule dispatcher, default bus only), or both. Changing a schedule rule sets its next fire time
(schedule_fires.py) and tells the engine, which looks again.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from . import errors
from .patterns import PatternError, compile_pattern
from .records import (
    RuleRecord,
    delete_rule,
    has_targets,
    insert_rule,
    replace_rule,
    rule_arn,
    rule_row,
    rules_page,
    set_rule_state,
)
from .schedule_fires import Timeline
from .state import DEFAULT_BUS, EventsState, bus_name, decode_token, encode_token


class Rules:
    def __init__(self, state: EventsState, timeline: Timeline) -> None:
        self.state = state
        self.db = state.db
        self.timeline = timeline

    def put_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Name = self.state.params("PutRule", params)["Name"]
        bus = bus_name(params.get("EventBusName"))
        pattern = params.get("EventPattern") or None
        schedule = params.get("ScheduleExpression") or None
        if not pattern and not schedule:
            raise errors.validation(errors.PATTERN_OR_SCHEDULE)
        if pattern:
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                raise errors.invalid_pattern(exc.message) from None
        if schedule:
            if bus != DEFAULT_BUS:
                raise errors.validation(errors.SCHEDULE_DEFAULT_BUS_ONLY)
            from .schedule import ScheduleError, parse_schedule  # only for schedule rules

            try:
                parse_schedule(schedule)
            except ScheduleError:
                raise errors.validation(errors.SCHEDULE_INVALID) from None
        state = params.get("State") or "ENABLED"
        tags = {t["Key"]: t["Value"] for t in params.get("Tags") or []}
        now = self.state.clock.now()

        def txn(conn: sqlite3.Connection) -> None:
            if self.state.bus(conn, ctx.account_id, ctx.region, bus) is None:
                raise errors.bus_not_found(bus)
            old = rule_row(conn, ctx.account_id, ctx.region, bus, Name)
            next_fire = None
            if schedule and state == "ENABLED":
                keep = old is not None and old.schedule == schedule and old.enabled and old.next_fire is not None
                next_fire = old.next_fire if keep and old is not None else self.timeline.next_fire(schedule, now)
            rule = RuleRecord(ctx.account_id, ctx.region, bus, Name, pattern, schedule, state,
                              params.get("Description"), params.get("RoleArn"), now, tags, next_fire)
            if old is None:
                insert_rule(conn, rule)
            else:  # PutRule replaces the rule; tags are kept (TagResource changes those)
                replace_rule(conn, rule)

        self.db.write(txn)
        self.state.rules.invalidate()
        self.state.schedules_changed()
        return {"RuleArn": rule_arn(ctx.region, ctx.account_id, bus, Name)}

    def describe_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self.state.params("DescribeRule", params)
        return self.rule(ctx, p["Name"], bus_name(p.get("EventBusName"))).describe()

    def list_rules(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self.state.params("ListRules", params)
        bus = bus_name(params.get("EventBusName"))
        if self.state.bus(self.db.reader, ctx.account_id, ctx.region, bus) is None:
            raise errors.bus_not_found(bus)
        limit = params.get("Limit") or 100
        rules = rules_page(self.db.reader, ctx.account_id, ctx.region, bus, prefix=params.get("NamePrefix") or "",
                           after=decode_token(params.get("NextToken")) or "", limit=limit + 1)
        out: dict[str, Any] = {"Rules": [r.describe(full=False) for r in rules[:limit]]}
        if len(rules) > limit:
            out["NextToken"] = encode_token(rules[limit - 1].name)
        return out

    def enable_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self.state.params("EnableRule", params)
        self._set_state(ctx, p["Name"], p.get("EventBusName"), "ENABLED")
        return {}

    def disable_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self.state.params("DisableRule", params)
        self._set_state(ctx, p["Name"], p.get("EventBusName"), "DISABLED")
        return {}

    def delete_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        p = self.state.params("DeleteRule", params)
        key = (ctx.account_id, ctx.region, bus_name(p.get("EventBusName")), p["Name"])

        def txn(conn: sqlite3.Connection) -> None:
            if rule_row(conn, *key) is None:
                return  # deleting a rule that does not exist succeeds, as on AWS
            if has_targets(conn, key):
                raise errors.validation(errors.RULE_HAS_TARGETS)
            delete_rule(conn, key)

        self.db.write(txn)
        self.state.rules.invalidate()
        return {}

    def rule(self, ctx: RequestContext, name: str, bus: str, conn: sqlite3.Connection | None = None) -> RuleRecord:
        """The rule, or AWS's ResourceNotFoundException."""
        rule = rule_row(conn or self.db.reader, ctx.account_id, ctx.region, bus, name)
        if rule is None:
            raise errors.rule_not_found(name, bus)
        return rule

    def _set_state(self, ctx: RequestContext, name: str, bus_value: str | None, state: str) -> None:
        bus = bus_name(bus_value)
        now = self.state.clock.now()

        def txn(conn: sqlite3.Connection) -> None:
            rule = self.rule(ctx, name, bus, conn)
            next_fire = rule.next_fire
            if state == "DISABLED":
                next_fire = None
            elif rule.schedule and (next_fire is None or not rule.enabled):
                next_fire = self.timeline.next_fire(rule.schedule, now)
            set_rule_state(conn, rule.key, state, next_fire)

        self.db.write(txn)
        self.state.rules.invalidate()
        self.state.schedules_changed()
