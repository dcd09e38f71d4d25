"""Settings → the suspension store and set of one process (``serve``) or one command (the CLI).

The store is chosen by the deployment: the gateway database alone without Redis (the embedded default — SQLite in
``<data_dir>/gateway.sqlite3``, or PostgreSQL with ``PMP_GATEWAY_STORE=postgres``); with ``PMP_REDIS_URL``, Redis
as the pushed truth and the gateway database as its durable journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from gateway.policy.suspension.live import SuspensionSet
from gateway.policy.suspension.redis import RedisSuspensionStore
from gateway.policy.suspension.sql import PostgresSuspensionStore, SqliteSuspensionStore, SqlSuspensionStore
from gateway.policy.suspension.store import SuspensionStore

if TYPE_CHECKING:
    from gateway.settings import Settings

DEFAULT_CHECK_SECONDS = 0.5
DEFAULT_MAX_STALENESS_SECONDS = 5.0


@dataclass(slots=True, frozen=True)
class SuspensionConfig:
    """``suspension_check_seconds`` and ``suspension_max_staleness_seconds`` (settings; these defaults until the
    settings carry them)."""

    check_seconds: float = DEFAULT_CHECK_SECONDS
    max_staleness_seconds: float = DEFAULT_MAX_STALENESS_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> SuspensionConfig:
        return cls(
            check_seconds=float(getattr(settings, "suspension_check_seconds", DEFAULT_CHECK_SECONDS)),
            max_staleness_seconds=float(
                getattr(settings, "suspension_max_staleness_seconds", DEFAULT_MAX_STALENESS_SECONDS)
            ),
        )


def database_store(settings: Settings) -> SqlSuspensionStore:
    """The suspension table in the gateway database (unopened)."""
    if settings.gateway_store == "postgres":
        return PostgresSuspensionStore(settings.gateway_dsn, settings.gateway_postgres_schema)
    return SqliteSuspensionStore(settings.gateway_sqlite_path)


def make_suspension_store(settings: Settings, redis: aioredis.Redis | None) -> SuspensionStore:
    """An unopened store: the gateway database, or Redis journaled to it when ``redis`` is given."""
    journal = database_store(settings)
    if redis is None:
        return journal
    return RedisSuspensionStore(redis, settings.redis_prefix, journal=journal)


def make_suspension_set(settings: Settings, redis: aioredis.Redis | None) -> SuspensionSet:
    """The process's suspension set over ``make_suspension_store`` (open the store, then ``start()`` the set)."""
    config = SuspensionConfig.from_settings(settings)
    return SuspensionSet(
        make_suspension_store(settings, redis),
        check_seconds=config.check_seconds,
        max_staleness_seconds=config.max_staleness_seconds,
    )
