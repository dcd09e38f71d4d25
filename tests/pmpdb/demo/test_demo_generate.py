"""The demo dataset: deterministic, valid ASAP, valid identifiers, and a ground truth that agrees with its files."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from adapters.asap.model import (
    REPORT_NEW,
    REPORT_REVISE,
    REPORT_VOID,
    DispensationRecord,
    ZeroReport,
)
from adapters.asap.reader import AsapReader
from pmpdb.demo import GROUND_TRUTH_NAME, DemoDataset, generate, write_demo
from pmpdb.demo.drugs import load_drugs
from pmpdb.demo.identifiers import is_valid_dea, is_valid_ncpdp, is_valid_npi
from pmpdb.demo.names import NICKNAMES, name_key
from pmpdb.demo.people import VARIANT_KINDS
from pmpdb.demo.truth import DispensationKey, PersonTruth

START = date(2024, 1, 1)
END = date(2024, 12, 31)


@pytest.fixture(scope="module")
def dataset() -> DemoDataset:
    return generate(200, 0, start=START, end=END)


@pytest.fixture(scope="module")
def written(dataset: DemoDataset, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_demo(dataset, tmp_path_factory.mktemp("demo"))


def _read(path: Path) -> tuple[list[DispensationRecord | ZeroReport], AsapReader]:
    with path.open("rb") as f:
        reader = AsapReader(f)
        items = list(reader)
    return items, reader


@pytest.fixture(scope="module")
def parsed(written: list[Path]) -> dict[str, list[DispensationRecord | ZeroReport]]:
    out: dict[str, list[DispensationRecord | ZeroReport]] = {}
    for path in written[:-1]:
        items, reader = _read(path)
        assert reader.errors == [], (path.name, reader.errors[:5])
        out[path.name] = items
    return out


def _records(items: list[DispensationRecord | ZeroReport]) -> list[DispensationRecord]:
    return [i for i in items if isinstance(i, DispensationRecord)]


def _key(record: DispensationRecord) -> DispensationKey:
    d = record.dispensing
    return DispensationKey(record.pharmacy.key, d.rx_number, int(d.refill_number), date.fromisoformat(d.date_filled))


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    def contents(seed: int, where: Path) -> dict[str, bytes]:
        paths = write_demo(generate(60, seed, start=START, end=END), where)
        return {p.name: p.read_bytes() for p in paths}

    first = contents(3, tmp_path / "a")
    assert contents(3, tmp_path / "b") == first
    assert contents(4, tmp_path / "c") != first


def test_files_are_named_in_ingestion_order(dataset: DemoDataset, written: list[Path]) -> None:
    names = [p.name for p in written]
    assert names[-1] == GROUND_TRUTH_NAME
    asap_names = names[:-1]
    assert asap_names == sorted(asap_names)
    kinds = [f.kind for f in dataset.files]
    assert kinds[-1] == "corrections"
    assert kinds.count("new") >= 12  # one a month
    assert kinds.count("zero") == 1
    assert kinds.index("zero") > max(i for i, k in enumerate(kinds) if k == "new")
    assert list(dataset.truth.files) == asap_names


def test_every_file_parses_without_errors(
    dataset: DemoDataset, parsed: dict[str, list[DispensationRecord | ZeroReport]]
) -> None:
    by_kind: dict[str, list[DispensationRecord | ZeroReport]] = defaultdict(list)
    for demo_file in dataset.files:
        by_kind[demo_file.kind] += parsed[demo_file.name]
    new = _records(by_kind["new"])
    assert len(new) == dataset.truth.reported
    assert {r.dispensing.reporting_status for r in new} == {REPORT_NEW}
    statuses = Counter(r.dispensing.reporting_status for r in _records(by_kind["corrections"]))
    assert statuses == {REPORT_REVISE: len(dataset.truth.revisions), REPORT_VOID: len(dataset.truth.voids)}
    assert len(by_kind["zero"]) == 1


def test_zero_report_present(dataset: DemoDataset, parsed: dict[str, list[DispensationRecord | ZeroReport]]) -> None:
    (zero_truth,) = dataset.truth.zero_reports
    (item,) = parsed[zero_truth.file]
    assert isinstance(item, ZeroReport)
    assert item.pharmacy.key == zero_truth.pharmacy
    assert (item.period_start, item.period_end) == ("20241225", "20241231")
    dispensing_pharmacies = {r.pharmacy.key for items in parsed.values() for r in _records(items)}
    assert zero_truth.pharmacy not in dispensing_pharmacies


def test_identifiers_are_valid(dataset: DemoDataset, parsed: dict[str, list[DispensationRecord | ZeroReport]]) -> None:
    assert 10 <= len(dataset.pharmacies) <= 30
    for pharmacy in dataset.pharmacies:
        assert is_valid_npi(pharmacy.npi), pharmacy.npi
        assert is_valid_ncpdp(pharmacy.ncpdp)
        assert is_valid_dea(pharmacy.dea, pharmacy.name), pharmacy.dea
    for prescriber in dataset.prescribers:
        assert is_valid_npi(prescriber.npi)
        assert is_valid_dea(prescriber.dea, prescriber.last_name), (prescriber.dea, prescriber.last_name)
        assert prescriber.dea[0] in "ABFM"
        assert prescriber.state_license
    npis = [p.npi for p in dataset.pharmacies] + [p.npi for p in dataset.prescribers]
    assert len(set(npis)) == len(npis)
    for items in parsed.values():
        for record in _records(items):
            assert is_valid_npi(record.dispensing.pharmacist_npi)
            assert record.prescriber is not None
            assert is_valid_npi(record.prescriber.npi)


def test_fills_are_realistic(dataset: DemoDataset, parsed: dict[str, list[DispensationRecord | ZeroReport]]) -> None:
    drugs = {d.ndc: d for d in load_drugs()}
    new = [r for f in dataset.files if f.kind == "new" for r in _records(parsed[f.name])]
    seen_keys: set[tuple[str, str, str]] = set()
    for record in new:
        d = record.dispensing
        drug = drugs[d.product_id]
        assert drug.dea_schedule in (2, 3, 4, 5)
        assert START.strftime("%Y%m%d") <= d.date_written <= d.date_filled <= d.date_sold <= END.strftime("%Y%m%d")
        assert int(d.refill_number) <= int(d.refills_authorized)
        if drug.dea_schedule == 2:
            assert d.refills_authorized == "0"
        if drug.dosage_form == "patch":
            assert (d.quantity, d.days_supply) in {("10", "30"), ("5", "15")}
        assert 1 <= int(d.days_supply) <= 30
        assert d.payment_type in {"01", "02", "03", "04", "05", "06", "07", "99"}
        rx_key = (record.pharmacy.key, d.rx_number, d.refill_number)
        assert rx_key not in seen_keys  # Rx numbers are unique per pharmacy (refills share them)
        seen_keys.add(rx_key)
    classes = Counter(drugs[r.dispensing.product_id].drug_class for r in new)
    assert {"opioid", "benzodiazepine", "stimulant"} <= set(classes)
    refills = [r for r in new if r.dispensing.refill_number != "0"]
    assert refills


def test_ground_truth_applies_revisions_and_voids(
    dataset: DemoDataset, parsed: dict[str, list[DispensationRecord | ZeroReport]]
) -> None:
    truth = dataset.truth
    reported: dict[DispensationKey, DispensationRecord] = {}
    for demo_file in dataset.files:
        if demo_file.kind == "new":
            for record in _records(parsed[demo_file.name]):
                reported[_key(record)] = record
    assert len(reported) == truth.reported
    final = {d.key: d for p in truth.people for d in p.dispensations}
    assert len(final) == truth.final_count == truth.reported - len(truth.voids)
    assert truth.voids
    for key in truth.voids:
        assert key in reported
        assert key not in final
    assert truth.revisions
    revised = {r.key: r for r in truth.revisions}
    assert not set(revised) & set(truth.voids)
    for key, record in reported.items():
        if key in truth.voids:
            continue
        d = final[key]
        assert d.ndc == record.dispensing.product_id
        if key in revised:
            r = revised[key]
            assert (r.quantity_before, r.days_supply_before) == (
                record.dispensing.quantity,
                int(record.dispensing.days_supply),
            )
            assert (d.quantity, d.days_supply) == (r.quantity_after, r.days_supply_after)
            assert (d.quantity, d.days_supply) != (r.quantity_before, r.days_supply_before)
        else:
            assert (d.quantity, d.days_supply) == (record.dispensing.quantity, int(record.dispensing.days_supply))
    # The corrections file carries exactly those keys, and the revised values.
    corrections = next(f for f in dataset.files if f.kind == "corrections")
    for record in _records(parsed[corrections.name]):
        key = _key(record)
        if record.dispensing.reporting_status == REPORT_VOID:
            assert key in truth.voids
            assert record.dispensing.quantity == reported[key].dispensing.quantity
        else:
            assert record.dispensing.quantity == revised[key].quantity_after
            assert int(record.dispensing.days_supply) == revised[key].days_supply_after


def test_every_person_has_fills_from_several_pharmacies_and_prescribers(dataset: DemoDataset) -> None:
    truth = dataset.truth
    assert len(truth.people) == 200
    for person in truth.people:
        assert 1 <= len(person.dispensations) <= 40
    pharmacies = [len({d.key.pharmacy for d in p.dispensations}) for p in truth.people]
    prescribers = [len({d.prescriber_npi for d in p.dispensations}) for p in truth.people]
    assert max(pharmacies) >= 5  # at least one pharmacy shopper
    assert max(prescribers) >= 5
    assert sum(n >= 2 for n in pharmacies) >= 40


def test_records_match_the_people_they_belong_to(
    dataset: DemoDataset, parsed: dict[str, list[DispensationRecord | ZeroReport]]
) -> None:
    owner = {d.key: p for p in dataset.truth.people for d in p.dispensations}
    checked = 0
    for demo_file in dataset.files:
        if demo_file.kind != "new":
            continue
        for record in _records(parsed[demo_file.name]):
            person_truth = owner.get(_key(record))
            if person_truth is None:  # voided later
                continue
            person = person_truth.person
            pat = record.patient
            assert pat.birth_date == person.birth_date.strftime("%Y%m%d")
            assert pat.gender == person.gender
            assert pat.zip == person.address.zip
            assert pat.address1.upper() == person.address.line1.upper()
            recorded = {(r.pharmacy, r.first_name, r.middle_name, r.last_name) for r in person_truth.recorded_names}
            assert (record.pharmacy.key, pat.first_name, pat.middle_name, pat.last_name) in recorded
            checked += 1
    assert checked == dataset.truth.final_count


def test_name_variants_are_ones_a_careful_matcher_joins(dataset: DemoDataset) -> None:
    kinds: Counter[str] = Counter()
    for person_truth in dataset.truth.people:
        person = person_truth.person
        for recorded in person_truth.recorded_names:
            kinds.update(recorded.variants)
            assert name_key(recorded.last_name) == name_key(person.last_name)
            nicknames = {name_key(n) for n in NICKNAMES.get(person.first_name, ())}
            assert name_key(recorded.first_name) in {name_key(person.first_name)} | nicknames
            if recorded.middle_name:
                assert name_key(person.middle_name).startswith(name_key(recorded.middle_name))
    assert set(kinds) == set(VARIANT_KINDS)
    # Some people are recorded differently at different pharmacies.
    differing = [
        p
        for p in dataset.truth.people
        if len({(r.first_name, r.middle_name, r.last_name) for r in p.recorded_names}) > 1
    ]
    assert len(differing) >= 10


def test_same_name_same_dob_pairs(dataset: DemoDataset) -> None:
    groups: dict[str, list[PersonTruth]] = defaultdict(list)
    for person_truth in dataset.truth.people:
        if person_truth.same_name_dob_group is not None:
            assert person_truth.ambiguous_without_zip
            groups[person_truth.same_name_dob_group].append(person_truth)
        else:
            assert not person_truth.ambiguous_without_zip
    assert len(groups) == 4
    for a, b in groups.values():
        assert (a.person.first_name, a.person.last_name, a.person.birth_date, a.person.gender) == (
            b.person.first_name,
            b.person.last_name,
            b.person.birth_date,
            b.person.gender,
        )
        assert a.person.address.zip != b.person.address.zip
        assert a.person.person_id != b.person.person_id
        assert a.dispensations
        assert b.dispensations
    # Nobody else shares a (name, DOB) with anyone, even through a nickname.
    seen: dict[tuple[str, str, date], str] = {}
    grouped = {p.person.person_id for p in dataset.truth.people if p.same_name_dob_group}
    for person_truth in dataset.truth.people:
        person = person_truth.person
        if person.person_id in grouped:
            continue
        forms = {name_key(person.first_name), *(name_key(n) for n in NICKNAMES.get(person.first_name, ()))}
        for form in forms:
            key = (form, name_key(person.last_name), person.birth_date)
            assert key not in seen, (person.person_id, seen.get(key))
            seen[key] = person.person_id


def test_ground_truth_json_round_trips(dataset: DemoDataset, written: list[Path]) -> None:
    data = json.loads(written[-1].read_text(encoding="utf-8"))
    assert data == dataset.truth.to_json_dict()
    assert data["totals"]["final"] == sum(len(p["dispensations"]) for p in data["people"])
    person = data["people"][0]
    assert set(person["query"]) == {"first_name", "last_name", "birth_date", "gender", "zip"}
    assert set(person["dispensations"][0]) >= {
        "pharmacy",
        "rx_number",
        "refill_number",
        "date_filled",
        "ndc",
        "quantity",
        "days_supply",
    }


@pytest.mark.parametrize(("patients", "start", "end"), [(1, date(2024, 3, 1), date(2024, 3, 1)), (7, START, END)])
def test_small_and_short_datasets_still_parse(tmp_path: Path, patients: int, start: date, end: date) -> None:
    dataset = generate(patients, 11, start=start, end=end)
    assert len(dataset.truth.people) == patients
    for path in write_demo(dataset, tmp_path)[:-1]:
        _, reader = _read(path)
        assert reader.errors == []


def test_other_terminator(tmp_path: Path) -> None:
    paths = write_demo(generate(30, 5, start=START, end=END), tmp_path, terminator="\\")
    text = paths[0].read_text(encoding="utf-8")
    assert text.startswith("TH*4.2*")
    assert text.splitlines()[0].endswith("\\\\")
    for path in paths[:-1]:
        _, reader = _read(path)
        assert reader.errors == []


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="patients"):
        generate(0, start=START, end=END)
    with pytest.raises(ValueError, match="end"):
        generate(10, start=END, end=START)
