"""From a function name and qualifier to everything an invocation needs (`ResolvedFunction`):
the version that runs, its spec for an execution environment, its role's credentials, its async
settings and dead-letter queue. The engine asks at every attempt, so answers are cached."""

from __future__ import annotations

import base64
import hashlib
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from ...engine.types import ResolvedFunction
from ...runtime import FunctionSpec
from ...runtime.python import PythonChoice
from . import records
from .code import CodeStore
from .invoke_config import InvokeConfigs
from .layer_use import FunctionLayers
from .names import LATEST, FunctionRef, parse_function_name
from .roles import ExecutionRoles
from .state import LambdaState

RENEW_MARGIN = 600.0  # seconds before a role session expires that functions get new credentials
_CACHE_LIMIT = 10_000
ROUTING_SEED = 0


def placeholder_credentials(role: str, name: str) -> tuple[str, str, str]:
    """Per-function temporary credentials; IAM enforcement maps them back to the role."""
    digest = hashlib.sha256(f"{role}|{name}".encode()).hexdigest().upper()
    return "ASIA" + digest[:16], digest[16:56], base64.b64encode(f"sluice:{role}:{name}".encode()).decode()


@dataclass(frozen=True)
class Routes:
    """Where invocations of a qualifier go: one version, or two by weight (a weighted alias)."""

    primary: ResolvedFunction
    additional: ResolvedFunction | None = None
    weight: float = 0.0  # the additional version's share

    def pick(self, rng: random.Random) -> ResolvedFunction:
        if self.additional is not None and rng.random() < self.weight:
            return self.additional
        return self.primary


class Resolver:
    def __init__(self, state: LambdaState, code: CodeStore, layers: FunctionLayers, roles: ExecutionRoles,
                 invoke_configs: InvokeConfigs, python: Mapping[str, PythonChoice]) -> None:
        """`python`: the interpreter and runtime libraries of each Python runtime (none given:
        Sluice's own Python runs them all)."""
        self.state = state
        self.code = code
        self.layers = layers
        self.roles = roles
        self.invoke_configs = invoke_configs
        self.python = python
        # Seeded: the same calls route the same way on every start, so a test of the split is
        # reproducible; the split itself is still by weight, as on AWS.
        self._random = random.Random(ROUTING_SEED)
        # (name, qualifier) -> (generation, routes, when the role credentials must be renewed or None)
        self._cache: dict[tuple[str, str | None], tuple[int, Routes, float | None]] = {}

    def reset(self) -> None:
        """Route as a fresh server would: after a testing reset, a test sees the same split."""
        self._random.seed(ROUTING_SEED)
        self._cache.clear()

    def resolve(self, FunctionName: str, Qualifier: str | None = None) -> ResolvedFunction:  # noqa: N803
        """The function version to run now. A weighted alias picks one of its two versions at
        each call, that is at each invocation (each attempt of an async one), as Lambda does."""
        key = (FunctionName, Qualifier)
        generation = self.state.generation
        cached = self._cache.get(key)
        if cached is not None and cached[0] == generation and (cached[2] is None or cached[2] > self.state.clock.now()):
            return cached[1].pick(self._random)
        routes, renew_at = self._routes(FunctionName, Qualifier)
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (generation, routes, renew_at)
        return routes.pick(self._random)

    def _routes(self, function_name: str, qualifier: str | None) -> tuple[Routes, float | None]:
        ref = parse_function_name(function_name, qualifier)
        config, version = self.state.version_config(ref.name, ref.qualifier)
        primary, renew_at = self._resolve(ref, config, version)
        alias = None
        if ref.qualifier and ref.qualifier != LATEST and not ref.qualifier.isdigit():
            alias = records.alias_config(self.state.reader, ref.name, ref.qualifier)
        weights = ((alias or {}).get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        if not weights:
            return Routes(primary), renew_at
        (extra, weight), = weights.items()  # CreateAlias/UpdateAlias allow one additional version
        extra_config, _ = self.state.version_config(ref.name, extra)
        secondary, extra_renew = self._resolve(ref, extra_config, extra)
        renewals = [t for t in (renew_at, extra_renew) if t is not None]
        return Routes(primary, secondary, float(weight)), min(renewals) if renewals else None

    def _resolve(self, ref: FunctionRef, config: records.Config, version: str) -> tuple[ResolvedFunction, float | None]:
        fn = self.state.function(ref.name)
        code = config["_code"]
        env = (config.get("Environment") or {}).get("Variables") or {}
        logging_config = config.get("LoggingConfig") or {}
        credentials, renew_at = self._credentials(config.get("Role") or "", ref.name)
        runtime = config.get("Runtime") or "python3.12"
        settings = self.state.settings
        choice = self.python.get(runtime)
        spec = FunctionSpec(
            function_name=ref.name,
            function_arn=self.state.arn(ref.name),
            version=version,
            handler=config.get("Handler") or "",
            runtime=runtime,
            code_dir=self.code.task_root(code["hex"], code["blob"]),
            layers_dir=self.layers.merged(config.get("_layers") or []),
            timeout=int(config.get("Timeout", 3)),
            memory_mb=int(config.get("MemorySize", 128)),
            environment=dict(env),
            log_group=logging_config.get("LogGroup") or f"/aws/lambda/{ref.name}",
            log_format=logging_config.get("LogFormat") or "Text",
            application_log_level=logging_config.get("ApplicationLogLevel"),
            system_log_level=logging_config.get("SystemLogLevel"),
            region=settings.region,
            account_id=settings.account_id,
            endpoint_url=settings.endpoint_url,
            credentials=credentials,
            interpreter=choice.interpreter if choice else sys.executable,
            runtime_libs=choice.libs if choice else None,
            runtime_note=choice.note if choice else None,
            # New credentials mean new environments (the old ones age out), as their variables differ.
            revision=f"{config.get('RevisionId') or ''}/{credentials[0]}",
        )
        # AWS: async settings per qualifier; the DLQ is a function-level setting ($LATEST's).
        dlq = (fn.config.get("DeadLetterConfig") or {}).get("TargetArn")
        return ResolvedFunction(
            name=ref.name,
            invoked_arn=self.state.arn(ref.name, ref.qualifier),
            executed_version=version,
            spec=spec,
            reserved_concurrency=fn.reserved_concurrency,
            invoke_config=self.invoke_configs.event_invoke_config(ref.name, ref.qualifier or LATEST),
            dead_letter_arn=dlq or None,
        ), renew_at

    def _credentials(self, role: str, name: str) -> tuple[tuple[str, str, str], float | None]:
        """The execution role's temporary credentials (the session is named after the function, as
        on AWS) and when to renew them; without enforcement, stable per-function placeholders."""
        session = self.roles.session(role, name) if role else None
        if session is None:
            return placeholder_credentials(role, name), None
        renew_at = session.expires - RENEW_MARGIN if session.expires is not None else None
        return (session.access_key, session.secret_key, session.session_token or ""), renew_at

    def execution_role(self, function_name: str) -> str | None:
        """The role a function's deliveries (DLQ, destinations) are made as; None if it is gone."""
        return records.function_role(self.state.reader, function_name)
