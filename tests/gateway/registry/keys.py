"""Public JWKs made with cryptography, for registry tests."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64(n: int, length: int | None = None) -> str:
    raw = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def rsa_jwk(kid: str = "rsa-1", bits: int = 2048) -> dict[str, Any]:
    numbers = rsa_key(bits).public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "alg": "RS384", "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}


def ec_jwk(kid: str = "ec-1") -> dict[str, Any]:
    numbers = ec_key().public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "crv": "P-384", "x": b64(numbers.x, 48), "y": b64(numbers.y, 48)}


def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys) or [rsa_jwk(), ec_jwk()]}
