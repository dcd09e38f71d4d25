"""Shared test data for the PMIX codec: a sample request, request and answer builders, and document readers that
validate every document against the project's schema before a test looks at it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from lxml import etree

from adapters.pmix import (
    DEFAULT_EXCHANGE_NS,
    J_NS,
    NC_NS,
    PMP_NS,
    PmixQuery,
    encode_request,
    parse_request,
    validate,
)
from protos.pmp.v1 import pmp_pb2 as pb

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_REQUEST = SAMPLES / "request-prescriber.xml"
TODAY = date(2024, 5, 1)
NOW = datetime(2024, 5, 1, 12, 30, 15, 250_000, tzinfo=UTC)
DEFAULT_DAYS = 365
MAX_DAYS = 3 * 366
OTHER_NS = "https://pmix.example.org/exchange/2.1"  # a configured exchange namespace other than the default
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def sample() -> bytes:
    return SAMPLE_REQUEST.read_bytes()


def parse(
    body: bytes,
    *,
    exchange_ns: str = DEFAULT_EXCHANGE_NS,
    today: date = TODAY,
    default_days: int = DEFAULT_DAYS,
    max_days: int = MAX_DAYS,
) -> PmixQuery:
    return parse_request(
        body, exchange_ns=exchange_ns, today=today, default_lookback_days=default_days, max_lookback_days=max_days
    )


# --- requests --------------------------------------------------------------------------------------------------


def search_request(**changes: object) -> pb.SearchHistoryRequest:
    """Our user's search, as the other codecs decode it."""
    request = pb.SearchHistoryRequest(
        patient=pb.PatientQuery(
            name=pb.HumanName(family="O'Brien-Müller", given="Zoë", middle="Anne", suffix="Jr", prefix="Ms"),
            birth_date="1980-02-29",
            gender=pb.GENDER_FEMALE,
            address=pb.Address(line1="1 Main St", line2="Apt 2", city="Reno", state="NV", postal_code="89501"),
            phone="775-555-0100",
            identifiers=[
                pb.Identifier(type="SSN", value="123-45-6789"),
                pb.Identifier(type="DL", value="D1234567", issuer="NV"),
                pb.Identifier(type="MR", value="MRN-77"),
            ],
        ),
        requester=pb.Requester(
            role=pb.ROLE_PRESCRIBER,
            practitioner=pb.Practitioner(
                name=pb.HumanName(family="Amster", given="Adam"),
                npi="1928340565",
                dea="AA1234563",
                state_license="MD-1",
                license_state="NV",
            ),
            organization="NCPDP:1234567",
        ),
        date_range=pb.DateRange(start="2023-05-01", end="2024-05-01"),
    )
    for key, value in changes.items():
        field = getattr(request, key)
        field.CopyFrom(value)
    return request


def encoded(
    request: pb.SearchHistoryRequest | None = None,
    *,
    request_id: str = "NV-REQ-1",
    requesting_state: str = "NV",
    disclosing_state: str = "AZ",
    taxonomy: str = "208D00000X",
    exchange_ns: str = DEFAULT_EXCHANGE_NS,
) -> bytes:
    return encode_request(
        request if request is not None else search_request(),
        request_id=request_id,
        requesting_state=requesting_state,
        disclosing_state=disclosing_state,
        requester_taxonomy=taxonomy,
        exchange_ns=exchange_ns,
    )


# --- answers ---------------------------------------------------------------------------------------------------


