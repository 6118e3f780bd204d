"""Server-side encryption as clients see it: since January 2023 S3 encrypts every new object
(SSE-S3, AES256, unless the request or the bucket's default encryption says otherwise) and says so
in `x-amz-server-side-encryption` on writes and reads.

Sluice's bodies are plain files on the user's own disk, so "encrypted" is what the object records
and answers, not a cipher. The algorithm of a write (the request's, else the bucket default's) is
kept with the object (`STORED_HEADERS`) and returned on GET/HEAD; objects written before it was kept
answer AES256, as every S3 object does now. SSE-C (customer keys) is not supported.

This wraps the object operations rather than living in each of them: one place says which
operations write, which read, and which only echo the bucket default.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from ...protocol.errors import ServiceError
from ...protocol.http import ResponseBody
from .configurations import SSE_ALGORITHMS, default_encryption
from .state import S3State

Operation = Callable[..., Any]

# Writes that choose the algorithm (request member, else the bucket's default), keep it and echo it.
_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
# Reads that answer what the object keeps.
_READS = frozenset({"GetObject", "HeadObject"})
# Parts and completion: answered with the bucket's default.
_ECHOES = frozenset({"UploadPart", "UploadPartCopy", "CompleteMultipartUpload"})
_SSE_MEMBERS = ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")


def _chosen(state: S3State, bucket: str, params: dict[str, Any]) -> dict[str, Any]:
    """The encryption members a write records: the request's, else the bucket default's."""
    algorithm = params.get("ServerSideEncryption")
    if algorithm is not None:
        if algorithm not in SSE_ALGORITHMS:
            raise ServiceError("InvalidArgument", "The encryption method specified is not supported",
                               ArgumentName="x-amz-server-side-encryption", ArgumentValue=algorithm)
        chosen = {"ServerSideEncryption": algorithm}
        if algorithm != "AES256":
            chosen.update({k: params[k] for k in ("SSEKMSKeyId", "BucketKeyEnabled") if params.get(k) is not None})
        return chosen
    default = default_encryption(state, bucket)
    if default is None:
        return {}  # a bucket without default encryption (made as before 2023): a plain object
    chosen = {"ServerSideEncryption": default["SSEAlgorithm"]}
    if default["SSEAlgorithm"] != "AES256":
        if default.get("KMSMasterKeyID"):
            chosen["SSEKMSKeyId"] = default["KMSMasterKeyID"]
        if default.get("BucketKeyEnabled"):
            chosen["BucketKeyEnabled"] = True
    return chosen


def with_encryption(state: S3State, op_name: str, fn: Operation) -> Operation:
    """`fn`, answering and (for writes) recording the object's encryption."""
    if op_name not in _WRITES | _READS | _ECHOES:
        return fn

    @wraps(fn)
    def run(ctx: Any, **params: Any) -> Any:
        customer_key = params.get("SSECustomerAlgorithm") or params.get("CopySourceSSECustomerAlgorithm")
        if customer_key and op_name not in _READS:
            # Writing with a customer's key would keep a plain file and pretend: refused honestly.
            raise ServiceError("NotImplemented", "Sluice does not support SSE-C (customer-provided keys).", 501,
                               sender_fault=False)
        bucket = params.get("Bucket") or ""
        if op_name in _WRITES:
            chosen = _chosen(state, bucket, params)
            params.update(chosen)
            result = fn(ctx, **params)
            if isinstance(result, dict):
                result.update(chosen)
            return result
        result = fn(ctx, **params)
        if customer_key:
            # No object here was written with a customer's key (see above): S3's answer for those.
            body = result.get("Body") if isinstance(result, dict) else None
            if isinstance(body, ResponseBody):
                body.close()  # a large object's open file
            raise ServiceError("InvalidRequest", "The encryption parameters are not applicable to this object.")
        if isinstance(result, dict) and "ServerSideEncryption" not in result:
            if op_name not in _READS:
                result.update(_chosen(state, bucket, {}))
            elif default_encryption(state, bucket) is not None:
                # Objects written before the algorithm was kept; not those of a bucket without
                # default encryption, which are plain.
                result["ServerSideEncryption"] = "AES256"
        return result

    return run
