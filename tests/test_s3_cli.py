"""The real AWS CLI (v1, `python -m awscli`) against Sluice's S3.

Everything here is what the CLI does against real AWS: output lines, exit codes, error codes in
stderr, multipart uploads above the 8 MiB threshold, URL-encoded listings for odd keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .conftest import AwsCli

MiB = 1024 * 1024
CLI_CHUNK = 8 * MiB  # awscli's default multipart_threshold and multipart_chunksize
T = TypeVar("T")


def new_bucket_name() -> str:
    return f"cli-{uuid.uuid4().hex[:16]}"


def parallel(fn: Callable[..., T], *calls: tuple[str, ...]) -> list[T]:
    """Run independent CLI invocations at once (each one spends ~1.5 s importing botocore)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda args: fn(*args), calls))


def ls_lines(stdout: str) -> list[list[str]]:
    """`aws s3 ls` object lines as [date, time, size, key] (keys may contain spaces)."""
    rows = []
    for line in stdout.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) == 4 and parts[2].isdigit():
            rows.append(parts)
    return rows


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_cli_explicit_endpoint(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with --endpoint-url on the command line and no AWS_ENDPOINT_URL variable."""
    env = os.environ.copy()
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("AWS_ENDPOINT_URL_S3", None)
    cmd = [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, f"aws {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
    return proc


def test_bucket_lifecycle_mb_ls_rb(aws_cli: AwsCli, s3: Any) -> None:
    name = new_bucket_name()
    out = aws_cli("s3", "mb", f"s3://{name}").stdout
    assert out.strip() == f"make_bucket: {name}"

    for i in range(3):
        s3.put_object(Bucket=name, Key=f"k{i}", Body=b"x")

    ls, proc = parallel(
        lambda *a: aws_cli(*a, check=False), ("s3", "ls"), ("s3", "rb", f"s3://{name}")
    )
    # Each bucket line is "<date> <time> <name>".
    assert ls.returncode == 0, ls.stderr
    lines = [line.split() for line in ls.stdout.splitlines()]
    mine = [parts for parts in lines if parts[-1] == name]
    assert len(mine) == 1
    date, clock, _ = mine[0]
    time.strptime(f"{date} {clock}", "%Y-%m-%d %H:%M:%S")

    # rb on a bucket that still has objects fails, as on AWS.
    assert proc.returncode != 0
    assert "BucketNotEmpty" in proc.stderr
    # Still there, still full.
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 3

    out = aws_cli("s3", "rb", "--force", f"s3://{name}").stdout
    assert sorted(line for line in out.splitlines() if line.startswith("delete:")) == [
        f"delete: s3://{name}/k{i}" for i in range(3)
    ]
    assert f"remove_bucket: {name}" in out
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_ls_objects_and_prefixes(aws_cli: AwsCli, s3: Any, bucket: str) -> None:
    objects = {
        "top.txt": b"top",
        "dir/a.txt": b"aaaa",
        "dir/sub/b.bin": b"b" * 1000,
        "other/c d.txt": b"",
    }
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    top, recursive = (
        p.stdout
        for p in parallel(
            aws_cli, ("s3", "ls", f"s3://{bucket}"), ("s3", "ls", "--recursive", f"s3://{bucket}")
        )
    )
    prefixes = sorted(line.split()[-1] for line in top.splitlines() if line.split()[0] == "PRE")
    assert prefixes == ["dir/", "other/"]
    assert [(r[2], r[3]) for r in ls_lines(top)] == [("3", "top.txt")]

    got = {r[3]: int(r[2]) for r in ls_lines(recursive)}
    assert got == {k: len(v) for k, v in objects.items()}


def test_cp_up_and_down(aws_cli: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    body = os.urandom(100_000)
    (tmp_path / "hello world.txt").write_bytes(body)

    out = aws_cli("s3", "cp", "hello world.txt", f"s3://{bucket}/docs/hello world.txt", cwd=tmp_path)
    assert f"upload: ./hello world.txt to s3://{bucket}/docs/hello world.txt" in out.stdout

    head = s3.head_object(Bucket=bucket, Key="docs/hello world.txt")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    # The CLI guesses the content type from the file name.
    assert head["ContentType"] == "text/plain"

    out = aws_cli("s3", "cp", f"s3://{bucket}/docs/hello world.txt", "down/copy.txt", cwd=tmp_path)
    assert f"download: s3://{bucket}/docs/hello world.txt to down/copy.txt" in out.stdout
    assert (tmp_path / "down" / "copy.txt").read_bytes() == body


# The one big transfer of the suite (~110 MiB up and down, multipart both ways): it runs in the
# normal suite, with more than the default per-test timeout.
@pytest.mark.timeout(300)
def test_cp_multipart_110mb(aws_cli: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    size = 110 * MiB
    src = tmp_path / "big.bin"
    sha = hashlib.sha256()
    part_md5s = []
    with src.open("wb") as f:
        written = 0
        while written < size:
            chunk = os.urandom(min(CLI_CHUNK, size - written))
            f.write(chunk)
            sha.update(chunk)
            part_md5s.append(hashlib.md5(chunk).digest())
            written += len(chunk)
    expected_sha = sha.hexdigest()
    # S3's multipart ETag: md5 of the concatenated part md5s, "-", the number of parts.
    expected_etag = f'"{hashlib.md5(b"".join(part_md5s)).hexdigest()}-{len(part_md5s)}"'
    assert len(part_md5s) == 14

    aws_cli("s3", "cp", str(src), f"s3://{bucket}/big.bin")
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == size
    assert head["ETag"] == expected_etag
    src.unlink()

    dst = tmp_path / "big-down.bin"
    aws_cli("s3", "cp", f"s3://{bucket}/big.bin", str(dst))
    assert dst.stat().st_size == size
    got = hashlib.sha256()
    with dst.open("rb") as f:
        while chunk := f.read(CLI_CHUNK):
            got.update(chunk)
    assert got.hexdigest() == expected_sha
    dst.unlink()


SYNC_FILES = {
    "plain.txt": b"plain\n",
    "with space.txt": b"space",
    "dir one/nested file.bin": os.urandom(3000),
    "unicodé/ファイル 名.txt": "héllo wörld ✓".encode(),
    "plus+sign+.txt": b"plus",
    "percent%20literal.txt": b"percent-encoded-looking name",
    "100%.txt": b"hundred",
    "odd #hash ?q &amp =eq ~t.txt": b"odd characters",
    "deep/a/b/c/d.txt": b"deep",
    "empty.txt": b"",
}


def test_sync_up_and_down(aws_cli: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    up = tmp_path / "up"
    for rel, body in SYNC_FILES.items():
        p = up / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
        # Older than any upload: a second sync must find nothing newer to send.
        past = time.time() - 3600
        os.utime(p, (past, past))

    out = aws_cli("s3", "sync", str(up), f"s3://{bucket}/tree").stdout
    assert sum(line.startswith("upload:") for line in out.splitlines()) == len(SYNC_FILES)

    listed = s3.list_objects_v2(Bucket=bucket, Prefix="tree/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(f"tree/{k}" for k in SYNC_FILES)
    for rel, body in SYNC_FILES.items():
        got = s3.get_object(Bucket=bucket, Key=f"tree/{rel}")["Body"].read()
        assert got == body, rel

    down = tmp_path / "down"
    again, out = (
        p.stdout
        for p in parallel(
            aws_cli,
            ("s3", "sync", str(up), f"s3://{bucket}/tree"),
            ("s3", "sync", f"s3://{bucket}/tree", str(down)),
        )
    )
    # Nothing changed locally: nothing to upload.
    assert "upload:" not in again
    assert sum(line.startswith("download:") for line in out.splitlines()) == len(SYNC_FILES)
    assert tree(down) == tree(up)

    # --delete removes what is gone locally, and only that.
    (up / "with space.txt").unlink()
    out = aws_cli("s3", "sync", "--delete", str(up), f"s3://{bucket}/tree").stdout
    assert [line for line in out.splitlines() if line.startswith("delete:")] == [
        f"delete: s3://{bucket}/tree/with space.txt"
    ]
    assert "upload:" not in out
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="tree/")["Contents"]}
    assert keys == {f"tree/{k}" for k in SYNC_FILES if k != "with space.txt"}


def test_keys_with_repeated_slashes(aws_cli: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    # Runs of '/' cannot come from file names, so they go in through s3api put-object.
    keys = {"a//b": b"double", "a///c/d": b"triple", "a/b": b"single", "//lead": b"lead"}
    calls = []
    for i, key in enumerate(["a//b", "a///c/d"]):
        f = tmp_path / f"body{i}"
        f.write_bytes(keys[key])
        calls.append(("s3api", "put-object", "--bucket", bucket, "--key", key, "--body", str(f)))
    parallel(aws_cli, *calls)
    s3.put_object(Bucket=bucket, Key="a/b", Body=keys["a/b"])
    s3.put_object(Bucket=bucket, Key="//lead", Body=keys["//lead"])

    listing = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listing["Contents"]] == sorted(keys)  # byte order
    for key, body in keys.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key

    out = tmp_path / "out"
    delimited, got, ls = parallel(
        aws_cli,
        # An empty segment between two delimiters is its own common prefix.
        ("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "a/", "--delimiter", "/",
         "--output", "json"),
        ("s3api", "get-object", "--bucket", bucket, "--key", "a//b", str(out), "--output", "json"),
        ("s3", "ls", "--recursive", f"s3://{bucket}"),
    )
    delimited = json.loads(delimited.stdout)
    assert [o["Key"] for o in delimited["Contents"]] == ["a/b"]
    assert [p["Prefix"] for p in delimited["CommonPrefixes"]] == ["a//"]
    assert out.read_bytes() == b"double"
    assert json.loads(got.stdout)["ContentLength"] == len(b"double")
    assert sorted(r[3] for r in ls_lines(ls.stdout)) == sorted(keys)


def test_rm_recursive(aws_cli: AwsCli, s3: Any, bucket: str) -> None:
    keys = ["keep/x.txt", "gone/1.txt", "gone/sub/2.txt", "gone/with space/3 + 4.txt"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    out = aws_cli("s3", "rm", "--recursive", f"s3://{bucket}/gone/").stdout
    deleted = sorted(line.removeprefix("delete: ") for line in out.splitlines())
    assert deleted == sorted(f"s3://{bucket}/{k}" for k in keys if k.startswith("gone/"))
    remaining = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert remaining == ["keep/x.txt"]

    aws_cli("s3", "rm", "--recursive", f"s3://{bucket}")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

    # Now empty: a plain rb removes it.
    out = aws_cli("s3", "rb", f"s3://{bucket}").stdout
    assert out.strip() == f"remove_bucket: {bucket}"
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_presign_then_fetch(aws_cli: AwsCli, s3: Any, bucket: str, endpoint: str) -> None:
    body = os.urandom(5000)
    s3.put_object(Bucket=bucket, Key="shared/file name+1.bin", Body=body)

    url = aws_cli(
        "s3", "presign", f"s3://{bucket}/shared/file name+1.bin", "--expires-in", "600"
    ).stdout.strip()
    assert url.startswith(endpoint + "/"), url
    assert "X-Amz-Signature=" in url or "Signature=" in url

    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert r.read() == body


def test_s3api_with_explicit_endpoint_url(endpoint: str, bucket: str, tmp_path: Path) -> None:
    body = os.urandom(20_000)
    src = tmp_path / "in.bin"
    src.write_bytes(body)
    md5 = hashlib.md5(body).hexdigest()

    def run(*args: str) -> dict:
        out = run_cli_explicit_endpoint(endpoint, *args, "--output", "json").stdout
        return json.loads(out)

    put = run(
        "s3api", "put-object", "--bucket", bucket, "--key", "api/obj.bin", "--body", str(src),
        "--content-type", "application/x-test", "--metadata", "color=blue,shape=round",
    )
    assert put["ETag"] == f'"{md5}"'

    out = tmp_path / "out.bin"
    head, got, listing = parallel(
        run,
        ("s3api", "head-object", "--bucket", bucket, "--key", "api/obj.bin"),
        ("s3api", "get-object", "--bucket", bucket, "--key", "api/obj.bin", str(out)),
        # --no-paginate: the raw response, KeyCount included.
        ("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "api/", "--no-paginate"),
    )
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == f'"{md5}"'
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"color": "blue", "shape": "round"}

    assert out.read_bytes() == body
    assert got["ContentLength"] == len(body)
    assert got["ETag"] == f'"{md5}"'

    assert listing["KeyCount"] == 1
    [obj] = listing["Contents"]
    assert obj["Key"] == "api/obj.bin"
    assert obj["Size"] == len(body)
    assert obj["ETag"] == f'"{md5}"'


def test_cli_errors_name_the_aws_error(aws_cli: AwsCli, bucket: str, tmp_path: Path) -> None:
    out = tmp_path / "never"
    missing_key, missing_bucket = parallel(
        lambda *a: aws_cli(*a, check=False),
        ("s3api", "get-object", "--bucket", bucket, "--key", "no/such/key", str(out)),
        ("s3", "ls", f"s3://{new_bucket_name()}"),
    )
    assert missing_key.returncode != 0
    assert "NoSuchKey" in missing_key.stderr
    assert not out.exists() or out.read_bytes() == b""

    assert missing_bucket.returncode != 0
    assert "NoSuchBucket" in missing_bucket.stderr
