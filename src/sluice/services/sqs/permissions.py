"""A queue's tags, and the permissions AddPermission / RemovePermission keep in its Policy."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.models import service_model
from . import attributes as qattrs
from . import errors
from .queues import check_tags
from .records import Queue, save_queue
from .state import SqsState


class TagsAndPermissions:
    def __init__(self, state: SqsState) -> None:
        self.state = state

    def _update(self, queue: Queue, change: Callable[[Queue], None]) -> None:
        """Apply `change` to the queue as stored now (it may refuse by raising), in one write."""
        def txn(conn: sqlite3.Connection) -> Queue:
            fresh = self.state.fresh(conn, queue.id)
            change(fresh)
            save_queue(conn, fresh)
            return fresh

        self.state.remember(self.state.db.write(txn))

    def tag_queue(self, ctx: RequestContext, QueueUrl: str | None = None, Tags: dict[str, str] | None = None,
                  **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        if not Tags:
            raise errors.missing_parameter("Tags")
        check_tags(queue.name, Tags)

        def change(fresh: Queue) -> None:
            fresh.tags.update(Tags)
            check_tags(queue.name, fresh.tags)

        self._update(queue, change)
        return {}

    def untag_queue(self, ctx: RequestContext, QueueUrl: str | None = None, TagKeys: list[str] | None = None,
                    **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        if not TagKeys:
            raise errors.missing_parameter("TagKeys")

        def change(fresh: Queue) -> None:
            for key in TagKeys:
                fresh.tags.pop(key, None)

        self._update(queue, change)
        return {}

    def list_queue_tags(self, ctx: RequestContext, QueueUrl: str | None = None, **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        return {"Tags": dict(queue.tags)} if queue.tags else {}

    def add_permission(self, ctx: RequestContext, QueueUrl: str | None = None, Label: str | None = None,
                       AWSAccountIds: list[str] | None = None, Actions: list[str] | None = None,
                       **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        if not Label:
            raise errors.missing_parameter("Label")
        if not AWSAccountIds:
            raise errors.missing_parameter("AWSAccountId")
        if not Actions:
            raise errors.missing_parameter("ActionName")
        valid = set(service_model("sqs").operation_names) | {"*"}
        for action in Actions:
            if action not in valid:
                raise errors.invalid_value(f"SQS:{action}", "ActionName",
                                           "Please refer to the appropriate WSDL for a list of valid actions. ")
        principals = [f"arn:aws:iam::{a}:root" for a in AWSAccountIds]
        statement = {"Sid": Label, "Effect": "Allow",
                     "Principal": {"AWS": principals if len(principals) > 1 else principals[0]},
                     "Action": [f"SQS:{a}" for a in Actions] if len(Actions) > 1 else f"SQS:{Actions[0]}",
                     "Resource": queue.arn}

        def change(fresh: Queue) -> None:
            policy = json.loads(fresh.attributes.get("Policy") or "null") or {
                "Version": "2008-10-17", "Id": f"{fresh.arn}/SQSDefaultPolicy", "Statement": []}
            statements = policy.setdefault("Statement", [])
            if any(s.get("Sid") == Label for s in statements):
                raise errors.invalid_value(Label, "Label", "Already exists.")
            statements.append(statement)
            fresh.attributes["Policy"] = qattrs.compact(policy)

        self._update(queue, change)
        return {}

    def remove_permission(self, ctx: RequestContext, QueueUrl: str | None = None, Label: str | None = None,
                          **_: Any) -> dict[str, Any]:
        queue = self.state.by_url(QueueUrl, ctx.region)
        if not Label:
            raise errors.missing_parameter("Label")

        def change(fresh: Queue) -> None:
            policy = json.loads(fresh.attributes.get("Policy") or "null") or {"Statement": []}
            statements = policy.get("Statement", [])
            if not any(s.get("Sid") == Label for s in statements):
                raise errors.invalid_value(Label, "Label", "can't find label.")
            policy["Statement"] = [s for s in statements if s.get("Sid") != Label]
            if policy["Statement"]:
                fresh.attributes["Policy"] = qattrs.compact(policy)
            else:
                fresh.attributes.pop("Policy", None)

        self._update(queue, change)
        return {}
