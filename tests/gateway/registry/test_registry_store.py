"""The registry store, one suite for both backends (SQLite and PostgreSQL): EDSs, clients, users, approvals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from gateway.auth.clients import RegisteredClient
from gateway.policy.registry import (
    ApprovalSide,
    AuthMethod,
    ClientStatus,
    EdsStatus,
    NewUser,
    Quota,
    RegistryConflictError,
    RegistryImportError,
    RegistryInputError,
    RegistryNotFoundError,
    RegistryStore,
    UserRole,
    UserStatus,
    verify_secret,
)
from gateway.policy.registry.store import schema
from tests.gateway.registry.conftest import make_dea, make_npi
from tests.gateway.registry.keys import jwks


async def _eds(registry: RegistryStore, **kw: object) -> str:
    eds = await registry.add_eds(name=str(kw.pop("name", "Valley EHR")), **kw)  # type: ignore[arg-type]
    return eds.id


def _prescriber(eds_id: str, **kw: object) -> NewUser:
    fields: dict[str, object] = {
        "role": UserRole.PRESCRIBER,
        "first_name": "Ann",
        "last_name": "Lee",
        "eds_ids": (eds_id,),
        "npi": make_npi(),
    }
    fields.update(kw)
    return NewUser(**fields)  # type: ignore[arg-type]


# ---- EDS


async def test_eds_add_get_list_status_quota(registry: RegistryStore) -> None:
    eds = await registry.add_eds(name=" Valley EHR ", agreement="DUA-2026-01", state="ut", contact="ops@valley.test")
    assert eds.id.startswith("eds_") and eds.status is EdsStatus.ACTIVE
    assert (eds.name, eds.state, eds.quota) == ("Valley EHR", "UT", None)
    assert await registry.get_eds(eds.id) == eds
    pending = await registry.add_eds(name="Hill HIE", status=EdsStatus.PENDING, quota=Quota(600, 60, 100, shadow=True))
    assert [e.id for e in await registry.list_eds()] == [eds.id, pending.id]
    assert (await registry.get_eds(pending.id)).quota == Quota(600, 60, 100, True)  # type: ignore[union-attr]
    suspended = await registry.set_eds_status(eds.id, EdsStatus.SUSPENDED)
    assert suspended.status is EdsStatus.SUSPENDED
    assert (await registry.set_eds_quota(eds.id, Quota(10, 1, 20))).quota == Quota(10, 1, 20, False)
    assert (await registry.set_eds_quota(eds.id, None)).quota is None
    assert await registry.get_eds("eds_missing") is None


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"name": "  "}, "name: required"),
        ({"state": "XX"}, "state"),
        ({"name": "a\nb"}, "printable"),
        ({"status": EdsStatus.REVOKED}, "active or pending"),
        ({"quota": Quota(0, 60, 1)}, "quota"),
    ],
)
async def test_eds_refused(registry: RegistryStore, kw: dict[str, object], reason: str) -> None:
    with pytest.raises(RegistryInputError, match=reason):
        await _eds(registry, **kw)
    assert await registry.list_eds() == []


async def test_unknown_eds(registry: RegistryStore) -> None:
    with pytest.raises(RegistryNotFoundError):
        await registry.set_eds_status("eds_missing", EdsStatus.ACTIVE)


# ---- clients


async def test_clients_by_jwks_url_and_secret(registry: RegistryStore) -> None:
    eds_id = await _eds(registry)
    by_keys = await registry.add_client(eds_id, scope="system/MedicationDispense.rs pmp/ncpdp.history", jwks=jwks())
    client = by_keys.client
    assert by_keys.secret is None and client.client_id.startswith("cli_")
    assert client.auth_method is AuthMethod.PRIVATE_KEY_JWT and client.status is ClientStatus.ACTIVE
    assert client.scopes == {"system/MedicationDispense.rs", "pmp/ncpdp.history"}
    assert await registry.get_client(client.client_id) == client
    assert [k["kid"] for k in client.jwks["keys"]] == ["rsa-1", "ec-1"]  # type: ignore[index]

    by_url = (await registry.add_client(eds_id, scope="pmp/interstate", jwks_url="https://x.test/jwks")).client
    assert by_url.jwks is None and by_url.jwks_url == "https://x.test/jwks"

    issued = await registry.add_client(eds_id, scope="pmp/admin", with_secret=True)
    assert issued.secret and issued.client.auth_method is AuthMethod.CLIENT_SECRET_BASIC
    stored = await registry.get_client(issued.client.client_id)
    assert stored is not None and issued.secret not in stored.secret_hash
    assert verify_secret(issued.secret, stored.secret_hash)
    assert "secret_hash" not in stored.as_json() and stored.as_json()["has_secret"] is True
    assert issued.secret not in repr(stored)

    other = await _eds(registry, name="Other")
    await registry.add_client(other, scope="pmp/admin", jwks_url="https://o.test/jwks")
    assert [c.client_id for c in await registry.list_clients(eds_id)] == [
        client.client_id,
        by_url.client_id,
        issued.client.client_id,
    ]
    assert len(await registry.list_clients()) == 4


async def test_find_client_gives_its_eds_and_disable(registry: RegistryStore) -> None:
    eds_id = await _eds(registry)
    client = (await registry.add_client(eds_id, scope="pmp/admin", jwks=jwks())).client
    record = await registry.get_client_record(client.client_id)
    assert record is not None and record.eds.id == eds_id and record.client == client and record.usable
    found = await registry.find_client(client.client_id)  # the token service's ClientDirectory
    assert found == RegisteredClient(
        client_id=client.client_id,
        eds_id=eds_id,
        auth_method="private_key_jwt",
        scopes=frozenset({"pmp/admin"}),
        active=True,
        jwks=dict(client.jwks or {}),
    )
    await registry.set_eds_status(eds_id, EdsStatus.SUSPENDED)
    assert not (await registry.find_client(client.client_id)).active  # type: ignore[union-attr]
    await registry.set_eds_status(eds_id, EdsStatus.ACTIVE)
    disabled = await registry.disable_client(client.client_id)
    assert disabled.status is ClientStatus.DISABLED
    record = await registry.get_client_record(client.client_id)
    assert record is not None and not record.usable
    assert not (await registry.find_client(client.client_id)).active  # type: ignore[union-attr]
    assert await registry.find_client("cli_missing") is None
    assert await registry.get_client_record("cli_missing") is None
    issued = await registry.add_client(eds_id, scope="pmp/admin", with_secret=True)
    by_secret = await registry.find_client(issued.client.client_id)
    assert by_secret is not None and by_secret.auth_method == "client_secret_basic" and by_secret.jwks is None
    assert by_secret.secret_hash and verify_secret(issued.secret or "", by_secret.secret_hash)
    with pytest.raises(RegistryNotFoundError):
        await registry.disable_client("cli_missing")


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({}, "exactly one"),
        ({"jwks": jwks(), "with_secret": True}, "exactly one"),
        ({"jwks": {"keys": []}}, "no keys"),
        ({"jwks_url": "http://ehr.test/jwks"}, "https"),
        ({"jwks_url": "https://ehr.test/jwks", "scope": " "}, "scope"),
    ],
)
async def test_clients_refused(registry: RegistryStore, kw: dict[str, object], reason: str) -> None:
    eds_id = await _eds(registry)
    kw.setdefault("scope", "pmp/admin")
    with pytest.raises(RegistryInputError, match=reason):
        await registry.add_client(eds_id, **kw)  # type: ignore[arg-type]
    assert await registry.list_clients() == []


async def test_client_of_unknown_or_revoked_eds(registry: RegistryStore) -> None:
    with pytest.raises(RegistryNotFoundError):
        await registry.add_client("eds_missing", scope="pmp/admin", with_secret=True)
    eds_id = await _eds(registry)
    await registry.set_eds_status(eds_id, EdsStatus.REVOKED)
    with pytest.raises(RegistryInputError, match="revoked"):
        await registry.add_client(eds_id, scope="pmp/admin", with_secret=True)


# ---- users


async def test_user_add_get_find(registry: RegistryStore) -> None:
    eds_id = await _eds(registry)
    npi, dea = make_npi(), make_dea()
    new = _prescriber(
        eds_id,
        npi=npi,
        dea=dea.lower(),
        state_license="12345-1205 ",
        license_state="ut",
        expires=date.today() + timedelta(days=700),
    )
    user = await registry.add_user(new)
    assert user.id.startswith("usr_") and user.status is UserStatus.ACTIVE
    assert (user.npi, user.dea, user.state_license, user.license_state) == (npi, dea, "12345-1205", "UT")
    assert user.eds_ids == {eds_id} and user.role.pb != 0
    assert await registry.get_user(user.id) == user
    assert await registry.find_user_by_identifier("npi", npi) == user
    assert await registry.find_user_by_identifier("dea", dea.lower()) == user
    assert await registry.find_user_by_identifier("license", "12345-1205", license_state="UT") == user
    assert await registry.find_user_by_identifier("license", "12345-1205") == user
    assert await registry.find_user_by_identifier("license", "12345-1205", license_state="ID") is None
    assert await registry.find_user_by_identifier("npi", make_npi()) is None
    assert await registry.find_user_by_identifier("npi", "") is None


async def test_a_licence_number_of_two_states_needs_its_state(registry: RegistryStore) -> None:
    eds_id = await _eds(registry)
    await registry.add_user(_prescriber(eds_id, npi="", state_license="B-77", license_state="UT"))
    idaho = await registry.add_user(_prescriber(eds_id, npi="", state_license="B-77", license_state="ID"))
    with pytest.raises(RegistryConflictError, match="state"):
        await registry.find_user_by_identifier("license", "B-77")
    assert await registry.find_user_by_identifier("license", "b-77", license_state="id") == idaho


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"npi": "1234567890"}, "npi: not a valid NPI"),
        ({"npi": "", "dea": "AB1234564"}, "dea: not a valid DEA"),
        ({"npi": "", "state_license": "1 2", "license_state": "UT"}, "license:"),
        ({"state_license": "B-1"}, "license_state: required"),
        ({"license_state": "UT"}, "license_state: given without"),
        ({"state_license": "B-1", "license_state": "ZZ"}, "license_state: not a US state"),
        ({"npi": ""}, "needs an NPI"),
        ({"first_name": " "}, "first_name: required"),
        ({"eds_ids": ()}, "eds: a user is linked"),
        ({"eds_ids": ("eds_missing",)}, "eds: no EDS"),
        ({"supervisor_ids": ("usr_x",)}, "only delegates"),
        ({"expires": date.today() - timedelta(days=1)}, "expires: in the past"),
        ({"status": UserStatus.SUSPENDED}, "active or pending"),
    ],
)
async def test_user_refused(registry: RegistryStore, kw: dict[str, object], reason: str) -> None:
    eds_id = await _eds(registry)
    with pytest.raises(RegistryInputError, match=reason) as refused:
        await registry.add_user(_prescriber(eds_id, **kw))
    assert "1234567890" not in str(refused.value) and "AB1234564" not in str(refused.value)
    assert await registry.list_users() == []


async def test_identifiers_are_unique(registry: RegistryStore) -> None:
    eds_id = await _eds(registry)
    first = await registry.add_user(_prescriber(eds_id, dea=make_dea(), state_license="C-1", license_state="UT"))
    for clash in ({"npi": first.npi}, {"dea": first.dea}, {"state_license": "c-1", "license_state": "UT"}):
        with pytest.raises(RegistryConflictError, match="already registered"):
            await registry.add_user(_prescriber(eds_id, **clash))
    assert len(await registry.list_users()) == 1


async def test_a_constraint_the_checks_missed_still_refuses(registry: RegistryStore) -> None:
    """A race past the pre-checks: the database's unique index refuses, and nothing of the batch is written."""
    eds_id = await _eds(registry)
    user = await registry.add_user(_prescriber(eds_id))
    row = ("usr_other", "prescriber", "B", "C", user.npi, "", "", "", "active", "", "2026-01-01T00:00:00Z")
    with pytest.raises(RegistryConflictError):
        await registry._write([(schema.INSERT_USER_EDS, (user.id, eds_id)), (schema.INSERT_USER, row)])
    assert len(await registry.list_users()) == 1


