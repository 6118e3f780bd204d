"""The console's S3 pages (issue 17), over HTTP as the browser's htmx sends them: buckets with
AWS's naming rules, objects by prefix, uploads, downloads, metadata, tags, deletes, and a
bucket's event notifications with the API's validation."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from .conftest import make_client
from .console_helpers import PREFIX, ConsoleClient, error_code, error_message
from .lambda_helpers import create


@pytest.fixture
def console(endpoint: str) -> ConsoleClient:
    return ConsoleClient(endpoint)


@pytest.fixture
def s3c(endpoint: str) -> Any:
    return make_client("s3", endpoint)


def new_bucket(console: ConsoleClient) -> str:
    name = f"console-{uuid.uuid4().hex[:12]}"
    page = console.post("s3/buckets", {"name": name, "region": "us-east-1"})
    assert page.status == 200 and page.header("hx-redirect") == f"{PREFIX}/s3/buckets/{name}", page.text
    return name


def test_buckets_are_created_listed_and_deleted_with_awss_rules(console: ConsoleClient, s3c: Any) -> None:
    name = new_bucket(console)
    assert name in [b["Name"] for b in s3c.list_buckets()["Buckets"]]
    assert f'data-bucket="{name}"' in console.get("s3").text
    bad = console.post("s3/buckets", {"name": "Not_A_Bucket"})
    assert bad.status == 400 and error_code(bad) == "InvalidBucketName"
    assert error_message(bad) == "The specified bucket is not valid."
    # A bucket with an object in it is not deleted: S3's BucketNotEmpty, as the API answers.
    s3c.put_object(Bucket=name, Key="keep.txt", Body=b"x")
    full = console.post(f"s3/buckets/{name}/delete-bucket", {})
    assert full.status == 409 and error_code(full) == "BucketNotEmpty"
    s3c.delete_object(Bucket=name, Key="keep.txt")
    done = console.post(f"s3/buckets/{name}/delete-bucket", {})
    assert done.status == 200 and done.header("hx-redirect") == f"{PREFIX}/s3"
    assert name not in [b["Name"] for b in s3c.list_buckets()["Buckets"]]
    missing = console.get(f"s3/buckets/{name}")
    assert missing.status == 404 and error_code(missing) == "NoSuchBucket"


def test_uploads_folders_downloads_and_deletes(console: ConsoleClient, s3c: Any) -> None:
    bucket = new_bucket(console)
    for key, data in (("hello.txt", b"hello from the browser"), ("docs/a b.json", b'{"a": 1}')):
        kind = "application/json" if key.endswith(".json") else "text/plain"
        page = console.upload(f"s3/buckets/{bucket}/upload?key={key.replace(' ', '%20')}", data, kind)
        assert page.status == 200, page.text
        got = s3c.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == data and got["ContentType"] == kind
    top = console.get(f"s3/buckets/{bucket}")
    assert 'data-key="hello.txt"' in top.text
    assert ">docs/</a>" in top.text and 'data-key="docs/a b.json"' not in top.text  # a folder at the top
    inner = console.get(f"s3/buckets/{bucket}?prefix=docs/")
    assert 'data-key="docs/a b.json"' in inner.text and ">a b.json</a>" in inner.text
    download = console.get(f"s3/buckets/{bucket}/download/docs/a%20b.json")
    assert download.status == 200 and download.text == '{"a": 1}'
    assert download.header("content-disposition") == "attachment; filename*=UTF-8''a%20b.json"
    assert download.header("content-type") == "application/json"
    # A folder made in the console is the S3 console's: an empty object ending with '/'.
    made = console.post(f"s3/buckets/{bucket}/folder", {"name": "reports", "prefix": ""})
    assert made.status == 200 and s3c.head_object(Bucket=bucket, Key="reports/")["ContentLength"] == 0
    # The list has one delete form, its rows' buttons carrying their keys; deleting from it answers
    # the refreshed list.
    assert top.text.count("<form") == inner.text.count("<form") == 2  # that one and New folder
    assert '<button name="key" value="hello.txt"' in top.text
    gone = console.post(f"s3/buckets/{bucket}/delete", {"key": "hello.txt", "prefix": "", "from": "list"})
    assert gone.status == 200 and 'id="objects"' in gone.text and 'data-key="hello.txt"' not in gone.text
    assert "Contents" not in s3c.list_objects_v2(Bucket=bucket, Prefix="hello")
    no_key = console.post(f"s3/buckets/{bucket}/delete", {"key": "", "prefix": "", "from": "list"})
    assert no_key.status == 400 and error_code(no_key) == "InvalidArgument"
    # The object page's own form names the key in its path.
    s3c.put_object(Bucket=bucket, Key="docs/bye.txt", Body=b"bye")
    bye = console.post(f"s3/buckets/{bucket}/delete/docs/bye.txt", {"prefix": "docs/"})
    assert bye.status == 200 and "Contents" not in s3c.list_objects_v2(Bucket=bucket, Prefix="docs/bye")
    # An upload to a bucket that is not there shows S3's error, in the header console.js reads too.
    no_key = console.upload(f"s3/buckets/{bucket}/upload", b"x")
    assert no_key.status == 400 and error_code(no_key) == "InvalidArgument"
    failed = console.upload(f"s3/buckets/{bucket}-nope/upload?key=x.txt", b"x")
    assert failed.status == 404 and failed.header("x-sluice-error") == "NoSuchBucket: The specified bucket does not exist"


def test_an_objects_metadata_and_tags_are_shown_and_edited(console: ConsoleClient, s3c: Any) -> None:
    bucket = new_bucket(console)
    s3c.put_object(Bucket=bucket, Key="dir/note.txt", Body=b"line one\n<b>not bold</b>", ContentType="text/plain",
                   Metadata={"origin": "test"}, Tagging="stage=raw")
    page = console.get(f"s3/buckets/{bucket}/objects/dir/note.txt")
    assert page.status == 200
    assert "origin=test" in page.text and "stage=raw" in page.text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page.text  # the content, escaped
    tagged = console.post(f"s3/buckets/{bucket}/tags/dir/note.txt", {"tags": "stage=done\nowner=me\n"})
    assert tagged.status == 200
    assert {t["Key"]: t["Value"] for t in s3c.get_object_tagging(Bucket=bucket, Key="dir/note.txt")["TagSet"]} == \
        {"stage": "done", "owner": "me"}
    too_many = console.post(f"s3/buckets/{bucket}/tags/dir/note.txt",
                            {"tags": "\n".join(f"k{i}=v" for i in range(11))})
    assert too_many.status == 400 and error_code(too_many) == "InvalidTag"
    assert error_message(too_many) == "Object tags cannot be greater than 10"
    meta = console.post(f"s3/buckets/{bucket}/metadata/dir/note.txt",
                        {"content_type": "text/markdown", "metadata": "origin=console\nreviewed=yes"})
    assert meta.status == 200, meta.text
    head = s3c.head_object(Bucket=bucket, Key="dir/note.txt")
    assert head["Metadata"] == {"origin": "console", "reviewed": "yes"} and head["ContentType"] == "text/markdown"
    assert s3c.get_object(Bucket=bucket, Key="dir/note.txt")["Body"].read() == b"line one\n<b>not bold</b>"
    missing = console.get(f"s3/buckets/{bucket}/objects/nope.txt")
    assert missing.status == 404


def test_a_large_listing_is_paged(console: ConsoleClient, s3c: Any) -> None:
    bucket = new_bucket(console)
    for i in range(205):
        s3c.put_object(Bucket=bucket, Key=f"k{i:04d}", Body=b"")
    first = console.get(f"s3/buckets/{bucket}")
    assert first.text.count("<tr data-key=") == 200
    link = re.search(r'href="([^"]+)" id="next-page"', first.text)
    assert link is not None
    second = console.get(link.group(1).replace("&amp;", "&"))
    assert second.text.count("<tr data-key=") == 5 and 'data-key="k0204"' in second.text


def test_event_notifications_are_added_with_the_apis_validation(console: ConsoleClient, endpoint: str,
                                                               s3c: Any) -> None:
    bucket = new_bucket(console)
    lam = make_client("lambda", endpoint)
    fn = create(lam, "def handler(event, context):\n    return 1\n")
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    form = console.get(f"s3/buckets/{bucket}/notifications")
    assert form.status == 200 and f'<option value="{arn}">' in form.text
    fields = [("id", "uploads"), ("prefix", "incoming/"), ("suffix", ".txt"), ("events", "s3:ObjectCreated:*"),
              ("kind", "lambda"), ("target", arn), ("grant", "1")]
    added = console.post(f"s3/buckets/{bucket}/notifications", fields)
    assert added.status == 200, added.text
    config = s3c.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert config == [{"Id": "uploads", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
                       "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "incoming/"},
                                                          {"Name": "Suffix", "Value": ".txt"}]}}}]
    policy = json.loads(lam.get_policy(FunctionName=fn)["Policy"])
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "s3.amazonaws.com"}]
    page = console.get(f"s3/buckets/{bucket}/notifications")
    assert 'data-id="uploads"' in page.text and "incoming/" in page.text
    # The API's own refusals: an overlapping rule, no events, a function S3 may not invoke.
    overlap = console.post(f"s3/buckets/{bucket}/notifications", [*fields[1:], ("id", "again")])
    assert overlap.status == 400 and error_code(overlap) == "InvalidArgument"
    assert "overlapping" in error_message(overlap)
    no_events = console.post(f"s3/buckets/{bucket}/notifications", [("kind", "lambda"), ("target", arn)])
    assert no_events.status == 400 and error_message(no_events) == "At least one event must be specified"
    other = create(lam, "def handler(event, context):\n    return 1\n")
    other_arn = lam.get_function(FunctionName=other)["Configuration"]["FunctionArn"]
    ungranted = console.post(f"s3/buckets/{bucket}/notifications",
                             [("events", "s3:ObjectRemoved:*"), ("kind", "lambda"), ("target", other_arn)])
    assert ungranted.status == 400 and error_code(ungranted) == "InvalidArgument"
    assert error_message(ungranted) == "Unable to validate the following destination configurations"
    assert len(s3c.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]) == 1
    # Deleted by its name.
    deleted = console.post(f"s3/buckets/{bucket}/notifications/delete", {"id": "uploads"})
    assert deleted.status == 200
    assert "LambdaFunctionConfigurations" not in s3c.get_bucket_notification_configuration(Bucket=bucket)


def test_the_object_list_is_pushed_live(console: ConsoleClient, s3c: Any) -> None:
    """An object the pipeline or the CLI writes shows up without a reload (server-sent events)."""
    bucket = new_bucket(console)
    page = console.get(f"s3/buckets/{bucket}")
    assert f'sse-connect="{PREFIX}/s3/buckets/{bucket}/live" sse-swap="objects"' in page.text
    s3c.put_object(Bucket=bucket, Key="from-the-cli.txt", Body=b"x")
    text = console.stream(f"s3/buckets/{bucket}/live?prefix=", 'data-key="from-the-cli.txt"')
    assert "event: objects\n" in text and 'data-key="from-the-cli.txt"' in text
