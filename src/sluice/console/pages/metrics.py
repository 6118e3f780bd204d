"""CloudWatch metrics and alarms: charts of a function's Invocations / Errors / Throttles /
Duration / DeadLetterErrors / AsyncEventAge and of a queue's depth over time (GetMetricData,
drawn by uPlot, refreshed every few seconds), and alarms with their state and history."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ...protocol.http import HttpResponse
from ..request import ConsoleRequest
from ..sse import EventStream

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

WINDOWS = {"15m": 900, "1h": 3600, "3h": 3 * 3600, "12h": 12 * 3600, "1d": 86400}
DEFAULT_WINDOW = "1h"


@dataclass(frozen=True)
class Chart:
    """One chart on a metrics page: the metric and how AWS's console plots it."""

    metric: str
    stat: str  # what AWS's console charts by default for this metric
    unit: str
    zero_fill: bool  # a count: no datapoint in a period means 0, not "no data"


FUNCTION_CHARTS = (
    Chart("Invocations", "Sum", "Count", True),
    Chart("Errors", "Sum", "Count", True),
    Chart("Throttles", "Sum", "Count", True),
    Chart("Duration", "Average", "Milliseconds", False),
    Chart("DeadLetterErrors", "Sum", "Count", True),
    Chart("AsyncEventAge", "Maximum", "Milliseconds", False),
)
QUEUE_CHARTS = (
    Chart("ApproximateNumberOfMessagesVisible", "Maximum", "Count", False),
    Chart("ApproximateNumberOfMessagesNotVisible", "Maximum", "Count", False),
    Chart("ApproximateNumberOfMessagesDelayed", "Maximum", "Count", False),
    Chart("NumberOfMessagesSent", "Sum", "Count", True),
)


def register(router: Router, console: Console) -> None:
    router.get("/metrics", metrics_index)
    router.get("/metrics/functions/{function}", function_metrics)
    router.get("/metrics/functions/{function}/data", function_metrics_data)
    router.get("/metrics/queues/{queue}", queue_metrics)
    router.get("/metrics/queues/{queue}/data", queue_metrics_data)
    router.get("/metrics/alarms", alarms_index)
    router.get("/metrics/alarms/live", alarms_live)
    router.get("/metrics/alarms/{alarm}", alarm_page)


async def metrics_index(r: ConsoleRequest) -> HttpResponse:
    functions, functions_error = await r.attempt_all("lambda", "ListFunctions", "Functions")
    queues, queues_error = await r.attempt_all("sqs", "ListQueues", "QueueUrls", MaxResults=1000)
    alarms, alarms_error = await r.attempt_all("cloudwatch", "DescribeAlarms", "MetricAlarms", MaxRecords=100)
    return r.render("metrics/index.html", area_nav="metrics_index",
                    functions=sorted(f["FunctionName"] for f in functions),
                    functions_error=functions_error, queues_error=queues_error, alarms_error=alarms_error,
                    queues=[u.rsplit("/", 1)[-1] for u in queues], alarms=alarms)


def _window(r: ConsoleRequest) -> tuple[str, int, int]:
    """(the window's name, its seconds, the period): at most a few hundred points a chart."""
    name = r.arg("window", DEFAULT_WINDOW)
    seconds = WINDOWS.get(name, WINDOWS[DEFAULT_WINDOW])
    period = 60 if seconds <= 3 * 3600 else 300
    return (name if name in WINDOWS else DEFAULT_WINDOW), seconds, period


