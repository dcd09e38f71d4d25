"""The token endpoint (``TokenService.token``): SMART Backend Services client assertions, each refusal of issue 5's
negative list with its RFC 6749 §5.2 error, client_secret_basic, scopes and the token it issues."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import RSAKey

from gateway.auth import scopes
from gateway.auth.clients import RegisteredClient, StaticClientDirectory
from gateway.auth.keys import KeyRing
from gateway.auth.replay import MemoryReplayStore
from gateway.auth.revocation import MemoryRevocationStore
from gateway.auth.service import OAuthResponse, TokenService
from tests.gateway.auth.auth_helpers import (
    ASSERTION_TYPE,
    BASIC_SECRET,
    ISSUER,
    TOKEN_URL,
    ClientKeys,
    sign_assertion,
    token_form,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def _refused(response: OAuthResponse, error: str, status: int = 400, because: str = "") -> None:
    assert response.status == status, response
    assert response.body["error"] == error, response
    assert because in response.body.get("error_description", ""), response
    headers = dict(response.headers)
    assert headers["Cache-Control"] == "no-store"
    assert headers["Pragma"] == "no-cache"
    assert "access_token" not in response.body


# -- accepted ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["rsa", "ec"])
async def test_rs384_and_es384_assertions_are_accepted(
    service: TokenService, client_keys: ClientKeys, which: str
) -> None:
    key, alg = (client_keys.rsa, "RS384") if which == "rsa" else (client_keys.ec, "ES384")
    response = await service.token(token_form(sign_assertion(key, alg=alg)), {})
    assert response.status == 200, response
    body = response.body
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == scopes.MEDICATION_DISPENSE_READ
    assert "refresh_token" not in body
    assert dict(response.headers)["Cache-Control"] == "no-store"
    verified = service.verifier.verify(body["access_token"])
    assert (verified.client_id, verified.eds_id) == ("rsa-client", "eds-1")


async def test_the_access_token_is_an_rfc9068_jwt(service: TokenService, client_keys: ClientKeys) -> None:
    body = (await service.token(token_form(sign_assertion(client_keys.rsa)), {})).body
    decoded = jwt.decode(body["access_token"], service.keys.key_set, algorithms=["RS256"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["kid"] == service.keys.signing_key.kid
    claims = decoded.claims
    assert claims["iss"] == ISSUER
    assert claims["aud"] == ISSUER
    assert claims["sub"] == claims["client_id"] == "rsa-client"
    assert claims["eds"] == "eds-1"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]


async def test_assertion_audience_may_be_a_list_holding_the_token_url(
    service: TokenService, client_keys: ClientKeys
) -> None:
    response = await service.token(token_form(sign_assertion(client_keys.rsa, aud=[TOKEN_URL])), {})
    assert response.status == 200, response


async def test_granted_scopes_are_the_requested_ones_the_client_may_have(
    service: TokenService, client_keys: ClientKeys
) -> None:
    scope = f"{scopes.MEDICATION_DISPENSE_READ} {scopes.ADMIN} {scopes.NCPDP_HISTORY} system/Patient.rs"
    response = await service.token(token_form(sign_assertion(client_keys.rsa), scope=scope), {})
    assert response.status == 200
    assert response.body["scope"] == f"{scopes.MEDICATION_DISPENSE_READ} {scopes.NCPDP_HISTORY}"


async def test_a_v1_read_scope_is_honoured(service: TokenService, client_keys: ClientKeys) -> None:
    assertion = sign_assertion(client_keys.rsa, client_id="v1-client")
    response = await service.token(token_form(assertion, scope="system/MedicationDispense.read"), {})
    assert response.status == 200, response
    assert response.body["scope"] == "system/MedicationDispense.read"
    assert service.verifier.verify(response.body["access_token"]).allows(scopes.MEDICATION_DISPENSE_READ)


async def test_client_secret_basic_for_a_client_registered_that_way(service: TokenService) -> None:
    form = {"grant_type": "client_credentials", "scope": scopes.NCPDP_HISTORY}
    response = await service.token(form, _basic("basic-client", BASIC_SECRET))
    assert response.status == 200, response
    assert service.verifier.verify(response.body["access_token"]).eds_id == "eds-3"


# -- the negative list ---------------------------------------------------------------------------------------------


async def test_alg_none_is_refused(service: TokenService) -> None:
    now = int(time.time())
    header = _b64(b'{"alg":"none","typ":"JWT","kid":"rsa-1"}')
    claims = f'{{"iss":"rsa-client","sub":"rsa-client","aud":"{TOKEN_URL}","exp":{now + 60},"jti":"n1"}}'
    _refused(await service.token(token_form(f"{header}.{_b64(claims.encode())}."), {}), "invalid_client")


async def test_hs256_signed_with_the_public_key_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    # the classic key-confusion forgery, made by hand (joserfc itself refuses a public key as an HMAC secret)
    now = int(time.time())
    header = _b64(b'{"alg":"HS256","typ":"JWT","kid":"rsa-1"}')
    claims = f'{{"iss":"rsa-client","sub":"rsa-client","aud":"{TOKEN_URL}","exp":{now + 60},"jti":"h1"}}'
    signing_input = f"{header}.{_b64(claims.encode())}"
    for secret in (client_keys.rsa.as_pem(private=False), json.dumps(client_keys.rsa.as_dict(private=False)).encode()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        _refused(await service.token(token_form(f"{signing_input}.{_b64(mac)}"), {}), "invalid_client")


async def test_rs256_is_not_a_smart_algorithm(service: TokenService, client_keys: ClientKeys) -> None:
    _refused(await service.token(token_form(sign_assertion(client_keys.rsa, alg="RS256")), {}), "invalid_client")


async def test_unknown_kid_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    assertion = sign_assertion(client_keys.rsa, header={"kid": "nobody"})
    _refused(await service.token(token_form(assertion), {}), "invalid_client", because="kid")


async def test_kid_of_the_wrong_key_type_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    # the EC key's kid with an RS384 signature: no key of type RSA has that kid
    assertion = sign_assertion(client_keys.rsa, header={"kid": "ec-1"})
    _refused(await service.token(token_form(assertion), {}), "invalid_client", because="kid and alg")


async def test_a_key_that_is_not_registered_is_refused(service: TokenService) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    _refused(await service.token(token_form(sign_assertion(stranger)), {}), "invalid_client", because="signature")


@pytest.mark.parametrize("missing", ["typ", "kid"])
async def test_missing_typ_or_kid_is_refused(service: TokenService, client_keys: ClientKeys, missing: str) -> None:
    _refused(await service.token(token_form(sign_assertion(client_keys.rsa, drop=(missing,))), {}), "invalid_client")


async def test_a_typ_other_than_jwt_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    assertion = sign_assertion(client_keys.rsa, header={"typ": "at+jwt"})
    _refused(await service.token(token_form(assertion), {}), "invalid_client", because="typ JWT")


async def test_expired_assertion_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    now = int(time.time())
    assertion = sign_assertion(client_keys.rsa, claims={"iat": now - 400, "exp": now - 120})
    _refused(await service.token(token_form(assertion), {}), "invalid_client", because="expired")


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_not_yet_valid_assertion_is_refused(service: TokenService, client_keys: ClientKeys, claim: str) -> None:
    now = int(time.time())
    assertion = sign_assertion(client_keys.rsa, claims={claim: now + 200, "exp": now + 280})
    _refused(await service.token(token_form(assertion), {}), "invalid_client")


async def test_exp_more_than_five_minutes_ahead_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    _refused(
        await service.token(token_form(sign_assertion(client_keys.rsa, exp_in=600)), {}),
        "invalid_client",
        because="five minutes ahead",
    )


async def test_a_lifetime_over_five_minutes_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    now = int(time.time())
    assertion = sign_assertion(client_keys.rsa, claims={"iat": now - 200, "exp": now + 200})
    _refused(await service.token(token_form(assertion), {}), "invalid_client", because="longer than five")


@pytest.mark.parametrize("aud", [f"{ISSUER}/other", "https://pmp.example.gov/oauth/token", [f"{ISSUER}/x"]])
async def test_wrong_audience_is_refused(service: TokenService, client_keys: ClientKeys, aud: Any) -> None:
    _refused(
        await service.token(token_form(sign_assertion(client_keys.rsa, aud=aud)), {}), "invalid_client", because="aud"
    )


async def test_replayed_jti_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    assertion = sign_assertion(client_keys.rsa)
    assert (await service.token(token_form(assertion), {})).status == 200
    _refused(await service.token(token_form(assertion), {}), "invalid_client", because="already used")
    # the same jti in a freshly signed assertion of the same issuer is a replay too
    again = sign_assertion(
        client_keys.ec,
        alg="ES384",
        claims={"jti": jwt.decode(assertion, client_keys.rsa, algorithms=["RS384"]).claims["jti"]},
    )
    _refused(await service.token(token_form(again), {}), "invalid_client", because="already used")


async def test_missing_jti_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    _refused(
        await service.token(token_form(sign_assertion(client_keys.rsa, drop=("jti",))), {}),
        "invalid_client",
        because="jti",
    )


async def test_a_jku_that_is_not_registered_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    assertion = sign_assertion(client_keys.rsa, header={"jku": "https://attacker.example/jwks.json"})
    _refused(await service.token(token_form(assertion), {}), "invalid_client", because="jku")


@pytest.mark.parametrize("claims", [{"iss": "admin-client"}, {"sub": "admin-client"}])
async def test_iss_and_sub_must_both_be_the_client(
    service: TokenService, client_keys: ClientKeys, claims: dict[str, str]
) -> None:
    _refused(
        await service.token(token_form(sign_assertion(client_keys.rsa, claims=claims)), {}),
        "invalid_client",
        because="Issuer and Subject",
    )


async def test_unknown_client_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    _refused(await service.token(token_form(sign_assertion(client_keys.rsa, client_id="ghost")), {}), "invalid_client")


async def test_disabled_client_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    assertion = sign_assertion(client_keys.rsa, client_id="disabled-client")
    _refused(await service.token(token_form(assertion), {}), "invalid_client", because="not active")


async def test_basic_auth_for_a_private_key_jwt_client_is_refused(service: TokenService) -> None:
    form = {"grant_type": "client_credentials", "scope": scopes.MEDICATION_DISPENSE_READ}
    response = await service.token(form, _basic("rsa-client", "whatever"))
    _refused(response, "invalid_client", 401)
    assert dict(response.headers)["WWW-Authenticate"].startswith("Basic")


async def test_wrong_basic_secret_is_refused(service: TokenService) -> None:
    form = {"grant_type": "client_credentials", "scope": scopes.NCPDP_HISTORY}
    _refused(await service.token(form, _basic("basic-client", "wrong")), "invalid_client", 401)
    _refused(await service.token(form, _basic("nobody", BASIC_SECRET)), "invalid_client", 401)


async def test_an_assertion_for_a_basic_client_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    assertion = sign_assertion(client_keys.rsa, client_id="basic-client")
    _refused(
        await service.token(token_form(assertion, scope=scopes.NCPDP_HISTORY), {}),
        "invalid_client",
        because="private_key_jwt",
    )


async def test_two_authentication_methods_are_refused(service: TokenService, client_keys: ClientKeys) -> None:
    form = token_form(sign_assertion(client_keys.rsa))
    _refused(await service.token(form, _basic("basic-client", BASIC_SECRET)), "invalid_request")


async def test_no_client_authentication_is_refused(service: TokenService) -> None:
    form = {"grant_type": "client_credentials", "scope": scopes.MEDICATION_DISPENSE_READ}
    _refused(await service.token(form, {}), "invalid_client")


async def test_wrong_assertion_type_is_refused(service: TokenService, client_keys: ClientKeys) -> None:
    form = token_form(sign_assertion(client_keys.rsa)) | {"client_assertion_type": "urn:other"}
    _refused(await service.token(form, {}), "invalid_client")


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "....", "eyJhbGciOiJSUzM4NCJ9.e30.AAAA", "é" * 10])
async def test_garbage_assertions_are_refused(service: TokenService, garbage: str) -> None:
    _refused(await service.token(token_form(garbage), {}), "invalid_client")


@pytest.mark.parametrize(
    ("scope", "error"),
    [
        ("", "invalid_scope"),
        (None, "invalid_scope"),
        (scopes.ADMIN, "invalid_scope"),  # not allowed for this client
        ("system/MedicationDispense.cruds", "invalid_scope"),  # the gateway never grants writes
        ('bad"scope', "invalid_scope"),
    ],
)
async def test_scope_refusals(service: TokenService, client_keys: ClientKeys, scope: str | None, error: str) -> None:
    form = token_form(sign_assertion(client_keys.rsa))
    if scope is None:
        del form["scope"]
    else:
        form["scope"] = scope
    _refused(await service.token(form, {}), error)


async def test_grant_type_refusals(service: TokenService, client_keys: ClientKeys) -> None:
    form = token_form(sign_assertion(client_keys.rsa))
    _refused(await service.token(form | {"grant_type": "authorization_code"}, {}), "unsupported_grant_type")
    del form["grant_type"]
    _refused(await service.token(form, {}), "invalid_request")


async def test_replay_store_unavailable_fails_closed(
    directory: StaticClientDirectory, keyring: KeyRing, client_keys: ClientKeys
) -> None:
    service = TokenService(
        clients=directory,
        keys=keyring,
        replay=MemoryReplayStore(max_entries=1),
        revocations=MemoryRevocationStore(),
        issuer=ISSUER,
    )
    assert (await service.token(token_form(sign_assertion(client_keys.rsa)), {})).status == 200
    response = await service.token(token_form(sign_assertion(client_keys.rsa)), {})
    assert response.status == 503
    assert response.body["error"] == "temporarily_unavailable"
    assert "access_token" not in response.body


async def test_client_registered_without_keys_is_refused(keyring: KeyRing, client_keys: ClientKeys) -> None:
    directory = StaticClientDirectory(
        [RegisteredClient("rsa-client", "eds-1", "private_key_jwt", frozenset({scopes.ADMIN}), active=True)]
    )
    service = TokenService(
        clients=directory,
        keys=keyring,
        replay=MemoryReplayStore(),
        revocations=MemoryRevocationStore(),
        issuer=ISSUER,
    )
    _refused(await service.token(token_form(sign_assertion(client_keys.rsa), scope=scopes.ADMIN), {}), "invalid_client")


def test_the_issuer_must_be_https_or_loopback(directory: StaticClientDirectory, keyring: KeyRing) -> None:
    stores: Any = {"replay": MemoryReplayStore(), "revocations": MemoryRevocationStore()}
    with pytest.raises(ValueError, match="https"):
        TokenService(clients=directory, keys=keyring, issuer="http://pmp.example.gov", **stores)
    TokenService(clients=directory, keys=keyring, issuer="https://pmp.example.gov", **stores)


def test_assertion_type_constant() -> None:
    assert ASSERTION_TYPE == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


_JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.just(TOKEN_URL),
    st.lists(st.text(max_size=5), max_size=2),
    st.just("rsa-client"),
    st.sampled_from(["JWT", "RS384", "ES384", "rsa-1"]),
)
_HEADER = st.dictionaries(st.sampled_from(["alg", "typ", "kid", "jku", "crit", "jwk", "b64"]), _JSON_VALUES, max_size=6)
_CLAIMS = st.dictionaries(st.sampled_from(["iss", "sub", "aud", "exp", "iat", "nbf", "jti"]), _JSON_VALUES, max_size=7)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=_HEADER, claims=_CLAIMS, signed=st.booleans(), scope=st.text(max_size=30))
async def test_arbitrary_assertions_are_refused_cleanly(
    service: TokenService,
    client_keys: ClientKeys,
    header: dict[str, Any],
    claims: dict[str, Any],
    signed: bool,
    scope: str,
) -> None:
    if signed:
        header = {k: v for k, v in header.items() if k not in ("alg", "crit", "b64")}
        try:
            assertion = sign_assertion(client_keys.rsa, header=header, claims=claims)
        except Exception:  # joserfc refuses to sign some of these headers: nothing to send
            return
    else:
        assertion = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(b'sig')}"
    for endpoint in (service.token, service.introspect, service.revoke):
        response = await endpoint(token_form(assertion, scope) | {"token": assertion}, {})
        assert response.status in (200, 400, 401, 503)
        if response.status != 200:
            assert response.body["error"] in {"invalid_client", "invalid_scope", "invalid_request"}
