"""Client credentials: JWK Sets (public keys only), JWKS URLs, scopes, hashed secrets."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.policy.registry.credentials import (
    hash_secret,
    new_client_secret,
    parse_scopes,
    validate_jwks,
    validate_jwks_url,
    verify_secret,
)
from gateway.policy.registry.errors import RegistryInputError
from tests.gateway.registry.keys import b64, ec_jwk, jwks, rsa_jwk, rsa_key


def test_a_public_jwks_is_accepted() -> None:
    checked = validate_jwks(jwks())
    assert [k["kid"] for k in checked["keys"]] == ["rsa-1", "ec-1"]


def _with(**changes: Any) -> dict[str, Any]:
    key = rsa_jwk()
    key.update(changes)
    return {k: v for k, v in key.items() if v is not None}


def _private_rsa() -> dict[str, Any]:
    return _with(d=b64(rsa_key().private_numbers().d))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([], "JWK Set"),
        ({"keys": "x"}, "JWK Set"),
        ({"keys": []}, "no keys"),
        ({"keys": [1]}, "not a JSON object"),
        ({"keys": [_private_rsa()]}, "private key members"),
        ({"keys": [{**ec_jwk(), "d": "AAAA"}]}, "private key members"),
        ({"keys": [{"kty": "oct", "kid": "s", "k": "AAAA"}]}, "private key members"),
        ({"keys": [_with(kid=None)]}, "no kid"),
        ({"keys": [_with(kid="  ")]}, "no kid"),
        ({"keys": [_with(kty="OKP")]}, "kty must be RSA or EC"),
        ({"keys": [_with(use="enc")]}, "use must be sig"),
        ({"keys": [_with(n=None)]}, "base64url"),
        ({"keys": [_with(n="not base64url!")]}, "base64url"),
        ({"keys": [_with(e="AQAB=")]}, "base64url"),
        ({"keys": [rsa_jwk(bits=1024)]}, "2048"),
        ({"keys": [{**ec_jwk(), "crv": "P-192"}]}, "crv"),
        ({"keys": [{**ec_jwk(), "y": ec_jwk()["x"]}]}, "not a valid EC public key"),
        ({"keys": [rsa_jwk("a"), ec_jwk("a")]}, "unique"),
        ({"keys": [rsa_jwk(f"k{i}") for i in range(21)]}, "more than 20"),
    ],
)
def test_bad_jwks_is_refused(value: object, reason: str) -> None:
    with pytest.raises(RegistryInputError, match=reason):
        validate_jwks(value)


@pytest.mark.parametrize(
    "url",
    [
        "https://ehr.example.org/.well-known/jwks.json",
        "http://127.0.0.1:8443/jwks",
        "http://localhost/jwks",
        "http://[::1]:9/jwks",
    ],
)
def test_jwks_urls_accepted(url: str) -> None:
    assert validate_jwks_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://ehr.example.org/jwks",
        "ftp://ehr.example.org/jwks",
        "https:///jwks",
        "https://user:pw@ehr.example.org/jwks",
        "https://ehr.example.org/jwks#frag",
        "https://ehr.example.org:99999/jwks",
        "jwks.json",
        "http://127.0.0.1.example.org/jwks",
    ],
)
def test_jwks_urls_refused(url: str) -> None:
    with pytest.raises(RegistryInputError, match="jwks_url"):
        validate_jwks_url(url)


def test_scopes() -> None:
    assert parse_scopes(" system/MedicationDispense.rs  pmp/ncpdp.history ") == {
        "system/MedicationDispense.rs",
        "pmp/ncpdp.history",
    }
    for bad in ("", "   ", 'a"b', "a\\b", "é"):
        with pytest.raises(RegistryInputError, match="scope"):
            parse_scopes(bad)
    with pytest.raises(RegistryInputError, match=r"patient/Foo\.rs is not a scope this gateway grants"):
        parse_scopes("pmp/admin patient/Foo.rs")
    with pytest.raises(RegistryInputError, match="not a scope"):
        parse_scopes("system/MedicationDispense.cruds")


def test_secret_is_stored_as_a_salted_hash() -> None:
    secret = new_client_secret()
    assert len(secret) >= 43
    stored, again = hash_secret(secret), hash_secret(secret)
    assert secret not in stored
    assert stored != again  # salted
    assert stored.startswith("scrypt$")
    assert verify_secret(secret, stored) and verify_secret(secret, again)
    assert not verify_secret(secret + "x", stored)
    assert not verify_secret(secret, "")
    assert not verify_secret(secret, "pbkdf2$1$2$3$4$5")
    assert not verify_secret(secret, "scrypt$x$8$1$AA$AA")
