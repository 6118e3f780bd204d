"""S3 pages: buckets, objects by prefix, uploads, downloads, metadata, tags, notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...protocol.http import HttpResponse
from ..request import ConsoleRequest

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router


def register(router: Router, console: Console) -> None:
    router.get("/s3", s3_buckets)
    router.post("/s3/buckets", s3_create_bucket)
    router.get("/s3/buckets/{bucket}", s3_bucket)


async def s3_buckets(r: ConsoleRequest) -> HttpResponse:
    found = await r.call("s3", "ListBuckets")
    return r.render("s3/buckets.html", buckets=found.get("Buckets", []))


async def s3_bucket(r: ConsoleRequest) -> HttpResponse:
    found = await r.call("s3", "ListObjectsV2", Bucket=r.params["bucket"], Prefix=r.arg("prefix"), Delimiter="/")
    return r.render("s3/bucket.html", bucket=r.params["bucket"], listing=found)


async def s3_create_bucket(r: ConsoleRequest) -> HttpResponse:
    name = r.field("name").strip()
    params: dict[str, object] = {"Bucket": name}
    region = r.field("region").strip()
    if region and region != "us-east-1":  # us-east-1 takes no LocationConstraint, as the API says
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    await r.call("s3", "CreateBucket", **params)
    return r.redirect(r.url("s3_bucket", bucket=name))
