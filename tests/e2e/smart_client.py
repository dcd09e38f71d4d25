"""An EDS's or a partner hub's OAuth client in the end-to-end tests: authlib's own ``AsyncOAuth2Client`` with a SMART
``private_key_jwt`` client assertion, holding an access token from the gateway under test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

from gateway.testing import ClientKey
from tests.gateway.auth.auth_helpers import SmartPrivateKeyJWT


@asynccontextmanager
async def smart_client(base: str, client_id: str, key: ClientKey, scope: str) -> AsyncIterator[AsyncOAuth2Client]:
    """A client of the gateway at ``base`` that has fetched its token (``client.token``) with ``key`` (RS384, its
    ``kid`` in the assertion's header); closed on leaving."""
    token_url = f"{base}/oauth/token"
    async with AsyncOAuth2Client(
        client_id=client_id,
        client_secret=key.key,
        token_endpoint_auth_method=SmartPrivateKeyJWT(token_url, alg="RS384", headers={"kid": key.key.kid}),
        scope=scope,
        token_endpoint=token_url,
        grant_type="client_credentials",
        trust_env=False,
        timeout=30,
    ) as client:
        await client.fetch_token(token_url, grant_type="client_credentials")
        yield client
