"""CloudWatch metrics through boto3 (json, and smithy-rpc-v2-cbor as newer SDKs speak it), the
query protocol of older clients, and the real AWS CLI."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlencode

import boto3
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

from sluice.protocol.models import service_model

from .conftest import REGION, make_client
from .lambda_helpers import create

UTC = dt.timezone.utc


def cbor_client(endpoint: str) -> Any:
    """boto3 speaking smithy-rpc-v2-cbor to CloudWatch: the model offers it first; botocore 1.44
    still prefers json, so this client is given a model that lists only CBOR."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    load = loader.load_service_model

    def cbor_only(service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = load(service_name, type_name, api_version)
        if service_name == "cloudwatch" and type_name == "service-2":
            model = copy.deepcopy(model)
            model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
        return model

    loader.load_service_model = cbor_only
    client = boto3.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    assert client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    return client


@pytest.fixture(scope="module", params=["json", "cbor"])
def cw(request: pytest.FixtureRequest, endpoint: str) -> Any:
    return make_client("cloudwatch", endpoint) if request.param == "json" else cbor_client(endpoint)


def ns() -> str:
    return f"Test/{uuid.uuid4().hex[:8]}"


def minute_ago(minutes: int) -> dt.datetime:
    """A minute boundary `minutes` before the current minute."""
    now = time.time()
    return dt.datetime.fromtimestamp(now // 60 * 60 - 60 * minutes, tz=UTC)


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_every_statistic_and_percentile_of_one_period(cw: Any) -> None:
    space = ns()
    dims = [{"Name": "Host", "Value": "a"}]
    base = minute_ago(10)
    cw.put_metric_data(Namespace=space, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Value": v, "Unit": "Milliseconds",
         "Timestamp": base + dt.timedelta(seconds=5 + i)} for i, v in enumerate([4, 1, 10, 3, 2])])
    got = cw.get_metric_statistics(Namespace=space, MetricName="Latency", Dimensions=dims, StartTime=base,
                                   EndTime=base + dt.timedelta(minutes=1), Period=60,
                                   Statistics=["Sum", "Average", "Minimum", "Maximum", "SampleCount"])
    assert got["Label"] == "Latency"
    [point] = got["Datapoints"]
    assert point["Timestamp"] == base
    assert (point["Sum"], point["Average"], point["Minimum"], point["Maximum"], point["SampleCount"]) == (
        20, 4, 1, 10, 5)
    assert point["Unit"] == "Milliseconds"
    got = cw.get_metric_statistics(Namespace=space, MetricName="Latency", Dimensions=dims, StartTime=base,
                                   EndTime=base + dt.timedelta(minutes=1), Period=60,
                                   ExtendedStatistics=["p0", "p20", "p40", "p50", "p90", "p99.9"])
    # Exact nearest rank over 1, 2, 3, 4, 10.
    assert got["Datapoints"][0]["ExtendedStatistics"] == {"p0": 1, "p20": 1, "p40": 2, "p50": 3, "p90": 10,
                                                          "p99.9": 10}
    result = cw.get_metric_data(
        MetricDataQueries=[{"Id": f"q{i}", "MetricStat": {"Metric": {"Namespace": space, "MetricName": "Latency",
                                                                      "Dimensions": dims},
                                                           "Period": 60, "Stat": stat}}
                           for i, stat in enumerate(["p50", "p90", "Average", "SampleCount"])],
        StartTime=base, EndTime=base + dt.timedelta(minutes=1))["MetricDataResults"]
    assert [r["Values"] for r in result] == [[3], [10], [4], [5]]
    assert all(r["Timestamps"] == [base] and r["StatusCode"] == "Complete" for r in result)


