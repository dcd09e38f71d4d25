"""Shared test data for the NCPDP codec: the sample requests, a request builder, fake answers and reply readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from adapters.ncpdp import (
    NS,
    RxHistoryQuery,
    Version,
    decode_rx_history_request,
    parse_message,
    validate,
)
from protos.pmp.v1 import pmp_pb2 as pb

SAMPLES = Path(__file__).parent / "samples"
TODAY = date(2024, 5, 1)
NOW = datetime(2024, 5, 1, 12, 30, 15, 250_000, tzinfo=UTC)
DEFAULT_DAYS = 365
MAX_DAYS = 3 * 366
Q = "{" + NS + "}"

SAMPLE_2017071_PRESCRIBER = "rxhistory-2017071-prescriber.xml"
SAMPLE_2017071_PHARMACIST = "rxhistory-2017071-pharmacist.xml"
SAMPLE_10_6_PRESCRIBER = "rxhistory-10.6-prescriber.xml"
SAMPLE_10_6_PHARMACIST = "rxhistory-10.6-pharmacist.xml"
SAMPLES_BY_VERSION: dict[str, Version] = {
    SAMPLE_2017071_PRESCRIBER: "2017071",
    SAMPLE_2017071_PHARMACIST: "2017071",
    SAMPLE_10_6_PRESCRIBER: "10.6",
    SAMPLE_10_6_PHARMACIST: "10.6",
}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def decode(
    body: bytes, *, today: date = TODAY, default_days: int = DEFAULT_DAYS, max_days: int = MAX_DAYS
) -> RxHistoryQuery:
    return decode_rx_history_request(
        parse_message(body), today=today, default_lookback_days=default_days, max_lookback_days=max_days
    )


# --- building requests -----------------------------------------------------------------------------------------


@dataclass
class Person:
    last: str = "SAMUELS"
    first: str = "AUGUST"
    middle: str = ""
    birth: str = "1989-03-12"
    gender: str = "M"
    line1: str = ""
    city: str = ""
    state: str = ""
    postal: str = ""


@dataclass
class Request:
    """The parts of an RxHistoryRequest; ``build`` writes it in either version."""

    version: Version = "2017071"
    message_id: str = "msg-0001"
    to: tuple[str, str] = ("STATEPMP", "ZZZ")
    from_: tuple[str, str] = ("EHRCLINIC01", "D")
    patient: Person = field(default_factory=Person)
    npi: str = "1928340565"
    dea: str = ""
    license: str = ""
    prescriber_name: tuple[str, str] | None = ("AMSTER", "ADAM")
    prescriber: bool = True
    agent: tuple[str, str] | None = None
    pharmacist: tuple[str, str] | None = None
    pharmacy_ncpdp: str = "1234567"
    start: str | None = None
    end: str | None = None
    benefits: bool = True
    root_attributes: str | None = None


def _e(tag: str, value: str) -> str:
    return f"<{tag}>{escape(value)}</{tag}>" if value else ""


def _name(last: str, first: str, middle: str = "") -> str:
    return f"<Name>{_e('LastName', last)}{_e('FirstName', first)}{_e('MiddleName', middle)}</Name>"


def build(r: Request) -> bytes:
    v2017 = r.version == "2017071"
    attributes = r.root_attributes
    if attributes is None:
        attributes = (
            'TransactionVersion="20170715" StructuresVersion="20170715"' if v2017 else 'version="010" release="006"'
        )
    p = r.patient
    address = ""
    if p.line1 or p.city or p.state or p.postal:
        state_tag, postal_tag = ("StateProvince", "PostalCode") if v2017 else ("State", "ZipCode")
        address = (
            f"<Address>{_e('AddressLine1', p.line1)}{_e('City', p.city)}{_e(state_tag, p.state)}"
            f"{_e(postal_tag, p.postal)}</Address>"
        )
    person = (
        f"{_name(p.last, p.first, p.middle)}{_e('Gender', p.gender)}"
        f"<DateOfBirth><Date>{escape(p.birth)}</Date></DateOfBirth>{address}"
    )
    patient = f"<Patient><HumanPatient>{person}</HumanPatient></Patient>" if v2017 else f"<Patient>{person}</Patient>"
    ids = f"{_e('NPI', r.npi)}{_e('DEANumber', r.dea)}{_e('StateLicenseNumber', r.license)}"
    prescriber = ""
    if r.prescriber:
        name = _name(*r.prescriber_name) if r.prescriber_name else ""
        agent = ""
        if r.agent:
            agent = (
                f"<PrescriberAgent>{_name(*r.agent)}</PrescriberAgent>"
                if v2017
                else (f"<PrescriberAgent>{_e('LastName', r.agent[0])}{_e('FirstName', r.agent[1])}</PrescriberAgent>")
            )
        inner = f"<Identification>{ids}</Identification>{name}{agent}" if ids else f"{name}{agent}"
        prescriber = (
            f"<Prescriber><NonVeterinarian>{inner}</NonVeterinarian></Prescriber>"
            if v2017
            else (f"<Prescriber>{inner}</Prescriber>")
        )
    pharmacy = ""
    if r.pharmacist:
        pharmacy_ids = f"<Identification>{_e('NCPDPID', r.pharmacy_ncpdp)}</Identification>" if r.pharmacy_ncpdp else ""
        if v2017:
            pharmacist = f"<Pharmacist>{_name(*r.pharmacist)}</Pharmacist>"
        else:
            pharmacist = f"<Pharmacist>{_e('LastName', r.pharmacist[0])}{_e('FirstName', r.pharmacist[1])}</Pharmacist>"
        pharmacy = f"<Pharmacy>{pharmacy_ids}{pharmacist}</Pharmacy>"
    dates = ""
    if v2017 and (r.start or r.end):
        start = f"<StartDate><Date>{escape(r.start)}</Date></StartDate>" if r.start else ""
        end = f"<EndDate><Date>{escape(r.end)}</Date></EndDate>" if r.end else ""
        dates = f"<RequestedDates>{start}{end}</RequestedDates>"
    benefits = "" if v2017 or not r.benefits else "<BenefitsCoordination><Consent>Y</Consent></BenefitsCoordination>"
    transaction = f"{pharmacy}{prescriber}{patient}{benefits}{dates}"
    header = (
        f"<Header><To Qualifier={quoteattr(r.to[1])}>{escape(r.to[0])}</To>"
        f"<From Qualifier={quoteattr(r.from_[1])}>{escape(r.from_[0])}</From>"
        f"<MessageID>{escape(r.message_id)}</MessageID><SentTime>2024-05-01T12:00:00Z</SentTime></Header>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Message xmlns="{NS}" {attributes}>{header}'
        f"<Body><RxHistoryRequest>{transaction}</RxHistoryRequest></Body></Message>"
    ).encode()


# --- answers ---------------------------------------------------------------------------------------------------


def dispensation(i: int = 0, **changes: object) -> pb.Dispensation:
    d = pb.Dispensation(
        id=str(1000 + i),
        rx_number=f"RX{i:06d}",
        date_written="2024-01-02",
        date_filled="2024-01-03",
        date_sold="2024-01-04",
        refill_number=i % 3,
        product_id_qualifier="01",
        ndc="00406052301",
        drug=pb.Drug(ndc="00406052301", name="OXYCODONE HCL 5 MG TABLET", strength="5 MG"),
        quantity=30 + (i % 4) * 0.5,
        quantity_unit="01",
        days_supply=15,
        pharmacy=pb.Pharmacy(
            npi="1003000126",
            ncpdp="1234567",
            dea="BM1234563",
            name="MAIN STREET PHARMACY",
            address=pb.Address(line1="1 MAIN ST", city="AMHERST", state="MA", postal_code="01059-1234"),
            phone="(413) 555-0199",
        ),
        prescriber=pb.Practitioner(
            npi="1928340565", dea="AA1234563", state_license="MD-1", name=pb.HumanName(family="AMSTER", given="ADAM")
        ),
    )
    for key, value in changes.items():
        if isinstance(value, pb.Drug | pb.Pharmacy | pb.Practitioner):
            getattr(d, key).CopyFrom(value)
        else:
            setattr(d, key, value)
    return d


def found(query: RxHistoryQuery, count: int, *, total: int | None = None) -> pb.SearchHistoryResponse:
    """FOUND: the asked patient as the matched person, with ``count`` dispensations (``total`` in the period)."""
    asked = query.request.patient
    return pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND,
        patients=[
            pb.MatchedPatient(
                id="42", name=asked.name, birth_date=asked.birth_date, gender=asked.gender, address=asked.address
            )
        ],
        dispensations=[dispensation(i) for i in range(count)],
        total_dispensations=count if total is None else total,
    )


# --- reading replies -------------------------------------------------------------------------------------------


def read_reply(body: bytes, version: Version) -> etree._Element:
    """A reply parsed with plain lxml, after checking it validates against its version's (strict) schema."""
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), body[:60]
    problems = validate(body, version)
    assert problems == [], problems
    return etree.fromstring(body)


def at(root: etree._Element, path: str) -> list[etree._Element]:
    """Elements at a slash path of local names below the root (``Body/RxHistoryResponse/Patient``)."""
    return root.findall("/".join(Q + step for step in path.split("/")))


def text_at(root: etree._Element, path: str) -> str | None:
    found_elements = at(root, path)
    return found_elements[0].text if found_elements else None
