"""IAM's errors with AWS's codes and messages (the protocol layer gives their HTTP statuses)."""

from __future__ import annotations

from ...protocol.errors import ServiceError


def no_such_entity(message: str) -> ServiceError:
    return ServiceError("NoSuchEntity", message)


def no_role(name: str) -> ServiceError:
    return no_such_entity(f"The role with name {name} cannot be found.")


def no_user(name: str) -> ServiceError:
    return no_such_entity(f"The user with name {name} cannot be found.")


def no_policy(arn: str) -> ServiceError:
    return no_such_entity(f"Policy {arn} was not found.")


def not_attachable(arn: str) -> ServiceError:
    return no_such_entity(f"Policy {arn} does not exist or is not attachable.")


def no_version(arn: str, version: str) -> ServiceError:
    return no_such_entity(f"Policy {arn} version {version} does not exist or is not attachable.")


def no_inline(kind: str, name: str) -> ServiceError:
    return no_such_entity(f"The {kind} policy with name {name} cannot be found.")


def no_access_key(key: str) -> ServiceError:
    return no_such_entity(f"The Access Key with id {key} cannot be found.")


def exists(message: str) -> ServiceError:
    return ServiceError("EntityAlreadyExists", message)


def delete_conflict(message: str) -> ServiceError:
    return ServiceError("DeleteConflict", message)


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceeded", message)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message)


def access_denied(message: str) -> ServiceError:
    return ServiceError("AccessDenied", message)
