"""What every part of the Lambda service shares: the store, the clock, the settings, and the
lookups each operation starts with (a function, the configuration a qualifier points at)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ...clock import Clock
from ...protocol.errors import ServiceError
from ...settings import Settings
from ...store.db import Database
from . import records
from .names import LATEST, function_arn

T = TypeVar("T")


def not_found(arn: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Function not found: {arn}", Type="User")


def precondition_failed() -> ServiceError:
    return ServiceError("PreconditionFailedException",
                        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/"
                        "GetAlias API to retrieve the latest Revision Id", Type="User")


def public(config: records.Config) -> dict[str, Any]:
    """A stored configuration as the API shows it (without Sluice's own `_` keys)."""
    return {k: v for k, v in config.items() if not k.startswith("_")}


def now_iso(clock: Clock) -> str:
    t = clock.utcnow()
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


class LambdaState:
    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        # Answers derived from the records (resolved functions, the reserved total) are cached
        # until the next write to any Lambda state: the generation moves on with each write.
        self.generation = 0
        # Python runtimes that run on another Python version here, and how (runtime -> note).
        self.runtime_notes: Mapping[str, str] = {}

    def shown(self, config: records.Config) -> dict[str, Any]:
        """A configuration as GetFunction shows it: a runtime that runs on another Python
        version says so in StateReason; the function stays Active, as it does run."""
        out = public(config)
        note = self.runtime_notes.get(config.get("Runtime") or "")
        if note and out.get("State") == "Active":
            out["StateReason"] = note
        return out

    @property
    def reader(self) -> sqlite3.Connection:
        return self.db.reader

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self.db.write(fn)
        finally:
            self.generation += 1

    def arn(self, name: str, qualifier: str | None = None) -> str:
        return function_arn(self.settings.region, self.settings.account_id, name, qualifier)

    def function(self, name: str, conn: sqlite3.Connection | None = None) -> records.FunctionRecord:
        found = records.function(conn or self.reader, name)
        if found is None:
            raise not_found(self.arn(name))
        return found

    def version_config(self, name: str, qualifier: str | None,
                       conn: sqlite3.Connection | None = None) -> tuple[records.Config, str]:
        """The configuration a qualifier points at, and the version it resolves to."""
        c = conn or self.reader
        fn = self.function(name, c)
        if qualifier is None or qualifier == LATEST:
            return fn.config, LATEST
        if qualifier.isdigit():
            config = records.version_config(c, name, qualifier)
            if config is None:
                raise not_found(self.arn(name, qualifier))
            return config, qualifier
        alias = records.alias_config(c, name, qualifier)
        if alias is None:
            raise not_found(self.arn(name, qualifier))
        version = alias["FunctionVersion"]
        return self.version_config(name, version, c)[0], version


def page(items: list[dict[str, Any]], params: dict[str, Any], key_name: str,
         key: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    """One page of a listing that pages by Marker / MaxItems / NextMarker."""
    marker = params.get("Marker")
    limit = params.get("MaxItems") or 50
    start = 0
    if marker:
        keys = [str(key(i)) for i in items]
        start = keys.index(marker) + 1 if marker in keys else len(items)
    chunk = items[start:start + limit]
    result: dict[str, Any] = {key_name: chunk}
    if start + limit < len(items):
        result["NextMarker"] = str(key(chunk[-1]))
    return result


