"""From a function name and qualifier to everything an invocation needs (`ResolvedFunction`):
the version that runs, its spec for an execution environment, its role's credentials, its async
settings and dead-letter queue. The engine asks at every attempt, so answers are cached."""

from __future__ import annotations

import base64
import hashlib

from ...engine.types import ResolvedFunction
from ...runtime import FunctionSpec, interpreter_for
from . import records
from .code import CodeStore
from .invoke_config import InvokeConfigs
from .layer_use import FunctionLayers
from .names import LATEST, parse_function_name
from .roles import ExecutionRoles
from .state import LambdaState

RENEW_MARGIN = 600.0  # seconds before a role session expires that functions get new credentials
_CACHE_LIMIT = 10_000


def placeholder_credentials(role: str, name: str) -> tuple[str, str, str]:
    """Per-function temporary credentials; IAM enforcement maps them back to the role."""
    digest = hashlib.sha256(f"{role}|{name}".encode()).hexdigest().upper()
    return "ASIA" + digest[:16], digest[16:56], base64.b64encode(f"sluice:{role}:{name}".encode()).decode()


class Resolver:
    def __init__(self, state: LambdaState, code: CodeStore, layers: FunctionLayers, roles: ExecutionRoles,
                 invoke_configs: InvokeConfigs, python_overrides: dict[str, str]) -> None:
        self.state = state
        self.code = code
        self.layers = layers
        self.roles = roles
        self.invoke_configs = invoke_configs
        self.python_overrides = python_overrides
        # (name, qualifier) -> (generation, answer, when the role credentials must be renewed or None)
        self._cache: dict[tuple[str, str | None], tuple[int, ResolvedFunction, float | None]] = {}

    def resolve(self, FunctionName: str, Qualifier: str | None = None) -> ResolvedFunction:  # noqa: N803
        key = (FunctionName, Qualifier)
        generation = self.state.generation
        cached = self._cache.get(key)
        if cached is not None and cached[0] == generation and (cached[2] is None or cached[2] > self.state.clock.now()):
            return cached[1]
        resolved, renew_at = self._resolve(FunctionName, Qualifier)
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (generation, resolved, renew_at)
        return resolved

    def _resolve(self, function_name: str, qualifier: str | None) -> tuple[ResolvedFunction, float | None]:
        ref = parse_function_name(function_name, qualifier)
        fn = self.state.function(ref.name)
        config, version = self.state.version_config(ref.name, ref.qualifier)
        code = config["_code"]
        env = (config.get("Environment") or {}).get("Variables") or {}
        logging_config = config.get("LoggingConfig") or {}
        credentials, renew_at = self._credentials(config.get("Role") or "", ref.name)
        runtime = config.get("Runtime") or "python3.12"
        settings = self.state.settings
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
            interpreter=interpreter_for(runtime, self.python_overrides),
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
