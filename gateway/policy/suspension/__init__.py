"""Immediate suspension of an EDS, an OAuth client, an end user or a partner state (issue 6).

- ``model``: the ``Suspension`` record (who, why, when, until; reinstatement), validation, end-time parsing.
- ``store``: the store contract and the in-memory backend; ``sql``: the gateway database (SQLite / PostgreSQL);
  ``redis``: Redis with pub/sub, journaled to the gateway database.
- ``live``: ``SuspensionSet``, the per-process copy the request path reads (no I/O), confirmed by push, resync and
  a periodic version check, failing closed after a staleness bound.
- ``directory``: ``SuspendingClientDirectory`` — the token service's client lookup with suspensions applied.
- ``build``: settings → store and set.
"""

from gateway.policy.suspension.build import (
    SuspensionConfig,
    database_store,
    make_suspension_set,
    make_suspension_store,
)
from gateway.policy.suspension.directory import SuspendingClientDirectory
from gateway.policy.suspension.errors import (
    SuspensionConflictError,
    SuspensionError,
    SuspensionInputError,
    SuspensionNotFoundError,
    SuspensionStateUnavailable,
    SuspensionUnavailableError,
)
from gateway.policy.suspension.live import SuspensionSet
from gateway.policy.suspension.model import Suspension, SuspensionKind, new_suspension, parse_until
from gateway.policy.suspension.redis import RedisSuspensionStore
from gateway.policy.suspension.sql import PostgresSuspensionStore, SqliteSuspensionStore, SqlSuspensionStore
from gateway.policy.suspension.store import MemorySuspensionStore, Snapshot, SuspensionStore

__all__ = [
    "MemorySuspensionStore",
    "PostgresSuspensionStore",
    "RedisSuspensionStore",
    "Snapshot",
    "SqlSuspensionStore",
    "SqliteSuspensionStore",
    "SuspendingClientDirectory",
    "Suspension",
    "SuspensionConfig",
    "SuspensionConflictError",
    "SuspensionError",
    "SuspensionInputError",
    "SuspensionKind",
    "SuspensionNotFoundError",
    "SuspensionSet",
    "SuspensionStateUnavailable",
    "SuspensionStore",
    "SuspensionUnavailableError",
    "database_store",
    "make_suspension_set",
    "make_suspension_store",
    "new_suspension",
    "parse_until",
]
