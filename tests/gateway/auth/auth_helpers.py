"""Helpers of the auth tests: client key pairs, SMART client assertions, token forms, Redis key clean-up."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

from gateway.auth import scopes

REDIS_URL = "redis://127.0.0.1:6379/0"
ISSUER = "http://127.0.0.1:8080"
TOKEN_URL = f"{ISSUER}/oauth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BASIC_SECRET = "correct horse battery staple"


@dataclass(frozen=True)
class ClientKeys:
    rsa: RSAKey  # private, kid "rsa-1", for RS384
    ec: ECKey  # private, kid "ec-1", P-384 for ES384

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.rsa.as_dict(private=False), self.ec.as_dict(private=False)]}


def new_client_keys() -> ClientKeys:
    return ClientKeys(
        rsa=RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"}),
        ec=ECKey.generate_key("P-384", parameters={"kid": "ec-1", "use": "sig"}),
    )


def sign_assertion(
    key: Key,
    *,
    client_id: str = "rsa-client",
    aud: str | list[str] = TOKEN_URL,
    alg: str = "RS384",
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    exp_in: int = 240,
) -> str:
    """A SMART client assertion; ``header``/``claims`` override, ``drop`` removes header or claim names."""
    now = int(time.time())
    h: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": key.kid}
    h.update(header or {})
    c: dict[str, Any] = {"iss": client_id, "sub": client_id, "aud": aud, "exp": now + exp_in, "jti": uuid.uuid4().hex}
    c.update(claims or {})
    for name in drop:
        h.pop(name, None)
        c.pop(name, None)
    return jwt.encode(h, c, key, algorithms=[h["alg"]], default_type=None)


def token_form(assertion: str, scope: str = scopes.MEDICATION_DISPENSE_READ) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


async def drop_prefix(client: aioredis.Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)


class SmartPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """authlib's ``private_key_jwt`` signer with SMART's limits: a ``kid`` header and at most five minutes of life
    (authlib's default assertion lives an hour, which SMART servers must refuse — see the test below)."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return private_key_jwt_sign(  # type: ignore[no-any-return]
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            header=dict(self.headers or {}),
            expires_in=300,
        )
