"""The client side of SMART Backend Services: an EDS client's key pair, its public JWK Set and the signed client
assertion it sends to ``/oauth/token``. Used by ``pmp-gateway token`` (the demo client, operators' smoke checks),
by ``gateway.testing`` and by the benchmarks; the server side is ``gateway.auth.assertion``."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 240  # SMART: at most five minutes


@dataclass(frozen=True, slots=True)
class ClientKey:
    """An EDS client's RSA key pair: the public JWK Set to register and RS384 client assertions (SMART)."""

    key: RSAKey

    @classmethod
    def generate(cls, kid: str = "client-key-1") -> ClientKey:
        return cls(RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS384"}))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def private_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=True))

    def assertion(self, client_id: str, token_url: str, *, lifetime: int = ASSERTION_LIFETIME_SECONDS) -> str:
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + lifetime, "jti": uuid.uuid4().hex}
        header = {"alg": "RS384", "typ": "JWT", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=["RS384"])

    @classmethod
    def from_private_jwk(cls, jwk: dict[str, Any]) -> ClientKey:
        return cls(RSAKey.import_key(jwk))


def token_form(assertion: str, scope: str) -> dict[str, str]:
    """The ``client_credentials`` token request of SMART Backend Services."""
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
