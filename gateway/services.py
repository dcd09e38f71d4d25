"""The per-process services behind the authenticate and identify stages: the EDS / user registry, the shared
state (Redis, or in-process on one worker) and the OAuth token service.

Built in the process that serves (after any fork), opened in the app's ``cleanup_ctx`` and closed with it.
Construction does no network I/O (it reads or creates the signing keys under ``data_dir``); ``lifecycle`` opens
the registry and starts the revocation refresher before the first request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from redis import asyncio as aioredis

from gateway.auth.jwks import JwksFetcher
from gateway.auth.keys import KeyRing
from gateway.auth.replay import MemoryReplayStore, RedisReplayStore, ReplayStore
from gateway.auth.revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from gateway.auth.service import TokenService
from gateway.policy.registry import make_registry
from gateway.policy.registry.store.base import RegistryStore
from gateway.settings import Settings


class DeploymentError(ValueError):
    """Settings that cannot serve safely: say what to set instead of failing on the first request."""


def default_issuer(settings: Settings, host: str, port: int) -> str:
    """The OAuth issuer (and token audience): configured, else the public base URL, else the address served."""
    configured = settings.oauth_issuer or settings.public_base_url
    if configured:
        return configured.rstrip("/")
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def check_deployment(settings: Settings) -> None:
    """Refuse, before serving, what the token service could not do correctly."""
    if settings.authenticate and settings.workers > 1 and not settings.redis_url:
        raise DeploymentError(
            "--workers > 1 needs PMP_REDIS_URL: assertion replay and token revocation must be seen by every worker"
        )
    if not (settings.oauth_issuer or settings.public_base_url) and not is_loopback(settings.host):
        raise DeploymentError(
            f"listening on {settings.host} needs PMP_PUBLIC_BASE_URL (https://…): it is the OAuth issuer and "
            "the audience of every token"
        )


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(slots=True)
class Services:
    registry: RegistryStore
    tokens: TokenService
    redis: aioredis.Redis | None
    revocations: RevocationStore

    @classmethod
    def build(cls, settings: Settings, *, issuer: str, registry: RegistryStore | None = None) -> Services:
        registry = registry or make_registry(
            settings.gateway_store,
            data_dir=settings.data_dir,
            postgres_dsn=settings.gateway_dsn,
            postgres_schema=settings.gateway_postgres_schema,
        )
        redis = aioredis.from_url(settings.redis_url) if settings.redis_url else None
        prefix = f"{settings.redis_prefix}oauth:"
        replay: ReplayStore = RedisReplayStore(redis, prefix) if redis else MemoryReplayStore()
        revocations: RevocationStore = RedisRevocationStore(redis, prefix) if redis else MemoryRevocationStore()
        tokens = TokenService(
            clients=registry,
            keys=KeyRing.load_or_create(settings.data_dir, alg=settings.oauth_signing_alg),
            replay=replay,
            revocations=revocations,
            issuer=issuer,
            fetcher=JwksFetcher(allow_http=settings.oauth_jwks_allow_http),
            token_ttl_seconds=settings.oauth_token_ttl_seconds,
            token_cache_entries=settings.oauth_token_cache_entries,
        )
        return cls(registry, tokens, redis, revocations)

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        await self.registry.open()
        try:
            if isinstance(self.revocations, RedisRevocationStore):
                await self.revocations.start()
            yield
        finally:
            if isinstance(self.revocations, RedisRevocationStore):
                await self.revocations.aclose()
            if self.redis is not None:
                await self.redis.aclose()
            await self.registry.close()
