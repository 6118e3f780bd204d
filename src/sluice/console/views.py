"""What the composition root gives the console, importable without the console itself
(Jinja2, templates and pages load with the console's first request: console/deferred.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PREFIX = "/_sluice/console"


@dataclass
class ConsoleViews:
    """The engine's read views the pages use (given by the composition root; None: not shown).

    Pages read them through `Console.views` and run them in the worker pool (they read the
    store)."""

    journeys: Any = None  # engine.journey.Journeys: find(target, every) -> journeys
    outcome: Callable[[str], Any] | None = None  # async outcome by Lambda request id
    event_state: Callable[[str], Any] | None = None  # an async event's retries state
    queue_messages: Callable[[str], Any] | None = None  # peek at a queue without consuming
    status: Callable[[], Any] | None = None  # `sluice status`'s view
    failures: Callable[[int], Any] | None = None  # recent failed async events (engine/introspect.py)
    now: Callable[[], float] = time.time  # the engine's clock (metric and log times follow it)
    # A function's deployment package by (name, SHA-256 hex): what GetFunction's Code.Location serves.
    code_zip: Callable[[str, str], bytes | None] | None = None
