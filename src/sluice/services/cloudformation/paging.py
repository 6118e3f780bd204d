"""NextToken pages for the CloudFormation list operations (ListStacks, DescribeStacks,
ListStackResources; DescribeStackEvents pages by event sequence in stacks.py).

AWS documents these pages by size ("if the output exceeds 1 MB") and in practice answers 100
items a page; Sluice pages at 100 items. A token names the last item of its page (a stack id,
a logical id), so items added meanwhile (a new stack listed first) shift nothing."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

from . import errors

PAGE_SIZE = 100

T = TypeVar("T")


def page(items: Sequence[T], key: Callable[[T], str], token: str | None,
         size: int = PAGE_SIZE) -> tuple[list[T], str | None]:
    """The page of `items` after `token` (the first page without one) and the next page's token."""
    start = 0
    if token:
        try:
            last = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise errors.validation("Invalid NextToken") from None
        keys = [key(item) for item in items]
        if last not in keys:
            # The item the previous page ended with is gone (a resource removed meanwhile).
            raise errors.validation("Invalid NextToken")
        start = keys.index(last) + 1
    chunk = list(items[start:start + size])
    if start + size >= len(items) or not chunk:
        return chunk, None
    return chunk, base64.urlsafe_b64encode(key(chunk[-1]).encode()).decode()
