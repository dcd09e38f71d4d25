"""SMART Backend Services client authentication: the ``private_key_jwt`` client assertion (RFC 7523).

Two halves, because authlib's server is synchronous and key resolution may need the network:

1. ``prepare_assertion`` (async, before authlib runs): reads the assertion's header and unverified ``sub``, finds the
   client, applies the SMART header rules and resolves the one verification key — from the registered JWK Set, or
   the registered JWKS URL (fetched and cached), or a ``jku`` header only when it equals that registered URL.
2. ``SmartClientAssertion`` (authlib's ``JWTBearerClientAssertion``, run inside authlib's client authentication):
   verifies the signature with joserfc restricted to ``ASSERTION_ALGORITHMS`` (joserfc refuses RS384/ES384 unless
   told, ``shared/reference/platform.md`` §0.1), then authlib's ``iss``/``sub``/``aud``/``exp`` checks and
   ``sub == iss``, then the SMART rules authlib does not enforce: ``exp`` at most five minutes ahead (and
   ``exp - iat`` too), a string ``jti``. The ``jti`` is recorded on the prepared assertion; the caller claims it in
   the replay store (async) before anything is returned to the client.

Algorithms: RS384 and ES384 — exactly what SMART names (the client SHALL support both, the server SHALL accept at least
one; we accept both). RS256/ES256 are refused: DESIGN §7 allow-lists what SMART names and nothing else.

Every refusal is ``invalid_client`` with a fixed description (never an echo of client input).
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion  # type: ignore[import-untyped]
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from gateway.auth.clients import RegisteredClient
from gateway.auth.errors import JwksFetchError
from gateway.auth.jwks import JwksFetcher, parse_jwks

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS: tuple[str, ...] = ("RS384", "ES384")
MAX_ASSERTION_LIFETIME_S = 300  # SMART: exp no more than five minutes in the future
CLOCK_LEEWAY_S = 30
MAX_ASSERTION_BYTES = 8192
_MAX_ID_LENGTH = 256
_KEY_TYPE = {"RS384": "RSA", "ES384": "EC"}

_current: contextvars.ContextVar[PreparedAssertion] = contextvars.ContextVar("smart_assertion")


def _refuse(description: str) -> InvalidClientError:
    return InvalidClientError(description=description)


@dataclass(slots=True)
class PreparedAssertion:
    """The outcome of ``prepare_assertion``; ``jti``/``expires_at`` are filled in once the assertion verified."""

    client: RegisteredClient
    client_model: Any  # what authlib sees as the client (set by the caller)
    key: Key
    audiences: tuple[str, ...]
    jti: str | None = None
    expires_at: float = 0.0
    issuer: str = field(default="")

    def replay_ttl(self, now: float) -> float:
        """How long the jti must be remembered: until the assertion could no longer be accepted."""
        return max(self.expires_at + CLOCK_LEEWAY_S - now, 1.0)


def read_unverified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The assertion's header and claims, before any verification (only to find the client and its key)."""
    if len(assertion) > MAX_ASSERTION_BYTES:
        raise _refuse("The client assertion is too large.")
    try:
        obj = jws.extract_compact(assertion.encode("ascii"))
        claims = json.loads(obj.payload)
    except (JoseError, ValueError, UnicodeError):
        raise _refuse("The client assertion is not a signed JWT.") from None
    if not isinstance(claims, dict):
        raise _refuse("The client assertion is not a JWT.")
    return dict(obj.headers()), claims


