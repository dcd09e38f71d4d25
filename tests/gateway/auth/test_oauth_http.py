"""The OAuth routes over a real loopback socket, driven by authlib's own OAuth client (httpx ``AsyncOAuth2Client``
with ``private_key_jwt``): get a token, call a protected route with it, introspect it, revoke it, introspection says
inactive. Plus the discovery documents, and hostile HTTP input that must never give a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, unused_port
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523 import PrivateKeyJWT  # type: ignore[import-untyped]
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.app import ERROR_RENDERERS, json_response, observe
from gateway.auth import scopes
from gateway.auth.clients import StaticClientDirectory
from gateway.auth.keys import KeyRing
from gateway.auth.replay import MemoryReplayStore
from gateway.auth.revocation import MemoryRevocationStore
from gateway.auth.service import TokenService
from gateway.pipeline.authenticate import authenticate
from gateway.routes import oauth
from tests.gateway.auth.auth_helpers import ClientKeys, SmartPrivateKeyJWT, sign_assertion, token_form


@dataclass
class Gateway:
    base: str
    client: TestClient[Any, Any]
    service: TokenService

    @property
    def token_url(self) -> str:
        return f"{self.base}/oauth/token"


async def protected(request: web.Request) -> web.Response:
    """A stand-in for a FHIR route: the bearer token must carry the FHIR scope."""
    token = authenticate(
        request.app[oauth.TOKEN_SERVICE].verifier,
        request.headers.get("Authorization", ""),
        scopes.MEDICATION_DISPENSE_READ,
    )
    return json_response({"client_id": token.client_id, "eds": token.eds_id})


@pytest.fixture
async def gateway(aiohttp_client: Any, directory: StaticClientDirectory, keyring: KeyRing) -> Gateway:
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    service = TokenService(
        clients=directory,
        keys=keyring,
        replay=MemoryReplayStore(),
        revocations=MemoryRevocationStore(),
        issuer=base,
    )
    app = web.Application(middlewares=[observe])
    app[ERROR_RENDERERS] = []
    oauth.setup(app, service, max_form_bytes=8192)
    app.router.add_get("/fhir/protected", protected)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    return Gateway(base, client, service)


@pytest.fixture
async def oauth_client(gateway: Gateway, client_keys: ClientKeys) -> AsyncIterator[AsyncOAuth2Client]:
    auth = SmartPrivateKeyJWT(gateway.token_url, alg="RS384", headers={"kid": "rsa-1"})
    async with AsyncOAuth2Client(
        client_id="rsa-client",
        client_secret=client_keys.rsa,
        token_endpoint_auth_method=auth,
        revocation_endpoint_auth_method=auth,
        scope=scopes.MEDICATION_DISPENSE_READ,
        token_endpoint=gateway.token_url,
        grant_type="client_credentials",
        trust_env=False,
    ) as client:
        yield client


async def test_token_introspect_revoke_with_authlibs_client(gateway: Gateway, oauth_client: AsyncOAuth2Client) -> None:
    token = await oauth_client.fetch_token(gateway.token_url, grant_type="client_credentials")
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 300
    assert token["scope"] == scopes.MEDICATION_DISPENSE_READ
    assert "refresh_token" not in token
    access_token = token["access_token"]

    called = await oauth_client.get(f"{gateway.base}/fhir/protected")  # authlib adds the bearer header
    assert called.status_code == 200
    assert called.json() == {"client_id": "rsa-client", "eds": "eds-1"}

    introspection = await oauth_client.introspect_token(f"{gateway.base}/oauth/introspect", token=access_token)
    assert introspection.status_code == 200
    info = introspection.json()
    assert info["active"] is True
    assert info["client_id"] == "rsa-client"
    assert info["scope"] == scopes.MEDICATION_DISPENSE_READ
    assert info["exp"] > info["iat"]
    assert introspection.headers["Cache-Control"] == "no-store"

    revoked = await oauth_client.revoke_token(
        f"{gateway.base}/oauth/revoke", token=access_token, token_type_hint="access_token"
    )
    assert revoked.status_code == 200

    after = await oauth_client.introspect_token(f"{gateway.base}/oauth/introspect", token=access_token)
    assert after.json() == {"active": False}
    refused = await oauth_client.get(f"{gateway.base}/fhir/protected")
    assert refused.status_code == 401


async def test_es384_with_authlibs_client(gateway: Gateway, client_keys: ClientKeys) -> None:
    auth = SmartPrivateKeyJWT(gateway.token_url, alg="ES384", headers={"kid": "ec-1"})
    async with AsyncOAuth2Client(
        client_id="rsa-client",
        client_secret=client_keys.ec,
        token_endpoint_auth_method=auth,
        scope=f"{scopes.MEDICATION_DISPENSE_READ} {scopes.NCPDP_HISTORY}",
        trust_env=False,
    ) as client:
        token = await client.fetch_token(gateway.token_url, grant_type="client_credentials")
    assert token["scope"] == f"{scopes.MEDICATION_DISPENSE_READ} {scopes.NCPDP_HISTORY}"


async def test_authlibs_default_one_hour_assertion_is_refused(gateway: Gateway, client_keys: ClientKeys) -> None:
    stock = PrivateKeyJWT(gateway.token_url, alg="RS384", headers={"kid": "rsa-1"})
    async with AsyncOAuth2Client(
        client_id="rsa-client",
        client_secret=client_keys.rsa,
        token_endpoint_auth_method=stock,
        scope=scopes.MEDICATION_DISPENSE_READ,
        trust_env=False,
    ) as client:
        response = await client.post(
            gateway.token_url,
            data={"grant_type": "client_credentials", "scope": scopes.MEDICATION_DISPENSE_READ},
            auth=client.client_auth(stock),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


async def test_bearer_introspection_and_its_limits(gateway: Gateway, client_keys: ClientKeys) -> None:
    http = gateway.client
    mine = (await gateway.service.token(token_form(sign_assertion(client_keys.rsa, aud=gateway.token_url)), {})).body
    admin_form = token_form(
        sign_assertion(client_keys.rsa, client_id="admin-client", aud=gateway.token_url), "pmp/admin"
    )
    admin = (await gateway.service.token(admin_form, {})).body
    theirs_form = token_form(
        sign_assertion(client_keys.rsa, client_id="v1-client", aud=gateway.token_url), "system/*.read"
    )
    theirs = (await gateway.service.token(theirs_form, {})).body

    async def introspect(caller: str, token: str) -> dict[str, Any]:
        response = await http.post(
            "/oauth/introspect", data={"token": token}, headers={"Authorization": f"Bearer {caller}"}
        )
        assert response.status == 200
        return await response.json()  # type: ignore[no-any-return]

    assert (await introspect(mine["access_token"], mine["access_token"]))["active"] is True
    assert await introspect(mine["access_token"], theirs["access_token"]) == {"active": False}  # not its token
    assert (await introspect(admin["access_token"], theirs["access_token"]))["client_id"] == "v1-client"
    assert await introspect(mine["access_token"], "garbage") == {"active": False}

    anonymous = await http.post("/oauth/introspect", data={"token": mine["access_token"]})
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    bad_bearer = await http.post(
        "/oauth/introspect", data={"token": mine["access_token"]}, headers={"Authorization": "Bearer nope"}
    )
    assert bad_bearer.status == 401
    assert (await bad_bearer.json())["error"] == "invalid_token"


async def test_revocation_rules(gateway: Gateway, client_keys: ClientKeys) -> None:
    http = gateway.client

    def assertion_form(client_id: str = "rsa-client", **extra: str) -> dict[str, str]:
        a = sign_assertion(client_keys.rsa, client_id=client_id, aud=f"{gateway.base}/oauth/revoke")
        return {"client_assertion_type": token_form(a)["client_assertion_type"], "client_assertion": a, **extra}

    theirs_form = token_form(
        sign_assertion(client_keys.rsa, client_id="v1-client", aud=gateway.token_url), "system/*.read"
    )
    theirs = (await gateway.service.token(theirs_form, {})).body["access_token"]
    for junk in ("", "unknown-token", "a.b.c"):
        ok = await http.post("/oauth/revoke", data=assertion_form(token=junk))
        assert ok.status == 200, await ok.text()
    other = await http.post("/oauth/revoke", data=assertion_form(token=theirs))
    assert other.status == 400  # issued to another client (RFC 7009 §2.1)
    assert (await other.json())["error"] == "invalid_grant"
    assert gateway.service.verifier.verify(theirs).client_id == "v1-client"
    unauthenticated = await http.post("/oauth/revoke", data={"token": theirs})
    assert unauthenticated.status == 400
    assert (await unauthenticated.json())["error"] == "invalid_client"
    by_admin = await http.post("/oauth/revoke", data=assertion_form("admin-client", token=theirs))
    assert by_admin.status == 200
    introspected = await http.post(
        "/oauth/introspect",
        data={"token": theirs},
        headers={"Authorization": f"Bearer {theirs}"},
    )
    assert introspected.status == 401  # a revoked token cannot even authenticate the introspection call


async def test_discovery_documents(gateway: Gateway) -> None:
    http = gateway.client
    for path in ("/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"):
        response = await http.get(path)
        assert response.status == 200
        smart = await response.json()
        assert smart["token_endpoint"] == gateway.token_url
        assert "client_credentials" in smart["grant_types_supported"]
        assert {"client-confidential-asymmetric", "permission-v2", "permission-v1"} <= set(smart["capabilities"])
        assert smart["code_challenge_methods_supported"] == ["S256"]
        assert "private_key_jwt" in smart["token_endpoint_auth_methods_supported"]
        assert set(smart["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384"}
        assert scopes.MEDICATION_DISPENSE_READ in smart["scopes_supported"]
        assert smart["introspection_endpoint"] == f"{gateway.base}/oauth/introspect"
        assert smart["revocation_endpoint"] == f"{gateway.base}/oauth/revoke"
        assert smart["jwks_uri"] == f"{gateway.base}/.well-known/jwks.json"
        assert smart["issuer"] == gateway.base
    metadata = await (await http.get("/.well-known/oauth-authorization-server")).json()
    AuthorizationServerMetadata(metadata).validate()
    assert metadata["issuer"] == gateway.base


async def test_published_jwks_verifies_our_tokens(gateway: Gateway, client_keys: ClientKeys) -> None:
    response = await gateway.client.get("/.well-known/jwks.json")
    assert response.status == 200
    jwks = await response.json()
    assert all("d" not in k for k in jwks["keys"])
    body = (await gateway.service.token(token_form(sign_assertion(client_keys.rsa, aud=gateway.token_url)), {})).body
    decoded = jwt.decode(body["access_token"], KeySet.import_key_set(jwks), algorithms=["RS256", "ES256"])
    assert decoded.claims["iss"] == gateway.base


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": b"grant_type=client_credentials", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": b"\xff\xfe\x00", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400),
        ({"data": b"a=%FF%FE", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400),
        ({"data": b"grant_type=a&grant_type=b", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400),
        ({"data": b"x=" + b"y" * 9000, "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 413),
        (
            {
                "data": "&".join(f"f{i}=1" for i in range(50)),
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            400,
        ),
        ({"data": b"", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400),
        (
            {
                "data": b"grant_type=client_credentials&client_assertion_type=x&client_assertion=%00",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            400,
        ),
        (
            {
                "data": b"grant_type=client_credentials",
                "headers": {"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic %%%%"},
            },
            401,
        ),
    ],
)
async def test_hostile_token_requests_never_500(gateway: Gateway, kwargs: dict[str, Any], status: int) -> None:
    for path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
        response = await gateway.client.post(path, **kwargs)
        assert response.status < 500, (path, await response.text())
        assert response.content_type == "application/json"
        body = await response.json()
        assert "error" in body
        if path == "/oauth/token":
            assert response.status == status, await response.text()


async def test_wrong_method_is_405_not_500(gateway: Gateway) -> None:
    response = await gateway.client.get("/oauth/token")
    assert response.status == 405


async def test_chunked_oversized_body_is_cut_off(gateway: Gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"y" * 1000

    async with httpx.AsyncClient(trust_env=False) as raw:
        response = await raw.post(
            gateway.token_url, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    assert response.status_code == 413