async def test_delegate_dual_approval(registry: RegistryStore) -> None:
    eds_id = await _eds(registry)
    doctor = await registry.add_user(_prescriber(eds_id))
    pharmacist = await registry.add_user(_prescriber(eds_id, role=UserRole.PHARMACIST))
    nurse = await registry.add_user(
        NewUser(UserRole.LICENSED_DELEGATE, "Kim", "Ray", (eds_id,), npi=make_npi(), supervisor_ids=(doctor.npi,))
    )
    (supervision,) = nurse.supervisions
    assert supervision.supervisor_id == doctor.id and not supervision.approved
    nurse = await registry.approve(nurse.id, ApprovalSide.SUPERVISOR, by="dr.lee")
    assert not nurse.supervisions[0].approved and nurse.supervisions[0].supervisor_approved_by == "dr.lee"
    with pytest.raises(RegistryInputError, match="by: required"):
        await registry.approve(nurse.id, ApprovalSide.DIVISION, by=" ")
    nurse = await registry.approve(nurse.id, ApprovalSide.DIVISION, by="division.clerk")
    s = nurse.supervisions[0]
    assert s.approved and s.division_approved_by == "division.clerk" and s.division_approved_at.endswith("Z")
    with pytest.raises(RegistryInputError, match="no supervision awaiting"):
        await registry.approve(nurse.id, ApprovalSide.DIVISION, by="again")
    again = await registry.approve(nurse.id, ApprovalSide.DIVISION, by="someone", supervisor_id=doctor.id)
    assert again.supervisions[0].division_approved_by == "division.clerk"  # the first approval stands

    nurse = await registry.add_supervision(nurse.id, pharmacist.id)
    nurse = await registry.add_supervision(nurse.id, pharmacist.id)  # no duplicate
    assert [x.supervisor_id for x in nurse.supervisions] == [doctor.id, pharmacist.id]
    with pytest.raises(RegistryNotFoundError):
        await registry.approve(nurse.id, ApprovalSide.SUPERVISOR, by="x", supervisor_id="usr_nobody")


