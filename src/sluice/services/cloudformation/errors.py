"""CloudFormation's errors, with AWS's codes and messages (most bad input is a ValidationError)."""

from __future__ import annotations

from ...protocol.errors import ServiceError


class TransformFailed(ServiceError):
    """The template's transform refused it: a ValidationError for CreateStack/UpdateStack, a FAILED
    change set (with this message as its StatusReason) for CreateChangeSet, as on AWS."""

    def __init__(self, message: str) -> None:
        super().__init__("ValidationError", message)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message)


def template_format(message: str) -> ServiceError:
    return ServiceError("ValidationError", f"Template format error: {message}")


def template_error(message: str) -> ServiceError:
    """An error found while evaluating the template (an intrinsic function used wrongly)."""
    return ServiceError("ValidationError", f"Template error: {message}")


def stack_missing(name: str) -> ServiceError:
    return ServiceError("ValidationError", f"Stack with id {name} does not exist")


def already_exists(name: str) -> ServiceError:
    return ServiceError("AlreadyExistsException", f"Stack [{name}] already exists")


def change_set_missing(name: str) -> ServiceError:
    return ServiceError("ChangeSetNotFound", f"ChangeSet [{name}] does not exist")


def no_updates() -> ServiceError:
    return ServiceError("ValidationError", "No updates are to be performed.")


def bad_state(stack_id: str, status: str, action: str) -> ServiceError:
    return ServiceError("ValidationError",
                        f"Stack:{stack_id} is in {status} state and can not be {action}.")


class TemplateError(Exception):
    """Raised while resolving a resource's properties at deploy time: the resource fails with
    this message as its reason (CloudFormation's words, e.g. an unknown GetAtt attribute)."""
