"""EventBridge: the pattern language as a pure table, schedules and input transformation as pure
functions, the API through boto3 and the AWS CLI, and delivery to real targets (a Lambda function
whose handler records what it receives, SQS and SNS when those services run, another bus).

A private server on a fast clock (--time-scale 600: rate(1 minute) fires every 0.1 s) runs the
schedule tests and the SIGKILL test: events accepted by PutEvents are delivered after a restart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sluice.services.events.patterns import PatternError, compile_pattern, matches
from sluice.services.events.records import pending_deliveries
from sluice.services.events.schedule import Rate, ScheduleError, parse_schedule
from sluice.services.events.transform import target_input

from .conftest import AwsCli, make_client, wait_for
from .lambda_helpers import create, read_jsonl
from .server import SluiceProcess

ACCOUNT = "000000000000"
REGION = "us-east-1"
DEFAULT_BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
UTC = dt.timezone.utc

RECORDING_HANDLER = """
import json, os

def handler(event, context):
    with open(os.environ["MARKS"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    return {}
"""


# -- the pattern table -----------------------------------------------------------------------

def ev(detail: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    event = {"version": "0", "id": "e1", "detail-type": "Thing Happened", "source": "my.app",
             "account": ACCOUNT, "time": "2024-05-14T11:23:30Z", "region": REGION, "resources": [],
             "detail": detail if detail is not None else {}}
    event.update(top)
    return event


def d(**values: Any) -> dict[str, Any]:
    """A pattern on the detail."""
    return {"detail": values}


MISSING = object()


def with_x(value: Any) -> dict[str, Any]:
    return ev({} if value is MISSING else {"x": value})


# (name, pattern, event, expected)
PATTERN_TABLE: list[tuple[str, Any, dict[str, Any], bool]] = [
    # exact values, typed
    ("string", {"source": ["my.app"]}, ev(), True),
    ("string-other", {"source": ["other"]}, ev(), False),
    ("string-empty", d(x=[""]), with_x(""), True),
    ("string-empty-vs-value", d(x=[""]), with_x("a"), False),
    ("number", d(x=[5]), with_x(5), True),
    ("number-float-equal", d(x=[5]), with_x(5.0), True),
    ("number-vs-string", d(x=[5]), with_x("5"), False),
    ("string-vs-number", d(x=["5"]), with_x(5), False),
    ("number-other", d(x=[5]), with_x(6), False),
    ("true", d(x=[True]), with_x(True), True),
    ("true-vs-string", d(x=[True]), with_x("true"), False),
    ("false-vs-true", d(x=[False]), with_x(True), False),
    ("null", d(x=[None]), with_x(None), True),
    ("null-vs-missing", d(x=[None]), with_x(MISSING), False),
    ("null-vs-string", d(x=[None]), with_x("null"), False),
    ("null-vs-empty-array", {"resources": [None]}, ev(), False),
    ("key-case-sensitive", {"Source": ["my.app"]}, ev(), False),
    # arrays: OR in patterns, any element in events
    ("or-values", {"source": ["a", "my.app"]}, ev(), True),
    ("or-values-none", {"source": ["a", "b"]}, ev(), False),
    ("event-array-any", d(x=["b"]), with_x(["a", "b"]), True),
    ("event-array-none", d(x=["c"]), with_x(["a", "b"]), False),
    ("event-array-empty", d(x=["a"]), with_x([]), False),
    ("resources", {"resources": ["arn:aws:s3:::b"]}, ev(resources=["arn:aws:s3:::a", "arn:aws:s3:::b"]), True),
    ("array-of-objects-same-element", d(items={"a": ["1"], "b": ["2"]}), ev({"items": [{"a": "1", "b": "2"}]}), True),
    ("array-of-objects-different-elements", d(items={"a": ["1"], "b": ["2"]}),
     ev({"items": [{"a": "1", "b": "x"}, {"a": "y", "b": "2"}]}), False),
    # nested objects, and AND across fields
    ("nested", d(a={"b": {"c": ["x"]}}), ev({"a": {"b": {"c": "x"}}}), True),
    ("nested-other", d(a={"b": {"c": ["x"]}}), ev({"a": {"b": {"c": "y"}}}), False),
    ("nested-missing", d(a={"b": {"c": ["x"]}}), ev({"a": {}}), False),
    ("nested-object-is-not-a-leaf", d(a=["x"]), ev({"a": {"b": "x"}}), False),
    ("and-all", {"source": ["my.app"], "detail-type": ["Thing Happened"]}, ev(), True),
    ("and-one-fails", {"source": ["my.app"], "detail-type": ["Other"]}, ev(), False),
    ("dotted-pattern-key", {"detail.x": ["v"]}, with_x("v"), True),
    ("dotted-event-key", d(**{"a.b": ["v"]}), ev({"a": {"b": "v"}}), True),
    # prefix / suffix / equals-ignore-case
    ("prefix", d(x=[{"prefix": "ab"}]), with_x("abc"), True),
    ("prefix-no", d(x=[{"prefix": "ab"}]), with_x("xab"), False),
    ("prefix-number", d(x=[{"prefix": "1"}]), with_x(12), False),
    ("prefix-ignore-case", d(x=[{"prefix": {"equals-ignore-case": "AB"}}]), with_x("abC"), True),
    ("prefix-ignore-case-no", d(x=[{"prefix": {"equals-ignore-case": "AB"}}]), with_x("xab"), False),
    ("suffix", d(x=[{"suffix": ".png"}]), with_x("a.png"), True),
    ("suffix-no", d(x=[{"suffix": ".png"}]), with_x("a.jpg"), False),
    ("suffix-ignore-case", d(x=[{"suffix": {"equals-ignore-case": ".PNG"}}]), with_x("A.png"), True),
    ("equals-ignore-case", d(x=[{"equals-ignore-case": "Alice"}]), with_x("aLiCe"), True),
    ("equals-ignore-case-no", d(x=[{"equals-ignore-case": "Alice"}]), with_x("alicia"), False),
    ("equals-ignore-case-empty", d(x=[{"equals-ignore-case": ""}]), with_x(""), True),
    # anything-but
    ("anything-but", d(x=[{"anything-but": "a"}]), with_x("b"), True),
    ("anything-but-no", d(x=[{"anything-but": "a"}]), with_x("a"), False),
    ("anything-but-missing", d(x=[{"anything-but": "a"}]), with_x(MISSING), False),
    ("anything-but-null", d(x=[{"anything-but": "a"}]), with_x(None), True),
    ("anything-but-number-value", d(x=[{"anything-but": "a"}]), with_x(5), True),
    ("anything-but-list", d(x=[{"anything-but": ["a", "b"]}]), with_x("c"), True),
    ("anything-but-list-no", d(x=[{"anything-but": ["a", "b"]}]), with_x("b"), False),
    ("anything-but-number", d(x=[{"anything-but": 5}]), with_x(6), True),
    ("anything-but-number-no", d(x=[{"anything-but": 5}]), with_x(5.0), False),
    ("anything-but-numbers", d(x=[{"anything-but": [1, 2]}]), with_x(3), True),
    ("anything-but-numbers-no", d(x=[{"anything-but": [1, 2]}]), with_x(2), False),
    ("anything-but-prefix", d(x=[{"anything-but": {"prefix": "init"}}]), with_x("running"), True),
    ("anything-but-prefix-no", d(x=[{"anything-but": {"prefix": "init"}}]), with_x("initializing"), False),
    ("anything-but-prefix-number", d(x=[{"anything-but": {"prefix": "init"}}]), with_x(12), True),
    ("anything-but-prefix-list", d(x=[{"anything-but": {"prefix": ["a", "b"]}}]), with_x("bc"), False),
    ("anything-but-suffix", d(x=[{"anything-but": {"suffix": ".txt"}}]), with_x("a.png"), True),
    ("anything-but-suffix-no", d(x=[{"anything-but": {"suffix": ".txt"}}]), with_x("a.txt"), False),
    ("anything-but-ignore-case", d(x=[{"anything-but": {"equals-ignore-case": ["A", "B"]}}]), with_x("c"), True),
    ("anything-but-ignore-case-no", d(x=[{"anything-but": {"equals-ignore-case": ["A", "B"]}}]), with_x("a"), False),
    ("anything-but-wildcard", d(x=[{"anything-but": {"wildcard": "*/dir/*"}}]), with_x("/a/b"), True),
    ("anything-but-wildcard-no", d(x=[{"anything-but": {"wildcard": "*/dir/*"}}]), with_x("/x/dir/y"), False),
    # numeric
    ("numeric-range-top", d(x=[{"numeric": [">", 0, "<=", 5]}]), with_x(5), True),
    ("numeric-range-inside", d(x=[{"numeric": [">", 0, "<=", 5]}]), with_x(2.5), True),
    ("numeric-range-bottom", d(x=[{"numeric": [">", 0, "<=", 5]}]), with_x(0), False),
    ("numeric-range-above", d(x=[{"numeric": [">", 0, "<=", 5]}]), with_x(5.5), False),
    ("numeric-string", d(x=[{"numeric": [">", 0]}]), with_x("3"), False),
    ("numeric-null", d(x=[{"numeric": [">", 0]}]), with_x(None), False),
    ("numeric-equals", d(x=[{"numeric": ["=", 3e0]}]), with_x(3), True),
    ("numeric-less", d(x=[{"numeric": ["<", 0]}]), with_x(-1), True),
    ("numeric-less-no", d(x=[{"numeric": ["<", 0]}]), with_x(0), False),
    ("numeric-gte-lt", d(x=[{"numeric": [">=", 10, "<", 20]}]), with_x(10), True),
    # exists
    ("exists", d(x=[{"exists": True}]), with_x("v"), True),
    ("exists-null", d(x=[{"exists": True}]), with_x(None), True),
    ("exists-missing", d(x=[{"exists": True}]), with_x(MISSING), False),
    ("exists-empty-array", d(x=[{"exists": True}]), with_x([]), False),
    ("exists-false", d(x=[{"exists": False}]), with_x(MISSING), True),
    ("exists-false-present", d(x=[{"exists": False}]), with_x("v"), False),
    ("exists-false-object", d(x=[{"exists": False}]), with_x({"y": 1}), True),
    # wildcard
    ("wildcard", d(x=[{"wildcard": "*.png"}]), with_x("dir/a.png"), True),
    ("wildcard-no", d(x=[{"wildcard": "*.png"}]), with_x("a.jpg"), False),
    ("wildcard-empty-run", d(x=[{"wildcard": "a*b"}]), with_x("ab"), True),
    ("wildcard-middle", d(x=[{"wildcard": "/Users/*/doc.txt"}]), with_x("/Users/me/dir/doc.txt"), True),
    ("wildcard-escaped-star", d(x=[{"wildcard": "a\\*b"}]), with_x("a*b"), True),
    ("wildcard-escaped-star-no", d(x=[{"wildcard": "a\\*b"}]), with_x("axb"), False),
    ("wildcard-number", d(x=[{"wildcard": "1*"}]), with_x(12), False),
    # cidr
    ("cidr", d(ip=[{"cidr": "10.0.0.0/24"}]), ev({"ip": "10.0.0.255"}), True),
    ("cidr-no", d(ip=[{"cidr": "10.0.0.0/24"}]), ev({"ip": "10.0.1.1"}), False),
    ("cidr-not-an-ip", d(ip=[{"cidr": "10.0.0.0/24"}]), ev({"ip": "bad"}), False),
    ("cidr-number", d(ip=[{"cidr": "10.0.0.0/24"}]), ev({"ip": 123}), False),
    ("cidr-v6", d(ip=[{"cidr": "2001:db8::/32"}]), ev({"ip": "2001:db8:1234::1"}), True),
    ("cidr-v6-no", d(ip=[{"cidr": "2001:db8::/32"}]), ev({"ip": "2001:db9::1"}), False),
    # several conditions on one field: any
    ("conditions-any", d(x=[{"prefix": "a"}, {"suffix": "z"}]), with_x("bz"), True),
    ("conditions-none", d(x=[{"prefix": "a"}, {"suffix": "z"}]), with_x("by"), False),
    ("value-or-condition", d(x=["v", {"numeric": [">", 10]}]), with_x(11), True),
    # $or
    ("or-first", {"source": ["my.app"], "$or": [d(a=["1"]), d(b=["2"])]}, ev({"a": "1"}), True),
    ("or-second", {"source": ["my.app"], "$or": [d(a=["1"]), d(b=["2"])]}, ev({"b": "2"}), True),
    ("or-neither", {"source": ["my.app"], "$or": [d(a=["1"]), d(b=["2"])]}, ev({"a": "2"}), False),
    ("or-sibling-fails", {"source": ["other"], "$or": [d(a=["1"]), d(b=["2"])]}, ev({"a": "1"}), False),
    ("or-nested", d(**{"$or": [{"a": [{"numeric": [">", 5]}]}, {"b": [{"exists": False}]}]}), ev({"a": 1}), True),
    ("or-exists-false-or-anything-but", d(h={"S": [{"anything-but": ["roses"]}, {"exists": False}]}),
     ev({"p": {"N": "789"}}), True),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), [pytest.param(p, e, x, id=n) for n, p, e, x in PATTERN_TABLE])
def test_pattern_table(pattern: Any, event: dict[str, Any], expected: bool) -> None:
    assert matches(json.dumps(pattern), event) is expected


def test_pattern_duplicate_key_last_wins() -> None:
    pattern = '{"detail": {"x": ["a"], "x": ["b"]}}'
    assert matches(pattern, with_x("b"))
    assert not matches(pattern, with_x("a"))


def loc(pattern: str, column: int) -> str:
    return f'\n at [Source: (String)"{pattern}"; line: 1, column: {column}]'


REASON = "Event pattern is not valid. Reason: "
# Patterns, messages and Jackson locations as AWS answered them (recorded responses).
INVALID_PATTERNS = [
    ('{"int": 42}', '"int" must be an object or an array', 11),
    ('{"string": "my-value"}', '"string" must be an object or an array', 13),
    ('{"resources": []}', "Empty arrays are not allowed", 17),
    ('{"my_key": [{"EXISTS": true}]}', "Unrecognized match type EXISTS", 28),
    ('{"detail": {"equal": [{"NUMERIC": ["=", 5]}]}}', "Unrecognized match type NUMERIC", 36),
    ('{"detail": {"c-count": [{"numeric": [">", 0, ">", 0]}]}}', "Bad numeric range operator: >", 49),
    ('{"detail": {"c-count": [{"numeric": [">", 0, "<"]}]}}', "Value of < must be numeric", 50),
    ('{"time": [{"prefix": 123}]}', "prefix match pattern must be a string", 25),
    ('{"time": [{"prefix": ["2022-07-13"]}]}', "prefix match pattern must be a string", 23),
    ('{"FileName": [{"suffix": [".png"]}]}', "suffix match pattern must be a string", 27),
    ('{"detail-type": [{"equals-ignore-case": ["ec2 instance state-change notification"]}]}',
     "equals-ignore-case match pattern must be a string", 42),
    ('{"EventBusArn": [{"wildcard": 123}]}', "wildcard match pattern must be a string", 34),
    ('{"detail": {"state": [{"anything-but": {"prefix": 123}}]}}', "prefix/suffix match pattern must be a string", 54),
    ('{"detail": {"state": [{"anything-but": {"equals-ignore-case": 123}}]}}',
     "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.", 66),
    ('{"detail": {"FileName": [{"anything-but": {"suffix": {"equals-ignore-case": ".png"}}}]}}',
     "Value of anything-but must be an array or single string/number value.", 55),
    ('{"detail": {"sourceIPAddress": [{"cidr": ["bad-type"]}]}}', "prefix match pattern must be a string", 43),
    ('["not", "a", "dict", "but valid json"]', "Filter is not an object", 2),
    ("this is valid json but not a dict", "Unrecognized token 'this': was expecting (JSON String, Number, Array, "
     "Object or token 'null', 'true' or 'false')", 5),
    ("{'bad': 'quotation'}", "Unexpected character (''' (code 39)): was expecting double-quote to start field name", 2),
    ('{"not": closed mark"', "Unrecognized token 'closed': was expecting (JSON String, Number, Array, Object or "
     "token 'null', 'true' or 'false')", 15),
    # errors inside a list under anything-but carry the location twice, as AWS's do
    ('{"detail": {"state": [{"anything-but": {"prefix": [123, "test"]}}]}}',
     "prefix/suffix match pattern must be a string", -55),
    ('{"detail": {"state": [{"anything-but": {"wildcard": [123, "*/dir/*"]}}]}}',
     "wildcard match pattern must be a string", -57),
    # and these come without a location
    ('{"ip": [{"cidr": "10.0.0.0"}]}', "Malformed CIDR, one '/' required", 0),
    ('{"ip": [{"cidr": "10.0.0.0/x"}]}', "Malformed CIDR, mask bits must be an integer", 0),
    ('{"ip": [{"cidr": "xx.11.xx/24"}]}', "Nonstandard IP address: xx.11.xx", 0),
    ('{"ip": [{"cidr": "xxxx:db8:1234:1a00::/56"}]}', "Nonstandard IP address: xxxx:db8:1234:1a00::", 0),
]


def expected_message(pattern: str, reason: str, column: int) -> str:
    where = loc(pattern, abs(column)) if column else ""
    return REASON + reason + where * (2 if column < 0 else 1)


@pytest.mark.parametrize(("pattern", "reason", "column"), INVALID_PATTERNS)
def test_invalid_patterns(pattern: str, reason: str, column: int) -> None:
    with pytest.raises(PatternError) as exc:
        compile_pattern(pattern)
    assert exc.value.message == expected_message(pattern, reason, column)


@pytest.mark.parametrize("pattern", [
    '{"a": [{"anything-but": null}]}', '{"a": [{"anything-but": ["x", null]}]}', '{"a": [{"anything-but": {"prefix": ""}}]}',
    '{"a": [{"wildcard": "a**b"}]}', "{}", '{"a": {}}', '{"a": [[1]]}', '{"a": [{"prefix": "x", "suffix": "y"}]}',
    '{"a": [{"numeric": []}]}', '{"a": [{"numeric": ["<", 5, ">", 1]}]}', '{"a": [{"numeric": [">", 5, "<", 1]}]}',
    '{"a": [{"exists": "yes"}]}', '{"a": [{"numeric": 5}]}', '{"a": [{"cidr": "10.0.0.0/33"}]}',
])
def test_more_invalid_patterns(pattern: str) -> None:
    with pytest.raises(PatternError) as exc:
        compile_pattern(pattern)
    assert exc.value.message.startswith(REASON)


# -- schedules, retries, input transformation (pure) -----------------------------------------

def test_schedule_expressions() -> None:
    assert parse_schedule("rate(1 minute)") == Rate(60)
    assert parse_schedule("rate(5 minutes)") == Rate(300)
    assert parse_schedule("rate(2 hours)") == Rate(7200)
    assert parse_schedule("rate(1 day)") == Rate(86400)
    for bad in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(1 week)", "cron(0 12 * * * *)",
                "cron(0 12 ? * ? *)", "cron(61 12 * * ? *)", "cron(0 12 * * ?)", "cron(0 12 L * 2 *)", "every minute",
                "cron(0 0 1 * ? 1960)", "cron(0 0 ? * 2W *)"):
        with pytest.raises(ScheduleError):
            parse_schedule(bad)
    t = dt.datetime(2024, 5, 14, 11, 23, 30, tzinfo=UTC)  # a Tuesday

    def nxt(expr: str) -> dt.datetime | None:
        cron = parse_schedule(expr)
        assert not isinstance(cron, Rate)
        return cron.next_after(t)

    assert nxt("cron(0 12 * * ? *)") == dt.datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
    assert nxt("cron(0/15 * * * ? *)") == dt.datetime(2024, 5, 14, 11, 30, tzinfo=UTC)
    assert nxt("cron(* * * * ? *)") == dt.datetime(2024, 5, 14, 11, 24, tzinfo=UTC)
    assert nxt("cron(0 10 ? * MON-FRI *)") == dt.datetime(2024, 5, 15, 10, 0, tzinfo=UTC)
    assert nxt("cron(0 8 L * ? *)") == dt.datetime(2024, 5, 31, 8, 0, tzinfo=UTC)
    assert nxt("cron(0 8 L-2 * ? *)") == dt.datetime(2024, 5, 29, 8, 0, tzinfo=UTC)
    assert nxt("cron(0 8 LW * ? *)") == dt.datetime(2024, 5, 31, 8, 0, tzinfo=UTC)
    assert nxt("cron(0 8 18W * ? *)") == dt.datetime(2024, 5, 17, 8, 0, tzinfo=UTC)  # the 18th is a Saturday
    assert nxt("cron(0 8 ? * 6L *)") == dt.datetime(2024, 5, 31, 8, 0, tzinfo=UTC)  # the last Friday
    assert nxt("cron(0 8 ? * 2#3 *)") == dt.datetime(2024, 5, 20, 8, 0, tzinfo=UTC)  # the third Monday
    assert nxt("cron(0 0 29 FEB ? *)") == dt.datetime(2028, 2, 29, 0, 0, tzinfo=UTC)
    assert nxt("cron(0 0 1 JAN ? 2020)") is None


def test_target_input() -> None:
    event = ev({"command": "update", "payload": {"id": "a", "n": 3}, "text": 'say "hi"'})
    kw = {"rule_arn": "arn:aws:events:us-east-1:000000000000:rule/r", "rule_name": "r",
          "ingestion_time": "2024-05-14T11:23:30Z"}
    assert json.loads(target_input({}, event, **kw)) == event
    assert target_input({"Input": '{"fixed": 1}'}, event, **kw) == '{"fixed": 1}'
    assert json.loads(target_input({"InputPath": "$.detail.payload"}, event, **kw)) == {"id": "a", "n": 3}
    assert target_input({"InputPath": "$.detail.payload.id"}, event, **kw) == '"a"'
    paths = {"cmd": "$.detail.command", "n": "$.detail.payload.n", "p": "$.detail.payload",
             "gone": "$.detail.nothing", "text": "$.detail.text"}

    def tr(template: str) -> str:
        return target_input({"InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}}, event, **kw)

    assert tr('"Ran <cmd> with <n> on <gone>"') == '"Ran update with 3 on "'
    assert json.loads(tr('{"c": <cmd>, "n": <n>, "p": <p>, "g": <gone>, "s": "<cmd>-<n>", "t": <text>}')) == {
        "c": "update", "n": 3, "p": {"id": "a", "n": 3}, "g": "", "s": "update-3", "t": 'say "hi"'}
    assert json.loads(tr('{"quoted": "<text>"}')) == {"quoted": 'say "hi"'}
    assert tr("plain <cmd> <p>") == 'plain update {"id":"a","n":3}'
    assert tr('"<aws.events.rule-name> <aws.events.rule-arn> <aws.events.event.ingestion-time>"') == (
        '"r arn:aws:events:us-east-1:000000000000:rule/r 2024-05-14T11:23:30Z"')
    whole = json.loads(tr('{"e": <aws.events.event>, "j": <aws.events.event.json>}'))
    assert whole["j"] == event
    assert whole["e"] == {"id": "e1", "account": ACCOUNT, "detailType": "Thing Happened",
                          "time": "2024-05-14T11:23:30Z", "source": "my.app", "region": REGION, "resources": [],
                          "version": "0"}


# -- the API ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def events(endpoint: str) -> Any:
    return make_client("events", endpoint)


@pytest.fixture(scope="module")
def lam(endpoint: str) -> Any:
    return make_client("lambda", endpoint)


def error_of(call: Callable[[], Any]) -> dict[str, str]:
    with pytest.raises(ClientError) as exc:
        call()
    return {"Code": exc.value.response["Error"]["Code"], "Message": exc.value.response["Error"]["Message"],
            "Status": exc.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def name(prefix: str = "ev") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_event_buses(events: Any) -> None:
    default = events.describe_event_bus()
    assert default["Name"] == "default" and default["Arn"] == DEFAULT_BUS_ARN
    assert events.describe_event_bus(Name=DEFAULT_BUS_ARN)["Name"] == "default"
    bus = name("bus")
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
    assert events.create_event_bus(Name=bus, Description="mine")["EventBusArn"] == arn
    described = events.describe_event_bus(Name=bus)
    assert {k: described[k] for k in ("Name", "Arn", "Description")} == {"Name": bus, "Arn": arn, "Description": "mine"}
    assert isinstance(described["CreationTime"], dt.datetime)
    listed = events.list_event_buses(NamePrefix=bus)["EventBuses"]
    assert [b["Name"] for b in listed] == [bus]
    names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert "default" in names and bus in names
    assert error_of(lambda: events.create_event_bus(Name=bus)) == {
        "Code": "ResourceAlreadyExistsException", "Message": f"Event bus {bus} already exists.", "Status": 400}
    assert error_of(lambda: events.delete_event_bus(Name="default")) == {
        "Code": "ValidationException", "Message": "Cannot delete event bus default.", "Status": 400}
    events.delete_event_bus(Name=bus)
    events.delete_event_bus(Name=bus)  # again: nothing to delete is fine
    assert error_of(lambda: events.describe_event_bus(Name=bus)) == {
        "Code": "ResourceNotFoundException", "Message": f"Event bus {bus} does not exist.", "Status": 400}
    # pagination
    prefix = name("page")
    for i in range(5):
        events.create_event_bus(Name=f"{prefix}-{i}")
    first = events.list_event_buses(NamePrefix=prefix, Limit=3)
    second = events.list_event_buses(NamePrefix=prefix, Limit=3, NextToken=first["NextToken"])
    assert [b["Name"] for b in first["EventBuses"] + second["EventBuses"]] == [f"{prefix}-{i}" for i in range(5)]
    assert "NextToken" not in second


def test_rules(events: Any) -> None:
    bus = name("bus")
    events.create_event_bus(Name=bus)
    rule = name("rule")
    pattern = json.dumps({"source": ["my.app"]})
    assert events.put_rule(Name=rule, EventPattern=pattern)["RuleArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"
    arn = events.put_rule(Name=rule, EventBusName=bus, EventPattern=pattern, Description="d",
                          RoleArn=f"arn:aws:iam::{ACCOUNT}:role/r", Tags=[{"Key": "k", "Value": "v"}])["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{rule}"
    described = events.describe_rule(Name=rule, EventBusName=bus)
    described.pop("ResponseMetadata")
    assert described == {"Name": rule, "Arn": arn, "EventPattern": pattern, "State": "ENABLED", "Description": "d",
                         "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "EventBusName": bus, "CreatedBy": ACCOUNT}
    listed = events.list_rules(EventBusName=bus)["Rules"]
    assert listed == [{"Name": rule, "Arn": arn, "EventPattern": pattern, "State": "ENABLED", "Description": "d",
                       "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "EventBusName": bus}]
    events.disable_rule(Name=rule, EventBusName=bus)
    assert events.describe_rule(Name=rule, EventBusName=bus)["State"] == "DISABLED"
    events.enable_rule(Name=rule, EventBusName=bus)
    assert events.describe_rule(Name=rule, EventBusName=bus)["State"] == "ENABLED"
    # PutRule replaces the rule, keeps its tags and targets
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "t", "Arn": DEFAULT_BUS_ARN}])
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=pattern)
    assert "Description" not in events.describe_rule(Name=rule, EventBusName=bus)
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    assert len(events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]) == 1
    assert error_of(lambda: events.delete_rule(Name=rule, EventBusName=bus)) == {
        "Code": "ValidationException", "Message": "Rule can't be deleted since it has targets.", "Status": 400}
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["t"])
    events.delete_rule(Name=rule, EventBusName=bus)
    events.delete_rule(Name=rule, EventBusName=bus)  # a rule that does not exist: fine
    assert events.list_rules(EventBusName=bus)["Rules"] == []
    assert error_of(lambda: events.describe_rule(Name=rule, EventBusName=bus)) == {
        "Code": "ResourceNotFoundException", "Message": f"Rule {rule} does not exist on EventBus {bus}.", "Status": 400}
    assert error_of(lambda: events.enable_rule(Name="nope-" + rule)) == {
        "Code": "ResourceNotFoundException", "Message": f"Rule nope-{rule} does not exist on EventBus default.",
        "Status": 400}
    # pagination and prefixes
    prefix = name("many")
    for i in range(6):
        events.put_rule(Name=f"{prefix}-{i}", EventBusName=bus, EventPattern=pattern)
    first = events.list_rules(EventBusName=bus, NamePrefix=prefix, Limit=4)
    second = events.list_rules(EventBusName=bus, NamePrefix=prefix, Limit=4, NextToken=first["NextToken"])
    assert [r["Name"] for r in first["Rules"] + second["Rules"]] == [f"{prefix}-{i}" for i in range(6)]
    assert "NextToken" not in second


def test_rule_errors(events: Any) -> None:
    rule = name("rule")
    assert error_of(lambda: events.put_rule(Name=rule)) == {
        "Code": "ValidationException", "Message": "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        "Status": 400}
    assert error_of(lambda: events.put_rule(Name=rule, EventPattern='{"source": "x"}')) == {
        "Code": "InvalidEventPatternException",
        "Message": 'Event pattern is not valid. Reason: "source" must be an object or an array'
                   + loc('{"source": "x"}', 13), "Status": 400}
    assert error_of(lambda: events.put_rule(Name=rule, ScheduleExpression="rate(1 minutes)")) == {
        "Code": "ValidationException", "Message": "Parameter ScheduleExpression is not valid.", "Status": 400}
    bus = name("bus")
    events.create_event_bus(Name=bus)
    assert error_of(lambda: events.put_rule(Name=rule, EventBusName=bus, ScheduleExpression="rate(5 minutes)")) == {
        "Code": "ValidationException", "Message": "ScheduleExpression is supported only on the default event bus.",
        "Status": 400}
    assert error_of(lambda: events.put_rule(Name=rule, EventBusName="nope-" + bus, EventPattern='{"a": [1]}')) == {
        "Code": "ResourceNotFoundException", "Message": f"Event bus nope-{bus} does not exist.", "Status": 400}
    assert error_of(lambda: events.put_rule(Name="bad name!", EventPattern='{"a": [1]}')) == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: "
                   "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", "Status": 400}
    assert error_of(lambda: events.put_rule(Name=rule, EventPattern='{"a": [1]}', State="SOMETIMES"))["Message"] == (
        "1 validation error detected: Value 'SOMETIMES' at 'state' failed to satisfy constraint: Member must "
        "satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]")
    unchecked = make_client("events", events.meta.endpoint_url, parameter_validation=False)
    assert error_of(lambda: unchecked.put_rule(EventPattern='{"a": [1]}')) == {
        "Code": "ValidationException", "Message": "1 validation error detected: Value null at 'name' failed to "
        "satisfy constraint: Member must not be null", "Status": 400}
    assert error_of(lambda: unchecked.put_targets(Rule=rule, Targets=[{"Id": "x"}]))["Message"] == (
        "1 validation error detected: Value null at 'targets.1.member.arn' failed to satisfy constraint: "
        "Member must not be null")
    cron = events.put_rule(Name=rule, ScheduleExpression="cron(0 12 ? * MON-FRI *)", State="DISABLED")
    assert cron["RuleArn"].endswith(f":rule/{rule}")
    assert events.describe_rule(Name=rule)["ScheduleExpression"] == "cron(0 12 ? * MON-FRI *)"
    events.delete_rule(Name=rule)


def test_targets(events: Any) -> None:
    rule = name("rule")
    events.put_rule(Name=rule, EventPattern='{"source": ["x"]}')
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
    targets = [
        {"Id": "plain", "Arn": fn},
        {"Id": "input", "Arn": fn, "Input": '{"a": 1}'},
        {"Id": "path", "Arn": fn, "InputPath": "$.detail", "RetryPolicy": {"MaximumRetryAttempts": 3,
                                                                            "MaximumEventAgeInSeconds": 120}},
        {"Id": "transform", "Arn": fn, "InputTransformer": {"InputPathsMap": {"s": "$.source"},
                                                            "InputTemplate": '"from <s>"'}},
    ]
    assert events.put_targets(Rule=rule, Targets=targets)["FailedEntryCount"] == 0
    listed = events.list_targets_by_rule(Rule=rule)
    assert listed["Targets"] == targets
    page = events.list_targets_by_rule(Rule=rule, Limit=3)
    rest = events.list_targets_by_rule(Rule=rule, Limit=3, NextToken=page["NextToken"])
    assert page["Targets"] + rest["Targets"] == targets
    assert events.list_rule_names_by_target(TargetArn=fn)["RuleNames"].count(rule) == 1
    # replacing a target keeps its place
    events.put_targets(Rule=rule, Targets=[{"Id": "input", "Arn": fn, "Input": '{"a": 2}'}])
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]] == ["plain", "input", "path", "transform"]
    assert error_of(lambda: events.put_targets(Rule=rule, Targets=[{"Id": f"n{i}", "Arn": fn} for i in range(2)])) == {
        "Code": "LimitExceededException", "Message": "The requested resource exceeds the maximum number allowed.",
        "Status": 400}
    assert error_of(lambda: events.put_targets(Rule=rule, Targets=[
        {"Id": "two", "Arn": fn, "Input": "{}", "InputPath": "$.detail"}])) == {
        "Code": "ValidationException",
        "Message": "Only one of Input, InputPath, or InputTransformer must be provided for target two.", "Status": 400}
    assert error_of(lambda: events.put_targets(Rule=rule, Targets=[
        {"Id": "tpl", "Arn": fn, "InputTransformer": {"InputPathsMap": {"a": "$.source"},
                                                      "InputTemplate": '"<a> <notdefinedkey>"'}}])) == {
        "Code": "ValidationException",
        "Message": "InputTemplate for target tpl contains invalid placeholder notdefinedkey.", "Status": 400}
    assert error_of(lambda: events.put_targets(Rule=rule, Targets=[{"Id": "arn", "Arn": "not-an-arn"}])) == {
        "Code": "ValidationException",
        "Message": "Parameter not-an-arn is not valid. Reason: Provided Arn is not in correct format.", "Status": 400}
    assert error_of(lambda: events.put_targets(Rule=rule, Targets=[
        {"Id": "fifo", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q.fifo"}])) == {
        "Code": "ValidationException", "Message": "Parameter(s) SqsParameters must be specified for FIFO queues.",
        "Status": 400}
    assert error_of(lambda: events.put_targets(Rule=rule, Targets=[{"Id": "!@#$@!#$", "Arn": fn}])) == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value '!@#$@!#$' at 'targets.1.member.id' failed to satisfy "
                   "constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", "Status": 400}
    assert error_of(lambda: events.put_targets(Rule="nope-" + rule, Targets=[{"Id": "a", "Arn": fn}])) == {
        "Code": "ResourceNotFoundException", "Message": f"Rule nope-{rule} does not exist on EventBus default.",
        "Status": 400}
    removed = events.remove_targets(Rule=rule, Ids=["plain", "input", "path", "transform"])
    assert (removed["FailedEntryCount"], removed["FailedEntries"]) == (0, [])
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == []
    events.delete_rule(Name=rule)


def test_put_events_entries(events: Any) -> None:
    good = {"Source": "my.app", "DetailType": "Thing", "Detail": '{"a": 1}'}
    response = events.put_events(Entries=[
        good,
        {"DetailType": "Thing", "Detail": "{}"},
        {"Source": "my.app", "Detail": "{}"},
        {"Source": "my.app", "DetailType": "Thing"},
        {**good, "Detail": '"a string"'},
        {**good, "Detail": "[1, 2]"},
        {**good, "Detail": "{not json"},
        {**good, "Source": "aws.s3"},
        {**good, "EventBusName": "no-such-bus", "Time": dt.datetime(2024, 1, 1, tzinfo=UTC), "Resources": ["r"]},
    ])
    entries = response["Entries"]
    assert response["FailedEntryCount"] == 7
    assert uuid.UUID(entries[0]["EventId"]) and uuid.UUID(entries[8]["EventId"])
    assert entries[1:8] == [
        {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."},
        {"ErrorCode": "InvalidArgument",
         "ErrorMessage": "Parameter DetailType is not valid. Reason: DetailType is a required argument."},
        {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Detail is not valid. Reason: Detail is a required argument."},
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
        {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."},
    ]
    too_big = {**good, "Detail": json.dumps({"x": "y" * (256 * 1024)})}
    assert error_of(lambda: events.put_events(Entries=[too_big])) == {
        "Code": "ValidationException", "Message": "Total size of the entries in the request is over the limit.",
        "Status": 400}
    eleven = error_of(lambda: events.put_events(Entries=[good] * 11))
    assert eleven["Code"] == "ValidationException"
    assert eleven["Message"].startswith("1 validation error detected: Value '[PutEventsRequestEntry(time=null, "
                                        "source=my.app, resources=null, detailType=Thing, detail={\"a\": 1}, ")
    assert eleven["Message"].endswith("' at 'entries' failed to satisfy constraint: "
                                      "Member must have length less than or equal to 10")


def test_test_event_pattern(events: Any) -> None:
    event = json.dumps(ev({"state": "running"}))
    assert events.test_event_pattern(EventPattern='{"detail": {"state": ["running"]}}', Event=event)["Result"] is True
    assert events.test_event_pattern(EventPattern='{"detail": {"state": ["stopped"]}}', Event=event)["Result"] is False
    assert error_of(lambda: events.test_event_pattern(EventPattern='{"resources": []}', Event=event)) == {
        "Code": "InvalidEventPatternException",
        "Message": REASON + "Empty arrays are not allowed" + loc('{"resources": []}', 17), "Status": 400}
    assert error_of(lambda: events.test_event_pattern(EventPattern='{"a": ["b"]}', Event="plain string")) == {
        "Code": "ValidationException", "Message": "Parameter Event is not valid.", "Status": 400}
    assert error_of(lambda: events.test_event_pattern(EventPattern='{"a": ["b"]}', Event='{"a": "b"}')) == {
        "Code": "ValidationException", "Message": "Parameter Event is not valid.", "Status": 400}


def test_tags(events: Any) -> None:
    bus = name("bus")
    bus_arn = events.create_event_bus(Name=bus, Tags=[{"Key": "a", "Value": "1"}])["EventBusArn"]
    rule_arn = events.put_rule(Name=name("rule"), EventPattern='{"a": [1]}')["RuleArn"]
    for arn in (bus_arn, rule_arn, DEFAULT_BUS_ARN):
        events.tag_resource(ResourceARN=arn, Tags=[{"Key": "tag1", "Value": "value1"}, {"Key": "tag2", "Value": "value2"}])
        events.untag_resource(ResourceARN=arn, TagKeys=["tag2"])
        tags = events.list_tags_for_resource(ResourceARN=arn)["Tags"]
        assert {"Key": "tag1", "Value": "value1"} in tags and {"Key": "tag2", "Value": "value2"} not in tags
    assert events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"] == [
        {"Key": "a", "Value": "1"}, {"Key": "tag1", "Value": "value1"}]
    missing = rule_arn + "-missing"
    assert error_of(lambda: events.list_tags_for_resource(ResourceARN=missing))["Code"] == "ResourceNotFoundException"


def test_aws_cli(events: Any, aws_cli: AwsCli) -> None:
    rule = name("cli")
    calls = [
        ("events", "put-rule", "--name", rule, "--event-pattern", '{"source": ["cli.app"]}'),
        ("events", "put-events", "--entries", json.dumps([{"Source": "cli.app", "DetailType": "t", "Detail": "{}"}])),
        ("events", "describe-rule", "--name", rule + "-nope"),
    ]
    with ThreadPoolExecutor(len(calls)) as pool:  # each CLI start costs seconds of CPU: run them together
        put, sent, failed = pool.map(lambda a: aws_cli(*a, check=False), calls)
    assert json.loads(put.stdout) == {"RuleArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"}
    assert [r["Name"] for r in events.list_rules(NamePrefix=rule)["Rules"]] == [rule]
    out = json.loads(sent.stdout)
    assert out["FailedEntryCount"] == 0 and uuid.UUID(out["Entries"][0]["EventId"])
    assert failed.returncode != 0
    assert f"(ResourceNotFoundException) when calling the DescribeRule operation: Rule {rule}-nope does not exist " \
           "on EventBus default." in failed.stderr
    events.delete_rule(Name=rule)


# -- delivery --------------------------------------------------------------------------------

def read_marks(path: Path) -> list[Any]:
    return read_jsonl(path)


def wait_marks(path: Path, n: int, timeout: float = 20.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = read_marks(path)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"expected {n} deliveries, got {read_marks(path)}")


def settle(endpoint: str, rule_arns: list[str], fn_arn: str) -> None:
    """Wait until the rules have no target delivery left to make (`sluice status`) and the
    function has no event left to run: whatever they were going to deliver has arrived."""
    function = fn_arn.rsplit(":", 1)[-1]

    def settled() -> bool:
        with urllib.request.urlopen(f"{endpoint}/_sluice/status", timeout=10) as r:
            body = json.load(r)
        pending = [b for b in body["eventBridge"] if b["rule"] in rule_arns]
        busy = [f for f in body["functions"] if f["name"] == function and (f["queued"] or f["inFlight"])]
        return not pending and not busy

    assert wait_for(settled, timeout=30), "deliveries still under way after 30 s"


def recording_function(lam: Any, tmp_path: Path) -> tuple[str, Path]:
    marks = tmp_path / f"marks-{uuid.uuid4().hex[:6]}.jsonl"
    fn = create(lam, RECORDING_HANDLER, Environment={"Variables": {"MARKS": str(marks)}})
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    return arn, marks


def check_envelope(event: dict[str, Any], source: str, detail_type: str, detail: Any) -> None:
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
                           "detail"]
    assert (event["version"], event["detail-type"], event["source"], event["account"], event["region"]) == (
        "0", detail_type, source, ACCOUNT, REGION)
    assert uuid.UUID(event["id"])
    assert dt.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert event["detail"] == detail


def test_put_events_to_lambda_with_inputs(events: Any, lam: Any, endpoint: str, tmp_path: Path) -> None:
    fn_arn, marks = recording_function(lam, tmp_path)
    rule = name("rule")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["shop"], "detail": {"total": [{"numeric": [">", 10]}]}}))["RuleArn"]
    events.put_targets(Rule=rule, Targets=[
        {"Id": "plain", "Arn": fn_arn},
        {"Id": "input", "Arn": fn_arn, "Input": '{"constant": true}'},
        {"Id": "path", "Arn": fn_arn, "InputPath": "$.detail"},
        {"Id": "json", "Arn": fn_arn, "InputTransformer": {
            "InputPathsMap": {"order": "$.detail.order", "total": "$.detail.total", "nothing": "$.detail.nope"},
            "InputTemplate": '{"kind": "json", "order": <order>, "total": <total>, "nothing": <nothing>, '
                             '"rule": <aws.events.rule-name>, "text": "order <order> of <total>"}'}},
        {"Id": "string", "Arn": fn_arn, "InputTransformer": {
            "InputPathsMap": {"order": "$.detail.order"}, "InputTemplate": '"Order <order> placed"'}},
    ])
    detail = {"order": "o-1", "total": 42}
    sent = events.put_events(Entries=[
        {"Source": "shop", "DetailType": "Order Placed", "Detail": json.dumps(detail), "Resources": ["arn:aws:x:::y"]},
        {"Source": "shop", "DetailType": "Order Placed", "Detail": json.dumps({"order": "small", "total": 5})},
        {"Source": "other", "DetailType": "Order Placed", "Detail": json.dumps(detail)},
    ])
    assert sent["FailedEntryCount"] == 0
    wait_marks(marks, 5)
    settle(endpoint, [rule_arn], fn_arn)
    got = read_marks(marks)
    assert len(got) == 5  # only the first entry matched, once per target
    plain = next(g for g in got if isinstance(g, dict) and "detail-type" in g)
    check_envelope(plain, "shop", "Order Placed", detail)
    assert plain["id"] == sent["Entries"][0]["EventId"] and plain["resources"] == ["arn:aws:x:::y"]
    assert {"constant": True} in got
    assert detail in got
    assert {"kind": "json", "order": "o-1", "total": 42, "nothing": "", "rule": rule, "text": "order o-1 of 42"} in got
    assert "Order o-1 placed" in got
    assert rule_arn.endswith(rule)
    events.remove_targets(Rule=rule, Ids=["plain", "input", "path", "json", "string"])
    events.delete_rule(Name=rule)


def test_bus_to_bus(events: Any, lam: Any, endpoint: str, tmp_path: Path) -> None:
    fn_arn, marks = recording_function(lam, tmp_path)
    bus = name("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    forward, final = name("fwd"), name("final")
    forward_arn = events.put_rule(Name=forward, EventPattern='{"source": ["relay"]}')["RuleArn"]
    events.put_targets(Rule=forward, Targets=[{"Id": "bus", "Arn": bus_arn}])
    final_arn = events.put_rule(Name=final, EventBusName=bus, EventPattern='{"detail-type": ["Hop"]}')["RuleArn"]
    events.put_targets(Rule=final, EventBusName=bus, Targets=[{"Id": "fn", "Arn": fn_arn}])
    disabled = events.put_rule(Name=name("disabled"), EventBusName=bus, EventPattern='{"detail-type": ["Hop"]}',
                               State="DISABLED")["RuleArn"]
    sent = events.put_events(Entries=[{"Source": "relay", "DetailType": "Hop", "Detail": '{"n": 1}', "Resources": ["r1"]}])
    got = wait_marks(marks, 1)
    check_envelope(got[0], "relay", "Hop", {"n": 1})
    assert got[0]["resources"] == ["r1"]
    assert got[0]["id"] == sent["Entries"][0]["EventId"]  # the same event, on the next bus
    # directly on the custom bus, by name and by ARN
    events.put_events(Entries=[{"Source": "direct", "DetailType": "Hop", "Detail": "{}", "EventBusName": bus},
                               {"Source": "arn", "DetailType": "Hop", "Detail": "{}", "EventBusName": bus_arn}])
    got = wait_marks(marks, 3)
    assert sorted(g["source"] for g in got) == ["arn", "direct", "relay"]
    # a disabled rule delivers nothing
    events.disable_rule(Name=final, EventBusName=bus)
    events.put_events(Entries=[{"Source": "direct", "DetailType": "Hop", "Detail": "{}", "EventBusName": bus}])
    settle(endpoint, [forward_arn, final_arn, disabled], fn_arn)
    assert len(read_marks(marks)) == 3


def test_sqs_targets(events: Any, endpoint: str) -> None:
    sqs = make_client("sqs", endpoint)
    queue = sqs.create_queue(QueueName=name("q"))["QueueUrl"]
    fifo = sqs.create_queue(QueueName=name("q") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq = sqs.create_queue(QueueName=name("dlq"))["QueueUrl"]

    def arn(url: str) -> str:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    rule = name("rule")
    rule_arn = events.put_rule(Name=rule, EventPattern='{"source": ["to.sqs"]}')["RuleArn"]
    missing_fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name('missing')}"
    events.put_targets(Rule=rule, Targets=[
        {"Id": "q", "Arn": arn(queue)},
        {"Id": "fifo", "Arn": arn(fifo), "SqsParameters": {"MessageGroupId": "g1"}, "InputPath": "$.detail"},
        {"Id": "gone", "Arn": missing_fn, "DeadLetterConfig": {"Arn": arn(dlq)}},
    ])
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    events.put_events(Entries=[{"Source": "to.sqs", "DetailType": "T", "Detail": '{"k": "v"}', "TraceHeader": trace}])

    def receive(url: str, **kw: Any) -> dict[str, Any]:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, MaxNumberOfMessages=1, **kw)["Messages"]
        return got[0]

    message = receive(queue, MessageSystemAttributeNames=["AWSTraceHeader"])
    check_envelope(json.loads(message["Body"]), "to.sqs", "T", {"k": "v"})
    assert message["Attributes"]["AWSTraceHeader"] == trace
    fifo_message = receive(fifo, MessageSystemAttributeNames=["MessageGroupId"])
    assert json.loads(fifo_message["Body"]) == {"k": "v"}
    assert fifo_message["Attributes"]["MessageGroupId"] == "g1"
    dead = receive(dlq, MessageAttributeNames=["All"])
    assert json.loads(dead["Body"])["detail"] == {"k": "v"}
    attrs = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attrs["RULE_ARN"] == rule_arn and attrs["TARGET_ARN"] == missing_fn
    assert attrs["ERROR_CODE"] == "NO_RESOURCE" and attrs["RETRY_ATTEMPTS"] == "0"


def test_sns_target(events: Any, lam: Any, endpoint: str, tmp_path: Path) -> None:
    sns = make_client("sns", endpoint)
    fn_arn, marks = recording_function(lam, tmp_path)
    topic = sns.create_topic(Name=name("topic"))["TopicArn"]
    lam.add_permission(FunctionName=fn_arn, StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    rule = name("rule")
    events.put_rule(Name=rule, EventPattern='{"source": ["to.sns"]}')
    events.put_targets(Rule=rule, Targets=[{"Id": "topic", "Arn": topic}])
    events.put_events(Entries=[{"Source": "to.sns", "DetailType": "T", "Detail": '{"via": "sns"}'}])
    record = wait_marks(marks, 1)[0]["Records"][0]
    assert record["EventSource"] == "aws:sns" and record["Sns"]["TopicArn"] == topic
    check_envelope(json.loads(record["Sns"]["Message"]), "to.sns", "T", {"via": "sns"})


# -- a private server on a fast clock: schedules and crashes ----------------------------------

SCALE = 600


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    server = SluiceProcess(tmp_path_factory.mktemp("events-fast") / "data", "--time-scale", str(SCALE)).start()
    yield server
    server.stop()


def test_schedule_fires_on_the_scaled_clock(fast: SluiceProcess, tmp_path: Path) -> None:
    events = make_client("events", fast.endpoint)
    lam = make_client("lambda", fast.endpoint)
    fn_arn, marks = recording_function(lam, tmp_path)
    rule = name("tick")
    rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": fn_arn}])
    # 60 s / 600 = 0.1 s apart: four fires within 10 s (at scale 1 they would take four minutes).
    # When exactly each fire happens, and that a disabled rule fires no more, test_events_engine.py
    # checks on a manual clock.
    got = wait_marks(marks, 4, timeout=10)
    first = got[0]
    check_envelope(first, "aws.events", "Scheduled Event", {})
    assert first["resources"] == [rule_arn]
    assert len({g["id"] for g in got}) == len(got)
    events.disable_rule(Name=rule)
    settle(fast.endpoint, [rule_arn], fn_arn)
    events.remove_targets(Rule=rule, Ids=["fn"])
    events.delete_rule(Name=rule)


def test_sigkill_after_put_events_still_delivers(fast: SluiceProcess, tmp_path: Path) -> None:
    events = make_client("events", fast.endpoint)
    lam = make_client("lambda", fast.endpoint)
    fn_arn, marks = recording_function(lam, tmp_path)
    rule = name("durable")
    rule_arn = events.put_rule(Name=rule, EventPattern='{"source": ["durable"]}')["RuleArn"]
    events.put_targets(Rule=rule, Targets=[
        {"Id": f"t{i}", "Arn": fn_arn, "InputTransformer": {
            "InputPathsMap": {"id": "$.id"}, "InputTemplate": f'{{"target": "t{i}", "id": <id>}}'}}
        for i in range(3)])
    ids: list[str] = []
    for batch in range(3):
        sent = events.put_events(Entries=[{"Source": "durable", "DetailType": "D", "Detail": json.dumps({"b": batch})}] * 10)
        assert sent["FailedEntryCount"] == 0
        ids += [e["EventId"] for e in sent["Entries"]]
    fast.kill()  # right after the last PutEvents answered
    # The server is down: its store is the only witness that the crash cut EventBridge's work short.
    with contextlib.closing(sqlite3.connect(f"file:{fast.data_dir / 'sluice.db'}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        assert pending_deliveries(db) > 0  # work the crash interrupted, waiting in the outbox
    fast.start()
    expected = {(f"t{i}", event_id) for i in range(3) for event_id in ids}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = {(m["target"], m["id"]) for m in read_marks(marks)}
        if seen >= expected:
            break
        time.sleep(0.1)
    assert seen == expected  # every (event, target) at least once
    settle(fast.endpoint, [rule_arn], fn_arn)  # and nothing left to deliver
