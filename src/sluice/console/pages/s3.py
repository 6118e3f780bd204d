"""S3 pages: buckets (create, delete), objects by prefix with folders, uploads from the browser,
downloads, deletes, an object's metadata and tags. A bucket's event notifications are in
s3_notify.py. Every action is the S3 operation the API has, with its validation and errors."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ...protocol.errors import ServiceError
from ...protocol.http import HttpResponse, ResponseBody
from ..request import ConsoleRequest
from ..sse import EventStream
from . import s3_notify

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

PAGE_SIZE = 200  # objects per page: a bucket of any size renders in one short listing
PREVIEW_BYTES = 16 * 1024  # a text object's first bytes shown on its page


def register(router: Router, console: Console) -> None:
    router.get("/s3", s3_buckets)
    router.post("/s3/buckets", s3_create_bucket)
    router.get("/s3/buckets/{bucket}", s3_bucket)
    router.get("/s3/buckets/{bucket}/objects", s3_objects)
    router.get("/s3/buckets/{bucket}/live", s3_objects_live)
    router.post("/s3/buckets/{bucket}/delete-bucket", s3_delete_bucket)
    router.post("/s3/buckets/{bucket}/folder", s3_create_folder)
    router.post("/s3/buckets/{bucket}/upload", s3_upload)
    router.get("/s3/buckets/{bucket}/objects/{key:path}", s3_object)
    router.get("/s3/buckets/{bucket}/download/{key:path}", s3_download)
    router.post("/s3/buckets/{bucket}/delete/{key:path}", s3_delete_object)
    # The object list's one delete form: the key comes in the body, from the row's button.
    router.post("/s3/buckets/{bucket}/delete", s3_delete_object, name="s3_delete_listed_object")
    router.post("/s3/buckets/{bucket}/tags/{key:path}", s3_put_tags)
    router.post("/s3/buckets/{bucket}/metadata/{key:path}", s3_put_metadata)
    s3_notify.register(router, console)


# -- buckets -----------------------------------------------------------------------------------


async def s3_buckets(r: ConsoleRequest) -> HttpResponse:
    found = await r.call("s3", "ListBuckets")
    return r.render("s3/buckets.html", buckets=found.get("Buckets", []), region=r.console.settings.region)


async def s3_create_bucket(r: ConsoleRequest) -> HttpResponse:
    name = r.field("name").strip()
    params: dict[str, Any] = {"Bucket": name}
    region = r.field("region").strip()
    if region and region != "us-east-1":  # us-east-1 takes no LocationConstraint, as the API says
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    await r.call("s3", "CreateBucket", **params)
    return r.redirect(r.url("s3_bucket", bucket=name))


async def s3_delete_bucket(r: ConsoleRequest) -> HttpResponse:
    await r.call("s3", "DeleteBucket", Bucket=r.params["bucket"])
    return r.redirect(r.url("s3_buckets"))


# -- objects -----------------------------------------------------------------------------------


async def _listing(r: ConsoleRequest) -> dict[str, Any]:
    bucket = r.params["bucket"]
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": r.arg("prefix"), "Delimiter": "/", "MaxKeys": PAGE_SIZE}
    token = r.arg("token")
    if token:
        params["ContinuationToken"] = token
    found = await r.call("s3", "ListObjectsV2", **params)
    return {"bucket": bucket, "prefix": r.arg("prefix"), "listing": found, "crumbs": _crumbs(r.arg("prefix"))}


async def s3_bucket(r: ConsoleRequest) -> HttpResponse:
    return r.render("s3/bucket.html", tab="objects", **await _listing(r))


async def s3_objects(r: ConsoleRequest) -> HttpResponse:
    """The object table alone (htmx refreshes it after uploads and deletes)."""
    return r.render("s3/_objects.html", **await _listing(r))


async def s3_objects_live(r: ConsoleRequest) -> EventStream:
    """The object table pushed whenever it changes (uploads by the pipeline, the CLI, a handler)."""

    async def render() -> str:
        try:
            return r.render_text("s3/_objects.html", **await _listing(r))
        except ServiceError as err:  # the bucket deleted meanwhile, say: shown where the table was
            return r.render_text("_error.html", error=err)

    return EventStream.watch("objects", render, interval=2.0)


async def s3_create_folder(r: ConsoleRequest) -> HttpResponse:
    """A folder is what the S3 console makes it: an empty object whose key ends with '/'."""
    bucket, name = r.params["bucket"], r.field("name").strip().strip("/")
    if not name:
        raise ServiceError("InvalidArgument", "Folder names can't be empty.")
    prefix = r.field("prefix") + name + "/"
    await r.call("s3", "PutObject", Bucket=bucket, Key=prefix, Body=io.BytesIO(b""))
    return r.redirect(r.url("s3_bucket", bucket=bucket, _query={"prefix": prefix}))


async def s3_upload(r: ConsoleRequest) -> HttpResponse:
    """One file of a browser upload (console.js sends each dropped file's bytes)."""
    bucket, key = r.params["bucket"], r.arg("key")
    content_type = r.http.headers.get("content-type") or "application/octet-stream"
    try:
        if not key:  # the wire cannot send a PutObject without a key (that would be CreateBucket)
            raise ServiceError("InvalidArgument", "An object key must be at least one character long.")
        result = await r.call("s3", "PutObject", Bucket=bucket, Key=key, Body=io.BytesIO(r.body),
                              ContentType=content_type)
    except ServiceError as err:
        response = r.error(err)
        response.headers.append(("X-Sluice-Error", f"{err.code}: {err.message}"[:300]))
        return response
    return r.render("s3/_uploaded.html", bucket=bucket, key=key, size=len(r.body), etag=result.get("ETag", ""))


async def s3_object(r: ConsoleRequest) -> HttpResponse:
    bucket, key = r.params["bucket"], r.params["key"]
    head = await r.call("s3", "HeadObject", Bucket=bucket, Key=key)
    tags, tags_error = await r.attempt("s3", "GetObjectTagging", Bucket=bucket, Key=key)
    preview = None
    if _is_text(head.get("ContentType", "")) and head.get("ContentLength", 0):
        got = await r.call("s3", "GetObject", Bucket=bucket, Key=key, Range=f"bytes=0-{PREVIEW_BYTES - 1}")
        body = got.get("Body", b"")
        if isinstance(body, ResponseBody):
            body = await r.console.run_blocking(_drain, body)
        preview = body.decode("utf-8", "replace")
    parent = key.rsplit("/", 1)[0] + "/" if "/" in key.rstrip("/") else ""
    return r.render("s3/object.html", bucket=bucket, key=key, head=head, tags=tags.get("TagSet", []),
                    tags_error=tags_error, preview=preview, truncated=head.get("ContentLength", 0) > PREVIEW_BYTES,
                    crumbs=_crumbs(parent))


async def s3_download(r: ConsoleRequest) -> HttpResponse:
    bucket, key = r.params["bucket"], r.params["key"]
    got = await r.call("s3", "GetObject", Bucket=bucket, Key=key)
    body = got.get("Body", b"")
    filename = key.rstrip("/").rsplit("/", 1)[-1] or "download"
    headers = [("Content-Type", got.get("ContentType") or "application/octet-stream"),
               ("Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename, safe='')}")]
    return HttpResponse(200, headers, body)


async def s3_delete_object(r: ConsoleRequest) -> HttpResponse:
    bucket, key = r.params["bucket"], r.params.get("key") or r.field("key")
    if not key:  # the wire cannot send a DeleteObject without a key (that would be DeleteBucket)
        raise ServiceError("InvalidArgument", "An object key must be at least one character long.")
    await r.call("s3", "DeleteObject", Bucket=bucket, Key=key)
    back = r.field("prefix")
    if r.field("from") == "list" and r.htmx:
        return r.render("s3/_objects.html", **await _listing_after_delete(r, bucket, back))
    return r.redirect(r.url("s3_bucket", bucket=bucket, _query={"prefix": back}))


async def _listing_after_delete(r: ConsoleRequest, bucket: str, prefix: str) -> dict[str, Any]:
    found = await r.call("s3", "ListObjectsV2", Bucket=bucket, Prefix=prefix, Delimiter="/", MaxKeys=PAGE_SIZE)
    return {"bucket": bucket, "prefix": prefix, "listing": found, "crumbs": _crumbs(prefix)}


async def s3_put_tags(r: ConsoleRequest) -> HttpResponse:
    bucket, key = r.params["bucket"], r.params["key"]
    pairs = _pairs(r.field("tags"))
    if pairs:
        await r.call("s3", "PutObjectTagging", Bucket=bucket, Key=key,
                     Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in pairs]})
    else:
        await r.call("s3", "DeleteObjectTagging", Bucket=bucket, Key=key)
    return r.redirect(r.url("s3_object", bucket=bucket, key=key))


