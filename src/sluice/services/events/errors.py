"""EventBridge's errors, with AWS's codes and messages (the protocol layer gives each its status: 400).

Messages marked *unconfirmed* were not seen in a recorded AWS response; they follow the wording
of the neighbouring ones and are kept here, in one place, to be easy to correct.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.errors import ServiceError
from ...protocol.validate import validate

if TYPE_CHECKING:  # botocore is imported when a protocol is first built, not at start-up
    from botocore.model import Shape


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def bus_not_found(name: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Event bus {name} does not exist.")


def bus_exists(name: str) -> ServiceError:
    return ServiceError("ResourceAlreadyExistsException", f"Event bus {name} already exists.")


def rule_not_found(rule: str, bus: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Rule {rule} does not exist on EventBus {bus}.")


def resource_not_found(arn: str) -> ServiceError:
    # unconfirmed: TagResource & co. on an ARN that is neither a rule nor a bus
    return ServiceError("ResourceNotFoundException", f"Resource {arn} does not exist.")


def invalid_pattern(message: str) -> ServiceError:
    return ServiceError("InvalidEventPatternException", message)


def limit_exceeded() -> ServiceError:
    return ServiceError("LimitExceededException", "The requested resource exceeds the maximum number allowed.")


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

def validate_input(params: dict[str, Any], shape: Shape | None, skip: tuple[str, ...] = ()) -> None:
    """AWS's "N validation errors detected: ..." for `params`: missing required members, lengths,
    ranges, enums and name patterns."""
    if shape is not None and shape.type_name == "structure":
        validate(params, shape, required=True, patterns=True, skip=skip)
