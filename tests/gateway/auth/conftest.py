"""Fixtures of the auth tests: client key pairs, a registry of clients, a token service wired to in-memory stores,
and the memory/Redis store pairs (each Redis test under its own key prefix)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from gateway.auth import scopes
from gateway.auth.clients import RegisteredClient, StaticClientDirectory, hash_secret
from gateway.auth.keys import KeyRing
from gateway.auth.replay import MemoryReplayStore, RedisReplayStore, ReplayStore
from gateway.auth.revocation import MemoryRevocationStore, RedisRevocationStore, RevocationStore
from gateway.auth.service import TokenService
from tests.gateway.auth.auth_helpers import (
    BASIC_SECRET,
    ISSUER,
    REDIS_URL,
    ClientKeys,
    drop_prefix,
    new_client_keys,
)


@pytest.fixture(scope="session")
def client_keys() -> ClientKeys:
    return new_client_keys()


@pytest.fixture(scope="session")
def basic_hash() -> str:
    return hash_secret(BASIC_SECRET)


@pytest.fixture
def directory(client_keys: ClientKeys, basic_hash: str) -> StaticClientDirectory:
    pkjwt: Any = {"auth_method": "private_key_jwt", "active": True}
    return StaticClientDirectory(
        [
            RegisteredClient(
                "rsa-client",
                "eds-1",
                scopes=frozenset({scopes.MEDICATION_DISPENSE_READ, scopes.NCPDP_HISTORY}),
                jwks=client_keys.jwks(),
                **pkjwt,
            ),
            RegisteredClient(
                "v1-client", "eds-1", scopes=frozenset({"system/*.read"}), jwks=client_keys.jwks(), **pkjwt
            ),
            RegisteredClient(
                "admin-client", "division", scopes=frozenset({scopes.ADMIN}), jwks=client_keys.jwks(), **pkjwt
            ),
            RegisteredClient(
                "disabled-client",
                "eds-2",
                "private_key_jwt",
                frozenset({scopes.MEDICATION_DISPENSE_READ}),
                active=False,
                jwks=client_keys.jwks(),
            ),
            RegisteredClient(
                "basic-client",
                "eds-3",
                "client_secret_basic",
                frozenset({scopes.NCPDP_HISTORY}),
                active=True,
                secret_hash=basic_hash,
            ),
        ]
    )


@pytest.fixture
def keyring(tmp_path: Path) -> KeyRing:
    return KeyRing.load_or_create(tmp_path)


@pytest.fixture
def service(directory: StaticClientDirectory, keyring: KeyRing) -> TokenService:
    return TokenService(
        clients=directory,
        keys=keyring,
        replay=MemoryReplayStore(),
        revocations=MemoryRevocationStore(),
        issuer=ISSUER,
    )


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def redis_prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def replay_store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[ReplayStore]:
    if request.param == "memory":
        yield MemoryReplayStore()
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield RedisReplayStore(client, redis_prefix)
    finally:
        await drop_prefix(client, redis_prefix)
        await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def revocation_store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[RevocationStore]:
    if request.param == "memory":
        yield MemoryRevocationStore()
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    store = RedisRevocationStore(client, redis_prefix, refresh_seconds=0.05)
    await store.start()
    try:
        yield store
    finally:
        await store.aclose()
        await drop_prefix(client, redis_prefix)
        await client.aclose()
