"""Build small ASAP files in tests: a few people, a few fills, written by the project's writer."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

from adapters.asap.model import (
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

PHARMACY = Pharmacy(
    npi="1234567893",
    ncpdp="4455667",
    dea="BM1234563",
    name="MAIN STREET PHARMACY",
    address1="100 MAIN ST",
    city="SALT LAKE CITY",
    state="UT",
    zip="84101",
    phone="8015550100",
)
OTHER_PHARMACY = Pharmacy(
    npi="1245319599",
    ncpdp="4455668",
    dea="FA1234564",
    name="CANYON DRUG",
    address1="9 CANYON RD",
    city="OGDEN",
    state="UT",
    zip="84401",
)
PRESCRIBER = Prescriber(
    npi="1003000126", dea="AS1234563", state_license="UT-5551212", last_name="SHAW", first_name="ANNA"
)


def patient(
    last: str = "SMITH",
    first: str = "JOHN",
    dob: str = "19800203",
    gender: str = "M",
    zip_code: str = "84101",
    address: str = "12 ELM ST",
    city: str = "SALT LAKE CITY",
) -> Patient:
    return Patient(
        "US",
        "",
        "",
        "",
        "",
        "",
        last,
        first,
        address1=address,
        city=city,
        state="UT",
        zip=zip_code,
        birth_date=dob,
        gender=gender,
        species="01",
    )


def fill(
    rx: str,
    date_filled: str,
    *,
    status: str = "00",
    refill: str = "0",
    ndc: str = "00406052301",
    quantity: str = "30",
    days: str = "30",
) -> Dispensing:
    return Dispensing(
        status,
        rx,
        date_filled,
        "2",
        date_filled,
        refill,
        "01",
        ndc,
        quantity,
        days,
        unit_code="01",
        transmission_form="05",
        partial_fill="00",
        payment_type="01",
        date_sold=date_filled,
    )


def asap_file(loops: list[tuple[Pharmacy, list[tuple[Patient, Dispensing]]]], control: str = "1001") -> AsapFile:
    header = TransactionHeader("4.2", control, "01", "", "20261101", "1200", "P", "", "~")
    out = AsapFile(header, InformationSource("7705555555", "TEST SUBMITTER", ""))
    seg = 0
    for pharmacy, fills in loops:
        loop = PharmacyLoop(pharmacy)
        for pat, dsp in fills:
            seg += 1
            loop.records.append(DispensationRecord(pharmacy, pat, dsp, PRESCRIBER, segment_number=seg))
        out.pharmacies.append(loop)
    return out


def as_bytes(file: AsapFile) -> tuple[io.BytesIO, str]:
    data = format_asap(file).encode()
    return io.BytesIO(data), hashlib.sha256(data).hexdigest()


def raw(data: bytes) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), hashlib.sha256(data).hexdigest()


__all__ = [
    "OTHER_PHARMACY",
    "PHARMACY",
    "PRESCRIBER",
    "as_bytes",
    "asap_file",
    "fill",
    "patient",
    "raw",
    "replace",
]
