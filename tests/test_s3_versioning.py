"""S3 bucket versioning: version ids, delete markers, suspended buckets, listing versions, durability."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsCli, make_client
from .server import SluiceProcess

VERSION_ID = re.compile(r"^[A-Za-z0-9._]{32}$")


def enable(s3: Any, bucket: str, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def client_error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[dict[str, Any], dict[str, Any]]:
    resp = exc.value.response
    return resp["Error"], resp["ResponseMetadata"]


def test_versioning_configuration(s3: Any, bucket: str) -> None:
    got = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in got and "MFADelete" not in got
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended", "MFADelete": "Disabled"})
    got = s3.get_bucket_versioning(Bucket=bucket)
    assert got["Status"] == "Suspended" and got["MFADelete"] == "Disabled"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    err, meta = client_error(exc)
    assert meta["HTTPStatusCode"] == 403 and err["Code"] == "AccessDenied"
    assert err["Message"] == "Mfa Authentication must be used for this request"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Off"})
    assert client_error(exc)[0]["Code"] == "MalformedXML"
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_versioning(Bucket=f"missing-{uuid.uuid4().hex[:8]}")
    assert client_error(exc)[0]["Code"] == "NoSuchBucket"


def test_unversioned_bucket_reports_no_version_ids(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    assert "VersionId" not in put
    assert "VersionId" not in s3.get_object(Bucket=bucket, Key="k")
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"1"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    err, meta = client_error(exc)
    assert meta["HTTPStatusCode"] == 400 and err["Code"] == "InvalidArgument"
    assert err["Message"] == "Invalid version id specified"
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert "DeleteMarker" not in deleted and "VersionId" not in deleted
    assert s3.list_object_versions(Bucket=bucket).get("Versions") is None


def test_version_lifecycle_with_delete_markers(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"first")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"second")["VersionId"]
    assert VERSION_ID.match(v1) and VERSION_ID.match(v2) and v1 != v2

    got = s3.get_object(Bucket=bucket, Key="doc")
    assert got["Body"].read() == b"second" and got["VersionId"] == v2
    old = s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)
    assert old["Body"].read() == b"first" and old["VersionId"] == v1
    assert s3.head_object(Bucket=bucket, Key="doc", VersionId=v1)["ContentLength"] == 5

    deleted = s3.delete_object(Bucket=bucket, Key="doc")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert VERSION_ID.match(marker) and marker not in (v1, v2)

    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="doc")
    err, meta = client_error(exc)
    assert meta["HTTPStatusCode"] == 404 and err["Code"] == "NoSuchKey"
    assert meta["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert meta["HTTPHeaders"]["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="doc")
    assert client_error(exc)[1]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="doc", VersionId=marker)
    err, meta = client_error(exc)
    assert meta["HTTPStatusCode"] == 405 and err["Code"] == "MethodNotAllowed"
    assert err["Message"] == "The specified method is not allowed against this resource."
    assert meta["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    # Old versions stay readable behind the marker; listings show only live current versions.
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=v2)["Body"].read() == b"second"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert "Contents" not in s3.list_objects(Bucket=bucket)

    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(v2, False), (v1, False)]
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [("doc", marker, True)]
    assert listed["Versions"][0]["Size"] == 6 and listed["Versions"][0]["ETag"].startswith('"')

    # Deleting the marker brings the previous version back.
    gone = s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker)
    assert gone["DeleteMarker"] is True and gone["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"second"
    gone = s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)
    assert gone["VersionId"] == v2 and "DeleteMarker" not in gone
    current = s3.get_object(Bucket=bucket, Key="doc")
    assert current["Body"].read() == b"first" and current["VersionId"] == v1
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(v1, True)]
    assert "DeleteMarkers" not in listed

    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="doc", VersionId=v2)
    err, meta = client_error(exc)
    assert meta["HTTPStatusCode"] == 404 and err["Code"] == "NoSuchVersion"
    assert err["Message"] == "The specified version does not exist."
    # Deleting a version that is already gone succeeds, as on AWS.
    assert s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)["VersionId"] == v2


def test_bucket_with_only_old_versions_is_not_empty(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert client_error(exc)[0]["Code"] == "BucketNotEmpty"
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": version}]})
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)  # the marker is still there
    assert client_error(exc)[0]["Code"] == "BucketNotEmpty"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    s3.delete_bucket(Bucket=bucket)


def test_suspended_bucket_writes_null_versions(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"before versioning")
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"enabled")["VersionId"]
    # The object written before versioning is the key's "null" version.
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"before versioning"
    enable(s3, bucket, "Suspended")
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"suspended")
    assert "VersionId" not in put  # the null version: S3's write response names no version
    s3.put_object(Bucket=bucket, Key="k", Body=b"suspended again")  # replaces the null version
    listed = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [("null", True), (v1, False)]
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"suspended again" and got["VersionId"] == "null"

    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    listed_all = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed_all["Versions"]] == [v1]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed_all["DeleteMarkers"]] == [("null", True)]
    s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"enabled"


def test_delete_objects_with_versions(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    a1 = s3.put_object(Bucket=bucket, Key="a", Body=b"a1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="a", Body=b"a2")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "VersionId": a1}, {"Key": "b"}, {"Key": "c", "VersionId": "bogus"}]})
    deleted = {d["Key"]: d for d in result["Deleted"]}
    assert deleted["a"]["VersionId"] == a1 and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] is True and VERSION_ID.match(deleted["b"]["DeleteMarkerVersionId"])
    (error,) = result["Errors"]
    assert error["Key"] == "c" and error["VersionId"] == "bogus" and error["Code"] == "NoSuchVersion"
    marker = deleted["b"]["DeleteMarkerVersionId"]
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b", "VersionId": marker}]})
    assert result["Deleted"] == [{"Key": "b", "VersionId": marker, "DeleteMarker": True,
                                  "DeleteMarkerVersionId": marker}]
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"b"
    assert [v["VersionId"] != a1 for v in s3.list_object_versions(Bucket=bucket, Prefix="a")["Versions"]] == [True]


def test_copy_and_multipart_versions(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"two")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1})
    assert copied["CopySourceVersionId"] == v1 and VERSION_ID.match(copied["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"one"
    # Restoring an old version: copy it onto its own key.
    restored = s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1})
    assert s3.get_object(Bucket=bucket, Key="src")["VersionId"] == restored["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == b"one"
    marker = s3.delete_object(Bucket=bucket, Key="src")["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src", "VersionId": marker})
    err, _ = client_error(exc)
    assert err["Code"] == "InvalidRequest"
    assert err["Message"] == "The source of a copy request may not specifically refer to a delete marker by version id."
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"})
    assert client_error(exc)[0]["Code"] == "NoSuchKey"

    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"m" * 10)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert VERSION_ID.match(done["VersionId"])
    attrs = s3.get_object_attributes(Bucket=bucket, Key="mp", VersionId=done["VersionId"],
                                     ObjectAttributes=["ObjectSize"])
    assert attrs["ObjectSize"] == 10 and attrs["VersionId"] == done["VersionId"]
    tagged = s3.put_object_tagging(Bucket=bucket, Key="src", VersionId=v1,
                                   Tagging={"TagSet": [{"Key": "old", "Value": "yes"}]})
    assert tagged["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=bucket, Key="src", VersionId=v1)["TagSet"] == [{"Key": "old", "Value": "yes"}]


def test_list_object_versions_pagination(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    expected: list[tuple[str, str]] = []
    for key in ("a", "b", "dir/x", "dir/y", "z"):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=key.encode())["VersionId"] for _ in range(2)]
        expected += [(key, v) for v in reversed(ids)]
    marker = s3.delete_object(Bucket=bucket, Key="b")["VersionId"]
    expected.insert(2, ("b", marker))

    seen: list[tuple[str, str]] = []
    kwargs: dict[str, Any] = {}
    pages = 0
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=3, **kwargs)
        pages += 1
        items = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(items) <= 3
        seen += sorted(((i["Key"], i["VersionId"]) for i in items), key=lambda kv: expected.index(kv))
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == expected and pages == 4

    page = s3.list_object_versions(Bucket=bucket, Delimiter="/", MaxKeys=6)
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir/"]
    assert page["IsTruncated"] is True and page["NextKeyMarker"] == "dir/"
    rest = s3.list_object_versions(Bucket=bucket, Delimiter="/", KeyMarker=page["NextKeyMarker"])
    assert [v["Key"] for v in rest["Versions"]] == ["z", "z"] and "CommonPrefixes" not in rest
    assert {v["Key"] for v in s3.list_object_versions(Bucket=bucket, Prefix="dir/")["Versions"]} == {"dir/x", "dir/y"}

    paginator = s3.get_paginator("list_object_versions")
    total = sum(len(p.get("Versions", [])) + len(p.get("DeleteMarkers", []))
                for p in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert total == len(expected)

    with pytest.raises(ClientError) as exc:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker=marker)
    err, _ = client_error(exc)
    assert err["Code"] == "InvalidArgument"
    assert err["Message"] == "A version-id marker cannot be specified without a key marker."


def test_cli_lists_versions(s3: Any, aws_cli: AwsCli, bucket: str) -> None:
    aws_cli("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    aws_cli("s3api", "delete-object", "--bucket", bucket, "--key", "k")
    out = json.loads(aws_cli("s3api", "list-object-versions", "--bucket", bucket).stdout)
    assert len(out["Versions"]) == 2 and len(out["DeleteMarkers"]) == 1
    assert out["DeleteMarkers"][0]["IsLatest"] is True
    status = json.loads(aws_cli("s3api", "get-bucket-versioning", "--bucket", bucket).stdout)
    assert status["Status"] == "Enabled"


def test_versions_survive_restart_and_bodies_are_kept_until_unreferenced(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc = SluiceProcess(data_dir).start()
    try:
        s3 = make_client("s3", proc.endpoint)
        s3.create_bucket(Bucket="keep")
        s3.put_object(Bucket="keep", Key="big", Body=b"0" * 300_000)
        enable(s3, "keep")
        big = [s3.put_object(Bucket="keep", Key="big", Body=bytes([65 + i]) * 300_000)["VersionId"]
               for i in range(3)]
        small = s3.put_object(Bucket="keep", Key="small", Body=b"tiny")["VersionId"]
        marker = s3.delete_object(Bucket="keep", Key="small")["VersionId"]
        s3.delete_object(Bucket="keep", Key="big", VersionId=big[1])
    finally:
        proc.stop()
    proc = SluiceProcess(data_dir, port=proc.port).start()
    try:
        s3 = make_client("s3", proc.endpoint)
        assert s3.get_bucket_versioning(Bucket="keep")["Status"] == "Enabled"
        listed = s3.list_object_versions(Bucket="keep")
        assert [(v["Key"], v["VersionId"]) for v in listed["Versions"]] == [
            ("big", big[2]), ("big", big[0]), ("big", "null"), ("small", small)]
        assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [marker]
        for version, byte in ((big[0], b"A"), (big[2], b"C"), ("null", b"0")):
            body = s3.get_object(Bucket="keep", Key="big", VersionId=version)["Body"].read()
            assert body == byte * 300_000
        assert s3.get_object(Bucket="keep", Key="small", VersionId=small)["Body"].read() == b"tiny"
        # One body file per large version left: the permanently deleted version's file is gone.
        assert len([p for p in (data_dir / "blobs").rglob("*") if p.is_file()]) == 3
    finally:
        proc.stop()


def test_data_dir_from_before_versioning_keeps_its_objects(tmp_path: Path) -> None:
    # A data dir as the previous release left it: S3 schema steps 1 and 2 only, one object.
    from sluice.schema import SCHEMA

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    conn = sqlite3.connect(data_dir / "sluice.db")
    conn.execute("CREATE TABLE schema_steps (name TEXT PRIMARY KEY)")
    for step in SCHEMA:
        if step.name in ("s3-0001", "s3-0002"):
            conn.executescript(step.script)
            conn.execute("INSERT INTO schema_steps VALUES (?)", (step.name,))
    conn.execute("INSERT INTO s3_buckets (name, account, region, created) VALUES ('legacy', '000000000000',"
                 " 'us-east-1', 0)")
    conn.execute("INSERT INTO s3_objects (bucket, key, data, size, etag, last_modified, content_type) VALUES"
                 " ('legacy', 'old.txt', X'6F6C64', 3, 'etag', 0, 'text/plain')")
    conn.commit()
    conn.close()
    proc = SluiceProcess(data_dir).start()
    try:
        s3 = make_client("s3", proc.endpoint)
        assert s3.get_object(Bucket="legacy", Key="old.txt")["Body"].read() == b"old"
        enable(s3, "legacy")
        new = s3.put_object(Bucket="legacy", Key="old.txt", Body=b"new")["VersionId"]
        listed = s3.list_object_versions(Bucket="legacy")["Versions"]
        assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [(new, True), ("null", False)]
        old = s3.get_object(Bucket="legacy", Key="old.txt", VersionId="null")
        assert old["Body"].read() == b"old" and old["ContentType"] == "text/plain"
    finally:
        proc.stop()
