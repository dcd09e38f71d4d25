"""Open the configured store and serve it: what ``serve`` (embedded) and ``pmp-gateway pmpdb`` share.

pmpdb does not read the gateway's settings; the composition root passes plain values in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pmpdb.search import HistorySearch, SearchLimits
from pmpdb.server import RunningServer, start_server
from pmpdb.store.base import Store
from pmpdb.store.postgres import PostgresStore
from pmpdb.store.sqlite import SqliteStore


@dataclass(slots=True, frozen=True)
class StoreConfig:
    kind: Literal["sqlite", "postgres"]
    sqlite_path: Path
    postgres_dsn: str = ""
    postgres_schema: str = "pmpdb"


def make_store(config: StoreConfig) -> Store:
    if config.kind == "postgres":
        return PostgresStore(config.postgres_dsn, config.postgres_schema)
    return SqliteStore(config.sqlite_path)


async def serve_store(
    store: Store,
    listen: str,
    *,
    limits: SearchLimits,
    state_code: str,
    reflection_enabled: bool,
) -> RunningServer:
    """Start ``PrescriptionSearch`` over an opened store."""
    search = HistorySearch(store, limits, state_code=state_code)
    return await start_server(search, listen, reflection_enabled=reflection_enabled)
