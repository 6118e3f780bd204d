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
TAIL_PAGES = 5  # FilterLogEvents pages one poll of the tail reads at most (10,000 events each)


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
    """New events of a group as they arrive: each poll reads FilterLogEvents from a little before
    the newest event seen (the runtime writes an invocation's lines when it ends, stamped with
    the times they were logged at) and sends the events not sent yet, by eventId."""

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

    async def poll(self) -> Events:
        if self.failed:
            return []
        if self.start is None:
            self.start = await self._first_start()
            self.newest = self.start
        window = max(self.start, self.newest - LOOKBACK_MS)
        params: dict[str, Any] = {"logGroupName": self.group, "startTime": window, **self.extra}
        fresh: list[dict[str, Any]] = []
        try:
            for _ in range(TAIL_PAGES):
                page = await self.r.call("logs", "FilterLogEvents", **params)
                fresh.extend(e for e in page.get("events", []) if e["eventId"] not in self.seen)
                if not page.get("nextToken"):
                    break
                params["nextToken"] = page["nextToken"]
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
    return EventStream(_Tail(r, r.arg("name"), _stream_args(r)).poll, interval=0.5)
