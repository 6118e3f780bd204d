"""EventBridge's errors, with AWS's codes and messages (every one an HTTP 400).

Messages marked *unconfirmed* were not seen in a recorded AWS response; they follow the wording
of the neighbouring ones and are kept here, in one place, to be easy to correct.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from ...protocol.errors import ServiceError
from ...protocol.validate import raise_problems


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def bus_not_found(name: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Event bus {name} does not exist.", 400)


def bus_exists(name: str) -> ServiceError:
    return ServiceError("ResourceAlreadyExistsException", f"Event bus {name} already exists.", 400)


def rule_not_found(rule: str, bus: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Rule {rule} does not exist on EventBus {bus}.", 400)


def resource_not_found(arn: str) -> ServiceError:
    # unconfirmed: TagResource & co. on an ARN that is neither a rule nor a bus
    return ServiceError("ResourceNotFoundException", f"Resource {arn} does not exist.", 400)


def invalid_pattern(message: str) -> ServiceError:
    return ServiceError("InvalidEventPatternException", message, 400)


def limit_exceeded() -> ServiceError:
    return ServiceError("LimitExceededException", "The requested resource exceeds the maximum number allowed.", 400)


def invalid_token() -> ServiceError:
    return validation("The nextToken provided is invalid.")  # unconfirmed


CANNOT_DELETE_DEFAULT = "Cannot delete event bus default."
RULE_HAS_TARGETS = "Rule can't be deleted since it has targets."
PATTERN_OR_SCHEDULE = "Parameter(s) EventPattern or ScheduleExpression must be specified."
SCHEDULE_DEFAULT_BUS_ONLY = "ScheduleExpression is supported only on the default event bus."
SCHEDULE_INVALID = "Parameter ScheduleExpression is not valid."
TOO_LARGE = "Total size of the entries in the request is over the limit."
EVENT_INVALID = "Parameter Event is not valid."
FIFO_NEEDS_GROUP = "Parameter(s) SqsParameters must be specified for FIFO queues."


def bad_target_arn(arn: str) -> ServiceError:
    return validation(f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format.")


def one_input_only(target_id: str) -> ServiceError:
    return validation(f"Only one of Input, InputPath, or InputTransformer must be provided for target {target_id}.")


def invalid_placeholder(target_id: str, name: str) -> ServiceError:
    return validation(f"InputTemplate for target {target_id} contains invalid placeholder {name}.")


def invalid_input_path(target_id: str, path: str) -> ServiceError:
    return validation(f"Parameter InputPath for target {target_id} is not valid: {path}")  # unconfirmed


# -- input validation from the model (lengths, ranges, enums and name patterns) ----------------

def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _shown(value: Any) -> str:
    return f"'{value}'"


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _pattern(text: str) -> re.Pattern[str] | None:
    if text not in _PATTERNS:
        try:
            _PATTERNS[text] = re.compile(text)
        except re.error:  # Java-only syntax (\p{L}): not checked here
            _PATTERNS[text] = None
    return _PATTERNS[text]


def _check(value: Any, shape: Shape, path: str, problems: list[str]) -> None:
    if value is None:
        return
    meta = shape.metadata
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            where = f"{path}.{_camel(name)}" if path else _camel(name)
            if name in value and value[name] is not None:
                _check(value[name], member, where, problems)
            elif name in shape.required_members:
                problems.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
        return
    if isinstance(shape, ListShape) and isinstance(value, list):
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"Value {_shown(value)} at '{path}' failed to satisfy constraint: "
                            f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"Value {_shown(value)} at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {meta['max']}")
        for i, item in enumerate(value):
            _check(item, shape.member, f"{path}.{i + 1}.member", problems)
        return
    if isinstance(shape, MapShape):
        return
    t = shape.type_name
    if t in ("integer", "long") and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have value less than or equal to {meta['max']}")
    elif t == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            return
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {meta['max']}")
        rx = _pattern(meta["pattern"]) if "pattern" in meta else None
        if rx is not None and value and rx.fullmatch(value) is None:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy regular expression pattern: {meta['pattern']}")


def validate_input(params: dict[str, Any], shape: Shape | None, skip: tuple[str, ...] = ()) -> None:
    """AWS's "N validation errors detected: ..." for `params`: missing required members, lengths,
    ranges, enums and name patterns."""
    if not isinstance(shape, StructureShape):
        return
    problems: list[str] = []
    for name, member in shape.members.items():
        if name in skip:
            continue
        if params.get(name) is not None:
            _check(params[name], member, _camel(name), problems)
        elif name in shape.required_members:
            problems.append(f"Value null at '{_camel(name)}' failed to satisfy constraint: Member must not be null")
    raise_problems(problems)
