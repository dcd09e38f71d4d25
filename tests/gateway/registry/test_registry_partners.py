"""Partner states in the registry, one suite for both backends: registering one creates its hub's EDS (kind
``partner``), every change is a new version kept in the history, a change that raced another is refused, the rules
refuse bad records before anything is written, the directory reads a cached snapshot that follows the registry, and
an older database gains the EDS ``kind`` column without losing a row."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from gateway.interstate.directory import RegistryPartnerDirectory
from gateway.interstate.partners import InboundPolicy, Outbound, Partner, PartnerProtocol, PartnerStatus
from gateway.policy.registry import (
    EdsKind,
    EdsStatus,
    PartnerAction,
    PartnerRecord,
    RegistryConflictError,
    RegistryInputError,
    RegistryNotFoundError,
    RegistryStore,
)
from gateway.policy.registry.store.postgres import PostgresRegistry
from gateway.policy.registry.store.sqlite import SqliteRegistry
from tests.gateway.registry.conftest import POSTGRES_DSN, drop_schema
from tests.gateway.registry.keys import jwks

POLICY = InboundPolicy(frozenset({"207R00000X", "183500000X"}), frozenset({"birth_date", "family"}))


def _outbound(tmp_path: Path, **kw: object) -> Outbound:
    fields: dict[str, object] = {
        "endpoint": "https://nv.example.gov/interstate/pmix/",
        "protocol": PartnerProtocol.PMIX,
        "token_url": "https://nv.example.gov/oauth/token",
        "client_id": "ut-hub",
        "key_file": tmp_path / "our-key.json",
    }
    fields.update(kw)
    return Outbound(**fields)  # type: ignore[arg-type]


async def _nevada(registry: RegistryStore, tmp_path: Path, **kw: object) -> Partner:
    fields: dict[str, object] = {
        "name": "Nevada PMP",
        "inbound": POLICY,
        "outbound": _outbound(tmp_path),
        "default_for_roles": ("prescriber", "ROLE_PHARMACIST"),
        "by": "alice",
    }
    fields.update(kw)
    record = await registry.add_partner("nv", **fields)  # type: ignore[arg-type]
    return record.partner


async def test_add_creates_the_hub_eds_and_the_first_version(registry: RegistryStore, tmp_path: Path) -> None:
    partner = await _nevada(registry, tmp_path, agreement="MOU-2026-3", contact="ops@nv.example.gov")
    assert (partner.state, partner.name, partner.status) == ("NV", "Nevada PMP", PartnerStatus.ACTIVE)
    assert partner.default_for_roles == {"ROLE_PRESCRIBER", "ROLE_PHARMACIST"}
    assert partner.outbound is not None and partner.outbound.endpoint == "https://nv.example.gov/interstate/pmix"
    assert (partner.outbound.scope, partner.outbound.timeout_seconds, partner.outbound.enabled) == (
        "pmp/interstate",
        2.0,
        True,
    )
    eds = await registry.get_eds(partner.eds_id)
    assert eds is not None and eds.kind is EdsKind.PARTNER and eds.is_partner
    assert (eds.state, eds.agreement, eds.status, eds.as_json()["kind"]) == (
        "NV",
        "MOU-2026-3",
        EdsStatus.ACTIVE,
        "partner",
    )
    record = await registry.get_partner("nv")
    assert record is not None and record.partner == partner
    assert (record.version, record.updated_by, record.created_at) == (1, "alice", record.updated_at)
    [first] = await registry.partner_history("NV")
    assert (first.version, first.action, first.changed_by) == (1, "add", "alice")
    assert first.record["inbound"] == {
        "allowed_taxonomies": ["183500000X", "207R00000X"],
        "required_patient_fields": ["family", "birth_date"],
    }
    assert [r.partner.state for r in await registry.list_partners()] == ["NV"]
    ordinary = await registry.add_eds(name="Valley EHR")
    assert ordinary.kind is EdsKind.EDS and not ordinary.is_partner


async def test_a_partner_hub_client_gets_the_interstate_scope_only(registry: RegistryStore, tmp_path: Path) -> None:
    partner = await _nevada(registry, tmp_path)
    with pytest.raises(RegistryInputError, match="pmp/interstate only"):
        await registry.add_client(partner.eds_id, scope="pmp/interstate system/MedicationDispense.rs", jwks=jwks())
    with pytest.raises(RegistryInputError, match="pmp/interstate only"):
        await registry.add_client(partner.eds_id, scope="pmp/admin", jwks=jwks())
    client = (await registry.add_client(partner.eds_id, scope="pmp/interstate", jwks=jwks())).client
    record = await registry.get_client_record(client.client_id)
    assert record is not None and record.eds.is_partner and record.usable


async def test_updates_are_versions_kept_in_the_history(registry: RegistryStore, tmp_path: Path) -> None:
    await _nevada(registry, tmp_path)
    narrowed = await registry.update_partner(
        "NV",
        lambda p: replace(p, inbound=InboundPolicy(frozenset({"207r00000x"}), frozenset())),
        by="bob",
    )
    assert narrowed.version == 2 and narrowed.updated_by == "bob"
    assert narrowed.partner.inbound == InboundPolicy(frozenset({"207R00000X"}), frozenset())
    unchanged = await registry.update_partner("NV", lambda p: p, by="carol")
    assert unchanged == narrowed  # nothing changed: no version written
    disabled = await registry.set_partner_status("NV", PartnerStatus.DISABLED, by="dave")
    assert disabled.partner.status is PartnerStatus.DISABLED and disabled.version == 3
    no_outbound = await registry.update_partner("NV", lambda p: replace(p, outbound=None), by="erin")
    assert no_outbound.partner.outbound is None
    enabled = await registry.set_partner_status("NV", PartnerStatus.ACTIVE, by="frank")
    history = await registry.partner_history("nv")
    assert [(v.version, v.action, v.changed_by) for v in history] == [
        (1, PartnerAction.ADD.value, "alice"),
        (2, "set", "bob"),
        (3, "disable", "dave"),
        (4, "set", "erin"),
        (5, "enable", "frank"),
    ]
    assert history[0].record["inbound"]["allowed_taxonomies"] == ["183500000X", "207R00000X"]  # as it was
    assert history[-1].record == {k: v for k, v in enabled.as_json().items() if k in history[-1].record}
    assert history[-1].record["outbound"] is None


async def test_a_change_that_raced_another_is_refused(
    registry: RegistryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _nevada(registry, tmp_path)
    stale = await registry.get_partner("NV")
    await registry.update_partner("NV", lambda p: replace(p, name="Nevada PMP (new)"), by="fast")

    async def read_before_the_other_change(state: str) -> PartnerRecord | None:
        return stale  # what a writer that read just before "fast" wrote would hold

    monkeypatch.setattr(registry, "get_partner", read_before_the_other_change)
    with pytest.raises(RegistryConflictError, match="changed by someone else"):
        await registry.update_partner("NV", lambda p: replace(p, name="Nevada Board of Pharmacy"), by="slow")
    monkeypatch.undo()
    record = await registry.get_partner("NV")
    assert record is not None and (record.partner.name, record.version) == ("Nevada PMP (new)", 2)
    assert [v.changed_by for v in await registry.partner_history("NV")] == ["alice", "fast"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"name": " "}, "name: required"),
        ({"inbound": InboundPolicy(frozenset({"207R0000"}), frozenset())}, "taxonomy"),
        ({"inbound": InboundPolicy(frozenset(), frozenset({"ssn"}))}, "required patient field"),
        ({"default_for_roles": ("wizard",)}, "default role"),
        ({"default_for_roles": ("ROLE_PARTNER_STATE",)}, "default role"),
        ({"outbound": "endpoint=http://nv.example.gov/x"}, "https"),
        ({"outbound": "token_url=ftp://nv.example.gov/t"}, "https"),
        ({"outbound": "endpoint=https://user:pw@nv.example.gov/x"}, "without credentials"),
        ({"outbound": "key_file=relative/key.json"}, "absolute path"),
        ({"outbound": "timeout_seconds=0"}, "timeout"),
        ({"outbound": "timeout_seconds=61"}, "timeout"),
        ({"outbound": "client_id= "}, "client_id"),
        ({"outbound": "scope=a\tb\\c"}, "scope"),
        ({"outbound": "protocol=smtp"}, "protocol"),
    ],
)
async def test_bad_records_are_refused_before_any_write(
    registry: RegistryStore, tmp_path: Path, change: dict[str, object], reason: str
) -> None:
    if isinstance(change.get("outbound"), str):
        name, _, value = str(change["outbound"]).partition("=")
        typed: object = float(value) if name == "timeout_seconds" else Path(value) if name == "key_file" else value
        change = {"outbound": _outbound(tmp_path, **{name: typed})}
    with pytest.raises(RegistryInputError, match=reason):
        await _nevada(registry, tmp_path, **change)
    assert await registry.list_partners() == [] and await registry.list_eds() == []


async def test_refusals_on_state_and_identity(registry: RegistryStore, tmp_path: Path) -> None:
    with pytest.raises(RegistryInputError, match="state"):
        await registry.add_partner("XX", name="Nowhere", inbound=POLICY, by="alice")
    partner = await _nevada(registry, tmp_path)
    with pytest.raises(RegistryConflictError, match="already a partner"):
        await _nevada(registry, tmp_path)
    assert len(await registry.list_eds()) == 1  # the refused second add created no EDS
    with pytest.raises(RegistryInputError, match="cannot change"):
        await registry.update_partner("NV", lambda p: replace(p, state="AZ"), by="bob")
    with pytest.raises(RegistryInputError, match="cannot change"):
        await registry.update_partner("NV", lambda p: replace(p, eds_id="eds_other"), by="bob")
    with pytest.raises(RegistryNotFoundError):
        await registry.update_partner("AZ", lambda p: p, by="bob")
    with pytest.raises(RegistryNotFoundError):
        await registry.partner_history("AZ")
    with pytest.raises(RegistryInputError, match="by: required"):
        await registry.set_partner_status("NV", PartnerStatus.DISABLED, by=" ")
    assert await registry.get_partner("AZ") is None
    assert (await registry.get_partner("NV")).partner == partner  # type: ignore[union-attr]


async def test_the_directory_follows_the_registry(registry: RegistryStore, tmp_path: Path) -> None:
    directory = RegistryPartnerDirectory(registry)
    await directory.refresh()
    assert directory.partner("NV") is None and directory.outbound_partners() == ()
    nevada = await _nevada(registry, tmp_path)
    arizona = (
        await registry.add_partner("AZ", name="Arizona PMP", inbound=POLICY, by="alice")  # answers, never asked
    ).partner
    await directory.refresh()
    assert directory.partner("nv") == nevada and directory.partner_for_eds(arizona.eds_id) == arizona
    assert directory.partner_for_eds("") is None and directory.partner_for_eds("eds_unknown") is None
    assert [p.state for p in directory.outbound_partners()] == ["NV"]
    await registry.update_partner(
        "NV",
        lambda p: replace(p, outbound=replace(p.outbound, enabled=False)),  # type: ignore[type-var]
        by="bob",
    )
    await directory.refresh()
    assert directory.outbound_partners() == ()
    await registry.update_partner("NV", lambda p: replace(p, outbound=nevada.outbound), by="bob")
    await registry.set_partner_status("NV", PartnerStatus.DISABLED, by="bob")
    await directory.refresh()
    assert directory.outbound_partners() == ()
    found = directory.partner("NV")
    assert found is not None and not found.active


async def test_the_snapshot_is_cached_until_the_registry_changes(registry: RegistryStore, tmp_path: Path) -> None:
    await _nevada(registry, tmp_path)
    first = await registry.partners_snapshot()
    assert await registry.partners_snapshot() is first or isinstance(registry, PostgresRegistry)
    other: RegistryStore  # another process's connection (the CLI, another worker) changes the registry
    if isinstance(registry, SqliteRegistry):
        other = SqliteRegistry(registry.path)
    else:
        other = PostgresRegistry(POSTGRES_DSN, registry._schema)  # type: ignore[attr-defined]
    await other.open()
    try:
        await other.set_partner_status("NV", PartnerStatus.DISABLED, by="elsewhere")
    finally:
        await other.close()
    if isinstance(registry, PostgresRegistry):
        await asyncio.sleep(1.05)  # PostgreSQL: cached reads live at most STALE_SECONDS
    [after] = await registry.partners_snapshot()
    assert after.status is PartnerStatus.DISABLED


# ---- upgrading a database made before partners existed

_OLD_EDS = """CREATE TABLE eds (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, agreement TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT '',
  contact TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, created_at TEXT NOT NULL, quota_rate INTEGER,
  quota_per_seconds INTEGER, quota_burst INTEGER, quota_shadow INTEGER NOT NULL DEFAULT 0)"""
_OLD_ROW = (
    "INSERT INTO eds VALUES ('eds_0123456789abcdef', 'Valley EHR', 'DUA-1', 'UT', '', 'active',"
    " '2026-01-01T00:00:00.000000Z', 600, 60, 100, 1)"
)


async def _upgraded(store: RegistryStore) -> None:
    for _ in range(2):  # opening twice changes nothing more
        await store.open()
        try:
            [eds] = await store.list_eds()
            assert (eds.id, eds.name, eds.kind) == ("eds_0123456789abcdef", "Valley EHR", EdsKind.EDS)
            assert eds.quota is not None and eds.quota.shadow
            client = (await store.add_client(eds.id, scope="pmp/ncpdp.history", jwks=jwks())).client
            assert (await store.get_client_record(client.client_id)).eds == eds  # type: ignore[union-attr]
        finally:
            await store.close()


async def test_an_older_sqlite_registry_is_upgraded_without_loss(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(_OLD_EDS)
        conn.execute(_OLD_ROW)
    conn.close()
    await _upgraded(SqliteRegistry(path))
    columns = [row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(eds)")]
    assert columns.count("kind") == 1


@pytest.mark.postgres
async def test_an_older_postgres_registry_is_upgraded_without_loss() -> None:
    schema = "t_" + uuid.uuid4().hex[:16]
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(f"SET search_path TO {schema}")
        await conn.execute(_OLD_EDS)
        await conn.execute(_OLD_ROW)
    finally:
        await conn.close()
    try:
        await _upgraded(PostgresRegistry(POSTGRES_DSN, schema))
    finally:
        await drop_schema(schema)
