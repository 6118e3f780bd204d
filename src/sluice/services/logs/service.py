"""CloudWatch Logs: log groups, log streams, events, filter patterns, tags.

No HTTP, no JSON: members in, members out. The service is a facade over its parts, one job each:
groups and streams with their settings and tags (groups.py), and events in and out (events.py).
The rest of Sluice uses the internal API without HTTP: `append` (the Lambda runtime writes
function logs through it), `tail`, and `lines` (what `sluice trace` shows of an invocation).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from ...clock import Clock
from ...settings import DEFAULT_ACCOUNT, DEFAULT_REGION
from ...store import Store
from ..base import Service
from .common import Shared
from .events import MAX_BATCH_EVENTS, LogEvents, LogLine
from .groups import LogGroups


class LogsService(Service):
    name = "logs"

    def __init__(self, store: Store, clock: Clock, *, account_id: str = DEFAULT_ACCOUNT,
                 region: str = DEFAULT_REGION) -> None:
        shared = Shared(store.db, clock, account_id, region)
        self.groups = LogGroups(shared)
        self.events = LogEvents(shared)

    def operation_owners(self) -> Sequence[object]:
        return (self.groups, self.events)

    # -- the internal API --------------------------------------------------------------------

    def append(self, group: str, stream: str, events: list[tuple[int, str]], *, account_id: str | None = None,
               region: str | None = None, wait: bool = True, emf: bool = False) -> Future[None] | None:
        """Write events to a stream, creating the group and the stream on first use; with `emf`,
        the metrics of embedded-metric-format events too (a Lambda function's log lines). With
        `wait=False` the write is queued; the future resolves once it is durable."""
        return self.events.append(group, stream, events, account_id=account_id, region=region, wait=wait, emf=emf)

    def tail(self, group: str, stream_prefix: str | None = None, since_ms: int | None = None, *,
             filter_pattern: str | None = None, limit: int = MAX_BATCH_EVENTS, account_id: str | None = None,
             region: str | None = None) -> list[dict[str, Any]]:
        """The group's events (oldest first), as FilterLogEvents shapes them; [] if the group is absent."""
        return self.events.tail(group, stream_prefix, since_ms, filter_pattern=filter_pattern, limit=limit,
                                account_id=account_id, region=region)

    def lines(self, group: str, stream: str, since_ms: int, until_ms: int) -> list[LogLine]:
        """A stream's log lines with since <= timestamp <= until (epoch ms), in the order written."""
        return self.events.lines(group, stream, since_ms, until_ms)
