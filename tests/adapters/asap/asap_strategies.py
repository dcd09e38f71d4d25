"""Hypothesis strategies for ASAP files with valid field values, and helpers shared by the tests."""

from __future__ import annotations

import dataclasses
import io
from datetime import date

from hypothesis import strategies as st

from adapters.asap.checks import format_period, parse_period
from adapters.asap.model import (
    SUPPORTED_VERSIONS,
    AdditionalInfo,
    AsapFile,
    CompoundIngredient,
    DispensationRecord,
    Dispensing,
    InformationSource,
    Patient,
    Pharmacy,
    PharmacyLoop,
    Prescriber,
    TransactionHeader,
    ZeroReport,
)
from adapters.asap.reader import AsapReader

Item = DispensationRecord | ZeroReport

# Any text a field may hold: no delimiter of either kind we test, no line breaks, no controls or
# surrogates; non-ASCII letters included so UTF-8 is exercised.
_ALPHABET = st.characters(
    codec="utf-8",
    exclude_characters="*~\\\r\n",
    exclude_categories=("Cs", "Cc"),
)


def text(max_size: int = 12, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.text(_ALPHABET, min_size=min_size, max_size=max_size)


def digits(size: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=size, max_size=size)


def ccyymmdd(lo: date = date(1900, 1, 1), hi: date = date(2099, 12, 31)) -> st.SearchStrategy[str]:
    return st.dates(min_value=lo, max_value=hi).map(lambda d: d.strftime("%Y%m%d"))


optional_date = st.one_of(st.just(""), ccyymmdd())
positive_quantity = st.one_of(
    st.integers(1, 99_999).map(str),
    st.tuples(st.integers(0, 9999), st.integers(1, 999)).map(lambda t: f"{t[0]}.{t[1]}"),
)


def _is_zero_name(last: str, first: str) -> bool:
    return last.strip().upper() == "REPORT" and first.strip().upper() == "ZERO"


headers = st.builds(
    TransactionHeader,
    version=st.sampled_from(sorted(SUPPORTED_VERSIONS)),
    control_number=text(20, min_size=1),
    transaction_type=st.sampled_from(["01", "02"]),
    response_id=text(5),
    creation_date=ccyymmdd(),
    creation_time=st.sampled_from(["223000", "0815", "120000"]),
    file_type=st.sampled_from(["P", "T"]),
    routing_number=text(5),
    segment_terminator=st.just("~"),
)

pharmacies = st.builds(
    Pharmacy,
    npi=st.one_of(st.just(""), digits(10)),
    ncpdp=st.one_of(st.just(""), digits(7)),
    dea=st.one_of(st.just(""), text(9, min_size=1)),
    name=text(20),
    address1=text(),
    address2=text(),
    city=text(),
    state=text(2),
    zip=text(9),
    phone=text(10),
    contact_name=text(),
    chain_site_id=text(5),
    permit_number=text(8),
).filter(lambda p: bool(p.npi or p.ncpdp or p.dea))

patients = st.builds(
    Patient,
    id_jurisdiction=text(2),
    id_qualifier=text(2),
    id_value=text(),
    additional_id_jurisdiction=text(2),
    additional_id_qualifier=text(2),
    additional_id=text(),
    last_name=text(20, min_size=1),
    first_name=text(),
    middle_name=text(),
    name_prefix=text(3),
    name_suffix=text(3),
    address1=text(),
    address2=text(),
    city=text(),
    state=text(2),
    zip=text(9),
    phone=text(10),
    birth_date=ccyymmdd(hi=date(2030, 12, 31)),
    gender=st.sampled_from(["F", "M", "U", ""]),
    species=st.sampled_from(["01", "02", ""]),
    location_code=text(2),
    country=text(3),
    animal_name=text(),
).filter(lambda p: bool(p.last_name) and not _is_zero_name(p.last_name, p.first_name))


@st.composite
def dispensings(draw: st.DrawFn) -> Dispensing:
    qualifier = draw(st.sampled_from(["01", "01", "06", "99"]))
    product = draw(digits(11) if qualifier == "01" else text(15, min_size=1))
    return Dispensing(
        reporting_status=draw(st.sampled_from(["00", "01", "02"])),
        rx_number=draw(text(15, min_size=1)),
        date_written=draw(optional_date),
        refills_authorized=draw(text(2)),
        date_filled=draw(ccyymmdd()),
        refill_number=str(draw(st.integers(0, 99))),
        product_qualifier=qualifier,
        product_id=product,
        quantity=draw(positive_quantity),
        days_supply=str(draw(st.integers(0, 400))),
        unit_code=draw(st.sampled_from(["01", "02", "03", ""])),
        transmission_form=draw(text(2)),
        partial_fill=draw(text(2)),
        pharmacist_npi=draw(text(10)),
        pharmacist_license=draw(text()),
        payment_type=draw(text(2)),
        date_sold=draw(optional_date),
        rxnorm_qualifier=draw(text(2)),
        rxnorm_code=draw(text(8)),
        erx_reference=draw(text()),
        erx_order_number=draw(text()),
        quantity_prescribed=draw(text(6)),
        sig=draw(text(30)),
        treatment_type=draw(text(2)),
        diagnosis_code=draw(text(8)),
    )


prescribers = st.builds(
    Prescriber,
    npi=text(10),
    dea=text(9, min_size=1),
    dea_suffix=text(3),
    state_license=text(),
    last_name=text(),
    first_name=text(),
    middle_name=text(),
    phone=text(10),
    xdea=text(9),
)

compounds = st.builds(
    CompoundIngredient,
    sequence=st.integers(1, 9).map(str),
    product_qualifier=st.sampled_from(["01", "06"]),
    product_id=text(11),
    quantity=text(6),
    unit_code=text(2),
)

additional_infos = st.builds(
    AdditionalInfo,
    serial_state=text(2, min_size=1),
    serial_number=text(10),
    issuing_jurisdiction=text(2),
    pickup_id_qualifier=text(2),
    pickup_id=text(),
    pickup_relationship=text(2),
    pickup_last_name=text(),
    pickup_first_name=text(),
    pharmacist_last_name=text(),
    pharmacist_first_name=text(),
    dropoff_pickup_qualifier=text(2),
)


@st.composite
def pharmacy_loops(draw: st.DrawFn) -> PharmacyLoop:
    pharmacy = draw(pharmacies)
    if draw(st.integers(0, 5)) == 0:
        return PharmacyLoop(pharmacy, [], zero_report=True)
    records = []
    for patient in draw(st.lists(patients, min_size=1, max_size=3)):
        for dispensing in draw(st.lists(dispensings(), min_size=1, max_size=3)):
            records.append(
                DispensationRecord(
                    pharmacy,
                    patient,
                    dispensing,
                    draw(st.none() | prescribers),
                    tuple(draw(st.lists(compounds, max_size=2))),
                    draw(st.none() | additional_infos),
                )
            )
    return PharmacyLoop(pharmacy, records)


@st.composite
def asap_files(draw: st.DrawFn, max_pharmacies: int = 3) -> AsapFile:
    loops = draw(st.lists(pharmacy_loops(), min_size=1, max_size=max_pharmacies))
    if any(loop.zero_report for loop in loops) and draw(st.booleans()):
        start, end = sorted(draw(st.lists(ccyymmdd(), min_size=2, max_size=2)))
        message = format_period(start, end)
    else:
        message = draw(text(25))
    source = InformationSource(draw(text(10, min_size=1)), draw(text(20)), message)
    return AsapFile(draw(headers), source, loops)


def expected_items(file: AsapFile) -> list[Item]:
    """What the reader must give back for ``file`` (segment numbers zeroed)."""
    period = parse_period(file.source.message)
    items: list[Item] = []
    for loop in file.pharmacies:
        if loop.zero_report:
            start, end = period or (file.header.creation_date, file.header.creation_date)
            items.append(ZeroReport(loop.pharmacy, start, end))
        else:
            items.extend(loop.records)
    return items


def without_numbers(items: list[Item]) -> list[Item]:
    return [dataclasses.replace(item, segment_number=0) for item in items]


def read_bytes(data: bytes, **limits: int) -> tuple[AsapReader, list[Item]]:
    reader = AsapReader(io.BytesIO(data), **limits)
    return reader, list(reader)


SAMPLES = "/work/shared/research/samples/asap"

HEADER = TransactionHeader("4.2B", "TCN-77", "01", "", "20240115", "1530", "P", "", "~")
SOURCE = InformationSource("IL0001234", "SPRINGFIELD DRUG HOLDINGS", "")


def sample_text(name: str) -> str:
    with open(f"{SAMPLES}/{name}", encoding="utf-8") as handle:
        return handle.read()


def a_record() -> DispensationRecord:
    """One plain, valid record for example-based tests."""
    pharmacy = Pharmacy("1234567893", "1434567", "FS1234563", "SPRINGFIELD DRUG #12")
    patient = Patient("IL", "07", "123456789", "", "", "", "DOE", "JANE", birth_date="19800214", gender="F")
    dispensing = Dispensing("00", "RX1000001", "20240102", "2", "20240103", "0", "01", "00406052301", "30", "15")
    prescriber = Prescriber("1962445566", "AB1234563")
    return DispensationRecord(pharmacy, patient, dispensing, prescriber)
