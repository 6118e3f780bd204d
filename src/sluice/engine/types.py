"""What the engine needs to know about a function when it runs an event."""

from __future__ import annotations

from dataclasses import dataclass

from ..runtime import FunctionSpec

DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_AGE = 21600


@dataclass(frozen=True)
class EventInvokeConfig:
    """A function's asynchronous invocation configuration (PutFunctionEventInvokeConfig)."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_age: int = DEFAULT_MAX_AGE
    on_success: str | None = None
    on_failure: str | None = None


@dataclass(frozen=True)
class ResolvedFunction:
    """A function version as an invocation sees it, resolved from a name and qualifier."""

    name: str
    invoked_arn: str  # as invoked: qualified when a qualifier was given
    executed_version: str  # "$LATEST" or a version number (an alias resolves to its version)
    spec: FunctionSpec
    reserved_concurrency: int | None
    invoke_config: EventInvokeConfig
    dead_letter_arn: str | None

    @property
    def qualified_arn(self) -> str:
        """The ARN with the version that ran (what invocation records carry)."""
        return f"{self.spec.function_arn}:{self.executed_version}"