async def s3_put_metadata(r: ConsoleRequest) -> HttpResponse:
    """S3 metadata cannot change in place: the S3 console copies the object onto itself with the
    new metadata (CopyObject, MetadataDirective REPLACE), and so does this."""
    bucket, key = r.params["bucket"], r.params["key"]
    params: dict[str, Any] = {"Bucket": bucket, "Key": key, "CopySource": f"{quote(bucket)}/{quote(key)}",
                              "MetadataDirective": "REPLACE", "Metadata": dict(_pairs(r.field("metadata")))}
    content_type = r.field("content_type").strip()
    if content_type:
        params["ContentType"] = content_type
    await r.call("s3", "CopyObject", **params)
    return r.redirect(r.url("s3_object", bucket=bucket, key=key))


# -- helpers -----------------------------------------------------------------------------------


def _crumbs(prefix: str) -> list[tuple[str, str]]:
    """'a/b/' -> [('a', 'a/'), ('b', 'a/b/')]: the folders above a listing."""
    out: list[tuple[str, str]] = []
    path = ""
    for part in [p for p in prefix.split("/") if p]:
        path += part + "/"
        out.append((part, path))
    return out


def _pairs(text: str) -> list[tuple[str, str]]:
    """'k=v' lines (blank lines skipped) -> pairs; a line without '=' is a key with an empty value."""
    out = []
    for line in text.splitlines():
        if line.strip():
            k, _, v = line.partition("=")
            out.append((k.strip(), v.strip()))
    return out


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith("text/") or kind in ("application/json", "application/xml", "application/x-yaml",
                                                "application/javascript")


def _drain(body: ResponseBody) -> bytes:
    try:
        return b"".join(body)
    finally:
        body.close()