def test_values_counts_and_statistic_sets(cw: Any) -> None:
    space = ns()
    base = minute_ago(8)
    cw.put_metric_data(Namespace=space, MetricData=[
        {"MetricName": "Size", "Values": [1, 5, 9], "Counts": [1, 2, 1], "Timestamp": base},
        {"MetricName": "Size", "StatisticValues": {"SampleCount": 4, "Sum": 20, "Minimum": 2, "Maximum": 8},
         "Timestamp": base + dt.timedelta(seconds=30)},
    ])
    [point] = cw.get_metric_statistics(Namespace=space, MetricName="Size", StartTime=base,
                                       EndTime=base + dt.timedelta(minutes=1), Period=60,
                                       Statistics=["Sum", "SampleCount", "Minimum", "Maximum", "Average"]
                                       )["Datapoints"]
    assert (point["Sum"], point["SampleCount"], point["Minimum"], point["Maximum"], point["Average"]) == (
        40, 8, 1, 9, 5)
    # Weighted values give exact percentiles; a statistic set (Minimum != Maximum) has none.
    start = base - dt.timedelta(minutes=1)
    cw.put_metric_data(Namespace=space, MetricData=[
        {"MetricName": "Weighted", "Values": [1, 5, 9], "Counts": [1, 2, 1], "Timestamp": start}])
    [point] = cw.get_metric_statistics(Namespace=space, MetricName="Weighted", StartTime=start,
                                       EndTime=base, Period=60, ExtendedStatistics=["p50", "p75", "p100"]
                                       )["Datapoints"]
    assert point["ExtendedStatistics"] == {"p50": 5, "p75": 5, "p100": 9}
    [point] = cw.get_metric_statistics(Namespace=space, MetricName="Size", StartTime=base,
                                       EndTime=base + dt.timedelta(minutes=1), Period=60,
                                       ExtendedStatistics=["p50"])["Datapoints"]
    assert "ExtendedStatistics" not in point


def test_periods_bucket_from_the_start_time(cw: Any) -> None:
    space = ns()
    base = minute_ago(12)
    offsets_values = [(5, 1), (65, 2), (70, 3), (190, 4)]
    cw.put_metric_data(Namespace=space, MetricData=[
        {"MetricName": "Hits", "Value": v, "Timestamp": base + dt.timedelta(seconds=s)} for s, v in offsets_values])

    def sums(period: int, scan: str = "TimestampAscending") -> list[tuple[dt.datetime, float]]:
        [r] = cw.get_metric_data(MetricDataQueries=[{"Id": "m", "Label": "hits", "MetricStat": {
            "Metric": {"Namespace": space, "MetricName": "Hits"}, "Period": period, "Stat": "Sum"}}],
            StartTime=base, EndTime=base + dt.timedelta(minutes=5), ScanBy=scan)["MetricDataResults"]
        assert r["Label"] == "hits"
        return list(zip(r["Timestamps"], r["Values"], strict=True))

    at = [base + dt.timedelta(seconds=s) for s in (0, 60, 120, 180)]
    assert sums(60) == [(at[0], 1), (at[1], 5), (at[3], 4)]
    assert sums(60, "TimestampDescending") == [(at[3], 4), (at[1], 5), (at[0], 1)]
    assert sums(120) == [(at[0], 6), (at[2], 4)]
    assert sums(300) == [(at[0], 10)]
    stats = cw.get_metric_statistics(Namespace=space, MetricName="Hits", StartTime=base,
                                     EndTime=base + dt.timedelta(minutes=5), Period=120, Statistics=["Maximum"])
    assert sorted((p["Timestamp"], p["Maximum"]) for p in stats["Datapoints"]) == [(at[0], 3), (at[2], 4)]
    # Data over three hours old is only served at periods that are multiples of a minute.
    old = minute_ago(240)
    cw.put_metric_data(Namespace=space, MetricData=[{"MetricName": "Old", "Value": 1, "Timestamp": old}])
    for period, found in ((30, 0), (60, 1)):
        stats = cw.get_metric_statistics(Namespace=space, MetricName="Old", StartTime=old,
                                         EndTime=old + dt.timedelta(minutes=1), Period=period, Statistics=["Sum"])
        assert len(stats["Datapoints"]) == found
    # High resolution: 10-second periods.
    cw.put_metric_data(Namespace=space, MetricData=[
        {"MetricName": "Fast", "Value": v, "StorageResolution": 1, "Timestamp": base + dt.timedelta(seconds=s)}
        for s, v in ((1, 1), (4, 2), (15, 7))])
    stats = cw.get_metric_statistics(Namespace=space, MetricName="Fast", StartTime=base,
                                     EndTime=base + dt.timedelta(seconds=30), Period=10, Statistics=["Sum"])
    assert sorted((p["Timestamp"], p["Sum"]) for p in stats["Datapoints"]) == [
        (base, 3), (base + dt.timedelta(seconds=10), 7)]


