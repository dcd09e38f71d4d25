"""Settings → pmpdb store configuration, and the start-up chores every command shares."""

from __future__ import annotations

from gateway.settings import Settings
from pmpdb.drugs import load_drugs
from pmpdb.indicators import Thresholds
from pmpdb.runtime import StoreConfig, make_store
from pmpdb.search import SearchLimits
from pmpdb.store.base import Store


def store_config(settings: Settings) -> StoreConfig:
    return StoreConfig(
        kind=settings.store,
        sqlite_path=settings.sqlite_path,
        postgres_dsn=settings.postgres_dsn,
        postgres_schema=settings.postgres_schema,
    )


def search_limits(settings: Settings) -> SearchLimits:
    return SearchLimits(
        default_page_size=settings.search_default_page_size,
        max_page_size=settings.search_max_page_size,
        max_candidates=settings.search_max_candidates,
        indicators=settings.alerts,
        mme_factors=settings.mme_factors,
        thresholds=Thresholds(
            mme_per_day=settings.alert_mme_per_day,
            mpe_prescribers=settings.alert_mpe_prescribers,
            mpe_pharmacies=settings.alert_mpe_pharmacies,
            mpe_window_days=settings.alert_mpe_window_days,
            overlap_days=settings.alert_overlap_days,
        ),
    )


async def open_store(settings: Settings, *, load_reference: bool = True) -> Store:
    """Open the configured store, creating its schema, and (unless a parent process did it already) make sure the
    drug reference is loaded."""
    store = make_store(store_config(settings))
    await store.open()
    try:
        if load_reference and (settings.drug_reference is not None or await store.drug_count() == 0):
            await load_drugs(store, settings.drug_reference)
    except BaseException:
        await store.close()
        raise
    return store
