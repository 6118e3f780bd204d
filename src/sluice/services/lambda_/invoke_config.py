"""How a function's invocations are handled: asynchronous settings (retries, event age,
destinations: Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s)), the dead-letter queue
setting's rules, and concurrency (Put/Get/DeleteFunctionConcurrency, GetAccountSettings)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...engine.types import DEFAULT_MAX_AGE, DEFAULT_MAX_RETRIES, EventInvokeConfig
from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import records
from .names import LATEST, invalid, parse_function_name
from .state import LambdaState, page

MIN_UNRESERVED = 100  # AWS keeps this much of the account's concurrency unreserved


def check_dead_letter_config(dlc: dict[str, Any] | None) -> None:
    """A function's DeadLetterConfig (Create/UpdateFunctionConfiguration): a queue or a topic."""
    if not dlc or not dlc.get("TargetArn"):
        return
    parts = dlc["TargetArn"].split(":")
    if len(parts) < 6 or parts[2] not in ("sqs", "sns"):
        raise invalid("The provided target arn is invalid. Only SQS queues and SNS topics are supported as "
                      "dead-letter queues.")


def _no_invoke_config(arn: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"The function {arn} doesn't have an EventInvokeConfig",
                        Type="User")


class InvokeConfigs:
    def __init__(self, state: LambdaState) -> None:
        self.state = state
        self._reserved: tuple[int, int] = (-1, 0)  # (generation, account-wide reserved total)

    # -- for the engine --------------------------------------------------------------------

    def event_invoke_config(self, name: str, qualifier: str) -> EventInvokeConfig:
        """The async settings an invocation of `name:qualifier` runs with (AWS's defaults if none)."""
        c = records.invoke_config(self.state.reader, name, qualifier)
        if c is None:
            return EventInvokeConfig()
        dest = c.get("DestinationConfig") or {}
        return EventInvokeConfig(
            max_retries=c.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES),
            max_age=c.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE),
            on_success=(dest.get("OnSuccess") or {}).get("Destination"),
            on_failure=(dest.get("OnFailure") or {}).get("Destination"),
        )

    def reserved_total(self, except_name: str | None = None) -> int:
        """Concurrency reserved by every function (but `except_name`); the account-wide total is
        asked for at each invocation, so it is kept until the next write."""
        if except_name is not None:
            return records.reserved_total(self.state.reader, except_name)
        generation, total = self._reserved
        if generation != self.state.generation:
            generation = self.state.generation
            total = records.reserved_total(self.state.reader, None)
            self._reserved = (generation, total)
        return total

    # -- asynchronous invocation settings --------------------------------------------------

    def _check_destination(self, name: str, arn: str | None, on_success: bool) -> None:
        if not arn:
            return
        parts = arn.split(":")
        service = parts[2] if len(parts) > 5 and parts[0] == "arn" else ""
        if service == "lambda":
            target = parse_function_name(arn)
            if target.name == name:
                raise invalid("You can't specify the function as a destination for itself.")
            if not records.function_exists(self.state.reader, target.name):
                raise invalid(f"The destination ARN {arn} is invalid.")
            return
        if service in ("sqs", "sns", "events") or (service == "s3" and not on_success):
            return
        success = f"OnSuccess(destination={arn})" if on_success else "null"
        failure = "null" if on_success else f"OnFailure(destination={arn})"
        raise invalid(f"The provided destination config DestinationConfig(onSuccess={success}, "
                      f"onFailure={failure}) is invalid.")

    def _target(self, FunctionName: str, Qualifier: str | None) -> tuple[str, str]:
        ref = parse_function_name(FunctionName, Qualifier)
        try:
            self.state.version_config(ref.name, ref.qualifier)
        except ServiceError as err:
            if err.code == "ResourceNotFoundException":
                raise ServiceError("ResourceNotFoundException", "The function doesn't exist.", Type="User") from None
            raise
        return ref.name, ref.qualifier or LATEST

    def _out(self, name: str, qualifier: str, config: records.Config) -> dict[str, Any]:
        out = {k: v for k, v in config.items() if k != "LastModified"}
        out["FunctionArn"] = self.state.arn(name, qualifier)
        out["LastModified"] = config["LastModified"]
        return out

    def _store(self, name: str, qualifier: str, params: dict[str, Any], merge: bool) -> dict[str, Any]:
        def txn(conn: sqlite3.Connection) -> records.Config:
            stored = records.invoke_config(conn, name, qualifier)
            if merge and stored is None:
                raise _no_invoke_config(self.state.arn(name, qualifier))
            config: records.Config = stored if (merge and stored is not None) else {}
            for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
                if params.get(key) is not None:
                    config[key] = params[key]
            if params.get("DestinationConfig") is not None:
                dest = dict(config.get("DestinationConfig") or {})
                dest.update(params["DestinationConfig"])
                config["DestinationConfig"] = dest
            config.setdefault("DestinationConfig", {})
            config["LastModified"] = self.state.clock.now()
            records.put_invoke_config(conn, name, qualifier, config)
            return config

        return self._out(name, qualifier, self.state.write(txn))

    def _validate(self, name: str, params: dict[str, Any]) -> None:
        dest = params.get("DestinationConfig") or {}
        on_success = (dest.get("OnSuccess") or {}).get("Destination")
        on_failure = (dest.get("OnFailure") or {}).get("Destination")
        if (params.get("MaximumRetryAttempts") is None and params.get("MaximumEventAgeInSeconds") is None
                and not on_success and not on_failure):
            raise invalid("You must specify at least one of error handling or destination setting.")
        self._check_destination(name, on_success, True)
        self._check_destination(name, on_failure, False)

    def put_function_event_invoke_config(self, ctx: RequestContext, FunctionName: str, **params: Any) -> dict[str, Any]:
        name, qualifier = self._target(FunctionName, params.get("Qualifier"))
        self._validate(name, params)
        return self._store(name, qualifier, params, merge=False)

    def update_function_event_invoke_config(self, ctx: RequestContext, FunctionName: str,
                                            **params: Any) -> dict[str, Any]:
        name, qualifier = self._target(FunctionName, params.get("Qualifier"))
        self._validate(name, params)
        return self._store(name, qualifier, params, merge=True)

    def get_function_event_invoke_config(self, ctx: RequestContext, FunctionName: str,
                                         Qualifier: str | None = None, **_: Any) -> dict[str, Any]:
        name, qualifier = self._target(FunctionName, Qualifier)
        config = records.invoke_config(self.state.reader, name, qualifier)
        if config is None:
            raise _no_invoke_config(self.state.arn(name, qualifier))
        return self._out(name, qualifier, config)

    def delete_function_event_invoke_config(self, ctx: RequestContext, FunctionName: str,
                                            Qualifier: str | None = None, **_: Any) -> dict[str, Any]:
        name, qualifier = self._target(FunctionName, Qualifier)

        def txn(conn: sqlite3.Connection) -> None:
            if not records.delete_invoke_config(conn, name, qualifier):
                raise _no_invoke_config(self.state.arn(name, qualifier))

        self.state.write(txn)
        return {}

    def list_function_event_invoke_configs(self, ctx: RequestContext, FunctionName: str,
                                           **params: Any) -> dict[str, Any]:
        name, _ = self._target(FunctionName, None)
        items = [self._out(name, q, c) for q, c in records.invoke_configs(self.state.reader, name)]
        return page(items, params, "FunctionEventInvokeConfigs", key=lambda c: c["FunctionArn"])

    # -- concurrency -----------------------------------------------------------------------

    def put_function_concurrency(self, ctx: RequestContext, FunctionName: str, ReservedConcurrentExecutions: int,
                                 **_: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name
        self.state.function(name)
        limit = self.state.settings.account_concurrency
        if limit - self.reserved_total(except_name=name) - ReservedConcurrentExecutions < MIN_UNRESERVED:
            raise invalid(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}].")
        self.state.write(lambda conn: records.set_reserved_concurrency(conn, name, ReservedConcurrentExecutions))
        return {"ReservedConcurrentExecutions": ReservedConcurrentExecutions}

    def get_function_concurrency(self, ctx: RequestContext, FunctionName: str, **_: Any) -> dict[str, Any]:
        value = self.state.function(parse_function_name(FunctionName).name).reserved_concurrency
        return {} if value is None else {"ReservedConcurrentExecutions": value}

    def delete_function_concurrency(self, ctx: RequestContext, FunctionName: str, **_: Any) -> dict[str, Any]:
        name = parse_function_name(FunctionName).name
        self.state.function(name)
        self.state.write(lambda conn: records.set_reserved_concurrency(conn, name, None))
        return {}

    def get_account_settings(self, ctx: RequestContext, **_: Any) -> dict[str, Any]:
        sizes = records.code_sizes(self.state.reader)
        limit = self.state.settings.account_concurrency
        return {
            "AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                             "CodeSizeZipped": 52428800, "ConcurrentExecutions": limit,
                             "UnreservedConcurrentExecutions": limit - self.reserved_total()},
            "AccountUsage": {"TotalCodeSize": sum(sizes), "FunctionCount": len(sizes)},
        }