async def test_supervisor_rules(registry: RegistryStore) -> None:
    eds_id = await _eds(registry)
    cop = await registry.add_user(_prescriber(eds_id, role=UserRole.LAW_ENFORCEMENT))
    delegate = NewUser(UserRole.UNLICENSED_DELEGATE, "Tech", "Nic", (eds_id,), npi=make_npi())
    with pytest.raises(RegistryInputError, match="prescriber or pharmacist"):
        await registry.add_user(replace(delegate, supervisor_ids=(cop.id,)))
    with pytest.raises(RegistryNotFoundError, match="supervisor"):
        await registry.add_user(replace(delegate, supervisor_ids=(make_npi(),)))
    tech = await registry.add_user(delegate)
    assert tech.supervisions == ()
    with pytest.raises(RegistryInputError, match="only delegates"):
        await registry.add_supervision(cop.id, tech.id)


async def test_status_links_and_listing(registry: RegistryStore) -> None:
    a, b = await _eds(registry), await _eds(registry, name="B")
    doctor = await registry.add_user(_prescriber(a))
    pharmacist = await registry.add_user(_prescriber(b, role=UserRole.PHARMACIST, status=UserStatus.PENDING))
    assert pharmacist.status is UserStatus.PENDING
    assert (await registry.set_user_status(pharmacist.id, UserStatus.ACTIVE)).status is UserStatus.ACTIVE
    linked = await registry.link_user(doctor.id, b)
    assert linked.eds_ids == {a, b}
    assert (await registry.link_user(doctor.id, b)).eds_ids == {a, b}
    assert [u.id for u in await registry.list_users()] == [doctor.id, pharmacist.id]
    assert [u.id for u in await registry.list_users(eds_id=a)] == [doctor.id]
    assert [u.id for u in await registry.list_users(eds_id=b, role=UserRole.PHARMACIST)] == [pharmacist.id]
    with pytest.raises(RegistryNotFoundError):
        await registry.link_user(doctor.id, "eds_missing")
    with pytest.raises(RegistryNotFoundError):
        await registry.set_user_status("usr_missing", UserStatus.ACTIVE)


