"""S3 multipart uploads through real boto3 and s3transfer, asserted against real AWS behaviour."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zlib
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

MiB = 1024 * 1024
PART = 5 * MiB  # the minimum size of every part but the last


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def upload_parts(s3: Any, bucket: str, key: str, upload_id: str, parts: list[bytes]) -> list[dict]:
    done = []
    for number, body in enumerate(parts, start=1):
        resp = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        assert resp["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        done.append({"PartNumber": number, "ETag": resp["ETag"]})
    return done


@pytest.fixture(scope="module")
def three_parts() -> list[bytes]:
    return [os.urandom(PART), os.urandom(PART), os.urandom(1024)]


def test_complete_multipart_upload(s3: Any, bucket: str, three_parts: list[bytes]) -> None:
    created = s3.create_multipart_upload(
        Bucket=bucket, Key="big.bin", ContentType="video/mp4", Metadata={"origin": "mpu"}
    )
    assert created["Bucket"] == bucket
    assert created["Key"] == "big.bin"
    upload_id = created["UploadId"]
    assert upload_id

    parts = upload_parts(s3, bucket, "big.bin", upload_id, three_parts)
    # Nothing is visible until the upload completes.
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="big.bin")
    assert error_of(exc) == (404, "404")

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big.bin", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    expected_etag = multipart_etag(three_parts)
    assert done["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert done["ETag"] == expected_etag
    assert done["Bucket"] == bucket
    assert done["Key"] == "big.bin"
    assert done["Location"].endswith("/big.bin")
    assert bucket in done["Location"]

    whole = b"".join(three_parts)
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["ETag"] == expected_etag
    assert got["ContentLength"] == len(whole)
    assert got["ContentType"] == "video/mp4"
    assert got["Metadata"] == {"origin": "mpu"}
    assert got["Body"].read() == whole

    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [
        ("big.bin", len(whole), expected_etag)
    ]
    # A completed upload is gone from the in-progress list.
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_get_and_head_by_part_number(s3: Any, bucket: str, three_parts: list[bytes]) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="p")["UploadId"]
    parts = upload_parts(s3, bucket, "p", upload_id, three_parts)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="p", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    head = s3.head_object(Bucket=bucket, Key="p", PartNumber=1)
    assert head["PartsCount"] == 3
    assert head["ContentLength"] == PART
    second = s3.get_object(Bucket=bucket, Key="p", PartNumber=2)
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert second["PartsCount"] == 3
    assert second["ContentRange"] == f"bytes {PART}-{2 * PART - 1}/{2 * PART + 1024}"
    assert second["Body"].read() == three_parts[1]
    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="p", ObjectAttributes=["ETag", "ObjectSize", "ObjectParts"]
    )
    assert attrs["ETag"] == multipart_etag(three_parts).strip('"')
    assert attrs["ObjectSize"] == 2 * PART + 1024
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3


def test_reuploaded_part_replaces_previous(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="r")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="r", UploadId=upload_id, PartNumber=1, Body=b"old")
    new = s3.upload_part(Bucket=bucket, Key="r", UploadId=upload_id, PartNumber=1, Body=b"new!")
    listed = s3.list_parts(Bucket=bucket, Key="r", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed] == [(1, 4, new["ETag"])]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="r",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": new["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="r")["Body"].read() == b"new!"


def test_list_parts(s3: Any, bucket: str, three_parts: list[bytes]) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="lp")["UploadId"]
    parts = upload_parts(s3, bucket, "lp", upload_id, three_parts)
    resp = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id)
    assert resp["Bucket"] == bucket
    assert resp["Key"] == "lp"
    assert resp["UploadId"] == upload_id
    assert resp["IsTruncated"] is False
    assert resp["StorageClass"] == "STANDARD"
    assert [p["PartNumber"] for p in resp["Parts"]] == [1, 2, 3]
    assert [p["ETag"] for p in resp["Parts"]] == [p["ETag"] for p in parts]
    assert [p["Size"] for p in resp["Parts"]] == [PART, PART, 1024]
    assert all(p["LastModified"] for p in resp["Parts"])

    page1 = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in page1["Parts"]] == [1, 2]
    assert page1["IsTruncated"] is True
    assert page1["NextPartNumberMarker"] == 2
    assert page1["MaxParts"] == 2
    page2 = s3.list_parts(
        Bucket=bucket, Key="lp", UploadId=upload_id, PartNumberMarker=page1["NextPartNumberMarker"]
    )
    assert [p["PartNumber"] for p in page2["Parts"]] == [3]
    assert page2["IsTruncated"] is False
    s3.abort_multipart_upload(Bucket=bucket, Key="lp", UploadId=upload_id)


def test_list_multipart_uploads(s3: Any, bucket: str) -> None:
    ids = {}
    for key in ("logs/a", "logs/b", "other"):
        ids[key] = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    resp = s3.list_multipart_uploads(Bucket=bucket)
    assert resp["Bucket"] == bucket
    assert resp["IsTruncated"] is False
    uploads = resp["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == sorted(ids.items())
    assert all(u["Initiated"] and u["StorageClass"] == "STANDARD" for u in uploads)

    prefixed = s3.list_multipart_uploads(Bucket=bucket, Prefix="logs/")
    assert [u["Key"] for u in prefixed["Uploads"]] == ["logs/a", "logs/b"]
    assert prefixed["Prefix"] == "logs/"

    s3.abort_multipart_upload(Bucket=bucket, Key="other", UploadId=ids["other"])
    after = s3.list_multipart_uploads(Bucket=bucket)
    assert [u["Key"] for u in after["Uploads"]] == ["logs/a", "logs/b"]


def test_abort_multipart_upload(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=upload_id, PartNumber=1, Body=b"x" * 100)
    resp = s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=upload_id)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204

    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="ab", UploadId=upload_id)
    assert error_of(exc) == (404, "NoSuchUpload")
    assert exc.value.response["Error"]["UploadId"] == upload_id
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="ab", UploadId=upload_id, PartNumber=2, Body=b"y")
    assert error_of(exc) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="ab",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]},
        )
    assert error_of(exc) == (404, "NoSuchUpload")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    # The bucket holds nothing any more, so it can be deleted.
    assert s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src.bin", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "src.bin"},
        CopySourceRange=f"bytes=0-{PART - 1}",
    )
    assert first["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[:PART]).hexdigest()}"'
    assert first["CopyPartResult"]["LastModified"]
    tail = b"-- appended tail --"
    second = s3.upload_part(
        Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=2, Body=tail
    )
    third = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=3,
        CopySource={"Bucket": bucket, "Key": "src.bin"},
        CopySourceRange=f"bytes={PART}-{6 * MiB - 1}",
    )
    parts = [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": second["ETag"]},
        {"PartNumber": 3, "ETag": third["CopyPartResult"]["ETag"]},
    ]
    # Part 2 is tiny and not last: that must fail...
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="assembled", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    assert error_of(exc) == (400, "EntityTooSmall")
    # ...but the upload is still open and can be completed with parts 1 and 3 only.
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        MultipartUpload={"Parts": [parts[0], parts[2]]},
    )
    expected = [source[:PART], source[PART:]]
    assert done["ETag"] == multipart_etag(expected)
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source


def test_upload_part_copy_whole_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="small", Body=b"whole source")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    part = s3.upload_part_copy(
        Bucket=bucket,
        Key="dst",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "small"},
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="dst",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"whole source"


def test_entity_too_small(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    parts = upload_parts(s3, bucket, "small", upload_id, [b"a" * 1024, b"b" * 1024])
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="small", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    assert error_of(exc) == (400, "EntityTooSmall")
    assert exc.value.response["Error"]["Message"] == (
        "Your proposed upload is smaller than the minimum allowed size"
    )
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="small")
    assert error_of(exc) == (404, "404")


def test_single_small_part_is_allowed(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="one")["UploadId"]
    parts = upload_parts(s3, bucket, "one", upload_id, [b"only part"])
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="one", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"] == multipart_etag([b"only part"])
    assert done["ETag"].endswith('-1"')
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"only part"


def test_invalid_part_wrong_etag(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ip")["UploadId"]
    upload_parts(s3, bucket, "ip", upload_id, [b"data"])
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="ip",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]},
        )
    assert error_of(exc) == (400, "InvalidPart")


def test_invalid_part_never_uploaded(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ip")["UploadId"]
    parts = upload_parts(s3, bucket, "ip", upload_id, [b"data"])
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="ip",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": parts[0]["ETag"]}]},
        )
    assert error_of(exc) == (400, "InvalidPart")


def test_invalid_part_order(s3: Any, bucket: str) -> None:
    body = os.urandom(PART)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="order")["UploadId"]
    parts = upload_parts(s3, bucket, "order", upload_id, [body, body])
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="order",
            UploadId=upload_id,
            MultipartUpload={"Parts": list(reversed(parts))},
        )
    assert error_of(exc) == (400, "InvalidPartOrder")
    assert exc.value.response["Error"]["Message"] == (
        "The list of parts was not in ascending order. Parts must be ordered by part number."
    )


@pytest.mark.parametrize("operation", ["upload_part", "list_parts", "complete", "abort"])
def test_no_such_upload(s3: Any, bucket: str, operation: str) -> None:
    bogus = "bm90LWEtcmVhbC11cGxvYWQtaWQ"
    calls = {
        "upload_part": lambda: s3.upload_part(
            Bucket=bucket, Key="k", UploadId=bogus, PartNumber=1, Body=b"x"
        ),
        "list_parts": lambda: s3.list_parts(Bucket=bucket, Key="k", UploadId=bogus),
        "complete": lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=bogus,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"abc"'}]},
        ),
        "abort": lambda: s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=bogus),
    }
    with pytest.raises(ClientError) as exc:
        calls[operation]()
    assert error_of(exc) == (404, "NoSuchUpload")
    assert exc.value.response["Error"]["Message"] == (
        "The specified upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed."
    )


def test_upload_id_is_bound_to_its_key(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mine")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="other", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert error_of(exc) == (404, "NoSuchUpload")
    s3.abort_multipart_upload(Bucket=bucket, Key="mine", UploadId=upload_id)


def test_complete_with_no_parts_is_malformed(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="none")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="none", UploadId=upload_id, MultipartUpload={"Parts": []}
        )
    assert error_of(exc) == (400, "MalformedXML")


def test_part_number_out_of_range(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="n")["UploadId"]
    for number in (0, 10001):
        with pytest.raises(ClientError) as exc:
            s3.upload_part(Bucket=bucket, Key="n", UploadId=upload_id, PartNumber=number, Body=b"x")
        assert error_of(exc) == (400, "InvalidArgument")
    s3.abort_multipart_upload(Bucket=bucket, Key="n", UploadId=upload_id)


def _crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_upload_fileobj_multipart_with_crc32(s3: Any, bucket: str) -> None:
    size = 12 * MiB
    data = os.urandom(size)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_fileobj(
        io.BytesIO(data),
        bucket,
        "managed.bin",
        ExtraArgs={"ChecksumAlgorithm": "CRC32"},
        Config=config,
    )
    chunks = [data[i : i + 5 * MiB] for i in range(0, size, 5 * MiB)]
    assert [len(c) for c in chunks] == [5 * MiB, 5 * MiB, 2 * MiB]

    head = s3.head_object(Bucket=bucket, Key="managed.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == size
    assert head["ETag"] == multipart_etag(chunks)
    # A multipart CRC32 is COMPOSITE by default: the CRC32 of the parts' CRC32s, then "-<parts>".
    composite = b"".join(zlib.crc32(c).to_bytes(4, "big") for c in chunks)
    assert head["ChecksumCRC32"] == f"{_crc32_b64(composite)}-3"
    assert head["ChecksumType"] == "COMPOSITE"

    out = io.BytesIO()
    s3.download_fileobj(bucket, "managed.bin", out, Config=config)
    assert out.getvalue() == data
    assert (
        hashlib.sha256(s3.get_object(Bucket=bucket, Key="managed.bin")["Body"].read()).digest()
        == hashlib.sha256(data).digest()
    )


def test_multipart_checksum_parts_listed(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="ck", ChecksumAlgorithm="CRC32")
    assert upload["ChecksumAlgorithm"] == "CRC32"
    upload_id = upload["UploadId"]
    bodies = [os.urandom(PART), b"last part"]
    parts = []
    for number, body in enumerate(bodies, start=1):
        resp = s3.upload_part(
            Bucket=bucket,
            Key="ck",
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        assert resp["ChecksumCRC32"] == _crc32_b64(body)
        parts.append(
            {"PartNumber": number, "ETag": resp["ETag"], "ChecksumCRC32": resp["ChecksumCRC32"]}
        )
    listed = s3.list_parts(Bucket=bucket, Key="ck", UploadId=upload_id)
    assert [p["ChecksumCRC32"] for p in listed["Parts"]] == [_crc32_b64(b) for b in bodies]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="ck", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket=bucket, Key="ck")["Body"].read() == b"".join(bodies)