async def _series(r: ConsoleRequest, namespace: str, dimension: str, value: str,
                  charts: tuple[Chart, ...]) -> dict[str, Any]:
    """Every chart's points over the window, in one GetMetricData (as the signed-in identity)."""
    _, seconds, period = _window(r)
    now = r.console.views.now()
    end = (int(now) // period + 1) * period
    start = end - seconds
    queries = [{"Id": f"m{i}", "Label": c.metric, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": c.metric, "Dimensions": [{"Name": dimension, "Value": value}]},
        "Period": period, "Stat": c.stat}} for i, c in enumerate(charts)]
    found, error = await r.attempt("cloudwatch", "GetMetricData", MetricDataQueries=queries, ScanBy="TimestampAscending",
                                   StartTime=dt.datetime.fromtimestamp(start, dt.timezone.utc),
                                   EndTime=dt.datetime.fromtimestamp(end, dt.timezone.utc))
    results = {res["Id"]: res for res in found.get("MetricDataResults", [])}
    xs = list(range(start, end, period))
    out = []
    for i, chart in enumerate(charts):
        res = results.get(f"m{i}", {})
        points = {int(_epoch(t)): v for t, v in zip(res.get("Timestamps", []), res.get("Values", []), strict=False)}
        ys = [points.get(x, 0.0 if chart.zero_fill else None) for x in xs]
        given = [v for v in points.values()]
        total = sum(given) if chart.stat == "Sum" else (max(given) if given else None)
        out.append({"id": f"m{i}", "metric": chart.metric, "stat": chart.stat, "unit": chart.unit, "xs": xs,
                    "ys": ys, "summary": total, "points": len(given)})
    return {"namespace": namespace, "dimension": dimension, "value": value, "period": period,
            "start": start, "end": end, "charts": out, "error": error}


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def _json_data(series: dict[str, Any]) -> str:
    error = series["error"]
    body = {k: v for k, v in series.items() if k != "error"}
    body["error"] = {"code": error.code, "message": error.message} if error is not None else None
    return json.dumps(body)


def _embedded(text: str) -> Markup:
    """JSON for a <script type="application/json"> block: a script's text is not HTML-decoded, so
    it is not HTML-escaped either; `<`, `>` and `&` become JSON escapes (no `</script>` breaks out)."""
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _data_response(series: dict[str, Any]) -> HttpResponse:
    return HttpResponse(200, [("Content-Type", "application/json")], _json_data(series).encode())


async def function_metrics(r: ConsoleRequest) -> HttpResponse:
    name = r.params["function"]
    series = await _series(r, "AWS/Lambda", "FunctionName", name, FUNCTION_CHARTS)
    return r.render("metrics/charts.html", area_nav="metrics_index", title=f"Function {name}", series=series,
                    data=_embedded(_json_data(series)), windows=list(WINDOWS), window=_window(r)[0],
                    data_url=r.url("function_metrics_data", function=name, _query={"window": _window(r)[0]}),
                    logs=f"/aws/lambda/{name}")


async def function_metrics_data(r: ConsoleRequest) -> HttpResponse:
    return _data_response(await _series(r, "AWS/Lambda", "FunctionName", r.params["function"], FUNCTION_CHARTS))


async def queue_metrics(r: ConsoleRequest) -> HttpResponse:
    name = r.params["queue"]
    series = await _series(r, "AWS/SQS", "QueueName", name, QUEUE_CHARTS)
    return r.render("metrics/charts.html", area_nav="metrics_index", title=f"Queue {name}", series=series,
                    data=_embedded(_json_data(series)), windows=list(WINDOWS), window=_window(r)[0],
                    data_url=r.url("queue_metrics_data", queue=name, _query={"window": _window(r)[0]}), logs=None)


async def queue_metrics_data(r: ConsoleRequest) -> HttpResponse:
    return _data_response(await _series(r, "AWS/SQS", "QueueName", r.params["queue"], QUEUE_CHARTS))


async def _alarms(r: ConsoleRequest) -> tuple[list[dict[str, Any]], Any]:
    state = r.arg("state")
    found, error = await r.attempt("cloudwatch", "DescribeAlarms", MaxRecords=100,
                                   **({"StateValue": state} if state else {}))
    return found.get("MetricAlarms", []), error


async def alarms_index(r: ConsoleRequest) -> HttpResponse:
    alarms, error = await _alarms(r)
    return r.render("metrics/alarms.html", area_nav="metrics_index", alarms=alarms, error=error, state=r.arg("state"))


async def alarms_live(r: ConsoleRequest) -> EventStream:
    """The alarm list as the alarms change state (the engine evaluates them every minute)."""

    async def render() -> str:
        alarms, error = await _alarms(r)
        return r.render_text("metrics/_alarm_rows.html", alarms=alarms, error=error)

    return EventStream.watch("alarms", render, interval=2.0)


async def alarm_page(r: ConsoleRequest) -> HttpResponse:
    name = r.params["alarm"]
    found = await r.call("cloudwatch", "DescribeAlarms", AlarmNames=[name])
    alarms = found.get("MetricAlarms", [])
    history, history_error = await r.attempt("cloudwatch", "DescribeAlarmHistory", AlarmName=name, MaxRecords=100)
    return r.render("metrics/alarm.html", area_nav="metrics_index", name=name, alarm=alarms[0] if alarms else None,
                    history=history.get("AlarmHistoryItems", []), history_error=history_error)
