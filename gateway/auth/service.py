"""The OAuth 2.0 authorization server: token (client_credentials), introspection (RFC 7662), revocation (RFC 7009)
and the discovery documents — authlib's ``AuthorizationServer`` with our aiohttp-free glue
(``shared/reference/platform.md`` §1.3, option b).

authlib's server is synchronous, so each endpoint runs in three steps:

1. **prepare** (async): identify the client — a ``private_key_jwt`` assertion (``assertion.prepare_assertion``: client
   lookup, SMART header rules, key resolution with JWKS fetching), HTTP Basic for a client registered for
   ``client_secret_basic`` (scrypt check in a worker thread), or, for introspection only, a bearer access token of ours.
2. **authlib** (sync, CPU only): the grant / endpoint logic with our client authentication methods plugged in —
   signature and claim checks, grant type, scope, token generation.
3. **commit** (async): claim the assertion's ``jti`` in the replay store (a replay discards the response and is
   ``invalid_client``), then apply a revocation. Only then is anything returned.

Errors are RFC 6749 §5.2 JSON with ``Cache-Control: no-store`` and ``Pragma: no-cache``; an unreachable replay or
revocation store is ``503 temporarily_unavailable`` (fail closed).

Introspection is protected: the caller authenticates as a client (``private_key_jwt`` / ``client_secret_basic``) or
presents one of our bearer tokens (SMART: a client holding a suitably scoped backend token SHALL be allowed). A caller
learns about its own tokens only; one allowed ``pmp/admin`` may introspect and revoke any client's tokens. Anything
else reads ``{"active": false}``. Revocation needs client authentication (RFC 7009) and answers 200 for unknown,
malformed or expired tokens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.common.security import is_secure_transport  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    AuthorizationServer,
    ClientCredentialsGrant,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.util import extract_basic_authorization  # type: ignore[import-untyped]
from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7662 import IntrospectionEndpoint  # type: ignore[import-untyped]
from multidict import CIMultiDict

from gateway.auth import scopes as scope_rules
from gateway.auth.assertion import ASSERTION_ALGORITHMS, ASSERTION_TYPE, SmartClientAssertion, prepare_assertion
from gateway.auth.clients import ClientDirectory, RegisteredClient, hash_secret, verify_secret
from gateway.auth.errors import AccessTokenError, AuthStateUnavailable
from gateway.auth.jwks import JwksFetcher
from gateway.auth.keys import KeyRing
from gateway.auth.replay import ReplayStore
from gateway.auth.revocation import RevocationStore
from gateway.auth.tokens import MAX_TOKEN_TTL_SECONDS, AccessToken, AccessTokenVerifier, TokenIssuer

log = logging.getLogger("pmp.auth")

CLIENT_AUTH_METHODS = ["private_key_jwt", "client_secret_basic"]
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
_SECRET_CHECKS = 4  # concurrent scrypt verifications (each ~16 MiB, tens of ms)


@dataclass(frozen=True, slots=True)
class OAuthResponse:
    """What an endpoint answers; the HTTP layer only copies it out."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...]


class _ClientModel:
    """A registered client as authlib's ``ClientMixin`` sees it."""

    def __init__(self, registered: RegisteredClient, *, secret_ok: bool = False) -> None:
        self.registered = registered
        self.client_id = registered.client_id
        self._secret_ok = secret_ok

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def check_client_secret(self, client_secret: str) -> bool:
        return self._secret_ok  # verified before authlib ran (off the event loop)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.registered.auth_method

    def granted(self, scope: str | None) -> tuple[str, ...]:
        return scope_rules.grant(scope, self.registered.scopes)

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(self.granted(scope))

    def may_manage(self, client_id: str) -> bool:
        return client_id == self.client_id or scope_rules.ADMIN in self.registered.scopes


class _BearerCaller:
    """An introspection caller identified by one of our access tokens."""

    def __init__(self, token: AccessToken) -> None:
        self.token = token
        self.client_id = token.client_id

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return True

    def may_manage(self, client_id: str) -> bool:
        return client_id == self.client_id or self.token.allows(scope_rules.ADMIN)


