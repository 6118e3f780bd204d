"""Put/Get/DeleteBucketTagging with boto3 against a real server, and AWS's refusals."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_bucket_tags_are_kept_replaced_and_deleted(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchTagSet"
    assert err.value.response["Error"]["Message"] == "The TagSet does not exist"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": ""}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": ""}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "me"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "owner", "Value": "me"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "NoSuchTagSet"


@pytest.mark.parametrize(("tags", "message"), [
    ([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], "Cannot provide multiple Tags with the same key"),
    ([{"Key": "aws:cloudformation:stack-name", "Value": "x"}], "Your TagKey cannot be prefixed with aws:"),
    ([{"Key": f"k{i}", "Value": ""} for i in range(51)], "Bucket tag count cannot be greater than 50"),
])
def test_bad_tag_sets_are_refused(s3: Any, bucket: str, tags: list[dict[str, str]], message: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert (err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]) == ("InvalidTag", message)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_missing_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_bucket_tagging(Bucket="no-such-bucket-for-tags", Tagging={"TagSet": []})
    assert err.value.response["Error"]["Code"] == "NoSuchBucket"
