"""What CloudWatch Logs' parts share: the state they work on, group lookups and input checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...clock import Clock
from ...protocol.context import RequestContext
from ...store.db import Database
from . import errors
from .patterns import FilterPattern, PatternError, compile_pattern
from .records import GroupRecord, find_group

GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]+")
GROUP_NAME_PATTERN = r"[\.\-_/#A-Za-z0-9]+"
STREAM_NAME = re.compile(r"[^:*]*")
_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:logs:([a-z0-9-]*):(\d*):log-group:([^:]+)(?::\*)?$")
MAX_TAGS = 50


@dataclass
class Shared:
    """The state CloudWatch Logs' parts work on, with group lookups."""

    db: Database
    clock: Clock
    account_id: str  # the account and region of the internal API (Lambda's logs)
    region: str

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def group(self, account: str, region: str, name: str) -> GroupRecord:
        found = find_group(self.db.reader, account, region, name)
        if found is None:
            raise errors.group_not_found()
        return found

    def group_for(self, ctx: RequestContext, params: dict[str, Any]) -> GroupRecord:
        """The group named by logGroupName or logGroupIdentifier (exactly one of them)."""
        name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
        if name and identifier:
            raise errors.invalid("LogGroup name and LogGroup identifier are mutually exclusive parameters.")
        if identifier:
            return self.group(*identify(ctx, identifier))
        if not name:
            raise errors.invalid("Either logGroupName or logGroupIdentifier must be specified.")
        return self.group(ctx.account_id, ctx.region, name)


def identify(ctx: RequestContext, identifier: str) -> tuple[str, str, str]:
    """A logGroupIdentifier (a name or an ARN, with or without `:*`) -> (account, region, name)."""
    if identifier.startswith("arn:"):
        m = _GROUP_ARN.match(identifier)
        if m is None:
            raise errors.group_not_found()
        return m.group(2) or ctx.account_id, m.group(1) or ctx.region, m.group(3)
    return ctx.account_id, ctx.region, identifier


def tagged_group(ctx: RequestContext, arn: str | None) -> tuple[str, str, str]:
    """A resourceArn (a log group's) -> (account, region, name)."""
    value = required(arn, "resourceArn")
    m = _GROUP_ARN.match(value)
    if m is None:
        raise errors.invalid(f"Invalid resource ARN: {value}")  # unconfirmed wording
    return m.group(2) or ctx.account_id, m.group(1) or ctx.region, m.group(3)


def required(value: Any, member: str) -> Any:
    if value is None or value == "":
        raise errors.required(member)
    return value


def group_name(value: str | None) -> str:
    name = required(value, "logGroupName")
    if len(name) > 512:
        raise errors.validation(name, "logGroupName", "Member must have length less than or equal to 512")
    if not GROUP_NAME.fullmatch(name):
        raise errors.validation(name, "logGroupName",
                                f"Member must satisfy regular expression pattern: {GROUP_NAME_PATTERN}")
    return str(name)


def stream_name(value: str | None) -> str:
    name = required(value, "logStreamName")
    if len(name) > 512:
        raise errors.validation(name, "logStreamName", "Member must have length less than or equal to 512")
    if not STREAM_NAME.fullmatch(name):
        raise errors.validation(name, "logStreamName", "Member must satisfy regular expression pattern: [^:*]*")
    return str(name)


def validate_tags(tags: dict[str, str], resource: str) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise errors.too_many_tags(resource)
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise errors.validation(key, "tags", "Map keys must satisfy constraint: [Member must have length "
                                                 "less than or equal to 128, Member must have length greater "
                                                 "than or equal to 1]")
        if len(value) > 256:
            raise errors.validation(value, "tags", "Map value must satisfy constraint: [Member must have length "
                                                   "less than or equal to 256]")
    return dict(tags)


def page_limit(value: int | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    if value < 1:
        raise errors.validation(value, "limit", "Member must have value greater than or equal to 1")
    if value > maximum:
        raise errors.validation(value, "limit", f"Member must have value less than or equal to {maximum}")
    return int(value)


def filter_pattern(text: str | None) -> FilterPattern:
    try:
        return compile_pattern(text)
    except PatternError:
        raise errors.invalid_pattern() from None
