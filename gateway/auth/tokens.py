"""Access tokens: JWTs per RFC 9068 signed by the gateway's key ring, and their verification with a cache.

Issued claims: ``iss`` (the gateway's issuer URL), ``aud`` (the resource: the gateway's base URL), ``sub`` and
``client_id`` (the OAuth client), ``eds`` (the client's EDS id), ``scope``, ``jti``, ``iat``, ``exp`` (``iat`` + at most
300 s); header ``typ: at+jwt``, ``alg`` and ``kid`` of the newest key. No refresh tokens exist.

Verification (``AccessTokenVerifier.verify``) on a cache miss: size bound, ``typ`` = ``at+jwt``, a ``kid`` that names
a key on the ring (an unknown one re-reads the ring at most every 5 s), the signature with joserfc restricted to RS256
and ES256 and to the ``alg`` recorded on that key, then ``iss``/``aud``/``exp``/``iat``/``nbf``/``jti``/``client_id``/
``sub`` with ``JWTClaimsRegistry``. The verified result is cached under ``sha256(token)`` until its ``exp``
(DESIGN §6): a hit costs a hash, a dict lookup, an expiry compare and the revocation lookup — which runs on every hit,
so the cache never serves a revoked token. The cache is bounded (``max_entries``); when full, expired entries go first,
then the oldest inserted (all tokens live the same 300 s, so insertion order is expiry order).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError

from gateway.auth import scopes as scope_rules
from gateway.auth.errors import AccessTokenError, ExpiredAccessToken, RevokedAccessToken
from gateway.auth.keys import SIGNING_ALGORITHMS, KeyRing
from gateway.auth.revocation import RevocationStore

MAX_TOKEN_TTL_SECONDS = 300  # SMART: expires_in SHOULD NOT exceed 300
MAX_TOKEN_BYTES = 4096
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a JWT typ, not a secret
_RELOAD_INTERVAL_S = 5.0


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A verified access token: who the caller is and what it may do."""

    client_id: str
    eds_id: str
    scopes: frozenset[str]  # as granted (the client's spelling)
    jti: str
    issued_at: int
    expires_at: int
    covered: frozenset[str]  # route scopes (scopes.REQUIRED_SCOPE values) the granted scopes satisfy

    def allows(self, required_scope: str) -> bool:
        return required_scope in self.covered

    @property
    def scope(self) -> str:
        return " ".join(sorted(self.scopes))


