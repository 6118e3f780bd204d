"""CloudWatch Logs pages: log groups, a group's streams and events (newest first, a page at a
time, with a filter pattern), and a live tail over server-sent events with the same filter
patterns FilterLogEvents takes (what `sluice logs --follow` shows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.errors import ServiceError
from ...protocol.http import HttpResponse
from ...tools.logs_tail import LOOKBACK_MS
from ..request import ConsoleRequest
from ..sse import Events, EventStream

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

GROUPS_PER_PAGE = 50
STREAMS_SHOWN = 50
EVENTS_PER_PAGE = 100
TAIL_FIRST_MS = 60_000  # a tail opens with the group's last minute of activity
TAIL_PAGE = 500  # events a poll of the tail reads in one FilterLogEvents page
TAIL_PAGES = 20  # pages one poll reads at most (a burst of 10,000 lines)
TAIL_FIRST_LINES = 200  # of that last minute, the newest lines only: a busy group's would be megabytes
TAIL_POLL_SECONDS = 1.0  # each poll re-reads the look-back window (LOOKBACK_MS) of the group


def register(router: Router, console: Console) -> None:
    router.get("/logs", logs_index)
    router.get("/logs/group", logs_group)
    router.get("/logs/tail", logs_tail)
    router.post("/logs/group/delete", logs_group_delete)


async def logs_index(r: ConsoleRequest) -> HttpResponse:
    prefix = r.arg("prefix").strip()
    params: dict[str, Any] = {"limit": GROUPS_PER_PAGE}
    if prefix:
        params["logGroupNamePrefix"] = prefix
    if r.arg("token"):
        params["nextToken"] = r.arg("token")
    found, error = await r.attempt("logs", "DescribeLogGroups", **params)
    return r.render("logs/index.html", area_nav="logs_index", groups=found.get("logGroups", []),
                    next_token=found.get("nextToken"), prefix=prefix, error=error)


def _stream_args(r: ConsoleRequest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.arg("stream"):
        out["logStreamNames"] = [r.arg("stream")]
    if r.arg("pattern").strip():
        out["filterPattern"] = r.arg("pattern")
    return out


async def logs_group(r: ConsoleRequest) -> HttpResponse:
    group = r.arg("name")
    streams, streams_error = await r.attempt("logs", "DescribeLogStreams", logGroupName=group,
                                             orderBy="LastEventTime", descending=True, limit=STREAMS_SHOWN)
    if streams_error is not None and streams_error.code == "ResourceNotFoundException":
        return r.error(streams_error)
    params: dict[str, Any] = {"logGroupName": group, "limit": EVENTS_PER_PAGE, "startFromHead": False,
                              **_stream_args(r)}
    if r.arg("token"):
        params["nextToken"] = r.arg("token")
    events, events_error = await r.attempt("logs", "FilterLogEvents", **params)
    return r.render("logs/group.html", area_nav="logs_index", group=group, streams=streams.get("logStreams", []),
                    streams_error=streams_error, events=events.get("events", []), next_token=events.get("nextToken"),
                    events_error=events_error, pattern=r.arg("pattern"), stream=r.arg("stream"))


async def logs_group_delete(r: ConsoleRequest) -> HttpResponse:
    await r.call("logs", "DeleteLogGroup", logGroupName=r.field("name"))
    return r.redirect(r.url("logs_index"))


class _Tail:
    """New events of a group as they arrive. Each poll reads FilterLogEvents newest first over a
    window reaching a little before the newest event seen (the runtime writes an invocation's
    lines when it ends, stamped with the times they were logged at), a page at a time until a
    page holds events already sent (by eventId): a poll costs one page however big the group."""

    def __init__(self, r: ConsoleRequest, group: str, extra: dict[str, Any]) -> None:
        self.r = r
        self.group = group
        self.extra = extra
        self.start: int | None = None
        self.newest = 0
        self.seen: dict[str, int] = {}
        self.failed = False

    async def _first_start(self) -> int:
        found, _ = await self.r.attempt("logs", "DescribeLogStreams", logGroupName=self.group,
                                        orderBy="LastEventTime", descending=True, limit=1)
        streams = found.get("logStreams") or []
        last = streams[0].get("lastEventTimestamp") if streams else None
        now_ms = int(self.r.console.views.now() * 1000)
        return max(0, int(last if last is not None else now_ms) - TAIL_FIRST_MS)

    async def _fresh(self) -> list[dict[str, Any]]:
        first = self.start is None
        if self.start is None:
            self.start = await self._first_start()
            self.newest = self.start
        params: dict[str, Any] = {"logGroupName": self.group, "startTime": max(self.start, self.newest - LOOKBACK_MS),
                                  "startFromHead": False, "limit": TAIL_FIRST_LINES if first else TAIL_PAGE,
                                  **self.extra}
        fresh: list[dict[str, Any]] = []
        for _ in range(1 if first else TAIL_PAGES):
            page = await self.r.call("logs", "FilterLogEvents", **params)
            events = page.get("events", [])
            unseen = [e for e in events if e["eventId"] not in self.seen]
            fresh.extend(unseen)
            if not page.get("nextToken") or len(unseen) < len(events):
                break
            params["nextToken"] = page["nextToken"]
        return fresh

    async def poll(self) -> Events:
        if self.failed:
            return []
        try:
            fresh = await self._fresh()
        except ServiceError as err:
            if err.code == "ResourceNotFoundException":
                return []  # not created yet: its first line will create it
            self.failed = True  # a bad filter pattern: said once, not every second
            return [("tail", self.r.render_text("_error.html", error=err))]
        if not fresh:
            return []
        fresh.sort(key=lambda e: (e["timestamp"], e["eventId"]))
        for event in fresh:
            self.seen[event["eventId"]] = event["timestamp"]
            self.newest = max(self.newest, event["timestamp"])
        horizon = self.newest - LOOKBACK_MS
        self.seen = {k: ts for k, ts in self.seen.items() if ts >= horizon}
        return [("tail", self.r.render_text("logs/_lines.html", events=fresh))]


async def logs_tail(r: ConsoleRequest) -> EventStream:
    return EventStream(_Tail(r, r.arg("name"), _stream_args(r)).poll, interval=TAIL_POLL_SECONDS)
