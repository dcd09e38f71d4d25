"""Demo data: ``pmp-gateway demo-data`` and the load ``serve`` does into an empty store."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path

from gateway.auth import scopes
from gateway.auth.client_key import ClientKey
from gateway.policy.registry import NewUser, UserRole
from gateway.settings import Settings
from pmpcli.command import open_registry
from pmpdb.demo import generate, write_demo
from pmpdb.ingest import ingest_path
from pmpdb.store.base import Store

log = logging.getLogger("pmpcli.demo")

DEMO_YEARS = 2
DEMO_NPI = "1928340565"  # the HL7 PDMP IG examples' authorized practitioner: their Parameters work as they are
DEMO_SCOPE = f"{scopes.MEDICATION_DISPENSE_READ} {scopes.NCPDP_HISTORY}"


def demo_window(today: date | None = None) -> tuple[date, date]:
    """The demo fills span the last two years, so a default (12-month) query finds recent ones."""
    end = today or date.today()
    return end - timedelta(days=365 * DEMO_YEARS), end


def write_demo_files(out: Path, *, patients: int, seed: int) -> list[Path]:
    start, end = demo_window()
    return write_demo(generate(patients, seed, start=start, end=end), out)


def demo_data(out: Path, *, patients: int, seed: int) -> int:
    paths = write_demo_files(out, patients=patients, seed=seed)
    for p in paths:
        print(p)
    return 0


async def load_demo_if_empty(store: Store, data_dir: Path) -> None:
    """``serve``'s rule: demo data only into a store that has never held anything."""
    if await store.is_empty():
        await load_demo(store, data_dir / "demo")


async def load_demo(store: Store, out: Path, *, patients: int = 200, seed: int = 0) -> int:
    """Write the demo files under ``out`` and ingest them in order; returns dispensations accepted."""
    accepted = 0
    for path in sorted(write_demo_files(out, patients=patients, seed=seed)):
        if path.suffix == ".json":
            continue
        report = await ingest_path(store, path)
        if report.rejected:
            raise RuntimeError(f"demo file {path.name} was rejected: {report.errors[:3]}")
        accepted += report.counts.accepted
    log.info("demo data loaded", extra={"dispensations": accepted})
    return accepted


async def register_demo_client(settings: Settings) -> Path | None:
    """Into a registry with no EDS: a demo EDS, its ``private_key_jwt`` client (key written to
    ``<data_dir>/demo/client.json``, mode 0600, for ``pmp-gateway token``) and the IG examples' prescriber."""
    async with open_registry(settings) as registry:
        if await registry.list_eds():
            return None
        key = ClientKey.generate(kid="demo-1")
        eds = await registry.add_eds(name="Demo EHR", agreement="DEMO", state=settings.state_code)
        client = (await registry.add_client(eds.id, scope=DEMO_SCOPE, jwks=key.jwks())).client
        await registry.add_user(
            NewUser(role=UserRole.PRESCRIBER, first_name="ADAM", last_name="AMSTER", eds_ids=(eds.id,), npi=DEMO_NPI)
        )
        path = settings.data_dir / "demo" / "client.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps({"client_id": client.client_id, "key": key.private_jwk(), "scope": DEMO_SCOPE}))
        log.info("demo client registered", extra={"client_id": client.client_id, "eds": eds.id})
        return path
