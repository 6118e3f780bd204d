"""AWS::SQS::Queue (the skeleton's minimal provider: c-res owns this module from here on)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ....protocol.errors import ServiceError
from .base import ResourceRequest, ResourceResult
from .calls import Caller


class Queue:
    type_name: ClassVar[str] = "AWS::SQS::Queue"
    replace_on: ClassVar[frozenset[str]] = frozenset({"QueueName", "FifoQueue"})

    def __init__(self, call: Caller) -> None:
        self.call = call

    def _attributes(self, props: dict[str, Any]) -> dict[str, str]:
        return {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in props.items() if k not in ("QueueName", "Tags")}

    def create(self, req: ResourceRequest) -> ResourceResult:
        props = req.properties
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        name = props.get("QueueName") or (req.name(80 - 5) + ".fifo" if fifo else req.name(80))
        url = self.call(req, "sqs", "CreateQueue", QueueName=name, Attributes=self._attributes(props))["QueueUrl"]
        return self._result(req, url)

    def update(self, req: ResourceRequest) -> ResourceResult:
        assert req.physical_id is not None
        self.call(req, "sqs", "SetQueueAttributes", QueueUrl=req.physical_id,
                  Attributes=self._attributes(req.properties))
        return self._result(req, req.physical_id)

    def delete(self, req: ResourceRequest) -> None:
        try:
            self.call(req, "sqs", "DeleteQueue", QueueUrl=req.physical_id)
        except ServiceError as err:
            if "NonExistentQueue" not in err.code:
                raise

    def _result(self, req: ResourceRequest, url: str) -> ResourceResult:
        arn = self.call(req, "sqs", "GetQueueAttributes", QueueUrl=url,
                        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        name = url.rsplit("/", 1)[-1]
        return ResourceResult(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})