class TokenIssuer:
    """Signs access tokens with the ring's newest key."""

    def __init__(
        self,
        keys: KeyRing,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int = MAX_TOKEN_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < ttl_seconds <= MAX_TOKEN_TTL_SECONDS:
            raise ValueError(f"access token lifetime must be 1..{MAX_TOKEN_TTL_SECONDS} s")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def issue(self, client_id: str, eds_id: str, scopes: tuple[str, ...] | list[str]) -> tuple[str, AccessToken]:
        """The signed token and what it says."""
        now = int(self._clock())
        key = self.keys.signing_key
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id,
            "client_id": client_id,
            "eds": eds_id,
            "scope": " ".join(scopes),
            "jti": secrets.token_urlsafe(18),
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        header = {"typ": ACCESS_TOKEN_TYPE, "alg": key.alg, "kid": key.kid}
        token = jwt.encode(header, claims, key.key, algorithms=[key.alg])
        return token, _access_token(claims)


@functools.lru_cache(maxsize=512)
def _scope_meaning(scope: str) -> tuple[frozenset[str], frozenset[str]]:
    """(granted scopes, route scopes they cover) of a token's ``scope`` claim; few distinct values exist."""
    try:
        granted = tuple(scope_rules.split(scope))
    except scope_rules.ScopeSyntaxError:
        granted = ()
    return frozenset(granted), scope_rules.effective(granted)


def _access_token(claims: dict[str, Any]) -> AccessToken:
    granted, covered = _scope_meaning(claims.get("scope") or "")
    return AccessToken(
        client_id=claims["client_id"],
        eds_id=str(claims.get("eds") or ""),
        scopes=granted,
        jti=claims["jti"],
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
        covered=covered,
    )


class AccessTokenVerifier:
    """Verifies our access tokens; caches the verified ones (see the module docstring)."""

    def __init__(
        self,
        keys: KeyRing,
        revocations: RevocationStore,
        *,
        issuer: str,
        audience: str,
        max_entries: int = 10_000,
        leeway_seconds: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.revocations = revocations
        self.issuer = issuer
        self.audience = audience
        self._max = max_entries
        self._leeway = leeway_seconds
        self._clock = clock
        self._cache: dict[bytes, AccessToken] = {}
        self._last_reload = float("-inf")

    def __len__(self) -> int:
        return len(self._cache)

    def verify(self, token: str) -> AccessToken:
        """The token's meaning, or ``AccessTokenError`` (expired / revoked subclasses). ``AuthStateUnavailable`` when
        the revocation list cannot be confirmed."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        hit = self._cache.get(digest)
        now = self._clock()
        if hit is not None:
            if hit.expires_at + self._leeway <= now:
                del self._cache[digest]
                raise ExpiredAccessToken("expired")
            if self.revocations.is_revoked(hit.jti):
                raise RevokedAccessToken("revoked")
            return hit
        verified = self.inspect(token, now=now)
        if verified.expires_at + self._leeway <= now:
            raise ExpiredAccessToken("expired")
        if self.revocations.is_revoked(verified.jti):
            raise RevokedAccessToken("revoked")
        self._remember(digest, verified, now)
        return verified

    def inspect(self, token: str, *, now: float | None = None, check_expiry: bool = True) -> AccessToken:
        """Signature and claims (no cache, no revocation check). ``check_expiry=False`` lets introspection and
        revocation recognise an expired token of ours."""
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise AccessTokenError("malformed")
        current = int(self._clock() if now is None else now)
        try:
            decoded = jwt.decode(token, self._resolve_key, algorithms=SIGNING_ALGORITHMS)
        except JoseError as exc:
            raise AccessTokenError(exc.error) from None
        except (ValueError, TypeError) as exc:
            raise AccessTokenError("malformed") from exc
        if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
            raise AccessTokenError("not an access token")
        claims = decoded.claims
        at = current
        exp = claims.get("exp")
        if not check_expiry and isinstance(exp, int) and exp - self._leeway <= current:
            at = exp - self._leeway - 1  # judge every other claim as of just before expiry
        registry = jwt.JWTClaimsRegistry(
            now=at,
            leeway=self._leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
            sub={"essential": True},
            client_id={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise ExpiredAccessToken("expired") from None
        except JoseError as exc:
            raise AccessTokenError(exc.error) from None
        if not isinstance(claims.get("client_id"), str) or claims["sub"] != claims["client_id"]:
            raise AccessTokenError("invalid client_id")
        if not isinstance(claims.get("scope", ""), str) or not isinstance(claims.get("eds", ""), str):
            raise AccessTokenError("invalid claims")
        return _access_token(claims)

    def _resolve_key(self, obj: Any) -> Any:
        """joserfc key callback: the ring's key for the header's ``kid`` (a ``kid`` is required)."""
        kid = obj.headers().get("kid")
        if not isinstance(kid, str) or not kid:
            raise AccessTokenError("no kid")
        if self.keys.find(kid) is None:
            current = time.monotonic()
            if current - self._last_reload >= _RELOAD_INTERVAL_S:
                self._last_reload = current
                self.keys.reload()
            if self.keys.find(kid) is None:
                raise AccessTokenError("unknown kid")
        return self.keys.key_set

    def _remember(self, digest: bytes, token: AccessToken, now: float) -> None:
        cache = self._cache
        if len(cache) >= self._max:
            for k in [k for k, v in cache.items() if v.expires_at <= now]:
                del cache[k]
            while len(cache) >= self._max:
                del cache[next(iter(cache))]
        cache[digest] = token