class _TokenModel:
    """An access token of ours as authlib's ``TokenMixin`` sees it (introspection, revocation)."""

    def __init__(self, token: AccessToken, revocations: RevocationStore) -> None:
        self.token = token
        self._revocations = revocations

    def check_client(self, client: Any) -> bool:
        return bool(client.may_manage(self.token.client_id))

    def get_scope(self) -> str:
        return self.token.scope

    def get_expires_in(self) -> int:
        return self.token.expires_at - self.token.issued_at

    def is_expired(self) -> bool:
        return self.token.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return self._revocations.is_revoked(self.token.jti)


class _Request(OAuth2Request):  # type: ignore[misc]
    """One endpoint call: the form already read, plus what the prepare step found."""

    def __init__(self, uri: str, form: dict[str, str], headers: CIMultiDict[str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form
        self.prepared_assertion: Any = None
        self.basic_client: _ClientModel | None = None
        self.bearer_caller: _BearerCaller | None = None
        self.revocation: tuple[str, float] | None = None

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


def _basic_auth(query_client: Any, request: _Request) -> _ClientModel | None:
    return request.basic_client


class _Server(AuthorizationServer):  # type: ignore[misc]
    """authlib's server with framework hooks that build ``OAuthResponse`` values."""

    def query_client(self, client_id: str) -> None:
        return None  # clients are resolved (asynchronously) before authlib runs

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        return None  # JWT access tokens are self-contained: nothing to store

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def create_json_request(self, request: Any) -> Any:  # pragma: no cover - no JSON endpoints
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> OAuthResponse:
        return OAuthResponse(status, dict(body or {}), tuple((str(k), str(v)) for k, v in headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class _ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_requested_scope(self) -> None:
        requested = self.request.payload.scope
        if not requested or not requested.strip():
            raise InvalidScopeError(description="The scope parameter is required.")
        try:
            granted = self.request.client.granted(requested)
        except scope_rules.ScopeSyntaxError:
            raise InvalidScopeError(description="The scope parameter is malformed.") from None
        if not granted:
            raise InvalidScopeError(description="None of the requested scopes is allowed for this client.")


class _Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def __init__(self, server: _Server, service: TokenService) -> None:
        super().__init__(server)
        self._service = service

    def authenticate_endpoint_client(self, request: _Request) -> Any:
        if request.bearer_caller is not None:
            request.client = request.bearer_caller
            return request.bearer_caller
        return super().authenticate_endpoint_client(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> _TokenModel | None:
        return self._service._recognise(token_string)

    def check_permission(self, token: _TokenModel, client: Any, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: _TokenModel) -> dict[str, Any]:
        t = token.token
        return {
            "active": True,
            "scope": t.scope,
            "client_id": t.client_id,
            "sub": t.client_id,
            "eds": t.eds_id,
            "token_type": "Bearer",
            "exp": t.expires_at,
            "iat": t.issued_at,
            "iss": self._service.issuer,
            "aud": self._service.audience,
            "jti": t.jti,
        }


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def __init__(self, server: _Server, service: TokenService) -> None:
        super().__init__(server)
        self._service = service

    def query_token(self, token_string: str, token_type_hint: str | None) -> _TokenModel | None:
        found = self._service._recognise(token_string)
        if found is None or found.is_expired():
            return None  # nothing to revoke: RFC 7009 answers 200 all the same
        return found

    def revoke_token(self, token: _TokenModel, request: _Request) -> None:
        request.revocation = (token.token.jti, float(token.token.expires_at))  # applied after the jti claim


def _error(status: int, error: str, description: str, *extra: tuple[str, str]) -> OAuthResponse:
    return OAuthResponse(
        status,
        {"error": error, "error_description": description},
        (("Content-Type", "application/json"), *NO_STORE, *extra),
    )


class TokenService:
    """The authorization server of the gateway. ``issuer`` is its public base URL (``https://…``, or ``http://`` on
    loopback); the endpoints live under it (``/oauth/token``, ``/oauth/introspect``, ``/oauth/revoke``,
    ``/.well-known/jwks.json``). Access tokens are for ``audience`` (default: the issuer — the gateway is its own
    resource server for FHIR, NCPDP, PMIX and admin alike)."""

    def __init__(
        self,
        *,
        clients: ClientDirectory,
        keys: KeyRing,
        replay: ReplayStore,
        revocations: RevocationStore,
        issuer: str,
        audience: str | None = None,
        fetcher: JwksFetcher | None = None,
        token_ttl_seconds: int = MAX_TOKEN_TTL_SECONDS,
        token_cache_entries: int = 10_000,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        if not is_secure_transport(self.issuer) or "?" in self.issuer or "#" in self.issuer:
            raise ValueError("the OAuth issuer must be an https URL (http only on loopback), without query or fragment")
        self.audience = (audience or self.issuer).rstrip("/")
        self.token_url = f"{self.issuer}/oauth/token"
        self.introspection_url = f"{self.issuer}/oauth/introspect"
        self.revocation_url = f"{self.issuer}/oauth/revoke"
        self.jwks_url = f"{self.issuer}/.well-known/jwks.json"
        self.clients = clients
        self.keys = keys
        self.replay = replay
        self.revocations = revocations
        self.fetcher = fetcher or JwksFetcher()
        self.issuer_of_tokens = TokenIssuer(
            keys, issuer=self.issuer, audience=self.audience, ttl_seconds=token_ttl_seconds
        )
        self.verifier = AccessTokenVerifier(
            keys, revocations, issuer=self.issuer, audience=self.audience, max_entries=token_cache_entries
        )
        self._secret_checks = asyncio.Semaphore(_SECRET_CHECKS)
        self._dummy_hash = hash_secret("not a secret")

        server = _Server(scopes_supported=list(scope_rules.SCOPES_SUPPORTED))
        server.register_client_auth_method("private_key_jwt", SmartClientAssertion())
        server.register_client_auth_method("client_secret_basic", _basic_auth)
        server.register_grant(_ClientCredentials)
        server.register_token_generator("default", self._generate_token)
        server.register_endpoint(_Introspection(server, self))
        server.register_endpoint(_Revocation(server, self))
        self._server = server

    async def aclose(self) -> None:
        await self.fetcher.aclose()

    # -- endpoints ---------------------------------------------------------------------------------------------

    async def token(self, form: Mapping[str, str], headers: Mapping[str, str]) -> OAuthResponse:
        """``POST /oauth/token``."""
        if not form.get("grant_type"):
            return _error(400, "invalid_request", "The grant_type parameter is required.")
        return await self._run(None, self.token_url, form, headers)

    async def introspect(self, form: Mapping[str, str], headers: Mapping[str, str]) -> OAuthResponse:
        """``POST /oauth/introspect``."""
        return await self._run("introspection", self.introspection_url, form, headers)

    async def revoke(self, form: Mapping[str, str], headers: Mapping[str, str]) -> OAuthResponse:
        """``POST /oauth/revoke``."""
        return await self._run("revocation", self.revocation_url, form, headers)

    async def _run(
        self, endpoint: str | None, uri: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> OAuthResponse:
        request = _Request(uri, dict(form), CIMultiDict(headers))
        try:
            refusal = await self._prepare(
                request, audiences=(self.token_url, uri), bearer_ok=endpoint == "introspection"
            )
            if refusal is not None:
                return refusal
            if endpoint is None:
                response: OAuthResponse = self._server.create_token_response(request)
            else:
                response = self._server.create_endpoint_response(endpoint, request)
            if response.status == 200:
                response = await self._commit(request, response)
        except OAuth2Error as error:
            response = self._server.handle_error_response(request, error)
        except AuthStateUnavailable:
            log.warning("oauth state store unavailable", extra={"endpoint": endpoint or "token"})
            return _error(503, "temporarily_unavailable", "Try again shortly.", ("Retry-After", "1"))
        if response.status != 200:  # fixed descriptions only: never a secret, a token or client input
            log.info(
                "oauth refusal",
                extra={
                    "endpoint": endpoint or "token",
                    "error": response.body.get("error", ""),
                    "reason": response.body.get("error_description", ""),
                },
            )
        return response

    async def _prepare(self, request: _Request, *, audiences: tuple[str, str], bearer_ok: bool) -> OAuthResponse | None:
        form = request.form
        authorization = request.headers.get("Authorization", "")
        scheme = authorization.split(" ", 1)[0].lower() if authorization else ""
        has_assertion = "client_assertion" in form or "client_assertion_type" in form
        if has_assertion and scheme:
            raise InvalidRequestError(description="Use one client authentication method per request.")
        if has_assertion:
            if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
                raise InvalidClientError(description="Unsupported client assertion type.")
            prepared = await prepare_assertion(
                form["client_assertion"], self.clients.find_client, self.fetcher, audiences
            )
            prepared.client_model = _ClientModel(prepared.client)
            request.prepared_assertion = prepared
            return None
        if scheme == "basic":
            request.basic_client = await self._check_basic(request.headers)
            return None
        if scheme == "bearer" and bearer_ok:
            try:
                caller = self.verifier.verify(authorization.split(" ", 1)[1].strip() if " " in authorization else "")
            except AccessTokenError:
                return _error(
                    401,
                    "invalid_token",
                    "The access token is not valid.",
                    ("WWW-Authenticate", 'Bearer error="invalid_token"'),
                )
            request.bearer_caller = _BearerCaller(caller)
            return None
        if bearer_ok:
            return _error(
                401,
                "invalid_client",
                "Client authentication or a bearer token is required.",
                ("WWW-Authenticate", "Bearer"),
            )
        raise InvalidClientError(description="Client authentication is required.")

    async def _check_basic(self, headers: CIMultiDict[str]) -> _ClientModel:
        client_id, secret = extract_basic_authorization(headers)
        failed = InvalidClientError(status_code=401, description="Client authentication failed.")
        if not client_id or not secret or len(client_id) > 256 or len(secret) > 1024:
            raise failed
        client = await self.clients.find_client(client_id)
        eligible = (
            client is not None and client.active and client.auth_method == "client_secret_basic" and client.secret_hash
        )
        async with self._secret_checks:  # same cost whether or not the client exists (no timing oracle)
            stored = client.secret_hash if eligible and client is not None else self._dummy_hash
            ok = await asyncio.to_thread(verify_secret, secret, str(stored))
        if not (eligible and ok) or client is None:
            raise failed
        return _ClientModel(client, secret_ok=True)

    async def _commit(self, request: _Request, response: OAuthResponse) -> OAuthResponse:
        prepared = request.prepared_assertion
        if prepared is not None:
            if not prepared.jti:
                raise InvalidClientError(description="The client assertion was not verified.")
            now = time.time()
            if not await self.replay.claim(prepared.issuer, prepared.jti, prepared.replay_ttl(now)):
                log.info("client assertion replayed", extra={"client_id": prepared.client.client_id})
                raise InvalidClientError(description="The client assertion was already used.")
        if request.revocation is not None:
            await self.revocations.revoke(*request.revocation)
        return response

    def _generate_token(
        self,
        grant_type: str,
        client: _ClientModel,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = client.granted(scope)
        token, _ = self.issuer_of_tokens.issue(client.client_id, client.registered.eds_id, granted)
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.issuer_of_tokens.ttl_seconds,
            "scope": " ".join(granted),
        }  # never a refresh token (SMART Backend Services)

    def _recognise(self, token_string: str) -> _TokenModel | None:
        """One of our access tokens (expired ones included), or ``None``."""
        try:
            return _TokenModel(self.verifier.inspect(token_string, check_expiry=False), self.revocations)
        except AccessTokenError:
            return None

    # -- discovery ---------------------------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """``GET /.well-known/jwks.json``: the public keys that verify our access tokens."""
        return self.keys.jwks()

    def authorization_server_metadata(self) -> dict[str, Any]:
        """``GET /.well-known/oauth-authorization-server`` (RFC 8414)."""
        algs = list(ASSERTION_ALGORITHMS)
        return {
            "issuer": self.issuer,
            "token_endpoint": self.token_url,
            "jwks_uri": self.jwks_url,
            "scopes_supported": list(scope_rules.SCOPES_SUPPORTED),
            "response_types_supported": ["none"],  # no authorization endpoint: backend services only
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": algs,
            "introspection_endpoint": self.introspection_url,
            "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "introspection_endpoint_auth_signing_alg_values_supported": algs,
            "revocation_endpoint": self.revocation_url,
            "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "revocation_endpoint_auth_signing_alg_values_supported": algs,
            "code_challenge_methods_supported": ["S256"],
        }

    def smart_configuration(self) -> dict[str, Any]:
        """``GET /.well-known/smart-configuration`` (SMART App Launch 2.2 conformance)."""
        return {
            **self.authorization_server_metadata(),
            "capabilities": [
                "client-confidential-asymmetric",
                "client-confidential-symmetric",
                "permission-v2",
                "permission-v1",
            ],
        }
