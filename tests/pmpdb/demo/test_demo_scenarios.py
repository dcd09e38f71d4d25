"""The demo's crafted people: one per alert, recorded in the ground truth, never corrected, and answered by pmpdb
with exactly the alerts the truth names."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pmpdb.demo import generate, write_demo
from pmpdb.demo.scenarios import SCENARIOS
from pmpdb.drugs import load_drugs
from pmpdb.ingest import ingest_path
from pmpdb.search import HistorySearch
from pmpdb.store.sqlite import SqliteStore
from protos.pmp.v1 import pmp_pb2 as pb

START, END = date(2024, 1, 1), date(2024, 12, 31)


async def test_each_scenario_trips_exactly_its_alerts(tmp_path: Path) -> None:
    dataset = generate(60, 4, start=START, end=END)
    crafted = [p for p in dataset.truth.people if p.scenario]
    assert sorted(p.scenario or "" for p in crafted) == sorted(s.name for s in SCENARIOS)
    corrected = {r.key for r in dataset.truth.revisions} | set(dataset.truth.voids)
    for person in crafted:
        assert person.expected_alerts and person.expected_peak_mme
        assert not {d.key for d in person.dispensations} & corrected
        assert not person.ambiguous_without_zip
    store = SqliteStore(tmp_path / "pmp.sqlite")
    await store.open()
    try:
        await load_drugs(store)
        for path in sorted(write_demo(dataset, tmp_path / "files")[:-1]):
            assert not (await ingest_path(store, path)).rejected
        search = HistorySearch(store, today=END)
        for person in crafted:
            p = person.person
            query = pb.PatientQuery(
                name=pb.HumanName(family=p.last_name, given=p.first_name),
                birth_date=p.birth_date.isoformat(),
                address=pb.Address(postal_code=p.address.zip),
            )
            window = pb.DateRange(start=START.isoformat(), end=END.isoformat())
            reply = await search.search(pb.SearchHistoryRequest(patient=query, date_range=window))
            assert tuple(a.code for a in reply.alerts) == person.expected_alerts, person.scenario
            assert reply.indicators.peak_mme == person.expected_peak_mme
            # and in a default twelve-month query as well
            reply = await search.search(pb.SearchHistoryRequest(patient=query))
            assert tuple(a.code for a in reply.alerts) == person.expected_alerts, person.scenario
    finally:
        await store.close()


def test_small_or_short_datasets_have_no_crafted_people() -> None:
    assert not any(p.scenario for p in generate(19, 1, start=START, end=END).truth.people)
    assert not any(p.scenario for p in generate(40, 1, start=date(2024, 12, 1), end=END).truth.people)
    assert all(p.expected_alerts == () for p in generate(40, 1, start=START, end=END).truth.people if not p.scenario)
