"""SQS's errors, with AWS's codes and messages.

The codes are the json protocol's (`__type`); the query-era codes that older SDKs read
(AWS.SimpleQueueService.NonExistentQueue, ...) come from protocol/query.py's _LEGACY_CODES.
"""

from __future__ import annotations

from ...protocol.errors import ServiceError

MAX_BATCH_ENTRIES = 10


def queue_does_not_exist(query: bool = False) -> ServiceError:
    # The query protocol's wording has always named the WSDL version.
    message = ("The specified queue does not exist for this wsdl version." if query
               else "The specified queue does not exist.")
    return ServiceError("QueueDoesNotExist", message, 400)


def queue_deleted_recently() -> ServiceError:
    return ServiceError("QueueDeletedRecently",
                        "You must wait 60 seconds after deleting a queue before you can create another with "
                        "the same name.", 400)


def queue_name_exists(attribute: str) -> ServiceError:
    return ServiceError("QueueNameExists",
                        f"A queue already exists with the same name and a different value for attribute {attribute}",
                        400)


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message, 400)


def invalid_value(value: object, parameter: str, reason: str) -> ServiceError:
    return invalid_parameter(f"Value {value} for parameter {parameter} is invalid. Reason: {reason}")


def missing_parameter(name: str) -> ServiceError:
    return ServiceError("MissingParameter", f"The request must contain the parameter {name}.", 400)


def unknown_attribute(name: str) -> ServiceError:
    return ServiceError("InvalidAttributeName", f"Unknown Attribute {name}.", 400)


def invalid_attribute_name(message: str) -> ServiceError:
    return ServiceError("InvalidAttributeName", message, 400)


def invalid_attribute_value(name: str, reason: str | None = None) -> ServiceError:
    message = f"Invalid value for the parameter {name}."
    if reason:
        message = f"Invalid value for the parameter {name}. Reason: {reason}"
    return ServiceError("InvalidAttributeValue", message, 400)


def receipt_handle_invalid(handle: str) -> ServiceError:
    return ServiceError("ReceiptHandleIsInvalid",
                        f'The input receipt handle "{handle}" is not a valid receipt handle.', 400)


def receipt_handle_expired(handle: str) -> ServiceError:
    return invalid_value(handle, "ReceiptHandle", "The receipt handle has expired.")


def visibility_unavailable(handle: str) -> ServiceError:
    return invalid_value(handle, "ReceiptHandle",
                         "Message does not exist or is not available for visibility timeout change.")


def message_not_inflight() -> ServiceError:
    return ServiceError("MessageNotInflight", "The message referred to isn't in flight.", 400)


def message_too_long(limit: int) -> ServiceError:
    return invalid_parameter(f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes.")


def invalid_message_contents() -> ServiceError:
    return ServiceError("InvalidMessageContents",
                        "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
                        "#xE000 to #xFFFD | #x10000 to #x10FFFF", 400)


def empty_batch(entry: str) -> ServiceError:
    return ServiceError("EmptyBatchRequest", f"There should be at least one {entry} in the request.", 400)


def too_many_entries(count: int) -> ServiceError:
    return ServiceError("TooManyEntriesInBatchRequest",
                        f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {count}.", 400)


def invalid_batch_entry_id() -> ServiceError:
    return ServiceError("InvalidBatchEntryId",
                        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                        "It can be at most 80 letters long.", 400)


def batch_ids_not_distinct(entry_id: str) -> ServiceError:
    return ServiceError("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.", 400)


def batch_too_long(limit: int, size: int) -> ServiceError:
    return ServiceError("BatchRequestTooLong",
                        f"Batch requests cannot be longer than {limit} bytes. You have sent {size} bytes.", 400)


def purge_in_progress(name: str) -> ServiceError:
    return ServiceError("PurgeQueueInProgress",
                        f"Only one PurgeQueue operation on {name} is allowed every 60 seconds.", 403)


def resource_not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, 404)
