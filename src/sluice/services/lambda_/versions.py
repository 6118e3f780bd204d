"""Versions and aliases: PublishVersion, ListVersionsByFunction, Create/Get/Update/Delete/ListAliases."""

from __future__ import annotations

import re
import sqlite3
import uuid
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import records
from .names import LATEST, invalid, parse_function_name
from .state import LambdaState, not_found, now_iso, page, precondition_failed, public

# What makes a new version: publishing a $LATEST that differs from the last version in none of
# these returns that version (AWS).
_VERSION_KEYS = ("CodeSha256", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Environment", "Description",
                 "LoggingConfig", "TracingConfig", "Layers")


def publish(state: LambdaState, conn: sqlite3.Connection, name: str, description: str | None,
            code_sha: str | None) -> records.Config:
    """Publish $LATEST as a new version (inside `conn`'s transaction); its configuration."""
    fn = state.function(name, conn)
    latest = fn.config
    if code_sha and code_sha != latest["CodeSha256"]:
        raise invalid(f"CodeSHA256 ({code_sha}) is different from current CodeSHA256 in $LATEST "
                      f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST.")
    prev = records.last_version_config(conn, name)
    if prev is not None and all(prev.get(k) == latest.get(k) for k in _VERSION_KEYS):
        return prev  # AWS: publishing an unchanged $LATEST returns the existing version
    version = str(fn.next_version)
    config = dict(latest)
    config.update(Version=version, FunctionArn=state.arn(name, version), RevisionId=str(uuid.uuid4()),
                  LastModified=now_iso(state.clock))
    if description is not None:
        config["Description"] = description
    records.insert_version(conn, name, version, config)
    return config


def _weights_problem(version: str, weight: Any, constraint: str) -> str:
    return (f"1 validation error detected: Value '{{{version}={weight}}}' at 'routingConfig.additionalVersionWeights' "
            f"failed to satisfy constraint: {constraint}")


class Versions:
    def __init__(self, state: LambdaState) -> None:
        self.state = state

    def publish_version(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name

        def txn(conn: sqlite3.Connection) -> records.Config:
            latest = self.state.function(name, conn).config
            if params.get("RevisionId") and params["RevisionId"] != latest["RevisionId"]:
                raise precondition_failed()
            return publish(self.state, conn, name, params.get("Description"), params.get("CodeSha256"))

        return public(self.state.write(txn))

    def list_versions_by_function(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name
        versions = [public(self.state.function(name).config)]
        versions += [public(c) for c in records.version_configs(self.state.reader, name)]
        return page(versions, params, "Versions", key=lambda v: v["Version"])

    # -- aliases ---------------------------------------------------------------------------

    def _alias_out(self, name: str, config: records.Config) -> dict[str, Any]:
        out = dict(config)
        out["AliasArn"] = self.state.arn(name, config["Name"])
        return out

    def _check_version_exists(self, conn: sqlite3.Connection, name: str, version: str) -> None:
        if version != LATEST and records.version_config(conn, name, version) is None:
            raise not_found(self.state.arn(name, version))

    def _routing(self, conn: sqlite3.Connection, name: str, primary: str,
                 routing: dict[str, Any] | None) -> dict[str, Any] | None:
        """A weighted alias's RoutingConfig checked as AWS checks it (its messages, in its order);
        None when there is none (an empty one clears it)."""
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if not weights:
            return None
        if len(weights) > 1:
            raise invalid("Number of items in AdditionalVersionWeights cannot be greater than 1")
        (version, weight), = weights.items()
        # AWS refuses a weight of 1.0 too, with the range message (an alias sending all of its
        # traffic elsewhere should point there instead).
        if not isinstance(weight, (int, float)) or not 0.0 <= weight < 1.0:
            raise ServiceError("ValidationException", _weights_problem(version, weight, "Map value must satisfy "
                               "constraint: [Member must have value less than or equal to 1.0, Member must have "
                               "value greater than or equal to 0.0, Member must not be null]"))
        if version == primary:
            raise invalid(f"Invalid function version {primary}. Function version {primary} is already included "
                          "in routing configuration.")
        if primary == LATEST:
            raise invalid("$LATEST is not supported for an alias pointing to more than 1 version")
        if not re.fullmatch(r"[0-9]{1,1024}", version):
            raise ServiceError("ValidationException", _weights_problem(version, weight, "Map keys must satisfy "
                               "constraint: [Member must have length less than or equal to 1024, Member must have "
                               "length greater than or equal to 1, Member must satisfy regular expression pattern: "
                               "[0-9]+, Member must not be null]"))
        additional = records.version_config(conn, name, version)
        if additional is None:
            raise not_found(self.state.arn(name, version))
        main = records.version_config(conn, name, primary) or {}
        if additional.get("Role") != main.get("Role"):
            raise invalid("Specified versions must be associated with the same execution role")
        return {"AdditionalVersionWeights": {version: float(weight)}}

    def _alias(self, name: str, alias: str, conn: sqlite3.Connection | None = None) -> records.Config:
        c = conn or self.state.reader
        self.state.function(name, c)
        config = records.alias_config(c, name, alias)
        if config is None:
            raise ServiceError("ResourceNotFoundException", f"Cannot find alias arn: {self.state.arn(name, alias)}",
                               Type="User")
        return config

    def create_alias(self, ctx: RequestContext, FunctionName: str, Name: str, FunctionVersion: str,
                     **params: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name
        if Name.isdigit() or Name == LATEST:
            raise ServiceError("ValidationException",
                               f"1 validation error detected: Value '{Name}' at 'name' failed to satisfy constraint: "
                               "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
        config = {"Name": Name, "FunctionVersion": FunctionVersion, "Description": params.get("Description") or "",
                  "RevisionId": str(uuid.uuid4())}

        def txn(conn: sqlite3.Connection) -> None:
            self.state.function(name, conn)
            self._check_version_exists(conn, name, FunctionVersion)
            routing = self._routing(conn, name, FunctionVersion, params.get("RoutingConfig"))
            if routing is not None:
                config["RoutingConfig"] = routing
            if records.alias_exists(conn, name, Name):
                raise ServiceError("ResourceConflictException",
                                   f"Alias already exists: {self.state.arn(name, Name)}", Type="User")
            records.insert_alias(conn, name, Name, config)

        self.state.write(txn)
        return self._alias_out(name, config)

    def get_alias(self, ctx: RequestContext, FunctionName: str, Name: str, **_: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name
        return self._alias_out(name, self._alias(name, Name))

    def update_alias(self, ctx: RequestContext, FunctionName: str, Name: str, **params: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name

        def txn(conn: sqlite3.Connection) -> records.Config:
            config = self._alias(name, Name, conn)
            if params.get("RevisionId") and params["RevisionId"] != config["RevisionId"]:
                raise precondition_failed()
            if params.get("FunctionVersion"):
                self._check_version_exists(conn, name, params["FunctionVersion"])
                config["FunctionVersion"] = params["FunctionVersion"]
            if params.get("Description") is not None:
                config["Description"] = params["Description"]
            routing = params["RoutingConfig"] if params.get("RoutingConfig") is not None else config.get("RoutingConfig")
            checked = self._routing(conn, name, config["FunctionVersion"], routing)
            if checked is None:
                config.pop("RoutingConfig", None)
            else:
                config["RoutingConfig"] = checked
            config["RevisionId"] = str(uuid.uuid4())
            records.update_alias(conn, name, Name, config)
            return config

        return self._alias_out(name, self.state.write(txn))

    def delete_alias(self, ctx: RequestContext, FunctionName: str, Name: str, **_: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name
        self.state.function(name)
        self.state.write(lambda conn: records.delete_alias(conn, name, Name))
        return {}

    def list_aliases(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name
        self.state.function(name)
        aliases = [self._alias_out(name, c) for c in records.alias_configs(self.state.reader, name)]
        if params.get("FunctionVersion"):
            aliases = [a for a in aliases if a["FunctionVersion"] == params["FunctionVersion"]]
        return page(aliases, params, "Aliases", key=lambda a: a["Name"])