def test_max_datapoints_pages_with_next_token(cw: Any) -> None:
    space = ns()
    base = minute_ago(6)
    cw.put_metric_data(Namespace=space, MetricData=[
        {"MetricName": "N", "Value": i, "Timestamp": base + dt.timedelta(minutes=i)} for i in range(5)])
    query = [{"Id": "n", "MetricStat": {"Metric": {"Namespace": space, "MetricName": "N"}, "Period": 60,
                                        "Stat": "Maximum"}}]
    kwargs = {"MetricDataQueries": query, "StartTime": base, "EndTime": base + dt.timedelta(minutes=5),
              "ScanBy": "TimestampAscending", "MaxDatapoints": 2}
    values = []
    token = None
    while True:
        page = cw.get_metric_data(**kwargs, **({"NextToken": token} if token else {}))
        values += page["MetricDataResults"][0]["Values"]
        token = page.get("NextToken")
        if not token:
            assert page["MetricDataResults"][0]["StatusCode"] == "Complete"
            break
        assert page["MetricDataResults"][0]["StatusCode"] == "PartialData"
    assert values == [0, 1, 2, 3, 4]


def test_a_query_matches_exactly_its_dimension_set_and_list_metrics_filters(cw: Any) -> None:
    space = ns()
    base = minute_ago(3)
    sets = [[], [{"Name": "A", "Value": "1"}], [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}]]
    cw.put_metric_data(Namespace=space, MetricData=[
        {"MetricName": "Req", "Value": 10 ** i, "Dimensions": d, "Timestamp": base} for i, d in enumerate(sets)])
    for i, d in enumerate(sets):
        [p] = cw.get_metric_statistics(Namespace=space, MetricName="Req", Dimensions=list(reversed(d)),
                                       StartTime=base, EndTime=base + dt.timedelta(minutes=1), Period=60,
                                       Statistics=["Sum"])["Datapoints"]
        assert p["Sum"] == 10 ** i
    none = cw.get_metric_statistics(Namespace=space, MetricName="Req", Dimensions=[{"Name": "B", "Value": "2"}],
                                    StartTime=base, EndTime=base + dt.timedelta(minutes=1), Period=60,
                                    Statistics=["Sum"])
    assert none["Datapoints"] == []

    def listed(**kw: Any) -> list[list[tuple[str, str]]]:
        metrics = cw.list_metrics(Namespace=space, **kw)["Metrics"]
        assert all(m["MetricName"] == "Req" and m["Namespace"] == space for m in metrics)
        return sorted([sorted((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in metrics])

    assert listed() == [[], [("A", "1")], [("A", "1"), ("B", "2")]]
    assert listed(Dimensions=[{"Name": "A"}]) == [[("A", "1")], [("A", "1"), ("B", "2")]]
    assert listed(Dimensions=[{"Name": "B", "Value": "2"}]) == [[("A", "1"), ("B", "2")]]
    assert listed(Dimensions=[{"Name": "B", "Value": "3"}]) == []
    assert listed(MetricName="Other") == []
    assert len(listed(RecentlyActive="PT3H")) == 3


def test_list_metrics_pages_by_500(cw: Any) -> None:
    space = ns()
    for chunk in range(2):
        cw.put_metric_data(Namespace=space, MetricData=[
            {"MetricName": f"m{chunk}-{i:03d}", "Value": 1} for i in range(300)])
    first = cw.list_metrics(Namespace=space)
    assert len(first["Metrics"]) == 500
    second = cw.list_metrics(Namespace=space, NextToken=first["NextToken"])
    assert len(second["Metrics"]) == 100 and "NextToken" not in second
    names = {m["MetricName"] for m in first["Metrics"] + second["Metrics"]}
    assert len(names) == 600


def test_lambda_metrics_are_published_under_aws_dimension_sets(endpoint: str, cw: Any) -> None:
    lam: Any = make_client("lambda", endpoint)
    fn = create(lam, "def handler(event, context):\n    return 1\n")
    lam.invoke(FunctionName=fn, Payload=b"{}")
    start, end = minute_ago(2), minute_ago(-2)

    def invocations(dims: list[dict[str, str]]) -> float:
        points = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=dims,
                                          StartTime=start, EndTime=end, Period=240, Statistics=["Sum"])["Datapoints"]
        return sum(p["Sum"] for p in points)

    by_name = [{"Name": "FunctionName", "Value": fn}]
    deadline = time.monotonic() + 10
    while invocations(by_name) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)  # points are committed just after the invocation returns
    assert invocations(by_name) == 1
    assert invocations([*by_name, {"Name": "Resource", "Value": fn}]) == 1
    assert invocations([]) >= 1  # account-wide
    assert invocations([{"Name": "Resource", "Value": fn}]) == 0  # not a published set
    listed = cw.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations",
                             Dimensions=[{"Name": "FunctionName", "Value": fn}])["Metrics"]
    assert sorted(sorted(d["Name"] for d in m["Dimensions"]) for m in listed) == [
        ["FunctionName"], ["FunctionName", "Resource"]]


