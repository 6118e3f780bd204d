"""The links in SNS messages: SubscribeURL, UnsubscribeURL and SigningCertURL point here.

On AWS a SubscribeURL is an unsigned `GET /?Action=ConfirmSubscription&TopicArn=..&Token=..`
to SNS itself, and an UnsubscribeURL an unsigned `Action=Unsubscribe`. Sluice serves them under
`/_sluice/sns/` (services/sns/messages.py builds them): this handler reads the query, calls SNS's
public operations as an unsigned caller (so ConfirmationWasAuthenticated is false, as on AWS), and
answers in SNS's own wire format (the query protocol's XML, or its error document).
"""

from __future__ import annotations

import uuid
from typing import Any

from ..protocol import WireProtocol, protocol_for
from ..protocol.context import RequestContext
from ..protocol.errors import ServiceError
from ..protocol.models import service_model
from ..services.base import Service
from ..services.sns.messages import CERT_NAME
from ..settings import Settings
from .app import InternalHandler

ACTIONS = ("ConfirmSubscription", "Unsubscribe")
NO_CERTIFICATE = ("Sluice does not sign SNS messages with a certificate: the Signature of its messages is a "
                  "placeholder that no certificate verifies.")


def sns_links(sns: Service, settings: Settings) -> InternalHandler:
    """The handler for `/_sluice/sns/` (rest of the path, query) -> (status, body)."""
    wires: list[WireProtocol] = []  # built on first use: parsing the model is slow

    def handle(rest: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if rest == CERT_NAME:
            return 404, {"error": NO_CERTIFICATE}
        if not wires:
            wires.append(protocol_for(service_model("sns")))
        wire = wires[0]
        action = _first(query, "Action")
        ctx = RequestContext(str(uuid.uuid4()), "", settings.account_id, settings.region, "sns", operation=action)
        try:
            fn = sns.operation(action) if action in ACTIONS else None
            if fn is None:
                raise ServiceError("InvalidAction", f"The action {action} is not valid for this endpoint.")
            if action == "ConfirmSubscription":
                result = fn(ctx, TopicArn=_first(query, "TopicArn"), Token=_first(query, "Token"))
            else:
                result = fn(ctx, SubscriptionArn=_first(query, "SubscriptionArn"))
            response = wire.serialize(wire.model.operation_model(action), result or {}, ctx)
        except ServiceError as err:
            response = wire.serialize_error(err, ctx)
        return response.status, response.body if isinstance(response.body, bytes) else b""

    return handle


def _first(query: dict[str, list[str]], name: str) -> str:
    return (query.get(name) or [""])[0]
