"""Custom resources (`AWS::CloudFormation::CustomResource`, `Custom::*`): a function does the work.

As CloudFormation does, the step sends the request document (RequestType Create/Update/Delete,
ResponseURL, StackId, RequestId, LogicalResourceId, PhysicalResourceId, ResourceType,
ResourceProperties, OldResourceProperties) to the ServiceToken — a Lambda function, invoked
asynchronously, or an SNS topic — and waits up to an hour for the handler to PUT its response
(Status SUCCESS/FAILED, Reason, PhysicalResourceId, Data) to the ResponseURL. `Fn::GetAtt` reads
the response's Data.

The ResponseURL is Sluice's own (`<endpoint>/_sluice/cloudformation/custom-resource-responses/
<RequestId>`), where AWS's is a presigned S3 URL: handlers (cfn-response, CDK's providers,
urllib) only PUT JSON to whatever URL they are given. The response is recorded durably and the
stack woken; the waiting itself is the deployer's (`InProgress`, on the Clock).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from ...store.db import Database
from ..delivery import Deliveries, Delivery
from . import RESPONSE_PATH
from . import custom_records as records
from .providers.base import InProgress, Provider, ProviderError, ResourceRequest, ResourceResult

CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
RESPONSE_TIMEOUT = 3600.0  # AWS-seconds: CloudFormation waits an hour (or ServiceTimeout) for it
MAX_RESPONSE = 4096  # bytes: AWS refuses a larger response object


def is_custom_resource(type_name: str) -> bool:
    return type_name == CUSTOM_RESOURCE or type_name.startswith("Custom::")


def stringify(value: Any) -> Any:
    """CloudFormation hands a custom resource its properties with every scalar as a string
    (`5` -> "5", `true` -> "true"); maps and lists keep their shape."""
    if isinstance(value, dict):
        return {k: stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class CustomResource:
    """The provider for every custom resource type (the registry maps `Custom::*` here)."""

    type_name: ClassVar[str] = CUSTOM_RESOURCE
    # Any property may change in place: the handler decides, by answering an Update with a new
    # PhysicalResourceId, whether the resource was replaced.
    replace_on: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, db: Database, deliveries: Deliveries, endpoint_url: str) -> None:
        self.db = db
        self.deliveries = deliveries
        self.endpoint_url = endpoint_url.rstrip("/")

    def create(self, req: ResourceRequest) -> ResourceResult:
        return self._result(req, self._step(req, "Create"))

    def update(self, req: ResourceRequest) -> ResourceResult:
        if (req.old_properties or {}).get("ServiceToken", req.properties.get("ServiceToken")) \
                != req.properties.get("ServiceToken"):
            raise ProviderError("Modifying service token is not allowed.")
        return self._result(req, self._step(req, "Update"))

    def delete(self, req: ResourceRequest) -> None:
        self._step(req, "Delete")

    # -- the step: send once, then wait for the response ------------------------------------------

    def _step(self, req: ResourceRequest, request_type: str) -> dict[str, Any]:
        token = req.properties.get("ServiceToken")
        if not isinstance(token, str) or not token:
            raise ProviderError("Property ServiceToken cannot be empty.")
        row = records.by_token(self.db.reader, req.request_token)
        if row is None:
            request_id = str(uuid.uuid4())
            document = json.dumps(self._document(req, request_type, token, request_id))
            row = self.db.write(lambda conn: records.insert(
                conn, req.request_token, request_id, req.stack_id, req.logical_id, document))
        if not row.sent:
            # A restart between the send and this mark sends again: at least once, as AWS.
            self._send(req, token, row.document)
            self.db.write(lambda conn: records.mark_sent(conn, req.request_token))
        if row.response is None:
            timeout = _service_timeout(req.properties.get("ServiceTimeout"))
            # (A response that comes before this wait is recorded still wakes the stack: the
            # deployer keeps a wake that arrives while its step is under way.)
            raise InProgress(timeout, timeout_reason=(
                "CloudFormation did not receive a response from your Custom Resource. Please check "
                f"your logs for requestId [{row.request_id}]. If you are using the Python "
                "cfn-response module, you may need to update your Lambda function code so that "
                "CloudFormation can attach the updated version."))
        return _outcome(row)

    def _document(self, req: ResourceRequest, request_type: str, token: str,
                  request_id: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": f"{self.endpoint_url}{RESPONSE_PATH}{request_id}",
            "StackId": req.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": req.logical_id,
            "ResourceType": req.resource_type,
            "ResourceProperties": stringify(req.properties),
        }
        if request_type != "Create" and req.physical_id is not None:
            doc["PhysicalResourceId"] = req.physical_id
        if request_type == "Update":
            doc["OldResourceProperties"] = stringify(req.old_properties or {})
        return doc

    def _send(self, req: ResourceRequest, token: str, document: str) -> None:
        parts = token.split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ("lambda", "sns"):
            raise ProviderError(f"Invalid service token: {token}. A custom resource's ServiceToken is "
                                "the ARN of a Lambda function or of an SNS topic")
        if parts[3] != req.region:
            raise ProviderError(f"Invalid service token: {token} is not in {req.region}")
        done = self.deliveries.deliver(token, Delivery(
            body=document, source_arn=req.stack_id, source_account=req.account_id,
            principal="cloudformation.amazonaws.com", subject="AWS CloudFormation custom resource request"))
        if not done.ok:
            raise ProviderError(f"Failed to invoke the custom resource's ServiceToken {token}: "
                                f"{done.detail or done.error}")

    @staticmethod
    def _result(req: ResourceRequest, response: dict[str, Any]) -> ResourceResult:
        physical = response.get("PhysicalResourceId") or req.physical_id
        data = response.get("Data") or {}
        return ResourceResult(physical_id=str(physical), attributes=dict(data))


def _service_timeout(value: Any) -> float:
    """ServiceTimeout: how long the step waits for the response, 1 to 3600 seconds (default)."""
    if value is None:
        return RESPONSE_TIMEOUT
    try:
        seconds = int(str(value))
    except ValueError:
        seconds = 0
    if not 1 <= seconds <= RESPONSE_TIMEOUT:
        raise ProviderError(f"ServiceTimeout must be an integer from 1 to {int(RESPONSE_TIMEOUT)}, "
                            f"not {value!r}")
    return float(seconds)


def _outcome(row: records.CustomRequest) -> dict[str, Any]:
    """The handler's response, checked as CloudFormation checks it; FAILED raises its reason."""
    raw = row.response or ""
    if len(raw.encode()) > MAX_RESPONSE:
        raise ProviderError("Response object is too long.")
    try:
        response = json.loads(raw)
    except ValueError:
        response = None
    if not isinstance(response, dict):
        raise ProviderError(f"Invalid response object: not a JSON object (RequestId: {row.request_id})")
    status = response.get("Status")
    if status == "FAILED":
        reason = response.get("Reason") or "See the details in CloudWatch Log Stream"
        physical = response.get("PhysicalResourceId")
        raise ProviderError(f"Received response status [FAILED] from custom resource. Message returned: "
                            f"{reason} (RequestId: {row.request_id})",
                            physical_id=physical if isinstance(physical, str) and physical else None)
    if status != "SUCCESS":
        raise ProviderError(f"Invalid response object: Status must be SUCCESS or FAILED, not {status!r} "
                            f"(RequestId: {row.request_id})")
    for key, expected in (("RequestId", row.request_id), ("StackId", row.stack_id),
                          ("LogicalResourceId", row.logical_id)):
        if response.get(key) not in (None, expected):
            raise ProviderError(f"Invalid response object: {key} does not match the request "
                                f"(RequestId: {row.request_id})")
    document = json.loads(row.document)
    physical = response.get("PhysicalResourceId")
    if physical is None and document["RequestType"] == "Create":
        raise ProviderError(f"Invalid PhysicalResourceId (RequestId: {row.request_id})")
    data = response.get("Data")
    if data is not None and not isinstance(data, dict):
        raise ProviderError(f"Invalid response object: Data must be a JSON object "
                            f"(RequestId: {row.request_id})")
    return response


