"""Our access token at a partner state's hub: SMART Backend Services ``client_credentials`` with a
``private_key_jwt`` client assertion signed by our key, cached until shortly before it expires.

We are an OAuth client of every partner (``Outbound``: their token URL, our client id there, the file holding our
private JWK). The assertion is built by joserfc like ``gateway.auth.client_key`` builds an EDS's (RS384 for an RSA
key, ES384 for a P-384 key: what SMART names); the form is ``token_form``. One fetch at a time per partner: callers
that arrive while a token is being fetched wait for it instead of asking again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey

from gateway.auth.client_key import ASSERTION_LIFETIME_SECONDS, token_form
from gateway.interstate.answer import REFUSED, UNAVAILABLE, PartnerCallError
from gateway.interstate.http import read_capped
from gateway.interstate.partners import Outbound

MAX_KEY_FILE_BYTES: Final = 64 * 1024
MAX_TOKEN_RESPONSE_BYTES: Final = 64 * 1024
REFRESH_MARGIN_SECONDS: Final = 30.0  # a cached token is replaced this long before it expires (half its life at most)


@dataclass(frozen=True, slots=True)
class AssertionKey:
    """Our private key for client assertions at one partner, and the SMART algorithm it signs with."""

    key: Key
    alg: str

    @classmethod
    def load(cls, path: Path) -> AssertionKey:
        """A private RSA or P-384 EC JWK from ``path`` (a JWK object, or ``{"key": <JWK>, …}`` as the demo client
        file holds it). Raises ``PartnerCallError`` without quoting the file."""
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_KEY_FILE_BYTES + 1)
            data = orjson.loads(raw) if len(raw) <= MAX_KEY_FILE_BYTES else None
        except (OSError, orjson.JSONDecodeError):
            raise PartnerCallError("our client key file cannot be read") from None
        if isinstance(data, dict) and isinstance(data.get("key"), dict):
            data = data["key"]
        if not isinstance(data, dict) or "d" not in data:
            raise PartnerCallError("our client key file holds no private JWK")
        try:
            if data.get("kty") == "RSA":
                return cls(RSAKey.import_key(data), "RS384")
            if data.get("kty") == "EC" and data.get("crv") == "P-384":
                return cls(ECKey.import_key(data), "ES384")
        except (JoseError, ValueError, TypeError):
            raise PartnerCallError("our client key file holds an invalid JWK") from None
        raise PartnerCallError("our client key must be an RSA or P-384 EC key (SMART: RS384 / ES384)")

    def assertion(self, client_id: str, token_url: str) -> str:
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": token_url,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
            "jti": uuid.uuid4().hex,
        }
        header: dict[str, Any] = {"alg": self.alg, "typ": "JWT"}
        if self.key.kid:
            header["kid"] = self.key.kid
        return jwt.encode(header, claims, self.key, algorithms=[self.alg])


class PartnerTokens:
    """Our access token at one partner, fetched on first use and again shortly before it expires."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        outbound: Outbound,
        key: AssertionKey,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._outbound = outbound
        self._key = key
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token = ""
        self._renew_at = 0.0

    async def token(self) -> tuple[str, bool]:
        """A valid access token, and whether it was just fetched (a refused fresh token is not worth a retry)."""
        if self._token and self._clock() < self._renew_at:
            return self._token, False
        async with self._lock:
            if self._token and self._clock() < self._renew_at:
                return self._token, False
            self._token, lifetime = await self._fetch()
            self._renew_at = self._clock() + lifetime - min(REFRESH_MARGIN_SECONDS, lifetime / 2)
            return self._token, True

    def forget(self, token: str) -> None:
        """The partner refused ``token`` (revoked, or its keys rotated): the next call fetches another."""
        if token == self._token:
            self._token = ""

    async def _fetch(self) -> tuple[str, float]:
        outbound = self._outbound
        form = token_form(self._key.assertion(outbound.client_id, outbound.token_url), outbound.scope)
        async with self._session.post(
            outbound.token_url, data=form, headers={"Accept": "application/json"}, allow_redirects=False
        ) as response:
            body = await read_capped(response, MAX_TOKEN_RESPONSE_BYTES)
            status = response.status
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            answer = None
        if status != 200:
            code = answer.get("error") if isinstance(answer, dict) else None
            said = f" ({code})" if isinstance(code, str) and code.replace("_", "").isalpha() and len(code) < 40 else ""
            refused = REFUSED if status in (400, 401, 403) else UNAVAILABLE
            raise PartnerCallError(f"the token endpoint answered HTTP {status}{said}", reason=refused)
        if not isinstance(answer, dict):
            raise PartnerCallError("the token endpoint's answer is not JSON")
        token, lifetime = answer.get("access_token"), answer.get("expires_in", 300)
        if not isinstance(token, str) or not token or str(answer.get("token_type", "")).lower() != "bearer":
            raise PartnerCallError("the token endpoint gave no bearer token")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise PartnerCallError("the token endpoint gave no valid expires_in")
        return token, float(lifetime)
