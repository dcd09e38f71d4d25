"""Large ASAP files for benchmarks: N valid DSP records, streamed, at flat memory.

The file has ``records // 25`` patients (about 25 fills each) and a pharmacy loop for every
``loop_size`` records. As in real histories, each patient fills at one to three "home" pharmacies and sees one
to three prescribers, so an answer names a few pharmacies and prescribers, not one of each per fill.
Each loop is written by the project's ASAP writer on its own. We keep the loop's
PHA … TP segments and drop the TH, IS and TT that the writer puts around them. TH and IS are written
once at the top. TT closes the file with the segment count of the whole file. Only one loop's records
are ever in memory.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from adapters.asap.model import (
    REPORT_NEW,
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
from adapters.asap.writer import format_asap
from pmpdb.demo.drugs import load_drugs, regimens, reportable, unit_code
from pmpdb.demo.identifiers import PRACTITIONER_DEA_TYPES, make_dea, make_ncpdp, make_npi
from pmpdb.demo.names import FEMALE_FIRST_NAMES, LAST_NAMES, MALE_FIRST_NAMES, PHARMACY_NAMES
from pmpdb.demo.people import draw_address

FILLS_PER_PATIENT = 25
LAYOUT_VERSION = 2  # bumped when the generated data changes shape: cached benchmark files are rebuilt
DEFAULT_LOOP_SIZE = 5000
_PAYMENTS = ("04", "04", "04", "03", "03", "02", "01")


class BulkFileError(RuntimeError):
    """The writer's output did not have the TH / IS … TT layout this module splices."""


def _patients(rng: random.Random, count: int, latest_birth: date) -> list[Patient]:
    earliest = date(1935, 1, 1)
    span = (latest_birth - earliest).days
    patients: list[Patient] = []
    for _ in range(count):
        gender = rng.choice("FM")
        address = draw_address(rng)
        patients.append(
            Patient(
                id_jurisdiction="",
                id_qualifier="",
                id_value="",
                additional_id_jurisdiction="",
                additional_id_qualifier="",
                additional_id="",
                last_name=rng.choice(LAST_NAMES),
                first_name=rng.choice(FEMALE_FIRST_NAMES if gender == "F" else MALE_FIRST_NAMES),
                address1=address.line1,
                city=address.city,
                state="UT",
                zip=address.zip,
                birth_date=(earliest + timedelta(days=rng.randint(0, span))).strftime("%Y%m%d"),
                gender=gender,
                species="01",
            )
        )
    return patients


def _prescribers(rng: random.Random, count: int) -> list[Prescriber]:
    prescribers: list[Prescriber] = []
    for _ in range(count):
        last = rng.choice(LAST_NAMES)
        prescribers.append(
            Prescriber(
                npi=make_npi(rng),
                dea=make_dea(rng, rng.choice(PRACTITIONER_DEA_TYPES), last),
                state_license=f"{rng.randint(1_000_000, 9_999_999)}-1205",
                last_name=last,
                first_name=rng.choice(MALE_FIRST_NAMES + FEMALE_FIRST_NAMES),
            )
        )
    return prescribers


def _pharmacy(rng: random.Random, index: int) -> Pharmacy:
    name = f"{PHARMACY_NAMES[index % len(PHARMACY_NAMES)]} #{index + 1}".upper()
    address = draw_address(rng)
    return Pharmacy(
        npi=make_npi(rng, first_digit=rng.choice("12")),
        ncpdp=f"{make_ncpdp(rng, '46')[:2]}{index:05d}",  # unique per loop, still 7 digits
        dea=make_dea(rng, rng.choice(PRACTITIONER_DEA_TYPES), name),
        name=name,
        address1=address.line1.upper(),
        city=address.city.upper(),
        state="UT",
        zip=address.zip,
    )


def _home_pharmacies(rng: random.Random, patients: int, pharmacies: int) -> list[list[int]]:
    """Pharmacy index → the patients who fill there (each patient at one to three pharmacies)."""
    customers: list[list[int]] = [[] for _ in range(pharmacies)]
    for patient in range(patients):
        for pharmacy in rng.sample(range(pharmacies), min(pharmacies, rng.choice((1, 1, 2, 3)))):
            customers[pharmacy].append(patient)
    return customers


