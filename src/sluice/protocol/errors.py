"""Errors a service raises; the protocol layer puts them on the wire in the service's format."""

from __future__ import annotations

from typing import Any

from .values import rfc822


class ServiceError(Exception):
    """An AWS error: code, message and any extra fields the error shape carries.

    The protocol layer finds its HTTP status (`protocol.statuses`); `status` is only for the
    rare code answered with different statuses in different places."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        *,
        sender_fault: bool = True,
        headers: dict[str, str] | None = None,
        members: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.headers = headers or {}
        # Output members answered with the error (S3: a delete marker's, in the headers HeadObject uses).
        self.members = members or {}
        self.fields = fields


class NotModified(Exception):
    """A 304 to a conditional read: no body, the object's ETag and Last-Modified in its headers."""

    def __init__(self, etag: str, last_modified: float) -> None:
        super().__init__("304 Not Modified")
        self.headers = {"ETag": etag, "Last-Modified": rfc822(last_modified)}


def not_implemented(service: str, operation: str | None = None) -> ServiceError:
    what = f"{service}.{operation}" if operation else f"service '{service}'"
    return ServiceError(
        "NotImplemented",
        f"Sluice does not implement {what} yet.",
        501,
        sender_fault=False,
    )
