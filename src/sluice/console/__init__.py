"""Sluice's web console (served by the gateway under /_sluice/console/).

Only what the composition root needs at start-up is imported here; the console itself
(console/app.py: Jinja2, templates, pages) loads with its first request (console/deferred.py)."""

from .deferred import DeferredConsole
from .views import PREFIX, ConsoleViews

__all__ = ["PREFIX", "ConsoleViews", "DeferredConsole"]
