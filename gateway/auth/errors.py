"""The auth package's exceptions. The token endpoint turns them into RFC 6749 §5.2 errors; the authenticate stage
turns them into ``PmpError`` (UNAUTHENTICATED or BACKEND_UNAVAILABLE); none of them reaches a client as text of its
own (the detail may name a reason for the log, never a secret or a token).

::

    Exception
    └── AuthError
        ├── AccessTokenError            the bearer token is not one we accept (→ 401)
        │   ├── ExpiredAccessToken
        │   └── RevokedAccessToken
        ├── AuthStateUnavailable        replay or revocation state cannot be confirmed (→ 503, fail closed)
        └── JwksFetchError              a client's JWKS URL could not be read (→ invalid_client)
"""

from __future__ import annotations


class AuthError(Exception):
    """Base of every error raised by ``gateway.auth``."""


class AccessTokenError(AuthError):
    """The access token is malformed, not signed by one of our keys, or not for us (issuer, audience, type)."""


class ExpiredAccessToken(AccessTokenError):
    """The access token's ``exp`` has passed (or its ``nbf`` has not come yet)."""


class RevokedAccessToken(AccessTokenError):
    """The access token was revoked (RFC 7009) and has not expired yet."""


class AuthStateUnavailable(AuthError):
    """The jti replay store or the revocation list cannot be confirmed: refuse rather than guess (fail closed)."""


class JwksFetchError(AuthError):
    """A client's registered JWKS URL did not give a usable JWK Set (network, status, size, type or content)."""
