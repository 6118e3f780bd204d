"""EventBridge pages: event buses and their rules; a rule's pattern or schedule and targets
(enable, disable, delete); sending a test event to a bus (PutEvents)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.http import HttpResponse
from ..request import ConsoleRequest

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router


def register(router: Router, console: Console) -> None:
    router.get("/events", events_index)
    router.get("/events/buses/{bus}", bus_page)
    router.post("/events/buses/{bus}/put", bus_put_event)
    router.get("/events/buses/{bus}/rules/{rule}", rule_page)
    router.post("/events/buses/{bus}/rules/{rule}/state", rule_state)
    router.post("/events/buses/{bus}/rules/{rule}/delete", rule_delete)


async def events_index(r: ConsoleRequest) -> HttpResponse:
    buses, error = await r.attempt_all("events", "ListEventBuses", "EventBuses")
    rows = []
    for bus in buses:
        rules, _ = await r.attempt_all("events", "ListRules", "Rules", EventBusName=bus["Name"])
        rows.append({"name": bus["Name"], "arn": bus.get("Arn", ""), "rules": len(rules)})
    return r.render("events/index.html", area_nav="events_index", buses=rows, error=error)


async def bus_page(r: ConsoleRequest) -> HttpResponse:
    bus = r.params["bus"]
    described = await r.call("events", "DescribeEventBus", Name=bus)
    rules, error = await r.attempt_all("events", "ListRules", "Rules", EventBusName=bus)
    return r.render("events/bus.html", area_nav="events_index", bus=bus, described=described, rules=rules,
                    error=error)


async def bus_put_event(r: ConsoleRequest) -> HttpResponse:
    entry = {"EventBusName": r.params["bus"], "Source": r.field("source").strip(),
             "DetailType": r.field("detail_type").strip(), "Detail": r.field("detail")}
    found = await r.call("events", "PutEvents", Entries=[entry])
    result = (found.get("Entries") or [{}])[0]
    if result.get("ErrorCode"):
        text = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"
        return r.render("events/_put_result.html", ok=False, text=text)
    return r.render("events/_put_result.html", ok=True, text=f"Event sent: {result.get('EventId', '')}")


async def _rule(r: ConsoleRequest) -> dict[str, Any]:
    bus, name = r.params["bus"], r.params["rule"]
    rule = await r.call("events", "DescribeRule", Name=name, EventBusName=bus)
    targets, error = await r.attempt_all("events", "ListTargetsByRule", "Targets", Rule=name, EventBusName=bus)
    return {"bus": bus, "rule": rule, "targets": targets, "targets_error": error}


async def rule_page(r: ConsoleRequest) -> HttpResponse:
    return r.render("events/rule.html", area_nav="events_index", done="", **await _rule(r))


async def rule_state(r: ConsoleRequest) -> HttpResponse:
    operation = "EnableRule" if r.field("state") == "ENABLED" else "DisableRule"
    await r.call("events", operation, Name=r.params["rule"], EventBusName=r.params["bus"])
    return r.redirect(r.url("rule_page", bus=r.params["bus"], rule=r.params["rule"]))


async def rule_delete(r: ConsoleRequest) -> HttpResponse:
    bus, name = r.params["bus"], r.params["rule"]
    targets, _ = await r.attempt_all("events", "ListTargetsByRule", "Targets", Rule=name, EventBusName=bus)
    if targets and r.field("force") == "1":  # as the AWS console does: remove its targets first
        await r.call("events", "RemoveTargets", Rule=name, EventBusName=bus, Ids=[t["Id"] for t in targets])
    await r.call("events", "DeleteRule", Name=name, EventBusName=bus)
    return r.redirect(r.url("bus_page", bus=bus))
