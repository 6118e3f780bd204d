"""Sluice's web console (served by the gateway under /_sluice/console/)."""

from .app import PREFIX, Console, ConsoleViews

__all__ = ["PREFIX", "Console", "ConsoleViews"]
