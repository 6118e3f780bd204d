"""How large a request body each service's front end takes, and what AWS answers past it.

Only S3 streams large bodies to its operations (uploads go to disk as they arrive, in a worker
thread); every other service's body is read whole on the loop, awaiting each piece, up to its
limit, before the operation runs. Past the limit the answer goes out at once.
"""

from __future__ import annotations

from ..protocol.errors import ServiceError

STREAMING = frozenset({"s3"})

# The largest body any operation takes, well above what AWS accepts for any of them once
# encoded (JSON escapes and form percent-encoding triple a message at worst).
DEFAULT_LIMIT = 16 * 1024 * 1024
S3_MAX_PUT = 5 * 1024**3
LAMBDA_INVOKE_LIMIT = 6 * 1024 * 1024  # a synchronous payload
LAMBDA_CODE_REQUEST = 69_905_067  # a 50 MB zip, base64 in JSON: AWS's limit on CreateFunction & co.


def streams_bodies(service: str) -> bool:
    return service in STREAMING


def request_limit(service: str, operation: str | None) -> int:
    """The largest request body `operation` takes (None: not known before the body is read)."""
    if service == "lambda":
        return LAMBDA_INVOKE_LIMIT if operation == "Invoke" else LAMBDA_CODE_REQUEST
    return DEFAULT_LIMIT


def too_large(service: str, operation: str | None, limit: int) -> ServiceError:
    if service == "lambda" and operation:
        # AWS names Invoke by its internal name in this message.
        name = "InvokeFunction" if operation == "Invoke" else operation
        return ServiceError("RequestEntityTooLargeException",
                            f"Request must be smaller than {limit} bytes for the {name} operation", 413, Type="User")
    # AWS's common error for an entity its front end will not take.
    return ServiceError("RequestEntityTooLargeException", "The request entity is too large.", 413)


def absurd_content_length(service: str, value: str) -> ServiceError:
    if service == "s3":
        return ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400,
                            ProposedSize=int(value), MaxSizeAllowed=S3_MAX_PUT)
    # AWS's common error for a request malformed at the HTTP level.
    return ServiceError("MalformedHttpRequestException", f"Invalid Content-Length: {value}", 400)