@pytest.mark.parametrize(("data", "code", "message"), [
    ([{"MetricName": "m", "Value": 1, "Values": [1]}], "InvalidParameterCombination",
     "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive and you "
     "have specified both."),
    ([{"MetricName": "m", "Values": [1, 2], "Counts": [1]}], "InvalidParameterValue",
     "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size."),
    ([{"MetricName": "m", "Values": list(range(151))}], "InvalidParameterValue",
     "The collection MetricData.member.1.Values must not have a size greater than 150."),
    ([{"MetricName": "m", "Value": 1, "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)]}],
     "InvalidParameterValue", "The collection MetricData.member.1.Dimensions must not have a size greater than 30."),
    ([{"MetricName": "m", "Value": i} for i in range(1001)], "InvalidParameterValue",
     "The collection MetricData must not have a size greater than 1000."),
    ([{"MetricName": "m", "Value": 1, "Timestamp": dt.datetime(2020, 1, 1, tzinfo=UTC)}], "InvalidParameterValue",
     "The parameter MetricData.member.1.Timestamp must specify a time no more than two weeks in the past."),
    ([{"MetricName": "m", "Value": 1e200}], "InvalidParameterValue",
     "The value 1e+200 for parameter MetricData.member.1.Value is invalid."),
])
def test_put_metric_data_validation(cw: Any, data: list[dict[str, Any]], code: str, message: str) -> None:
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace=ns(), MetricData=data)
    assert error(exc) == (code, message)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_reserved_namespace_and_missing_parameters(cw: Any) -> None:
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "m", "Value": 1}])
    assert error(exc) == ("InvalidParameterValue", "The value AWS/Lambda for parameter Namespace is invalid.")
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.put_metric_data(Namespace=ns(), MetricData=[{"MetricName": "m", "Value": 1, "Unit": "Parsecs"}])


def test_get_metric_statistics_rules(cw: Any) -> None:
    now = dt.datetime.now(UTC)
    common = {"Namespace": ns(), "MetricName": "m"}
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(**common, StartTime=now - dt.timedelta(days=1), EndTime=now, Period=1,
                                 Statistics=["Sum"])
    assert error(exc) == ("InvalidParameterCombination",
                          "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may "
                          "reduce the datapoints requested by increasing Period, or decreasing the time range.")
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(**common, StartTime=now - dt.timedelta(hours=1), EndTime=now, Period=61,
                                 Statistics=["Sum"])
    assert error(exc) == ("InvalidParameterValue", "The parameter Period must be 1, 5, 10, 20, 30, or a multiple of 60.")
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(**common, StartTime=now - dt.timedelta(hours=1), EndTime=now, Period=60,
                                 Statistics=["Median"])
    assert error(exc) == ("InvalidParameterValue", "The parameter Statistics.member.1 must be a value in the set "
                                                   "[ SampleCount, Average, Sum, Minimum, Maximum ].")
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(**common, StartTime=now, EndTime=now - dt.timedelta(hours=1), Period=60,
                                 Statistics=["Sum"])
    assert error(exc) == ("InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime.")


