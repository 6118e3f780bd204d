"""SQS's errors, with AWS's codes and messages.

The codes are the json protocol's (`__type`); the query-era codes that older SDKs read
(AWS.SimpleQueueService.NonExistentQueue, ...) come from protocol/query.py's _LEGACY_CODES.
"""

from __future__ import annotations

from ...protocol.errors import ServiceError

MAX_BATCH_ENTRIES = 10


def queue_does_not_exist() -> ServiceError:
    # The query protocol words it differently ("... for this wsdl version."): protocol/sqsquery.py.
    return ServiceError("QueueDoesNotExist", "The specified queue does not exist.")


def queue_deleted_recently() -> ServiceError:
    return ServiceError("QueueDeletedRecently",
                        "You must wait 60 seconds after deleting a queue before you can create another with "
                        "the same name.")


def queue_name_exists(attribute: str) -> ServiceError:
    return ServiceError("QueueNameExists",
                        f"A queue already exists with the same name and a different value for attribute {attribute}")


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message)


def invalid_value(value: object, parameter: str, reason: str) -> ServiceError:
    return invalid_parameter(f"Value {value} for parameter {parameter} is invalid. Reason: {reason}")


def missing_parameter(name: str) -> ServiceError:
    return ServiceError("MissingParameter", f"The request must contain the parameter {name}.")


def unknown_attribute(name: str) -> ServiceError:
    return ServiceError("InvalidAttributeName", f"Unknown Attribute {name}.")


def invalid_attribute_name(message: str) -> ServiceError:
    return ServiceError("InvalidAttributeName", message)


def invalid_attribute_value(name: str, reason: str | None = None) -> ServiceError:
    message = f"Invalid value for the parameter {name}."
    if reason:
        message = f"Invalid value for the parameter {name}. Reason: {reason}"
    return ServiceError("InvalidAttributeValue", message)


def receipt_handle_invalid(handle: str) -> ServiceError:
    return ServiceError("ReceiptHandleIsInvalid",
                        f'The input receipt handle "{handle}" is not a valid receipt handle.')


def receipt_handle_expired(handle: str) -> ServiceError:
    return invalid_value(handle, "ReceiptHandle", "The receipt handle has expired.")


def visibility_unavailable(handle: str) -> ServiceError:
    return invalid_value(handle, "ReceiptHandle",
                         "Message does not exist or is not available for visibility timeout change.")


def message_not_inflight() -> ServiceError:
    return ServiceError("MessageNotInflight", "The message referred to isn't in flight.")


def message_too_long(limit: int) -> ServiceError:
    return invalid_parameter(f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes.")


def invalid_message_contents() -> ServiceError:
    return ServiceError("InvalidMessageContents",
                        "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
                        "#xE000 to #xFFFD | #x10000 to #x10FFFF")


def empty_batch(entry: str) -> ServiceError:
    return ServiceError("EmptyBatchRequest", f"There should be at least one {entry} in the request.")


def too_many_entries(count: int) -> ServiceError:
    return ServiceError("TooManyEntriesInBatchRequest",
                        f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {count}.")


def invalid_batch_entry_id() -> ServiceError:
    return ServiceError("InvalidBatchEntryId",
                        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                        "It can be at most 80 letters long.")


def batch_ids_not_distinct(entry_id: str) -> ServiceError:
    return ServiceError("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")


def batch_too_long(limit: int, size: int) -> ServiceError:
    return ServiceError("BatchRequestTooLong",
                        f"Batch requests cannot be longer than {limit} bytes. You have sent {size} bytes.")


def purge_in_progress(name: str) -> ServiceError:
    return ServiceError("PurgeQueueInProgress",
                        f"Only one PurgeQueue operation on {name} is allowed every 60 seconds.")


def check_range(value: int, low: int, high: int, parameter: str, reason: str) -> int:
    if not low <= value <= high:
        raise invalid_value(value, parameter, reason)
    return value


def resource_not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)