def dispensation(i: int = 0, **changes: object) -> pb.Dispensation:
    d = pb.Dispensation(
        id=str(1000 + i),
        patient_id="42",
        source_state="AZ",
        rx_number=f"RX{i:06d}",
        date_written="2024-01-02",
        date_filled="2024-01-03",
        date_sold="2024-01-04",
        refill_number=i % 3,
        refills_authorized=5,
        product_id_qualifier="01",
        ndc="00406052301",
        drug=pb.Drug(ndc="00406052301", name="OXYCODONE HCL 5 MG TABLET", strength="5 MG", dea_schedule="2"),
        quantity=30 + (i % 4) * 0.5,
        quantity_unit="01",
        days_supply=15,
        payment_type="01",
        partial_fill="00",
        transmission_form="05",
        status="reported",
        patient_name=pb.HumanName(family="O'Brien-Müller", given="Zoë"),
        patient_birth_date="1980-02-29",
        patient_gender=pb.GENDER_FEMALE,
        patient_address=pb.Address(line1="1 Main St", city="Reno", state="NV", postal_code="89501"),
        pharmacy=pb.Pharmacy(
            npi="1003000126",
            ncpdp="1234567",
            dea="BM1234563",
            name="MAIN STREET PHARMACY",
            address=pb.Address(line1="1 MAIN ST", city="PHOENIX", state="AZ", postal_code="85001-1234"),
            phone="(602) 555-0199",
        ),
        prescriber=pb.Practitioner(
            npi="1928340565",
            dea="AA1234563",
            state_license="MD-1",
            license_state="AZ",
            name=pb.HumanName(family="AMSTER", given="ADAM"),
        ),
        mme_per_day=30.0,
    )
    for key, value in changes.items():
        if isinstance(value, pb.Drug | pb.Pharmacy | pb.Practitioner | pb.HumanName | pb.Address):
            getattr(d, key).CopyFrom(value)
        else:
            setattr(d, key, value)
    return d


def found(count: int, *, total: int | None = None, **changes: object) -> pb.SearchHistoryResponse:
    answer = pb.SearchHistoryResponse(
        match_status=pb.MATCH_STATUS_FOUND,
        patients=[
            pb.MatchedPatient(
                id="42",
                record_ids=["42", "43"],
                name=pb.HumanName(family="O'Brien-Müller", given="Zoë"),
                birth_date="1980-02-29",
                gender=pb.GENDER_FEMALE,
                address=pb.Address(line1="1 Main St", city="Reno", state="NV", postal_code="89501"),
                score=0.97,
            )
        ],
        dispensations=[dispensation(i) for i in range(count)],
        total_dispensations=count if total is None else total,
    )
    for key, value in changes.items():
        getattr(answer, key).extend(value)
    return answer


def query(**changes: object) -> PmixQuery:
    """The decoded query of the default encoded request (NV asking AZ)."""
    decoded = parse(encoded())
    for key, value in changes.items():
        setattr(decoded, key, value)
    return decoded


# --- reading documents -----------------------------------------------------------------------------------------


def prefixes(exchange_ns: str = DEFAULT_EXCHANGE_NS) -> dict[str, str]:
    return {"pmix": exchange_ns, "pmp": PMP_NS, "nc": NC_NS, "j": J_NS}


def read(body: bytes, *, exchange_ns: str = DEFAULT_EXCHANGE_NS) -> etree._Element:
    """A document the codec wrote, parsed with plain lxml after checking its declaration and its validity."""
    assert body.startswith(DECLARATION), body[:60]
    problems = validate(body, exchange_ns=exchange_ns)
    assert problems == [], problems
    return etree.fromstring(body)


def texts(root: etree._Element, path: str, *, exchange_ns: str = DEFAULT_EXCHANGE_NS) -> list[str]:
    """The texts at an XPath of prefixed names below ``root`` (``pmix:RequestID``, ``pmp:…/nc:Date``)."""
    return [str(value) for value in root.xpath(path + "/text()", namespaces=prefixes(exchange_ns))]


def text(root: etree._Element, path: str, *, exchange_ns: str = DEFAULT_EXCHANGE_NS) -> str | None:
    found_texts = texts(root, path, exchange_ns=exchange_ns)
    assert len(found_texts) <= 1, (path, found_texts)
    return found_texts[0] if found_texts else None


def count(root: etree._Element, path: str, *, exchange_ns: str = DEFAULT_EXCHANGE_NS) -> int:
    return len(root.xpath(path, namespaces=prefixes(exchange_ns)))
