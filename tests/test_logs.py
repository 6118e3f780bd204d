"""CloudWatch Logs: boto3 and the AWS CLI against a real server, the filter patterns as pure
functions, the in-process `append` API on a temporary store, and `sluice logs`.

Every response is checked for AWS's exact field names, error codes and messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sluice.clock import ManualClock
from sluice.protocol.context import RequestContext
from sluice.protocol.errors import ServiceError
from sluice.schema import SCHEMA
from sluice.services.logs.patterns import PatternError, compile_pattern, split_fields
from sluice.services.logs.service import LogsService
from sluice.store import Store
from sluice.tools import logs_tail as tail

from .conftest import AwsCli, make_client

ACCOUNT = "000000000000"
REGION = "us-east-1"
DAY_MS = 86_400_000
RETENTION_VALUES = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                    2922, 3288, 3653]
TOKEN = re.compile(r"^[fb]/\d{56}/s$")
EVENT_ID = re.compile(r"^\d{56}$")
SEQUENCE_TOKEN = re.compile(r"^\d{56}$")


@pytest.fixture(scope="module")
def logs(endpoint: str) -> Any:
    return make_client("logs", endpoint)


def new_name(prefix: str = "/sluice/test") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def group(logs: Any) -> str:
    name = new_name()
    logs.create_log_group(logGroupName=name)
    return name


def now_ms() -> int:
    return int(time.time() * 1000)


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    r = exc.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def body(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


GROUP_MISSING = ("ResourceNotFoundException", "The specified log group does not exist.", 400)
STREAM_MISSING = ("ResourceNotFoundException", "The specified log stream does not exist.", 400)


# -- filter patterns, as pure functions ----------------------------------------------------------

APACHE_404 = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
APACHE_200 = '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 200 5324'
CLOUDTRAIL = json.dumps({
    "eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111", "arrayKey": ["value", "another value"],
    "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "SomeObject": None, "ThisFlag": True,
    "latency": 150, "coordinates": [[0, 1, 2], [4, 5, 6]], "user": {"id": 1, "email": "John.Stiles@example.com"},
})

PATTERN_TABLE = [
    # unstructured terms: substrings, case-sensitive, all must appear
    ("", "anything at all", True),
    ("ERROR", "[ERROR] A fatal exception has occurred", True),
    ("ERROR", "Exiting with ERRORCODE: -1", True),
    ("ERROR", "error in lower case", False),
    ("ERROR Exception", "[ERROR] Caught IllegalArgumentException", True),
    ("ERROR Exception", "[ERROR] Caught nothing", False),
    # exclusion
    ("ERROR -Exiting", "Exiting with ERRORCODE: -1", False),
    ("ERROR -Exiting", "[ERROR] A fatal exception has occurred", True),
    ('"ERROR" - "Exiting"', "Exiting with ERRORCODE: -1", False),
    ('-"fatal exception"', "[ERROR] A fatal exception has occurred", False),
    # exact phrases
    ('"Failed to process the request"', "[WARN] Failed to process the request", True),
    ('"Failed to process the request"', "[WARN] Failed to process a request", False),
    ("Failed to process the request", "the request: Failed to process", True),
    # any of (?)
    ("?ERROR ?WARN", "ERROR WARN message", True),
    ("?ERROR ?WARN", "WARN message", True),
    ("?ERROR ?WARN", "INFO message", False),
    ('?"not found" ?timeout', "request timeout after 3 s", True),
    # regex
    ("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST", True),
    ("%^\\[SUCCESS%", "[ERROR 401] UNAUTHORIZED REQUEST", False),
    ("%colou?r%", "the color red", True),
    ("%ERROR [0-9]{3}%", "[ERROR 401] UNAUTHORIZED REQUEST", True),
    # JSON: equality, wildcards, arrays, nesting
    ('{ $.eventType = "UpdateTrail" }', CLOUDTRAIL, True),
    ("{ $.eventType = UpdateTrail }", CLOUDTRAIL, True),
    ('{ $.eventType = "CreateTrail" }', CLOUDTRAIL, False),
    ("{ $.eventType = Update* }", CLOUDTRAIL, True),
    ("{ $.eventType = *Trail }", CLOUDTRAIL, True),
    ("{ $.eventType = *dateTr* }", CLOUDTRAIL, True),
    ("{ $.eventType = Up*Trail }", CLOUDTRAIL, False),  # an inner * is literal, as AWS documents
    ("{ $.sourceIPAddress != 123.123.* }", CLOUDTRAIL, True),
    ("{ $.sourceIPAddress = 111.111.* }", CLOUDTRAIL, True),
    ('{ $.arrayKey[0] = "value" }', CLOUDTRAIL, True),
    ('{ $.arrayKey[1] = "value" }', CLOUDTRAIL, False),
    ("{ $.objectList[1].id = 2 }", CLOUDTRAIL, True),
    ("{ $.coordinates[1][2] = 6 }", CLOUDTRAIL, True),
    ("{ $.missing = anything }", CLOUDTRAIL, False),
    ("{ $.missing != anything }", CLOUDTRAIL, False),
    ("{ $.objectList = 1 }", CLOUDTRAIL, False),  # a selector must reach a value, not an array
    ("{ $.objectList != 1 }", CLOUDTRAIL, False),
    ("{ $.eventType = %^Update.*% }", CLOUDTRAIL, True),
    # JSON: numbers
    ("{ $.latency > 100 }", CLOUDTRAIL, True),
    ("{ $.latency < 100 }", CLOUDTRAIL, False),
    ("{ $.latency >= 150 }", CLOUDTRAIL, True),
    ("{ $.latency <= 149.5 }", CLOUDTRAIL, False),
    ("{ $.latency = 150 }", CLOUDTRAIL, True),
    ("{ $.latency = 1.5e2 }", CLOUDTRAIL, True),
    ("{ $.latency != 150 }", CLOUDTRAIL, False),
    ("{ $.latency > +100 }", CLOUDTRAIL, True),
    ("{ $.latency>100 }", CLOUDTRAIL, True),
    # JSON: NULL, EXISTS, booleans
    ("{ $.SomeObject IS NULL }", CLOUDTRAIL, True),
    ("{ $.eventType IS NULL }", CLOUDTRAIL, False),
    ("{ $.SomeOtherObject NOT EXISTS }", CLOUDTRAIL, True),
    ("{ $.SomeObject NOT EXISTS }", CLOUDTRAIL, False),
    ("{ $.ThisFlag IS TRUE }", CLOUDTRAIL, True),
    ("{ $.ThisFlag IS FALSE }", CLOUDTRAIL, False),
    # JSON: && binds tighter than ||, parentheses
    ('{ ($.user.id = 1) && ($.objectList[0].name = "a") }', CLOUDTRAIL, True),
    ('{ ($.user.id = 2 && $.arrayKey[0] = "nonmatch") || $.arrayKey[1] = "value" }', CLOUDTRAIL, False),
    ('{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.arrayKey[1] = x }',
     CLOUDTRAIL, True),
    ('{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.arrayKey[1] = x }',
     CLOUDTRAIL, False),
    # JSON patterns never match text that is not JSON
    ('{ $.eventType = "UpdateTrail" }', "eventType UpdateTrail", False),
    # space-delimited
    ("[ip, user, username, timestamp, request, status_code, bytes]", APACHE_404, True),
    ("[ip, user, username, timestamp, request, status_code]", APACHE_404, False),  # field count differs
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", APACHE_404, True),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", APACHE_200, False),
    ("[ip, user, username, timestamp, request, status_code = 200, bytes > 5000]", APACHE_200, True),
    ("[ip, user, username, timestamp, request, status_code, bytes > 5000]", APACHE_404, False),
    ("[ip, user, username, timestamp, request = *html*, status_code, bytes]", APACHE_404, True),
    ("[..., status_code, bytes]", APACHE_404, True),
    ("[ip, user, ..., status_code != 404, bytes]", APACHE_404, False),
    ("[ip, user, ...]", APACHE_404, True),
    ('[ip = "127.0.0.1", ...]', APACHE_404, True),
    ("[w1=ERROR || w1=WARN, w2]", "WARN message", True),
    ("[w1=ERROR || w1=WARN, w2]", "INFO message", False),
    ("[w1=ERROR, w2]", "ERROR WARN message", False),
    ("[..., status_code = 4* && status_code != 403, bytes]", APACHE_404, True),
    ("[..., code = %^40[0-9]$%, bytes]", APACHE_404, True),
]


@pytest.mark.parametrize(("pattern", "message", "expected"), PATTERN_TABLE)
def test_pattern_table(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(message) is expected


@pytest.mark.parametrize("pattern", [
    '"unterminated', "{ $.a = }", "{ $.a", "{ a = 1 }", "{}", "{ $.a IS MAYBE }", "{ $.a NOT THERE }",
    "{ ($.a = 1 }", "{ $.a = 1 ) }", "{ $.a > abc }", "{ $.a = 1 && }", "[a, b", "[]", "[a = ]", "%(a|b)%",
    "%unterminated", "-", "{ $.a = 1 } }",
])
def test_unparseable_patterns(pattern: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(pattern)


def test_space_delimited_fields_and_extracted_values() -> None:
    assert split_fields(APACHE_404) == [
        "127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700", "GET /index.html HTTP/1.0", "404", "1534"]
    # AWS's own example: named fields come out as $name, the others by position.
    assert compile_pattern("[..., request=*.html*, status_code=4*,]").extract(APACHE_404) == {
        "$1": "127.0.0.1", "$2": "-", "$3": "frank", "$4": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0", "$status_code": "404", "$7": "1534",
    }
    assert compile_pattern("ERROR").extract("no") is None
    assert compile_pattern("ERROR").extract("ERROR") == {}


# -- log groups ----------------------------------------------------------------------------------

def test_log_group_lifecycle(logs: Any) -> None:
    name = new_name()
    before = now_ms()
    assert body(logs.create_log_group(logGroupName=name)) == {}
    after = now_ms()
    assert error_of(logs.create_log_group, logGroupName=name) == (
        "ResourceAlreadyExistsException", "The specified log group already exists", 400)
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert len(groups) == 1
    g = groups[0]
    assert before <= g["creationTime"] <= after
    assert g == {
        "logGroupName": name,
        "creationTime": g["creationTime"],
        "metricFilterCount": 0,
        "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
        "storedBytes": 0,
        "logGroupClass": "STANDARD",
        "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}",
    }
    assert body(logs.delete_log_group(logGroupName=name)) == {}
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    assert error_of(logs.delete_log_group, logGroupName=name) == GROUP_MISSING


def test_log_group_name_rules(logs: Any) -> None:
    code, message, status = error_of(logs.create_log_group, logGroupName="bad name")
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == ("1 validation error detected: Value 'bad name' at 'logGroupName' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")
    fine = new_name("/a.b-c_d#e")
    logs.create_log_group(logGroupName=fine, kmsKeyId="arn:aws:kms:us-east-1:000000000000:key/k",
                          logGroupClass="INFREQUENT_ACCESS")
    g = logs.describe_log_groups(logGroupNamePrefix=fine)["logGroups"][0]
    assert g["kmsKeyId"] == "arn:aws:kms:us-east-1:000000000000:key/k"
    assert g["logGroupClass"] == "INFREQUENT_ACCESS"


def test_describe_log_groups_prefix_pattern_and_pages(logs: Any) -> None:
    base = new_name("/pages")
    names = [f"{base}/{i:02d}" for i in range(7)]
    for n in reversed(names):
        logs.create_log_group(logGroupName=n)
    seen, token = [], None
    while True:
        kwargs: dict[str, Any] = {"logGroupNamePrefix": base, "limit": 3}
        if token:
            kwargs["nextToken"] = token
        page = logs.describe_log_groups(**kwargs)
        assert len(page["logGroups"]) <= 3
        seen += [g["logGroupName"] for g in page["logGroups"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names  # sorted by name, each once
    # A case-sensitive substring search that answers only arn, creationTime and logGroupName.
    middle = base.split("/")[-1]
    found = logs.describe_log_groups(logGroupNamePattern=middle)["logGroups"]
    assert [g["logGroupName"] for g in found] == names
    assert set(found[0]) == {"logGroupName", "creationTime", "arn"}
    assert logs.describe_log_groups(logGroupNamePattern=middle.upper())["logGroups"] == []
    assert error_of(logs.describe_log_groups, logGroupNamePrefix=base, logGroupNamePattern=middle) == (
        "InvalidParameterException",
        "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.", 400)
    # By identifiers (names or ARNs).
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{names[3]}"
    found = logs.describe_log_groups(logGroupIdentifiers=[names[1], arn])["logGroups"]
    assert [g["logGroupName"] for g in found] == [names[1], names[3]]


def test_retention_policy(logs: Any, group: str) -> None:
    for days in (1, 3653):
        assert body(logs.put_retention_policy(logGroupName=group, retentionInDays=days)) == {}
        assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == days
    for bad in (0, 2, 4000):
        assert error_of(logs.put_retention_policy, logGroupName=group, retentionInDays=bad) == (
            "InvalidParameterException",
            f"1 validation error detected: Value '{bad}' at 'retentionInDays' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(map(str, RETENTION_VALUES))}]", 400)
    assert body(logs.delete_retention_policy(logGroupName=group)) == {}
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    missing = new_name()
    assert error_of(logs.put_retention_policy, logGroupName=missing, retentionInDays=7) == GROUP_MISSING
    assert error_of(logs.delete_retention_policy, logGroupName=missing) == GROUP_MISSING


def test_deletion_protection(logs: Any) -> None:
    name = new_name()
    logs.create_log_group(logGroupName=name, deletionProtectionEnabled=True)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["deletionProtectionEnabled"] is True
    refused = ("ValidationException",
               "Cannot delete log group with deletion protection enabled. Disable deletion protection first.", 400)
    assert error_of(logs.delete_log_group, logGroupName=name) == refused
    assert error_of(logs.delete_log_stream, logGroupName=name, logStreamName="s") == refused
    logs.put_log_group_deletion_protection(logGroupIdentifier=name, deletionProtectionEnabled=False)
    assert "deletionProtectionEnabled" not in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
    logs.delete_log_group(logGroupName=name)


# -- log streams ---------------------------------------------------------------------------------

def test_log_stream_lifecycle(logs: Any, group: str) -> None:
    before = now_ms()
    assert body(logs.create_log_stream(logGroupName=group, logStreamName="2025/01/01/[$LATEST]abc")) == {}
    assert error_of(logs.create_log_stream, logGroupName=group, logStreamName="2025/01/01/[$LATEST]abc") == (
        "ResourceAlreadyExistsException", "The specified log stream already exists", 400)
    assert error_of(logs.create_log_stream, logGroupName=new_name(), logStreamName="s") == GROUP_MISSING
    code, message, _ = error_of(logs.create_log_stream, logGroupName=group, logStreamName="a:b")
    assert code == "InvalidParameterException"
    assert message.endswith("Member must satisfy regular expression pattern: [^:*]*")
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert before <= stream["creationTime"] <= now_ms()
    assert stream == {  # no event yet: no event times, no upload token
        "logStreamName": "2025/01/01/[$LATEST]abc",
        "creationTime": stream["creationTime"],
        "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:2025/01/01/[$LATEST]abc",
        "storedBytes": 0,
    }
    t = now_ms()
    put = logs.put_log_events(logGroupName=group, logStreamName="2025/01/01/[$LATEST]abc",
                              logEvents=[{"timestamp": t - 5, "message": "one"}, {"timestamp": t, "message": "two"}])
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert stream["firstEventTimestamp"] == t - 5
    assert stream["lastEventTimestamp"] == t
    assert t <= stream["lastIngestionTime"] <= now_ms()
    assert stream["uploadSequenceToken"] == put["nextSequenceToken"]
    assert stream["storedBytes"] == 0  # as AWS reports it now
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] == 6
    assert body(logs.delete_log_stream(logGroupName=group, logStreamName="2025/01/01/[$LATEST]abc")) == {}
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    assert error_of(logs.delete_log_stream, logGroupName=group, logStreamName="nope") == STREAM_MISSING
    assert error_of(logs.delete_log_stream, logGroupName=new_name(), logStreamName="nope") == GROUP_MISSING
    assert error_of(logs.describe_log_streams, logGroupName=new_name()) == GROUP_MISSING


def test_describe_log_streams_order_prefix_pages(logs: Any, group: str) -> None:
    t = now_ms()
    # Names in one order, last events in another.
    for name, offset in (("b", 30), ("a", 10), ("c", 20), ("x-1", 0), ("x-2", 0)):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        if name in "abc":
            logs.put_log_events(logGroupName=group, logStreamName=name,
                                logEvents=[{"timestamp": t - 1000 + offset, "message": name}])

    def names(**kw: Any) -> list[str]:
        return [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, **kw)["logStreams"]]

    assert names() == ["a", "b", "c", "x-1", "x-2"]
    assert names(descending=True) == ["x-2", "x-1", "c", "b", "a"]
    assert names(logStreamNamePrefix="x-") == ["x-1", "x-2"]
    assert names(orderBy="LastEventTime", descending=True)[:3] == ["b", "c", "a"]
    assert names(orderBy="LastEventTime")[-3:] == ["a", "c", "b"]
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]][0] == "a"
    assert error_of(logs.describe_log_streams, logGroupName=group, orderBy="LastEventTime",
                    logStreamNamePrefix="x") == (
        "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.", 400)
    pages, token = [], None
    while True:
        kw: dict[str, Any] = {"logGroupName": group, "limit": 2}
        if token:
            kw["nextToken"] = token
        page = logs.describe_log_streams(**kw)
        pages.append([s["logStreamName"] for s in page["logStreams"]])
        token = page.get("nextToken")
        if not token:
            break
    assert pages == [["a", "b"], ["c", "x-1"], ["x-2"]]


# -- events in ------------------------------------------------------------------------------------

def test_put_log_events_validation(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    assert error_of(logs.put_log_events, logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t, "message": "later"}, {"timestamp": t - 1, "message": "earlier"}]) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.", 400)
    assert error_of(logs.put_log_events, logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - DAY_MS - 1, "message": "a"}, {"timestamp": t, "message": "b"}]) == (
        "InvalidParameterException",
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.", 400)
    big = "x" * 100_000
    events = [{"timestamp": t, "message": big} for _ in range(11)]
    total = 11 * (100_000 + 26)
    assert error_of(logs.put_log_events, logGroupName=group, logStreamName="s", logEvents=events) == (
        "InvalidParameterException", f"Upload too large: {total} bytes exceeds limit of 1048576", 400)
    # Exactly at the limit is accepted: the size is the UTF-8 message bytes plus 26 per event.
    quarter = "é" * ((1_048_576 // 4 - 26) // 2)  # 2 bytes each in UTF-8
    assert 4 * (len(quarter.encode()) + 26) == 1_048_576
    over = [{"timestamp": t, "message": m} for m in (quarter, quarter, quarter, quarter + "x")]
    assert error_of(logs.put_log_events, logGroupName=group, logStreamName="s", logEvents=over) == (
        "InvalidParameterException", "Upload too large: 1048577 bytes exceeds limit of 1048576", 400)
    fits = [{"timestamp": t, "message": quarter} for _ in range(4)]
    assert "nextSequenceToken" in logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=fits)
    assert error_of(logs.put_log_events, logGroupName=group, logStreamName="nope",
                    logEvents=[{"timestamp": t, "message": "m"}]) == STREAM_MISSING
    assert error_of(logs.put_log_events, logGroupName=new_name(), logStreamName="s",
                    logEvents=[{"timestamp": t, "message": "m"}]) == GROUP_MISSING


def test_put_log_events_rejects_too_old_and_too_new(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    first = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 15 * DAY_MS, "message": "too old"},
        {"timestamp": t - 15 * DAY_MS + 1, "message": "too old too"},
    ])
    # Every event rejected: AWS leaves the sequence token out.
    assert body(first) == {"rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 2}}
    second = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 1000, "message": "kept 1"},
        {"timestamp": t, "message": "kept 2"},
        {"timestamp": t + 3 * 3600_000, "message": "too new"},
    ])
    assert SEQUENCE_TOKEN.match(second["nextSequenceToken"])
    assert second["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 2}
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    third = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 2 * DAY_MS, "message": "expired"},
        {"timestamp": t - 1, "message": "kept 3"},
    ])
    assert third["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert third["nextSequenceToken"] != second["nextSequenceToken"]
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["kept 1", "kept 3", "kept 2"]


# -- events out -----------------------------------------------------------------------------------

def test_get_log_events_tokens(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms() - 60_000
    before = now_ms()
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": t + i * 10, "message": f"m{i}"} for i in range(10)])
    after = now_ms()

    def get(**kw: Any) -> dict[str, Any]:
        return logs.get_log_events(logGroupName=group, logStreamName="s", **kw)

    # Default: the newest events first page (in ascending order).
    newest = get(limit=3)
    assert [e["message"] for e in newest["events"]] == ["m7", "m8", "m9"]
    assert set(newest["events"][0]) == {"timestamp", "message", "ingestionTime"}
    assert newest["events"][0]["timestamp"] == t + 70
    assert before <= newest["events"][0]["ingestionTime"] <= after
    assert TOKEN.match(newest["nextForwardToken"]) and newest["nextForwardToken"].startswith("f/")
    assert TOKEN.match(newest["nextBackwardToken"]) and newest["nextBackwardToken"].startswith("b/")
    # Walk backwards to the head; at the end the same token comes back.
    back: list[str] = []
    seen: list[list[str]] = []
    token = newest["nextBackwardToken"]
    while True:
        page = get(nextToken=token, limit=3)
        seen.append([e["message"] for e in page["events"]])
        if page["nextBackwardToken"] == token:
            assert page["events"] == []
            break
        back = [e["message"] for e in page["events"]] + back
        token = page["nextBackwardToken"]
    assert back == [f"m{i}" for i in range(7)]
    assert seen == [["m4", "m5", "m6"], ["m1", "m2", "m3"], ["m0"], []]
    # Nothing newer than the tail: the forward token comes back unchanged.
    end = get(nextToken=newest["nextForwardToken"], startFromHead=True)
    assert end["events"] == [] and end["nextForwardToken"] == newest["nextForwardToken"]
    # From the head, forward, until the token repeats.
    page = get(startFromHead=True, limit=4)
    forward = [e["message"] for e in page["events"]]
    assert forward == ["m0", "m1", "m2", "m3"]
    token = page["nextForwardToken"]
    while True:
        page = get(nextToken=token, startFromHead=True, limit=4)
        if page["nextForwardToken"] == token:
            break
        forward += [e["message"] for e in page["events"]]
        token = page["nextForwardToken"]
    assert forward == [f"m{i}" for i in range(10)]
    # New events show up behind a forward token that had reached the end.
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": t + 100, "message": "m10"}])
    page = get(nextToken=token, startFromHead=True)
    assert [e["message"] for e in page["events"]] == ["m10"]
    # startTime inclusive, endTime exclusive.
    window = get(startTime=t + 20, endTime=t + 50, startFromHead=True)
    assert [e["message"] for e in window["events"]] == ["m2", "m3", "m4"]
    assert error_of(logs.get_log_events, logGroupName=group, logStreamName="nope") == STREAM_MISSING
    assert error_of(logs.get_log_events, logGroupName=new_name(), logStreamName="s") == GROUP_MISSING
    code, _, status = error_of(logs.get_log_events, logGroupName=group, logStreamName="s", nextToken="zzz")
    assert (code, status) == ("InvalidParameterException", 400)


def test_get_log_events_empty_stream(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="empty")
    page = logs.get_log_events(logGroupName=group, logStreamName="empty")
    assert body(page) == {"events": [], "nextForwardToken": "f/" + "0" * 56 + "/s",
                          "nextBackwardToken": "b/" + "0" * 56 + "/s"}


FILTER_MESSAGES = [
    "[ERROR] A fatal exception has occurred",
    "Exiting with ERRORCODE: -1",
    "[WARN] Failed to process the request",
    "[INFO] all good",
    json.dumps({"eventType": "UpdateTrail", "latency": 150, "user": {"id": 1, "name": "ann"}, "ok": True,
                "gone": None, "tags": ["a", "b"]}),
    json.dumps({"eventType": "CreateTrail", "latency": 50, "user": {"id": 2, "name": "bob"}, "ok": False,
                "tags": ["c"]}),
    APACHE_404,
    APACHE_200,
]

FILTER_TABLE = [
    ("", [0, 1, 2, 3, 4, 5, 6, 7]),
    ("ERROR", [0, 1]),
    ("ERROR -Exiting", [0]),
    ('"Failed to process"', [2]),
    ("?WARN ?INFO", [2, 3]),
    ("%^\\[[EW]%", [0, 2]),
    ('{ $.eventType = "UpdateTrail" }', [4]),
    ("{ $.eventType = *Trail }", [4, 5]),
    ('{ $.eventType != "UpdateTrail" }', [5]),
    ("{ $.latency > 100 }", [4]),
    ("{ $.latency <= 50 }", [5]),
    ('{ $.user.name = "ann" && $.latency >= 150 }', [4]),
    ("{ ($.user.id = 2) || ($.latency = 150) }", [4, 5]),
    ("{ $.gone IS NULL }", [4]),
    ("{ $.gone NOT EXISTS }", [5]),
    ("{ $.ok IS TRUE }", [4]),
    ("{ $.ok IS FALSE }", [5]),
    ('{ $.tags[1] = "b" }', [4]),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", [6]),
    ("[..., status_code = 200, bytes > 5000]", [7]),
    ("[ip, ..., request = *html*, status_code, bytes]", [6]),
]


@pytest.fixture(scope="module")
def filter_group(logs: Any) -> tuple[str, int]:
    name = new_name("/filter")
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="app/1")
    logs.create_log_stream(logGroupName=name, logStreamName="app/2")
    logs.create_log_stream(logGroupName=name, logStreamName="web")
    t = now_ms() - 10_000
    for i, message in enumerate(FILTER_MESSAGES):  # interleaved across streams, one ms apart
        stream = ["app/1", "app/2", "web"][i % 3]
        logs.put_log_events(logGroupName=name, logStreamName=stream,
                            logEvents=[{"timestamp": t + i, "message": message}])
    return name, t


def test_filter_log_events_patterns(logs: Any, filter_group: tuple[str, int]) -> None:
    name, t = filter_group
    for pattern, expected in FILTER_TABLE:
        events = logs.filter_log_events(logGroupName=name, filterPattern=pattern)["events"]
        assert [e["message"] for e in events] == [FILTER_MESSAGES[i] for i in expected], pattern
    assert error_of(logs.filter_log_events, logGroupName=name, filterPattern='{ $.a = ') == (
        "InvalidParameterException", "Invalid filter pattern", 400)


def test_filter_log_events_shape_streams_and_times(logs: Any, filter_group: tuple[str, int]) -> None:
    name, t = filter_group
    page = logs.filter_log_events(logGroupName=name)
    assert set(body(page)) == {"events", "searchedLogStreams"}
    first = page["events"][0]
    assert set(first) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert first["logStreamName"] == "app/1" and first["timestamp"] == t
    assert EVENT_ID.match(first["eventId"])
    assert len({e["eventId"] for e in page["events"]}) == len(FILTER_MESSAGES)
    streams = [e["logStreamName"] for e in page["events"]]
    assert streams == ["app/1", "app/2", "web"] * 2 + ["app/1", "app/2"]

    def messages(**kw: Any) -> list[int]:
        if "logGroupIdentifier" not in kw:
            kw["logGroupName"] = name
        events = logs.filter_log_events(**kw)["events"]
        return [FILTER_MESSAGES.index(e["message"]) for e in events]

    assert messages(logStreamNames=["web"]) == [2, 5]
    assert messages(logStreamNames=["web", "app/2", "missing"]) == [1, 2, 4, 5, 7]
    assert messages(logStreamNamePrefix="app/") == [0, 1, 3, 4, 6, 7]
    assert messages(startTime=t + 2, endTime=t + 4) == [2, 3, 4]  # both ends inclusive
    assert messages(startFromHead=False) == [7, 6, 5, 4, 3, 2, 1, 0]  # newest first
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
    assert messages(logGroupIdentifier=arn, filterPattern="ERROR") == [0, 1]
    assert error_of(logs.filter_log_events, logGroupName=name, logStreamNames=["web"],
                    logStreamNamePrefix="app") == (
        "InvalidParameterException", "Cannot specify both logStreamNames and logStreamNamePrefix.", 400)
    assert error_of(logs.filter_log_events, logGroupName=new_name()) == GROUP_MISSING


def test_filter_log_events_pages(logs: Any, filter_group: tuple[str, int]) -> None:
    name, _ = filter_group
    for descending in (False, True):
        got, token, pages = [], None, 0
        while True:
            kw: dict[str, Any] = {"logGroupName": name, "limit": 3, "filterPattern": "-INFO"}
            if descending:
                kw["startFromHead"] = False
            if token:
                kw["nextToken"] = token
            page = logs.filter_log_events(**kw)
            assert len(page["events"]) <= 3
            got += [FILTER_MESSAGES.index(e["message"]) for e in page["events"]]
            pages += 1
            token = page.get("nextToken")
            if not token:
                break
        expected = [0, 1, 2, 4, 5, 6, 7]
        assert got == (expected[::-1] if descending else expected)
        assert pages == 3  # 3 + 3 + 1, and no empty page at the end


def test_retention_hides_old_events(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 3 * DAY_MS, "message": "three days old"},
        {"timestamp": t - 3 * DAY_MS + 1, "message": "also old"},
    ])
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": t, "message": "fresh"}])

    def visible() -> tuple[list[str], list[str]]:
        got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
        filtered = logs.filter_log_events(logGroupName=group)["events"]
        return [e["message"] for e in got], [e["message"] for e in filtered]

    everything = ["three days old", "also old", "fresh"]
    assert visible() == (everything, everything)
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    assert visible() == (["fresh"], ["fresh"])
    logs.put_retention_policy(logGroupName=group, retentionInDays=5)
    assert visible() == (everything, everything)
    logs.delete_retention_policy(logGroupName=group)
    assert visible() == (everything, everything)


def test_test_metric_filter(logs: Any) -> None:
    result = logs.test_metric_filter(filterPattern="[ip, user, username, timestamp, request, status_code = 4*, bytes]",
                                     logEventMessages=[APACHE_200, APACHE_404])
    assert result["matches"] == [{
        "eventNumber": 2, "eventMessage": APACHE_404,
        "extractedValues": {"$ip": "127.0.0.1", "$user": "-", "$username": "frank",
                            "$timestamp": "10/Oct/2000:13:25:15 -0700", "$request": "GET /index.html HTTP/1.0",
                            "$status_code": "404", "$bytes": "1534"},
    }]
    assert error_of(logs.test_metric_filter, filterPattern="{ $.x", logEventMessages=["m"]) == (
        "InvalidParameterException", "Invalid filter pattern", 400)


# -- tags -----------------------------------------------------------------------------------------

def test_tags(logs: Any) -> None:
    name = new_name()
    logs.create_log_group(logGroupName=name, tags={"team": "data"})
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    assert body(logs.list_tags_for_resource(resourceArn=arn)) == {"tags": {"team": "data"}}
    assert body(logs.tag_resource(resourceArn=arn, tags={"env": "dev", "team": "platform"})) == {}
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "platform", "env": "dev"}
    assert logs.list_tags_for_resource(resourceArn=arn + ":*")["tags"] == {"team": "platform", "env": "dev"}
    assert body(logs.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])) == {}
    assert body(logs.list_tags_log_group(logGroupName=name)) == {"tags": {"env": "dev"}}
    assert body(logs.tag_log_group(logGroupName=name, tags={"k": "v"})) == {}
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {"env": "dev", "k": "v"}
    assert body(logs.untag_log_group(logGroupName=name, tags=["env"])) == {}
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"k": "v"}
    code, _, status = error_of(logs.tag_resource, resourceArn=arn, tags={f"t{i}": "v" for i in range(50)})
    assert (code, status) == ("TooManyTagsException", 400)
    missing = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{new_name()}"
    assert error_of(logs.list_tags_for_resource, resourceArn=missing) == GROUP_MISSING
    assert error_of(logs.tag_resource, resourceArn=missing, tags={"a": "b"}) == GROUP_MISSING
    assert error_of(logs.list_tags_log_group, logGroupName=new_name()) == GROUP_MISSING


# -- the AWS CLI ----------------------------------------------------------------------------------

def test_aws_cli(logs: Any, aws_cli: AwsCli) -> None:
    name = new_name("/cli")
    logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(logGroupName=name, retentionInDays=7)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    t = now_ms()
    logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=[
        {"timestamp": t, "message": "hello"}, {"timestamp": t + 1, "message": "ERROR boom"}])
    calls = [
        ("logs", "describe-log-groups", "--log-group-name-prefix", name),
        ("logs", "get-log-events", "--log-group-name", name, "--log-stream-name", "s", "--start-from-head"),
        ("logs", "filter-log-events", "--log-group-name", name, "--filter-pattern", "ERROR"),
    ]
    with ThreadPoolExecutor(len(calls)) as pool:
        described, got, filtered = pool.map(lambda a: aws_cli(*a, check=False), calls)
    assert described.returncode == 0, described.stderr
    groups = json.loads(described.stdout)["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"], g["arn"]) for g in groups] == [
        (name, 7, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*")]
    assert got.returncode == 0, got.stderr
    out = json.loads(got.stdout)
    assert [(e["timestamp"], e["message"]) for e in out["events"]] == [(t, "hello"), (t + 1, "ERROR boom")]
    assert TOKEN.match(out["nextForwardToken"]) and TOKEN.match(out["nextBackwardToken"])
    assert filtered.returncode == 0, filtered.stderr
    events = json.loads(filtered.stdout)["events"]
    assert [(e["logStreamName"], e["message"]) for e in events] == [("s", "ERROR boom")]


# -- `sluice logs` --------------------------------------------------------------------------------

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (.*)$")


def test_sluice_logs_prints_events(logs: Any, endpoint: str) -> None:
    fn = f"fn-{uuid.uuid4().hex[:8]}"
    group = f"/aws/lambda/{fn}"
    stream = "2025/01/01/[$LATEST]" + "0" * 32
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    t = now_ms() - 5000
    messages = ["START RequestId: 1 Version: $LATEST\n", "[INFO]\t2025-01-01T00:00:00.000Z\t1\thello\n",
                "END RequestId: 1\n"]
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(messages)])
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t - 3_600_000, "message": "an hour ago\n"}])
    proc = subprocess.run([sys.executable, "-m", "sluice", "logs", fn, "--endpoint", endpoint],
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3  # the default --since is 10m: the hour-old event is left out
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m.group(2), m.group(3)) for m in parsed if m] == [(stream, msg.rstrip("\n")) for msg in messages]
    first = parsed[0]
    assert first is not None
    assert first.group(1) == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t / 1000)) + f".{t % 1000:03d}Z"

    # The same command in process: a group name, a filter pattern, --since, a missing group.
    def run(*args: str, **kw: Any) -> tuple[int, list[str], str]:
        out, err = io.StringIO(), io.StringIO()
        code = tail.run(*args, endpoint=endpoint, out=out, err=err, **kw)
        return code, out.getvalue().splitlines(), err.getvalue()

    assert run(group, pattern="hello") == (0, [lines[1]], "")
    code, longer, _ = run(fn, since="2h")
    assert code == 0 and len(longer) == 4 and longer[0].endswith(" an hour ago")
    assert run(f"nope-{fn}") == (1, [], f"sluice logs: log group /aws/lambda/nope-{fn} does not exist\n")
    assert run(fn, since="yesterday") == (
        2, [], "sluice logs: invalid --since 'yesterday': use 10m, 2h, 1d or an ISO 8601 time\n")


def test_sluice_logs_since_parsing() -> None:
    now = 1_700_000_000.0
    assert tail.parse_since("10m", now) == 1_699_999_400_000
    assert tail.parse_since("1.5h", now) == 1_699_994_600_000
    assert tail.parse_since("2d", now) == 1_699_827_200_000
    assert tail.parse_since("1w", now) == 1_699_395_200_000
    assert tail.parse_since("2023-11-14T22:13:20Z", now) == 1_700_000_000_000
    assert tail.parse_since("2023-11-14T23:13:20+01:00", now) == 1_700_000_000_000
    assert tail.group_for("my-function") == "/aws/lambda/my-function"
    assert tail.group_for("/custom/group") == "/custom/group"


def test_sluice_logs_follow(logs: Any, endpoint: str) -> None:
    fn = f"follow-{uuid.uuid4().hex[:8]}"
    group = f"/aws/lambda/{fn}"
    proc = subprocess.Popen([sys.executable, "-m", "sluice", "logs", fn, "--follow", "--endpoint", endpoint],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    lines: queue.Queue[str] = queue.Queue()
    notes: queue.Queue[str] = queue.Queue()

    def pump(stream: Any, into: queue.Queue[str]) -> None:
        for line in stream:
            into.put(line.rstrip("\n"))

    for stream, into in ((proc.stdout, lines), (proc.stderr, notes)):
        threading.Thread(target=pump, args=(stream, into), daemon=True).start()

    def wait_for(n: int, timeout: float = 15.0, source: queue.Queue[str] = lines) -> list[str]:
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                got.append(source.get(timeout=0.2))
        return got

    try:
        # The group does not exist yet: --follow says so once, and waits for it.
        assert wait_for(1, source=notes) == [f"sluice logs: waiting for log group {group}"]
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="env-1")
        t = now_ms()
        logs.put_log_events(logGroupName=group, logStreamName="env-1",
                            logEvents=[{"timestamp": t, "message": "one"}, {"timestamp": t + 1, "message": "two"}])
        first = wait_for(2)
        assert [line.split(" ", 2)[2] for line in first] == ["one", "two"]
        # A late arrival stamped before the newest event already printed still shows, once.
        logs.create_log_stream(logGroupName=group, logStreamName="env-2")
        logs.put_log_events(logGroupName=group, logStreamName="env-2",
                            logEvents=[{"timestamp": t - 500, "message": "late"}])
        logs.put_log_events(logGroupName=group, logStreamName="env-1",
                            logEvents=[{"timestamp": t + 2, "message": "three"}])
        second = wait_for(2)
        assert sorted(line.split(" ", 2)[2] for line in second) == ["late", "three"]
        assert wait_for(1, timeout=1.5) == []  # nothing is printed twice
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert wait_for(1, timeout=0.5, source=notes) == []  # said once, and no traceback on Ctrl-C


# -- the internal API, in process -----------------------------------------------------------------

def ctx() -> RequestContext:
    return RequestContext(request_id="r", host_id="h", account_id=ACCOUNT, region=REGION, service="logs")


def call(service: LogsService, operation: str, **params: Any) -> Any:
    """An operation as the protocol layer calls it."""
    fn = service.operation(operation)
    assert fn is not None, operation
    return fn(ctx(), **params)


def test_append_in_process(tmp_path: Path) -> None:
    clock = ManualClock(start=1_800_000_000.0)
    store = Store(tmp_path / "data", SCHEMA)
    try:
        service = LogsService(store, clock)
        now = int(clock.now() * 1000)
        group, stream = "/aws/lambda/fn", "2027/01/15/[$LATEST]" + "a" * 32
        # Creates the group and the stream; tolerates events out of order.
        service.append(group, stream, [(now + 2, "c"), (now, "a"), (now + 1, "b")])
        service.append(group, stream, [])
        groups = call(service, "DescribeLogGroups", logGroupNamePrefix=group)["logGroups"]
        assert [(g["logGroupName"], g["creationTime"], g["storedBytes"]) for g in groups] == [(group, now, 3)]
        streams = call(service, "DescribeLogStreams", logGroupName=group)["logStreams"]
        assert [(s["logStreamName"], s["firstEventTimestamp"], s["lastEventTimestamp"]) for s in streams] == [
            (stream, now, now + 2)]
        got = call(service, "GetLogEvents", logGroupName=group, logStreamName=stream, startFromHead=True)
        assert [(e["timestamp"], e["message"], e["ingestionTime"]) for e in got["events"]] == [
            (now, "a", now), (now + 1, "b", now), (now + 2, "c", now)]
        # Old events are not rejected by the internal API; retention still hides them on read.
        service.append(group, "other", [(now - 3 * DAY_MS, "old")])
        assert [e["message"] for e in service.tail(group)] == ["old", "a", "b", "c"]
        assert [e["message"] for e in service.tail(group, stream_prefix="oth")] == ["old"]
        assert [e["message"] for e in service.tail(group, since_ms=now + 1)] == ["b", "c"]
        assert [e["message"] for e in service.tail(group, filter_pattern="?a ?c")] == ["a", "c"]
        assert service.tail("/aws/lambda/absent") == []
        call(service, "PutRetentionPolicy", logGroupName=group, retentionInDays=1)
        assert [e["message"] for e in service.tail(group)] == ["a", "b", "c"]
        asyncio.run(clock.advance(86_400 + 1))  # a day later, a, b and c expire too
        assert service.tail(group) == []
        assert call(service, "FilterLogEvents", logGroupName=group)["events"] == []
        # wait=False queues the write; the future says when it is durable.
        future = service.append(group, stream, [(int(clock.now() * 1000), "queued")], wait=False)
        assert future is not None
        future.result(timeout=10)
        assert [e["message"] for e in service.tail(group)] == ["queued"]
        # Regions and accounts are separate, as on AWS.
        service.append(group, stream, [(int(clock.now() * 1000), "elsewhere")], region="eu-west-1")
        assert [e["message"] for e in service.tail(group, region="eu-west-1")] == ["elsewhere"]
        with pytest.raises(ServiceError) as exc:
            call(service, "CreateLogGroup", logGroupName=group)
        assert (exc.value.code, exc.value.message) == (
            "ResourceAlreadyExistsException", "The specified log group already exists")
    finally:
        store.close()
    # Durable: a new store on the same directory sees everything.
    reopened = Store(tmp_path / "data", SCHEMA)
    try:
        service = LogsService(reopened, clock)
        assert [e["message"] for e in service.tail(group)] == ["queued"]
    finally:
        reopened.close()


def test_append_is_cheap(tmp_path: Path) -> None:
    """One transaction per call, shared fsyncs: many concurrent small appends finish quickly."""
    store = Store(tmp_path / "data", SCHEMA)
    try:
        service = LogsService(store, ManualClock(start=1_800_000_000.0))
        now = 1_800_000_000_000
        started = time.perf_counter()

        def invocation(i: int) -> None:
            service.append("/aws/lambda/busy", f"env-{i % 8}", [
                (now + i, f"START RequestId: {i} Version: $LATEST\n"),
                (now + i, f"[INFO]\t{i}\n"),
                (now + i, f"END RequestId: {i}\n"),
            ])

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(invocation, range(400)))
        elapsed = time.perf_counter() - started
        assert len(service.tail("/aws/lambda/busy")) == 1200
        assert elapsed < 10, f"400 appends took {elapsed:.1f}s"
    finally:
        store.close()
