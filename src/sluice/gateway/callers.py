"""Whether a request's caller is who its key says, and whether it may act: which signatures are
checked, which keys a web page cannot have forged, and the authorization of a parsed request
(the enforcer: with identity policies under --enforce-iam, without them in plain mode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..protocol.context import RequestContext
from ..settings import Settings
from .sigv4 import (
    SecretLookup,
    SigV4Verifier,
    TokenLookup,
    check_form_fields,
    default_secret,
    form_signer,
)

if TYPE_CHECKING:
    from ..auth.enforcer import Enforcer


class Callers:
    def __init__(self, settings: Settings, secret_for: SecretLookup | None = None,
                 token_for: TokenLookup | None = None, enforcer: Enforcer | None = None,
                 plain: Enforcer | None = None, checked: Callable[[str], bool] | None = None) -> None:
        """`enforcer` (--enforce-iam): authorizes each parsed request before its operation runs;
        `plain` (without it): the same without identity policies (anonymous and other accounts'
        callers get what the resource side grants); `checked`: without --verify-signatures, the
        access keys whose signatures are checked all the same (those with a secret of their own)."""
        signatures = SigV4Verifier(secret_for or default_secret, token_for=token_for)
        # Every signature with --verify-signatures; else, in plain mode, those of `checked` keys
        # (--enforce-iam alone trusts the key a request names, as before: what a user testing
        # policies expects).
        self.verifier = signatures if settings.verify_signatures else None
        self.key_check = (signatures, checked) if checked is not None and self.verifier is None \
            and plain is not None else None
        # Keys whose signature was checked, so that a web page cannot have forged it.
        self.own_secret = checked if checked is not None and (self.verifier or self.key_check) \
            else (lambda key: False)
        self.authorizer = enforcer or plain

    def verifier_for(self, access_key: str | None) -> SigV4Verifier | None:
        """Who checks this request's signature: all of them with --verify-signatures; without,
        only those made with a key that has a secret of its own."""
        if self.verifier is not None or self.key_check is None or not access_key:
            return self.verifier
        verifier, checked = self.key_check
        return verifier if checked(access_key) else None

    def forged_by_a_page(self, access_key: str | None, headers: dict[str, str]) -> bool:
        """A request from a web page (it has an Origin) made with a key whose secret is public
        (test, 12-digit ids, keys nobody issued): the page may have forged its credentials."""
        return bool(access_key) and "origin" in headers and not self.own_secret(access_key or "")

    def authorize(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> None:
        """Raise AWS's error unless the caller may make this parsed request."""
        if operation == "PostObject":
            # A browser form is signed in its fields, not its headers: its signer is the caller.
            signer = form_signer(params["Fields"])
            verifier = self.verifier_for(signer)
            if verifier is not None:
                verifier.verify_form(params["Fields"])
            else:
                check_form_fields(params["Fields"])
            ctx.access_key = signer or ctx.access_key
        if ctx.foreign_page and self.forged_by_a_page(ctx.access_key, ctx.headers):
            # A page can forge a form or a presigned URL for a key whose secret is public and POST
            # it without a preflight: it writes as that key only to a bucket whose CORS rules let
            # its origin in (the web app's own set-up, as on AWS); elsewhere it is anonymous.
            ctx.access_key = None
        if self.authorizer is not None:
            self.authorizer.authorize(ctx, operation, params)