def _split(text: str) -> list[str]:
    """The writer's output as lines (one segment each, with its terminator)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 3 or not (lines[0].startswith("TH") and lines[1].startswith("IS") and lines[-1].startswith("TT")):
        raise BulkFileError("the ASAP writer's output is not TH, IS, …, TT one segment a line")
    return lines


def generate_bulk_file(
    path: Path,
    records: int,
    seed: int = 0,
    *,
    loop_size: int = DEFAULT_LOOP_SIZE,
    terminator: str = "~",
    start: date = date(2024, 1, 1),
    end: date = date(2024, 12, 31),
) -> None:
    """Write an ASAP 4.2 file of ``records`` new (DSP01=00) dispensations to ``path``.

    Deterministic for ``seed``. Rx numbers are unique within each pharmacy loop, so every record has
    a distinct (pharmacy, Rx, refill, date filled) key.
    """
    if records < 1:
        raise ValueError("records must be at least 1")
    if loop_size < 1:
        raise ValueError("loop_size must be at least 1")
    rng = random.Random(seed)  # noqa: S311 - benchmark data must be reproducible, not secret
    drugs = reportable(load_drugs())
    choices = [(d.ndc, unit_code(d), d.dea_schedule, regimens(d)) for d in drugs]
    days = [(start + timedelta(days=i)).strftime("%Y%m%d") for i in range((end - start).days + 1)]
    patients = _patients(rng, max(1, records // FILLS_PER_PATIENT), date(end.year - 16, 12, 31))
    prescribers = _prescribers(rng, max(20, len(patients) // 100))
    customers = _home_pharmacies(rng, len(patients), -(-records // loop_size))
    seen_by = [rng.sample(range(len(prescribers)), rng.choice((1, 2, 2, 3))) for _ in patients]
    header = TransactionHeader(
        version="4.2",
        control_number=str(rng.randint(100_000_000, 999_999_999)),
        transaction_type="01",
        response_id="",
        creation_date=(end + timedelta(days=1)).strftime("%Y%m%d"),
        creation_time="020000",
        file_type="P",
        routing_number="",
        segment_terminator=terminator,
    )
    source = InformationSource("8015550199", "BULK BENCHMARK SUBMITTER", "")
    total = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        opening = _split(format_asap(AsapFile(header, source), terminator=terminator))
        out.write(opening[0] + "\n" + opening[1] + "\n")
        total = 2
        tt_prefix = opening[-1].rsplit("*", 1)[0]
        written = 0
        loop_index = 0
        while written < records:
            count = min(loop_size, records - written)
            pharmacy = _pharmacy(rng, loop_index)
            pharmacist = make_npi(rng)
            rx = rng.randint(1_000_000, 5_000_000)
            regulars = customers[loop_index] or range(len(patients))
            picks = sorted((rng.choice(regulars), n) for n in range(count))
            loop_records: list[DispensationRecord] = []
            for patient_index, _ in picks:
                ndc, unit, schedule, options = rng.choice(choices)
                regimen = rng.choice(options)
                filled = rng.randrange(len(days))
                written_day = max(0, filled - rng.randint(0, 7))
                sold = min(len(days) - 1, filled + rng.choice((0, 0, 0, 1, 2)))
                refills_authorized = 0 if schedule == 2 else rng.choice((0, 1, 2, 5))
                rx += rng.randint(1, 9)
                loop_records.append(
                    DispensationRecord(
                        pharmacy=pharmacy,
                        patient=patients[patient_index],
                        dispensing=Dispensing(
                            reporting_status=REPORT_NEW,
                            rx_number=str(rx),
                            date_written=days[written_day],
                            refills_authorized=str(refills_authorized),
                            date_filled=days[filled],
                            refill_number=str(rng.randint(0, refills_authorized)),
                            product_qualifier="01",
                            product_id=ndc,
                            quantity=str(regimen.quantity),
                            days_supply=str(regimen.days_supply),
                            unit_code=unit,
                            transmission_form="05",
                            partial_fill="00",
                            pharmacist_npi=pharmacist,
                            payment_type=rng.choice(_PAYMENTS),
                            date_sold=days[sold],
                        ),
                        prescriber=prescribers[rng.choice(seen_by[patient_index])],
                    )
                )
            text = format_asap(AsapFile(header, source, [PharmacyLoop(pharmacy, loop_records)]), terminator=terminator)
            body = _split(text)[2:-1]
            out.write("\n".join(body) + "\n")
            total += len(body)
            written += count
            loop_index += 1
        total += 1
        out.write(f"{tt_prefix}*{total}{terminator}\n")
