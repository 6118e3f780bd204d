"""A layer version's resource policy: AddLayerVersionPermission, RemoveLayerVersionPermission,
GetLayerVersionPolicy. Sluice has one account, so the policy is kept and shown as AWS builds it
but grants nothing more: every function here may already use every layer here."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from ...protocol.models import service_model
from ...protocol.validate import validate
from . import layer_records
from .layers import Layers, version_number


def _precondition_failed() -> ServiceError:
    return ServiceError("PreconditionFailedException",
                        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API "
                        "to retrieve the latest Revision Id", Type="User")


def _principal(value: str) -> dict[str, str] | str:
    if value == "*":
        return "*"
    if value.isdigit():
        return {"AWS": f"arn:aws:iam::{value}:root"}
    return {"AWS": value}


class LayerPolicies:
    def __init__(self, layers: Layers) -> None:
        self.layers = layers
        self.state = layers.state

    def _locate(self, layer_name: str, number: Any) -> tuple[str, int, str]:
        """(layer name, version, version ARN) of a version that exists, else AWS's error."""
        name = self.layers.name(layer_name)
        n = version_number(number)
        arn = f"{self.layers.layer_arn(name or layer_name.rsplit(':', 1)[-1])}:{n}"
        if self.layers.find(name, n) is None or name is None:
            raise ServiceError("ResourceNotFoundException", f"Layer version {arn} does not exist.", Type="User")
        return name, n, arn

    def add_layer_version_permission(self, ctx: RequestContext, LayerName: str, VersionNumber: Any,
                                     StatementId: str, Action: str, Principal: str, **params: Any) -> dict[str, Any]:
        # The model's patterns (statement id, action, principal, organization) are AWS's checks.
        given = {"LayerName": LayerName, "StatementId": StatementId, "Action": Action, "Principal": Principal,
                 "OrganizationId": params.get("OrganizationId")}
        validate(given, service_model("lambda").operation_model("AddLayerVersionPermission").input_shape,
                 patterns=True)
        name, number, arn = self._locate(LayerName, VersionNumber)
        statement: dict[str, Any] = {"Sid": StatementId, "Effect": "Allow", "Principal": _principal(Principal),
                                     "Action": Action, "Resource": arn}
        if params.get("OrganizationId"):
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}}
        revision = str(uuid.uuid4())

        def txn(conn: sqlite3.Connection) -> None:
            found = layer_records.version(conn, name, number)
            if found is None:
                raise ServiceError("ResourceNotFoundException", f"Layer version {arn} does not exist.", Type="User")
            if any(s["Sid"] == StatementId for s in found.statements):
                raise ServiceError("ResourceConflictException",
                                   f"The statement id ({StatementId}) provided already exists. Please provide a new "
                                   "statement id, or remove the existing statement.", Type="User")
            if params.get("RevisionId") and params["RevisionId"] != found.revision:
                raise _precondition_failed()
            layer_records.put_policy(conn, name, number, [*found.statements, statement], revision)

        self.state.write(txn)
        return {"Statement": json.dumps(statement), "RevisionId": revision}

    def remove_layer_version_permission(self, ctx: RequestContext, LayerName: str, VersionNumber: Any,
                                        StatementId: str, **params: Any) -> dict[str, Any]:
        name, number, arn = self._locate(LayerName, VersionNumber)

        def txn(conn: sqlite3.Connection) -> None:
            found = layer_records.version(conn, name, number)
            if found is None:
                raise ServiceError("ResourceNotFoundException", f"Layer version {arn} does not exist.", Type="User")
            if params.get("RevisionId") and params["RevisionId"] != found.revision:
                raise _precondition_failed()
            kept = [s for s in found.statements if s["Sid"] != StatementId]
            if len(kept) == len(found.statements):
                raise ServiceError("ResourceNotFoundException",
                                   f"Statement {StatementId} is not found in resource policy.", Type="User")
            layer_records.put_policy(conn, name, number, kept, str(uuid.uuid4()) if kept else None)

        self.state.write(txn)
        return {}

    def get_layer_version_policy(self, ctx: RequestContext, LayerName: str, VersionNumber: Any,
                                 **_: Any) -> dict[str, Any]:
        name, number, _arn = self._locate(LayerName, VersionNumber)
        found = self.layers.find(name, number)
        if found is None or not found.statements:
            raise ServiceError("ResourceNotFoundException", "No policy is associated with the given resource.",
                               Type="User")
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": found.statements}
        return {"Policy": json.dumps(policy), "RevisionId": found.revision}
