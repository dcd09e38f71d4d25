"""``pmp-gateway drugs load FILE``."""

from __future__ import annotations

import sys
from pathlib import Path

from gateway.settings import Settings
from pmpcli.loop import run
from pmpcli.stores import open_store
from pmpdb.drugs import DrugFileError, load_drugs


async def _load(settings: Settings, path: Path) -> int:
    store = await open_store(settings)
    try:
        return await load_drugs(store, path)
    finally:
        await store.close()


def drugs_load(settings: Settings, path: Path) -> int:
    try:
        count = run(_load(settings, path))
    except (DrugFileError, OSError) as exc:
        print(f"pmp-gateway drugs load: {exc}", file=sys.stderr)
        return 1
    print(f"loaded {count} drug reference rows from {path.name}")
    return 0