def check_header(header: dict[str, Any], client: RegisteredClient) -> None:
    """SMART's header rules: ``typ`` JWT, an allowed ``alg``, a ``kid``, a ``jku`` only if it is the registered URL."""
    if header.get("typ") != "JWT":
        raise _refuse("The client assertion must have typ JWT.")
    if header.get("alg") not in ASSERTION_ALGORITHMS:
        raise _refuse("The client assertion must be signed with RS384 or ES384.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > _MAX_ID_LENGTH:
        raise _refuse("The client assertion must name its key (kid).")
    if "jku" in header and (not client.jwks_url or header["jku"] != client.jwks_url):
        raise _refuse("The client assertion's jku is not the JWKS URL registered for this client.")


def select_key(keys: KeySet, kid: str, alg: str) -> Key:
    """The single key whose ``kid`` matches and whose type fits ``alg`` (zero or several → refused)."""
    matches = [
        k
        for k in keys.keys
        if k.kid == kid
        and k.key_type == _KEY_TYPE[alg]
        and k.get("use") in (None, "sig")
        and k.get("alg") in (None, alg)
    ]
    if len(matches) != 1:
        raise _refuse("No single registered key matches the client assertion's kid and alg.")
    return matches[0]


async def prepare_assertion(
    assertion: str,
    find_client: Callable[[str], Awaitable[RegisteredClient | None]],
    fetcher: JwksFetcher,
    audiences: tuple[str, ...],
) -> PreparedAssertion:
    """Find the client named by the assertion's ``sub`` and resolve its verification key (refusals:
    ``InvalidClientError``). ``find_client`` is the directory's async lookup."""
    header, claims = read_unverified(assertion)
    client_id = claims.get("sub")
    if not isinstance(client_id, str) or not client_id or len(client_id) > _MAX_ID_LENGTH:
        raise _refuse("The client assertion has no valid sub.")
    client = await find_client(client_id)
    if client is None or not client.active:
        raise _refuse("The client is unknown or not active.")
    if client.auth_method != "private_key_jwt":
        raise _refuse("The client is not registered for private_key_jwt.")
    check_header(header, client)
    try:
        if "jku" in header or (client.jwks is None and client.jwks_url):
            keys = await fetcher.get(str(client.jwks_url))
        elif client.jwks is not None:
            keys = parse_jwks(client.jwks)
        else:
            raise _refuse("The client has no registered keys.")
    except JwksFetchError:
        raise _refuse("The client's keys could not be read.") from None
    key = select_key(keys, header["kid"], header["alg"])
    return PreparedAssertion(client=client, client_model=None, key=key, audiences=audiences)


class SmartClientAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    """authlib's RFC 7523 client authentication with SMART's rules; registered as ``private_key_jwt``.

    It authenticates only a request that ``prepare_assertion`` prepared (``request.prepared_assertion``)."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=CLOCK_LEEWAY_S)

    def __call__(self, query_client: Any, request: Any) -> Any:
        prepared: PreparedAssertion | None = getattr(request, "prepared_assertion", None)
        if prepared is None:
            return None
        model = prepared.client_model

        def lookup(client_id: str) -> Any:
            return model if client_id == prepared.client.client_id else None

        token = _current.set(prepared)
        try:
            return super().__call__(lookup, request)
        finally:
            _current.reset(token)

    def get_audiences(self) -> list[str]:
        return list(_current.get().audiences)

    def resolve_client_public_key(self, client: Any) -> Key:
        return _current.get().key  # never None: that once meant "trust the header's jwk" in authlib

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except JoseError:
            raise _refuse("The client assertion's signature is not valid.") from None
        if token.header.get("typ") != "JWT":
            raise _refuse("The client assertion must have typ JWT.")
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > _MAX_ID_LENGTH:
            raise _refuse("The client assertion needs a jti.")
        super().verify_claims(claims)  # iss, sub, aud, exp (+ iat/nbf when present), sub == iss, validate_jti
        now = time.time()  # the clock authlib's claim checks use
        exp = claims["exp"]
        if exp > now + MAX_ASSERTION_LIFETIME_S + CLOCK_LEEWAY_S:
            raise _refuse("The client assertion expires more than five minutes ahead.")
        iat = claims.get("iat")
        if isinstance(iat, int | float) and exp - iat > MAX_ASSERTION_LIFETIME_S:
            raise _refuse("The client assertion lives longer than five minutes.")

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        prepared = _current.get()
        prepared.jti = jti
        prepared.issuer = claims["iss"]
        prepared.expires_at = float(claims["exp"])
        return True  # claimed asynchronously in the replay store by the caller, before any response
