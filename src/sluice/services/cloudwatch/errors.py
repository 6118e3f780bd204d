"""CloudWatch's errors, by model shape name (the protocol layer sends the query-era code)."""

from __future__ import annotations

from ...protocol.errors import ServiceError


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message)


def invalid_value(value: object, parameter: str) -> ServiceError:
    return invalid(f"The value {value} for parameter {parameter} is invalid.")


def missing(parameter: str) -> ServiceError:
    return ServiceError("MissingRequiredParameterException", f"The parameter {parameter} is required.")


def combination(message: str) -> ServiceError:
    return ServiceError("InvalidParameterCombinationException", message)


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message)


def bad_token() -> ServiceError:
    return ServiceError("InvalidNextToken", "The service returned an error: invalid NextToken.")


def too_many(collection: str, limit: int) -> ServiceError:
    return invalid(f"The collection {collection} must not have a size greater than {limit}.")


def one_of(parameter: str, allowed: list[str] | tuple[str, ...]) -> ServiceError:
    return invalid(f"The parameter {parameter} must be a value in the set [ {', '.join(allowed)} ].")


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def invalid_format(message: str) -> ServiceError:
    return ServiceError("InvalidFormatFault", message)
