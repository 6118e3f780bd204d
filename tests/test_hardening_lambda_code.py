"""Deployment packages that cannot be extracted, whichever way they arrive (CreateFunction,
UpdateFunctionCode, from S3): Lambda's 400, nothing left in the data dir, the server well."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .bad_input_helpers import assert_healthy, files_under
from .conftest import make_client
from .lambda_helpers import ROLE, unique, zip_code
from .server import SluiceProcess

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
HANDLER = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SluiceProcess]:
    proc = SluiceProcess(tmp_path_factory.mktemp("hardening-zip") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def lam(server: SluiceProcess) -> Any:
    return make_client("lambda", server.endpoint)


def build(*entries: tuple[str | zipfile.ZipInfo, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def declaring(size: int, actual: bytes, name: str = "lie.txt") -> bytes:
    """A stored one-member zip whose headers claim `size` bytes for a member of `actual`."""
    raw = bytearray(build((name, actual), method=zipfile.ZIP_STORED))
    struct.pack_into("<I", raw, 22, size)  # local header: uncompressed size
    struct.pack_into("<I", raw, raw.find(b"PK\x01\x02") + 24, size)  # central directory
    return bytes(raw)


GOOD = zip_code(HANDLER)
BAD_ZIPS = {
    "no entries": (build(), "Uploaded file must be a non-empty zip"),
    "a file, then a path through it": (build(("a", b"x"), ("a/b.txt", b"y")), UNZIP_FAILED),
    "a symlink, then a path through it": (build(symlink("link", "/etc"), ("link/passwd", b"x")), UNZIP_FAILED),
    "a declared size below the real one": (declaring(10, b"A" * 1000), UNZIP_FAILED),
    "truncated": (GOOD[: len(GOOD) // 2], UNZIP_FAILED),
    "corrupt data": (GOOD[:40] + bytes([GOOD[40] ^ 0xFF]) + GOOD[41:], UNZIP_FAILED),
    "not a zip": (b"hello", UNZIP_FAILED),
}


def refused(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call()
    resp = err.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"], resp["Error"]["Message"]


def create(lam: Any, name: str, code: dict[str, Any]) -> Any:
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                               Code=code)


@pytest.mark.parametrize("case", sorted(BAD_ZIPS))
def test_bad_zip_is_refused_and_leaves_nothing(server: SluiceProcess, lam: Any, case: str) -> None:
    zipped, message = BAD_ZIPS[case]
    before = files_under(server.data_dir)
    name = unique()
    assert refused(lambda: create(lam, name, {"ZipFile": zipped})) == (400, "InvalidParameterValueException", message)
    assert files_under(server.data_dir) == before
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)
    assert_healthy(server)


def test_bad_zip_in_update_function_code(server: SluiceProcess, lam: Any) -> None:
    name = unique()
    create(lam, name, {"ZipFile": GOOD})
    before = files_under(server.data_dir)
    sha = lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    for zipped, message in BAD_ZIPS.values():
        assert refused(lambda z=zipped: lam.update_function_code(FunctionName=name, ZipFile=z)) == (
            400, "InvalidParameterValueException", message)
    assert files_under(server.data_dir) == before
    assert lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"] == sha
    assert lam.invoke(FunctionName=name, Payload=b'{"still": "runs"}')["Payload"].read() == b'{"still": "runs"}'
    assert_healthy(server)


def test_bad_zip_from_s3(server: SluiceProcess, lam: Any) -> None:
    s3 = make_client("s3", server.endpoint)
    bucket = unique("code")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="conflict.zip", Body=BAD_ZIPS["a file, then a path through it"][0])
    before = files_under(server.data_dir)
    assert refused(lambda: create(lam, unique(), {"S3Bucket": bucket, "S3Key": "conflict.zip"})) == (
        400, "InvalidParameterValueException", UNZIP_FAILED)
    assert files_under(server.data_dir) == before
    assert_healthy(server)


def test_unzipped_size_counts_the_bytes_extracted(server: SluiceProcess, lam: Any) -> None:
    # 251 MB of zeros deflate to about 250 KB: the limit is met while extracting, and what was
    # extracted so far is removed.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("handler.py", HANDLER)
        with z.open("zeros.bin", "w") as member:
            for _ in range(251):
                member.write(bytes(1024 * 1024))
    big = buf.getvalue()
    before = files_under(server.data_dir)
    assert refused(lambda: create(lam, unique(), {"ZipFile": big})) == (
        400, "InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes")
    assert files_under(server.data_dir) == before
    assert_healthy(server)


def test_a_declared_size_is_not_the_unzipped_size(server: SluiceProcess, lam: Any) -> None:
    # The headers claim 300 MB, over the limit; the member holds a few bytes (its CRC matches
    # them), and that is what gets extracted and run.
    name = unique()
    create(lam, name, {"ZipFile": declaring(300 * 1024 * 1024, HANDLER.encode(), "handler.py")})
    assert lam.invoke(FunctionName=name, Payload=b'{"n": 1}')["Payload"].read() == b'{"n": 1}'
    assert_healthy(server)
