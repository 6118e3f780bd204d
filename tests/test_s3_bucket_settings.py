"""The bucket configuration tools read on every plan: what a new bucket answers (AWS's defaults and
"not configured" errors, never NotImplemented), what is stored and returned, AWS's refusals, and
the server-side encryption every object write and read reports."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsCli

SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]}


def refusal(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


def refused(call: Any, **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    return refusal(exc)


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_a_new_bucket_answers_every_read_a_plan_makes(s3: Any, bucket: str) -> None:
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"] == SSE_S3
    assert body_of(s3.get_bucket_logging(Bucket=bucket)) == {}
    assert body_of(s3.get_bucket_accelerate_configuration(Bucket=bucket)) == {}
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert refused(s3.get_bucket_website, Bucket=bucket) == (
        404, "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration")
    assert refused(s3.get_bucket_replication, Bucket=bucket) == (
        404, "ReplicationConfigurationNotFoundError", "The replication configuration was not found")
    assert refused(s3.get_object_lock_configuration, Bucket=bucket) == (
        404, "ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket")
    for kind in ("analytics", "inventory", "metrics", "intelligent_tiering"):
        listed = body_of(getattr(s3, f"list_bucket_{kind}_configurations")(Bucket=bucket))
        assert listed == {"IsTruncated": False}, kind
        assert refused(getattr(s3, f"get_bucket_{kind}_configuration"), Bucket=bucket, Id="x") == (
            404, "NoSuchConfiguration", "The specified configuration does not exist."), kind
    # A missing bucket is NoSuchBucket for all of them.
    assert refused(s3.get_bucket_encryption, Bucket=bucket + "-gone")[1] == "NoSuchBucket"
    assert refused(s3.list_bucket_metrics_configurations, Bucket=bucket + "-gone")[1] == "NoSuchBucket"


def test_encryption_configuration(s3: Any, bucket: str) -> None:
    kms = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/k"},
                      "BucketKeyEnabled": True}]}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=kms)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"] == kms
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"], put["BucketKeyEnabled"]) == ("aws:kms", "alias/k", True)
    # Deleting it puts the bucket back on SSE-S3, as on AWS.
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"] == SSE_S3
    bad = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}]}
    assert refused(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration=bad)[:2] == (
        400, "InvalidArgument")
    bad = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "DES"}}]}
    assert refused(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration=bad)[:2] == (
        400, "MalformedXML")


def test_objects_report_their_encryption(s3: Any, bucket: str) -> None:
    assert s3.put_object(Bucket=bucket, Key="a", Body=b"1")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="a")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="a")["ServerSideEncryption"] == "AES256"
    assert s3.copy_object(Bucket=bucket, Key="b", CopySource=f"{bucket}/a")["ServerSideEncryption"] == "AES256"
    # What a write asked for is kept with the object, whatever the bucket default becomes.
    put = s3.put_object(Bucket=bucket, Key="kms", Body=b"2", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/x")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", "alias/x")
    head = s3.head_object(Bucket=bucket, Key="kms")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", "alias/x")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert upload["ServerSideEncryption"] == "AES256"
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"p")
    assert part["ServerSideEncryption"] == "AES256"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="mp")["ServerSideEncryption"] == "AES256"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="c", Body=b"3", ServerSideEncryption="rot13")
    assert refusal(exc) == (400, "InvalidArgument", "The encryption method specified is not supported")
    # Customer-provided keys (SSE-C): no object is ever written with one, so a read naming one is
    # refused as S3 refuses it for an object without; a write with one is not supported.
    customer = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32}
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="a", **customer)
    assert refusal(exc) == (400, "InvalidRequest", "The encryption parameters are not applicable to this object.")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="c", Body=b"3", **customer)
    assert refusal(exc)[:2] == (501, "NotImplemented")


def test_website_configuration(s3: Any, bucket: str) -> None:
    site = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"},
            "RoutingRules": [{"Condition": {"KeyPrefixEquals": "docs/"}, "Redirect": {"ReplaceKeyPrefixWith": "d/"}}]}
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=site)
    assert body_of(s3.get_bucket_website(Bucket=bucket)) == site
    s3.delete_bucket_website(Bucket=bucket)
    assert refused(s3.get_bucket_website, Bucket=bucket)[1] == "NoSuchWebsiteConfiguration"
    assert refused(s3.put_bucket_website, Bucket=bucket, WebsiteConfiguration={"ErrorDocument": {"Key": "e"}}) == (
        400, "InvalidArgument", "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty")
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"RedirectAllRequestsTo": {"HostName": "example.com"}})
    assert s3.get_bucket_website(Bucket=bucket)["RedirectAllRequestsTo"] == {"HostName": "example.com"}


def test_logging_accelerate_and_request_payment(s3: Any, bucket: str) -> None:
    enabled = {"TargetBucket": bucket, "TargetPrefix": "logs/"}
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": enabled})
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == enabled
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    assert body_of(s3.get_bucket_logging(Bucket=bucket)) == {}
    assert refused(s3.put_bucket_logging, Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": bucket + "-gone", "TargetPrefix": ""}})[:2] == (400, "InvalidTargetBucketForLogging")
    s3.put_bucket_accelerate_configuration(Bucket=bucket, AccelerateConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_accelerate_configuration(Bucket=bucket, AccelerateConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Suspended"
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "Requester"


def test_replication_and_object_lock_need_versioning(s3: Any, bucket: str) -> None:
    replication = {"Role": "arn:aws:iam::000000000000:role/r", "Rules": [
        {"ID": "all", "Status": "Enabled", "Priority": 1, "Filter": {"Prefix": ""},
         "DeleteMarkerReplication": {"Status": "Disabled"}, "Destination": {"Bucket": "arn:aws:s3:::elsewhere"}}]}
    assert refused(s3.put_bucket_replication, Bucket=bucket, ReplicationConfiguration=replication) == (
        400, "InvalidRequest", "Versioning must be 'Enabled' on the bucket to apply a replication configuration")
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    assert refused(s3.put_object_lock_configuration, Bucket=bucket, ObjectLockConfiguration=lock)[:2] == (
        409, "InvalidBucketState")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=replication)
    assert s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"] == replication
    s3.delete_bucket_replication(Bucket=bucket)
    assert refused(s3.get_bucket_replication, Bucket=bucket)[1] == "ReplicationConfigurationNotFoundError"
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=lock)
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == lock


def test_report_configurations_by_id(s3: Any, bucket: str) -> None:
    metrics = {"Id": "docs", "Filter": {"Prefix": "docs/"}}
    s3.put_bucket_metrics_configuration(Bucket=bucket, Id="docs", MetricsConfiguration=metrics)
    s3.put_bucket_metrics_configuration(Bucket=bucket, Id="all", MetricsConfiguration={"Id": "all"})
    assert s3.get_bucket_metrics_configuration(Bucket=bucket, Id="docs")["MetricsConfiguration"] == metrics
    listed = s3.list_bucket_metrics_configurations(Bucket=bucket)
    assert [c["Id"] for c in listed["MetricsConfigurationList"]] == ["all", "docs"] and not listed["IsTruncated"]
    s3.delete_bucket_metrics_configuration(Bucket=bucket, Id="docs")
    assert refused(s3.delete_bucket_metrics_configuration, Bucket=bucket, Id="docs")[:2] == (404, "NoSuchConfiguration")
    tiering = {"Id": "archive", "Status": "Enabled",
               "Tierings": [{"Days": 90, "AccessTier": "ARCHIVE_ACCESS"}]}
    s3.put_bucket_intelligent_tiering_configuration(Bucket=bucket, Id="archive",
                                                    IntelligentTieringConfiguration=tiering)
    got = s3.get_bucket_intelligent_tiering_configuration(Bucket=bucket, Id="archive")
    assert got["IntelligentTieringConfiguration"] == tiering
    inventory = {"Id": "weekly", "IsEnabled": True, "IncludedObjectVersions": "Current",
                 "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{bucket}", "Format": "CSV"}},
                 "Schedule": {"Frequency": "Weekly"}}
    s3.put_bucket_inventory_configuration(Bucket=bucket, Id="weekly", InventoryConfiguration=inventory)
    assert s3.list_bucket_inventory_configurations(Bucket=bucket)["InventoryConfigurationList"] == [inventory]
    analytics = {"Id": "a", "StorageClassAnalysis": {}}
    assert refused(s3.put_bucket_analytics_configuration, Bucket=bucket, Id="b",
                   AnalyticsConfiguration=analytics)[:2] == (400, "InvalidArgument")


def test_cli_reads_and_writes_configuration(aws_cli: AwsCli, bucket: str, tmp_path: Path) -> None:
    def api(*args: str) -> Any:
        out = aws_cli("s3api", *args, "--bucket", bucket).stdout
        return json.loads(out) if out.strip() else {}

    for read, code in (("get-object-lock-configuration", "ObjectLockConfigurationNotFoundError"),
                       ("get-bucket-replication", "ReplicationConfigurationNotFoundError")):
        proc = aws_cli("s3api", read, "--bucket", bucket, check=False)
        assert proc.returncode != 0 and code in proc.stderr
    assert api("get-bucket-accelerate-configuration") == {}
    kms = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]}
    api("put-bucket-encryption", "--server-side-encryption-configuration", json.dumps(kms))
    assert api("get-bucket-encryption")["ServerSideEncryptionConfiguration"] == kms
    api("put-bucket-website", "--website-configuration", '{"IndexDocument": {"Suffix": "index.html"}}')
    assert api("get-bucket-website") == {"IndexDocument": {"Suffix": "index.html"}}
    api("put-bucket-request-payment", "--request-payment-configuration", "Payer=Requester")
    assert api("get-bucket-request-payment") == {"Payer": "Requester"}
    api("put-bucket-metrics-configuration", "--id", "all", "--metrics-configuration", '{"Id": "all"}')
    assert api("list-bucket-metrics-configurations")["MetricsConfigurationList"] == [{"Id": "all"}]
    doc = tmp_path / "put.txt"
    doc.write_text("hello")
    out = json.loads(aws_cli("s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", str(doc)).stdout)
    assert (out["ServerSideEncryption"], out["BucketKeyEnabled"]) == ("aws:kms", True)

def test_bucket_created_with_object_lock(s3: Any) -> None:
    name = f"locked-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    assert s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
