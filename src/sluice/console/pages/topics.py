"""SNS pages (k-pages builds them out; the skeleton gives the area its index route)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...protocol.http import HttpResponse
from ..request import ConsoleRequest

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router


def register(router: Router, console: Console) -> None:
    router.get("/topics", topics_index)


async def topics_index(r: ConsoleRequest) -> HttpResponse:
    return r.render("coming.html", area="SNS")