def test_get_metric_data_rules(cw: Any) -> None:
    now = dt.datetime.now(UTC)
    stat = {"Metric": {"Namespace": "X", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}
    window = {"StartTime": now - dt.timedelta(hours=1), "EndTime": now}
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=[{"Id": "e1", "Expression": "SUM(METRICS())"}], **window)
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    assert "does not support metric math" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=[{"Id": "Bad-Id", "MetricStat": stat}], **window)
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=[{"Id": "a", "MetricStat": stat}, {"Id": "a", "MetricStat": stat}],
                           **window)
    assert error(exc) == ("ValidationError", "The values for parameter id in MetricDataQueries are not unique.")
    with pytest.raises(ClientError) as exc:
        cw.get_metric_data(MetricDataQueries=[{"Id": "a", "MetricStat": stat}], NextToken="garbage", **window)
    assert exc.value.response["Error"]["Code"] == "InvalidNextToken"
    hidden = cw.get_metric_data(MetricDataQueries=[{"Id": "a", "MetricStat": stat, "ReturnData": False}], **window)
    assert hidden["MetricDataResults"] == []


def query_call(endpoint: str, action: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A form-encoded query request (older SDKs), signed with botocore, parsed by botocore."""
    from botocore.serialize import create_serializer

    model = service_model("cloudwatch")
    op = model.operation_model(action)
    wire = create_serializer("query", include_validation=False).serialize_to_request(params, op)
    body = urlencode(wire["body"], doseq=True)
    request = AWSRequest("POST", endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials("test", "test"), "monitoring", REGION).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=body.encode(), headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(req) as resp:
            status, raw, headers = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        status, raw, headers = err.code, err.read(), dict(err.headers)
    parsed = create_parser("query").parse({"body": raw, "headers": headers, "status_code": status},
                                          op.output_shape if status == 200 else None)
    return status, parsed


def test_query_protocol_for_older_clients(endpoint: str) -> None:
    space = ns()
    base = minute_ago(4)
    status, _ = query_call(endpoint, "PutMetricData", {"Namespace": space, "MetricData": [
        {"MetricName": "q", "Value": 2.5, "Timestamp": base, "Dimensions": [{"Name": "K", "Value": "v"}]},
        {"MetricName": "q", "Values": [1.0, 3.0], "Counts": [2.0, 1.0], "Timestamp": base,
         "Dimensions": [{"Name": "K", "Value": "v"}]}]})
    assert status == 200
    status, got = query_call(endpoint, "GetMetricStatistics", {
        "Namespace": space, "MetricName": "q", "Dimensions": [{"Name": "K", "Value": "v"}], "StartTime": base,
        "EndTime": base + dt.timedelta(minutes=1), "Period": 60, "Statistics": ["Sum", "SampleCount"]})
    assert status == 200
    [point] = got["Datapoints"]
    assert (point["Sum"], point["SampleCount"], point["Timestamp"]) == (7.5, 4.0, base)
    status, got = query_call(endpoint, "ListMetrics", {"Namespace": space})
    assert got["Metrics"] == [{"Namespace": space, "MetricName": "q", "Dimensions": [{"Name": "K", "Value": "v"}]}]
    status, got = query_call(endpoint, "PutMetricData", {"Namespace": "AWS/EC2", "MetricData": [
        {"MetricName": "q", "Value": 1}]})
    assert status == 400
    assert got["Error"]["Code"] == "InvalidParameterValue"
    assert got["Error"]["Message"] == "The value AWS/EC2 for parameter Namespace is invalid."
    status, _ = query_call(endpoint, "PutMetricAlarm", {
        "AlarmName": f"q-{space[-8:]}", "MetricName": "q", "Namespace": space, "Statistic": "Sum", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 1.5, "ComparisonOperator": "GreaterThanThreshold",
        "Dimensions": [{"Name": "K", "Value": "v"}], "OKActions": ["arn:aws:sns:us-east-1:000000000000:t"]})
    assert status == 200
    status, got = query_call(endpoint, "DescribeAlarms", {"AlarmNames": [f"q-{space[-8:]}"]})
    [alarm] = got["MetricAlarms"]
    assert (alarm["Threshold"], alarm["StateValue"], alarm["OKActions"], alarm["Dimensions"]) == (
        1.5, "INSUFFICIENT_DATA", ["arn:aws:sns:us-east-1:000000000000:t"], [{"Name": "K", "Value": "v"}])
    assert isinstance(alarm["AlarmConfigurationUpdatedTimestamp"], dt.datetime)
    # No client-side validation here: the server's own MissingParameter.
    status, got = query_call(endpoint, "PutMetricData", {"Namespace": space, "MetricData": [
        {"MetricName": "q", "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1}}]})
    assert (status, got["Error"]["Code"], got["Error"]["Message"]) == (
        400, "MissingParameter", "The parameter MetricData.member.1.StatisticValues.Maximum is required.")


def test_aws_cli_put_metric_data_and_get_metric_statistics(aws_cli: Any) -> None:
    space = ns()
    base = minute_ago(5)
    stamp = base.strftime("%Y-%m-%dT%H:%M:%SZ")
    for value in ("24", "36"):
        aws_cli("cloudwatch", "put-metric-data", "--namespace", space, "--metric-name", "Latency",
                "--unit", "Milliseconds", "--value", value, "--dimensions", "Host=a,Env=prod",
                "--timestamp", stamp)
    aws_cli("cloudwatch", "put-metric-data", "--namespace", space, "--metric-name", "Latency",
            "--unit", "Milliseconds", "--statistic-values", "SampleCount=2,Sum=30,Minimum=10,Maximum=20",
            "--dimensions", "Host=a,Env=prod", "--timestamp", stamp)
    out = aws_cli("cloudwatch", "get-metric-statistics", "--namespace", space, "--metric-name", "Latency",
                  "--dimensions", "Name=Host,Value=a", "Name=Env,Value=prod",
                  "--statistics", "Sum", "Average", "Minimum", "Maximum", "SampleCount",
                  "--start-time", stamp, "--end-time", (base + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "--period", "60", "--output", "json").stdout
    [point] = json.loads(out)["Datapoints"]
    assert (point["Sum"], point["Average"], point["Minimum"], point["Maximum"], point["SampleCount"]) == (
        90, 22.5, 10, 36, 4)
    assert point["Unit"] == "Milliseconds"
    listed = json.loads(aws_cli("cloudwatch", "list-metrics", "--namespace", space, "--output", "json").stdout)
    assert listed["Metrics"][0]["Dimensions"] == [{"Name": "Env", "Value": "prod"}, {"Name": "Host", "Value": "a"}]
    bad = aws_cli("cloudwatch", "put-metric-data", "--namespace", "AWS/S3", "--metric-name", "x", "--value", "1",
                  check=False)
    assert bad.returncode != 0
    assert "InvalidParameterValue" in bad.stderr


def test_aws_cli_alarm_commands(aws_cli: Any) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    aws_cli("cloudwatch", "put-metric-alarm", "--alarm-name", name, "--namespace", "MyApp", "--metric-name", "Errors",
            "--statistic", "Sum", "--period", "60", "--evaluation-periods", "1", "--threshold", "0",
            "--comparison-operator", "GreaterThanThreshold", "--treat-missing-data", "notBreaching",
            "--dimensions", "Name=Service,Value=api")
    aws_cli("cloudwatch", "set-alarm-state", "--alarm-name", name, "--state-value", "ALARM",
            "--state-reason", "manual test")
    described = json.loads(aws_cli("cloudwatch", "describe-alarms", "--alarm-names", name, "--output", "json").stdout)
    [alarm] = described["MetricAlarms"]
    assert alarm["TreatMissingData"] == "notBreaching"
    # As on AWS, the next evaluation (at least every 10 s) may already have put the alarm back
    # to OK (no data, notBreaching): the manual change is read from the history.
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "manual test") or alarm["StateValue"] == "OK"
    history = json.loads(aws_cli("cloudwatch", "describe-alarm-history", "--alarm-name", name,
                                 "--history-item-type", "StateUpdate", "--output", "json").stdout)
    manual = [h for h in history["AlarmHistoryItems"]
              if json.loads(h["HistoryData"])["newState"].get("stateReason") == "manual test"]
    assert len(manual) == 1 and manual[0]["HistorySummary"].endswith(" to ALARM")
    aws_cli("cloudwatch", "delete-alarms", "--alarm-names", name)
    described = json.loads(aws_cli("cloudwatch", "describe-alarms", "--alarm-names", name, "--output", "json").stdout)
    assert described["MetricAlarms"] == []
