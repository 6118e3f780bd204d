"""The console's pages, one module per area; each adds its routes in `register(router, console)`.

Importing a page registers nothing: the Console's constructor calls `register_all`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import events, home, iam, journeys, lambda_, logs, metrics, queues, s3, topics

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router

PAGES = (home, s3, lambda_, queues, topics, events, logs, metrics, journeys, iam)


def register_all(router: Router, console: Console) -> None:
    for page in PAGES:
        page.register(router, console)
