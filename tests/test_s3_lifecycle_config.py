"""Bucket lifecycle configuration over the wire: Put/Get/Delete with boto3 and the AWS CLI, S3's
validation errors, and the x-amz-expiration header on writes and reads (a real `sluice up`)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

EXPIRATION = re.compile(r'^expiry-date="(\w{3}, \d\d \w{3} \d{4} 00:00:00 GMT)", rule-id="(.+)"$')


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"].get("Message", "")


def put(s3: Any, bucket: str, *rules: dict[str, Any]) -> Any:
    return s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)})


def refused(s3: Any, bucket: str, *rules: dict[str, Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        put(s3, bucket, *rules)
    return error(exc)


def test_put_get_delete_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error(exc) == (404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")
    assert exc.value.response["Error"]["BucketName"] == bucket

    rules: list[dict[str, Any]] = [
        {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
        {"ID": "tmp", "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "kind", "Value": "scratch"}],
                                         "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 1000}},
         "Status": "Disabled", "Expiration": {"Date": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)},
         "Transitions": [{"Days": 0, "StorageClass": "GLACIER"}]},
        {"ID": "markers", "Filter": {}, "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "legacy", "Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 1}},
    ]
    out = put(s3, bucket, *rules)
    assert out["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["Rules"] == rules
    assert got["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"

    assert s3.delete_bucket_lifecycle(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error(exc)[1] == "NoSuchLifecycleConfiguration"
    s3.delete_bucket_lifecycle(Bucket=bucket)  # nothing to delete is no error, as on S3


def test_a_rule_without_an_id_gets_one(s3: Any, bucket: str) -> None:
    put(s3, bucket, {"Prefix": "a/", "Status": "Enabled", "Expiration": {"Days": 31}},
        {"Prefix": "b/", "Status": "Enabled", "Expiration": {"Days": 120}})
    ids = [r["ID"] for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]]
    assert len(ids) == 2 and all(ids) and ids[0] != ids[1]


def test_no_such_bucket(s3: Any) -> None:
    for call in (lambda: put(s3, "no-such-bucket-lc", {"ID": "r", "Prefix": "", "Status": "Enabled",
                                                         "Expiration": {"Days": 1}}),
                 lambda: s3.get_bucket_lifecycle_configuration(Bucket="no-such-bucket-lc"),
                 lambda: s3.delete_bucket_lifecycle(Bucket="no-such-bucket-lc")):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[:2] == (404, "NoSuchBucket")


MALFORMED = (400, "MalformedXML",
             "The XML you provided was not well-formed or did not validate against our published schema")


@pytest.mark.parametrize("rule", [
    {"ID": "r", "Prefix": "", "Status": "enabled", "Expiration": {"Days": 1}},  # Status is case-sensitive
    {"ID": "r", "Status": "Enabled", "Expiration": {"Days": 1}},  # neither Prefix nor Filter
    {"ID": "r", "Prefix": "", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}},
    {"ID": "r", "Filter": {"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}}, "Status": "Enabled",
     "Expiration": {"Days": 1}},  # two filter members outside And
    {"ID": "r", "Prefix": "", "Status": "Enabled",
     "Expiration": {"Days": 1, "Date": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)}},
    {"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1, "ExpiredObjectDeleteMarker": True}},
    {"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {}},
    {"ID": "r", "Prefix": "", "Status": "Enabled", "Transitions": [{"Days": 1, "StorageClass": "STANDARD"}]},
    {"ID": "r", "Prefix": "", "Status": "Enabled", "Transitions": [
        {"Days": 1, "Date": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), "StorageClass": "GLACIER"}]},
], ids=["status", "no-filter", "prefix-and-filter", "two-filters", "days-and-date", "days-and-marker",
        "empty-expiration", "transition-to-standard", "transition-days-and-date"])
def test_malformed_rules(s3: Any, bucket: str, rule: dict[str, Any]) -> None:
    assert refused(s3, bucket, rule) == MALFORMED


@pytest.mark.parametrize(("rule", "message"), [
    ({"ID": "a" * 256, "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}},
     "ID length should not exceed allowed limit of 255"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 0}},
     "'Days' for Expiration action must be a positive integer"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled",
      "Expiration": {"Date": dt.datetime(2030, 1, 1, 12, tzinfo=dt.timezone.utc)}},
     "'Date' must be at midnight GMT"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 0}},
     "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"),
    ({"ID": "r", "Prefix": "", "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 0}},
     "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"),
    ({"ID": "r", "Filter": {"And": {"ObjectSizeGreaterThan": 100, "ObjectSizeLessThan": 100}}, "Status": "Enabled",
      "Expiration": {"Days": 1}}, "ObjectSizeGreaterThan must be less than ObjectSizeLessThan"),
])
def test_invalid_arguments(s3: Any, bucket: str, rule: dict[str, Any], message: str) -> None:
    assert refused(s3, bucket, rule) == (400, "InvalidArgument", message)


def test_rule_ids_are_unique(s3: Any, bucket: str) -> None:
    rule = {"ID": "same", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 1}}
    assert refused(s3, bucket, rule, {**rule, "Prefix": "other/"}) == (
        400, "InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule")


@pytest.mark.parametrize(("rule", "message"), [
    ({"ID": "r", "Prefix": "", "Status": "Enabled"}, "At least one action needs to be specified in a rule"),
    ({"ID": "r", "Filter": {"Tag": {"Key": "k", "Value": "v"}}, "Status": "Enabled",
      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
     "AbortIncompleteMultipartUpload cannot be specified with Tags."),
    ({"ID": "r", "Filter": {"And": {"Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}},
      "Status": "Enabled", "Expiration": {"Days": 1}}, "Duplicate Tag Keys are not allowed."),
])
def test_invalid_requests(s3: Any, bucket: str, rule: dict[str, Any], message: str) -> None:
    assert refused(s3, bucket, rule) == (400, "InvalidRequest", message)


def test_a_refused_configuration_keeps_the_previous_one(s3: Any, bucket: str) -> None:
    good = {"ID": "keep", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 5}}
    put(s3, bucket, good)
    refused(s3, bucket, {**good, "Expiration": {"Days": -1}})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == [good]


def expiration_of(response: dict[str, Any]) -> tuple[dt.datetime, str] | None:
    header = response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-expiration")
    if header is None:
        return None
    assert response["Expiration"] == header
    match = EXPIRATION.match(header)
    assert match, header
    when = dt.datetime.strptime(match.group(1), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.timezone.utc)
    return when, match.group(2)


def test_expiration_header_on_writes_and_reads(s3: Any, bucket: str) -> None:
    put(s3, bucket,
        {"ID": "short", "Filter": {"Prefix": "days/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "tagged", "Filter": {"Tag": {"Key": "ttl", "Value": "3"}}, "Status": "Enabled",
         "Expiration": {"Days": 3}},
        {"ID": "off", "Filter": {"Prefix": "off/"}, "Status": "Disabled", "Expiration": {"Days": 1}})
    written = s3.put_object(Bucket=bucket, Key="days/a", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="days/a")
    created = head["LastModified"]
    # The first midnight UTC at or after creation + 1 day.
    midnight = (created + dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert expiration_of(written) == expiration_of(head) == (midnight, "short")
    assert expiration_of(s3.get_object(Bucket=bucket, Key="days/a")) == (midnight, "short")

    tagged = s3.put_object(Bucket=bucket, Key="other", Body=b"x", Tagging="ttl=3")
    assert expiration_of(tagged) == (midnight + dt.timedelta(days=2), "tagged")
    assert expiration_of(s3.put_object(Bucket=bucket, Key="other2", Body=b"x", Tagging="ttl=4")) is None
    assert expiration_of(s3.put_object(Bucket=bucket, Key="off/a", Body=b"x")) is None
    copied = s3.copy_object(Bucket=bucket, Key="days/copy", CopySource={"Bucket": bucket, "Key": "other"})
    assert expiration_of(copied)[1] == "short"  # type: ignore[index]


def test_expiration_header_with_a_date_rule(s3: Any, bucket: str) -> None:
    date = dt.datetime(2031, 3, 1, tzinfo=dt.timezone.utc)
    put(s3, bucket, {"ID": "until-2031", "Filter": {}, "Status": "Enabled", "Expiration": {"Date": date}})
    assert expiration_of(s3.put_object(Bucket=bucket, Key="k", Body=b"x")) == (date, "until-2031")
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"] == {"Date": date}


def test_legacy_lifecycle_api(s3: Any, bucket: str) -> None:
    rule = {"ID": "old", "Prefix": "logs/", "Status": "Enabled", "Expiration": {"Days": 2},
            "Transition": {"Days": 1, "StorageClass": "GLACIER"}}
    s3.put_bucket_lifecycle(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert s3.get_bucket_lifecycle(Bucket=bucket)["Rules"] == [rule]
    # The current API shows the same rule with a list of transitions.
    [current] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert current["Transitions"] == [{"Days": 1, "StorageClass": "GLACIER"}]
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle(Bucket=bucket, LifecycleConfiguration={"Rules": [{**rule, "Status": "disabled"}]})
    assert error(exc) == MALFORMED


def test_aws_cli_lifecycle(aws_cli: Any, s3: Any, bucket: str, tmp_path: Path) -> None:
    document = {"Rules": [{"ID": "cli", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
                           "Expiration": {"Days": 7}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]}
    path = tmp_path / "lifecycle.json"
    path.write_text(json.dumps(document))
    aws_cli("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
            "--lifecycle-configuration", f"file://{path}")
    got = json.loads(aws_cli("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket,
                             "--output", "json").stdout)
    assert got["Rules"] == document["Rules"]
    path.write_text(json.dumps({"Rules": [{**document["Rules"][0], "Status": "On"}]}))
    proc = aws_cli("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
                   "--lifecycle-configuration", f"file://{path}", check=False)
    assert proc.returncode != 0 and "(MalformedXML)" in proc.stderr
    aws_cli("s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    proc = aws_cli("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket, check=False)
    assert proc.returncode != 0 and "(NoSuchLifecycleConfiguration)" in proc.stderr


def test_abort_date_on_multipart_uploads(s3: Any, bucket: str) -> None:
    put(s3, bucket, {"ID": "abort-2", "Filter": {"Prefix": "big/"}, "Status": "Enabled",
                     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}})
    created = s3.create_multipart_upload(Bucket=bucket, Key="big/file")
    initiated = s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["Initiated"]
    midnight = (initiated + dt.timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert (created["AbortDate"], created["AbortRuleId"]) == (midnight, "abort-2")
    parts = s3.list_parts(Bucket=bucket, Key="big/file", UploadId=created["UploadId"])
    assert (parts["AbortDate"], parts["AbortRuleId"]) == (midnight, "abort-2")
    other = s3.create_multipart_upload(Bucket=bucket, Key="small/file")
    assert "AbortDate" not in other and "AbortRuleId" not in other
