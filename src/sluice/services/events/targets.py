"""Targets: PutTargets, RemoveTargets, ListTargetsByRule, ListRuleNamesByTarget.

A target is kept as PutTargets gave it (its input, transformer, retry policy, dead-letter queue,
SQS parameters), in the order it was first put; at most five per rule.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from ...protocol.context import RequestContext
from . import errors
from .records import (
    Target,
    delete_targets,
    put_target,
    rule_names_by_target,
    target_order,
    targets_of,
)
from .rules import Rules
from .state import EventsState, bus_name, decode_token, encode_token
from .transform import PREDEFINED, TransformError, parse_path, placeholders

MAX_TARGETS_PER_RULE = 5
_TARGET_ARN = re.compile(r"^arn:aws[\w-]*:[a-z0-9-]+:[a-z0-9-]*:\d*:.+$")


def check_target(target: dict[str, Any]) -> None:
    """AWS's ValidationException for a target it would refuse."""
    tid, arn = target["Id"], target["Arn"]
    if not _TARGET_ARN.match(arn):
        raise errors.bad_target_arn(arn)
    given = [k for k in ("Input", "InputPath", "InputTransformer") if target.get(k) is not None]
    if len(given) > 1:
        raise errors.one_input_only(tid)
    if target.get("InputPath") is not None:
        try:
            parse_path(target["InputPath"])
        except TransformError:
            raise errors.invalid_input_path(tid, target["InputPath"]) from None
    transformer = target.get("InputTransformer")
    if transformer:
        paths = transformer.get("InputPathsMap") or {}
        for path in paths.values():
            try:
                parse_path(path)
            except TransformError:
                raise errors.invalid_input_path(tid, path) from None
        for name in placeholders(transformer.get("InputTemplate", "")):
            if name not in paths and name not in PREDEFINED:
                raise errors.invalid_placeholder(tid, name)
    parts = arn.split(":")
    if parts[2] == "sqs" and arn.endswith(".fifo") and not (target.get("SqsParameters") or {}).get("MessageGroupId"):
        raise errors.validation(errors.FIFO_NEEDS_GROUP)


class Targets:
    def __init__(self, state: EventsState, rules: Rules) -> None:
        self.state = state
        self.db = state.db
        self.rules = rules

    def put_targets(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self.state.params("PutTargets", params)
        Rule: str = params["Rule"]
        Targets: list[dict[str, Any]] = params["Targets"]
        bus = bus_name(params.get("EventBusName"))
        for target in Targets:
            check_target(target)
        failed: list[dict[str, Any]] = []

        def txn(conn: sqlite3.Connection) -> None:
            key = self.rules.rule(ctx, Rule, bus, conn).key
            order = target_order(conn, key)
            new_ids = {t["Id"] for t in Targets} - set(order)
            if len(order) + len(new_ids) > MAX_TARGETS_PER_RULE:
                raise errors.limit_exceeded()
            seq = max(order.values(), default=0)
            for target in Targets:
                if target["Id"] not in order:  # a replaced target keeps its place
                    seq += 1
                    order[target["Id"]] = seq
                put_target(conn, key, Target(target["Id"], order[target["Id"]], target["Arn"], target))

        self.db.write(txn)
        self.state.rules.invalidate()
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def remove_targets(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        self.state.params("RemoveTargets", params)
        Rule: str = params["Rule"]
        Ids: list[str] = params["Ids"]
        bus = bus_name(params.get("EventBusName"))

        def txn(conn: sqlite3.Connection) -> None:
            delete_targets(conn, self.rules.rule(ctx, Rule, bus, conn).key, Ids)

        self.db.write(txn)
        self.state.rules.invalidate()
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def list_targets_by_rule(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        Rule = self.state.params("ListTargetsByRule", params)["Rule"]
        bus = bus_name(params.get("EventBusName"))
        self.rules.rule(ctx, Rule, bus)
        targets = targets_of(self.db.reader, ctx.account_id, ctx.region, bus, Rule)
        start = int(decode_token(params.get("NextToken")) or 0)
        limit = params.get("Limit") or 100
        out: dict[str, Any] = {"Targets": targets[start:start + limit]}
        if start + limit < len(targets):
            out["NextToken"] = encode_token(start + limit)
        return out

    def list_rule_names_by_target(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        TargetArn = self.state.params("ListRuleNamesByTarget", params)["TargetArn"]
        bus = bus_name(params.get("EventBusName"))
        if self.state.bus(self.db.reader, ctx.account_id, ctx.region, bus) is None:
            raise errors.bus_not_found(bus)
        after = decode_token(params.get("NextToken")) or ""
        names = [n for n in rule_names_by_target(self.db.reader, ctx.account_id, ctx.region, bus, TargetArn)
                 if n > after]
        limit = params.get("Limit") or 100
        out: dict[str, Any] = {"RuleNames": names[:limit]}
        if len(names) > limit:
            out["NextToken"] = encode_token(names[limit - 1])
        return out
