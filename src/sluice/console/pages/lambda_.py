"""Lambda pages: functions, a function's code, configuration, triggers, asynchronous invocation,
concurrency, versions and aliases, and the Test button."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...protocol.http import HttpResponse
from ..request import ConsoleRequest

if TYPE_CHECKING:
    from ..app import Console
    from ..router import Router


def register(router: Router, console: Console) -> None:
    router.get("/lambda", lambda_functions)
    router.get("/lambda/functions/{name}", lambda_function)


async def lambda_functions(r: ConsoleRequest) -> HttpResponse:
    found = await r.call("lambda", "ListFunctions")
    return r.render("lambda/functions.html", functions=found.get("Functions", []))


async def lambda_function(r: ConsoleRequest) -> HttpResponse:
    found = await r.call("lambda", "GetFunction", FunctionName=r.params["name"])
    return r.render("lambda/function.html", fn=found)
