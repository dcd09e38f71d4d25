"""A deterministic demo PMP: pharmacies, prescribers, patients, a year of fills, and the ASAP files.

``generate`` builds everything from one ``random.Random(seed)``, so a seed always gives the same files
byte for byte. The files are what pharmacies would send:

- one "new" file a month (DSP01=00), holding the fills sold that month;
- a zero report from a pharmacy that dispensed nothing in the last week (standards.md §4.4);
- a corrections file, sent last: revisions (DSP01=01) and voids (DSP01=02) of earlier fills.

In a dataset of 20 people or more, three people are crafted to trip one clinical alert each (MME, multiple
provider episode, opioid + benzodiazepine: :mod:`pmpdb.demo.scenarios`); their fills are never corrected.

Next to the files comes the ground truth (:mod:`pmpdb.demo.truth`): the answer a correct PMP gives.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import partial

from adapters.asap.model import (
    REPORT_NEW,
    REPORT_REVISE,
    REPORT_VOID,
    AsapFile,
    DispensationRecord,
    Dispensing,
    InformationSource,
    Patient,
    Pharmacy,
    PharmacyLoop,
    Prescriber,
    TransactionHeader,
)
from pmpdb.demo.drugs import Drug, Regimen, load_drugs, regimens, reportable, unit_code
from pmpdb.demo.identifiers import (
    MIDLEVEL_DEA_TYPE,
    PRACTITIONER_DEA_TYPES,
    make_dea,
    make_ncpdp,
    make_npi,
)
from pmpdb.demo.names import FEMALE_FIRST_NAMES, LAST_NAMES, MALE_FIRST_NAMES, PHARMACY_NAMES
from pmpdb.demo.people import (
    SHOWCASE_COUNT,
    Person,
    PharmacyStyle,
    RecordedName,
    draw_address,
    draw_style,
    make_people,
    record_name,
    showcase_variant,
)
from pmpdb.demo.scenarios import Scenario, assign
from pmpdb.demo.truth import (
    Dispensation,
    DispensationKey,
    GroundTruth,
    PersonTruth,
    Revision,
    ZeroReportTruth,
)

ASAP_VERSION = "4.2"
SUBMITTER_ID = "8015550199"
SUBMITTER_NAME = "UTAH DEMO PHARMACY REPORTING"
ZERO_REPORT_DAYS = 7

# DSP16 payment types: 01 private pay, 02 Medicaid, 03 Medicare, 04 commercial, 05 military/VA,
# 06 workers' compensation, 07 Indian Nations, 99 other.
_PAYMENT_TYPES = ("04", "03", "02", "01", "05", "06", "07", "99")
_PAYMENT_WEIGHTS = (45, 20, 15, 10, 4, 3, 1, 2)
# DSP12 transmission forms: 05 electronic, 01 written, 04 fax, 02 telephone, 06 transfer.
_TRANSMISSION_C2 = (("05", "01"), (85, 15))
_TRANSMISSION_OTHER = (("05", "01", "04", "02", "06"), (70, 10, 8, 7, 5))
# How a person's therapies are drawn, by drug class.
_CLASS_WEIGHTS = {
    "opioid": 45,
    "benzodiazepine": 20,
    "stimulant": 12,
    "hypnotic": 8,
    "gabapentinoid": 6,
    "muscle_relaxant": 5,
    "barbiturate": 4,
}
# Utah DOPL-style licence classifications (illustrative): physician, APRN, pharmacist, pharmacy.
_LICENSE_PHYSICIAN = "1205"
_LICENSE_APRN = "4405"
_LICENSE_PHARMACIST = "1701"
_LICENSE_PHARMACY = "1708"


@dataclass(slots=True, frozen=True)
class DemoFile:
    """One ASAP file of the dataset: its file name (sorting names gives ingestion order) and content."""

    name: str
    kind: str  # "new", "zero" or "corrections"
    asap: AsapFile


@dataclass(slots=True, frozen=True)
class DemoDataset:
    """What :func:`generate` returns; :func:`pmpdb.demo.write_demo` puts it on disk."""

    seed: int
    start: date
    end: date
    pharmacies: tuple[Pharmacy, ...]
    prescribers: tuple[Prescriber, ...]
    people: tuple[Person, ...]
    files: tuple[DemoFile, ...]
    truth: GroundTruth


@dataclass(slots=True, frozen=True)
class _Site:
    """A pharmacy with what the model does not hold: its record-keeping style and its pharmacists."""

    pharmacy: Pharmacy
    style: PharmacyStyle
    pharmacists: tuple[tuple[str, str], ...]  # (NPI, licence)


@dataclass(slots=True, frozen=True)
class _Fill:
    """A reported fill and the objects its ASAP record is built from."""

    dispensation: Dispensation
    site: _Site
    patient: Patient
    prescriber: Prescriber
    transmission_form: str
    pharmacist: tuple[str, str]


@dataclass(slots=True, frozen=True)
class _Plan:
    """One person's habits: where they fill, who prescribes, what, how they pay."""

    person: Person
    home: tuple[_Site, ...]
    doctors: tuple[Prescriber, ...]
    therapies: tuple[Drug, ...]
    payment: str
    force: str | None  # the name variant forced at their first pharmacy (showcase people)
    shopper: bool  # goes from pharmacy to pharmacy and prescriber to prescriber


