"""One member of a bucket's configuration document (the JSON in its row, where versioning and
tags live too): read it, set it, remove it. The bucket configurations tools read on every plan
(CORS, encryption, website, logging...) are each one key of that document, so a new one costs no
table and no migration."""

from __future__ import annotations

import copy
import sqlite3
from typing import Any

from . import core, errors
from .records import buckets
from .state import S3State


def read(state: S3State, bucket: str, key: str) -> Any:
    """The member `key` of the bucket's document (None if unset); NoSuchBucket if no bucket.
    A copy: the document is the bucket view's, shared by every request (bucket_views.py)."""
    return copy.deepcopy(core.bucket(state, bucket).config.get(key))


def write(state: S3State, bucket: str, key: str, value: Any) -> None:
    """Set (or, with None, remove) the member `key`, in one transaction."""

    def txn(conn: sqlite3.Connection) -> None:
        document = buckets.config(conn, bucket)
        if document is None:
            raise errors.no_such_bucket(bucket)
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
        buckets.set_config(conn, bucket, document)

    state.db.write(txn)
