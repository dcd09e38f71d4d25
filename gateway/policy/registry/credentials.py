"""What an OAuth client registers to authenticate: a public JWK Set, a JWKS URL, or a hashed client secret.

- JWK Set: ``{"keys": [...]}`` with at least one key; each key has a unique ``kid`` and is RSA (``n``, ``e``; at
  least 2048 bits) or EC (``crv`` P-256 / P-384 / P-521, ``x``, ``y`` on the curve). Private members (``d``, ``p``,
  ``q``, ``dp``, ``dq``, ``qi``, ``oth``, ``k``) are refused: a client registers its public keys only.
- JWKS URL: https, or http on loopback (``127.0.0.1``, ``::1``, ``localhost``) for tests.
- Client secret: 256 random bits, shown once; stored as ``scrypt$n$r$p$salt$hash`` — the token service's own
  ``gateway.auth.clients`` functions make and check it, so the two always agree (re-exported here).
- Scopes: RFC 6749 §3.3 scope tokens, each one the gateway grants (``gateway.auth.scopes.is_supported``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth.clients import hash_secret, new_client_secret, verify_secret
from gateway.auth.scopes import SCOPES_SUPPORTED, is_supported
from gateway.policy.registry.errors import RegistryInputError

__all__ = [
    "hash_secret",
    "new_client_secret",
    "parse_scopes",
    "validate_jwks",
    "validate_jwks_url",
    "verify_secret",
]

PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
MIN_RSA_BITS = 2048
MAX_KEYS = 20
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def _b64url_int(value: object, where: str) -> int:
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        raise RegistryInputError(f"{where} must be unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise RegistryInputError(f"{where} must be unpadded base64url") from None
    return int.from_bytes(raw, "big")


def _check_key(key: object, index: int) -> str:
    where = f"jwks key {index}"
    if not isinstance(key, dict):
        raise RegistryInputError(f"{where} is not a JSON object")
    private = PRIVATE_MEMBERS & key.keys()
    if private:
        raise RegistryInputError(
            f"{where} carries private key members ({', '.join(sorted(private))}): register public keys only"
        )
    kid = key.get("kid")
    if not isinstance(kid, str) or not kid.strip():
        raise RegistryInputError(f"{where} has no kid")
    if key.get("use", "sig") != "sig":
        raise RegistryInputError(f"{where}: use must be sig")
    kty = key.get("kty")
    try:
        if kty == "RSA":
            n, e = _b64url_int(key.get("n"), f"{where} n"), _b64url_int(key.get("e"), f"{where} e")
            if n.bit_length() < MIN_RSA_BITS:
                raise RegistryInputError(f"{where}: RSA keys must have at least {MIN_RSA_BITS} bits")
            rsa.RSAPublicNumbers(e, n).public_key()
        elif kty == "EC":
            curve = _CURVES.get(key.get("crv"))  # type: ignore[arg-type]
            if curve is None:
                raise RegistryInputError(f"{where}: crv must be one of {', '.join(_CURVES)}")
            x, y = _b64url_int(key.get("x"), f"{where} x"), _b64url_int(key.get("y"), f"{where} y")
            ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
        else:
            raise RegistryInputError(f"{where}: kty must be RSA or EC")
    except ValueError as exc:
        if isinstance(exc, RegistryInputError):
            raise
        raise RegistryInputError(f"{where} is not a valid {kty} public key") from None
    return kid


def validate_jwks(jwks: object) -> dict[str, Any]:
    """The JWK Set, checked (see the module docstring); RegistryInputError names the first problem."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise RegistryInputError('jwks must be a JWK Set: {"keys": [...]}')
    keys = jwks["keys"]
    if not keys:
        raise RegistryInputError("jwks has no keys")
    if len(keys) > MAX_KEYS:
        raise RegistryInputError(f"jwks has more than {MAX_KEYS} keys")
    kids = [_check_key(key, i) for i, key in enumerate(keys)]
    if len(set(kids)) != len(kids):
        raise RegistryInputError("jwks key ids (kid) must be unique")
    return {"keys": [dict(k) for k in keys]}


def validate_jwks_url(url: str) -> str:
    """An https URL (http only on loopback) without credentials or fragment."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise RegistryInputError("jwks_url is not a valid URL") from None
    if not host or parts.username or parts.password or parts.fragment:
        raise RegistryInputError("jwks_url must be an absolute URL without credentials or fragment")
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return url.strip()
    raise RegistryInputError("jwks_url must use https (http only on 127.0.0.1 / localhost)")


def parse_scopes(scope: str) -> frozenset[str]:
    """Space-separated scope tokens (RFC 6749 §3.3), each one the gateway grants; at least one. (Scope names are
    not secrets: a refusal names the one it does not know.)"""
    tokens = scope.split()
    if not tokens:
        raise RegistryInputError("scope must name at least one scope")
    for token in tokens:
        if not _SCOPE_TOKEN.fullmatch(token):
            raise RegistryInputError("scope has a token with characters RFC 6749 does not allow")
        if not is_supported(token):
            known = ", ".join(SCOPES_SUPPORTED)
            raise RegistryInputError(f"scope: {token} is not a scope this gateway grants ({known})")
    return frozenset(tokens)