@dataclass(slots=True)
class _Ids:
    """Identifiers already handed out, so none repeats."""

    used: set[str] = field(default_factory=set)

    def fresh(self, make: Callable[[], str]) -> str:
        for _ in range(1000):
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value
        raise RuntimeError("identifier space exhausted")  # pragma: no cover


def _ccyymmdd(d: date) -> str:
    return d.strftime("%Y%m%d")


def _random_date(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _make_sites(rng: random.Random, count: int, ids: _Ids) -> list[_Site]:
    sites: list[_Site] = []
    for index, name in enumerate(rng.sample(PHARMACY_NAMES, count)):
        address = draw_address(rng)
        pharmacy = Pharmacy(
            npi=ids.fresh(lambda: make_npi(rng, first_digit=rng.choice("12"))),
            ncpdp=ids.fresh(lambda: make_ncpdp(rng)),
            dea=ids.fresh(partial(make_dea, rng, rng.choice(PRACTITIONER_DEA_TYPES), name)),
            name=name.upper(),
            address1=address.line1.upper(),
            city=address.city.upper(),
            state="UT",
            zip=address.zip,
            phone=f"{rng.choice(('801', '385', '435'))}555{100 + index:04d}",
            permit_number=f"{rng.randint(1_000_000, 9_999_999)}-{_LICENSE_PHARMACY}",
        )
        pharmacists = tuple(
            (
                ids.fresh(lambda: make_npi(rng)),
                f"{rng.randint(1_000_000, 9_999_999)}-{_LICENSE_PHARMACIST}",
            )
            for _ in range(2)
        )
        sites.append(_Site(pharmacy, draw_style(rng), pharmacists))
    return sites


def _make_prescribers(rng: random.Random, count: int, ids: _Ids) -> list[Prescriber]:
    prescribers: list[Prescriber] = []
    for _ in range(count):
        gender = rng.choice("FM")
        first = rng.choice(FEMALE_FIRST_NAMES if gender == "F" else MALE_FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        midlevel = rng.random() < 0.25
        kind = MIDLEVEL_DEA_TYPE if midlevel else rng.choice(PRACTITIONER_DEA_TYPES)
        prescribers.append(
            Prescriber(
                npi=ids.fresh(lambda: make_npi(rng)),
                dea=ids.fresh(partial(make_dea, rng, kind, last)),
                state_license=(
                    f"{rng.randint(1_000_000, 9_999_999)}-{_LICENSE_APRN if midlevel else _LICENSE_PHYSICIAN}"
                ),
                last_name=last,
                first_name=first,
            )
        )
    return prescribers


def _pick_therapies(rng: random.Random, drugs: tuple[Drug, ...], count: int, shopper: bool) -> list[Drug]:
    by_class: dict[str, list[Drug]] = defaultdict(list)
    for d in drugs:
        by_class[d.drug_class].append(d)
    classes = [c for c in _CLASS_WEIGHTS if by_class[c]]
    weights = [(_CLASS_WEIGHTS[c] * (4 if shopper and c in ("opioid", "benzodiazepine") else 1)) for c in classes]
    return [rng.choice(by_class[rng.choices(classes, weights)[0]]) for _ in range(count)]


def _fill_target(rng: random.Random, *, shopper: bool) -> int:
    """How many fills a person gets: most a few, some a monthly habit, a few up to 40."""
    if shopper:
        return rng.randint(15, 40)
    r = rng.random()
    if r < 0.35:
        return rng.randint(1, 3)
    if r < 0.70:
        return rng.randint(4, 10)
    if r < 0.92:
        return rng.randint(11, 24)
    return rng.randint(25, 40)


class _Builder:
    """Holds the state of one generation run; each method is one step of :func:`generate`."""

    def __init__(self, rng: random.Random, start: date, end: date) -> None:
        self.rng = rng
        self.start = start
        self.end = end
        self.next_rx: dict[str, int] = {}
        self.patients: dict[tuple[str, str], Patient] = {}
        self.recorded: dict[str, list[RecordedName]] = defaultdict(list)
        self.fills: list[_Fill] = []

    def rx_number(self, site: _Site) -> str:
        key = site.pharmacy.key
        current = self.next_rx.get(key)
        if current is None:
            current = self.rng.randint(1_000_000, 6_999_999)
        current += self.rng.randint(1, 40)
        self.next_rx[key] = current
        return str(current)

    def patient_at(self, person: Person, site: _Site, force: str | None) -> Patient:
        """The PAT a pharmacy sends for ``person`` (one profile per person and pharmacy)."""
        key = (person.person_id, site.pharmacy.key)
        patient = self.patients.get(key)
        if patient is not None:
            return patient
        first_here = not self.recorded[person.person_id]
        name = record_name(self.rng, person, site.pharmacy.key, site.style, force=force if first_here else None)
        self.recorded[person.person_id].append(name)
        patient = Patient(
            id_jurisdiction="",
            id_qualifier="",
            id_value="",
            additional_id_jurisdiction="",
            additional_id_qualifier="",
            additional_id="",
            last_name=name.last_name,
            first_name=name.first_name,
            middle_name=name.middle_name,
            address1=person.address.line1.upper() if site.style.upper_case else person.address.line1,
            city=person.address.city.upper() if site.style.upper_case else person.address.city,
            state=person.address.state,
            zip=person.address.zip,
            birth_date=_ccyymmdd(person.birth_date),
            gender=person.gender,
            species="01",
        )
        self.patients[key] = patient
        return patient

    def person_fills(
        self,
        person: Person,
        index: int,
        sites: list[_Site],
        prescribers: list[Prescriber],
        drugs: tuple[Drug, ...],
        *,
        shopper: bool,
    ) -> None:
        """A person's courses of therapy, each a run of fills, until the target count or the end date."""
        rng = self.rng
        force = showcase_variant(index)
        target = _fill_target(rng, shopper=shopper)
        home_count = rng.randint(5, 7) if shopper else rng.choices((1, 2, 3), (50, 35, 15))[0]
        if force is not None:  # showcase people visit two pharmacies at least
            target, home_count = max(target, 4), max(home_count, 2)
        doctor_count = rng.randint(5, 8) if shopper else rng.randint(1, 3)
        plan = _Plan(
            person=person,
            home=tuple(rng.sample(sites, min(home_count, len(sites)))),
            doctors=tuple(rng.sample(prescribers, min(doctor_count, len(prescribers)))),
            therapies=tuple(_pick_therapies(rng, drugs, rng.randint(2, 3) if shopper else rng.randint(1, 3), shopper)),
            payment=rng.choices(_PAYMENT_TYPES, _PAYMENT_WEIGHTS)[0],
            force=force,
            shopper=shopper,
        )
        home = plan.home
        made = 0
        for course in range(60):
            if made >= target:
                break
            # The first courses visit each home pharmacy once; later ones favour the first.
            site = home[course] if course < len(home) else rng.choices(home, [3] + [1] * (len(home) - 1))[0]
            drug = rng.choice(plan.therapies)
            regimen = rng.choice(regimens(drug))
            length = rng.randint(2, target - made) if regimen.chronic and target - made > 1 else 1
            if force is not None and course < 2:
                length = min(length, max(1, target // 2))
            made += self.course(plan, site, rng.choice(plan.doctors), drug, regimen, length)

    def replace_with_scenarios(
        self,
        crafted: list[tuple[Person, Scenario]],
        rng: random.Random,
        sites: list[_Site],
        prescribers: list[Prescriber],
        drug_by_ndc: dict[str, Drug],
    ) -> None:
        """Drop the fills (and pharmacy profiles) drawn for ``crafted`` people and give them their scenario's,
        drawing from ``rng`` so that the main stream is left as it was."""
        ids = {person.person_id for person, _ in crafted}
        self.fills = [f for f in self.fills if f.dispensation.person_id not in ids]
        for key in [k for k in self.patients if k[0] in ids]:
            del self.patients[key]
        for person_id in ids:
            self.recorded.pop(person_id, None)
        main, self.rng = self.rng, rng
        try:
            for person, scenario in crafted:
                self.scenario_fills(person, scenario, sites, prescribers, drug_by_ndc)
        finally:
            self.rng = main

    def scenario_fills(
        self,
        person: Person,
        scenario: Scenario,
        sites: list[_Site],
        prescribers: list[Prescriber],
        drug_by_ndc: dict[str, Drug],
    ) -> None:
        """The fills of a person crafted to trip an alert (``scenarios``): dates fixed back from the end date."""
        rng = self.rng
        count = scenario.providers
        home = rng.sample(sites, count)
        doctors = rng.sample(prescribers, count)
        payment = rng.choices(_PAYMENT_TYPES, _PAYMENT_WEIGHTS)[0]
        for course in scenario.courses:
            drug = drug_by_ndc[course.ndc]
            rx = ""
            written = self.end
            refill_number = refills_authorized = 0
            for n, back in enumerate(course.days_before_end):
                fill_date = self.end - timedelta(days=back)
                site = home[n % count] if course.rotate else home[0]
                prescriber = doctors[n % count] if course.rotate else doctors[0]
                if not rx or course.rotate or drug.dea_schedule == 2:
                    rx = self.rx_number(site)
                    written, refill_number = fill_date, 0
                    refills_authorized = 0 if drug.dea_schedule == 2 else len(course.days_before_end) - 1
                else:
                    refill_number += 1
                dispensation = Dispensation(
                    key=DispensationKey(site.pharmacy.key, rx, refill_number, fill_date),
                    person_id=person.person_id,
                    ndc=drug.ndc,
                    quantity=str(course.quantity),
                    days_supply=course.days_supply,
                    date_written=written,
                    date_sold=fill_date,
                    refills_authorized=refills_authorized,
                    prescriber_npi=prescriber.npi,
                    payment_type=payment,
                )
                patient = self.patient_at(person, site, None)
                self.fills.append(_Fill(dispensation, site, patient, prescriber, "05", rng.choice(site.pharmacists)))

    def course(
        self, plan: _Plan, site: _Site, prescriber: Prescriber, drug: Drug, regimen: Regimen, length: int
    ) -> int:
        """Up to ``length`` consecutive fills of one drug; returns how many fit before the end date.

        A Schedule II drug needs a new prescription for every fill; III–V prescriptions carry refills
        (valid six months). A shopper gets a new prescription, often elsewhere, every time, and early.
        """
        rng = self.rng
        room = regimen.days_supply * max(0, length - 1)
        latest_start = self.end - timedelta(days=room)
        fill_date = _random_date(rng, self.start, max(latest_start, self.start))
        rx = ""
        written = fill_date
        refills_authorized = refill_number = made = 0
        forms, weights = _TRANSMISSION_C2 if drug.dea_schedule == 2 else _TRANSMISSION_OTHER
        for _ in range(length):
            if fill_date > self.end:
                break
            if (
                not rx
                or plan.shopper
                or drug.dea_schedule == 2
                or refill_number >= refills_authorized
                or (fill_date - written).days > 180
            ):
                if rx and (plan.shopper or rng.random() < 0.15):
                    site, prescriber = rng.choice(plan.home), rng.choice(plan.doctors)
                written = max(self.start, fill_date - timedelta(days=rng.choice((0, 0, 1, 2, 3, 5, 7))))
                refills_authorized = 0 if drug.dea_schedule == 2 else rng.choice((0, 1, 2, 2, 3, 5))
                rx = self.rx_number(site)
                refill_number = 0
            else:
                refill_number += 1
            dispensation = Dispensation(
                key=DispensationKey(site.pharmacy.key, rx, refill_number, fill_date),
                person_id=plan.person.person_id,
                ndc=drug.ndc,
                quantity=str(regimen.quantity),
                days_supply=regimen.days_supply,
                date_written=written,
                date_sold=min(self.end, fill_date + timedelta(days=rng.choice((0, 0, 0, 0, 1, 1, 2, 3)))),
                refills_authorized=refills_authorized,
                prescriber_npi=prescriber.npi,
                payment_type="01" if rng.random() < 0.1 else plan.payment,
            )
            self.fills.append(
                _Fill(
                    dispensation,
                    site,
                    self.patient_at(plan.person, site, plan.force),
                    prescriber,
                    rng.choices(forms, weights)[0],
                    rng.choice(site.pharmacists),
                )
            )
            made += 1
            early = rng.randint(3, 12) if plan.shopper else rng.choice((0, 0, 1, 2, 3))
            fill_date += timedelta(days=max(1, regimen.days_supply - early))
        return made


def _record(fill: _Fill, status: str, quantity: str, days_supply: int, drug: Drug) -> DispensationRecord:
    d = fill.dispensation
    return DispensationRecord(
        pharmacy=fill.site.pharmacy,
        patient=fill.patient,
        dispensing=Dispensing(
            reporting_status=status,
            rx_number=d.key.rx_number,
            date_written=_ccyymmdd(d.date_written),
            refills_authorized=str(d.refills_authorized),
            date_filled=_ccyymmdd(d.key.date_filled),
            refill_number=str(d.key.refill_number),
            product_qualifier="01",
            product_id=d.ndc,
            quantity=quantity,
            days_supply=str(days_supply),
            unit_code=unit_code(drug),
            transmission_form=fill.transmission_form,
            partial_fill="00",
            pharmacist_npi=fill.pharmacist[0],
            pharmacist_license=fill.pharmacist[1],
            payment_type=d.payment_type,
            date_sold=_ccyymmdd(d.date_sold),
        ),
        prescriber=fill.prescriber,
    )


def _loops(records: list[tuple[_Site, DispensationRecord]], sites: list[_Site]) -> list[PharmacyLoop]:
    """One PHA loop per pharmacy, in the pharmacies' order, records in the order given."""
    by_site: dict[str, list[DispensationRecord]] = defaultdict(list)
    for site, record in records:
        by_site[site.pharmacy.key].append(record)
    return [PharmacyLoop(site.pharmacy, by_site[site.pharmacy.key]) for site in sites if by_site[site.pharmacy.key]]


def _revision(rng: random.Random, quantity: int, days: int) -> tuple[int, int]:
    """A corrected (quantity, days supply) that differs from the reported one."""
    if quantity > 1 and rng.random() < 0.7:
        new_quantity = quantity - max(1, quantity // rng.choice((2, 3, 4, 6, 10)))
        return new_quantity, max(1, round(days * new_quantity / quantity))
    new_days = days + rng.choice((-2, -1, 1, 2)) if days > 2 else days + 1
    return quantity, new_days


def _by_date(d: Dispensation) -> tuple[date, str, str, int]:
    return (d.key.date_filled, d.key.pharmacy, d.key.rx_number, d.key.refill_number)


def _choose_corrections(
    rng: random.Random, fills: list[_Fill], keep: frozenset[str] = frozenset()
) -> tuple[list[int], list[int]]:
    """Indexes of the fills to revise (~3%) and to void (~2%); a person always keeps one fill, and the people in
    ``keep`` (crafted scenarios) keep all of theirs unchanged."""
    per_person: dict[str, int] = defaultdict(int)
    for f in fills:
        per_person[f.dispensation.person_id] += 1
    candidates = [
        i
        for i, f in enumerate(fills)
        if per_person[f.dispensation.person_id] > 1 and f.dispensation.person_id not in keep
    ]
    if len(candidates) < 2:
        return [], []
    n_revise = max(1, round(len(fills) * 0.03))
    n_void = max(1, round(len(fills) * 0.02))
    chosen = rng.sample(candidates, min(len(candidates), n_revise + n_void))
    void_at: list[int] = []
    for i in sorted(chosen[n_revise:]):
        person_id = fills[i].dispensation.person_id
        if per_person[person_id] > 1:
            per_person[person_id] -= 1
            void_at.append(i)
    return sorted(chosen[:n_revise]), void_at


class _Files:
    """Numbers the files (sorting names gives ingestion order) and gives each a unique TH02."""

    def __init__(self, rng: random.Random, sites: list[_Site], drug_by_ndc: dict[str, Drug]) -> None:
        self.rng = rng
        self.sites = sites
        self.drug_by_ndc = drug_by_ndc
        self.files: list[DemoFile] = []
        self._control_numbers: set[str] = set()

    def header(self, created: date) -> TransactionHeader:
        rng = self.rng
        control = ""
        while not control or control in self._control_numbers:
            control = str(rng.randint(100_000_000, 999_999_999))
        self._control_numbers.add(control)
        return TransactionHeader(
            version=ASAP_VERSION,
            control_number=control,
            transaction_type="01",
            response_id="",
            creation_date=_ccyymmdd(created),
            creation_time=f"{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}",
            file_type="P",
            routing_number="",
            segment_terminator="~",
        )

    def add(self, kind: str, created: date, source: InformationSource, loops: list[PharmacyLoop]) -> str:
        name = f"{len(self.files) + 1:03d}-{kind}-{_ccyymmdd(created)}.asap"
        self.files.append(DemoFile(name, kind, AsapFile(self.header(created), source, loops)))
        return name

    def new_files(self, fills: list[_Fill], end: date) -> int:
        """One file per month of sale (a fill is reported once sold), sent the day after the month."""
        by_month: dict[tuple[int, int], list[_Fill]] = defaultdict(list)
        for f in fills:
            by_month[(f.dispensation.date_sold.year, f.dispensation.date_sold.month)].append(f)
        reported = 0
        for year, month in sorted(by_month):
            month_fills = sorted(
                by_month[(year, month)],
                key=lambda f: (f.dispensation.key.date_filled, f.site.pharmacy.key, f.dispensation.key.rx_number),
            )
            records = [(f.site, self.record(f, REPORT_NEW)) for f in month_fills]
            reported += len(records)
            created = min(date(year + (month == 12), month % 12 + 1, 1), end + timedelta(days=1))
            self.add("new", created, _SUBMITTER, _loops(records, self.sites))
        return reported

    def record(self, fill: _Fill, status: str, revision: Revision | None = None) -> DispensationRecord:
        d = fill.dispensation
        quantity, days = (
            (revision.quantity_after, revision.days_supply_after) if revision else (d.quantity, d.days_supply)
        )
        return _record(fill, status, quantity, days, self.drug_by_ndc[d.ndc])


_SUBMITTER = InformationSource(SUBMITTER_ID, SUBMITTER_NAME, "")


def _pharmacy_json(p: Pharmacy) -> dict[str, str]:
    return {"key": p.key, "npi": p.npi, "ncpdp": p.ncpdp, "dea": p.dea, "name": p.name, "city": p.city, "zip": p.zip}


def _prescriber_json(p: Prescriber) -> dict[str, str]:
    return {
        "npi": p.npi,
        "dea": p.dea,
        "state_license": p.state_license,
        "first_name": p.first_name,
        "last_name": p.last_name,
    }


def generate(patients: int = 200, seed: int = 0, *, start: date, end: date) -> DemoDataset:
    """A demo dataset of ``patients`` people filling controlled substances between ``start`` and ``end``.

    Same arguments, same dataset: everything is drawn from ``random.Random(seed)``.
    """
    if patients < 1:
        raise ValueError("patients must be at least 1")
    if end < start:
        raise ValueError("end must not be before start")
    rng = random.Random(seed)  # noqa: S311 - demo data must be reproducible, not secret
    drugs = reportable(load_drugs())
    ids = _Ids()
    sites = _make_sites(rng, _clamp(patients // 10, 10, 30), ids)
    dispensing_sites, zero_site = sites[:-1], sites[-1]  # the last pharmacy only ever reports zero
    prescribers = _make_prescribers(rng, _clamp(patients // 6, 12, 60), ids)
    pairs = max(1, patients // 50) if patients >= 4 else 0
    people, groups = make_people(rng, patients, pairs, latest_birth=date(end.year - 18, 12, 31))

    builder = _Builder(rng, start, end)
    shoppers = {people[len(people) // 2].person_id} if len(people) >= 20 else set()
    drug_by_ndc = {d.ndc: d for d in drugs}
    ordinary = [
        p.person_id for p in people[SHOWCASE_COUNT:] if p.person_id not in groups and p.person_id not in shoppers
    ]
    crafted = assign(ordinary, people=len(people), days=(end - start).days)
    for index, person in enumerate(people):
        shopper = person.person_id in shoppers or rng.random() < 0.03
        builder.person_fills(person, index, dispensing_sites, prescribers, drugs, shopper=shopper)
    if crafted:
        # Their drawn histories are replaced, from a stream of their own: everybody else's data stays what the
        # seed gave before there were scenarios.
        scenario_rng = random.Random(seed * 1_000_003 + 8)  # noqa: S311 - reproducible demo data
        builder.replace_with_scenarios(
            [(p, crafted[p.person_id]) for p in people if p.person_id in crafted],
            scenario_rng,
            dispensing_sites,
            prescribers,
            drug_by_ndc,
        )
    fills = builder.fills
    revise_at, void_at = _choose_corrections(rng, fills, frozenset(crafted))

    files = _Files(rng, sites, drug_by_ndc)
    reported = files.new_files(fills, end)

    period_start = max(start, end - timedelta(days=ZERO_REPORT_DAYS - 1))
    zero_source = InformationSource(
        zero_site.pharmacy.phone, zero_site.pharmacy.name, f"#{_ccyymmdd(period_start)}#-#{_ccyymmdd(end)}#"
    )
    zero_loop = PharmacyLoop(zero_site.pharmacy, [], zero_report=True)
    zero_name = files.add("zero", end + timedelta(days=1), zero_source, [zero_loop])

    revisions: dict[int, Revision] = {}
    for i in revise_at:
        d = fills[i].dispensation
        quantity, days = _revision(rng, int(d.quantity), d.days_supply)
        revisions[i] = Revision(d.key, d.quantity, d.days_supply, str(quantity), days)
    corrections = [
        (fills[i].site, files.record(fills[i], REPORT_REVISE, revisions[i]))
        if i in revisions
        else (fills[i].site, files.record(fills[i], REPORT_VOID))
        for i in sorted([*revise_at, *void_at])
    ]
    if corrections:
        files.add("corrections", end + timedelta(days=2), _SUBMITTER, _loops(corrections, sites))

    voided = set(void_at)
    final: dict[str, list[Dispensation]] = defaultdict(list)
    for i, f in enumerate(fills):
        if i not in voided:
            d, r = f.dispensation, revisions.get(i)
            final[d.person_id].append(
                replace(d, quantity=r.quantity_after, days_supply=r.days_supply_after) if r else d
            )
    truth = GroundTruth(
        seed=seed,
        start=start,
        end=end,
        files=tuple(f.name for f in files.files),
        pharmacies=tuple(_pharmacy_json(s.pharmacy) for s in sites),
        prescribers=tuple(_prescriber_json(p) for p in prescribers),
        people=tuple(
            PersonTruth(
                person=p,
                same_name_dob_group=groups.get(p.person_id),
                recorded_names=tuple(builder.recorded[p.person_id]),
                dispensations=tuple(sorted(final[p.person_id], key=_by_date)),
                scenario=crafted[p.person_id].name if p.person_id in crafted else None,
                expected_alerts=crafted[p.person_id].alerts if p.person_id in crafted else (),
                expected_peak_mme=crafted[p.person_id].peak_mme if p.person_id in crafted else None,
            )
            for p in people
        ),
        zero_reports=(ZeroReportTruth(zero_site.pharmacy.key, period_start, end, zero_name),),
        revisions=tuple(revisions[i] for i in revise_at),
        voids=tuple(fills[i].dispensation.key for i in void_at),
        reported=reported,
    )
    return DemoDataset(
        seed=seed,
        start=start,
        end=end,
        pharmacies=tuple(s.pharmacy for s in sites),
        prescribers=tuple(prescribers),
        people=tuple(people),
        files=tuple(files.files),
        truth=truth,
    )
