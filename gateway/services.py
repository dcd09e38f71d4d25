"""The per-process services behind the authenticate and identify stages: the EDS / user registry, the shared
state (Redis, or in-process on one worker) and the OAuth token service.

Built in the process that serves (after any fork), opened in the app's ``cleanup_ctx`` and closed with it.
Construction does no network I/O (it reads or creates the signing keys under ``data_dir``); ``lifecycle`` opens
the registry and starts the revocation refresher before the first request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from redis import asyncio as aioredis

from gateway.auth.jwks import JwksFetcher
from gateway.auth.keys import KeyRing
from gateway.auth.replay import MemoryReplayStore, RedisReplayStore, ReplayStore
from gateway.auth.revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from gateway.auth.service import TokenService
from gateway.deployment import DeploymentError, check_deployment, default_issuer, is_loopback
from gateway.interstate.directory import RegistryPartnerDirectory
from gateway.policy.ratelimit import QuotaBook, RateLimiter, make_quota_book, make_rate_limiter
from gateway.policy.registry import make_registry
from gateway.policy.registry.store.base import RegistryStore
from gateway.policy.suspension import SuspendingClientDirectory, SuspensionSet, make_suspension_set
from gateway.settings import Settings

__all__ = ["DeploymentError", "Services", "check_deployment", "default_issuer", "is_loopback"]


@dataclass(slots=True)
class Services:
    registry: RegistryStore
    tokens: TokenService
    redis: aioredis.Redis | None
    revocations: RevocationStore
    suspensions: SuspensionSet
    limiter: RateLimiter
    quotas: QuotaBook
    partners: RegistryPartnerDirectory

    @classmethod
    def build(cls, settings: Settings, *, issuer: str, registry: RegistryStore | None = None) -> Services:
        registry = registry or make_registry(
            settings.gateway_store,
            data_dir=settings.data_dir,
            postgres_dsn=settings.gateway_dsn,
            postgres_schema=settings.gateway_postgres_schema,
        )
        # bounded socket waits: a hung Redis must not hold requests (suspension then fails closed after its bound,
        # rate limits degrade to in-process)
        redis = (
            aioredis.from_url(settings.redis_url, socket_connect_timeout=0.5, socket_timeout=1.0)
            if settings.redis_url
            else None
        )
        suspensions = make_suspension_set(settings, redis)
        prefix = f"{settings.redis_prefix}oauth:"
        replay: ReplayStore = RedisReplayStore(redis, prefix) if redis else MemoryReplayStore()
        revocations: RevocationStore = RedisRevocationStore(redis, prefix) if redis else MemoryRevocationStore()
        tokens = TokenService(
            clients=SuspendingClientDirectory(registry, suspensions) if settings.suspension else registry,
            keys=KeyRing.load_or_create(settings.data_dir, alg=settings.oauth_signing_alg),
            replay=replay,
            revocations=revocations,
            issuer=issuer,
            fetcher=JwksFetcher(allow_http=settings.oauth_jwks_allow_http),
            token_ttl_seconds=settings.oauth_token_ttl_seconds,
            token_cache_entries=settings.oauth_token_cache_entries,
        )
        return cls(
            registry,
            tokens,
            redis,
            revocations,
            suspensions,
            make_rate_limiter(settings, redis),
            make_quota_book(settings, registry),
            RegistryPartnerDirectory(registry),
        )

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        await self.registry.open()
        await self.partners.refresh()
        await self.suspensions.store.open()
        try:
            if isinstance(self.revocations, RedisRevocationStore):
                await self.revocations.start()
            await self.suspensions.start()  # never raises: an unreachable store starts it unconfirmed (fail closed)
            yield
        finally:
            await self.suspensions.aclose()
            await self.suspensions.store.close()
            if isinstance(self.revocations, RedisRevocationStore):
                await self.revocations.aclose()
            if self.redis is not None:
                await self.redis.aclose()
            await self.registry.close()