async def test_import_is_all_or_nothing(registry: RegistryStore) -> None:
    eds_id = await _eds(registry)
    doctor_npi = make_npi()
    rows = [
        _prescriber(eds_id, npi=doctor_npi),
        NewUser(UserRole.LICENSED_DELEGATE, "Kim", "Ray", (eds_id,), npi=make_npi(), supervisor_ids=(doctor_npi,)),
        _prescriber(eds_id, npi="1234567890"),
        _prescriber(eds_id, npi=doctor_npi),
        _prescriber("eds_missing"),
    ]
    with pytest.raises(RegistryImportError) as refused:
        await registry.import_users(rows)
    assert [(r.row, r.reason.split(":")[0]) for r in refused.value.rejected] == [(3, "npi"), (4, "npi"), (5, "eds")]
    assert all("1234567890" not in r.reason for r in refused.value.rejected)
    assert await registry.list_users() == []

    imported = await registry.import_users(rows[:2])
    doctor, nurse = sorted(imported, key=lambda u: u.role != UserRole.PRESCRIBER)
    assert nurse.supervisions[0].supervisor_id == doctor.id  # named by NPI, earlier in the same file
    assert len(await registry.list_users()) == 2


async def test_reopening_keeps_everything(registry: RegistryStore) -> None:
    eds_id = await _eds(registry)
    user = await registry.add_user(_prescriber(eds_id))
    await registry.close()
    await registry.open()
    assert await registry.get_user(user.id) == user
