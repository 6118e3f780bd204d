"""Resource policies: AddPermission, RemovePermission, GetPolicy, and what they allow (S3
notifications check them; IAM enforcement reads them)."""

from __future__ import annotations

import fnmatch
import json
import sqlite3
import uuid
from typing import Any

from ...protocol.context import RequestContext
from ...protocol.errors import ServiceError
from . import records
from .names import parse_function_name
from .state import LambdaState, precondition_failed


def _principal(value: str) -> dict[str, str] | str:
    if value == "*":
        return "*"
    if value.endswith(".amazonaws.com"):
        return {"Service": value}
    if value.isdigit():
        return {"AWS": f"arn:aws:iam::{value}:root"}
    return {"AWS": value}


def statement_allows(s: dict[str, Any], principal: str, source_arn: str, source_account: str) -> bool:
    """Whether one statement lets a service principal invoke, with its SourceArn / SourceAccount."""
    if s.get("Effect") != "Allow" or s.get("Action") not in ("lambda:InvokeFunction", "lambda:*", "*"):
        return False
    who = s.get("Principal")
    if who != "*" and not (isinstance(who, dict) and who.get("Service") == principal):
        return False
    cond = s.get("Condition") or {}
    pattern = (cond.get("ArnLike") or {}).get("AWS:SourceArn") or (cond.get("ArnEquals") or {}).get("AWS:SourceArn")
    if pattern and not fnmatch.fnmatchcase(source_arn, pattern):
        return False
    account = (cond.get("StringEquals") or {}).get("AWS:SourceAccount")
    return not (account and account != source_account)


class Permissions:
    def __init__(self, state: LambdaState) -> None:
        self.state = state

    def statements(self, name: str, qualifier: str | None = None) -> list[dict[str, Any]]:
        found = records.policy(self.state.reader, name, qualifier)
        return found.statements if found is not None else []

    def resource_policy(self, arn: str) -> tuple[str | None, str | None]:
        """(the function's policy from AddPermission, its account) for IAM enforcement."""
        try:
            ref = parse_function_name(arn)
        except ServiceError:
            return None, None
        account = records.function_account(self.state.reader, ref.name)
        if account is None:
            return None, None
        statements = self.statements(ref.name, ref.qualifier)
        if not statements:
            return None, account
        return json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements}), account

    def allows(self, function_arn: str, principal: str, source_arn: str, source_account: str) -> bool:
        """Whether the function's resource policy (AddPermission) lets a service principal invoke it,
        with its SourceArn / SourceAccount conditions."""
        try:
            ref = parse_function_name(function_arn)
        except ServiceError:
            return False
        if not records.function_exists(self.state.reader, ref.name):
            return False
        statements = self.statements(ref.name, ref.qualifier)
        if ref.qualifier:
            statements = statements + self.statements(ref.name, None)
        return any(statement_allows(s, principal, source_arn, source_account) for s in statements)

    # -- operations ------------------------------------------------------------------------

    def add_permission(self, ctx: RequestContext, FunctionName: str, StatementId: str, Action: str,
                       Principal: str, **params: Any) -> dict[str, Any]:
        ref = parse_function_name(FunctionName, params.get("Qualifier"))
        name, qualifier = ref.name, ref.qualifier
        if qualifier:
            self.state.version_config(name, qualifier)
        statement: dict[str, Any] = {"Sid": StatementId, "Effect": "Allow", "Principal": _principal(Principal),
                                     "Action": Action, "Resource": self.state.arn(name, qualifier)}
        condition: dict[str, dict[str, str]] = {}
        if params.get("SourceAccount"):
            condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
        if params.get("PrincipalOrgID"):
            condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
        if params.get("SourceArn"):
            condition.setdefault("ArnLike", {})["AWS:SourceArn"] = params["SourceArn"]
        if condition:
            statement["Condition"] = condition

        def txn(conn: sqlite3.Connection) -> None:
            self.state.function(name, conn)
            found = records.policy(conn, name, qualifier)
            statements = found.statements if found is not None else []
            if params.get("RevisionId") and found is not None and params["RevisionId"] != found.revision:
                raise precondition_failed()
            if any(s["Sid"] == StatementId for s in statements):
                raise ServiceError("ResourceConflictException",
                                   f"The statement id ({StatementId}) provided already exists. Please provide a new "
                                   "statement id, or remove the existing statement.", Type="User")
            statements.append(statement)
            records.put_policy(conn, name, qualifier, statements, str(uuid.uuid4()))

        self.state.write(txn)
        return {"Statement": json.dumps(statement)}

    def remove_permission(self, ctx: RequestContext, FunctionName: str, StatementId: str,
                          **params: Any) -> dict[str, Any]:
        ref = parse_function_name(FunctionName, params.get("Qualifier"))
        name, qualifier = ref.name, ref.qualifier

        def txn(conn: sqlite3.Connection) -> None:
            self.state.function(name, conn)
            found = records.policy(conn, name, qualifier)
            statements = found.statements if found is not None else []
            kept = [s for s in statements if s["Sid"] != StatementId]
            if len(kept) == len(statements):
                raise ServiceError("ResourceNotFoundException", "Statement is not found in resource policy.",
                                   Type="User")
            if kept:
                records.put_policy(conn, name, qualifier, kept, str(uuid.uuid4()))
            else:
                records.delete_policy(conn, name, qualifier)

        self.state.write(txn)
        return {}

    def get_policy(self, ctx: RequestContext, FunctionName: str, Qualifier: str | None = None,
                   **_: Any) -> dict[str, Any]:
        ref = parse_function_name(FunctionName, Qualifier)
        self.state.function(ref.name)
        found = records.policy(self.state.reader, ref.name, ref.qualifier)
        if found is None:
            raise ServiceError("ResourceNotFoundException", "The resource you requested does not exist.",
                               Type="User")
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": found.statements}
        return {"Policy": json.dumps(policy), "RevisionId": found.revision}
