"""CloudWatch Logs' errors, with AWS's codes and messages."""

from __future__ import annotations

from ...protocol.errors import ServiceError

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653)


def group_not_found() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The specified log group does not exist.")


def stream_not_found() -> ServiceError:
    return ServiceError("ResourceNotFoundException", "The specified log stream does not exist.")


def group_exists() -> ServiceError:
    return ServiceError("ResourceAlreadyExistsException", "The specified log group already exists")


def stream_exists() -> ServiceError:
    return ServiceError("ResourceAlreadyExistsException", "The specified log stream already exists")


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", message)


def validation(value: object, member: str, constraint: str) -> ServiceError:
    """AWS's generic input validation message, as CloudWatch Logs returns it."""
    shown = "null" if value is None else f"'{value}'"
    return invalid(f"1 validation error detected: Value {shown} at '{member}' failed to satisfy constraint: "
                   f"{constraint}")


def required(member: str) -> ServiceError:
    return validation(None, member, "Member must not be null")


def invalid_token() -> ServiceError:
    # Unconfirmed wording; AWS answers a token it did not issue with InvalidParameterException.
    return invalid("The specified nextToken is invalid.")


def invalid_pattern() -> ServiceError:
    return invalid("Invalid filter pattern")


def deletion_protected() -> ServiceError:
    return ServiceError("ValidationException",
                        "Cannot delete log group with deletion protection enabled. Disable deletion protection first.")


def too_many_tags(resource: str) -> ServiceError:
    # Unconfirmed wording; the code and the resourceName field are the model's.
    return ServiceError("TooManyTagsException", "A resource can have no more than 50 tags.",
                        resourceName=resource)
