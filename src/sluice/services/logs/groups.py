"""CloudWatch Logs' log groups and log streams: create, describe, delete, retention, deletion
protection and tags. Members in, members out; the rows are records.py's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from ...protocol.context import RequestContext
from . import errors, records
from .common import (
    MAX_TAGS,
    Shared,
    group_name,
    identify,
    page_limit,
    required,
    stream_name,
    tagged_group,
    validate_tags,
)
from .records import GroupRecord, GroupSetting, find_group, find_stream
from .tokens import decode_name_token, decode_offset_token, encode_name_token, encode_offset_token

GROUP_CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS")


class LogGroups:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    # -- log groups --------------------------------------------------------------------------

    def create_log_group(self, ctx: RequestContext, logGroupName: str | None = None, **params: Any) -> dict[str, Any]:
        name = group_name(logGroupName)
        tags = validate_tags(params.get("tags") or {}, name)
        group_class = params.get("logGroupClass") or "STANDARD"
        if group_class not in GROUP_CLASSES:
            raise errors.validation(group_class, "logGroupClass",
                                    f"Member must satisfy enum value set: [{', '.join(GROUP_CLASSES)}]")
        kms = params.get("kmsKeyId")
        protect = bool(params.get("deletionProtectionEnabled"))
        now = self.shared.now_ms()

        def txn(conn: sqlite3.Connection) -> None:
            if find_group(conn, ctx.account_id, ctx.region, name) is not None:
                raise errors.group_exists()
            records.insert_group(conn, ctx.account_id, ctx.region, name, now, kms_key_id=kms,
                                 group_class=group_class, protected=protect, tags=tags)

        self.db.write(txn)
        return {}

    def delete_log_group(self, ctx: RequestContext, logGroupName: str | None = None, **_: Any) -> dict[str, Any]:
        name = required(logGroupName, "logGroupName")

        def txn(conn: sqlite3.Connection) -> None:
            group = find_group(conn, ctx.account_id, ctx.region, name)
            if group is None:
                raise errors.group_not_found()
            if group.deletion_protection:
                raise errors.deletion_protected()
            records.delete_group(conn, group.id)

        self.db.write(txn)
        return {}

    def describe_log_groups(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        prefix = params.get("logGroupNamePrefix")
        pattern = params.get("logGroupNamePattern")
        if prefix is not None and pattern is not None:
            raise errors.invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        limit = page_limit(params.get("limit"), 50, 50)
        after = decode_name_token(params.get("nextToken"))
        identifiers = params.get("logGroupIdentifiers")
        names = {identify(ctx, i)[2] for i in identifiers} if identifiers else None
        group_class = params.get("logGroupClass")
        out: list[GroupRecord] = []
        more = False
        found = records.groups_after(self.db.reader, ctx.account_id, ctx.region, after, prefix)
        try:
            for group in found:
                if prefix and not group.name.startswith(prefix):
                    break
                if pattern and pattern not in group.name:
                    continue
                if names is not None and group.name not in names:
                    continue
                if group_class and group.log_group_class != group_class:
                    continue
                if len(out) == limit:
                    more = True
                    break
                out.append(group)
        finally:
            found.close()  # ends the read now
        result: dict[str, Any] = {"logGroups": [g.describe(short=pattern is not None) for g in out]}
        if more:
            result["nextToken"] = encode_name_token(out[-1].name)
        return result

    def put_retention_policy(self, ctx: RequestContext, logGroupName: str | None = None,
                             retentionInDays: int | None = None, **_: Any) -> dict[str, Any]:
        name = required(logGroupName, "logGroupName")
        if retentionInDays not in errors.RETENTION_DAYS:
            raise errors.validation(
                retentionInDays, "retentionInDays",
                f"Member must satisfy enum value set: [{', '.join(map(str, errors.RETENTION_DAYS))}]")
        self._update(ctx.account_id, ctx.region, name, "retention_days", retentionInDays)
        return {}

    def delete_retention_policy(self, ctx: RequestContext, logGroupName: str | None = None, **_: Any) -> dict[str, Any]:
        self._update(ctx.account_id, ctx.region, required(logGroupName, "logGroupName"), "retention_days", None)
        return {}

    def put_log_group_deletion_protection(self, ctx: RequestContext, logGroupIdentifier: str | None = None,
                                          deletionProtectionEnabled: bool | None = None,
                                          **_: Any) -> dict[str, Any]:
        if deletionProtectionEnabled is None:
            raise errors.required("deletionProtectionEnabled")
        account, region, name = identify(ctx, required(logGroupIdentifier, "logGroupIdentifier"))
        self._update(account, region, name, "deletion_protection", int(deletionProtectionEnabled))
        return {}

    def _update(self, account: str, region: str, name: str, setting: GroupSetting, value: int | None) -> None:
        def txn(conn: sqlite3.Connection) -> None:
            if not records.update_group(conn, account, region, name, setting, value):
                raise errors.group_not_found()

        self.db.write(txn)

    # -- log streams -------------------------------------------------------------------------

    def create_log_stream(self, ctx: RequestContext, logGroupName: str | None = None,
                          logStreamName: str | None = None, **_: Any) -> dict[str, Any]:
        group_name_ = required(logGroupName, "logGroupName")
        name = stream_name(logStreamName)
        now = self.shared.now_ms()

        def txn(conn: sqlite3.Connection) -> None:
            group = find_group(conn, ctx.account_id, ctx.region, group_name_)
            if group is None:
                raise errors.group_not_found()
            if find_stream(conn, group.id, name) is not None:
                raise errors.stream_exists()
            records.insert_stream(conn, group.id, name, now)

        self.db.write(txn)
        return {}

    def delete_log_stream(self, ctx: RequestContext, logGroupName: str | None = None,
                          logStreamName: str | None = None, **_: Any) -> dict[str, Any]:
        group_name_ = required(logGroupName, "logGroupName")
        name = required(logStreamName, "logStreamName")

        def txn(conn: sqlite3.Connection) -> None:
            group = find_group(conn, ctx.account_id, ctx.region, group_name_)
            if group is None:
                raise errors.group_not_found()
            stream_id = find_stream(conn, group.id, name)
            if stream_id is None:
                raise errors.stream_not_found()
            if group.deletion_protection:
                raise errors.deletion_protected()
            records.delete_stream(conn, group.id, stream_id)

        self.db.write(txn)
        return {}

    def describe_log_streams(self, ctx: RequestContext, **params: Any) -> dict[str, Any]:
        group = self.shared.group_for(ctx, params)
        order = params.get("orderBy") or "LogStreamName"
        if order not in ("LogStreamName", "LastEventTime"):
            raise errors.validation(order, "orderBy",
                                    "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
        prefix = params.get("logStreamNamePrefix")
        if order == "LastEventTime" and prefix:
            raise errors.invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        descending = bool(params.get("descending"))
        limit = page_limit(params.get("limit"), 50, 50)
        offset = decode_offset_token(params.get("nextToken"))
        streams = records.streams_of(self.db.reader, group.id)
        if prefix:
            streams = [s for s in streams if s.name.startswith(prefix)]
        if order == "LogStreamName":
            streams.sort(key=lambda s: s.name, reverse=descending)
        else:
            streams.sort(key=lambda s: (s.last_event_ms if s.last_event_ms is not None else -1, s.name),
                         reverse=descending)
        page = streams[offset:offset + limit]
        result: dict[str, Any] = {"logStreams": [s.describe(group) for s in page]}
        if offset + limit < len(streams):
            result["nextToken"] = encode_offset_token(offset + limit)
        return result

    # -- tags --------------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, resourceArn: str | None = None,
                     tags: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
        account, region, name = tagged_group(ctx, resourceArn)
        self._change_tags(account, region, name, add=tags or {}, resource=required(resourceArn, "resourceArn"))
        return {}

    def untag_resource(self, ctx: RequestContext, resourceArn: str | None = None,
                       tagKeys: list[str] | None = None, **_: Any) -> dict[str, Any]:
        account, region, name = tagged_group(ctx, resourceArn)
        self._change_tags(account, region, name, remove=tagKeys or [])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, resourceArn: str | None = None,
                               **_: Any) -> dict[str, Any]:
        account, region, name = tagged_group(ctx, resourceArn)
        return {"tags": self.shared.group(account, region, name).tags}

    def tag_log_group(self, ctx: RequestContext, logGroupName: str | None = None,
                      tags: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
        name = required(logGroupName, "logGroupName")
        self._change_tags(ctx.account_id, ctx.region, name, add=tags or {}, resource=name)
        return {}

    def untag_log_group(self, ctx: RequestContext, logGroupName: str | None = None,
                        tags: list[str] | None = None, **_: Any) -> dict[str, Any]:
        name = required(logGroupName, "logGroupName")
        self._change_tags(ctx.account_id, ctx.region, name, remove=tags or [])
        return {}

    def list_tags_log_group(self, ctx: RequestContext, logGroupName: str | None = None, **_: Any) -> dict[str, Any]:
        return {"tags": self.shared.group(ctx.account_id, ctx.region, required(logGroupName, "logGroupName")).tags}

    def _change_tags(self, account: str, region: str, name: str, add: dict[str, str] | None = None,
                     remove: Iterable[str] = (), resource: str = "") -> None:
        add = validate_tags(add or {}, resource or name)
        drop = list(remove)

        def txn(conn: sqlite3.Connection) -> None:
            group = find_group(conn, account, region, name)
            if group is None:
                raise errors.group_not_found()
            tags = dict(group.tags)
            tags.update(add)
            for key in drop:
                tags.pop(key, None)
            if len(tags) > MAX_TAGS:
                raise errors.too_many_tags(resource or group.arn)
            records.set_tags(conn, group.id, tags)

        self.db.write(txn)