class WithCustomResources(Mapping[str, Provider]):
    """The providers by type, where every `Custom::<anything>` type is the custom resource."""

    def __init__(self, providers: Mapping[str, Provider], custom: CustomResource) -> None:
        self.providers = providers
        self.custom = custom

    def __getitem__(self, type_name: str) -> Provider:
        if is_custom_resource(type_name):
            return self.custom
        return self.providers[type_name]

    def __iter__(self) -> Iterator[str]:
        yield from self.providers
        yield CUSTOM_RESOURCE

    def __len__(self) -> int:
        return len(self.providers) + 1


class CustomResponses:
    """The ResponseURL's receiving end (a gateway handler for PUTs under RESPONSE_PATH):
    records the first response to a request and wakes its stack."""

    def __init__(self, db: Database, wake: Callable[[str], None]) -> None:
        self.db = db
        self.wake = wake

    def receive(self, request_id: str, body: bytes) -> tuple[int, Any]:
        row = records.by_request_id(self.db.reader, request_id)
        if row is None:
            return 404, {"error": "no custom resource request has this id", "RequestId": request_id}
        # Kept as text, checked when the step reads it: a bad response fails the resource with
        # the reason, as on AWS, rather than the handler's PUT.
        text = body[: MAX_RESPONSE + 1].decode("utf-8", errors="replace")
        if self.db.write(lambda conn: records.record_response(conn, request_id, text)):
            self.wake(row.stack_id)
        return 200, b""
