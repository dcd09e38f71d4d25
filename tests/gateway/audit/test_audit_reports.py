"""Reports over the trail: the accounting of disclosures (by demographics, by matched patient id, with holds
withheld and said so) and usage counts per user, EDS, state and day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gateway.audit import AuditInputError, AuditStore, Subject, accounting, usage
from gateway.audit.record import admin_record
from gateway.policy.registry.store.sqlite import SqliteRegistry
from gateway.testing import register_client
from tests.gateway.audit.conftest import make_record

TODAY = date(2026, 3, 30)


def at(day: int) -> str:
    return f"2026-03-{day:02d}T09:30:00.000000Z"


@pytest.fixture
async def trail(audit_store: AuditStore) -> AuditStore:
    """Jane Smith (1980-01-02, person p1) asked about five times, John Doe once."""
    await audit_store.append(
        [
            make_record(1, time=at(1), patients=["p1", "r7"]),  # 1
            make_record(2, time=at(2), q_last="SMITH", q_first="JANE", patients=[], outcome="no-data", records=0),  # 2
            # a different spelling pmpdb matched to the same person: found through the patient id
            make_record(3, time=at(3), q_last="SMYTHE", q_first="JAYNE", patients=["p1", "r7"]),  # 3
            make_record(4, time=at(4), q_last="DOE", q_first="JOHN", q_dob="1970-05-05", patients=["p2"]),  # 4
            make_record(5, time=at(5), outcome="disallowed", error_code="forbidden", patients=[], records=0),  # 5
            make_record(6, time=at(6), role="law_enforcement", case_number="CASE-9", purpose="investigation"),  # 6
            make_record(
                7, time=at(7), role="licensed_delegate", on_behalf_of="WELBY, MARCUS", on_behalf_of_ident="npi:1"
            ),  # 7
        ]
    )
    await audit_store.append([admin_record("audit-accounting", actor="cli:x", time=at(8))])  # not a disclosure
    return audit_store


async def test_accounting_by_demographics_finds_the_person_however_spelled(trail: AuditStore) -> None:
    found = await accounting(trail, Subject(last="smith", first="Jane", dob="1980-01-02"), today=TODAY)
    assert [d.seq for d in found.disclosures] == [1, 2, 3, 6, 7]  # not John Doe's, not the refused one
    assert not found.withheld
    first = found.disclosures[0].as_json()
    assert first["role"] == "prescriber" and first["requester"] == "AMSTER, ADAM"
    assert first["date_range"] == {"start": "2025-03-01", "end": "2026-03-01"}
    assert first["when"] == at(1) and first["records"] == 3
    assert found.disclosures[4].on_behalf_of == "WELBY, MARCUS (npi:1)"


async def test_accounting_folds_case_accents_and_punctuation(trail: AuditStore) -> None:
    found = await accounting(trail, Subject(last=" S'mîth ", dob="1980-01-02"), today=TODAY)
    assert [d.seq for d in found.disclosures] == [1, 2, 3, 6, 7]
    none = await accounting(trail, Subject(last="Smith", first="Joan", dob="1980-01-02"), today=TODAY)
    assert [d.seq for d in none.disclosures] == []


async def test_accounting_by_patient_id_and_period(trail: AuditStore) -> None:
    by_id = await accounting(trail, Subject(patient_id="r7"), today=TODAY)
    assert [d.seq for d in by_id.disclosures] == [1, 3]
    period = await accounting(
        trail, Subject(last="Smith", dob="1980-01-02"), start=date(2026, 3, 2), end=date(2026, 3, 3), today=TODAY
    )
    assert [d.seq for d in period.disclosures] == [2, 3]


async def test_accounting_can_include_refused_requests(trail: AuditStore) -> None:
    found = await accounting(trail, Subject(last="Smith", dob="1980-01-02"), today=TODAY, include_refused=True)
    assert [d.seq for d in found.disclosures] == [1, 2, 3, 5, 6, 7]
    assert found.disclosures[3].outcome == "disallowed"


async def test_records_under_hold_are_withheld_and_the_answer_says_so(trail: AuditStore) -> None:
    hold = await trail.add_hold(case_number="CASE-9", until=date(2026, 6, 30), reason="pending", today=TODAY)
    found = await accounting(trail, Subject(last="Smith", dob="1980-01-02"), today=TODAY)
    assert [d.seq for d in found.disclosures] == [1, 2, 3, 7]
    assert found.withheld
    assert found.as_json()["note"].startswith("Some disclosures are not listed")
    assert "CASE-9" not in str(found.as_json())

    after = await accounting(trail, Subject(last="Smith", dob="1980-01-02"), today=date(2026, 7, 1))
    assert [d.seq for d in after.disclosures] == [1, 2, 3, 6, 7] and not after.withheld  # the hold has ended

    await trail.remove_hold(hold.id)
    await trail.add_hold(patient_id="p1", until=date(2026, 6, 30), today=TODAY)
    by_person = await accounting(trail, Subject(last="Smith", dob="1980-01-02"), today=TODAY)
    assert [d.seq for d in by_person.disclosures] == [2]  # everything matched to p1 is withheld
    assert by_person.withheld


async def test_holds_are_checked_and_listed(audit_store: AuditStore) -> None:
    with pytest.raises(AuditInputError, match="exactly one"):
        await audit_store.add_hold(patient_id="p", case_number="c", until=TODAY, today=TODAY)
    with pytest.raises(AuditInputError, match="exactly one"):
        await audit_store.add_hold(until=TODAY, today=TODAY)
    with pytest.raises(AuditInputError, match="past"):
        await audit_store.add_hold(case_number="c", until=date(2020, 1, 1), today=TODAY)
    with pytest.raises(AuditInputError, match="no hold"):
        await audit_store.remove_hold("hold_nope")
    kept = await audit_store.add_hold(case_number="C-1", until=date(2026, 4, 1), created_by="cli:x", today=TODAY)
    await audit_store.add_hold(patient_id="p9", until=TODAY, today=TODAY)
    assert [h.id for h in await audit_store.list_holds(active_on=date(2026, 3, 31))] == [kept.id]
    assert len(await audit_store.list_holds()) == 2
    assert kept.as_json()["case_number"] == "C-1" and kept.as_json()["patient_id"] is None


@pytest.mark.parametrize(
    ("subject", "rule"),
    [
        (Subject(), "last name and birth date"),
        (Subject(last="Smith"), "dob: required"),
        (Subject(dob="1980-01-02"), "last: required"),
        (Subject(last="Smith", dob="01/02/1980"), "YYYY-MM-DD"),
    ],
)
async def test_accounting_refuses_a_subject_it_cannot_search(
    audit_store: AuditStore, subject: Subject, rule: str
) -> None:
    with pytest.raises(AuditInputError, match=rule):
        await accounting(audit_store, subject)


async def test_accounting_names_come_from_the_registry(audit_store: AuditStore, tmp_path: Path) -> None:
    registry = SqliteRegistry(tmp_path / "gateway.sqlite3")
    await registry.open()
    try:
        reg = await register_client(registry, first="GREGORY", last="HOUSE")
        await audit_store.append([make_record(1, user_id=reg.user_id, eds_id=reg.eds_id, requester="H, G")])
        found = await accounting(audit_store, Subject(patient_id="p1"), registry=registry, today=TODAY)
    finally:
        await registry.close()
    (d,) = found.disclosures
    assert (d.requester, d.requester_id, d.eds, d.eds_id) == ("HOUSE, GREGORY", reg.user_id, "Test EHR", reg.eds_id)


async def test_usage_counts_per_user_eds_state_and_day(audit_store: AuditStore) -> None:
    await audit_store.append(
        [
            make_record(1, time=at(1)),
            make_record(2, time=at(1), user_id="usr_2", outcome="no-data"),
            make_record(3, time=at(2), eds_id="eds_2", outcome="denied", user_id=""),
            make_record(4, time=at(2), partner_state="ID", role="partner_state"),
            make_record(5, time=at(9)),  # outside the period
        ]
    )
    await audit_store.append([admin_record("hold-add", actor="cli:x", time=at(1))])  # not a request
    report = await usage(audit_store, start=date(2026, 3, 1), end=date(2026, 3, 2))
    data = report.as_json()
    assert data["total"] == 4
    assert data["outcomes"] == {"denied": 1, "no-data": 1, "provided": 2}
    assert data["by_user"] == [
        {"key": "", "total": 1, "outcomes": {"denied": 1}},
        {"key": "usr_1", "total": 2, "outcomes": {"provided": 2}},
        {"key": "usr_2", "total": 1, "outcomes": {"no-data": 1}},
    ]
    assert [(r["key"], r["total"]) for r in data["by_eds"]] == [("eds_1", 3), ("eds_2", 1)]
    assert [(r["key"], r["total"]) for r in data["by_state"]] == [("", 3), ("ID", 1)]
    assert [(r["key"], r["total"]) for r in data["by_day"]] == [("2026-03-01", 2), ("2026-03-02", 2)]
    assert ("all", "", "provided", 2) in report.csv_rows()
    assert ("day", "2026-03-02", "denied", 1) in report.csv_rows()
    everything = await usage(audit_store)
    assert everything.total == 5


async def test_a_period_that_ends_before_it_starts_is_refused(audit_store: AuditStore) -> None:
    with pytest.raises(AuditInputError, match="ends before"):
        await usage(audit_store, start=date(2026, 3, 2), end=date(2026, 3, 1))
