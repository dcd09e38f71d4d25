"""The authenticate stage: the request's bearer access token (ours, RFC 9068) → the OAuth client, its EDS and its
scopes; and the scope the route needs (``gateway.auth.scopes.REQUIRED_SCOPE``; ``PARTNER_ALTERNATIVE`` lets partner
hubs' ``pmp/interstate`` stand in for it on FHIR ``$pdmp-history``).

A verified token is cached for its lifetime (``AccessTokenVerifier``), so the usual cost is a hash and two lookups.
Refusals: no, malformed, invalid, expired or revoked token → UNAUTHENTICATED with one generic detail (the log has the
reason); a token without the route's scope → INSUFFICIENT_SCOPE (403) naming the scope; a revocation list that
cannot be confirmed → BACKEND_UNAVAILABLE (fail closed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from gateway.auth.errors import AccessTokenError, AuthStateUnavailable
from gateway.auth.scopes import PARTNER_ALTERNATIVE, REQUIRED_SCOPE
from gateway.auth.tokens import AccessToken, AccessTokenVerifier
from gateway.pipeline.context import RequestContext
from protos.errors import PmpError
from protos.pmp.v1 import pmp_pb2 as pb

log = logging.getLogger("pmp.auth")

MISSING = "a bearer access token is required"
INVALID = "the access token is not valid (malformed, expired, revoked or not issued here)"


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value (scheme case-insensitive)."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise PmpError(pb.ERROR_CODE_UNAUTHENTICATED, MISSING)
    return token


def authenticate(
    verifier: AccessTokenVerifier, authorization: str, required_scope: str, alternative: str | None = None
) -> AccessToken:
    """The verified token of the header, which must carry ``required_scope`` (or ``alternative`` when given);
    ``PmpError`` otherwise (naming ``required_scope``)."""
    token = bearer_token(authorization)
    try:
        verified = verifier.verify(token)
    except AccessTokenError as exc:
        log.info("access token refused", extra={"reason": type(exc).__name__, "detail": str(exc)})
        raise PmpError(pb.ERROR_CODE_UNAUTHENTICATED, INVALID) from None
    except AuthStateUnavailable:
        raise PmpError(
            pb.ERROR_CODE_BACKEND_UNAVAILABLE, "token revocation state is unavailable", retry_after=1.0
        ) from None
    if not verified.allows(required_scope) and not (alternative and verified.allows(alternative)):
        raise PmpError(pb.ERROR_CODE_INSUFFICIENT_SCOPE, f"the token lacks scope {required_scope}")
    return verified


class Authenticate:
    """Pipeline stage. Reads the header from ``ctx.authorization``; sets ``ctx.client_id``, ``ctx.eds_id`` and
    ``ctx.scopes``; the scope needed is the protocol's (``REQUIRED_SCOPE``), or for FHIR ``$pdmp-history`` the
    partner hubs' ``pmp/interstate`` (``PARTNER_ALTERNATIVE``; the partner_policy stage checks who holds it)."""

    name = "authenticate"

    def __init__(
        self,
        verifier: AccessTokenVerifier,
        required_scopes: Mapping[str, str] = REQUIRED_SCOPE,
        alternatives: Mapping[tuple[str, str], str] = PARTNER_ALTERNATIVE,
    ) -> None:
        self._verifier = verifier
        self._required = required_scopes
        self._alternatives = alternatives

    async def __call__(self, ctx: RequestContext) -> None:
        required = self._required.get(ctx.protocol)
        if required is None:
            raise PmpError(pb.ERROR_CODE_INSUFFICIENT_SCOPE, "no scope grants this operation")
        alternative = self._alternatives.get((ctx.protocol, ctx.operation))
        verified = authenticate(self._verifier, ctx.authorization, required, alternative)
        ctx.client_id = verified.client_id
        ctx.scopes = verified.scopes | verified.covered  # as granted, plus the route scopes they imply
        ctx.eds_id = verified.eds_id
        ctx.notes[self.name] = f"client={verified.client_id} eds={verified.eds_id}"
