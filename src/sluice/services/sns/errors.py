"""SNS's errors, with AWS's codes and messages.

SNS answers most bad input with `InvalidParameter` and a message of the form
"Invalid parameter: <what>[ Reason: <why>]"; a missing topic or subscription is `NotFound` (404).
"""

from __future__ import annotations

from ...protocol.errors import ServiceError


def invalid(what: str) -> ServiceError:
    return ServiceError("InvalidParameter", f"Invalid parameter: {what}")


def invalid_value(message: str) -> ServiceError:
    """InvalidParameterValueException: SNS sends it as `ParameterValueInvalid` (message attributes)."""
    return ServiceError("ParameterValueInvalid", message)


def topic_not_found() -> ServiceError:
    return ServiceError("NotFound", "Topic does not exist")


def subscription_not_found() -> ServiceError:
    return ServiceError("NotFound", "Subscription does not exist")


def resource_not_found() -> ServiceError:
    return ServiceError("ResourceNotFound", "Resource does not exist")


def not_authorized(account: str, action: str, resource: str) -> ServiceError:
    return ServiceError(
        "AuthorizationError",
        f"User: arn:aws:iam::{account}:root is not authorized to perform: SNS:{action} on resource: {resource} "
        f"because no resource-based policy allows the SNS:{action} action",
    )


def validation(member: str) -> ServiceError:
    """A required member that is missing (the query protocol's generic validation error)."""
    return ServiceError(
        "ValidationError",
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null",
    )
