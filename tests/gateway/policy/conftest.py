"""Fixtures of the suspension and rate-limit tests: every backend through the same suite — memory, SQLite (a file in
tmp_path), PostgreSQL (a schema of its own), Redis (a key prefix of its own, with and without the SQLite journal) —
and a private ``redis-server`` that a test may stop and start again."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from gateway.policy.ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter
from gateway.policy.suspension import (
    MemorySuspensionStore,
    PostgresSuspensionStore,
    RedisSuspensionStore,
    SqliteSuspensionStore,
    SuspensionStore,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_DSN = os.environ.get("PMP_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def drop_prefix(client: aioredis.Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await client.delete(*keys)


@dataclass
class Backend:
    """One suspension backend: ``make()`` gives another unopened handle on the same data (another process)."""

    kind: str
    make: Callable[[], SuspensionStore]
    redis: aioredis.Redis | None = None
    prefix: str = ""
    opened: list[SuspensionStore] = field(default_factory=list)

    async def open(self) -> SuspensionStore:
        store = self.make()
        await store.open()
        self.opened.append(store)
        return store


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-bare", marks=pytest.mark.redis),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    kind: str = request.param
    client: aioredis.Redis | None = None
    prefix = f"test:{uuid.uuid4().hex}:"
    schema = "t_" + uuid.uuid4().hex[:16]
    db = tmp_path / "gateway.sqlite3"
    make: Callable[[], SuspensionStore]
    if kind == "memory":
        shared = MemorySuspensionStore()
        make = lambda: shared  # noqa: E731 - one process: every handle is the same store
    elif kind == "sqlite":
        make = lambda: SqliteSuspensionStore(db)  # noqa: E731
    elif kind == "postgres":
        make = lambda: PostgresSuspensionStore(POSTGRES_DSN, schema)  # noqa: E731
    else:
        client = aioredis.Redis.from_url(REDIS_URL)
        redis_client = client
        journaled = kind == "redis"
        make = lambda: RedisSuspensionStore(  # noqa: E731
            redis_client, prefix, journal=SqliteSuspensionStore(db) if journaled else None
        )
    b = Backend(kind, make, client, prefix)
    try:
        yield b
    finally:
        for store in b.opened:
            await store.close()
        if client is not None:
            await drop_prefix(client, prefix)
            await client.aclose()
        if kind == "postgres":
            conn = await asyncpg.connect(POSTGRES_DSN)
            try:
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            finally:
                await conn.close()


@dataclass
class Limiters:
    """Two limiters on one shared state (two replicas; in-process, the same limiter twice)."""

    kind: str
    first: RateLimiter
    second: RateLimiter


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
async def limiters(request: pytest.FixtureRequest) -> AsyncIterator[Limiters]:
    if request.param == "local":
        local = LocalRateLimiter()
        yield Limiters("local", local, local)
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        yield Limiters("redis", RedisRateLimiter(client, prefix), RedisRateLimiter(client, prefix))
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A ``redis-server`` of this test's own on a free port (no persistence), to stop and start at will."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = directory
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self._proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._dir),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def eventually(check: Callable[[], bool], *, within: float, step: float = 0.01) -> float:
    """Poll ``check`` until it holds; the seconds it took. Fails after ``within`` seconds (no blind sleeps)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(step)
    return time.monotonic() - started
