"""What CloudWatch's parts share: the state they work on, and NextToken paging."""

from __future__ import annotations

import base64
import binascii
import json
import threading
from dataclasses import dataclass, field
from functools import cached_property

from ...clock import Clock
from ...engine.metrics import MetricStore
from ...protocol import safejson
from ...protocol.models import service_model
from ...store.db import Database
from ..delivery import Deliveries
from . import errors
from .alarms import AlarmStore


@dataclass
class Shared:
    """The state and collaborators CloudWatch's parts work on."""

    db: Database
    clock: Clock
    account: str
    region: str
    deliveries: Deliveries  # alarm actions publish to SNS through it
    metrics: MetricStore
    alarms: AlarmStore
    # One alarm state change at a time (the evaluator, SetAlarmState, configuration changes).
    lock: threading.Lock = field(default_factory=threading.Lock)

    @cached_property
    def units(self) -> list[str]:
        return list(service_model("cloudwatch").shape_for("StandardUnit").enum)


def token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def offset_of(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = safejson.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise errors.bad_token() from None
    if not isinstance(offset, int) or offset < 0:
        raise errors.bad_token()
    return offset


def page_size(value: int | None, high: int, default: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= high:
        raise errors.invalid(f"The parameter MaxRecords must be between 1 and {high}.")
    return value
