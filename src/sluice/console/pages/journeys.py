"""Journeys: what `sluice trace` shows, as a page that updates while retries are pending (the
upload, the notification, each attempt with its log lines and error, the waits, where the event
ended), and the recent failed events across functions, each one click from its journey and its
DLQ message.

Both read the engine's views (engine/journey.py's Journeys, engine/introspect.py's
recent_failures), as `sluice trace` and `sluice status` do: any signed-in identity sees them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ...protocol.errors import ServiceError
from ...protocol.http import HttpResponse
from ...tools.trace import ending, span
from ..request import ConsoleRequest
from ..sse import EventStream

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

FAILURES_SHOWN = 50


def register(router: Router, console: Console) -> None:
    console.templates.filters["clock_time"] = clock_time
    router.get("/journeys", journeys_index)
    router.get("/journeys/failures", failures_live)
    router.get("/journeys/trace", journey_page)
    router.get("/journeys/trace/live", journey_live)


def clock_time(ts: float | None) -> str:
    """Epoch seconds -> HH:MM:SS.mmm UTC, a timeline's resolution (as `sluice trace` prints it)."""
    if ts is None:
        return "-"
    moment = dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


async def _failures(r: ConsoleRequest) -> list[dict[str, Any]]:
    view = r.console.views.failures
    if view is None:
        return []
    found: list[dict[str, Any]] = await r.console.run_blocking(view, FAILURES_SHOWN)
    for item in found:
        item["dlq"] = _queue_link(r, item.get("sent"))
    return found


async def journeys_index(r: ConsoleRequest) -> HttpResponse:
    return r.render("journeys/index.html", area_nav="journeys_index", failures=await _failures(r))


async def failures_live(r: ConsoleRequest) -> EventStream:
    async def render() -> str:
        return r.render_text("journeys/_failures.html", failures=await _failures(r))

    return EventStream.watch("failures", render)


async def _find(r: ConsoleRequest, target: str, every: bool) -> tuple[list[dict[str, Any]], float]:
    journeys = r.console.views.journeys
    if journeys is None or not target:
        return [], 1.0
    found: list[dict[str, Any]] = await r.console.run_blocking(journeys.find, target, every)
    hidden: dict[str, str | None] = {}  # function -> why its log lines are not shown
    for journey in found:
        for invocation in _invocations(journey):
            function = invocation["function"]
            if function not in hidden:
                hidden[function] = await _logs_refused(r, function)
            if hidden[function]:
                invocation["logsHidden"] = hidden[function]
                for attempt in invocation.get("attempts") or []:
                    attempt["logs"] = []
            end = invocation.get("end")
            if end is not None:
                end["summary"] = ending(end)
                for send in end["sends"]:
                    send["link"] = _queue_link(r, send)
            for attempt in invocation.get("attempts") or []:
                attempt["wait"] = span(attempt["waitBefore"]) if attempt["number"] > 1 and attempt["waitBefore"] else ""
    return found, float(journeys.time_scale)


async def _logs_refused(r: ConsoleRequest, function: str) -> str | None:
    """Under --enforce-iam, attempts' log lines are shown to who may read the function's log group
    (FilterLogEvents), as the Logs pages would show them; the rest of the journey is Sluice's own
    record (what `sluice trace` prints)."""
    try:
        await r.console.api.authorize(r.identity, "logs", "FilterLogEvents", logGroupName=f"/aws/lambda/{function}")
    except ServiceError as err:
        return f"{err.code}: {err.message}"
    return None


def _invocations(journey: dict[str, Any]) -> list[dict[str, Any]]:
    found = [n["invocation"] for n in journey.get("notifications") or [] if n.get("invocation")]
    if journey.get("invocation"):
        found.append(journey["invocation"])
    return found


def _pending(journeys: list[dict[str, Any]]) -> bool:
    return any(n["state"] == "pending" for j in journeys for n in j.get("notifications") or []) or any(
        i["state"] == "queued" or not i.get("end", {}).get("deliveriesDone", True)
        for j in journeys for i in _invocations(j))


def _queue_link(r: ConsoleRequest, send: dict[str, Any] | None) -> str | None:
    """The console's page of the SQS message a DLQ or destination send made."""
    if not send or not send.get("ok") or not str(send.get("target", "")).startswith("arn:aws:sqs:"):
        return None
    name = str(send["target"]).rsplit(":", 1)[-1]
    return r.url("queue_page", queue=name, _query={"message": send.get("messageId") or ""}) + \
        f"#msg-{send.get('messageId') or ''}"


async def journey_page(r: ConsoleRequest) -> HttpResponse:
    target = r.arg("target").strip()
    every = r.arg("all") in ("1", "true", "on")
    found, scale = await _find(r, target, every)
    return r.render("journeys/journey.html", area_nav="journeys_index", target=target, every=every,
                    journeys=found, time_scale=scale, pending=_pending(found))


async def journey_live(r: ConsoleRequest) -> EventStream:
    target = r.arg("target").strip()
    every = r.arg("all") in ("1", "true", "on")

    async def render() -> str:
        found, scale = await _find(r, target, every)
        return r.render_text("journeys/_timeline.html", target=target, journeys=found, time_scale=scale,
                             pending=_pending(found))

    return EventStream.watch("journey", render)
