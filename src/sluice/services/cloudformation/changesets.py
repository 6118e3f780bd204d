"""Change sets: CreateChangeSet, DescribeChangeSet, ExecuteChangeSet, DeleteChangeSet, ListChangeSets."""

from __future__ import annotations

from .shared import Shared


class ChangeSets:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db
